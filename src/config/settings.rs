//! Module settings (SPEC §5 table): typed values, their defaults, validation.

use crate::config::fields::{check_email, Choice, FieldError, Fields, Value};
use crate::smtp::transcript::Level;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub log_enabled: bool,
    pub log_level: Level,
    pub log_period: &'static str,
    pub log_max_mb: i64,
    pub timeout: i64,
    pub check_sends_test: bool,
    /// Empty: the account's own email.
    pub test_recipient: String,
    pub fallback: Fallback,
    pub outbox_max_hours: i64,
    /// Journal rows older than this many days are pruned; 0 keeps them forever.
    pub journal_days: i64,
    /// A kept SMTP connection idle this long is closed; 0 keeps none.
    pub keepalive_seconds: i64,
    /// A kept SMTP connection is closed after this many letters.
    pub letters_per_connection: i64,
    pub delivery: DeliveryMode,
    pub keep_letters: KeepLetters,
    /// Where alerts and the weekly report go (none: empty).
    pub alert_email: Vec<String>,
    /// The webhook as stored: `sealed:<shown>|<hex of the sealed URL>`, or empty.
    pub alert_webhook: String,
    pub alert_after_failures: i64,
    pub weekly_report: bool,
}

/// What the admin sees of a webhook URL: its scheme and host, the rest (a
/// Slack path or a Telegram bot token is the secret) hidden.
pub fn shown_webhook(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}/•••")
}

/// `smtp34_settings()` changes with a new `alert_webhook` URL checked and
/// sealed (`seal` encrypts), so that only its sealed form is ever stored; the
/// masked value a form sends back means "unchanged" and is dropped.
pub fn seal_webhook(changes: &mut Fields, seal: impl FnOnce(&str) -> Vec<u8>) -> Result<(), FieldError> {
    let Some(value) = changes.get("alert_webhook") else { return Ok(()) };
    let url = value.to_line("alert_webhook")?.trim().to_owned();
    if url.is_empty() {
        changes.insert("alert_webhook".into(), Value::Bytes(Vec::new()));
        return Ok(());
    }
    if url.ends_with("/•••") {
        changes.remove("alert_webhook");
        return Ok(());
    }
    crate::oauth::check_endpoint("alert_webhook", &url)?;
    let sealed = crate::crypto::hex(&seal(&url));
    changes.insert("alert_webhook".into(), Value::Bytes(format!("sealed:{}|{sealed}", shown_webhook(&url)).into_bytes()));
    Ok(())
}

impl Settings {
    /// The sealed webhook URL's bytes, if one is set.
    pub fn sealed_webhook(&self) -> Option<Vec<u8>> {
        crate::crypto::unhex(self.alert_webhook.split_once('|')?.1.as_bytes())
    }
}

/// Whose bytes the journal keeps for `journal_days`, so they can be resent (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepLetters {
    /// Letters refused for good or given up.
    Failed,
    All,
    None,
}

impl Choice for KeepLetters {
    const ALL: &'static [Self] = &[KeepLetters::Failed, KeepLetters::All, KeepLetters::None];

    fn as_str(self) -> &'static str {
        match self {
            KeepLetters::Failed => "failed",
            KeepLetters::All => "all",
            KeepLetters::None => "none",
        }
    }
}

pub const LOG_PERIODS: [&str; 4] = ["day", "week", "month", "year"];

/// When `custom_mail()` returns (SPEC §4 `delivery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    /// Once the letter is safe in the outbox; a sender thread delivers it.
    Background,
    /// After the server's final reply.
    Wait,
}

impl Choice for DeliveryMode {
    const ALL: &'static [Self] = &[DeliveryMode::Background, DeliveryMode::Wait];

    fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Background => "background",
            DeliveryMode::Wait => "wait",
        }
    }
}

/// What happens to a letter when no account can take it (SPEC §5 `fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// PHP's own mail() sends it, as without smtp34.
    Mail,
    /// `custom_mail()` returns false and the journal says it was refused.
    None,
}

impl Choice for Fallback {
    const ALL: &'static [Self] = &[Fallback::Mail, Fallback::None];

    fn as_str(self) -> &'static str {
        match self {
            Fallback::Mail => "mail",
            Fallback::None => "none",
        }
    }
}

