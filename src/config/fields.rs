//! Values arriving from PHP arrays, converted without PHP types, and the
//! validation error that becomes `\ValueError` naming the field.

use std::collections::BTreeMap;
use std::fmt;

/// A scalar from a PHP array.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    /// Arrays, objects and the like: never a valid field value.
    Other(&'static str),
}

pub type Fields = BTreeMap<String, Value>;

/// A value that is one of a few words (a setting like `fallback`).
pub trait Choice: Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Value {
    /// A boolean as a form would send it: true/false, 1/0, "1"/"0", "Y"/"N", "on"/"off", "yes"/"no".
    pub fn to_bool(&self, field: &str) -> Result<bool, FieldError> {
        let bad = || FieldError::new(field, "must be a boolean");
        match self {
            Value::Bool(b) => Ok(*b),
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            Value::Bytes(bytes) => match String::from_utf8_lossy(bytes).trim().to_ascii_lowercase().as_str() {
                "1" | "y" | "yes" | "true" | "on" => Ok(true),
                "0" | "n" | "no" | "false" | "off" | "" => Ok(false),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    pub fn to_int(&self, field: &str) -> Result<i64, FieldError> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
            Value::Bytes(bytes) => {
                String::from_utf8_lossy(bytes).trim().parse().map_err(|_| FieldError::new(field, "must be a whole number"))
            }
            _ => Err(FieldError::new(field, "must be a whole number")),
        }
    }

    pub fn to_int_in(&self, field: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, FieldError> {
        let value = self.to_int(field)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(FieldError::new(field, format!("must be from {} to {}", range.start(), range.end())))
        }
    }

    /// A UTF-8 string; numbers are accepted as their decimal text.
    pub fn to_text(&self, field: &str) -> Result<String, FieldError> {
        match self {
            Value::Null => Ok(String::new()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Bytes(bytes) => String::from_utf8(bytes.clone())
                .map_err(|_| FieldError::new(field, "must be UTF-8 text (convert from the site charset first)")),
            _ => Err(FieldError::new(field, "must be a string")),
        }
    }

    /// Text that goes onto an SMTP line or into a header: no control characters.
    pub fn to_line(&self, field: &str) -> Result<String, FieldError> {
        let text = self.to_text(field)?;
        if text.chars().any(char::is_control) {
            return Err(FieldError::new(field, "must not contain control characters or line breaks"));
        }
        Ok(text)
    }

    /// One of a fixed set of words, case-insensitive.
    /// One of `T`'s words, in any case.
    pub fn to_enum<T: Choice>(&self, field: &str) -> Result<T, FieldError> {
        let text = self.to_text(field)?.trim().to_ascii_lowercase();
        T::ALL.iter().copied().find(|c| c.as_str() == text).ok_or_else(|| {
            let words: Vec<&str> = T::ALL.iter().map(|c| c.as_str()).collect();
            FieldError::new(field, format!("must be one of: {}", words.join(", ")))
        })
    }

    pub fn to_choice(&self, field: &str, choices: &[&'static str]) -> Result<&'static str, FieldError> {
        let text = self.to_text(field)?.trim().to_ascii_lowercase();
        choices
            .iter()
            .find(|c| **c == text)
            .copied()
            .ok_or_else(|| FieldError::new(field, format!("must be one of: {}", choices.join(", "))))
    }
}

/// An account's or a setting's email address: the plain form that goes on
/// an SMTP envelope (`local@domain`, the local part of dots and atext, the
/// domain a host name, international ones allowed), nothing quoted, no
/// display name, no spaces or angle brackets.
pub fn check_email(field: &str, text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    let bad = || FieldError::new(field, format!("'{}' is not a valid email address", text.escape_default()));
    let (local, domain) = text.rsplit_once('@').ok_or_else(bad)?;
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = !local.is_empty() && local.len() <= 64 && local.split('.').all(|part| !part.is_empty() && part.chars().all(atext));
    if !local_ok || check_host_name(domain).is_err() || text.parse::<lettre::Address>().is_err() {
        return Err(bad());
    }
    Ok(text.to_owned())
}

/// A host name (international ones through IDNA) or an IP address; no port,
/// no path, at most 253 characters.
pub fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() || host.len() > 253 {
        return Err("must be a host name or an IP address of at most 253 characters".into());
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let ascii = idna::domain_to_ascii(host).map_err(|_| "must be a host name or an IP address".to_owned())?;
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if ascii.trim_end_matches('.').split('.').all(label_ok) {
        Ok(())
    } else {
        Err("must be a host name or an IP address (the port goes in its own field)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_forms_send_them() {
        for v in [Value::Bool(true), Value::Int(1), Value::Bytes(b"Y".to_vec()), Value::Bytes(b"on".to_vec())] {
            assert_eq!(v.to_bool("x"), Ok(true));
        }
        for v in [Value::Bool(false), Value::Int(0), Value::Bytes(b"N".to_vec()), Value::Bytes(b"".to_vec())] {
            assert_eq!(v.to_bool("x"), Ok(false));
        }
        assert_eq!(Value::Bytes(b"maybe".to_vec()).to_bool("active").unwrap_err().field, "active");
        assert!(Value::Int(2).to_bool("x").is_err());
    }

    #[test]
    fn emails_are_plain_envelope_addresses() {
        for ok in ["shop@site.ru", "a.b+tag@mail.example.com", "o'neil@b.c", "shop@пример.рф", "x@localhost"] {
            assert_eq!(check_email("email", ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "\"a b <x>\"@b.c",
            "a b@c.d",
            "<a@b.c>",
            "a@b.c>",
            "Name <a@b.c>",
            ".a@b.c",
            "a..b@c.d",
            "a@",
            "@b.c",
            "a@b_c.d",
            "a@b.c:25",
            "a@-b.c",
        ] {
            assert!(check_email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_are_names_or_addresses_without_a_port() {
        for ok in ["smtp.yandex.ru", "127.0.0.1", "::1", "[::1]", "localhost", "smtp.пример.рф", "mail-1.example.com."] {
            assert!(check_host_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(100_000);
        for bad in ["smtp.yandex.ru:465", "smtp/x", "a b", "-a.ru", "a_b.ru", "", long.as_str(), "http://x"] {
            assert!(check_host_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(Value::Bytes(b" 465 ".to_vec()).to_int_in("port", 1..=65535), Ok(465));
        let err = Value::Int(70000).to_int_in("port", 1..=65535).unwrap_err();
        assert_eq!(err.to_string(), "port: must be from 1 to 65535");
        assert!(Value::Bytes(b"abc".to_vec()).to_int("port").is_err());
    }

    #[test]
    fn text_must_be_utf8_and_lines_clean() {
        assert!(Value::Bytes(b"\xcc\xe0".to_vec()).to_text("name").is_err());
        assert!(Value::Bytes(b"host\r\nRCPT".to_vec()).to_line("host").is_err());
        assert_eq!(Value::Bytes("Магазин".as_bytes().to_vec()).to_line("name").unwrap(), "Магазин");
        assert!(Value::Other("array").to_text("name").is_err());
    }

    #[test]
    fn choices_and_emails() {
        assert_eq!(Value::Bytes(b"STARTTLS".to_vec()).to_choice("security", &["none", "ssl", "starttls"]), Ok("starttls"));
        assert!(Value::Bytes(b"tls".to_vec()).to_choice("security", &["none", "ssl", "starttls"]).is_err());
        assert_eq!(check_email("email", " a@b.ru "), Ok("a@b.ru".into()));
        assert!(check_email("email", "a@").is_err());
        assert!(check_email("email", "a b@c.ru").is_err());
    }
}
