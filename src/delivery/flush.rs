//! Letters waiting in the outbox: sent again when due (or at once), or
//! dropped by an admin.

use super::*;

/// `smtp34_outbox_flush()`'s answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub sent: i64,
    pub failed: i64,
    pub left: i64,
    /// Letters claimed and tried (some may wait again).
    pub tried: i64,
}

/// Tries up to `limit` waiting letters: the due ones, or with `now` every
/// one. Accounts that fail during this flush are not tried again in it, so
/// a hanging server costs one timeout per flush, not one per letter.
/// The journal is pruned first (`smtp34_outbox_flush()` is also what cron calls).
pub fn flush(rt: &mut Runtime, limit: i64, now_flag: bool) -> Result<FlushReport> {
    let config = rt.config()?;
    prune(rt, &config.settings, clock::now_unix())?;
    flush_outbox(rt, limit, now_flag)
}

/// [`flush`] without the prune, for [`maintain`], which prunes (and counts) itself.
pub(super) fn flush_outbox(rt: &mut Runtime, limit: i64, now_flag: bool) -> Result<FlushReport> {
    let token = format!("flush-{}-{}", crate::process::id(), crate::process::unique_id());
    let mut report = FlushReport::default();
    let mut failed_here: Vec<i64> = Vec::new();
    let mut after_id = 0;
    for _ in 0..limit.max(0) {
        // read again for each letter (one query while nothing changed): an
        // account saved while this flush runs is used for the letters after
        let config = rt.config()?;
        let settings = &config.settings;
        let now = clock::now_unix();
        let views = AccountUsage::load(rt, &config, now)?;
        // the letter is not read yet: the claim allows for a large one (20 MB), it lapses only if the flusher dies
        let claim = Claim { token: token.clone(), until: now + lease(settings, config.accounts.len().min(3), 10, 20 << 20) };
        let Some(row) = rt.store.claim_next(&claim, now, !now_flag, after_id)? else { break };
        after_id = row.id;
        let (chosen, mut outcome) = plan(&row, &config, &views, now, &failed_here);
        let (envelope_from, message_id) = shipment_of(&row);
        let mut shipment = Outgoing { message: &row.message, envelope_from, message_id: &message_id };
        try_accounts(rt, settings, &chosen, &mut shipment, &mut outcome);
        failed_here.extend(outcome.failures.iter().map(|(id, _)| *id));
        report.count(settle(rt, settings, &row, &outcome, None)?);
    }
    report.left = rt.store.outbox_size()?;
    Ok(report)
}

impl FlushReport {
    pub(super) fn count(&mut self, settled: Settlement) {
        match settled {
            Settlement::Sent => self.sent += 1,
            Settlement::Failed | Settlement::GivenUp => self.failed += 1,
            Settlement::Waiting => {}
        }
    }
}

/// A claimed letter's candidate accounts now (leaving out those that failed
/// in this flush) and its outcome to come; with no candidate at all, it
/// waits for the account that can be tried first.
pub(super) fn plan(
    row: &OutboxLetter,
    config: &crate::runtime::Config,
    views: &AccountUsage,
    now: i64,
    failed_here: &[i64],
) -> (Vec<Account>, Outcome) {
    let from = Mailbox { name: row.from_name.clone(), address: row.from_email.clone() };
    let usable =
        decision::retry_candidates(&from, row.mailing, row.recipients.len(), &views.views(config), now, views.midnight, failed_here);
    let chosen: Vec<Account> = usable.candidates.iter().filter_map(|id| config.accounts.iter().find(|a| a.id == *id).cloned()).collect();
    let mut outcome = Outcome::pending(row.recipients.clone());
    if chosen.is_empty() {
        outcome.notes.extend(usable.skipped);
        outcome.not_before = Some(usable.until);
    }
    (chosen, outcome)
}

/// A waiting letter's envelope sender (as it was given, if valid) and the
/// name its transcript entries give it.
pub(super) fn shipment_of(row: &OutboxLetter) -> (Option<Address>, String) {
    (row.envelope_from.as_deref().and_then(|a| Address::from_str(a).ok()), format!("(outbox #{})", row.id))
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
