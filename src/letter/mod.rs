//! A letter as Bitrix hands it to `custom_mail()` (SPEC §1), read into what
//! routing and sending need, and rendered back into the exact bytes to send
//! (SPEC §4). Pure: no PHP, no network, no clock except what is passed in.

pub mod addresses;
pub mod headers;
#[cfg(test)]
mod properties;

use std::collections::HashSet;
use std::str::FromStr;

use base64::Engine;
use lettre::Address;

use crate::letter::headers::{charset_param, decode_text, neutralize_controls, normalize_crlf, split_fields, HeaderField, Mailbox};

/// The five byte-string arguments of `custom_mail()`.
#[derive(Debug, Clone, Copy)]
pub struct MailArgs<'a> {
    pub to: &'a [u8],
    pub subject: &'a [u8],
    pub message: &'a [u8],
    pub headers: &'a [u8],
    pub parameters: &'a [u8],
}

/// Header markers of mass mailings, in the order of SPEC §2.
const MAILING_MARKERS: [&str; 3] = ["X-Smtp34-Mailing", "X-Bitrix-Posting", "X-Sender-Posting"];
/// Markers that are ours (or the replaced module's) and never leave the site.
const INTERNAL_MARKERS: [&str; 2] = ["X-Smtp34-Mailing", "X-Sender-Posting"];

#[derive(Debug, Clone)]
pub struct Letter {
    /// The `From` mailbox; `None` when the letter has no readable From.
    pub from: Option<Mailbox>,
    /// The mailing id when the letter is a mass mailing.
    pub mailing: Option<String>,
    /// Valid envelope recipients: To + Cc + Bcc, de-duplicated.
    pub recipients: Vec<Address>,
    /// Recipient entries that are not valid addresses (reported, not sent to).
    pub invalid_recipients: Vec<String>,
    /// `-f` from the sendmail parameters, when given and valid.
    pub envelope_from: Option<Address>,
    /// The decoded subject, for the journal.
    pub subject: String,
    /// The Message-ID the letter goes out with (its own or one we add).
    pub message_id: String,
    /// Header lines that were not header fields and were dropped.
    pub dropped_header_lines: usize,
    to: Vec<u8>,
    raw_subject: Vec<u8>,
    fields: Vec<HeaderField>,
    add_message_id: bool,
    body: Vec<u8>,
}

impl Letter {
    /// Reads the arguments. `unique` makes a generated Message-ID unique
    /// (random hex from the caller, so this stays deterministic under test).
    pub fn parse(args: &MailArgs, unique: &str) -> Letter {
        let (mut fields, dropped) = split_fields(args.headers);
        // the letter's own charset: its Content-Type's, else its first text part's
        let charset = fields
            .iter()
            .find(|f| f.is("Content-Type"))
            .and_then(|f| charset_param(&f.unfolded_value()))
            .or_else(|| first_part_charset(args.message));
        let charset = charset.as_deref();

        let mailing = MAILING_MARKERS
            .iter()
            .find_map(|marker| fields.iter().find(|f| f.is(marker)).map(|f| String::from_utf8_lossy(&f.unfolded_value()).into_owned()));

        let from =
            fields.iter().find(|f| f.is("From")).and_then(|f| addresses::parse(&f.unfolded_value(), charset).mailboxes.into_iter().next());

        let mut entries: Vec<Mailbox> = Vec::new();
        let mut unreadable: Vec<String> = Vec::new();
        let mut to = neutralize_controls(args.to);
        let to_list = addresses::parse(&to, charset);
        if to_list.revealed {
            // addresses were hidden in encoded words: mail clients must see them too
            to = format_list(&to_list.mailboxes).into_bytes();
        }
        entries.extend(to_list.mailboxes);
        unreadable.extend(to_list.rejected);
        for field in fields.iter_mut().filter(|f| f.is("Cc") || f.is("Bcc")) {
            let list = addresses::parse(&field.unfolded_value(), charset);
            if list.revealed && field.is("Cc") {
                if let Some(rewritten) = HeaderField::new(field.name(), format_list(&list.mailboxes).as_bytes()) {
                    *field = rewritten;
                }
            }
            entries.extend(list.mailboxes);
            unreadable.extend(list.rejected);
        }
        let (recipients, mut invalid_recipients) = valid_unique(entries);
        invalid_recipients.extend(unreadable);

        fields.retain(|f| !f.is("Bcc") && !INTERNAL_MARKERS.iter().any(|m| f.is(m)));

        let own_message_id = fields.iter().find(|f| f.is("Message-ID")).map(|f| String::from_utf8_lossy(&f.unfolded_value()).into_owned());
        let add_message_id = own_message_id.is_none();
        let message_id = own_message_id.unwrap_or_else(|| {
            let domain = from
                .as_ref()
                .and_then(|m| m.address.rsplit_once('@').map(|(_, d)| d.to_owned()))
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "smtp34.localhost".to_owned());
            format!("<{unique}@{domain}>")
        });

