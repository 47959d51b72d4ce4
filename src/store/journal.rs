//! The journal read in pages (SPEC §6): keyset pages newest first, filters
//! done in SQL, and counts per (time bucket, account, status).
//!
//! The journal has no index on `time`: every letter would pay for one. Rows
//! are written in time order (a row's time is taken just before its insert),
//! so a time range becomes a range of ids by binary search over the primary
//! key, widened by `TIME_SLACK` for writers that waited on the lock, and the
//! exact times are checked on the rows inside it.

use rusqlite::types::Value as SqlValue;

use super::{stored_status, JournalEntry, Store};
use crate::config::fields::{FieldError, Fields, Value};
use crate::route::outcome::Status;

/// The statuses the partial index `journal_trouble` holds: the rows an admin looks
/// for among many. A letter's way (sending, queued, sent) stays out of it, so a
/// letter costs no index write unless it fails.
const TROUBLE: [Status; 5] = [Status::Failed, Status::Fallback, Status::Refused, Status::Disabled, Status::Interrupted];

/// How far a row's time may run behind a later row's (a writer that waited
/// on the database lock, the clock stepped back a little).
const TIME_SLACK: i64 = 600;

/// What `smtp34_journal()`'s `$filter` asks for, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalFilter {
    /// Any of these (empty: any status).
    pub statuses: Vec<Status>,
    /// `Some(None)`: rows without an account.
    pub account: Option<Option<i64>>,
    pub mailing: Option<bool>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// A substring of from, recipients, subject or Message-ID (case-insensitive for ASCII).
    pub text: Option<String>,
}

const KEYS: &[&str] = &["status", "account_id", "mailing", "since", "until", "text"];

impl JournalFilter {
    /// `fields` as PHP gave them; `status_list` the elements of `status` when it is a list.
    pub fn from_fields(fields: &Fields, status_list: Option<&[Value]>) -> Result<JournalFilter, FieldError> {
        if let Some(unknown) = fields.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(FieldError::new(unknown, format!("is not a journal filter ({})", KEYS.join(", "))));
        }
        let status = |value: &Value| -> Result<Status, FieldError> {
            let word = value.to_text("status")?;
            Status::parse(&word).ok_or_else(|| {
                let words: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                FieldError::new("status", format!("must be one of: {} (or a list of them)", words.join(", ")))
            })
        };
        let statuses = match (status_list, fields.get("status")) {
            (Some(list), _) => list.iter().map(status).collect::<Result<Vec<_>, _>>()?,
            (None, Some(Value::Bytes(_))) => vec![status(&fields["status"])?],
            (None, Some(_)) => return Err(FieldError::new("status", "must be a status or a list of statuses")),
            (None, None) => Vec::new(),
        };
        let account = match fields.get("account_id") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::Int(id)) => Some(Some(*id)),
            Some(_) => return Err(FieldError::new("account_id", "must be an int, or null for rows without an account")),
        };
        let mailing = match fields.get("mailing") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(FieldError::new("mailing", "must be a bool")),
        };
        let time = |key: &str| match fields.get(key) {
            None => Ok(None),
            Some(Value::Int(t)) => Ok(Some(*t)),
            Some(_) => Err(FieldError::new(key, "must be a unix time (int)")),
        };
        let text = match fields.get("text") {
            None => None,
            Some(v @ Value::Bytes(_)) => Some(v.to_text("text")?).filter(|t| !t.is_empty()),
            Some(_) => return Err(FieldError::new("text", "must be a string")),
        };
        Ok(JournalFilter { statuses, account, mailing, since: time("since")?, until: time("until")?, text })
    }
}

/// One count of `smtp34_journal_counts()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalCount {
    pub start: i64,
    pub account_id: Option<i64>,
    pub status: Status,
    pub count: i64,
}

const COLUMNS: &str = "id, time, account_id, mailing_id, from_addr, recipients, subject, message_id, status, reply, duration_ms, \
     resent_from, EXISTS (SELECT 1 FROM kept_letters WHERE journal_id = journal.id)";

