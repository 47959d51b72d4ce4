//! Raw header fields as bytes: split, unfold, find by name, decode for display.
//! Nothing here assumes UTF-8; decoded text is only ever used for routing,
//! recipients and the journal, never for the bytes that are sent.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::MessageParser;

/// One header field exactly as given, with its line breaks normalised to CRLF
/// (folded continuation lines included, no trailing CRLF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    raw: Vec<u8>,
    name_len: usize,
}

impl HeaderField {
    /// Builds a field from `Name: value`; `None` when the bytes are not a field.
    pub fn new(name: &[u8], value: &[u8]) -> Option<Self> {
        if !is_field_name(name) {
            return None;
        }
        let mut raw = Vec::with_capacity(name.len() + value.len() + 2);
        raw.extend_from_slice(name);
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        Some(Self { raw, name_len: name.len() })
    }

    pub fn name(&self) -> &[u8] {
        &self.raw[..self.name_len]
    }

    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value as written, folding included, without the leading space.
    pub fn raw_value(&self) -> &[u8] {
        let value = &self.raw[self.name_len + 1..];
        let start = value.iter().position(|b| *b != b' ' && *b != b'\t').unwrap_or(value.len());
        &value[start..]
    }

    /// The value with folding removed (RFC 5322 §2.2.3: CRLF before WSP is deleted).
    pub fn unfolded_value(&self) -> Vec<u8> {
        let value = self.raw_value();
        let mut out = Vec::with_capacity(value.len());
        let mut i = 0;
        while i < value.len() {
            if value[i] == b'\r' && value.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            out.push(value[i]);
            i += 1;
        }
        out.trim_ascii().to_vec()
    }

    /// The whole field, CRLF inside folds, no trailing CRLF.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }
}

fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| (33..=126).contains(b) && *b != b':')
}

/// Splits `$additional_headers` into fields. Lines end in CRLF or LF (mixed
/// endings occur); a bare CR is a space, never a line end, as sendmail-style
/// MTAs read it (a filter that strips LF must not let a CR start a header).
/// A line starting with space or tab continues the previous field. Lines that are not fields (no colon, a bad name, a stray
/// continuation, blank lines) are returned separately so the caller can
/// report them; they are never sent, since they would end or corrupt the
/// header section.
pub fn split_fields(block: &[u8]) -> (Vec<HeaderField>, Vec<Vec<u8>>) {
    let mut fields: Vec<HeaderField> = Vec::new();
    let mut rejected = Vec::new();
    for line in block.split(|b| *b == b'\n') {
        // a bare CR, and a NUL (SMTP forbids it), become spaces
        let line: Vec<u8> =
            line.strip_suffix(b"\r").unwrap_or(line).iter().map(|b| if *b == b'\r' || *b == 0 { b' ' } else { *b }).collect();
        let line = line.as_slice();
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            match fields.last_mut() {
                Some(field) => {
                    field.raw.extend_from_slice(b"\r\n");
                    field.raw.extend_from_slice(line);
                }
                None => rejected.push(line.to_vec()),
            }
            continue;
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        match line.iter().position(|b| *b == b':') {
            Some(colon) if is_field_name(&line[..colon]) => fields.push(HeaderField { raw: line.to_vec(), name_len: colon }),
            _ => rejected.push(line.to_vec()),
        }
    }
    (fields, rejected)
}

/// Normalises every line ending (CRLF, lone LF, lone CR) to CRLF, and
/// turns NUL bytes, which SMTP forbids, into spaces.
pub fn normalize_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut rest = bytes;
    while let Some(i) = memchr::memchr3(b'\r', b'\n', 0, rest) {
        out.extend_from_slice(&rest[..i]);
        let mut next = i + 1;
        match rest[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if rest.get(next) == Some(&b'\n') {
                    next += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b' '),
        }
        rest = &rest[next..];
    }
    out.extend_from_slice(rest);
    out
}

/// What PHP's own mail() does with `$to` and `$subject`: every control
/// character becomes a space, so neither can smuggle in a header or a recipient.
pub fn neutralize_controls(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| if b.is_ascii_control() { b' ' } else { *b }).collect();
    while out.last() == Some(&b' ') {
        out.pop();
    }
    out
}

