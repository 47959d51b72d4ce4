//! The one path a letter takes: arguments → parsed letter → decision
//! (candidate accounts) → SMTP sessions ([`attempt`]) → journal and outbox
//! ([`settle`]). Also the outbox [`flush`], which sends waiting letters the
//! same way, the [`background`] sender thread and its [`window`]s, and the
//! account [`check`]. No PHP here: when PHP's own `mail()` must take a
//! letter, the caller gets a [`MailStep::HandToMail`] and reports back
//! through [`handed_to_mail`], so no call into PHP ever happens inside this
//! module.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Instant;

use lettre::Address;

use crate::clock;
use crate::config::account::{Account, AccountDraft};
use crate::config::settings::{DeliveryMode, Fallback, KeepLetters, Settings};
use crate::error::{Error, Result};
use crate::letter::headers::Mailbox;
use crate::letter::{Letter, MailArgs};
use crate::logs;
use crate::route::decision::{self, AccountView, Decision, LetterFacts};
use crate::route::outcome::{Delivery, Handling, Outcome, Status};
use crate::runtime::Runtime;
use crate::smtp::{AuthKind, Endpoint};
use crate::smtp::{Session, SmtpError, Transcript};
use crate::store::outbox::{retry_delay, Claim, NewLetter, OutboxLetter, Retry};
use crate::store::spool;
use crate::store::JournalEntry;

mod attempt;
pub mod background;
mod check;
mod flush;
mod settle;
mod window;

use attempt::{try_accounts, write_log, Outgoing};
pub use check::{check, CheckOutcome};
pub use flush::{drop_from_outbox, flush, FlushReport};
pub use settle::POSSIBLE_DUPLICATE;
use settle::{settle, Settlement};

/// The outcome of one `custom_mail()` call.
pub struct MailResult {
    pub accepted: bool,
    /// What the caller warns about: the journal itself could not be
    /// written, or the letter went out of its usual way (no spool).
    pub warning: Option<String>,
}

/// Where a `custom_mail()` call stands after the decision.
pub enum MailStep {
    Done(MailResult),
    /// PHP's own `mail()` must get the letter, unchanged; then [`handed_to_mail`].
    HandToMail(PendingMail),
}

/// A letter handed to PHP's `mail()`: its journal row is already written.
pub struct PendingMail {
    journal_id: std::result::Result<i64, String>,
    status: Status,
    why: String,
    started: Instant,
}

/// Sends one letter as SPEC §1–§4 say. A store that cannot be read is an
/// `Err`: the caller then hands the letter to PHP's `mail()` (a broken
/// database must never stop a site's mail).
pub fn custom_mail(rt: &mut Runtime, args: &MailArgs) -> Result<MailStep> {
    let started = Instant::now();
    let letter = Letter::parse(args, &crate::process::unique_id());
    // in background mode the configuration this process read last is confirmed inside the
    // letter's one write transaction, not by a read transaction of its own before it; if it
    // moved, the letter is decided again with the configuration read afresh (twice at most)
    let mut unconfirmed = rt.cached_config().filter(|config| config.settings.delivery == DeliveryMode::Background);
    loop {
        let (config, read_at) = match unconfirmed.take() {
            Some(config) => {
                let version = config.version;
                (config, Some(version))
            }
            None => (rt.config()?, None),
        };
        if let Some(step) = decide_and_act(rt, &letter, &config, read_at, started)? {
            return Ok(step);
        }
    }
}

