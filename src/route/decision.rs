//! What to do with a letter, decided before anything is done: from the
//! settings, the letter's From and recipients, and what is known of the
//! accounts (active, routing fields, back-off, today's count). Pure: no PHP,
//! no network, no store; `now` and the next local midnight are passed in.

use crate::letter::headers::Mailbox;
use crate::route::{self, Candidate};

/// What the decision needs to know of an account: what routing sees, and
/// whether it can take a letter now.
#[derive(Debug, Clone)]
pub struct AccountView<'a> {
    pub routing: Candidate<'a>,
    /// 0: no limit.
    pub daily_limit: i64,
    pub used_today: i64,
    /// Recipients a calendar hour and minute may take (0: no limit), and what this one has taken.
    pub hourly_limit: i64,
    pub used_this_hour: i64,
    pub minute_limit: i64,
    pub used_this_minute: i64,
    /// The account rests after failures until then (page hits skip it).
    pub backoff_until: i64,
}

impl AccountView<'_> {
    /// The first of its limits (minute, hour, day) that `recipients` more
    /// would pass: why, and when that window ends.
    pub fn over_limit(&self, recipients: i64, now: i64, next_midnight: i64) -> Option<(String, i64)> {
        let id = self.routing.id;
        [
            (self.minute_limit, self.used_this_minute, "per-minute", (now / 60 + 1) * 60, "this minute"),
            (self.hourly_limit, self.used_this_hour, "hourly", (now / 3600 + 1) * 3600, "this hour"),
            (self.daily_limit, self.used_today, "daily", next_midnight, "today"),
        ]
        .into_iter()
        .find(|&(limit, used, ..)| limit > 0 && used + recipients > limit)
        .map(|(limit, used, name, until, when)| {
            (format!("account {id} reached its {name} limit ({used} of {limit} recipients {when})"), until)
        })
    }
}

/// Why PHP's own `mail()` gets the letter, unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailReason {
    /// smtp34 is off (`enabled` false).
    Disabled,
    /// No account matches and `fallback` is `mail`.
    Fallback,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    HandToMail {
        reason: MailReason,
        why: String,
    },
    /// No account matches and `fallback` is `none`: false, journaled `refused`.
    NoAccount {
        why: String,
    },
    /// Nothing can be sent (no valid recipient): false, journaled `failed`.
    NoRecipient {
        why: String,
    },
    /// Try these accounts in this order. `sender` is the account routing
    /// chose (its name may go into From); `skipped` says why others are not tried now.
    Send {
        sender: i64,
        candidates: Vec<i64>,
        skipped: Vec<String>,
    },
    /// Every matching account rests or is over its daily limit: the letter
    /// goes straight to the outbox, due at `until`.
    Wait {
        sender: i64,
        until: i64,
        why: String,
    },
}

/// The letter as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct LetterFacts<'a> {
    pub from: Option<&'a Mailbox>,
    pub mailing: bool,
    pub recipients: usize,
}

/// A custom_mail() call's decision.
pub fn decide(
    enabled: bool,
    fallback_to_mail: bool,
    letter: LetterFacts,
    accounts: &[AccountView],
    now: i64,
    next_midnight: i64,
) -> Decision {
    if !enabled {
        return Decision::HandToMail { reason: MailReason::Disabled, why: "smtp34 is disabled (setting 'enabled')".into() };
    }
    let matching = match letter.from {
        Some(from) => matching(accounts, from, letter.mailing),
        None => Vec::new(),
    };
    let Some(&sender) = matching.first() else {
        let why = match letter.from {
            None => "the letter has no readable From".to_owned(),
            Some(from) => format!("no active account for {}", from.address),
        };
        return if fallback_to_mail {
            Decision::HandToMail { reason: MailReason::Fallback, why }
        } else {
            Decision::NoAccount { why: format!("{why} (fallback 'none')") }
        };
    };
    if letter.recipients == 0 {
        return Decision::NoRecipient { why: "no valid recipients".into() };
    }
    let usable = usable(&matching, accounts, letter.recipients, now, next_midnight, true, &[]);
    if usable.candidates.is_empty() {
        Decision::Wait { sender, until: usable.until, why: usable.skipped.join("; ") }
    } else {
        Decision::Send { sender, candidates: usable.candidates, skipped: usable.skipped }
    }
}

