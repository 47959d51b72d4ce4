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
pub const KEYS: [&str; 14] = [
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
            _ => Value::Null,
        }
    }

    /// The text a setting is stored as.
    pub fn stored(&self, key: &str) -> String {
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
            "enabled=0 log_enabled=1 log_level=2 log_period=day log_max_mb=10 timeout=10 check_sends_test=0 test_recipient= fallback=mail outbox_max_hours=48 journal_days=30 keepalive_seconds=30 letters_per_connection=100 delivery=background"
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
}
