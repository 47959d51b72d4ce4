//! The sender thread's passes over the outbox: the due letters whose first
//! candidate is the same account go over its connection one behind another
//! ([`Session::send_window`]: one round trip a letter with PIPELINING); a
//! letter the window does not finish (refused for now, a broken
//! connection, never its turn) goes on to its other candidates the
//! one-letter way; then each is settled as a flush settles it.

use super::attempt::{keep_or_close, kept_session, record};
use super::background;
use super::flush::{plan, shipment_of};
use super::settle::settle_in;
use super::*;
use crate::smtp::{Sent, WindowLetter};

/// Letters claimed, and sent over one connection, at a time.
const WINDOW: usize = 16;

/// Letters the thread settles in one transaction before it lets a page of
/// its process that waits for the lock go first. Measured in a tight loop
/// of 2,000 letters (p99 of `custom_mail()` / letters a second): giving way
/// after every letter, 0.64-0.74 ms / 1,300-1,970; after 4, 0.91-0.95 ms /
/// 2,400-2,600; after 8, 0.79-0.98 ms / 2,800-3,150; never, 1.6-2.1 ms / 2,760-3,160.
const SETTLED_BEFORE_GIVING_WAY: usize = 8;

/// One claimed letter: where it may go, and what came of it so far.
struct Planned {
    row: OutboxLetter,
    candidates: Vec<Account>,
    outcome: Outcome,
    /// The first candidate took it in the window (whatever the result).
    windowed: bool,
}

/// Up to `limit` due letters, a window at a time: first those handed to
/// this thread in memory (claimed for it when they were written), then
/// those it claims under `token`.
pub(super) fn flush_windows(rt: &mut Runtime, limit: i64, token: &str, handed: Option<&background::Shared>) -> Result<FlushReport> {
    let mut report = FlushReport::default();
    let mut failed_here: Vec<i64> = Vec::new();
    let mut after_id = 0;
    while report.tried < limit {
        let config = rt.config()?;
        let (settings, accounts) = (&config.settings, &config.accounts);
        let now = clock::now_unix();
        let views = AccountUsage::load(rt, &config, now)?;
        // a whole window may be ahead of the last letter: its claim allows for that
        let claim = Claim { token: token.to_owned(), until: now + lease(settings, accounts.len().min(3), 10 * WINDOW, 20 << 20) };
        let most = WINDOW.min((limit - report.tried).max(0) as usize);
        let mut plans: Vec<Planned> = Vec::new();
        let given = handed.map(|shared| background::take_handed(shared, most)).unwrap_or_default();
        let rows = if given.is_empty() {
            let claimed = rt.store.claim_due(&claim, now, after_id, most)?;
            after_id = claimed.last().map_or(after_id, |row| row.id);
            claimed
        } else {
            let ours = rt.store.confirm_handed(&given, token, claim.until)?;
            given.into_iter().filter(|row| ours.contains(&row.id)).collect()
        };
        if let Some(shared) = handed {
            background::let_page_in(shared);
        }
        for row in rows {
            let (candidates, outcome) = plan(&row, &config, &views, now, &failed_here);
            plans.push(Planned { row, candidates, outcome, windowed: false });
        }
        if plans.is_empty() && handed.is_some_and(background::has_handed) {
            continue;
        }
        if plans.is_empty() {
            break;
        }
        report.tried += plans.len() as i64;
        if let Some(account) = plans.iter().find_map(|p| p.candidates.first().cloned()) {
            send_together(rt, settings, &account, &mut plans);
            if plans.iter().any(|p| p.windowed && p.outcome.failures.iter().any(|(id, _)| *id == account.id)) {
                failed_here.push(account.id);
            }
        }
        for plan in &mut plans {
            let rest = if plan.windowed { &plan.candidates[1..] } else { &plan.candidates[..] };
            let (envelope_from, message_id) = shipment_of(&plan.row);
            let mut shipment = Outgoing { message: &plan.row.message, envelope_from, message_id: &message_id };
            let rest: Vec<Account> = rest.iter().filter(|a| !failed_here.contains(&a.id)).cloned().collect();
            try_accounts(rt, settings, &rest, &mut shipment, &mut plan.outcome);
            failed_here.extend(plan.outcome.failures.iter().map(|(id, _)| *id));
        }
        // the whole window's bookkeeping in one write transaction, after every word to a server;
        // cut after every SETTLED_BEFORE_GIVING_WAY letters when a page of this process waits
        super::settle::open_cipher_to_keep(rt, settings);
        let mut tx = rusqlite::Transaction::new_unchecked(&rt.store.conn, rusqlite::TransactionBehavior::Immediate)?;
        let mut settled_in_tx = 0;
        for plan in &plans {
            report.count(settle_in(rt, settings, &plan.row, &plan.outcome, None)?);
            settled_in_tx += 1;
            let waiting = handed.filter(|shared| settled_in_tx >= SETTLED_BEFORE_GIVING_WAY && background::page_waits(shared));
            if let Some(shared) = waiting {
                settled_in_tx = 0;
                tx.commit()?;
                background::let_page_in(shared);
                tx = rusqlite::Transaction::new_unchecked(&rt.store.conn, rusqlite::TransactionBehavior::Immediate)?;
            }
        }
        tx.commit()?;
        // the WAL copied back (and the letters' bytes scrubbed from it) once a second, even mid-burst
        rt.store.scrub_if_due();
    }
    report.left = rt.store.outbox_size()?;
    Ok(report)
}