        Letter {
            from,
            mailing,
            recipients,
            invalid_recipients,
            envelope_from: envelope_sender(args.parameters),
            subject: decode_text(args.subject, charset),
            message_id,
            dropped_header_lines: dropped.len(),
            raw_subject: subject_field(args.subject, charset),
            to,
            fields,
            add_message_id,
            body: normalize_crlf(args.message),
        }
    }

    pub fn has_date(&self) -> bool {
        self.fields.iter().any(|f| f.is("Date"))
    }

    /// The message as it goes out: To and Subject from the arguments, the
    /// letter's own headers (Bcc and internal markers removed, From given the
    /// account's sender name only when it has none), Message-ID and Date when
    /// missing, a blank line, the body. CRLF throughout, ending with exactly
    /// one CRLF so the DATA terminator adds no blank line.
    /// `date` is an RFC 5322 date, used only when the letter has none.
    pub fn render(&self, sender_name: &str, date: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 1024);
        push_field(&mut out, b"To", &self.to);
        push_field(&mut out, b"Subject", &self.raw_subject);
        for field in &self.fields {
            match (&self.from, field.is("From")) {
                (Some(from), true) if from.name.is_empty() && !sender_name.trim().is_empty() => {
                    let value = format_mailbox(sender_name.trim(), &from.address);
                    push_field(&mut out, b"From", value.as_bytes());
                }
                _ => push_folded(&mut out, field.as_bytes()),
            }
        }
        if self.add_message_id {
            push_field(&mut out, b"Message-ID", self.message_id.as_bytes());
        }
        if !self.has_date() {
            push_field(&mut out, b"Date", date.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        if !self.body.is_empty() && !self.body.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let mut field = Vec::with_capacity(name.len() + 2 + value.len());
    field.extend_from_slice(name);
    field.extend_from_slice(b": ");
    field.extend_from_slice(value);
    push_folded(out, &field);
}

/// RFC 5322 §2.1.1: a line of a message is at most 998 octets.
const MAX_LINE: usize = 998;

/// A header field (its lines joined by CRLF) with its CRLF, every line of
/// it at most [`MAX_LINE`] octets. A longer line is folded before the last
/// space or tab that fits, so unfolding gives back the very value; a line
/// with no such blank is broken after its last `,` or `;` that fits (a list
/// reads the same with a space there), else where it must be.
fn push_folded(out: &mut Vec<u8>, field: &[u8]) {
    let blank = |b: &u8| matches!(b, b' ' | b'\t');
    for line in field.split(|b| *b == b'\n') {
        let mut rest = line.strip_suffix(b"\r").unwrap_or(line);
        // octets already on the output line: the space of a forced break
        let mut lead = 0;
        while lead + rest.len() > MAX_LINE {
            let room = MAX_LINE - lead;
            // the blank starts the next line; never the first octet (no progress)
            if let Some(at) = rest[1..=room].iter().rposition(blank).map(|i| i + 1) {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[at..];
                lead = 0;
            } else {
                let at = rest[..room].iter().rposition(|b| matches!(b, b',' | b';')).map_or(room, |i| i + 1);
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(b"\r\n ");
                rest = &rest[at..];
                lead = 1;
            }
        }
        out.extend_from_slice(rest);
        out.extend_from_slice(b"\r\n");
    }
}

/// An address with its domain in punycode (`ivan@пример.рф` → `ivan@xn--e1afmkfd.xn--p1ai`):
/// only a non-ASCII local part then still needs the server's SMTPUTF8.
fn ascii_domain(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => match idna::domain_to_ascii(domain) {
            Ok(ascii) => format!("{local}@{ascii}"),
            Err(_) => address.to_owned(),
        },
        _ => address.to_owned(),
    }
}