/// Every setting name, in the order of the SPEC table.
pub const KEYS: [&str; 19] = [
    "enabled",
    "log_enabled",
    "log_level",
    "log_period",
    "log_max_mb",
    "timeout",
    "check_sends_test",
    "test_recipient",
    "fallback",
    "outbox_max_hours",
    "journal_days",
    "keepalive_seconds",
    "letters_per_connection",
    "delivery",
    "keep_letters",
    "alert_email",
    "alert_webhook",
    "alert_after_failures",
    "weekly_report",
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: false,
            log_enabled: true,
            log_level: Level::Reply,
            log_period: "day",
            log_max_mb: 10,
            timeout: 10,
            check_sends_test: false,
            test_recipient: String::new(),
            fallback: Fallback::Mail,
            outbox_max_hours: 48,
            journal_days: 30,
            keepalive_seconds: 30,
            letters_per_connection: 100,
            delivery: DeliveryMode::Background,
            keep_letters: KeepLetters::Failed,
            alert_email: Vec::new(),
            alert_webhook: String::new(),
            alert_after_failures: 3,
            weekly_report: true,
        }
    }
}

impl Settings {
    /// Builds settings from stored text pairs; a stored value that no longer
    /// validates keeps its default rather than breaking every send.
    pub fn from_stored<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut settings = Settings::default();
        for (key, value) in pairs {
            let _ = settings.set(key, &Value::Bytes(value.as_bytes().to_vec()));
        }
        settings
    }

    /// Applies validated changes; on any error nothing is changed.
    pub fn apply(&mut self, changes: &Fields) -> Result<(), FieldError> {
        let mut next = self.clone();
        for (key, value) in changes {
            next.set(key, value)?;
        }
        *self = next;
        Ok(())
    }

    fn set(&mut self, key: &str, value: &Value) -> Result<(), FieldError> {
        match key {
            "enabled" => self.enabled = value.to_bool(key)?,
            "log_enabled" => self.log_enabled = value.to_bool(key)?,
            "log_level" => {
                let number = value.to_int_in(key, 1..=4)?;
                self.log_level = Level::from_number(number).ok_or_else(|| FieldError::new(key, "must be 1 to 4"))?;
            }
            "log_period" => self.log_period = value.to_choice(key, &LOG_PERIODS)?,
            "log_max_mb" => self.log_max_mb = value.to_int_in(key, 0..=100_000)?,
            "timeout" => self.timeout = value.to_int_in(key, 1..=600)?,
            "check_sends_test" => self.check_sends_test = value.to_bool(key)?,
            "test_recipient" => {
                let text = value.to_line(key)?;
                self.test_recipient = if text.trim().is_empty() { String::new() } else { check_email(key, &text)? };
            }
            "fallback" => self.fallback = value.to_enum(key)?,
            "outbox_max_hours" => self.outbox_max_hours = value.to_int_in(key, 1..=24 * 365)?,
            "journal_days" => self.journal_days = value.to_int_in(key, 0..=3650)?,
            "keepalive_seconds" => self.keepalive_seconds = value.to_int_in(key, 0..=3600)?,
            "letters_per_connection" => self.letters_per_connection = value.to_int_in(key, 1..=100_000)?,
            "delivery" => self.delivery = value.to_enum(key)?,
            "keep_letters" => self.keep_letters = value.to_enum(key)?,
            "alert_email" => {
                let text = value.to_line(key)?;
                self.alert_email =
                    text.split(',').map(str::trim).filter(|a| !a.is_empty()).map(|a| check_email(key, a)).collect::<Result<_, _>>()?;
            }
            "alert_webhook" => {
                let text = value.to_line(key)?;
                if !(text.is_empty() || text.starts_with("sealed:") && text.contains('|')) {
                    return Err(FieldError::new(key, "must be an https URL (plain http only to a loopback address)"));
                }
                self.alert_webhook = text;
            }
            "alert_after_failures" => self.alert_after_failures = value.to_int_in(key, 1..=1000)?,
            "weekly_report" => self.weekly_report = value.to_bool(key)?,
            _ => return Err(FieldError::new(key, "is not a setting")),
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Value {
        match key {
            "enabled" => Value::Bool(self.enabled),
            "log_enabled" => Value::Bool(self.log_enabled),
            "log_level" => Value::Int(self.log_level.number()),
            "log_period" => Value::Bytes(self.log_period.as_bytes().to_vec()),
            "log_max_mb" => Value::Int(self.log_max_mb),
            "timeout" => Value::Int(self.timeout),
            "check_sends_test" => Value::Bool(self.check_sends_test),
            "test_recipient" => Value::Bytes(self.test_recipient.as_bytes().to_vec()),
            "fallback" => Value::Bytes(self.fallback.as_str().as_bytes().to_vec()),
            "outbox_max_hours" => Value::Int(self.outbox_max_hours),
            "journal_days" => Value::Int(self.journal_days),
            "keepalive_seconds" => Value::Int(self.keepalive_seconds),
            "letters_per_connection" => Value::Int(self.letters_per_connection),
            "delivery" => Value::Bytes(self.delivery.as_str().as_bytes().to_vec()),
            "keep_letters" => Value::Bytes(self.keep_letters.as_str().as_bytes().to_vec()),
            "alert_email" => Value::Bytes(self.alert_email.join(", ").into_bytes()),
            // never the URL: what the admin may see of it
            "alert_webhook" => Value::Bytes(
                self.alert_webhook
                    .strip_prefix("sealed:")
                    .and_then(|s| s.split_once('|'))
                    .map_or("", |(shown, _)| shown)
                    .as_bytes()
                    .to_vec(),
            ),
            "alert_after_failures" => Value::Int(self.alert_after_failures),
            "weekly_report" => Value::Bool(self.weekly_report),
            _ => Value::Null,
        }
    }

    /// The text a setting is stored as.
    pub fn stored(&self, key: &str) -> String {
        if key == "alert_webhook" {
            return self.alert_webhook.clone();
        }
        match self.get(key) {
            Value::Bool(b) => if b { "1" } else { "0" }.to_owned(),
            Value::Int(i) => i.to_string(),
            Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
            _ => String::new(),
        }
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let s = Settings::default();
        let got: Vec<String> = KEYS.iter().map(|k| format!("{k}={}", s.stored(k))).collect();
        assert_eq!(
            got.join(" "),
            "enabled=0 log_enabled=1 log_level=2 log_period=day log_max_mb=10 timeout=10 check_sends_test=0 test_recipient= fallback=mail outbox_max_hours=48 journal_days=30 keepalive_seconds=30 letters_per_connection=100 delivery=background keep_letters=failed alert_email= alert_webhook= alert_after_failures=3 weekly_report=1"
        );
    }

    #[test]
    fn apply_is_all_or_nothing() {
        let mut s = Settings::default();
        let changes: Fields = [("enabled".to_string(), Value::Bool(true)), ("log_level".to_string(), Value::Int(9))].into_iter().collect();
        assert_eq!(s.apply(&changes).unwrap_err().field, "log_level");
        assert_eq!(s, Settings::default());
        let changes: Fields = [("fallback".to_string(), Value::Bytes(b"none".to_vec()))].into_iter().collect();
        s.apply(&changes).unwrap();
        assert_eq!(s.fallback, Fallback::None);
    }

    #[test]
    fn unknown_and_invalid_are_named() {
        let mut s = Settings::default();
        for (key, value) in
            [("colour", Value::Int(1)), ("test_recipient", Value::Bytes(b"nope".to_vec())), ("log_period", Value::Bytes(b"hour".to_vec()))]
        {
            let changes: Fields = [(key.to_string(), value)].into_iter().collect();
            assert_eq!(s.apply(&changes).unwrap_err().field, key);
        }
    }

    #[test]
    fn stored_round_trip_and_tolerance() {
        let s = Settings::from_stored([("enabled", "1"), ("timeout", "30"), ("log_level", "garbage")]);
        assert!(s.enabled);
        assert_eq!(s.timeout, 30);
        assert_eq!(s.log_level, Level::Reply);
    }

    #[test]
    fn the_webhook_is_stored_sealed_and_shown_masked() {
        let mut changes: Fields =
            [("alert_webhook".to_string(), Value::Bytes(b"https://hooks.slack.com/services/T0/B0/secret".to_vec()))].into_iter().collect();
        seal_webhook(&mut changes, |url| url.bytes().rev().collect()).unwrap();
        let mut s = Settings::default();
        s.apply(&changes).unwrap();
        assert_eq!(s.get("alert_webhook"), Value::Bytes("https://hooks.slack.com/•••".as_bytes().to_vec()));
        assert!(!s.stored("alert_webhook").contains("secret"), "{}", s.stored("alert_webhook"));
        let unsealed: Vec<u8> = s.sealed_webhook().unwrap().into_iter().rev().collect();
        assert_eq!(unsealed, b"https://hooks.slack.com/services/T0/B0/secret");
        // the masked value sent back keeps it; plain http elsewhere than loopback is refused; empty clears
        let mut back: Fields = [("alert_webhook".to_string(), s.get("alert_webhook"))].into_iter().collect();
        seal_webhook(&mut back, |_| unreachable!()).unwrap();
        assert!(back.is_empty());
        let mut plain: Fields = [("alert_webhook".to_string(), Value::Bytes(b"http://example.com/hook".to_vec()))].into_iter().collect();
        assert_eq!(seal_webhook(&mut plain, |_| Vec::new()).unwrap_err().field, "alert_webhook");
        let raw: Fields = [("alert_webhook".to_string(), Value::Bytes(b"https://x.test/hook".to_vec()))].into_iter().collect();
        assert!(Settings::default().apply(&raw).is_err(), "an unsealed URL never reaches the store");
        let mut cleared: Fields = [("alert_webhook".to_string(), Value::Bytes(Vec::new()))].into_iter().collect();
        seal_webhook(&mut cleared, |_| unreachable!()).unwrap();
        s.apply(&cleared).unwrap();
        assert_eq!(s.sealed_webhook(), None);
    }
}
