//! What was said on an SMTP connection, recorded with the PHPMailer SMTPDebug
//! levels admins know: 1 client commands, 2 + server replies, 3 + connection
//! information, 4 + low-level data (the message itself). Byte-safe: a
//! windows-1251 letter is recorded as its own bytes. Secrets are never
//! recorded: AUTH lines are emitted through [`command_masked`] only.
//!
//! The SMTP code emits `tracing` events (target [`TARGET`]); a
//! `tracing-subscriber` layer, installed once per thread, hands them to the
//! transcript [`collect`] is gathering for the current letter, at its level:
//! what the level does not show (a body below level 4) is never copied.
//! Events of other targets (lettre's, for one) never reach a transcript.

use std::cell::RefCell;
use std::time::Instant;

use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Command = 1,
    Reply = 2,
    Connection = 3,
    Data = 4,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Command, Level::Reply, Level::Connection, Level::Data];

    /// PHPMailer's SMTPDebug number an admin sets (1 to 4).
    pub fn from_number(number: i64) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.number() == number)
    }

    pub fn number(self) -> i64 {
        self as i64
    }
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
    /// `None`: nothing is recorded (logs off).
    level: Option<Level>,
    entries: Vec<Entry>,
}

impl Default for Transcript {
    /// Everything (level 4).
    fn default() -> Self {
        Self::new(Some(Level::Data))
    }
}

pub const MASK: &str = "********";
const CLIENT: &str = "CLIENT -> SERVER: ";
/// `2026-11-22 10:00:00 [+12ms] `: what each rendered line starts with.
const STAMP_LEN: usize = 32;

impl Transcript {
    /// Records entries up to `level`; `None` records nothing (logs off).
    pub fn new(level: Option<Level>) -> Self {
        Self { started: Instant::now(), level, entries: Vec::new() }
    }

    pub fn level(&self) -> Option<Level> {
        self.level
    }

    fn records(&self, level: Level) -> bool {
        self.level.is_some_and(|most| level <= most)
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

    fn command(&mut self, line: &str) {
        self.push(Level::Command, CLIENT, line.trim_end().as_bytes());
    }

    fn reply(&mut self, text: &str) {
        for line in text.lines() {
            self.push(Level::Reply, "SERVER -> CLIENT: ", line.as_bytes());
        }
    }

    fn connection(&mut self, text: &str) {
        self.push(Level::Connection, "", text.as_bytes());
    }

    /// The message as sent in DATA, bytes unchanged (level 4 only), as much
    /// of it as fits in [`MAX_LOGGED_DATA`] of rendered log.
    fn data(&mut self, bytes: &[u8]) {
        if !self.records(Level::Data) {
            return;
        }
        let mut rendered = 0;
        let mut kept = bytes.len();
        let mut at = 0;
        for line in lines(bytes) {
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

    fn record(&mut self, kind: &str, text: Option<&str>, bytes: Option<&[u8]>) {
        match (kind, text, bytes) {
            ("command", Some(text), _) => self.command(text),
            ("reply", Some(text), _) => self.reply(text),
            ("connection", Some(text), _) => self.connection(text),
            ("note", Some(text), _) => self.note(text),
            ("data", _, Some(bytes)) => self.data(bytes),
            _ => {}
        }
    }

    /// The entries up to `level`, one line each: `2026-11-22 10:00:00 [+12ms] text`.
    pub fn render(&self, level: Level) -> Vec<u8> {
        let mut out = Vec::new();
        // most lines of a conversation share their second and millisecond
        let mut stamp = String::new();
        let mut stamped = None;
        for entry in self.entries.iter().filter(|e| e.level <= level) {
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
            for data_line in lines(&entry.text) {
                line(&[CLIENT.as_bytes(), data_line].concat());
            }
            if entry.omitted > 0 {
                line(format!("({} more bytes of the letter not logged)", entry.omitted).as_bytes());
            }
        }
        out
    }
}

/// The target of the events a transcript is made of.
pub const TARGET: &str = "smtp34::transcript";

/// A client command, as sent.
pub fn command(line: &str) {
    tracing::event!(target: TARGET, tracing::Level::INFO, kind = "command", text = line);
}

/// A command whose argument is a secret: only `shown` is ever emitted.
pub fn command_masked(shown: &str) {
    tracing::event!(target: TARGET, tracing::Level::INFO, kind = "command", text = shown);
}

/// A server reply (its lines joined by `\n`).
pub fn reply(text: &str) {
    tracing::event!(target: TARGET, tracing::Level::INFO, kind = "reply", text = text);
}

/// Connection information (address, TLS, timings).
pub fn connection(text: &str) {
    tracing::event!(target: TARGET, tracing::Level::INFO, kind = "connection", text = text);
}

/// The letter's bytes as sent in DATA: passed by reference, copied only by
/// a transcript at level 4.
pub fn data(bytes: &[u8]) {
    tracing::event!(target: TARGET, tracing::Level::INFO, kind = "data", bytes = bytes);
}

/// A remark outside the conversation, shown at every level.
pub fn note(text: &str) {
    tracing::event!(target: TARGET, tracing::Level::INFO, kind = "note", text = text);
}

thread_local! {
    /// The transcript being gathered on this thread, if any.
    static CURRENT: RefCell<Option<Transcript>> = const { RefCell::new(None) };
    /// This thread's dispatcher (the layer below), installed on first use.
    static INSTALLED: RefCell<Option<tracing::dispatcher::DefaultGuard>> = const { RefCell::new(None) };
}

/// Runs `f`, gathering the transcript events it emits at `level`.
pub fn collect<T>(level: Option<Level>, f: impl FnOnce() -> T) -> (T, Transcript) {
    INSTALLED.with(|installed| {
        let mut installed = installed.borrow_mut();
        if installed.is_none() {
            let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(TranscriptLayer));
            *installed = Some(tracing::dispatcher::set_default(&dispatch));
        }
    });
    let outer = CURRENT.with(|current| current.borrow_mut().replace(Transcript::new(level)));
    let result = f();
    let transcript = CURRENT.with(|current| std::mem::replace(&mut *current.borrow_mut(), outer)).unwrap_or_default();
    (result, transcript)
}

/// Hands this crate's transcript events to the transcript being gathered.
struct TranscriptLayer;

impl<S: tracing::Subscriber> Layer<S> for TranscriptLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target() == TARGET
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            let Some(transcript) = current.as_mut() else { return };
            let mut fields = Fields { transcript, kind: None };
            event.record(&mut fields);
        });
    }
}