fn valid_unique(entries: Vec<Mailbox>) -> (Vec<Address>, Vec<String>) {
    let mut seen = HashSet::new();
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for entry in entries {
        match Address::from_str(&ascii_domain(&entry.address)) {
            Ok(address) => {
                if seen.insert(address.to_string().to_lowercase()) {
                    valid.push(address);
                }
            }
            Err(_) => invalid.push(entry.address),
        }
    }
    (valid, invalid)
}

/// The envelope sender of sendmail parameters: `-fa@b.ru`, `-f a@b.ru`,
/// `-r a@b.ru`, quoted or not; the last valid one, as sendmail takes it.
pub fn envelope_sender(parameters: &[u8]) -> Option<Address> {
    let text = String::from_utf8_lossy(parameters);
    let mut words = text.split_ascii_whitespace();
    let mut found = None;
    while let Some(word) = words.next() {
        let Some(rest) = word.strip_prefix("-f").or_else(|| word.strip_prefix("-r")) else { continue };
        let Some(value) = (if rest.is_empty() { words.next() } else { Some(rest) }) else { break };
        let value = value.trim_matches(|c| c == '\'' || c == '"' || c == '<' || c == '>');
        if let Ok(address) = Address::from_str(value) {
            found = Some(address);
        }
    }
    found
}

/// The Subject as it goes out: as given (folded by [`push_folded`]), but
/// Bitrix writes a subject as one encoded word, which has no blank to fold
/// at: a long one is written anew as several short words.
fn subject_field(subject: &[u8], charset: Option<&str>) -> Vec<u8> {
    let subject = neutralize_controls(subject);
    if subject.len() + "Subject: ".len() <= 998 || subject.contains(&b' ') {
        return subject;
    }
    encode_word(&decode_text(&subject, charset)).into_bytes()
}

/// An address list written for a header: each display name on its own.
fn format_list(mailboxes: &[Mailbox]) -> String {
    mailboxes.iter().map(|m| format_mailbox(&m.name, &m.address)).collect::<Vec<_>>().join(", ")
}

/// The charset of the first text part of a MIME body, if it names one.
fn first_part_charset(body: &[u8]) -> Option<String> {
    let window = &body[..body.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(window).to_ascii_lowercase();
    let at = text.find("content-type: text/")?;
    let line_end = text[at..].find("\n\n").map_or(text.len(), |e| at + e);
    charset_param(&text.as_bytes()[at..line_end])
}

/// `Name <address>` with the name quoted, or RFC 2047 encoded when not ASCII;
/// the bare address when there is no name.
pub fn format_mailbox(name: &str, address: &str) -> String {
    if name.is_empty() {
        address.to_owned()
    } else if name.is_ascii() {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\" <{address}>")
    } else {
        format!("{} <{address}>", encode_word(name))
    }
}

