//! What a letter's attempts came to, as one value: the journal's status and
//! reply, the outbox's next step and `custom_mail()`'s return value are all
//! read from it, never assembled separately.

use crate::route::decision::MailReason;
use crate::smtp::SmtpError;

/// A journal row's status (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Written before the first word to a server; completed after.
    #[default]
    Sending,
    Sent,
    /// Waiting in the outbox; `custom_mail()` returned true.
    Queued,
    Failed,
    Fallback,
    Refused,
    Disabled,
    /// The PHP process ended mid-attempt (killed, or a fatal error in `mail()`).
    Interrupted,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Sending,
        Status::Sent,
        Status::Queued,
        Status::Failed,
        Status::Fallback,
        Status::Refused,
        Status::Disabled,
        Status::Interrupted,
    ];

    /// The status a journal row stores as text.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Queued => "queued",
            Status::Failed => "failed",
            Status::Fallback => "fallback",
            Status::Refused => "refused",
            Status::Disabled => "disabled",
            Status::Interrupted => "interrupted",
        }
    }
}

/// What became of a letter no server is asked about in this call, as one
/// value: the journal's status and what `custom_mail()` returns are read
/// from it (a letter sent now has an [`Outcome`] instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// PHP's own `mail()` takes it: smtp34 is off, or no account and `fallback = mail`.
    ToMail(MailReason),
    /// No account matches and `fallback = none`.
    Refused,
    /// No valid recipient: nothing can be sent.
    Unsendable,
    /// Safe in the outbox: the sender thread or a flush delivers it.
    Queued,
}

impl Handling {
    pub fn status(self) -> Status {
        match self {
            Handling::ToMail(MailReason::Disabled) => Status::Disabled,
            Handling::ToMail(MailReason::Fallback) => Status::Fallback,
            Handling::Refused => Status::Refused,
            Handling::Unsendable => Status::Failed,
            Handling::Queued => Status::Queued,
        }
    }

    /// What `custom_mail()` returns; `None` when PHP's `mail()` answers for it.
    pub fn accepted(self) -> Option<bool> {
        match self {
            Handling::ToMail(_) => None,
            Handling::Refused | Handling::Unsendable => Some(false),
            Handling::Queued => Some(true),
        }
    }
}

/// One account's acceptance of (some of) the recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub account_id: i64,
    pub recipients: Vec<String>,
    pub reply: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub deliveries: Vec<Delivery>,
    /// Recipients refused for good, with why.
    pub refused: Vec<(String, String)>,
    /// Recipients still to deliver: they wait in the outbox.
    pub pending: Vec<String>,
    /// Why the pending recipients are still pending (per recipient, when the server said so).
    pub deferred: Vec<(String, String)>,
    /// Accounts that failed, in the order they were tried.
    pub failures: Vec<(i64, SmtpError)>,
    /// Accounts not tried, and other remarks (a log that could not be written).
    pub notes: Vec<String>,
    /// The server refused the letter itself for good (5xx to MAIL FROM, DATA or the data).
    pub refusal: Option<SmtpError>,
    /// When no account could even be tried (all over their daily limit, or
    /// none matches now): the earliest time worth trying again.
    pub not_before: Option<i64>,
    /// Recipients each account took (its count for today), recorded with the
    /// journal and the outbox in one transaction.
    pub counted: Vec<(i64, i64)>,
}

impl Outcome {
    /// Nothing tried yet: every recipient is pending.
    pub fn pending(recipients: Vec<String>) -> Outcome {
        Outcome { pending: recipients, ..Default::default() }
    }

    pub fn status(&self) -> Status {
        match (self.deliveries.is_empty(), self.pending.is_empty()) {
            (false, _) => Status::Sent,
            (true, false) => Status::Queued,
            (true, true) => Status::Failed,
        }
    }

    /// What `custom_mail()` returns: true when the letter was accepted for
    /// delivery, by a server or by the outbox.
    pub fn accepted(&self) -> bool {
        self.status() != Status::Failed
    }

    /// The account that delivered, else the last one tried.
    pub fn account_id(&self) -> Option<i64> {
        self.deliveries.first().map(|d| d.account_id).or_else(|| self.failures.last().map(|(id, _)| *id))
    }

    /// When the pending recipients should be tried again, after `attempts`
    /// failed attempts: the retry schedule, unless no account could be tried
    /// at all and one can be from a known time on (a daily limit's midnight).
    pub fn next_try(&self, attempts: i64, now: i64) -> i64 {
        let scheduled = now + crate::store::outbox::retry_delay(attempts);
        match self.not_before {
            Some(at) if self.failures.is_empty() && self.deferred.is_empty() => at.max(now),
            _ => scheduled,
        }
    }

    /// The last reason the pending recipients are still pending.
    pub fn last_error(&self) -> String {
        if let Some((_, error)) = self.failures.last() {
            return error.message.clone();
        }
        if let Some((_, reply)) = self.deferred.last() {
            return reply.clone();
        }
        self.notes.last().cloned().unwrap_or_default()
    }

