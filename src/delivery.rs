//! The one path a letter takes: arguments → parsed letter → decision
//! (candidate accounts) → SMTP sessions → journal and outbox. Also the
//! outbox flush, which sends waiting letters the same way, and the account
//! check. No PHP here: when PHP's own `mail()` must take a letter, the caller
//! gets a [`MailStep::HandToMail`] and reports back through [`handed_to_mail`],
//! so no call into PHP ever happens inside this module.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Instant;

use lettre::Address;

use crate::clock;
use crate::config::account::{Account, AccountDraft};
use crate::config::settings::{Fallback, Settings};
use crate::crypto::random_hex;
use crate::error::{Error, Result};
use crate::letter::headers::Mailbox;
use crate::letter::{Letter, MailArgs};
use crate::logs;
use crate::route::decision::{self, AccountView, Decision, Handover, LetterFacts};
use crate::route::outcome::{Delivery, Outcome, Status};
use crate::runtime::Runtime;
use crate::smtp::{AuthKind, Endpoint};
use crate::smtp::{Session, SmtpError, Transcript};
use crate::store::outbox::{retry_delay, Claim, OutboxLetter, Retry};
use crate::store::JournalEntry;

/// The outcome of one `custom_mail()` call.
pub struct MailResult {
    pub accepted: bool,
    /// Set when the journal itself could not be written (the caller warns).
    pub journal_error: Option<String>,
}

/// Where a `custom_mail()` call stands after the decision.
pub enum MailStep {
    Done(MailResult),
    /// PHP's own `mail()` must get the letter, unchanged; then [`handed_to_mail`].
    HandToMail(HandedOver),
}

/// A letter handed to PHP's `mail()`: its journal row is already written.
pub struct HandedOver {
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
    let now = clock::now_unix();
    let letter = Letter::parse(args, &random_hex(16));
    let config = rt.config()?;
    let (settings, accounts) = (&config.settings, &config.accounts);
    let views = AccountViews::load(rt, &config)?;
    prune_now_and_then(rt, settings, now);
    let facts = LetterFacts { from: letter.from.as_ref(), mailing: letter.mailing.is_some(), recipients: letter.recipients.len() };
    let decision =
        decision::decide(settings.enabled, settings.fallback == Fallback::Mail, facts, &views.views(&config), now, views.midnight);

    let mut entry = journal_entry(&letter, now);
    let mut notes = letter_notes(&letter);
    let refuse = |rt: &mut Runtime, entry: &mut JournalEntry, status: Status, why: String, notes: Vec<String>| {
        entry.status = status;
        entry.reply = std::iter::once(why).chain(notes).collect::<Vec<_>>().join("; ");
        entry.duration_ms = started.elapsed().as_millis() as i64;
        let journal_error = rt.store.append_journal(entry).err().map(journal_problem);
        MailStep::Done(MailResult { accepted: false, journal_error })
    };
    match decision {
        Decision::HandToMail { handover, why } => {
            let status = match handover {
                Handover::Disabled => Status::Disabled,
                Handover::Fallback => Status::Fallback,
            };
            entry.status = status;
            entry.reply = format!("{why}; handed to PHP mail(), which has not answered");
            let journal_id = rt.store.append_journal(&entry).map_err(journal_problem);
            Ok(MailStep::HandToMail(HandedOver { journal_id, status, why, started }))
        }
        Decision::Refuse { why } => Ok(refuse(rt, &mut entry, Status::Refused, why, notes)),
        Decision::Reject { why } => Ok(refuse(rt, &mut entry, Status::Failed, why, notes)),
        Decision::Wait { sender, until, why } => {
            let message = render(&letter, accounts, sender);
            entry.status = Status::Queued;
            entry.account_id = Some(sender);
            notes.insert(0, format!("waiting in the outbox: {why}"));
            entry.reply = notes.join("; ");
            let row = OutboxLetter { next_try_at: until, last_error: why, ..outbox_row(&letter, sender) };
            rt.store.begin_letter(&entry, &row, &message, None, now).map_err(|e| Error::Storage(journal_problem(e)))?;
            Ok(MailStep::Done(MailResult { accepted: true, journal_error: None }))
        }
        Decision::Send { sender, candidates, skipped } => {
            let message = render(&letter, accounts, sender);
            entry.status = Status::Sending;
            entry.account_id = Some(sender);
            entry.reply = "sending".into();
            let mut row = outbox_row(&letter, sender);
            let claim = Claim {
                token: format!("mail-{}-{}", std::process::id(), random_hex(4)),
                until: now + lease(settings, candidates.len(), row.recipients.len(), message.len()),
            };
            let (journal_id, outbox_id) =
                rt.store.begin_letter(&entry, &row, &message, Some(&claim), now).map_err(|e| Error::Storage(journal_problem(e)))?;
            row.id = outbox_id;
            row.journal_id = Some(journal_id);
            row.created_at = now;
            let chosen: Vec<Account> = candidates.iter().filter_map(|id| accounts.iter().find(|a| a.id == *id).cloned()).collect();
            let mut outcome = Outcome::pending(row.recipients.clone());
            outcome.notes.extend(skipped);
            outcome.notes.extend(notes);
            let mut shipment = Shipment { message: &message, envelope_from: letter.envelope_from.clone(), message_id: &letter.message_id };
            try_accounts(rt, settings, &chosen, &mut shipment, &mut outcome);
            let journal_error = settle(rt, settings, &row, &outcome, Some(started)).err().map(journal_problem);
            Ok(MailStep::Done(MailResult { accepted: outcome.accepted(), journal_error }))
        }
    }
}