/// The accounts a waiting letter may go through on a flush: all that match
/// it now, resting or not (the flusher probes them), but for those that
/// already failed during this flush and those over their daily limit.
pub fn retry_candidates(
    from: &Mailbox,
    mailing: bool,
    recipients: usize,
    accounts: &[AccountView],
    now: i64,
    next_midnight: i64,
    failed_this_flush: &[i64],
) -> Usable {
    let matching = matching(accounts, from, mailing);
    if matching.is_empty() {
        return Usable {
            candidates: Vec::new(),
            skipped: vec![format!("no active account for {} now", from.address)],
            until: now + crate::store::outbox::retry_delay(1),
        };
    }
    usable(&matching, accounts, recipients, now, next_midnight, false, failed_this_flush)
}

/// Every active account matching the letter, in SPEC §3 order.
fn matching(accounts: &[AccountView], from: &Mailbox, mailing: bool) -> Vec<i64> {
    let candidates: Vec<Candidate> = accounts.iter().map(|a| a.routing.clone()).collect();
    route::ordered(&candidates, &from.name, &from.address, mailing)
}

/// Which of the matching accounts can be tried now, and when the rest can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usable {
    pub candidates: Vec<i64>,
    pub skipped: Vec<String>,
    /// When a skipped account can be tried again (the earliest).
    pub until: i64,
}

