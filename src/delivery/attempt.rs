//! One letter's attempts: each account in order, over a kept connection
//! or a new one, each conversation's transcript logged.

use super::*;

/// A letter on its way: the bytes, who it is from on the envelope.
pub(super) struct Outgoing<'a> {
    pub message: &'a [u8],
    pub envelope_from: Option<Address>,
    pub message_id: &'a str,
}

/// Tries the accounts in order until no recipient is pending, the letter is
/// refused for good, or the accounts run out. Every attempt updates the
/// account's health and today's count, and goes to its transcript log.
pub(super) fn try_accounts(rt: &mut Runtime, settings: &Settings, accounts: &[Account], shipment: &mut Outgoing, outcome: &mut Outcome) {
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
        match rt.store.reserve(account.id, count, account.limits(), now) {
            Ok(true) => {}
            Ok(false) => {
                // another worker took the last places since the decision: say which, and until when
                let used = rt.store.used_today().ok().and_then(|used| used.get(&account.id).copied()).unwrap_or(0);
                let (minute, hour) = rt.store.used_this_window(now).ok().and_then(|w| w.get(&account.id).copied()).unwrap_or_default();
                let midnight = rt.store.next_local_midnight().unwrap_or(now + retry_delay(1));
                let view = view_of(account, used, (minute, hour), 0);
                let (why, until) = view
                    .over_limit(count, now, midnight)
                    .unwrap_or_else(|| (format!("account {} reached a limit", account.id), now + retry_delay(1)));
                outcome.notes.push(why);
                outcome.not_before = Some(outcome.not_before.map_or(until, |t| t.min(until)));
                continue;
            }
            Err(e) => {
                outcome.notes.push(format!("account {}: cannot count today's letters: {e}", account.id));
                continue;
            }
        }
        let (result, log_problem) = attempt(rt, settings, account, shipment, &recipients);
        outcome.notes.extend(log_problem);
        record(rt, account, outcome, result, count, now);
    }
}

/// What an attempt adds to the account's count of today's recipients: it
/// `sent` to some of the `reserved` places. A limited account reserved them
/// all and gives back those not used; an unlimited one only counts what it sent.
pub(super) fn counted_today(account: &Account, sent: i64, reserved: i64) -> i64 {
    if account.daily_limit > 0 {
        sent - reserved
    } else {
        sent
    }
}

/// What one account did with the letter's pending recipients (`count` of
/// them were reserved against its daily limit), into the letter's outcome
/// and the account's health.
pub(super) fn record(
    rt: &Runtime,
    account: &Account,
    outcome: &mut Outcome,
    result: std::result::Result<crate::smtp::Verdict, SmtpError>,
    count: i64,
    now: i64,
) {
    let sent = result.as_ref().map_or(0, |d| d.accepted.len() as i64);
    outcome.counted.push((account.id, counted_today(account, sent, count)));
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

/// One conversation with one account's server, and its transcript logged.
/// A log that cannot be written comes back beside the result: the letter's
/// fate does not depend on it, the journal only says so.
pub(super) fn attempt(
    rt: &mut Runtime,
    settings: &Settings,
    account: &Account,
    shipment: &Outgoing,
    recipients: &[Address],
) -> (std::result::Result<crate::smtp::Verdict, SmtpError>, Option<String>) {
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

pub(super) fn converse(
    rt: &mut Runtime,
    settings: &Settings,
    account: &Account,
    shipment: &Outgoing,
    recipients: &[Address],
) -> std::result::Result<crate::smtp::Verdict, SmtpError> {
    let envelope_from = match &shipment.envelope_from {
        Some(address) => address.clone(),
        None => account.email.parse().map_err(|_| SmtpError::account_setup(format!("account email '{}' is not valid", account.email)))?,
    };
    let deadline = Instant::now() + crate::smtp::conversation_time(settings.timeout(), recipients.len(), shipment.message.len());
    let max_letters = settings.letters_per_connection.max(1) as u32;
    if let Some((mut session, letters)) = kept_session(rt, settings, account) {
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

/// The account's kept connection when it may still be used: same account
/// revision, idle less than `keepalive_seconds`, letters to spare, and
/// opened under the `timeout` setting in force (else it is closed).
pub(super) fn kept_session(rt: &mut Runtime, settings: &Settings, account: &Account) -> Option<(Session, u32)> {
    let keepalive = std::time::Duration::from_secs(settings.keepalive_seconds.max(0) as u64);
    let max_letters = settings.letters_per_connection.max(1) as u32;
    match rt.pool.take(account.id, account.revision, keepalive, max_letters) {
        Some((session, _)) if session.timeout() != settings.timeout() => {
            session.quit_without_waiting();
            None
        }
        kept => kept,
    }
}

/// After a letter: the connection is kept for the next one when it is
/// healthy (a refused letter leaves it so) and has letters to spare;
/// otherwise it says QUIT.
pub(super) fn keep_or_close(
    rt: &mut Runtime,
    account: &Account,
    session: Session,
    letters: u32,
    max_letters: u32,
    result: &std::result::Result<crate::smtp::Verdict, SmtpError>,
) {
    match result {
        Ok(_) if letters < max_letters => rt.pool.put(account.id, account.revision, session, letters),
        Err(e) if e.concern == crate::smtp::Concern::Letter && letters < max_letters => {
            rt.pool.put(account.id, account.revision, session, letters)
        }
        // silent or gone: waiting for its answer to QUIT would cost another timeout
        Err(e) if e.code.is_none() => session.quit_without_waiting(),
        _ => session.quit(),
    }
}

/// Appends a transcript to its log when logs are on. A log that cannot be
/// written is reported to the caller (for the journal) and nothing else:
/// the letter's fate does not depend on it.
pub(super) fn write_log(
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
