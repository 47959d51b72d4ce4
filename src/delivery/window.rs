//! The sender thread's passes over the outbox: the due letters whose first
//! candidate is the same account go over its connection one behind another
//! ([`Session::send_window`]: one round trip a letter with PIPELINING); a
//! letter the window does not finish (refused for now, a broken
//! connection, never its turn) goes on to its other candidates the
//! one-letter way; then each is settled as a flush settles it.

use super::attempt::{counted_today, keep_or_close, kept_session, record};
use super::background;
use super::flush::{plan, shipment_of};
use super::settle::settle_in;
use super::*;
use crate::smtp::{Sent, WindowLetter};

/// Letters claimed, and sent over one connection, at a time. A window
/// costs the thread two transactions (its claim, its settling), and on
/// loopback the thread, not the page, set a mailing's pace. Alternated
/// round by round (2,000 letters, six rounds): 16, 32 and 64 delivered a
/// median 6,300, 6,750 and 7,130 letters/s with the same `custom_mail()`
/// p99, and a process sending 10,000 letters peaked +6.8, +7.1 and +7.5 MB
/// above PHP alone (issue 18 allows 8). 32 takes most of the gain and
/// leaves the memory its margin.
pub(super) const WINDOW: usize = 32;

/// Bytes of letters a connection's window holds at most (its first letter
/// goes whatever its size): the thread holds its claimed windows in memory.
pub(super) const WINDOW_BYTES: usize = 1 << 20;

/// The recipients a window's claim allows time for: a whole window may be
/// ahead of its last letter. Fixed when windows were 16 letters; a longer
/// claim would only keep a dead thread's letters waiting longer.
const CLAIM_LEASE_RECIPIENTS: usize = 160;

/// Letters the thread settles in one transaction before it lets a page of
/// its process that waits for the lock go first. Measured in a tight loop
/// of 2,000 letters (p99 of `custom_mail()` / letters a second): giving way
/// after every letter, 0.64-0.74 ms / 1,300-1,970; after 4, 0.91-0.95 ms /
/// 2,400-2,600; after 8, 0.79-0.98 ms / 2,800-3,150; never, 1.6-2.1 ms / 2,760-3,160.
/// Again once the page's commit woke the thread (four rounds, alternated):
/// after 4, 0.29-0.44 ms / 5,100-7,650; after 8, 0.37-0.47 ms / 6,300-8,270;
/// after 16, 0.40-0.59 ms / 6,100-8,500.
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
        let claim =
            Claim { token: token.to_owned(), until: now + lease(settings, accounts.len().min(3), CLAIM_LEASE_RECIPIENTS, 20 << 20) };
        let most = (WINDOW * rt.pool.widest()).min((limit - report.tried).max(0) as usize);
        let mut plans: Vec<Planned> = Vec::new();
        let given = handed.map(|shared| background::take_handed(shared, most)).unwrap_or_default();
        let rows = if given.is_empty() {
            let claimed = rt.store.claim_due(&claim, now, after_id, most, WINDOW_BYTES * rt.pool.widest())?;
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
        let mut tx = rt.store.write_tx()?;
        let mut settled_in_tx = 0;
        for plan in &plans {
            report.count(settle_in(rt, settings, &plan.row, &plan.outcome, None)?);
            settled_in_tx += 1;
            let waiting = handed.filter(|shared| settled_in_tx >= SETTLED_BEFORE_GIVING_WAY && background::page_waits(shared));
            if let Some(shared) = waiting {
                settled_in_tx = 0;
                tx.commit()?;
                background::let_page_in(shared);
                tx = rt.store.write_tx()?;
            }
        }
        tx.commit()?;
        // the WAL copied back once a second, even mid-burst (the letters' bytes leave it when the thread is idle)
        rt.store.checkpoint_if_due();
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
    let (sent, log_problem) = attempt_windows(rt, settings, account, &letters);
    for (i, (at, sent)) in chosen.iter().zip(sent).enumerate() {
        let plan = &mut plans[*at];
        plan.outcome.notes.extend(log_problem.clone());
        match sent {
            Some(sent) => {
                plan.windowed = true;
                record(rt, account, &mut plan.outcome, sent.result, recipients[i].len() as i64, now);
            }
            // its extra connection was refused: untried, it gives back what it reserved and goes the one-letter way
            None => plan.outcome.counted.push((account.id, counted_today(account, 0, recipients[i].len() as i64))),
        }
    }
}