/// Text of header bytes for parsing: UTF-8 as is, anything else through the
/// letter's own charset, else windows-1251 (the other charset Bitrix sites use).
pub fn to_text(bytes: &[u8], charset_hint: Option<&str>) -> String {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let decoder = charset_hint.and_then(|c| charset_decoder(c.as_bytes())).or_else(|| charset_decoder(b"windows-1251"));
    match decoder {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A mailbox as found in an address header: the decoded display name
/// (possibly empty) and the address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    pub name: String,
    pub address: String,
}

/// Decodes an unstructured header value (RFC 2047 words in any charset).
pub fn decode_text(value: &[u8], charset_hint: Option<&str>) -> String {
    let text = to_text(value, charset_hint);
    let buffer = format!("Subject: {}\r\n\r\n", text.replace(['\r', '\n'], " "));
    MessageParser::new()
        .parse_headers(buffer.as_bytes())
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_else(|| text.trim().to_owned())
}

/// The name comparison rule of SPEC §3: trimmed whitespace and surrounding quotes.
pub fn clean_display_name(name: &str) -> String {
    display_name(name).to_owned()
}

/// [`clean_display_name`] without a copy: the part of `name` it keeps.
pub fn display_name(name: &str) -> &str {
    let mut name = name.trim();
    loop {
        let stripped = ['"', '\''].iter().find_map(|q| name.strip_prefix(*q).and_then(|n| n.strip_suffix(*q)));
        match stripped {
            Some(inner) => name = inner.trim(),
            None => return name,
        }
    }
}

/// The `charset=` parameter of a Content-Type value, if any.
pub fn charset_param(content_type: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(content_type).to_ascii_lowercase();
    let at = text.find("charset=")?;
    let value = text[at + 8..].trim_start().trim_start_matches('"');
    let end = value.find(|c: char| c == '"' || c == ';' || c.is_whitespace()).unwrap_or(value.len());
    let charset = &value[..end];
    (!charset.is_empty()).then(|| charset.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_mixed_endings_and_folds() {
        let block = b"From: a@b.ru\r\nX-Long: one\r\n\ttwo\nCC: c@d.ru\r\nBcc: e@f.ru";
        let (fields, rejected) = split_fields(block);
        assert!(rejected.is_empty());
        assert_eq!(fields.len(), 4);
        assert_eq!(fields[1].as_bytes(), b"X-Long: one\r\n\ttwo");
        assert_eq!(fields[1].unfolded_value(), b"one\ttwo");
        assert!(fields[2].is("cc"));
        assert!(fields[3].is("BCC"));
    }

    #[test]
    fn rejects_lines_that_are_not_fields() {
        let (fields, rejected) = split_fields(b" stray\r\nnot a header\r\n\r\nBad Name: x\r\nOk: y");
        assert_eq!(fields.len(), 1);
        assert_eq!(rejected.len(), 3);
    }

    #[test]
    fn value_with_colons_is_kept_whole() {
        let (fields, _) = split_fields(b"List-Unsubscribe: <https://site.ru/unsub?id=1&x=2>, <mailto:u@site.ru>");
        assert_eq!(fields[0].raw_value(), b"<https://site.ru/unsub?id=1&x=2>, <mailto:u@site.ru>");
    }

    #[test]
    fn a_bare_cr_is_a_space_not_a_new_header() {
        let (fields, rejected) = split_fields(b"From: shop@site.test\r\nReply-To: a@b.c\rBcc: evil@x.test");
        assert!(rejected.is_empty());
        assert_eq!(fields.len(), 2);
        assert!(fields[1].is("Reply-To"));
        assert_eq!(fields[1].unfolded_value(), b"a@b.c Bcc: evil@x.test");
    }

    #[test]
    fn normalizes_every_ending() {
        assert_eq!(normalize_crlf(b"a\nb\r\nc\rd\r\n\n"), b"a\r\nb\r\nc\r\nd\r\n\r\n");
        assert_eq!(normalize_crlf(b"nul\0\r"), b"nul \r\n");
    }

    proptest::proptest! {
        #[test]
        fn scanning_equals_the_byte_by_byte_reading(bytes in proptest::collection::vec(proptest::sample::select(vec![b'\r', b'\n', 0, b'a', 0xd0]), 0..200)) {
            let mut slowly = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'\r' => {
                        slowly.extend_from_slice(b"\r\n");
                        if bytes.get(i + 1) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => slowly.extend_from_slice(b"\r\n"),
                    0 => slowly.push(b' '),
                    b => slowly.push(b),
                }
                i += 1;
            }
            proptest::prop_assert_eq!(normalize_crlf(&bytes), slowly);
        }
    }

    #[test]
    fn neutralizes_injection() {
        assert_eq!(neutralize_controls(b"Hi\r\nBcc: x@y.ru\r\n"), b"Hi  Bcc: x@y.ru");
    }

    #[test]
    fn decodes_subjects() {
        assert_eq!(decode_text(b"=?UTF-8?B?0J/RgNC40LLQtdGC?=", None), "Привет");
        assert_eq!(decode_text(b"=?windows-1251?B?z/Do4uXy?=", None), "Привет");
    }

    #[test]
    fn cleans_names() {
        assert_eq!(clean_display_name("  \" Shop \"  "), "Shop");
        assert_eq!(clean_display_name("'Shop'"), "Shop");
        assert_eq!(clean_display_name("Sh\"op"), "Sh\"op");
    }

    #[test]
    fn reads_charset_param() {
        assert_eq!(charset_param(b"text/plain; charset=\"Windows-1251\""), Some("windows-1251".into()));
        assert_eq!(charset_param(b"multipart/mixed; boundary=\"x\""), None);
    }
}