fn entry(r: &rusqlite::Row) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        id: r.get(0)?,
        time: r.get(1)?,
        account_id: r.get(2)?,
        mailing_id: r.get(3)?,
        from: r.get(4)?,
        recipients: r.get(5)?,
        subject: r.get(6)?,
        message_id: r.get(7)?,
        status: stored_status(r, 8)?,
        reply: r.get(9)?,
        duration_ms: r.get(10)?,
        resent_from: r.get(11)?,
        kept: r.get(12)?,
    })
}

/// SQL functions of ours: `smtp34_contains(needle, column, ...)`, whether any
/// column, lower-cased, holds the needle (lower-cased by the caller; used for
/// needles that are not ASCII, which an ASCII column cannot hold). The needle's
/// searchers are made once a statement: SQLite keeps them beside the bound
/// parameter for the rows that follow.
pub(super) fn register_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function("smtp34_contains", -1, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |ctx| {
        let needle = ctx.get_or_create_aux(0, |raw| Ok::<_, std::convert::Infallible>(Needle::new(raw.as_str().unwrap_or(""))))?;
        Ok((1..ctx.len()).any(|i| needle.in_column(ctx.get_raw(i).as_bytes().unwrap_or(b""))))
    })
}

/// A text filter's needle, lower-case already, with byte searchers for its
/// first two adjacent lower-case Cyrillic letters in their four cases.
/// Checking and lower-casing every non-ASCII column cost a text search ~1 µs
/// a row; a column without the pair in any of its cases cannot hold the
/// needle, and a byte search rules it out first (its UTF-8 is checked only
/// when it passes).
struct Needle {
    text: String,
    /// Empty when the needle has no such pair.
    pair: Vec<memchr::memmem::Finder<'static>>,
}