/// [`custom_mail`] with `config`. With `read_at` (the cached
/// configuration's version, unconfirmed) it first checks that the store's
/// configuration has not moved since: `None` when it has, nothing written.
fn decide_and_act(
    rt: &mut Runtime,
    letter: &Letter,
    config: &crate::runtime::Config,
    read_at: Option<i64>,
    started: Instant,
) -> Result<Option<MailStep>> {
    let now = clock::now_unix();
    let (settings, accounts) = (&config.settings, &config.accounts);
    if settings.delivery == DeliveryMode::Background {
        rt.store.leave_checkpoints_to_sender(background::page_waits_for_lock);
    }
    let views = AccountUsage::load(rt, config, now)?;
    prune_now_and_then(rt, settings, now);
    let facts = LetterFacts { from: letter.from.as_ref(), mailing: letter.mailing.is_some(), recipients: letter.recipients.len() };
    let decision =
        decision::decide(settings.enabled, settings.fallback == Fallback::Mail, facts, &views.views(config), now, views.midnight);

    let mut entry = journal_entry(letter, now);
    let mut notes = letter_notes(letter);
    let (handling, why, queued) = match decision {
        Decision::HandToMail { reason, why } => (Handling::ToMail(reason), why, None),
        Decision::NoAccount { why } => (Handling::Refused, why, None),
        Decision::NoRecipient { why } => (Handling::Unsendable, why, None),
        Decision::Wait { sender, until, why } => {
            let row = OutboxLetter { next_try_at: until, last_error: why.clone(), ..outbox_row(letter, sender) };
            (Handling::Queued, format!("waiting in the outbox: {why}"), Some((row, render(letter, accounts, sender))))
        }
        Decision::Send { sender, skipped, .. } if settings.delivery == DeliveryMode::Background => {
            notes.splice(0..0, skipped);
            let row = OutboxLetter { next_try_at: now, ..outbox_row(letter, sender) };
            (Handling::Queued, "queued: this process's sender thread delivers it".to_owned(), Some((row, render(letter, accounts, sender))))
        }
        Decision::Send { sender, candidates, skipped } => {
            notes.splice(0..0, skipped);
            let (message, unsigned) = signed(rt, config, letter, render(letter, accounts, sender));
            notes.extend(unsigned);
            if moved_since(rt, read_at)? {
                return Ok(None);
            }
            let sending = Sending { letter, message, sender, candidates, notes, started, now };
            return send_now(rt, settings, accounts, entry, sending).map(Some);
        }
    };
    if queued.is_none() && moved_since(rt, read_at)? {
        return Ok(None);
    }
    entry.status = handling.status();
    let step = match (handling, queued) {
        (Handling::ToMail(_), _) => {
            entry.reply = format!("{why}; handed to PHP mail(), which has not answered");
            let journal_id = rt.store.append_journal(&entry).map_err(journal_problem);
            MailStep::HandToMail(PendingMail { journal_id, status: entry.status, why, started })
        }
        (_, Some((row, message))) => {
            let (message, unsigned) = signed(rt, config, letter, message);
            notes.extend(unsigned);
            entry.account_id = row.account_id;
            entry.reply = std::iter::once(why).chain(notes).collect::<Vec<_>>().join("; ");
            let due_now = row.next_try_at <= now && settings.delivery == DeliveryMode::Background;
            // handed to the thread in memory, claimed for it as it is written: it need not claim and read it back
            let handover = due_now.then(|| background::claim_for_handover(&rt.paths, settings.timeout(), message.len(), now)).flatten();
            // its bytes in this process's spool file, its row small: see `store::spool`
            let (spooled, warning) = match due_now.then(|| spool::append(&rt.store.spool_dir, &message)) {
                Some(Ok(spooled)) => (Some(spooled), None),
                Some(Err(refused)) => (None, refused),
                None => (None, None),
            };
            let new = NewLetter {
                entry: &entry,
                row: &row,
                message: &message,
                spooled: spooled.as_ref().map(|(at, _)| at),
                claim: handover.as_ref(),
                now,
            };
            let written = match read_at {
                Some(version) => rt.store.begin_letter_if_current(version, &new),
                None => rt.store.begin_letter(&new).map(Some),
            };
            // committed (or not): the spool may be emptied again once no row names it
            drop(spooled);
            if settings.delivery == DeliveryMode::Background {
                background::page_committed();
            }
            let Some((journal_id, outbox_id)) = written.map_err(|e| Error::Storage(journal_problem(e)))? else {
                return Ok(None);
            };
            match handover {
                Some(claim) => background::hand_over(OutboxLetter {
                    id: outbox_id,
                    journal_id: Some(journal_id),
                    created_at: now,
                    size: message.len() as i64,
                    message,
                    next_try_at: claim.until,
                    claimed: true,
                    ..row
                }),
                None if due_now => background::wake(&rt.paths, settings.timeout()),
                None => {}
            }
            MailStep::Done(MailResult { accepted: handling.accepted() == Some(true), warning })
        }
        (_, None) => {
            entry.reply = std::iter::once(why).chain(notes).collect::<Vec<_>>().join("; ");
            entry.duration_ms = started.elapsed().as_millis() as i64;
            let warning = rt.store.append_journal(&entry).err().map(journal_problem);
            MailStep::Done(MailResult { accepted: handling.accepted() == Some(true), warning })
        }
    };
    Ok(Some(step))
}