fn usable(
    matching: &[i64],
    accounts: &[AccountView],
    recipients: usize,
    now: i64,
    next_midnight: i64,
    respect_backoff: bool,
    exclude: &[i64],
) -> Usable {
    let mut result = Usable { candidates: Vec::new(), skipped: Vec::new(), until: i64::MAX };
    for id in matching {
        let Some(account) = accounts.iter().find(|a| a.routing.id == *id) else { continue };
        if exclude.contains(id) {
            result.skipped.push(format!("account {id} failed a moment ago"));
            result.until = result.until.min(now + crate::store::outbox::retry_delay(1));
        } else if respect_backoff && account.backoff_until > now {
            result.skipped.push(format!("account {id} rests after failing, for {} s more", account.backoff_until - now));
            result.until = result.until.min(account.backoff_until);
        } else if let Some((why, until)) = account.over_limit(recipients as i64, now, next_midnight) {
            result.skipped.push(why);
            result.until = result.until.min(until);
        } else {
            result.candidates.push(*id);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;
    const MIDNIGHT: i64 = 1_050_000;

    fn account(id: i64, name: &'static str) -> AccountView<'static> {
        let routing = Candidate { id, active: true, name, email: "shop@site.ru", mailing_first: false };
        AccountView {
            routing,
            daily_limit: 0,
            used_today: 0,
            hourly_limit: 0,
            used_this_hour: 0,
            minute_limit: 0,
            used_this_minute: 0,
            backoff_until: 0,
        }
    }

    fn from(name: &str) -> Mailbox {
        Mailbox { name: name.into(), address: "shop@site.ru".into() }
    }

    fn letter(from: &Mailbox, recipients: usize) -> LetterFacts<'_> {
        LetterFacts { from: Some(from), mailing: false, recipients }
    }

    #[test]
    fn disabled_hands_every_letter_to_mail() {
        let f = from("Shop");
        let d = decide(false, false, letter(&f, 1), &[account(1, "Shop")], NOW, MIDNIGHT);
        assert!(matches!(d, Decision::HandToMail { reason: MailReason::Disabled, .. }));
    }

    #[test]
    fn no_account_follows_the_fallback_setting() {
        let f = Mailbox { name: String::new(), address: "other@site.ru".into() };
        let accounts = [account(1, "Shop")];
        assert!(matches!(
            decide(true, true, letter(&f, 1), &accounts, NOW, MIDNIGHT),
            Decision::HandToMail { reason: MailReason::Fallback, .. }
        ));
        let Decision::NoAccount { why } = decide(true, false, letter(&f, 1), &accounts, NOW, MIDNIGHT) else { panic!() };
        assert_eq!(why, "no active account for other@site.ru (fallback 'none')");
        let none = LetterFacts { from: None, mailing: false, recipients: 1 };
        assert!(
            matches!(decide(true, false, none, &accounts, NOW, MIDNIGHT), Decision::NoAccount { why } if why.contains("no readable From"))
        );
    }

    #[test]
    fn no_recipient_is_a_rejection() {
        let f = from("Shop");
        assert_eq!(
            decide(true, true, letter(&f, 0), &[account(1, "Shop")], NOW, MIDNIGHT),
            Decision::NoRecipient { why: "no valid recipients".into() }
        );
    }

    #[test]
    fn candidates_in_routing_order_without_resting_accounts() {
        let f = from("Shop");
        let mut accounts = vec![account(1, "Shop"), account(2, "Other"), account(3, "Shop")];
        assert_eq!(
            decide(true, true, letter(&f, 1), &accounts, NOW, MIDNIGHT),
            Decision::Send { sender: 3, candidates: vec![3, 1, 2], skipped: vec![] }
        );
        accounts[2].backoff_until = NOW + 30;
        let Decision::Send { sender, candidates, skipped } = decide(true, true, letter(&f, 1), &accounts, NOW, MIDNIGHT) else { panic!() };
        assert_eq!((sender, candidates), (3, vec![1, 2]), "the chosen account still names the sender");
        assert_eq!(skipped, ["account 3 rests after failing, for 30 s more"]);
    }

    #[test]
    fn all_resting_or_over_the_limit_waits_for_the_earliest() {
        let f = from("Shop");
        let mut accounts = vec![account(1, "Shop"), account(2, "Shop")];
        accounts[0].backoff_until = NOW + 120;
        accounts[1].daily_limit = 10;
        accounts[1].used_today = 9;
        let Decision::Wait { sender, until, why } = decide(true, true, letter(&f, 2), &accounts, NOW, MIDNIGHT) else { panic!() };
        assert_eq!((sender, until), (2, NOW + 120));
        assert_eq!(why, "account 2 reached its daily limit (9 of 10 recipients today); account 1 rests after failing, for 120 s more");
        accounts[0].backoff_until = 0;
        accounts[0].daily_limit = 1;
        let Decision::Wait { until, .. } = decide(true, true, letter(&f, 2), &accounts, NOW, MIDNIGHT) else { panic!() };
        assert_eq!(until, MIDNIGHT, "limits start over at local midnight");
        // one recipient still fits account 2 (account 1 has used its one place)
        accounts[0].used_today = 1;
        assert!(
            matches!(decide(true, true, letter(&f, 1), &accounts, NOW, MIDNIGHT), Decision::Send { candidates, .. } if candidates == vec![2])
        );
    }

    #[test]
    fn a_flush_probes_resting_accounts_but_not_those_that_just_failed() {
        let f = from("Shop");
        let mut accounts = vec![account(1, "Shop"), account(2, "Shop")];
        accounts[1].backoff_until = NOW + 600;
        let usable = retry_candidates(&f, false, 1, &accounts, NOW, MIDNIGHT, &[]);
        assert_eq!(usable.candidates, vec![2, 1]);
        let usable = retry_candidates(&f, false, 1, &accounts, NOW, MIDNIGHT, &[2]);
        assert_eq!(usable.candidates, vec![1]);
        let usable = retry_candidates(&f, false, 1, &accounts, NOW, MIDNIGHT, &[1, 2]);
        assert!(usable.candidates.is_empty());
        assert_eq!(usable.until, NOW + 60);
        let nobody = retry_candidates(&from("x"), false, 1, &[], NOW, MIDNIGHT, &[]);
        assert_eq!(nobody.skipped, ["no active account for shop@site.ru now"]);
    }

    #[test]
    fn minute_and_hour_limits_fail_over_then_wait_for_their_window() {
        let f = from("Shop");
        let mut accounts = vec![account(1, "Shop"), account(2, "Shop")];
        accounts[0].minute_limit = 10;
        accounts[0].used_this_minute = 9;
        let Decision::Send { candidates, skipped, .. } = decide(true, true, letter(&f, 2), &accounts, NOW, MIDNIGHT) else { panic!() };
        assert_eq!(candidates, vec![2], "over its minute: the next account");
        assert_eq!(skipped, ["account 1 reached its per-minute limit (9 of 10 recipients this minute)"]);
        accounts[1].hourly_limit = 100;
        accounts[1].used_this_hour = 100;
        let Decision::Wait { until, why, .. } = decide(true, true, letter(&f, 2), &accounts, NOW, MIDNIGHT) else { panic!() };
        assert_eq!(until, (NOW / 60 + 1) * 60, "the earliest window: account 1's next minute");
        assert!(why.contains("account 2 reached its hourly limit (100 of 100 recipients this hour)"), "{why}");
        accounts[0].minute_limit = 0;
        accounts[0].hourly_limit = 5;
        accounts[0].used_this_hour = 5;
        let Decision::Wait { until, .. } = decide(true, true, letter(&f, 2), &accounts, NOW, MIDNIGHT) else { panic!() };
        assert_eq!(until, (NOW / 3600 + 1) * 3600);
        // the minute is checked first, then the hour, then the day
        accounts[0].minute_limit = 1;
        accounts[0].daily_limit = 1;
        assert!(accounts[0].over_limit(2, NOW, MIDNIGHT).unwrap().0.contains("per-minute"));
    }
}