/// Completes the journal row of a letter PHP's `mail()` took: `accepted`
/// is what it returned, `None` when it never returned (a fatal error).
pub fn handed_to_mail(rt: &mut Runtime, handed: HandedOver, accepted: Option<bool>) -> MailResult {
    let id = match handed.journal_id {
        Ok(id) => id,
        Err(problem) => return MailResult { accepted: accepted.unwrap_or(false), journal_error: Some(problem) },
    };
    let (status, reply) = match accepted {
        Some(accepted) => (handed.status, format!("{}; PHP mail() returned {accepted}", handed.why)),
        None => (Status::Interrupted, format!("{}; PHP mail() ended in a fatal error", handed.why)),
    };
    let duration = handed.started.elapsed().as_millis() as i64;
    let journal_error = rt.store.complete_journal(id, status, None, &reply, Some(duration)).err().map(journal_problem);
    MailResult { accepted: accepted.unwrap_or(false), journal_error }
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
struct AccountViews {
    used: HashMap<i64, i64>,
    midnight: i64,
}

impl AccountViews {
    fn load(rt: &Runtime, config: &crate::runtime::Config) -> Result<AccountViews> {
        let limited = config.accounts.iter().any(|a| a.daily_limit > 0);
        Ok(AccountViews {
            used: if limited { rt.store.used_today()? } else { HashMap::new() },
            midnight: if limited { rt.store.next_local_midnight()? } else { i64::MAX },
        })
    }

    fn views<'a>(&self, config: &'a crate::runtime::Config) -> Vec<AccountView<'a>> {
        config
            .accounts
            .iter()
            .map(|a| AccountView {
                routing: a.routing(),
                daily_limit: a.daily_limit,
                used_today: self.used.get(&a.id).copied().unwrap_or(0),
                backoff_until: config.health.get(&a.id).map_or(0, |h| h.backoff_until),
            })
            .collect()
    }
}

/// A letter on its way: the bytes, who it is from on the envelope.
struct Shipment<'a> {
    message: &'a [u8],
    envelope_from: Option<Address>,
    message_id: &'a str,
}

