//! The outbox: every letter smtp34 sends is written here, claimed by its
//! sender, just before its first attempt, and stays until it is delivered,
//! refused for good or given up. A letter that meets a transient or account
//! failure waits here for its next try; a worker killed mid-letter leaves a
//! claim that expires, after which a flusher tries the letter again.
//!
//! A claim is `claimed_by` (who) and `claim_until` (when it lapses). A letter
//! is due for a flusher when it is not claimed (or its claim lapsed) and its
//! `next_try_at` has come; the claim is taken in the same write that finds
//! it, so several flushers at once each get different letters.

use rusqlite::{params, OptionalExtension, Row};

use crate::store::spool::{self, Spooled};
use crate::store::{JournalEntry, Store};

/// Minutes between attempts: about 1, 2, 4, 8, 15, 30, 60, then hourly.
const RETRY_MINUTES: [i64; 7] = [1, 2, 4, 8, 15, 30, 60];

/// Seconds to wait after the `attempts`-th failed attempt (1 = the first).
pub fn retry_delay(attempts: i64) -> i64 {
    let index = (attempts.max(1) - 1) as usize;
    60 * RETRY_MINUTES.get(index).copied().unwrap_or(60)
}

/// A letter in the outbox. `message` is empty when listed (not loaded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxLetter {
    pub id: i64,
    pub journal_id: Option<i64>,
    pub created_at: i64,
    pub from_name: String,
    pub from_email: String,
    pub mailing: bool,
    /// The `-f` envelope sender; `None`: the sending account's email.
    pub envelope_from: Option<String>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub message: Vec<u8>,
    pub size: i64,
    /// The account tried last (or about to be tried).
    pub account_id: Option<i64>,
    /// Failed attempts so far.
    pub attempts: i64,
    pub next_try_at: i64,
    pub last_try_at: Option<i64>,
    pub last_error: String,
    /// Somebody is trying it right now.
    pub claimed: bool,
}

/// Who holds a claim and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub token: String,
    pub until: i64,
}

/// Journal rows of attempts whose sender died: `sending`, their letter's
/// claim lapsed (`?1`: now). Only a page's own attempt writes a `sending`
/// row, under a claim of its own ([`ATTEMPT_CLAIM`]); every claim first
/// marks what lapsed, so such a row is found before anyone claims its
/// letter again. The index holds those claims alone (migration 12), and
/// journal rows are not walked at all (no index has `sending`: migration 10).
const LAPSED_ATTEMPTS: &str = "status = 'sending' AND id IN (SELECT journal_id FROM outbox
    WHERE substr(claimed_by, 1, 5) = 'mail-' AND claim_until > 0 AND claim_until <= ?1)";

/// How the claim of a page's own attempt (`delivery = wait`) begins; the
/// index of [`LAPSED_ATTEMPTS`] holds these claims only.
pub const ATTEMPT_CLAIM: &str = "mail-";

/// A letter due for a sender: unclaimed (or its claim lapsed) and its time
/// come (`?2`: now), with an id above `?1`.
const DUE_AFTER: &str = "id > ?1 AND claim_until <= ?2 AND next_try_at <= ?2";

/// A letter's size: its bytes in its row or in a spool file (a macro, so
/// that [`COLUMNS`] can be spelt with it at compile time).
macro_rules! size {
    () => {
        "length(message) + spool_length"
    };
}
const SIZE: &str = size!();

const COLUMNS: &str = concat!(
    "id, journal_id, created_at, from_name, from_email, mailing, envelope_from, recipients, subject, ",
    size!(),
    ", account_id, attempts, next_try_at, last_try_at, last_error, claim_until"
);

/// After [`COLUMNS`], where the letter's bytes are: in the row, or spooled.
const BYTES: &str = "message, spool, spool_at, spool_length";