/// The letters whose first candidate is `account`, within its daily limit,
/// as one window over its connection; each result goes into its outcome.
fn send_together(rt: &mut Runtime, settings: &Settings, account: &Account, plans: &mut [Planned]) {
    let now = clock::now_unix();
    let mut chosen: Vec<usize> = Vec::new();
    for (at, plan) in plans.iter().enumerate() {
        let first = plan.candidates.first().is_some_and(|a| a.id == account.id);
        if first && rt.store.reserve(account.id, plan.row.recipients.len() as i64, account.limits(), now).unwrap_or(false) {
            chosen.push(at);
        }
    }
    if chosen.is_empty() {
        return;
    }
    let Ok(own) = account.email.parse::<Address>() else { return };
    let froms: Vec<Address> = chosen.iter().map(|at| shipment_of(&plans[*at].row).0.unwrap_or_else(|| own.clone())).collect();
    let recipients: Vec<Vec<Address>> =
        chosen.iter().map(|at| plans[*at].row.recipients.iter().filter_map(|r| Address::from_str(r).ok()).collect()).collect();
    let letters: Vec<WindowLetter> = chosen
        .iter()
        .enumerate()
        .map(|(i, at)| WindowLetter { from: &froms[i], recipients: &recipients[i], message: &plans[*at].row.message })
        .collect();
    let (sent, log_problem) = attempt_window(rt, settings, account, &letters);
    for (i, (at, sent)) in chosen.iter().zip(sent).enumerate() {
        let plan = &mut plans[*at];
        plan.windowed = true;
        plan.outcome.notes.extend(log_problem.clone());
        record(rt, account, &mut plan.outcome, sent.result, recipients[i].len() as i64, now);
    }
}

/// One conversation carrying a window of letters, and its transcript logged.
fn attempt_window(rt: &mut Runtime, settings: &Settings, account: &Account, letters: &[WindowLetter]) -> (Vec<Sent>, Option<String>) {
    let started = Instant::now();
    let level = settings.log_enabled.then_some(settings.log_level);
    let (sent, transcript) = crate::smtp::transcript::collect(level, || converse_window(rt, settings, account, letters));
    let delivered = sent.iter().filter(|s| matches!(&s.result, Ok(v) if v.reply.is_some())).count();
    let title = format!("send {} letters in one window: {delivered} sent in {} ms", letters.len(), started.elapsed().as_millis());
    let target = logs::Target { kind: logs::Kind::Send, account_id: account.id, revision: account.revision };
    (sent, write_log(rt, settings, target, &title, &transcript).err())
}

/// The window over the account's kept connection, or a new one when there
/// is none or it turns out dead before the server took anything.
fn converse_window(rt: &mut Runtime, settings: &Settings, account: &Account, letters: &[WindowLetter]) -> Vec<Sent> {
    let time: std::time::Duration =
        letters.iter().map(|l| crate::smtp::conversation_time(settings.timeout(), l.recipients.len(), l.message.len())).sum();
    let deadline = Instant::now() + time;
    let max_letters = settings.letters_per_connection.max(1) as u32;
    if let Some((mut session, used)) = kept_session(rt, settings, account) {
        session.set_deadline(Some(deadline));
        let sent = session.send_window(letters, true);
        let dead = matches!(sent.first(), Some(Sent { result: Err(e), mail_accepted: false }) if e.is_connection_lost());
        if !dead {
            keep_or_close(
                rt,
                account,
                session,
                used + letters.len() as u32,
                max_letters,
                &sent.last().map_or(Ok(Default::default()), |s| s.result.clone()),
            );
            return sent;
        }
        crate::smtp::transcript::note("the kept connection was closed by the server; opening a new one");
    }
    let opened = stored_password(rt, account.id, &account.server)
        .map_err(|e| SmtpError::account_setup(e.to_string()))
        .and_then(|password| Session::open(&account.server, password.as_deref(), settings.timeout(), Some(deadline)));
    let mut session = match opened {
        Ok(session) => session,
        Err(e) => return letters.iter().map(|_| Sent { result: Err(e.clone()), mail_accepted: false }).collect(),
    };
    let sent = session.send_window(letters, false);
    let most = if settings.keepalive_seconds > 0 { max_letters } else { 0 };
    keep_or_close(rt, account, session, letters.len() as u32, most, &sent.last().map_or(Ok(Default::default()), |s| s.result.clone()));
    sent
}