/// Tries the accounts in order until no recipient is pending, the letter is
/// refused for good, or the accounts run out. Every attempt updates the
/// account's health and today's count, and goes to its transcript log.
fn try_accounts(rt: &mut Runtime, settings: &Settings, accounts: &[Account], shipment: &mut Shipment, outcome: &mut Outcome) {
    if accounts.is_empty() {
        return;
    }
    for account in accounts {
        if outcome.pending.is_empty() || outcome.refusal.is_some() {
            break;
        }
        let now = clock::now_unix();
        let recipients: Vec<Address> = outcome.pending.iter().filter_map(|r| Address::from_str(r).ok()).collect();
        let count = recipients.len() as i64;
        match rt.store.reserve_today(account.id, count, account.daily_limit) {
            Ok(true) => {}
            Ok(false) => {
                // another worker took the last places since the decision
                let used = rt.store.used_today().ok().and_then(|used| used.get(&account.id).copied()).unwrap_or(0);
                outcome
                    .notes
                    .push(format!("account {} reached its daily limit ({used} of {} recipients today)", account.id, account.daily_limit));
                let midnight = rt.store.next_local_midnight().unwrap_or(now + retry_delay(1));
                outcome.not_before = Some(outcome.not_before.map_or(midnight, |t| t.min(midnight)));
                continue;
            }
            Err(e) => {
                outcome.notes.push(format!("account {}: cannot count today's letters: {e}", account.id));
                continue;
            }
        }
        let (result, log_problem) = attempt(rt, settings, account, shipment, &recipients);
        outcome.notes.extend(log_problem);
        let sent = result.as_ref().map_or(0, |d| d.accepted.len() as i64);
        // a limited account reserved `count`; an unlimited one only counts what it sent
        let adjust = if account.daily_limit > 0 { sent - count } else { sent };
        outcome.counted.push((account.id, adjust));
        match result {
            Ok(delivered) => {
                if let Some(reply) = delivered.reply {
                    outcome.deliveries.push(Delivery {
                        account_id: account.id,
                        recipients: delivered.accepted.iter().map(Address::to_string).collect(),
                        reply,
                    });
                }
                outcome.refused.extend(delivered.refused.into_iter().map(|(a, why)| (a.to_string(), why)));
                outcome.deferred = delivered.deferred.iter().map(|(a, why)| (a.to_string(), why.clone())).collect();
                outcome.pending = delivered.deferred.into_iter().map(|(a, _)| a.to_string()).collect();
            }
            Err(error) if error.is_final() => {
                let pending = std::mem::take(&mut outcome.pending);
                outcome.refused.extend(pending.into_iter().map(|r| (r, error.message.clone())));
                outcome.refusal = Some(error);
            }
            Err(error) => {
                if error.rests_account() {
                    let _ = rt.store.record_failure(account.id, &error.message, now);
                }
                outcome.failures.push((account.id, error));
            }
        }
    }
}

/// One conversation with one account's server, and its transcript logged.
/// A log that cannot be written comes back beside the result: the letter's
/// fate does not depend on it, the journal only says so.
fn attempt(
    rt: &mut Runtime,
    settings: &Settings,
    account: &Account,
    shipment: &Shipment,
    recipients: &[Address],
) -> (std::result::Result<crate::smtp::Delivered, SmtpError>, Option<String>) {
    let started = Instant::now();
    let level = settings.log_enabled.then_some(settings.log_level);
    let (result, transcript) = crate::smtp::transcript::collect(level, || converse(rt, settings, account, shipment, recipients));
    let summary = match &result {
        Ok(d) if d.reply.is_some() => format!("sent ({})", d.reply.as_deref().unwrap_or_default()),
        Ok(_) => "no recipient accepted".to_owned(),
        Err(e) => format!("failed ({})", e.message),
    };
    let to = recipients.iter().map(Address::to_string).collect::<Vec<_>>().join(", ");
    let title = format!("send {} to {to}: {summary} in {} ms", shipment.message_id, started.elapsed().as_millis());
    let target = logs::Target { kind: logs::Kind::Send, account_id: account.id, revision: account.revision };
    (result, write_log(rt, settings, target, &title, &transcript).err())
}