/// Reads an event's fields (`kind`, then `text` or `bytes`) into the
/// transcript, at its level.
struct Fields<'t> {
    transcript: &'t mut Transcript,
    kind: Option<&'static str>,
}

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "kind" => {
                self.kind = ["command", "reply", "connection", "note", "data"].into_iter().find(|k| *k == value);
            }
            "text" => self.transcript.record(self.kind.unwrap_or_default(), Some(value), None),
            _ => {}
        }
    }

    fn record_bytes(&mut self, field: &tracing::field::Field, value: &[u8]) {
        if field.name() == "bytes" && self.kind == Some("data") {
            self.transcript.record("data", None, Some(value));
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

/// Lines of a byte block, any of CRLF / LF / CR ending a line, endings removed.
fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = block;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.iter().position(|b| *b == b'\r' || *b == b'\n');
        let (line, next) = match end {
            None => (rest, &rest[rest.len()..]),
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => (&rest[..i], &rest[i + 2..]),
            Some(i) => (&rest[..i], &rest[i + 1..]),
        };
        rest = next;
        Some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &Transcript, level: i64) -> String {
        String::from_utf8_lossy(&t.render(Level::from_number(level).unwrap())).into_owned()
    }

    #[test]
    fn levels_filter_entries() {
        let ((), t) = collect(Level::from_number(4), || {
            connection("Connected to 127.0.0.1:25");
            reply("220 ready");
            command("EHLO host\r\n");
            command_masked("AUTH PLAIN ********");
            data(b"Subject: x\r\n\r\nbody\r\n");
        });
        let one = text(&t, 1);
        assert!(one.contains("CLIENT -> SERVER: EHLO host\n") && !one.contains("220 ready") && !one.contains("Connected"));
        let two = text(&t, 2);
        assert!(two.contains("SERVER -> CLIENT: 220 ready") && !two.contains("Connected") && !two.contains("body"));
        assert!(text(&t, 3).contains("Connected to") && !text(&t, 3).contains("body"));
        assert!(text(&t, 4).contains("CLIENT -> SERVER: body"));
    }

    #[test]
    fn records_only_what_its_level_shows() {
        let ((), t) = collect(Level::from_number(2), || {
            connection("Connected");
            data(&vec![b'\n'; 1000]);
            reply("220 ready");
            note("Result: OK");
        });
        assert_eq!(t.entries.len(), 2, "no connection line, no copy of the letter");
        assert!(text(&t, 4).contains("SERVER -> CLIENT: 220 ready"));
        let ((), off) = collect(None, || {
            reply("220 ready");
            data(b"body\r\n");
        });
        assert!(off.entries.is_empty());
    }

    #[test]
    fn only_this_crates_events_and_only_while_collecting() {
        command("MAIL FROM:<nobody@x>"); // no transcript gathered: dropped
        let ((), t) = collect(Level::from_number(4), || {
            tracing::event!(target: "lettre::transport::smtp", tracing::Level::INFO, kind = "command", text = "AUTH PLAIN c2VjcmV0");
            command("RSET");
            let ((), inner) = collect(Level::from_number(1), || command("QUIT"));
            assert_eq!(inner.entries.len(), 1);
            reply("250 ok");
        });
        let shown = text(&t, 4);
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("QUIT"), "{shown}");
        assert!(shown.contains("CLIENT -> SERVER: RSET\n") && shown.contains("SERVER -> CLIENT: 250 ok"), "{shown}");
    }

    #[test]
    fn a_big_letter_is_logged_up_to_a_bound() {
        let mut t = Transcript::default();
        let letter = b"\r\n".repeat(2 * 1024 * 1024); // 4 MB of empty lines
        t.data(&letter);
        let rendered = t.render(Level::Data);
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
        assert!(t.render(Level::Data).ends_with(b"CLIENT -> SERVER: \xcf\xf0\xe8\xe2\xe5\xf2\n"));
    }
}