/// The letters over the account's connections, a window of at most
/// [`WINDOW`] letters and [`WINDOW_BYTES`] a connection: one window after
/// another over one connection, or, to a far server
/// ([`crate::smtp::Pool::connections`]), several windows at once, the
/// letters shared out among them. `None` for a letter whose extra
/// connection the server would not take: it was not tried.
fn attempt_windows(
    rt: &mut Runtime,
    settings: &Settings,
    account: &Account,
    letters: &[WindowLetter],
) -> (Vec<Option<Sent>>, Option<String>) {
    let connections = rt.pool.connections(account.id).max(1);
    // a far server's letters share out over its connections, a near one's go in full windows
    let windows = windows_of(letters, WINDOW.min(letters.len().div_ceil(connections)).max(1), WINDOW_BYTES);
    let at_once = connections.min(windows.len()).max(1);
    // a password that cannot be had now: one connection, whose own attempt says why
    let password = if at_once > 1 { stored_password(rt, account.id, &account.server).ok() } else { None };
    let mut sent = Vec::with_capacity(letters.len());
    let mut problem = None;
    for round in windows.chunks(at_once) {
        match &password {
            Some(password) if round.len() > 1 => {
                let (round_sent, round_problem) = attempt_at_once(rt, settings, account, round, password.as_deref());
                sent.extend(round_sent);
                problem = problem.or(round_problem);
            }
            _ => {
                for window in round {
                    let (window_sent, window_problem) = attempt_window(rt, settings, account, window);
                    sent.extend(window_sent.into_iter().map(Some));
                    problem = problem.or(window_problem);
                }
            }
        }
    }
    (sent, problem)
}

/// `letters` cut, in order, into windows of at most `most` letters and
/// `most_bytes` bytes (a letter bigger than that is a window of its own).
fn windows_of<'a, 'l>(letters: &'a [WindowLetter<'l>], most: usize, most_bytes: usize) -> Vec<&'a [WindowLetter<'l>]> {
    let mut windows = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (at, letter) in letters.iter().enumerate() {
        if at > start && (at - start == most || bytes + letter.message.len() > most_bytes) {
            windows.push(&letters[start..at]);
            (start, bytes) = (at, 0);
        }
        bytes += letter.message.len();
    }
    if start < letters.len() {
        windows.push(&letters[start..]);
    }
    windows
}

/// One conversation carrying a window of letters, and its transcript logged.
fn attempt_window(rt: &mut Runtime, settings: &Settings, account: &Account, letters: &[WindowLetter]) -> (Vec<Sent>, Option<String>) {
    let started = Instant::now();
    let level = settings.log_enabled.then_some(settings.log_level);
    let timeout = settings.timeout();
    let (mut conversation, transcript) = crate::smtp::transcript::collect(level, || {
        let kept = kept_session(rt, settings, account);
        let open = |deadline| {
            stored_password(rt, account.id, &account.server)
                .map_err(|e| SmtpError::account_setup(e.to_string()))
                .and_then(|password| Session::open(&account.server, password.as_deref(), timeout, Some(deadline)))
        };
        converse(kept, open, letters, timeout)
    });
    after_conversation(rt, settings, account, &mut conversation);
    let problem = log_window(rt, settings, account, &conversation.sent, started, &transcript, None);
    (conversation.sent, problem)
}

/// Several windows at once, each over a connection of its own (the kept
/// ones first), each in a thread of its own that only talks SMTP. The
/// first connection's failure is the account's, as over one connection; an
/// extra one the server would not open (too many connections from us) is
/// not: its letters come back untried and the account gets one connection
/// for a while ([`crate::smtp::Pool::extra_refused`]).
fn attempt_at_once(
    rt: &mut Runtime,
    settings: &Settings,
    account: &Account,
    windows: &[&[WindowLetter]],
    password: Option<&str>,
) -> (Vec<Option<Sent>>, Option<String>) {
    let started = Instant::now();
    let level = settings.log_enabled.then_some(settings.log_level);
    let timeout = settings.timeout();
    let kept: Vec<Option<(Session, u32)>> = windows.iter().map(|_| kept_session(rt, settings, account)).collect();
    let server = &account.server;
    let results: Vec<Option<(Conversation, crate::smtp::transcript::Transcript)>> = std::thread::scope(|scope| {
        let running: Vec<_> = windows
            .iter()
            .zip(kept)
            .map(|(letters, kept)| {
                let open = move |deadline| Session::open(server, password, timeout, Some(deadline));
                scope.spawn(move || crate::smtp::transcript::collect(level, || converse(kept, open, letters, timeout)))
            })
            .collect();
        running.into_iter().map(|thread| thread.join().ok()).collect()
    });
    let mut sent = Vec::new();
    let mut problem = None;
    for (i, (letters, result)) in windows.iter().zip(results).enumerate() {
        // its thread panicked: what became of its letters is not known here; they go the one-letter way
        let Some((mut conversation, transcript)) = result else {
            sent.extend(letters.iter().map(|_| None));
            continue;
        };
        let connection = Some((i + 1, windows.len()));
        problem = problem.or(log_window(rt, settings, account, &conversation.sent, started, &transcript, connection));
        if i > 0 && conversation.refused {
            rt.pool.extra_refused(account.id);
            sent.extend(letters.iter().map(|_| None));
        } else {
            after_conversation(rt, settings, account, &mut conversation);
            sent.extend(conversation.sent.into_iter().map(Some));
        }
    }
    (sent, problem)
}