/// RFC 2047 B-encoding in words of at most 75 characters, split on character
/// boundaries and folded.
pub fn encode_word(text: &str) -> String {
    const MAX_CHUNK: usize = 45; // 45 bytes -> 60 base64 chars + 12 = 72 per word
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > MAX_CHUNK {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words.iter().map(|w| format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(w))).collect::<Vec<_>>().join("\r\n ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Sun, 22 Nov 2026 10:00:00 +0000";

    fn args<'a>(to: &'a [u8], subject: &'a [u8], message: &'a [u8], headers: &'a [u8], parameters: &'a [u8]) -> MailArgs<'a> {
        MailArgs { to, subject, message, headers, parameters }
    }

    fn bitrix_headers() -> &'static [u8] {
        b"From: =?UTF-8?B?0JzQsNCz0LDQt9C40L0=?= <shop@site.ru>\r\nReply-To: reply@site.ru\r\nX-Priority: 3 (Normal)\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\nX-EVENT_NAME: USER_INFO\r\nX-MID: 42.7"
    }

    #[test]
    fn reads_a_bitrix_letter() {
        let letter = Letter::parse(
            &args(b"user@mail.ru", b"=?UTF-8?B?0J/RgNC40LLQtdGC?=", "Тело\n".as_bytes(), bitrix_headers(), b"-fbounce@site.ru"),
            "abc",
        );
        assert_eq!(letter.from, Some(Mailbox { name: "Магазин".into(), address: "shop@site.ru".into() }));
        assert_eq!(letter.mailing, None);
        assert_eq!(letter.recipients, vec![Address::from_str("user@mail.ru").unwrap()]);
        assert_eq!(letter.envelope_from, Some(Address::from_str("bounce@site.ru").unwrap()));
        assert_eq!(letter.subject, "Привет");
        assert_eq!(letter.message_id, "<abc@site.ru>");
    }

    fn lines_fit(out: &[u8]) -> bool {
        out.split(|b| *b == b'\n').all(|line| line.strip_suffix(b"\r").unwrap_or(line).len() <= MAX_LINE)
    }

    fn unfold(out: &[u8]) -> Vec<u8> {
        let text = String::from_utf8(out.to_vec()).unwrap();
        text.trim_end_matches("\r\n").replace("\r\n ", " ").replace("\r\n\t", "\t").into_bytes()
    }

    #[test]
    fn folds_long_header_lines_keeping_the_value() {
        let cc = (0..200).map(|i| format!("\"Получатель {i}\" <user{i}@mail.ru>")).collect::<Vec<_>>().join(", ");
        let field = format!("Cc: {cc}");
        let mut out = Vec::new();
        push_folded(&mut out, field.as_bytes());
        assert!(lines_fit(&out) && out.ends_with(b"\r\n"));
        assert_eq!(unfold(&out), field.as_bytes(), "folded at blanks: unfolding gives the value back");
        assert!(out.windows(3).filter(|w| w == b"\r\n ").count() >= 8);

        // already folded by Bitrix (CRLF TAB) and one of its lines too long
        let field = format!("X-Tags: short\r\n\t{}", "слово ".repeat(400));
        let mut out = Vec::new();
        push_folded(&mut out, field.as_bytes());
        assert!(lines_fit(&out));
        assert_eq!(unfold(&out), field.replace("\r\n\t", "\t").as_bytes());

        // no blank at all: broken after a comma, else where it must be
        for value in ["x".repeat(5000), "a,".repeat(2500)] {
            let field = format!("X-Long: {value}");
            let mut out = Vec::new();
            push_folded(&mut out, field.as_bytes());
            assert!(lines_fit(&out));
            let text = String::from_utf8(out).unwrap();
            assert!(text.lines().count() >= 6);
            assert_eq!(text.replace("\r\n", "").replace(' ', ""), field.replace(' ', ""), "only blanks added");
            if value.starts_with('a') {
                let lines: Vec<&str> = text.lines().collect();
                assert!(lines[1..lines.len() - 1].iter().all(|l| l.ends_with(',')), "broken after a comma: {lines:?}");
            }
        }

        // short lines go out as they came
        let mut out = Vec::new();
        push_folded(&mut out, b"Subject: =?UTF-8?B?SGk=?=\r\n\t=?UTF-8?B?SGk=?=");
        assert_eq!(out, b"Subject: =?UTF-8?B?SGk=?=\r\n\t=?UTF-8?B?SGk=?=\r\n");
        let exactly = format!("X-A: {}", "b".repeat(MAX_LINE - 5));
        let mut out = Vec::new();
        push_folded(&mut out, exactly.as_bytes());
        assert_eq!(out, format!("{exactly}\r\n").into_bytes());
    }

    #[test]
    fn renders_exactly() {
        let letter = Letter::parse(&args(b"user@mail.ru", b"=?UTF-8?B?SGk=?=", b"line1\nline2\n", bitrix_headers(), b""), "abc");
        let out = letter.render("Ignored because From has a name", DATE);
        let expected = [
            "To: user@mail.ru\r\n",
            "Subject: =?UTF-8?B?SGk=?=\r\n",
            "From: =?UTF-8?B?0JzQsNCz0LDQt9C40L0=?= <shop@site.ru>\r\n",
            "Reply-To: reply@site.ru\r\n",
            "X-Priority: 3 (Normal)\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: text/plain; charset=UTF-8\r\n",
            "Content-Transfer-Encoding: 8bit\r\n",
            "X-EVENT_NAME: USER_INFO\r\n",
            "X-MID: 42.7\r\n",
            "Message-ID: <abc@site.ru>\r\n",
            "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n",
            "\r\n",
            "line1\r\nline2\r\n",
        ]
        .concat();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn keeps_own_message_id_and_date_and_adds_no_blank_line() {
        let headers = b"From: a@site.ru\r\nMessage-ID: <own@site.ru>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0300";
        let letter = Letter::parse(&args(b"u@mail.ru", b"s", b"body", headers, b""), "x");
        assert_eq!(letter.message_id, "<own@site.ru>");
        let out = String::from_utf8(letter.render("", DATE)).unwrap();
        assert_eq!(out.matches("Message-ID").count(), 1);
        assert_eq!(out.matches("Date:").count(), 1);
        assert!(out.ends_with("\r\n\r\nbody\r\n"));
    }

    #[test]
    fn collects_cc_and_bcc_in_any_case_and_strips_bcc() {
        let headers = b"From: a@site.ru\r\nCC: c1@mail.ru,\r\n\t=?UTF-8?B?0JjQvNGP?= <c2@mail.ru>\r\nbcc: b1@mail.ru\r\nBCC: B1@MAIL.RU, user@mail.ru\r\nBcc: hidden@mail.ru";
        let letter = Letter::parse(&args(b"user@mail.ru, =?UTF-8?B?0JjQvNGP?= <x@mail.ru>", b"s", b"b", headers, b""), "x");
        let got: Vec<String> = letter.recipients.iter().map(|a| a.to_string()).collect();
        assert_eq!(got, ["user@mail.ru", "x@mail.ru", "c1@mail.ru", "c2@mail.ru", "b1@mail.ru", "hidden@mail.ru"]);
        let out = String::from_utf8(letter.render("", DATE)).unwrap();
        assert!(!out.to_lowercase().contains("bcc"), "{out}");
        assert!(out.contains("CC: c1@mail.ru,\r\n\t=?UTF-8?B?0JjQvNGP?= <c2@mail.ru>\r\n"));
    }

    #[test]
    fn detects_mailings_in_order_and_strips_internal_markers() {
        let headers = b"From: a@site.ru\r\nX-Bitrix-Posting: 7\r\nx-smtp34-mailing: 12\r\nX-Sender-Posting: 3";
        let letter = Letter::parse(&args(b"u@mail.ru", b"s", b"b", headers, b""), "x");
        assert_eq!(letter.mailing.as_deref(), Some("12"));
        let out = String::from_utf8(letter.render("", DATE)).unwrap();
        assert!(out.contains("X-Bitrix-Posting: 7\r\n"));
        assert!(!out.to_lowercase().contains("x-smtp34-mailing"));
        assert!(!out.contains("X-Sender-Posting"));

        for (headers, id) in [(&b"From: a@site.ru\r\nX-Bitrix-Posting: 7"[..], "7"), (b"From: a@site.ru\r\nX-Sender-Posting: 3", "3")] {
            let letter = Letter::parse(&args(b"u@mail.ru", b"s", b"b", headers, b""), "x");
            assert_eq!(letter.mailing.as_deref(), Some(id));
        }
        let plain = Letter::parse(&args(b"u@mail.ru", b"s", b"b", b"From: a@site.ru\r\nPrecedence: bulk", b""), "x");
        assert_eq!(plain.mailing, None);
    }

    #[test]
    fn fills_sender_name_only_when_missing() {
        let letter = Letter::parse(&args(b"u@mail.ru", b"s", b"b", b"From: shop@site.ru", b""), "x");
        let out = String::from_utf8(letter.render("Магазин", DATE)).unwrap();
        assert!(out.contains("From: =?UTF-8?B?0JzQsNCz0LDQt9C40L0=?= <shop@site.ru>\r\n"), "{out}");
        let out = String::from_utf8(letter.render("Shop \"34\"", DATE)).unwrap();
        assert!(out.contains("From: \"Shop \\\"34\\\"\" <shop@site.ru>\r\n"), "{out}");
        let out = String::from_utf8(letter.render("", DATE)).unwrap();
        assert!(out.contains("From: shop@site.ru\r\n"));
    }

    #[test]
    fn windows_1251_bytes_pass_unchanged() {
        let body: &[u8] = b"\xcf\xf0\xe8\xe2\xe5\xf2\n.\n..dot\n";
        let headers: &[u8] = b"From: \xcc\xe0\xe3\xe0\xe7\xe8\xed <shop@site.ru>\r\nContent-Type: text/plain; charset=windows-1251\r\nX-Folded: \xcf\xf0\xe8\r\n\t\xe2\xe5\xf2";
        let letter = Letter::parse(&args(b"u@mail.ru", b"=?windows-1251?B?z/Do4uXy?=", body, headers, b""), "x");
        assert_eq!(letter.from.as_ref().unwrap().name, "Магазин");
        assert_eq!(letter.subject, "Привет");
        let out = letter.render("", DATE);
        let needle: &[u8] = b"\r\n\r\n\xcf\xf0\xe8\xe2\xe5\xf2\r\n.\r\n..dot\r\n";
        assert!(out.ends_with(needle));
        let folded: &[u8] = b"X-Folded: \xcf\xf0\xe8\r\n\t\xe2\xe5\xf2\r\n";
        assert!(out.windows(folded.len()).any(|w| w == folded));
    }

    #[test]
    fn to_and_subject_cannot_inject() {
        let letter = Letter::parse(&args(b"u@mail.ru\r\nBcc: evil@x.ru", b"Hi\r\nBcc: evil2@x.ru", b"b", b"From: a@site.ru", b""), "x");
        let out = String::from_utf8(letter.render("", DATE)).unwrap();
        assert!(out.starts_with("To: u@mail.ru  Bcc: evil@x.ru\r\nSubject: Hi  Bcc: evil2@x.ru\r\nFrom:"), "{out}");
        assert!(letter.recipients.iter().all(|a| !a.to_string().contains("evil2")));
    }

    #[test]
    fn bad_input_is_reported_not_fatal() {
        let letter = Letter::parse(&args(b"not an address, ok@mail.ru, bad@", b"", b"", b"garbage\r\n\r\n: x", b"-f"), "x");
        assert_eq!(letter.from, None);
        assert_eq!(letter.recipients.len(), 1);
        assert_eq!(letter.invalid_recipients.len(), 2, "{:?}", letter.invalid_recipients);
        assert_eq!(letter.dropped_header_lines, 2);
        assert_eq!(letter.envelope_from, None);
        assert_eq!(letter.message_id, "<x@smtp34.localhost>");
    }

    #[test]
    fn envelope_sender_forms() {
        for p in ["-fa@b.ru", "-f a@b.ru", "-f'a@b.ru'", "-i -f \"a@b.ru\""] {
            assert_eq!(envelope_sender(p.as_bytes()).map(|a| a.to_string()).as_deref(), Some("a@b.ru"), "{p}");
        }
        assert_eq!(envelope_sender(b"-f not-an-address"), None);
        assert_eq!(envelope_sender(b""), None);
        // the last valid -f or -r, as sendmail takes it
        for p in ["-fbad -f good@b.ru", "-f good@b.ru -fbad", "-r good@b.ru", "-fa@b.ru -rgood@b.ru", "-f good@b.ru -f"] {
            assert_eq!(envelope_sender(p.as_bytes()).map(|a| a.to_string()).as_deref(), Some("good@b.ru"), "{p}");
        }
    }

    #[test]
    fn long_to_and_subject_lines_are_folded() {
        let to: Vec<String> = (0..100).map(|i| format!("user{i}@mail.ru")).collect();
        let subject = format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode("Очень длинная тема ".repeat(60)));
        let letter = Letter::parse(&args(to.join(", ").as_bytes(), subject.as_bytes(), b"b\n", b"From: a@b.ru", b""), "x");
        let rendered = letter.render("", DATE);
        for line in rendered.split(|b| *b == b'\n') {
            assert!(line.len() <= 998, "a line of {} octets", line.len());
        }
        assert_eq!(letter.recipients.len(), 100);
        let again = Letter::parse(
            &args(
                b"a@b.ru",
                &rendered[rendered.windows(9).position(|w| w == b"Subject: ").unwrap() + 9
                    ..rendered.windows(9).position(|w| w == b"\r\nFrom: a").unwrap()],
                b"",
                b"",
                b"",
            ),
            "x",
        );
        assert_eq!(again.subject, letter.subject, "the subject reads the same");
        assert_eq!(letter.subject.trim_end(), "Очень длинная тема ".repeat(60).trim_end());
    }

    #[test]
    fn a_raw_8bit_from_is_read_in_the_first_text_parts_charset() {
        // KOI8-R, so the windows-1251 fallback would read it wrong
        let body = b"--b\nContent-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n--b--\n";
        let headers = b"From: \xed\xc1\xc7\xc1\xda\xc9\xce <shop@site.ru>\r\nContent-Type: multipart/mixed; boundary=\"b\"";
        let letter = Letter::parse(&args(b"a@b.ru", b"s", body, headers, b""), "x");
        assert_eq!(letter.from.unwrap().name, "Магазин");
    }

    #[test]
    fn domains_go_out_in_punycode() {
        let letter =
            Letter::parse(&args("good@example.test, ivan@пример.рф, Иван@пример.рф".as_bytes(), b"s", b"b", b"From: a@b.ru", b""), "x");
        let got: Vec<String> = letter.recipients.iter().map(Address::to_string).collect();
        assert_eq!(got, ["good@example.test", "ivan@xn--e1afmkfd.xn--p1ai", "Иван@xn--e1afmkfd.xn--p1ai"]);
    }

    #[test]
    fn nul_bytes_never_go_out() {
        let letter = Letter::parse(&args(b"a@b.ru", b"s\0x", b"body\0with nul\n", b"From: a@b.ru\r\nX-Note: a\0b", b""), "x");
        let rendered = letter.render("", DATE);
        assert!(!rendered.contains(&0), "{}", String::from_utf8_lossy(&rendered));
    }

    #[test]
    fn long_names_are_split_into_short_words() {
        let name = "Очень длинное имя отправителя ".repeat(4);
        let encoded = encode_word(name.trim());
        for word in encoded.split("\r\n ") {
            assert!(word.len() <= 75, "{word}");
        }
        assert_eq!(decode_text(encoded.as_bytes(), None), name.trim());
    }
}