/// Whether the store's configuration moved since the cached one was read
/// (at `read_at`; `None`: it was read for this letter).
fn moved_since(rt: &Runtime, read_at: Option<i64>) -> Result<bool> {
    Ok(match read_at {
        Some(version) => rt.store.config_version()? != version,
        None => false,
    })
}

/// A letter sent now (`delivery = wait`): what routing chose, and since when.
struct Sending<'a> {
    letter: &'a Letter,
    /// Rendered and signed.
    message: Vec<u8>,
    sender: i64,
    candidates: Vec<i64>,
    notes: Vec<String>,
    started: Instant,
    now: i64,
}

/// Writes the letter and its `sending` row before the first word to a
/// server, tries the candidates, and settles all from the [`Outcome`].
fn send_now(rt: &mut Runtime, settings: &Settings, accounts: &[Account], mut entry: JournalEntry, sending: Sending) -> Result<MailStep> {
    let Sending { letter, message, sender, candidates, notes, started, now } = sending;
    entry.status = Status::Sending;
    entry.account_id = Some(sender);
    entry.reply = "sending".into();
    let mut row = outbox_row(letter, sender);
    let claim = Claim {
        token: format!("{}{}-{}", crate::store::outbox::ATTEMPT_CLAIM, crate::process::id(), crate::process::unique_id()),
        until: now + lease(settings, candidates.len(), row.recipients.len(), message.len()),
    };
    let (journal_id, outbox_id) = rt
        .store
        .begin_letter(&NewLetter { entry: &entry, row: &row, message: &message, spooled: None, claim: Some(&claim), now })
        .map_err(|e| Error::Storage(journal_problem(e)))?;
    row.id = outbox_id;
    row.journal_id = Some(journal_id);
    row.created_at = now;
    let chosen: Vec<Account> = candidates.iter().filter_map(|id| accounts.iter().find(|a| a.id == *id).cloned()).collect();
    let mut outcome = Outcome::pending(row.recipients.clone());
    outcome.notes.extend(notes);
    let mut shipment = Outgoing { message: &message, envelope_from: letter.envelope_from.clone(), message_id: &letter.message_id };
    try_accounts(rt, settings, &chosen, &mut shipment, &mut outcome);
    // the bytes travel with the row to be settled: `keep_letters` may keep them
    row.message = message;
    let warning = settle(rt, settings, &row, &outcome, Some(started)).err().map(journal_problem);
    Ok(MailStep::Done(MailResult { accepted: outcome.accepted(), warning }))
}

/// Completes the journal row of a letter PHP's `mail()` took: `accepted`
/// is what it returned, `None` when it never returned (a fatal error).
pub fn handed_to_mail(rt: &mut Runtime, handed: PendingMail, accepted: Option<bool>) -> MailResult {
    let id = match handed.journal_id {
        Ok(id) => id,
        Err(problem) => return MailResult { accepted: accepted.unwrap_or(false), warning: Some(problem) },
    };
    let (status, reply) = match accepted {
        Some(accepted) => (handed.status, format!("{}; PHP mail() returned {accepted}", handed.why)),
        None => (Status::Interrupted, format!("{}; PHP mail() ended in a fatal error", handed.why)),
    };
    let duration = handed.started.elapsed().as_millis() as i64;
    let warning = rt.store.complete_journal(id, status, None, &reply, Some(duration)).err().map(journal_problem);
    MailResult { accepted: accepted.unwrap_or(false), warning }
}