/// What one connection did with a window.
struct Conversation {
    sent: Vec<Sent>,
    /// The connection afterwards, the letters it has carried, and whether it was kept from before.
    session: Option<(Session, u32, bool)>,
    /// How long the letters took, opening the connection aside.
    sending: std::time::Duration,
    /// No connection could be opened: the letters were not tried.
    refused: bool,
}

/// The window over the kept connection, or a new one (`open`, given the
/// window's deadline) when there is none or it turns out dead before the
/// server took anything. Only SMTP: no database, no PHP.
fn converse(
    kept: Option<(Session, u32)>,
    open: impl FnOnce(Instant) -> std::result::Result<Session, SmtpError>,
    letters: &[WindowLetter],
    timeout: std::time::Duration,
) -> Conversation {
    let time: std::time::Duration =
        letters.iter().map(|l| crate::smtp::conversation_time(timeout, l.recipients.len(), l.message.len())).sum();
    let deadline = Instant::now() + time;
    if let Some((mut session, used)) = kept {
        session.set_deadline(Some(deadline));
        let began = Instant::now();
        let sent = session.send_window(letters, true);
        let dead = matches!(sent.first(), Some(Sent { result: Err(e), mail_accepted: false }) if e.is_connection_lost());
        if !dead {
            let session = Some((session, used + letters.len() as u32, true));
            return Conversation { sent, session, sending: began.elapsed(), refused: false };
        }
        crate::smtp::transcript::note("the kept connection was closed by the server; opening a new one");
    }
    match open(deadline) {
        Ok(mut session) => {
            let began = Instant::now();
            let sent = session.send_window(letters, false);
            let session = Some((session, letters.len() as u32, false));
            Conversation { sent, session, sending: began.elapsed(), refused: false }
        }
        Err(e) => {
            let sent = letters.iter().map(|_| Sent { result: Err(e.clone()), mail_accepted: false }).collect();
            Conversation { sent, session: None, sending: std::time::Duration::ZERO, refused: true }
        }
    }
}

/// After a window: its connection kept for the next or closed, and the pace of the account's server noted.
fn after_conversation(rt: &mut Runtime, settings: &Settings, account: &Account, conversation: &mut Conversation) {
    if let Some((session, used, was_kept)) = conversation.session.take() {
        let max_letters = settings.letters_per_connection.max(1) as u32;
        let most = if was_kept || settings.keepalive_seconds > 0 { max_letters } else { 0 };
        let last = conversation.sent.last().map_or(Ok(Default::default()), |s| s.result.clone());
        keep_or_close(rt, account, session, used, most, &last);
    }
    if !conversation.refused {
        rt.pool.note_pace(account.id, conversation.sent.len(), conversation.sending);
    }
}

/// The window's transcript to the account's send log; `connection`: which of how many at once.
fn log_window(
    rt: &Runtime,
    settings: &Settings,
    account: &Account,
    sent: &[Sent],
    started: Instant,
    transcript: &crate::smtp::transcript::Transcript,
    connection: Option<(usize, usize)>,
) -> Option<String> {
    let delivered = sent.iter().filter(|s| matches!(&s.result, Ok(v) if v.reply.is_some())).count();
    let over = connection.map_or(String::new(), |(i, n)| format!(" (connection {i} of {n})"));
    let title = format!("send {} letters in one window: {delivered} sent in {} ms{over}", sent.len(), started.elapsed().as_millis());
    let target = logs::Target { kind: logs::Kind::Send, account_id: account.id, revision: account.revision };
    write_log(rt, settings, target, &title, transcript).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes_of_windows(sizes: &[usize], most: usize, most_bytes: usize) -> Vec<Vec<usize>> {
        let from: Address = "shop@site.ru".parse().unwrap();
        let bodies: Vec<Vec<u8>> = sizes.iter().map(|size| vec![b'x'; *size]).collect();
        let letters: Vec<WindowLetter> = bodies.iter().map(|body| WindowLetter { from: &from, recipients: &[], message: body }).collect();
        windows_of(&letters, most, most_bytes).iter().map(|window| window.iter().map(|l| l.message.len()).collect()).collect()
    }

    #[test]
    fn windows_hold_at_most_their_letters_and_bytes_in_order() {
        assert_eq!(sizes_of_windows(&[1; 5], 2, 100), [vec![1, 1], vec![1, 1], vec![1]]);
        assert_eq!(sizes_of_windows(&[40, 40, 40, 10, 90], 10, 100), [vec![40, 40], vec![40, 10], vec![90]]);
        // a letter bigger than a window's bytes goes alone, never dropped
        assert_eq!(sizes_of_windows(&[10, 500, 10], 10, 100), [vec![10], vec![500], vec![10]]);
        assert_eq!(sizes_of_windows(&[100, 1], 10, 100), [vec![100], vec![1]]);
        assert!(sizes_of_windows(&[], 10, 100).is_empty());
    }
}
