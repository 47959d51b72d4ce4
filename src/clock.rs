//! Wall-clock helpers: unix seconds and the two date formats we write.

use std::time::{SystemTime, UNIX_EPOCH};

use mail_parser::DateTime;

pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// RFC 5322 date for a `Date:` header, in UTC.
pub fn rfc5322(unix: i64) -> String {
    DateTime::from_timestamp(unix).to_rfc822()
}

/// `2026-11-22 10:00:00` (UTC), for transcripts.
pub fn iso(unix: i64) -> String {
    let d = DateTime::from_timestamp(unix);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", d.year, d.month, d.day, d.hour, d.minute, d.second)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::rfc5322(1_795_341_600), "Sun, 22 Nov 2026 10:00:00 +0000");
        assert_eq!(super::iso(1_795_341_600), "2026-11-22 10:00:00");
    }
}