    /// The journal's `reply`: what the servers said, then what became of
    /// every recipient that did not simply get the letter.
    pub fn reply(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(refusal) = self.refusal.as_ref().filter(|_| self.deliveries.is_empty()) {
            parts.push(refusal.message.clone());
        }
        let first = self.deliveries.first().map(|d| d.account_id);
        for delivery in &self.deliveries {
            if Some(delivery.account_id) == first && self.failures.is_empty() {
                parts.push(delivery.reply.clone());
            } else {
                parts.push(format!(
                    "sent through account {} to {}: {}",
                    delivery.account_id,
                    delivery.recipients.join(", "),
                    delivery.reply
                ));
            }
        }
        for (id, error) in &self.failures {
            parts.push(format!("account {id} failed: {}", error.message));
        }
        for (recipient, why) in &self.refused {
            parts.push(format!("refused {recipient}: {why}"));
        }
        if !self.pending.is_empty() {
            let why = if self.deferred.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.deferred.iter().map(|(r, w)| format!("{r}: {w}")).collect::<Vec<_>>().join("; "))
            };
            parts.push(format!("waiting in the outbox for {}{why}", self.pending.join(", ")));
        }
        parts.extend(self.notes.iter().cloned());
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::Concern;

    fn delivery(id: i64, to: &[&str]) -> Delivery {
        Delivery { account_id: id, recipients: to.iter().map(|s| s.to_string()).collect(), reply: "250 queued as X".into() }
    }

    #[test]
    fn each_handling_has_its_status_and_return_value() {
        let cases = [
            (Handling::ToMail(MailReason::Disabled), Status::Disabled, None),
            (Handling::ToMail(MailReason::Fallback), Status::Fallback, None),
            (Handling::Refused, Status::Refused, Some(false)),
            (Handling::Unsendable, Status::Failed, Some(false)),
            (Handling::Queued, Status::Queued, Some(true)),
        ];
        for (handling, status, accepted) in cases {
            assert_eq!((handling.status(), handling.accepted()), (status, accepted), "{handling:?}");
        }
    }

    #[test]
    fn sent_when_anyone_got_it() {
        let outcome = Outcome { deliveries: vec![delivery(1, &["a@x"])], ..Default::default() };
        assert_eq!((outcome.status(), outcome.accepted(), outcome.reply().as_str()), (Status::Sent, true, "250 queued as X"));
        assert_eq!(outcome.account_id(), Some(1));
    }

    #[test]
    fn failover_names_both_accounts() {
        let outcome = Outcome {
            deliveries: vec![delivery(2, &["a@x"])],
            failures: vec![(5, SmtpError::network("cannot connect"))],
            ..Default::default()
        };
        assert_eq!(outcome.account_id(), Some(2));
        assert_eq!(outcome.reply(), "sent through account 2 to a@x: 250 queued as X; account 5 failed: cannot connect");
    }

    #[test]
    fn queued_when_recipients_wait_and_nobody_got_it() {
        let outcome = Outcome { pending: vec!["a@x".into()], failures: vec![(3, SmtpError::network("timed out"))], ..Default::default() };
        assert_eq!((outcome.status(), outcome.accepted()), (Status::Queued, true));
        assert_eq!(outcome.account_id(), Some(3));
        assert_eq!(outcome.reply(), "account 3 failed: timed out; waiting in the outbox for a@x");
        assert_eq!(outcome.last_error(), "timed out");
    }

    #[test]
    fn partly_sent_partly_refused_partly_waiting() {
        let outcome = Outcome {
            deliveries: vec![delivery(1, &["a@x"])],
            refused: vec![("b@x".into(), "550 no such user".into())],
            pending: vec!["c@x".into()],
            deferred: vec![("c@x".into(), "451 try later".into())],
            ..Default::default()
        };
        assert_eq!(outcome.status(), Status::Sent);
        assert_eq!(outcome.reply(), "250 queued as X; refused b@x: 550 no such user; waiting in the outbox for c@x (c@x: 451 try later)");
    }

    #[test]
    fn a_refusal_of_the_letter_fails_it() {
        let refusal =
            SmtpError { concern: Concern::Letter, transient: false, code: Some(554), message: "554 5.7.1 spam".into(), timed_out: false };
        let outcome = Outcome { refusal: Some(refusal), refused: vec![("a@x".into(), "554 5.7.1 spam".into())], ..Default::default() };
        assert_eq!((outcome.status(), outcome.accepted()), (Status::Failed, false));
        assert!(outcome.reply().starts_with("554 5.7.1 spam"));
    }

    #[test]
    fn a_letter_no_account_could_take_waits_until_one_can() {
        let mut outcome = Outcome::pending(vec!["a@x".into()]);
        outcome.not_before = Some(5000);
        assert_eq!(outcome.next_try(1, 1000), 5000, "a daily limit waits for midnight");
        outcome.failures.push((1, SmtpError::network("down")));
        assert_eq!(outcome.next_try(1, 1000), 1060, "a failed attempt follows the retry schedule");
        assert_eq!(Outcome::pending(vec![]).next_try(3, 1000), 1240);
    }

    #[test]
    fn only_account_trouble_and_whole_letter_deferrals_rest_an_account() {
        assert!(SmtpError::network("x").rests_account());
        assert!(SmtpError::account_setup("535").rests_account());
        assert!(SmtpError { concern: Concern::Letter, transient: true, code: Some(451), message: String::new(), timed_out: false }
            .rests_account());
        assert!(!SmtpError::letter("no SMTPUTF8").rests_account());
    }
}