fn journal_problem(e: rusqlite::Error) -> String {
    format!("cannot write the journal: {e}")
}

fn journal_entry(letter: &Letter, now: i64) -> JournalEntry {
    JournalEntry {
        time: now,
        mailing_id: letter.mailing.clone(),
        from: letter
            .from
            .as_ref()
            .map(|m| if m.name.is_empty() { m.address.clone() } else { format!("{} <{}>", m.name, m.address) })
            .unwrap_or_default(),
        recipients: letter.recipients.iter().map(Address::to_string).collect::<Vec<_>>().join(", "),
        subject: letter.subject.clone(),
        message_id: letter.message_id.clone(),
        ..Default::default()
    }
}

/// What the parser had to leave out of a letter, for its journal row.
fn letter_notes(letter: &Letter) -> Vec<String> {
    let mut notes = Vec::new();
    if !letter.invalid_recipients.is_empty() {
        notes.push(format!("not valid addresses, skipped: {}", letter.invalid_recipients.join(", ")));
    }
    if letter.dropped_header_lines > 0 {
        notes.push(format!("{} malformed header line(s) dropped", letter.dropped_header_lines));
    }
    notes
}

/// The bytes that go out, whichever account sends them: the From gets the
/// sender name of the account routing chose, as SPEC §4 says.
fn render(letter: &Letter, accounts: &[Account], sender: i64) -> Vec<u8> {
    let name = accounts.iter().find(|a| a.id == sender).map_or("", |a| a.name.as_str());
    letter.render(name, &clock::rfc5322(clock::now_unix()))
}

/// SPEC §4, §9: the letter signed once, as rendered, when its From domain
/// (or a parent domain) has an active DKIM key; the outbox keeps these bytes
/// and every retry sends them. A key that cannot sign leaves the letter
/// unsigned, with a note for the journal: a letter is never held back for it.
fn signed(rt: &mut Runtime, config: &crate::runtime::Config, letter: &Letter, message: Vec<u8>) -> (Vec<u8>, Option<String>) {
    let Some((_, domain)) = letter.from.as_ref().and_then(|from| from.address.rsplit_once('@')) else { return (message, None) };
    let active: Vec<&crate::store::dkim::DkimKey> = config.dkim.iter().filter(|k| k.active).collect();
    let Some(key) = crate::dkim::key_for(domain, &active, |k| k.domain.as_str()) else { return (message, None) };
    if rt.signers.0 != config.version {
        rt.signers = (config.version, Default::default());
    }
    if !rt.signers.1.contains_key(&key.id) {
        match load_signer(rt, key) {
            Ok(signer) => {
                rt.signers.1.insert(key.id, signer);
            }
            Err(why) => return (message, Some(format!("not DKIM-signed: {why}"))),
        }
    }
    match rt.signers.1.get_mut(&key.id).map(|signer| signer.sign(&message)) {
        Some(Ok(signed)) => (signed, None),
        Some(Err(why)) => (message, Some(format!("not DKIM-signed: {why}"))),
        None => (message, None),
    }
}

fn load_signer(rt: &mut Runtime, key: &crate::store::dkim::DkimKey) -> std::result::Result<crate::dkim::Signer, String> {
    let sealed = rt.store.dkim_private_key(key.id).map_err(|e| e.to_string())?.ok_or("the key was deleted")?;
    let pem = rt.cipher().map_err(|e| e.to_string())?.decrypt(&sealed)?;
    let parsed = crate::dkim::Key::from_pem(&pem).map_err(|e| e.to_string())?;
    Ok(parsed.signer(&key.domain, &key.selector))
}

fn outbox_row(letter: &Letter, sender: i64) -> OutboxLetter {
    let from = letter.from.clone().unwrap_or_default();
    OutboxLetter {
        from_name: from.name,
        from_email: from.address,
        mailing: letter.mailing.is_some(),
        envelope_from: letter.envelope_from.as_ref().map(Address::to_string),
        recipients: letter.recipients.iter().map(Address::to_string).collect(),
        subject: letter.subject.clone(),
        account_id: Some(sender),
        ..Default::default()
    }
}

