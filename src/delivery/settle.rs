//! After the attempts: the outbox row, the account counts and health, and
//! the journal row, in one transaction, all read from the letter's outcome.

use super::*;

/// Records where a letter stands after its attempts: the outbox row goes
/// (delivered, refused, given up) or waits for its next try, and the
/// journal row says so. `sent_at` is set for a `custom_mail()` call (its
/// row is completed with its duration); a flush only updates the row.
pub(super) fn settle(
    rt: &mut Runtime,
    settings: &Settings,
    row: &OutboxLetter,
    outcome: &Outcome,
    sent_at: Option<Instant>,
) -> rusqlite::Result<Settlement> {
    open_cipher_to_keep(rt, settings);
    // one transaction for all a letter's bookkeeping: one commit a letter, not five
    let tx = rt.store.write_tx()?;
    let settled = settle_in(rt, settings, row, outcome, sent_at)?;
    tx.commit()?;
    Ok(settled)
}

pub(super) fn settle_in(
    rt: &Runtime,
    settings: &Settings,
    row: &OutboxLetter,
    outcome: &Outcome,
    sent_at: Option<Instant>,
) -> rusqlite::Result<Settlement> {
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
            Settlement::Failed
        } else {
            Settlement::Sent
        }
    } else if expired && sent_at.is_none() {
        rt.store.remove_from_outbox(row.id)?;
        Settlement::GivenUp
    } else {
        let attempts = row.attempts + 1;
        let error = outcome.last_error();
        let retry = Retry {
            recipients: &outcome.pending,
            message: &row.message,
            account_id: outcome.account_id(),
            error: &error,
            attempts,
            next_try_at: outcome.next_try(attempts, now),
        };
        rt.store.retry_later(row.id, &retry, now)?;
        Settlement::Waiting
    };
    let Some(journal_id) = row.journal_id else { return Ok(settled) };
    keep_letter(rt, settings, journal_id, row, settled, outcome, now)?;
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
    let before = rt.store.journal_status(journal_id)?;
    let whole_letter_waited = before.is_some_and(|s| s != Status::Sent);
    // an earlier attempt may have delivered it already (its data went out, no reply came; or its
    // sender died mid-conversation): if this one delivers it, the recipients may have it twice
    let maybe_twice =
        settled == Settlement::Sent && (row.last_error.contains(crate::smtp::FATE_UNKNOWN) || before == Some(Status::Interrupted));
    let (status, text) = match settled {
        Settlement::GivenUp if outcome.deliveries.is_empty() => {
            (Status::Failed, format!("given up after {} h in the outbox: {}", settings.outbox_max_hours, outcome.last_error()))
        }
        Settlement::GivenUp => (Status::Sent, format!("from the outbox: {reply}; the rest given up after {} h", settings.outbox_max_hours)),
        Settlement::Waiting => (outcome.status(), format!("attempt {} from the outbox: {reply}", row.attempts + 1)),
        // the first try of a letter queued for the sender thread reads as a page hit's would
        Settlement::Sent | Settlement::Failed if row.attempts == 0 => (outcome.status(), reply),
        Settlement::Sent | Settlement::Failed => (outcome.status(), format!("from the outbox: {reply}")),
    };
    let text = if maybe_twice { format!("{text}; {POSSIBLE_DUPLICATE}") } else { text };
    if whole_letter_waited {
        rt.store.complete_journal(journal_id, status, outcome.account_id(), &text, None)?;
    } else if settled != Settlement::Waiting {
        rt.store.add_journal_note(journal_id, &text)?;
    }
    Ok(settled)
}

/// What the journal row of a letter that may have arrived twice says (the journal's text filter finds them).
pub const POSSIBLE_DUPLICATE: &str = "possibly delivered twice: an earlier attempt's fate is unknown";

/// The key file is opened before a settling transaction when letters may be kept:
/// opening it may need to read the store, which the transaction holds.
pub(super) fn open_cipher_to_keep(rt: &mut Runtime, settings: &Settings) {
    if settings.keep_letters != KeepLetters::None {
        if let Err(e) = rt.cipher() {
            tracing::warn!("letters cannot be kept for resending: {e}");
        }
    }
}

/// Keeps the letter's bytes, sealed, beside its journal row when `keep_letters` asks
/// for this outcome (SPEC §5): for whom it did not reach, or for all when it went out.
fn keep_letter(
    rt: &Runtime,
    settings: &Settings,
    journal_id: i64,
    row: &OutboxLetter,
    settled: Settlement,
    outcome: &Outcome,
    now: i64,
) -> rusqlite::Result<()> {
    let recipients: Vec<String> = match (settings.keep_letters, settled) {
        (KeepLetters::None, _) | (_, Settlement::Waiting) | (KeepLetters::Failed, Settlement::Sent) => return Ok(()),
        (_, Settlement::Failed) => outcome.refused.iter().map(|(address, _)| address.clone()).collect(),
        (_, Settlement::GivenUp) => outcome.pending.clone(),
        (KeepLetters::All, Settlement::Sent) => row.recipients.clone(),
    };
    let recipients = if recipients.is_empty() { row.recipients.clone() } else { recipients };
    let Some(cipher) = rt.opened_cipher() else { return Ok(()) };
    rt.store.keep_letter(journal_id, row, &recipients, &cipher.encrypt_bytes(&row.message), now)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settlement {
    Sent,
    Failed,
    GivenUp,
    Waiting,
}
