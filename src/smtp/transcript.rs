//! What was said on an SMTP connection, recorded with the PHPMailer SMTPDebug
//! levels admins know: 1 client commands, 2 + server replies, 3 + connection
//! information, 4 + low-level data (the message itself). Byte-safe: a
//! windows-1251 letter is recorded as its own bytes. Secrets are never
//! recorded: callers pass AUTH lines through [`Transcript::command_masked`].

use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Command = 1,
    Reply = 2,
    Connection = 3,
    Data = 4,
}

#[derive(Debug, Clone)]
struct Entry {
    unix: i64,
    elapsed_ms: u128,
    level: Level,
    text: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Transcript {
    started: Instant,
    entries: Vec<Entry>,
}

impl Default for Transcript {
    fn default() -> Self {
        Self { started: Instant::now(), entries: Vec::new() }
    }
}

pub const MASK: &str = "********";

impl Transcript {
    fn push(&mut self, level: Level, prefix: &str, text: &[u8]) {
        let mut line = Vec::with_capacity(prefix.len() + text.len());
        line.extend_from_slice(prefix.as_bytes());
        line.extend_from_slice(text);
        self.entries.push(Entry {
            unix: crate::clock::now_unix(),
            elapsed_ms: self.started.elapsed().as_millis(),
            level,
            text: line,
        });
    }

    pub fn command(&mut self, line: &str) {
        self.push(Level::Command, "CLIENT -> SERVER: ", line.trim_end().as_bytes());
    }

    /// A command whose argument is a secret: only `shown` is recorded.
    pub fn command_masked(&mut self, shown: &str) {
        self.push(Level::Command, "CLIENT -> SERVER: ", shown.as_bytes());
    }

    pub fn reply(&mut self, text: &str) {
        for line in text.lines() {
            self.push(Level::Reply, "SERVER -> CLIENT: ", line.as_bytes());
        }
    }

    pub fn connection(&mut self, text: impl AsRef<str>) {
        self.push(Level::Connection, "", text.as_ref().as_bytes());
    }

    /// The message as sent in DATA, line by line, bytes unchanged.
    pub fn data(&mut self, bytes: &[u8]) {
        for line in crate::headers::lines(bytes) {
            self.push(Level::Data, "CLIENT -> SERVER: ", line);
        }
    }

    /// A note outside the conversation (outcome, errors): shown at every level.
    pub fn note(&mut self, text: impl AsRef<str>) {
        self.push(Level::Command, "", text.as_ref().as_bytes());
    }

    /// The entries up to `level`, one line each: `2026-11-22 10:00:00 [+12ms] text`.
    pub fn render(&self, level: i64) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in self.entries.iter().filter(|e| (e.level as i64) <= level) {
            out.extend_from_slice(format!("{} [+{}ms] ", crate::clock::iso(entry.unix), entry.elapsed_ms).as_bytes());
            out.extend_from_slice(&entry.text);
            out.push(b'\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &Transcript, level: i64) -> String {
        String::from_utf8_lossy(&t.render(level)).into_owned()
    }

    #[test]
    fn levels_filter_entries() {
        let mut t = Transcript::default();
        t.connection("Connected to 127.0.0.1:25");
        t.reply("220 ready");
        t.command("EHLO host\r\n");
        t.command_masked("AUTH PLAIN ********");
        t.data(b"Subject: x\r\n\r\nbody\r\n");
        let one = text(&t, 1);
        assert!(one.contains("CLIENT -> SERVER: EHLO host\n") && !one.contains("220 ready") && !one.contains("Connected"));
        let two = text(&t, 2);
        assert!(two.contains("SERVER -> CLIENT: 220 ready") && !two.contains("Connected") && !two.contains("body"));
        assert!(text(&t, 3).contains("Connected to") && !text(&t, 3).contains("body"));
        assert!(text(&t, 4).contains("CLIENT -> SERVER: body"));
    }

    #[test]
    fn data_keeps_its_bytes() {
        let mut t = Transcript::default();
        t.data(b"\xcf\xf0\xe8\xe2\xe5\xf2\r\n");
        assert!(t.render(4).ends_with(b"CLIENT -> SERVER: \xcf\xf0\xe8\xe2\xe5\xf2\n"));
    }
}