/// How long a claim holds: long enough for every candidate's whole
/// conversation at the `timeout` setting, so only a dead sender's lapses.
fn lease(settings: &Settings, candidates: usize, recipients: usize, bytes: usize) -> i64 {
    let per_account = crate::smtp::conversation_time(settings.timeout(), recipients, bytes).as_secs() as i64;
    60 + per_account * candidates.max(1) as i64
}

/// What the decision needs of the accounts besides their fields.
struct AccountUsage {
    used: HashMap<i64, i64>,
    windows: HashMap<i64, (i64, i64)>,
    midnight: i64,
}

impl AccountUsage {
    fn load(rt: &Runtime, config: &crate::runtime::Config, now: i64) -> Result<AccountUsage> {
        let limited = config.accounts.iter().any(|a| a.daily_limit > 0);
        let windowed = config.accounts.iter().any(|a| a.hourly_limit > 0 || a.minute_limit > 0);
        Ok(AccountUsage {
            used: if limited { rt.store.used_today()? } else { HashMap::new() },
            windows: if windowed { rt.store.used_this_window(now)? } else { HashMap::new() },
            midnight: if limited { rt.store.next_local_midnight()? } else { i64::MAX },
        })
    }

    fn views<'a>(&self, config: &'a crate::runtime::Config) -> Vec<AccountView<'a>> {
        config
            .accounts
            .iter()
            .map(|a| {
                let used = self.used.get(&a.id).copied().unwrap_or(0);
                let window = self.windows.get(&a.id).copied().unwrap_or_default();
                view_of(a, used, window, config.health.get(&a.id).map_or(0, |h| h.backoff_until))
            })
            .collect()
    }
}

/// An account as the decision sees it: its limits beside what it used today, this hour
/// and this minute (`window`: minute, hour), and when its rest ends.
pub(crate) fn view_of(a: &Account, used_today: i64, window: (i64, i64), backoff_until: i64) -> AccountView<'_> {
    AccountView {
        routing: a.routing(),
        daily_limit: a.daily_limit,
        used_today,
        hourly_limit: a.hourly_limit,
        used_this_hour: window.1,
        minute_limit: a.minute_limit,
        used_this_minute: window.0,
        backoff_until,
    }
}

/// Prunes the journal (`journal_days`) at most every ten minutes per
/// process: cheap enough to ride along with letters, often enough that the
/// file never grows much past what the setting keeps.
fn prune_now_and_then(rt: &Runtime, settings: &Settings, now: i64) {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    if settings.journal_days == 0 || now - LAST.load(Ordering::Relaxed) < 600 {
        return;
    }
    LAST.store(now, Ordering::Relaxed);
    // a failed prune is retried next time; it must never stop a letter
    let _ = prune(rt, settings, now);
}

/// Removes journal rows older than `journal_days` (0 keeps them all); how many.
fn prune(rt: &Runtime, settings: &Settings, now: i64) -> rusqlite::Result<usize> {
    if settings.journal_days == 0 {
        return Ok(0);
    }
    rt.store.prune_journal(now - settings.journal_days * 86_400)
}

/// What `smtp34_maintain()` did.
pub struct Maintenance {
    pub flushed: FlushReport,
    pub pruned: usize,
    pub tokens_refreshed: usize,
    /// Alerts raised, and the letters (alerts by email, the weekly report) for the caller to send.
    pub raised: crate::alerts::Raised,
}

/// SPEC §6 `smtp34_maintain()`: the periodic work in one call, for the
/// Bitrix agent and cron. Tokens first, so the flush can use them.
pub fn maintain(rt: &mut Runtime) -> Result<Maintenance> {
    let tokens_refreshed = crate::oauth::tokens::refresh_idle(rt)?;
    let config = rt.config()?;
    let pruned = prune(rt, &config.settings, clock::now_unix())?;
    // a killed process's spool: its letters take their bytes back before the flush
    spool::collect_dead(&rt.store);
    let flushed = flush::flush_outbox(rt, 500, false)?;
    // after the flush: its failures count toward the alerts
    let raised = crate::alerts::run(rt, &config.settings)?;
    Ok(Maintenance { flushed, pruned, tokens_refreshed, raised })
}