impl Needle {
    fn new(text: &str) -> Self {
        #[cfg(test)]
        tests::NEEDLES_MADE.with(|made| made.set(made.get() + 1));
        let pair = match cyrillic_pair(text) {
            Some([first, second]) => [first, capital(first)]
                .into_iter()
                .flat_map(|a| {
                    [second, capital(second)].into_iter().map(move |b| {
                        let both = format!("{a}{b}");
                        memchr::memmem::Finder::new(both.as_bytes()).into_owned()
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        Needle { text: text.to_owned(), pair }
    }

    /// Whether `column`, lower-cased, holds the needle.
    fn in_column(&self, column: &[u8]) -> bool {
        !column.is_ascii()
            && (self.pair.is_empty() || self.pair.iter().any(|searcher| searcher.find(column).is_some()))
            && std::str::from_utf8(column).is_ok_and(|column| column.to_lowercase().contains(&self.text))
    }
}

/// Lower-case Cyrillic letters (а–я, ѐ–џ). Each has one capital, and no other
/// character lower-cases to it (a unit test checks every character).
fn is_cyrillic_lower(c: char) -> bool {
    ('\u{430}'..='\u{45f}').contains(&c)
}

fn capital(c: char) -> char {
    c.to_uppercase().next().unwrap_or(c)
}

/// The needle's first two adjacent lower-case Cyrillic letters, if it has any.
fn cyrillic_pair(needle: &str) -> Option<[char; 2]> {
    needle.chars().zip(needle.chars().skip(1)).find(|&(a, b)| is_cyrillic_lower(a) && is_cyrillic_lower(b)).map(|(a, b)| [a, b])
}

/// `text` as a LIKE pattern that matches it anywhere, its own `%`, `_` and `\` taken literally.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// The smallest id whose row is at `time` or later, give or take `TIME_SLACK`
    /// (None: every row is earlier).
    pub fn first_id_from(&self, time: i64) -> rusqlite::Result<Option<i64>> {
        self.id_bound(time - TIME_SLACK, true)
    }

    /// The largest id whose row is at `time` or earlier, give or take `TIME_SLACK`.
    fn last_id_until(&self, time: i64) -> rusqlite::Result<Option<i64>> {
        self.id_bound(time + TIME_SLACK, false)
    }

    /// Binary search over the primary key: `from`: the first row with time ≥ `time`;
    /// else the last row with time ≤ `time`.
    fn id_bound(&self, time: i64, from: bool) -> rusqlite::Result<Option<i64>> {
        let (min, max): (Option<i64>, Option<i64>) =
            self.query_one("SELECT (SELECT min(id) FROM journal), (SELECT max(id) FROM journal)", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let (Some(mut low), Some(mut high)) = (min, max) else { return Ok(None) };
        let past = |row_time: i64| if from { row_time >= time } else { row_time > time };
        let mut at = self.conn.prepare_cached("SELECT id, time FROM journal WHERE id >= ?1 ORDER BY id LIMIT 1")?;
        // the first id whose row is past `time`; ids may have gaps (pruned, rolled back)
        let mut first_past = max.unwrap_or(0) + 1;
        while low <= high {
            let mid = low + (high - low) / 2;
            let (id, row_time) = at.query_row([mid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            if id > high {
                high = mid - 1;
            } else if past(row_time) {
                first_past = id;
                high = mid - 1;
            } else {
                low = id + 1;
            }
        }
        if from {
            return Ok(Some(first_past).filter(|&id| id <= max.unwrap_or(0)));
        }
        self.query_one("SELECT max(id) FROM journal WHERE id < ?1", [first_past], |r| r.get(0))
    }

    /// Up to `limit` rows newest first, below `before_id` when it is above 0, that pass `filter`.
    pub fn journal_page(&self, limit: i64, before_id: i64, filter: &JournalFilter) -> rusqlite::Result<Vec<JournalEntry>> {
        let limit = limit.max(0);
        let mut low = 0;
        let mut high = if before_id > 0 { before_id - 1 } else { i64::MAX };
        if let Some(since) = filter.since {
            match self.first_id_from(since)? {
                Some(id) => low = id,
                None => return Ok(Vec::new()),
            }
        }
        if let Some(until) = filter.until {
            match self.last_id_until(until)? {
                Some(id) => high = high.min(id),
                None => return Ok(Vec::new()),
            }
        }
        if limit == 0 || low > high {
            return Ok(Vec::new());
        }
        // one query per status, each walking its (status, id) index newest first, merged
        // here: SQLite would sort every matching row to answer `status IN (...)` in id order
        let statuses: Vec<Option<Status>> =
            if filter.statuses.is_empty() { vec![None] } else { filter.statuses.iter().copied().map(Some).collect() };
        let mut rows = Vec::new();
        for status in statuses {
            rows.extend(self.journal_walk(limit, low, high, status, filter)?);
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.id));
        rows.dedup_by_key(|r| r.id);
        rows.truncate(limit as usize);
        Ok(rows)
    }

    fn journal_walk(
        &self,
        limit: i64,
        low: i64,
        high: i64,
        status: Option<Status>,
        filter: &JournalFilter,
    ) -> rusqlite::Result<Vec<JournalEntry>> {
        let mut sql = format!("SELECT {COLUMNS} FROM journal WHERE id BETWEEN ? AND ?");
        let mut args: Vec<SqlValue> = vec![low.into(), high.into()];
        if let Some(status) = status {
            sql.push_str(" AND status = ?");
            args.push(status.as_str().to_owned().into());
            if TROUBLE.contains(&status) {
                // the partial index's own condition, so that SQLite sees it may use it
                sql.push_str(" AND status IN ('failed', 'fallback', 'refused', 'disabled', 'interrupted')");
            }
        }
        match filter.account {
            Some(Some(id)) => {
                sql.push_str(" AND account_id = ?");
                args.push(id.into());
            }
            Some(None) => sql.push_str(" AND account_id IS NULL"),
            None => {}
        }
        match filter.mailing {
            Some(true) => sql.push_str(" AND mailing_id IS NOT NULL"),
            Some(false) => sql.push_str(" AND mailing_id IS NULL"),
            None => {}
        }
        if let Some(since) = filter.since {
            sql.push_str(" AND time >= ?");
            args.push(since.into());
        }
        if let Some(until) = filter.until {
            sql.push_str(" AND time <= ?");
            args.push(until.into());
        }
        if let Some(text) = &filter.text {
            // SQLite's LIKE folds the case of ASCII letters only: «заказ» must find «Заказ» too
            if text.is_ascii() {
                sql.push_str(" AND (from_addr LIKE ? ESCAPE '\\' OR recipients LIKE ? ESCAPE '\\' OR subject LIKE ? ESCAPE '\\' OR message_id LIKE ? ESCAPE '\\')");
                args.extend(std::iter::repeat_n(SqlValue::from(like_pattern(text)), 4));
            } else {
                sql.push_str(" AND smtp34_contains(?, from_addr, recipients, subject, message_id)");
                args.push(text.to_lowercase().into());
            }
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        args.push(limit.into());
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), entry)?;
        rows.collect()
    }

    /// Counts per (bucket, account, status) from `since` to `until`, buckets of
    /// `bucket` seconds aligned to the unix epoch (so hours add up to local days).
    pub fn journal_counts(&self, since: i64, until: i64, bucket: i64) -> rusqlite::Result<Vec<JournalCount>> {
        let (Some(low), Some(high)) = (self.first_id_from(since)?, self.last_id_until(until)?) else { return Ok(Vec::new()) };
        let mut stmt = self.conn.prepare_cached(
            "SELECT (time / ?3) * ?3 AS start, account_id, status, count(*) FROM journal
             WHERE id BETWEEN ?1 AND ?2 AND time >= ?4 AND time <= ?5
             GROUP BY start, account_id, status ORDER BY start, account_id, status",
        )?;
        let rows = stmt.query_map(rusqlite::params![low, high, bucket, since, until], |r| {
            Ok(JournalCount { start: r.get(0)?, account_id: r.get(1)?, status: stored_status(r, 2)?, count: r.get(3)? })
        })?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// How many [`Needle`]s this thread made.
        pub(super) static NEEDLES_MADE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn found(column: &str, needle: &str) -> bool {
        Needle::new(needle).in_column(column.as_bytes())
    }

    #[test]
    fn no_character_but_a_cyrillic_letter_and_its_capital_lower_cases_to_it() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let lower: Vec<char> = c.to_lowercase().collect();
            if lower.iter().any(|&l| is_cyrillic_lower(l)) {
                assert_eq!(lower.len(), 1, "{c:?} lower-cases to {lower:?}");
                assert!(c == lower[0] || c == capital(lower[0]), "{c:?} lower-cases to {:?}", lower[0]);
            }
        }
        for letter in '\u{430}'..='\u{45f}' {
            assert_eq!(letter.to_uppercase().count(), 1, "{letter:?}");
            assert_eq!(capital(letter).to_lowercase().collect::<String>(), letter.to_string());
        }
    }

    #[test]
    fn the_cyrillic_pair_rules_out_only_columns_without_it() {
        assert_eq!(cyrillic_pair("№9 новости"), Some(['н', 'о']));
        assert_eq!(Needle::new("№9 новости").pair.len(), 4, "но, нО, Но, НО");
        assert!(found("Новости магазина №9 НОВОСТИ", "№9 новости"));
        assert!(found("№9 НоВОСТИ", "№9 новости"));
        assert!(!found("Ваш заказ №9 принят", "№9 новости"));
        assert_eq!(cyrillic_pair("№9 н"), None);
        assert!(Needle::new("№9 н").pair.is_empty());
        assert!(found("Ñandú №9 Н", "№9 н"));
        assert!(!found("plain ascii", "ascii"));
    }

    proptest::proptest! {
        /// Ruling out by the pair first changes no answer: against lower-casing every column.
        #[test]
        fn searching_with_the_pair_equals_lower_casing_every_column(
            column in "[аоНОнСсΣσςİi№9 ёЁxX]{0,12}",
            start in 0usize..12,
            length in 0usize..6,
            other in "[аоНОнСсΣσςİi№9 ёЁ]{1,4}",
        ) {
            let lowered = column.to_lowercase();
            let chars: Vec<char> = lowered.chars().collect();
            let inside: String = chars.iter().skip(start).take(length).collect();
            for needle in [inside, other.to_lowercase()] {
                if needle.is_empty() || needle.is_ascii() {
                    continue;
                }
                let expected = lowered.contains(needle.as_str());
                proptest::prop_assert_eq!(found(&column, &needle), expected, "{:?} in {:?}", needle, column);
            }
        }
    }

    fn store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("smtp34-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("smtp34.db")).unwrap()
    }

    fn add(store: &Store, time: i64, status: Status) -> i64 {
        store.append_journal(&JournalEntry { time, status, ..Default::default() }).unwrap()
    }

    #[test]
    fn time_bounds_find_ids_across_gaps() {
        let store = store("bounds");
        assert_eq!(store.id_bound(100, true).unwrap(), None, "an empty journal");
        let ids: Vec<i64> = (0..50).map(|i| add(&store, 10_000 + i * 1_000, Status::Sent)).collect();
        // holes where rows were pruned or rolled back
        store.conn.execute("DELETE FROM journal WHERE id % 3 = 0 OR id BETWEEN ?1 AND ?2", [ids[20], ids[30]]).unwrap();
        let rows = store.journal(100).unwrap();
        for probe in [0, 9_999, 10_000, 10_500, 25_000, 31_000, 40_000, 58_999, 59_000, 70_000] {
            let first = rows.iter().filter(|r| r.time >= probe).map(|r| r.id).min();
            let last = rows.iter().filter(|r| r.time <= probe).map(|r| r.id).max();
            assert_eq!(store.id_bound(probe, true).unwrap(), first, "first at or after {probe}");
            assert_eq!(store.id_bound(probe, false).unwrap(), last, "last at or before {probe}");
        }
    }

    #[test]
    fn a_page_of_one_status_walks_its_index_newest_first() {
        let store = store("plans");
        let plan = |sql: &str| -> String {
            let mut stmt = store.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let failed = plan(
            "SELECT id FROM journal WHERE id BETWEEN 0 AND 99 AND status = 'failed' \
             AND status IN ('failed', 'fallback', 'refused', 'disabled', 'interrupted') ORDER BY id DESC LIMIT 50",
        );
        assert!(failed.contains("INDEX journal_trouble") && !failed.contains("TEMP B-TREE"), "{failed}");
        let account = plan("SELECT id FROM journal WHERE id BETWEEN 0 AND 99 AND account_id = 3 ORDER BY id DESC LIMIT 50");
        assert!(account.contains("INTEGER PRIMARY KEY") && !account.contains("TEMP B-TREE"), "walks the rows newest first: {account}");
    }

    #[test]
    fn several_statuses_merge_newest_first_and_text_folds_every_case() {
        let store = store("merge");
        for i in 0..30 {
            let status = [Status::Sent, Status::Failed, Status::Queued][i % 3];
            store.append_journal(&JournalEntry { time: i as i64, status, subject: format!("Заказ {i}"), ..Default::default() }).unwrap();
        }
        let filter = JournalFilter { statuses: vec![Status::Queued, Status::Failed], ..Default::default() };
        let page = store.journal_page(5, 0, &filter).unwrap();
        let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![30, 29, 27, 26, 24], "ids from 1: the first row is sent");
        let next = store.journal_page(5, 24, &filter).unwrap();
        assert_eq!(next.first().map(|r| r.id), Some(23));
        let text = JournalFilter { text: Some("заказ 2".into()), ..Default::default() };
        assert_eq!(store.journal_page(50, 0, &text).unwrap().len(), 11, "Заказ 2 and Заказ 20..29");
    }

    #[test]
    fn a_text_search_makes_its_needle_once_and_the_next_search_its_own() {
        let store = store("needle");
        for i in 0..40 {
            let subject = if i % 2 == 0 { format!("Ваш заказ №{i} принят") } else { format!("Новости №{i}") };
            store.append_journal(&JournalEntry { time: i, status: Status::Sent, subject, ..Default::default() }).unwrap();
        }
        for (needle, expected) in [("ЗАКАЗ", 20), ("новости", 20), ("заказ №1", 5), ("новости №3", 6)] {
            NEEDLES_MADE.with(|made| made.set(0));
            let text = JournalFilter { text: Some(needle.into()), ..Default::default() };
            assert_eq!(store.journal_page(50, 0, &text).unwrap().len(), expected, "{needle}");
            assert_eq!(NEEDLES_MADE.with(|made| made.get()), 1, "{needle}: one needle for the 40 rows the search read");
        }
    }
}