fn converse(
    rt: &mut Runtime,
    settings: &Settings,
    account: &Account,
    shipment: &Shipment,
    recipients: &[Address],
) -> std::result::Result<crate::smtp::Delivered, SmtpError> {
    let envelope_from = match &shipment.envelope_from {
        Some(address) => address.clone(),
        None => account.email.parse().map_err(|_| SmtpError::account_setup(format!("account email '{}' is not valid", account.email)))?,
    };
    let deadline = Instant::now() + crate::smtp::conversation_time(settings.timeout(), recipients.len(), shipment.message.len());
    let keepalive = std::time::Duration::from_secs(settings.keepalive_seconds.max(0) as u64);
    let max_letters = settings.letters_per_connection.max(1) as u32;

    let kept = rt.pool.take(account.id, account.revision, keepalive, max_letters);
    // a connection opened under another `timeout` setting is replaced, not reused
    let kept = match kept {
        Some((session, _)) if session.timeout() != settings.timeout() => {
            session.quit_without_waiting();
            None
        }
        kept => kept,
    };
    if let Some((mut session, letters)) = kept {
        session.set_deadline(Some(deadline));
        let result = session.send(&envelope_from, recipients, shipment.message, true);
        // Found dead before MAIL FROM was accepted (write failed, EOF, 421):
        // the server has nothing of this letter, so a new connection sends it.
        let dead = matches!(&result, Err(e) if !session.mail_accepted && e.is_connection_lost());
        if !dead {
            keep_or_close(rt, account, session, letters + 1, max_letters, &result);
            return result;
        }
        crate::smtp::transcript::note(&format!(
            "the kept connection was closed by the server ({}); opening a new one",
            result.as_ref().err().map(|e| e.message.as_str()).unwrap_or_default()
        ));
    }
    let password = stored_password(rt, account.id, &account.server).map_err(|e| SmtpError::account_setup(e.to_string()))?;
    let mut session = Session::open(&account.server, password.as_deref(), settings.timeout(), Some(deadline))?;
    let result = session.send(&envelope_from, recipients, shipment.message, false);
    keep_or_close(rt, account, session, 1, if settings.keepalive_seconds > 0 { max_letters } else { 0 }, &result);
    result
}

/// After a letter: the connection is kept for the next one when it is
/// healthy (a refused letter leaves it so) and has letters to spare;
/// otherwise it says QUIT.
fn keep_or_close(
    rt: &mut Runtime,
    account: &Account,
    session: Session,
    letters: u32,
    max_letters: u32,
    result: &std::result::Result<crate::smtp::Delivered, SmtpError>,
) {
    let healthy = match result {
        Ok(_) => true,
        Err(e) => e.concern == crate::smtp::Concern::Letter,
    };
    if healthy && letters < max_letters {
        rt.pool.put(account.id, account.revision, session, letters);
    } else {
        session.quit();
    }
}

/// Records where a letter stands after its attempts: the outbox row goes
/// (delivered, refused, given up) or waits for its next try, and the
/// journal row says so. `sent_at` is set for a `custom_mail()` call (its
/// row is completed with its duration); a flush only updates the row.
fn settle(
    rt: &mut Runtime,
    settings: &Settings,
    row: &OutboxLetter,
    outcome: &Outcome,
    sent_at: Option<Instant>,
) -> rusqlite::Result<Settled> {
    // one transaction for all a letter's bookkeeping: one commit a letter, not five
    let tx = rusqlite::Transaction::new_unchecked(&rt.store.conn, rusqlite::TransactionBehavior::Immediate)?;
    let settled = settle_in(rt, settings, row, outcome, sent_at)?;
    tx.commit()?;
    Ok(settled)
}