/// `smtp34_journal_resend()`: a letter whose bytes the journal kept goes into
/// the outbox again, byte for byte, to the recipients it was kept for or only
/// to the addresses in `to`; the new journal row (`queued`) points at the old
/// one. Returns at once: the outbox delivers it (the sender thread in
/// background mode, else the next flush).
pub fn resend(rt: &mut Runtime, id: i64, to: &[u8]) -> Result<i64> {
    let kept = rt.store.kept_letter(id)?.ok_or_else(|| {
        Error::Storage(format!("journal row {id} has no kept letter to resend (keep_letters, or pruned after journal_days)"))
    })?;
    let recipients: Vec<String> = if to.iter().all(u8::is_ascii_whitespace) {
        kept.recipients.clone()
    } else {
        let list = crate::letter::addresses::parse(to, None);
        if !list.rejected.is_empty() || list.mailboxes.is_empty() {
            let why = if list.rejected.is_empty() { "no address".to_owned() } else { list.rejected.join(", ") };
            return Err(crate::config::fields::FieldError::new("to", format!("must be a list of email addresses ({why})")).into());
        }
        list.mailboxes.into_iter().map(|m| m.address).collect()
    };
    let message = rt.cipher()?.decrypt_bytes(&kept.sealed).map_err(Error::Storage)?;
    let settings = rt.config()?.settings.clone();
    let now = clock::now_unix();
    let from = if kept.from_name.is_empty() { kept.from_email.clone() } else { format!("{} <{}>", kept.from_name, kept.from_email) };
    let original = rt.store.journal_page(1, id + 1, &crate::store::journal::JournalFilter::default())?.into_iter().find(|r| r.id == id);
    let entry = JournalEntry {
        time: now,
        account_id: None,
        mailing_id: original.as_ref().and_then(|r| r.mailing_id.clone()),
        from,
        recipients: recipients.join(", "),
        subject: kept.subject.clone(),
        message_id: original.map(|r| r.message_id).unwrap_or_default(),
        status: Status::Queued,
        reply: format!("resent from journal row {id}"),
        resent_from: Some(id),
        ..Default::default()
    };
    let row = OutboxLetter {
        id: 0,
        journal_id: None,
        created_at: now,
        from_name: kept.from_name,
        from_email: kept.from_email,
        mailing: kept.mailing,
        envelope_from: kept.envelope_from,
        recipients,
        subject: kept.subject,
        size: message.len() as i64,
        message: Vec::new(),
        account_id: None,
        attempts: 0,
        next_try_at: now,
        last_try_at: None,
        last_error: String::new(),
        claimed: false,
    };
    let (journal_id, _) =
        rt.store.begin_letter(&NewLetter { entry: &entry, row: &row, message: &message, spooled: None, claim: None, now })?;
    if settings.delivery == DeliveryMode::Background {
        background::wake(&rt.paths, settings.timeout());
    }
    Ok(journal_id)
}

/// Resolution used by `smtp34_resolve()`: the account custom_mail would use.
pub fn resolve(rt: &Runtime, from: &[u8], mailing: bool) -> Result<Option<i64>> {
    let Some(from) = crate::letter::addresses::parse(from, None).mailboxes.into_iter().next() else { return Ok(None) };
    let accounts = rt.store.accounts()?;
    let candidates: Vec<crate::route::Candidate> = accounts.iter().map(Account::routing).collect();
    Ok(crate::route::choose(&candidates, &from.name, &from.address, mailing))
}

/// What a stored account authenticates with: its decrypted password
/// (`login`), or an access token fresh for at least 5 minutes (`xoauth2`).
fn stored_password(rt: &mut Runtime, id: i64, server: &Endpoint) -> Result<Option<String>> {
    match server.auth {
        AuthKind::None => Ok(None),
        AuthKind::Xoauth2 => crate::oauth::tokens::access_token(rt, id).map(Some),
        AuthKind::Login => {
            let Some(sealed) = rt.store.sealed_password(id)? else { return Ok(None) };
            rt.cipher()?.decrypt(&sealed).map(Some).map_err(Error::Storage)
        }
    }
}
