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
    /// One line, or for [`Level::Data`] the letter's lines (rendered one per line).
    text: Vec<u8>,
    /// Data only: bytes of the letter left out of the log.
    omitted: usize,
}

/// A transcript records only what its level will show: a letter's bytes are
/// copied only at level 4, once, and at most this much of the rendered log
/// is spent on them (a 20 MB attachment is not worth a 20 MB log entry).
pub const MAX_LOGGED_DATA: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Transcript {
    started: Instant,
    level: i64,
    entries: Vec<Entry>,
}

impl Default for Transcript {
    /// Everything (level 4).
    fn default() -> Self {
        Self::new(Level::Data as i64)
    }
}

pub const MASK: &str = "********";
const CLIENT: &str = "CLIENT -> SERVER: ";
/// `2026-11-22 10:00:00 [+12ms] `: what each rendered line starts with.
const STAMP_LEN: usize = 32;

impl Transcript {
    /// Records entries up to `level` (0: only notes are worth keeping, e.g. logs off).
    pub fn new(level: i64) -> Self {
        Self { started: Instant::now(), level, entries: Vec::new() }
    }

    /// This transcript, then what `later` recorded (a session's own part).
    pub fn followed_by(mut self, later: &mut Transcript) -> Transcript {
        self.entries.append(&mut later.entries);
        self
    }

    pub fn level(&self) -> i64 {
        self.level
    }

    fn records(&self, level: Level) -> bool {
        (level as i64) <= self.level
    }

    fn push(&mut self, level: Level, prefix: &str, text: &[u8]) {
        if !self.records(level) {
            return;
        }
        let mut line = Vec::with_capacity(prefix.len() + text.len());
        line.extend_from_slice(prefix.as_bytes());
        line.extend_from_slice(text);
        self.entries.push(Entry {
            unix: crate::clock::now_unix(),
            elapsed_ms: self.started.elapsed().as_millis(),
            level,
            text: line,
            omitted: 0,
        });
    }

    pub fn command(&mut self, line: &str) {
        self.push(Level::Command, CLIENT, line.trim_end().as_bytes());
    }

    /// A command whose argument is a secret: only `shown` is recorded.
    pub fn command_masked(&mut self, shown: &str) {
        self.push(Level::Command, CLIENT, shown.as_bytes());
    }

    pub fn reply(&mut self, text: &str) {
        for line in text.lines() {
            self.push(Level::Reply, "SERVER -> CLIENT: ", line.as_bytes());
        }
    }

    pub fn connection(&mut self, text: impl AsRef<str>) {
        self.push(Level::Connection, "", text.as_ref().as_bytes());
    }

    /// The message as sent in DATA, bytes unchanged (level 4 only), as much
    /// of it as fits in [`MAX_LOGGED_DATA`] of rendered log.
    pub fn data(&mut self, bytes: &[u8]) {
        if !self.records(Level::Data) {
            return;
        }
        let mut rendered = 0;
        let mut kept = bytes.len();
        let mut at = 0;
        for line in crate::headers::lines(bytes) {
            rendered += STAMP_LEN + CLIENT.len() + line.len() + 1;
            if rendered > MAX_LOGGED_DATA {
                kept = at;
                break;
            }
            // the end of this line and its own ending (CRLF, LF or CR)
            at = (line.as_ptr() as usize - bytes.as_ptr() as usize) + line.len();
            at += match &bytes[at..] {
                [b'\r', b'\n', ..] => 2,
                [b'\r' | b'\n', ..] => 1,
                _ => 0,
            };
        }
        self.entries.push(Entry {
            unix: crate::clock::now_unix(),
            elapsed_ms: self.started.elapsed().as_millis(),
            level: Level::Data,
            text: bytes[..kept].to_vec(),
            omitted: bytes.len() - kept,
        });
    }

    /// A note outside the conversation (outcome, errors): shown at every level.
    pub fn note(&mut self, text: impl AsRef<str>) {
        self.push(Level::Command, "", text.as_ref().as_bytes());
    }

    /// The entries up to `level`, one line each: `2026-11-22 10:00:00 [+12ms] text`.
    pub fn render(&self, level: i64) -> Vec<u8> {
        let mut out = Vec::new();
        // most lines of a conversation share their second and millisecond
        let mut stamp = String::new();
        let mut stamped = None;
        for entry in self.entries.iter().filter(|e| (e.level as i64) <= level) {
            if stamped != Some((entry.unix, entry.elapsed_ms)) {
                stamp = format!("{} [+{}ms] ", crate::clock::iso(entry.unix), entry.elapsed_ms);
                stamped = Some((entry.unix, entry.elapsed_ms));
            }
            let stamp = stamp.as_str();
            let mut line = |text: &[u8]| {
                out.extend_from_slice(stamp.as_bytes());
                out.extend_from_slice(text);
                out.push(b'\n');
            };
            if entry.level != Level::Data {
                line(&entry.text);
                continue;
            }
            for data_line in crate::headers::lines(&entry.text) {
                line(&[CLIENT.as_bytes(), data_line].concat());
            }
            if entry.omitted > 0 {
                line(format!("({} more bytes of the letter not logged)", entry.omitted).as_bytes());
            }
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
    fn records_only_what_its_level_shows() {
        let mut t = Transcript::new(2);
        t.connection("Connected");
        t.data(&vec![b'\n'; 1000]);
        t.reply("220 ready");
        t.note("Result: OK");
        assert_eq!(t.entries.len(), 2, "no connection line, no copy of the letter");
        assert!(text(&t, 4).contains("SERVER -> CLIENT: 220 ready"));
        let mut off = Transcript::new(0);
        off.reply("220 ready");
        off.data(b"body\r\n");
        assert!(off.entries.is_empty());
    }

    #[test]
    fn a_big_letter_is_logged_up_to_a_bound() {
        let mut t = Transcript::default();
        let letter = b"\r\n".repeat(2 * 1024 * 1024); // 4 MB of empty lines
        t.data(&letter);
        let rendered = t.render(4);
        assert!(rendered.len() <= MAX_LOGGED_DATA + 200, "{}", rendered.len());
        let last = String::from_utf8_lossy(rendered.rsplit(|b| *b == b'\n').nth(1).unwrap()).into_owned();
        assert!(last.ends_with("more bytes of the letter not logged)"), "{last}");
        let omitted: usize = last.split('(').nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        let shown = rendered.split(|b| *b == b'\n').filter(|l| l.ends_with(b"CLIENT -> SERVER: ")).count();
        assert_eq!(shown * 2 + omitted, letter.len(), "what is shown and what is left out add up");
    }

    #[test]
    fn data_keeps_its_bytes() {
        let mut t = Transcript::default();
        t.data(b"\xcf\xf0\xe8\xe2\xe5\xf2\r\n");
        assert!(t.render(4).ends_with(b"CLIENT -> SERVER: \xcf\xf0\xe8\xe2\xe5\xf2\n"));
    }
}