fn settle_in(
    rt: &Runtime,
    settings: &Settings,
    row: &OutboxLetter,
    outcome: &Outcome,
    sent_at: Option<Instant>,
) -> rusqlite::Result<Settled> {
    let now = clock::now_unix();
    for (account_id, count) in &outcome.counted {
        rt.store.add_today(*account_id, *count)?;
    }
    for delivery in &outcome.deliveries {
        rt.store.record_success(delivery.account_id, now)?;
    }
    let expired = now - row.created_at >= settings.outbox_max_hours * 3600;
    let settled = if outcome.pending.is_empty() {
        rt.store.remove_from_outbox(row.id)?;
        if outcome.deliveries.is_empty() {
            Settled::Failed
        } else {
            Settled::Sent
        }
    } else if expired && sent_at.is_none() {
        rt.store.remove_from_outbox(row.id)?;
        Settled::GivenUp
    } else {
        let attempts = row.attempts + 1;
        let error = outcome.last_error();
        let retry = Retry {
            recipients: &outcome.pending,
            account_id: outcome.account_id(),
            error: &error,
            attempts,
            next_try_at: outcome.next_try(attempts, now),
        };
        rt.store.retry_later(row.id, &retry, now)?;
        Settled::Waiting
    };
    let Some(journal_id) = row.journal_id else { return Ok(settled) };
    let reply = outcome.reply();
    if let Some(started) = sent_at {
        rt.store.complete_journal(
            journal_id,
            outcome.status(),
            outcome.account_id(),
            &reply,
            Some(started.elapsed().as_millis() as i64),
        )?;
        return Ok(settled);
    }
    // A flush: the row was `queued` (or `interrupted`) when the whole letter
    // waited, and is completed; a letter that was partly sent keeps `sent`
    // and is told what became of the rest.
    let whole_letter_waited = rt.store.journal_status(journal_id)?.is_some_and(|s| s != Status::Sent);
    let (status, text) = match settled {
        Settled::GivenUp if outcome.deliveries.is_empty() => {
            (Status::Failed, format!("given up after {} h in the outbox: {}", settings.outbox_max_hours, outcome.last_error()))
        }
        Settled::GivenUp => (Status::Sent, format!("from the outbox: {reply}; the rest given up after {} h", settings.outbox_max_hours)),
        Settled::Waiting => (outcome.status(), format!("attempt {} from the outbox: {reply}", row.attempts + 1)),
        Settled::Sent | Settled::Failed => (outcome.status(), format!("from the outbox: {reply}")),
    };
    if whole_letter_waited {
        rt.store.complete_journal(journal_id, status, outcome.account_id(), &text, None)?;
    } else if settled != Settled::Waiting {
        rt.store.add_journal_note(journal_id, &text)?;
    }
    Ok(settled)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Sent,
    Failed,
    GivenUp,
    Waiting,
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
    let _ = rt.store.prune_journal(now - settings.journal_days * 86_400);
}

/// `smtp34_outbox_flush()`'s answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub sent: i64,
    pub failed: i64,
    pub left: i64,
}

