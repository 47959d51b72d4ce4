//! What was said on an SMTP connection, recorded with the PHPMailer SMTPDebug
//! levels admins know: 1 client commands, 2 + server replies, 3 + connection
//! information, 4 + low-level data (the message itself). Secrets are never
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
    text: String,
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
    fn push(&mut self, level: Level, text: String) {
        self.entries.push(Entry {
            unix: crate::clock::now_unix(),
            elapsed_ms: self.started.elapsed().as_millis(),
            level,
            text,
        });
    }

    pub fn command(&mut self, line: &str) {
        self.push(Level::Command, format!("CLIENT -> SERVER: {}", line.trim_end()));
    }

    /// A command whose argument is a secret: only `shown` is recorded.
    pub fn command_masked(&mut self, shown: &str) {
        self.push(Level::Command, format!("CLIENT -> SERVER: {shown}"));
    }

    pub fn reply(&mut self, text: &str) {
        for line in text.lines() {
            self.push(Level::Reply, format!("SERVER -> CLIENT: {line}"));
        }
    }

    pub fn connection(&mut self, text: impl Into<String>) {
        self.push(Level::Connection, text.into());
    }

    pub fn data(&mut self, bytes: &[u8]) {
        for line in String::from_utf8_lossy(bytes).lines() {
            self.push(Level::Data, format!("CLIENT -> SERVER: {line}"));
        }
    }

    /// Adds a note outside the conversation (outcome, errors): shown at every level.
    pub fn note(&mut self, text: impl Into<String>) {
        self.push(Level::Command, text.into());
    }

    /// The entries up to `level`, one line each: `2026-11-22 10:00:00 [+12ms] text`.
    pub fn render(&self, level: i64) -> String {
        let mut out = String::new();
        for entry in self.entries.iter().filter(|e| (e.level as i64) <= level) {
            out.push_str(&format!("{} [+{}ms] {}\n", crate::clock::iso(entry.unix), entry.elapsed_ms, entry.text));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_filter_entries() {
        let mut t = Transcript::default();
        t.connection("Connected to 127.0.0.1:25");
        t.reply("220 ready");
        t.command("EHLO host\r\n");
        t.command_masked("AUTH PLAIN ********");
        t.data(b"Subject: x\r\n\r\nbody\r\n");
        let one = t.render(1);
        assert!(one.contains("CLIENT -> SERVER: EHLO host\n") && !one.contains("220 ready") && !one.contains("Connected"));
        let two = t.render(2);
        assert!(two.contains("SERVER -> CLIENT: 220 ready") && !two.contains("Connected") && !two.contains("body"));
        assert!(t.render(3).contains("Connected to") && !t.render(3).contains("body"));
        assert!(t.render(4).contains("CLIENT -> SERVER: body"));
    }
}