fn letter_from_row(row: &Row, now: i64) -> rusqlite::Result<OutboxLetter> {
    let recipients: String = row.get(7)?;
    Ok(OutboxLetter {
        id: row.get(0)?,
        journal_id: row.get(1)?,
        created_at: row.get(2)?,
        from_name: row.get(3)?,
        from_email: row.get(4)?,
        mailing: row.get(5)?,
        envelope_from: row.get(6)?,
        recipients: recipients.lines().map(str::to_owned).collect(),
        subject: row.get(8)?,
        message: Vec::new(),
        size: row.get(9)?,
        account_id: row.get(10)?,
        attempts: row.get(11)?,
        next_try_at: row.get(12)?,
        last_try_at: row.get(13)?,
        last_error: row.get(14)?,
        claimed: row.get::<_, i64>(15)? > now,
    })
}

/// A row of [`COLUMNS`] followed by [`BYTES`]: the letter with its bytes,
/// or with where they are spooled (read by [`Store::with_bytes`]).
fn letter_with_message(row: &Row, now: i64) -> rusqlite::Result<(OutboxLetter, Option<Spooled>)> {
    let mut letter = letter_from_row(row, now)?;
    letter.message = row.get(16)?;
    let spooled = match row.get::<_, Option<String>>(17)? {
        Some(file) => Some(Spooled { file, at: row.get(18)?, length: row.get(19)? }),
        None => None,
    };
    Ok((letter, spooled))
}

/// A letter about to be written: its journal row, its outbox row and
/// bytes (or where they are spooled: then `message` is not stored), the
/// claim it is written under (`None`: it waits, unclaimed), and the time it
/// is written at.
#[derive(Clone, Copy)]
pub struct NewLetter<'a> {
    pub entry: &'a JournalEntry,
    pub row: &'a OutboxLetter,
    pub message: &'a [u8],
    pub spooled: Option<&'a Spooled>,
    pub claim: Option<&'a Claim>,
    pub now: i64,
}

/// Another try of a waiting letter: for whom, through which account
/// (`None` keeps the one it had), why the last one failed, and when.
pub struct Retry<'a> {
    pub recipients: &'a [String],
    /// The letter's bytes: a spooled letter that waits keeps them in its
    /// row, so its process's spool file can be emptied meanwhile.
    pub message: &'a [u8],
    pub account_id: Option<i64>,
    pub error: &'a str,
    pub attempts: i64,
    pub next_try_at: i64,
}

impl Store {
    /// Writes the journal row and the outbox row in one transaction, before
    /// the first word to a server: a letter is never delivered without a row,
    /// nor lost with a worker. With a `claim` the letter is its sender's until
    /// the claim lapses (then it is due for a flusher); without one it waits,
    /// due at `row.next_try_at` for the reason in `row.last_error`.
    pub fn begin_letter(&self, letter: &NewLetter) -> rusqlite::Result<(i64, i64)> {
        let tx = self.write_tx()?;
        let ids = self.insert_letter(letter)?;
        tx.commit()?;
        Ok(ids)
    }

    /// [`Store::begin_letter`] for a letter decided with the configuration
    /// of `config_version` `read_at`, not read again since: `None`, and
    /// nothing written, when another save moved the version in between.
    /// The check rides in the letter's own transaction, so a page in
    /// background mode pays one transaction a letter, not two.
    pub fn begin_letter_if_current(&self, read_at: i64, letter: &NewLetter) -> rusqlite::Result<Option<(i64, i64)>> {
        let tx = self.write_tx()?;
        if self.config_version()? != read_at {
            return Ok(None);
        }
        let ids = self.insert_letter(letter)?;
        tx.commit()?;
        Ok(Some(ids))
    }