/// Tries up to `limit` waiting letters: the due ones, or with `now` every
/// one. Accounts that fail during this flush are not tried again in it, so
/// a hanging server costs one timeout per flush, not one per letter.
pub fn flush(rt: &mut Runtime, limit: i64, now_flag: bool) -> Result<FlushReport> {
    let config = rt.config()?;
    let (settings, accounts) = (&config.settings, &config.accounts);
    if settings.journal_days > 0 {
        rt.store.prune_journal(clock::now_unix() - settings.journal_days * 86_400)?;
    }
    let views = AccountViews::load(rt, &config)?;
    let token = format!("flush-{}-{}", std::process::id(), random_hex(4));
    let mut report = FlushReport::default();
    let mut failed_here: Vec<i64> = Vec::new();
    let mut after_id = 0;
    for _ in 0..limit.max(0) {
        let now = clock::now_unix();
        // the letter is not read yet: the claim allows for a large one (20 MB), it lapses only if the flusher dies
        let claim = Claim { token: token.clone(), until: now + lease(settings, accounts.len().min(3), 10, 20 << 20) };
        let Some(row) = rt.store.claim_next(&claim, now, !now_flag, after_id)? else { break };
        after_id = row.id;
        let from = Mailbox { name: row.from_name.clone(), address: row.from_email.clone() };
        let usable =
            decision::retry_candidates(&from, row.mailing, row.recipients.len(), &views.views(&config), now, views.midnight, &failed_here);
        let chosen: Vec<Account> = usable.candidates.iter().filter_map(|id| accounts.iter().find(|a| a.id == *id).cloned()).collect();
        let mut outcome = Outcome::pending(row.recipients.clone());
        let envelope_from = row.envelope_from.as_deref().and_then(|a| Address::from_str(a).ok());
        let message_id = format!("(outbox #{})", row.id);
        let mut shipment = Shipment { message: &row.message, envelope_from, message_id: &message_id };
        if chosen.is_empty() {
            // nobody can even be tried: wait for the account that can be tried first
            outcome.notes.extend(usable.skipped);
            outcome.not_before = Some(usable.until);
        }
        try_accounts(rt, settings, &chosen, &mut shipment, &mut outcome);
        failed_here.extend(outcome.failures.iter().map(|(id, _)| *id));
        match settle(rt, settings, &row, &outcome, None)? {
            Settled::Sent => report.sent += 1,
            Settled::Failed | Settled::GivenUp => report.failed += 1,
            Settled::Waiting => {}
        }
    }
    report.left = rt.store.outbox_size()?;
    Ok(report)
}

/// Appends a transcript to its log when logs are on. A log that cannot be
/// written is reported to the caller (for the journal) and nothing else:
/// the letter's fate does not depend on it.
fn write_log(
    rt: &Runtime,
    settings: &Settings,
    target: logs::Target,
    title: &str,
    transcript: &Transcript,
) -> std::result::Result<(), String> {
    if !settings.log_enabled {
        return Ok(());
    }
    let now = clock::now_unix();
    let mut entry = format!("==== {} {title}\n", clock::iso(now)).into_bytes();
    entry.extend_from_slice(&transcript.render(settings.log_level));
    logs::append(&rt.paths.log_dir, target, logs::Policy::from_settings(settings), &entry, now)
}

/// `smtp34_outbox_delete()`: an admin drops a waiting letter; its journal
/// row says so (and becomes `failed` unless part of the letter went out).
pub fn drop_from_outbox(rt: &mut Runtime, id: i64) -> Result<bool> {
    let Some(letter) = rt.store.outbox(clock::now_unix())?.into_iter().find(|l| l.id == id) else { return Ok(false) };
    if !rt.store.remove_from_outbox(id)? {
        return Ok(false);
    }
    if let Some(journal_id) = letter.journal_id {
        let note = format!("deleted from the outbox by an admin, not sent to {}", letter.recipients.join(", "));
        if rt.store.journal_status(journal_id)? == Some(Status::Sent) {
            rt.store.add_journal_note(journal_id, &note)?;
        } else {
            rt.store.complete_journal(journal_id, Status::Failed, None, &format!("{note}; last error: {}", letter.last_error), None)?;
        }
    }
    Ok(true)
}

/// The decrypted password of a stored account that authenticates.
fn stored_password(rt: &mut Runtime, id: i64, server: &Endpoint) -> Result<Option<String>> {
    if server.auth != AuthKind::Login {
        return Ok(None);
    }
    let Some(sealed) = rt.store.sealed_password(id)? else { return Ok(None) };
    rt.cipher()?.decrypt(&sealed).map(Some).map_err(Error::Storage)
}

/// `smtp34_account_check()`'s answer.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub ok: bool,
    pub message: String,
    pub transcript: Vec<u8>,
}