    fn insert_letter(&self, new: &NewLetter) -> rusqlite::Result<(i64, i64)> {
        let NewLetter { entry, row, message, spooled, claim, now } = *new;
        let journal_id = self.append_journal(entry)?;
        let (claimed_by, claim_until, due) = match claim {
            Some(claim) => (Some(claim.token.as_str()), claim.until, claim.until),
            None => (None, 0, row.next_try_at),
        };
        self.run(
            "INSERT INTO outbox (journal_id, created_at, from_name, from_email, mailing, envelope_from, recipients, subject,
                message, account_id, attempts, next_try_at, last_error, claimed_by, claim_until, spool, spool_at, spool_length)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                journal_id,
                now,
                row.from_name,
                row.from_email,
                row.mailing,
                row.envelope_from,
                row.recipients.join("\n"),
                row.subject,
                if spooled.is_some() { &[][..] } else { message },
                row.account_id,
                due,
                row.last_error,
                claimed_by,
                claim_until,
                spooled.map(|s| s.file.as_str()),
                spooled.map_or(0, |s| s.at),
                spooled.map_or(0, |s| s.length)
            ],
        )?;
        Ok((journal_id, self.conn.last_insert_rowid()))
    }

    /// Claims the next letter a flusher should try: unclaimed, with an id
    /// above `after_id`, and due (or any, with `due_only` false). Journal
    /// rows of letters whose sender died mid-attempt become `interrupted`.
    pub fn claim_next(&self, claim: &Claim, now: i64, due_only: bool, after_id: i64) -> rusqlite::Result<Option<OutboxLetter>> {
        // IMMEDIATE: the write lock first, so the read that finds the letter
        // cannot be overtaken by another flusher's claim (in WAL a deferred
        // read-then-write would fail with SQLITE_BUSY instead of waiting).
        let tx = self.write_tx()?;
        let id: Option<i64> = self
            .query_one(
                "SELECT id FROM outbox WHERE id > ?1 AND claim_until <= ?2 AND (?3 = 0 OR next_try_at <= ?2)
                 ORDER BY id LIMIT 1",
                params![after_id, now, due_only],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        self.mark_interrupted(now)?;
        self.run("UPDATE outbox SET claimed_by = ?2, claim_until = ?3 WHERE id = ?1", params![id, claim.token, claim.until])?;
        let letter =
            self.query_one(&format!("SELECT {COLUMNS}, {BYTES} FROM outbox WHERE id = ?1"), [id], |r| letter_with_message(r, 0))?;
        let letter = self.with_bytes(vec![letter])?.pop();
        tx.commit()?;
        Ok(letter)
    }

    /// Claims up to `most` due letters with an id above `after_id`, oldest
    /// first, in one write transaction (the sender thread's window), and no
    /// more once `most_bytes` of letters came before: the window is held in
    /// memory. Its first letter is claimed whatever its size.
    pub fn claim_due(&self, claim: &Claim, now: i64, after_id: i64, most: usize, most_bytes: usize) -> rusqlite::Result<Vec<OutboxLetter>> {
        let tx = self.write_tx()?;
        let any: bool =
            self.query_one(&format!("SELECT EXISTS (SELECT 1 FROM outbox WHERE {DUE_AFTER})"), params![after_id, now], |r| r.get(0))?;
        if !any {
            return Ok(Vec::new());
        }
        self.mark_interrupted(now)?;
        // one statement claims the window and returns it, bytes and all; RETURNING keeps no order
        let rows = self
            .conn
            .prepare_cached(&format!(
                "UPDATE outbox SET claimed_by = ?4, claim_until = ?5
                 WHERE id IN (
                     SELECT id FROM (
                         SELECT id, sum(size) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - size AS before
                         FROM (SELECT id, {SIZE} AS size FROM outbox WHERE {DUE_AFTER} ORDER BY id LIMIT ?3)
                     ) WHERE before < ?6)
                 RETURNING {COLUMNS}, {BYTES}"
            ))?
            .query_map(params![after_id, now, most as i64, claim.token, claim.until, most_bytes.min(i64::MAX as usize) as i64], |r| {
                letter_with_message(r, now)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut letters = self.with_bytes(rows)?;
        letters.sort_by_key(|l| l.id);
        tx.commit()?;
        Ok(letters)
    }

    /// Which of the letters handed to a sender thread in memory it may still
    /// send, their claims renewed to `until` (the window's) in one statement:
    /// those still in the outbox (an admin may have dropped one) and still
    /// claimed by `token` (after a short handover claim lapsed, another
    /// flusher may have taken one).
    pub fn confirm_handed(&self, letters: &[OutboxLetter], token: &str, until: i64) -> rusqlite::Result<Vec<i64>> {
        // the ids as one JSON array: one cached statement, whatever the window's size
        let ids = format!("[{}]", letters.iter().map(|l| l.id.to_string()).collect::<Vec<_>>().join(","));
        let tx = self.write_tx()?;
        let ours = self
            .conn
            .prepare_cached(
                "UPDATE outbox SET claim_until = ?2, next_try_at = ?2
                 WHERE claimed_by = ?1 AND id IN (SELECT value FROM json_each(?3)) RETURNING id",
            )?
            .query_map(params![token, until, ids], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        tx.commit()?;
        Ok(ours)
    }

    /// A `sending` row whose letter's claim has lapsed: its sender died (or
    /// was killed) mid-attempt. The letter itself is still in the outbox.
    /// Looked for with a read first: an UPDATE takes the write lock even when
    /// it changes nothing, and the journal and outbox pages (and a script
    /// polling `smtp34_journal()`) ask this on every call, which kept the
    /// sender thread's commits waiting in the busy handler.
    pub fn mark_interrupted(&self, now: i64) -> rusqlite::Result<usize> {
        let any: bool = self.query_one(&format!("SELECT EXISTS (SELECT 1 FROM journal WHERE {LAPSED_ATTEMPTS})"), [now], |r| r.get(0))?;
        if !any {
            return Ok(0);
        }
        self.run(
            &format!(
                "UPDATE journal SET status = 'interrupted',
                    reply = 'the PHP process ended during the attempt; the letter waits in the outbox'
                 WHERE {LAPSED_ATTEMPTS}"
            ),
            [now],
        )
    }

    /// The letter waits for another try, for these recipients only.
    pub fn retry_later(&self, id: i64, retry: &Retry, now: i64) -> rusqlite::Result<()> {
        // spooled bytes move into the row (given them: a row read without them keeps its spool);
        // a row that holds its own is not given them again (bound, SQLite copies them once more)
        let message = if self.holds_bytes(id)? == Some(false) { retry.message } else { &[] };
        self.run(
            "UPDATE outbox SET recipients = ?2, account_id = COALESCE(?3, account_id), last_error = ?4, attempts = ?5,
                next_try_at = ?6, last_try_at = ?7, claimed_by = NULL, claim_until = 0,
                message = CASE WHEN spool IS NULL OR length(?8) = 0 THEN message ELSE ?8 END,
                spool = CASE WHEN length(?8) = 0 THEN spool END,
                spool_at = CASE WHEN length(?8) = 0 THEN spool_at ELSE 0 END,
                spool_length = CASE WHEN length(?8) = 0 THEN spool_length ELSE 0 END
             WHERE id = ?1",
            params![id, retry.recipients.join("\n"), retry.account_id, retry.error, retry.attempts, retry.next_try_at, now, message],
        )?;
        Ok(())
    }

    /// Claimed letters with their bytes: the spooled ones read from their
    /// spool file, inside the claiming transaction (so a file emptied or
    /// adopted meanwhile is never read half-way). A letter whose bytes are
    /// gone is settled `failed` here and not returned.
    fn with_bytes(&self, rows: Vec<(OutboxLetter, Option<Spooled>)>) -> rusqlite::Result<Vec<OutboxLetter>> {
        let wanted: Vec<&Spooled> = rows.iter().filter_map(|(_, spooled)| spooled.as_ref()).collect();
        let mut reader = spool::Reader::new(&self.spool_dir, &wanted);
        let mut letters = Vec::with_capacity(rows.len());
        for (mut letter, spooled) in rows {
            match spooled.map(|spooled| reader.read(&spooled)) {
                None => letters.push(letter),
                Some(Ok(bytes)) => {
                    letter.message = bytes;
                    letters.push(letter);
                }
                Some(Err(e)) => self.lose_letter(letter.id, letter.journal_id, &e)?,
            }
        }
        Ok(letters)
    }

    /// Frees every letter claimed under `token` (a sender cut off at shutdown):
    /// due again at once, for the next flush.
    pub fn release_claims(&self, token: &str, now: i64) -> rusqlite::Result<usize> {
        // a letter handed over in memory was written due when its claim lapses: due now instead
        self.run(
            "UPDATE outbox SET claimed_by = NULL, claim_until = 0, next_try_at = min(next_try_at, ?2) WHERE claimed_by = ?1",
            params![token, now],
        )
    }

    /// The letter was delivered, refused for good, given up or dropped by an admin.
    /// Only a letter whose bytes were in its row makes the WAL due for a
    /// scrub: a spooled letter's never were (its spool file is emptied).
    pub fn remove_from_outbox(&self, id: i64) -> rusqlite::Result<bool> {
        // not `DELETE ... RETURNING length(message)`: RETURNING loads the column it names, and
        // with it a statement journal held every overflow page secure_delete zeroes (an 8 MB
        // letter's removal took 17 MB)
        let held_bytes = self.holds_bytes(id)?;
        let removed = self.run("DELETE FROM outbox WHERE id = ?1", [id])? > 0;
        if removed && held_bytes == Some(true) {
            self.letter_removed();
        }
        Ok(removed)
    }

    /// Whether the row holds its letter's bytes (a spooled letter's row holds
    /// none); `None`: no such row. `length()` of a blob is read from the row's
    /// header, not from its bytes.
    fn holds_bytes(&self, id: i64) -> rusqlite::Result<Option<bool>> {
        self.query_one("SELECT length(message) > 0 FROM outbox WHERE id = ?1", [id], |r| r.get(0)).optional()
    }

    /// Every letter in the outbox, oldest first, without its bytes.
    pub fn outbox(&self, now: i64) -> rusqlite::Result<Vec<OutboxLetter>> {
        self.mark_interrupted(now)?;
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id"))?;
        let rows = stmt.query_map([], |r| letter_from_row(r, now))?;
        rows.collect()
    }

    pub fn outbox_size(&self) -> rusqlite::Result<i64> {
        self.query_one("SELECT count(*) FROM outbox", [], |r| r.get(0))
    }
}

/// A letter whose bytes the journal kept (SPEC §5 `keep_letters`), the bytes still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptLetter {
    pub journal_id: i64,
    pub from_name: String,
    pub from_email: String,
    pub mailing: bool,
    pub envelope_from: Option<String>,
    /// Whom it was kept for: every recipient, or those it never reached.
    pub recipients: Vec<String>,
    pub subject: String,
    pub sealed: Vec<u8>,
}

impl Store {
    /// Keeps a letter's sealed bytes beside its journal row, for `smtp34_journal_resend()`.
    pub fn keep_letter(
        &self,
        journal_id: i64,
        letter: &OutboxLetter,
        recipients: &[String],
        sealed: &[u8],
        now: i64,
    ) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO kept_letters (journal_id, kept_at, sealed, from_name, from_email, mailing, envelope_from, recipients, subject)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                journal_id,
                now,
                sealed,
                letter.from_name,
                letter.from_email,
                letter.mailing,
                letter.envelope_from,
                recipients.join("\n"),
                letter.subject
            ])?;
        Ok(())
    }

    pub fn kept_letter(&self, journal_id: i64) -> rusqlite::Result<Option<KeptLetter>> {
        self.query_one(
                "SELECT journal_id, from_name, from_email, mailing, envelope_from, recipients, subject, sealed FROM kept_letters WHERE journal_id = ?1",
                [journal_id],
                |r| {
                    let recipients: String = r.get(5)?;
                    Ok(KeptLetter {
                        journal_id: r.get(0)?,
                        from_name: r.get(1)?,
                        from_email: r.get(2)?,
                        mailing: r.get(3)?,
                        envelope_from: r.get(4)?,
                        recipients: recipients.split('\n').filter(|r| !r.is_empty()).map(str::to_owned).collect(),
                        subject: r.get(6)?,
                        sealed: r.get(7)?,
                    })
                },
            )
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::outcome::Status;

    #[test]
    fn retries_grow_then_stay_hourly() {
        let minutes: Vec<i64> = (1..=10).map(|n| retry_delay(n) / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 15, 30, 60, 60, 60, 60]);
        assert_eq!(retry_delay(0), 60);
    }

    fn store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("smtp34-outbox-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("smtp34.db")).unwrap()
    }

    #[test]
    fn claims_read_narrow_indexes_not_the_letters() {
        let store = store("plans");
        let plan = |sql: &str| -> String {
            let mut stmt = store.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let claim = plan(&format!("SELECT id FROM outbox WHERE {DUE_AFTER} ORDER BY id LIMIT 16").replace("?1", "0").replace("?2", "5"));
        assert!(claim.contains("COVERING INDEX outbox_claimable"), "{claim}");
        let lapsed = plan(&format!("SELECT EXISTS (SELECT 1 FROM journal WHERE {LAPSED_ATTEMPTS})").replace("?1", "5"));
        assert!(lapsed.contains("COVERING INDEX outbox_claims (claim_until>? AND claim_until<?)"), "{lapsed}");
        // the query names the attempts' claims as the partial index does, and as pages make them
        assert!(LAPSED_ATTEMPTS.contains(&format!("substr(claimed_by, 1, {}) = '{ATTEMPT_CLAIM}'", ATTEMPT_CLAIM.len())));
        assert!(!lapsed.contains("SCAN journal"), "{lapsed}");
    }

    fn letter() -> OutboxLetter {
        OutboxLetter {
            from_email: "shop@site.ru".into(),
            recipients: vec!["a@b.ru".into(), "c@d.ru".into()],
            subject: "s".into(),
            ..Default::default()
        }
    }

    /// A letter written unclaimed.
    fn new<'a>(entry: &'a JournalEntry, row: &'a OutboxLetter, message: &'a [u8], now: i64) -> NewLetter<'a> {
        NewLetter { entry, row, message, spooled: None, claim: None, now }
    }

    fn claim(token: &str, until: i64) -> Claim {
        Claim { token: token.into(), until }
    }

    #[test]
    fn a_window_claims_letters_until_its_bytes_are_reached_and_always_one() {
        let store = store("window-bytes");
        let entry = JournalEntry { status: Status::Queued, ..Default::default() };
        let row = letter();
        for size in [400, 400, 400, 50, 5000, 10] {
            store.begin_letter(&new(&entry, &row, &vec![b'x'; size], 1)).unwrap();
        }
        let sizes = |letters: Vec<OutboxLetter>| letters.iter().map(|l| l.message.len()).collect::<Vec<_>>();
        // 400 + 400 came before the third: 800 < 1000, so it is claimed too; 1200 are before the fourth
        assert_eq!(sizes(store.claim_due(&claim("a", 100), 5, 0, 16, 1000).unwrap()), [400, 400, 400]);
        // a letter is claimed while those before it hold fewer bytes than the window, whatever its own size
        assert_eq!(sizes(store.claim_due(&claim("b", 100), 5, 0, 16, 100).unwrap()), [50, 5000]);
        assert_eq!(sizes(store.claim_due(&claim("c", 100), 5, 0, 16, 100).unwrap()), [10]);
        assert!(store.claim_due(&claim("d", 100), 5, 0, 16, 100).unwrap().is_empty());
    }

    #[test]
    fn a_letter_is_claimed_by_one_flusher_at_a_time() {
        let store = store("claim");
        let entry = JournalEntry { status: Status::Sending, ..Default::default() };
        let (journal_id, id) = store
            .begin_letter(&NewLetter {
                entry: &entry,
                row: &letter(),
                message: b"bytes",
                spooled: None,
                claim: Some(&claim(&format!("{ATTEMPT_CLAIM}page"), 100)),
                now: 50,
            })
            .unwrap();
        // the page's attempt holds its claim until 100
        assert_eq!(store.claim_next(&claim("f1", 200), 99, false, 0).unwrap(), None);
        let got = store.claim_next(&claim("f1", 200), 100, true, 0).unwrap().unwrap();
        assert_eq!((got.id, got.message.as_slice(), got.recipients.len()), (id, &b"bytes"[..], 2));
        assert_eq!(store.journal(1).unwrap()[0].status, Status::Interrupted, "its sender never came back");
        assert_eq!(store.journal(1).unwrap()[0].id, journal_id);
        assert_eq!(store.claim_next(&claim("f2", 200), 150, false, 0).unwrap(), None, "claimed by f1");

        let recipients = ["c@d.ru".to_string()];
        let retry = Retry { recipients: &recipients, message: b"", account_id: Some(3), error: "451 later", attempts: 1, next_try_at: 160 };
        store.retry_later(id, &retry, 150).unwrap();
        assert_eq!(store.claim_next(&claim("f2", 300), 155, true, 0).unwrap(), None, "not due yet");
        assert!(store.claim_next(&claim("f2", 300), 155, false, id).unwrap().is_none(), "after_id skips it");
        let again = store.claim_next(&claim("f2", 300), 155, false, 0).unwrap().unwrap();
        assert_eq!((again.recipients, again.attempts, again.last_error.as_str()), (vec!["c@d.ru".to_string()], 1, "451 later"));
        assert!(store.remove_from_outbox(id).unwrap());
        assert_eq!(store.outbox_size().unwrap(), 0);
    }

    #[test]
    fn a_letter_decided_with_a_configuration_since_moved_is_not_written() {
        let store = store("config-moved");
        let read_at = store.config_version().unwrap();
        let (entry, row) = (JournalEntry::default(), letter());
        let written = store.begin_letter_if_current(read_at, &new(&entry, &row, b"x", 1)).unwrap();
        assert!(written.is_some(), "the configuration it was decided with is still the store's");
        store.conn.execute("INSERT INTO settings (key, value) VALUES ('timeout', '5')", []).unwrap();
        assert_eq!(store.begin_letter_if_current(read_at, &new(&entry, &row, b"y", 2)).unwrap(), None);
        assert_eq!((store.outbox_size().unwrap(), store.journal(10).unwrap().len()), (1, 1), "neither row of the second letter");
        let now_at = store.config_version().unwrap();
        assert!(store.begin_letter_if_current(now_at, &new(&entry, &row, b"y", 2)).unwrap().is_some());
    }

    #[test]
    fn the_list_shows_what_waits_and_why() {
        let store = store("list");
        let entry = JournalEntry::default();
        let (_, id) = store
            .begin_letter(&NewLetter {
                entry: &entry,
                row: &letter(),
                message: b"12345",
                spooled: None,
                claim: Some(&claim("s", 10)),
                now: 1,
            })
            .unwrap();
        let recipients = ["a@b.ru".to_string()];
        let retry = Retry { recipients: &recipients, message: b"", account_id: Some(7), error: "421 busy", attempts: 2, next_try_at: 500 };
        store.retry_later(id, &retry, 20).unwrap();
        let list = store.outbox(30).unwrap();
        assert_eq!(list.len(), 1);
        let row = &list[0];
        assert_eq!((row.size, row.attempts, row.next_try_at, row.account_id, row.claimed), (5, 2, 500, Some(7), false));
        assert_eq!(row.last_error, "421 busy");
        assert!(row.message.is_empty());
    }

    #[test]
    fn a_letter_can_start_out_waiting() {
        let store = store("waiting");
        let waiting = OutboxLetter { next_try_at: 900, last_error: "account 1 rests".into(), ..letter() };
        store.begin_letter(&new(&JournalEntry::default(), &waiting, b"x", 100)).unwrap();
        let row = &store.outbox(100).unwrap()[0];
        assert_eq!((row.claimed, row.next_try_at, row.attempts, row.last_error.as_str()), (false, 900, 0, "account 1 rests"));
        assert_eq!(store.claim_next(&claim("f", 2000), 899, true, 0).unwrap(), None);
        assert!(store.claim_next(&claim("f", 2000), 900, true, 0).unwrap().is_some());
    }
}