/// Connects, secures, authorizes and (with `check_sends_test`) sends a test
/// letter, all within the `timeout` setting. The transcript also goes to
/// `check_<id>.log` of `log_as` (account 0: an account not saved yet).
pub fn check(rt: &mut Runtime, draft: &AccountDraft, log_as: logs::Target) -> Result<CheckOutcome> {
    let settings = rt.store.settings()?;
    let password = match (&draft.password, draft.id) {
        (Some(password), _) => Some(password.clone()),
        (None, Some(id)) => stored_password(rt, id, &draft.server)?,
        (None, None) => None,
    };
    // a check returns its transcript whether logs are kept or not
    let deadline = Instant::now() + settings.timeout();
    let (result, mut transcript) =
        crate::smtp::transcript::collect(Some(settings.log_level), || run_check(&settings, draft, password.as_deref(), deadline));
    let message = match &result {
        Ok(summary) => summary.clone(),
        Err(e) => e.message.clone(),
    };
    transcript.note(format!("Result: {}", if result.is_ok() { "OK" } else { "FAILED" }));
    let title = format!("check of {} on {}:{}: {message}", draft.email, draft.server.host, draft.server.port);
    let mut rendered = transcript.render(settings.log_level);
    if let Err(problem) = write_log(rt, &settings, log_as, &title, &transcript) {
        rendered.extend_from_slice(format!("({problem})\n").as_bytes());
    }
    Ok(CheckOutcome { ok: result.is_ok(), message, transcript: rendered })
}

fn run_check(
    settings: &Settings,
    draft: &AccountDraft,
    password: Option<&str>,
    deadline: Instant,
) -> std::result::Result<String, SmtpError> {
    let server = &draft.server;
    let mut session = Session::open(server, password, settings.timeout(), Some(deadline))?;
    let result = check_session(settings, draft, server, &mut session);
    session.quit();
    result
}

fn check_session(
    settings: &Settings,
    draft: &AccountDraft,
    server: &Endpoint,
    session: &mut Session,
) -> std::result::Result<String, SmtpError> {
    let mut summary = format!("connected to {}:{} ({})", server.host, server.port, server.security.as_str());
    if server.auth == AuthKind::Login {
        summary.push_str(&format!(", authorized as {}", server.login));
    }
    if settings.check_sends_test {
        let to = if settings.test_recipient.is_empty() { &draft.email } else { &settings.test_recipient };
        let (from, recipient) = match (draft.email.parse::<Address>(), to.parse::<Address>()) {
            (Ok(f), Ok(t)) => (f, t),
            _ => return Err(SmtpError::letter("the test letter has no valid addresses")),
        };
        let letter = test_letter(draft, to);
        let delivered = session.send(&from, &[recipient], &letter, false)?;
        let Some(reply) = delivered.reply else {
            let why = delivered.refused.iter().chain(&delivered.deferred).map(|(_, why)| why.as_str()).next().unwrap_or_default();
            return Err(SmtpError::letter(format!("the server refused the test recipient {to}: {why}")));
        };
        summary.push_str(&format!(", test letter sent to {to}: {reply}"));
    }
    Ok(summary)
}

fn test_letter(draft: &AccountDraft, to: &str) -> Vec<u8> {
    let from = crate::letter::format_mailbox(if draft.name.is_empty() { "smtp34" } else { &draft.name }, &draft.email);
    let headers =
        format!("From: {from}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit");
    let body = format!(
        "This is a test letter from smtp34, sent while checking the account {} on {}:{}.\n",
        draft.email, draft.server.host, draft.server.port
    );
    let args = MailArgs {
        to: to.as_bytes(),
        subject: b"smtp34: test letter",
        message: body.as_bytes(),
        headers: headers.as_bytes(),
        parameters: b"",
    };
    Letter::parse(&args, &random_hex(16)).render("", &clock::rfc5322(clock::now_unix()))
}

/// Resolution used by `smtp34_resolve()`: the account custom_mail would use.
pub fn resolve(rt: &Runtime, from: &[u8], mailing: bool) -> Result<Option<i64>> {
    let Some(from) = crate::letter::addresses::parse(from, None).mailboxes.into_iter().next() else { return Ok(None) };
    let accounts = rt.store.accounts()?;
    let candidates: Vec<crate::route::Candidate> = accounts.iter().map(Account::routing).collect();
    Ok(crate::route::choose(&candidates, &from.name, &from.address, mailing))
}
