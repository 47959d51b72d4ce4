//! Address lists (To, Cc, Bcc, From), parsed strictly: comma-separated
//! mailboxes as RFC 5322 writes them (a phrase of atoms, quoted strings and
//! encoded words, then an angle address; or a bare address), comments, and
//! the empty group `name:;`. An entry that does not parse is never guessed
//! at: it is returned as rejected, whole, and sends nothing. So
//! `user@a.test Bcc: evil@b.test`, `Team:evil@b.test` and
//! `user@a.test <evil@b.test>` are rejected rather than read as evil's.
//!
//! Bitrix's header encoder hides addresses inside encoded words (SPEC §8):
//! `encodeHeaderFrom` encodes a To/Cc value from its start to its last 8-bit
//! byte, and `encodeMimeString` encodes a whole Bcc in 40-byte pieces. The
//! list is therefore also read with every run of encoded words decoded in
//! place; when that reading parses cleanly and names more addresses, its
//! addresses are the recipients (and `revealed` says the header must be
//! written anew for mail clients to see them).

use std::borrow::Cow;

use base64::Engine;
use mail_parser::decoders::charsets::map::charset_decoder;

use crate::letter::headers::{clean_display_name, to_text, Mailbox};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressList {
    pub mailboxes: Vec<Mailbox>,
    /// Entries that are not mailboxes, as written (after decoding).
    pub rejected: Vec<String>,
    /// The addresses were found inside encoded words.
    pub revealed: bool,
}

/// Parses a header value (raw bytes, any charset: the letter's `charset`
/// first, then UTF-8, then windows-1251).
pub fn parse(value: &[u8], charset: Option<&str>) -> AddressList {
    let text: String = to_text(value, charset).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let plain = parse_text(&text);
    if !text.contains("=?") {
        return plain;
    }
    let decoded = decode_encoded_words(&text);
    let revealed = parse_text(&decoded);
    if revealed.rejected.is_empty() && revealed.mailboxes.len() > plain.mailboxes.len() {
        return AddressList { revealed: true, ..revealed };
    }
    plain
}

fn parse_text(text: &str) -> AddressList {
    let mut list = AddressList::default();
    for entry in split_entries(text) {
        let trimmed = entry.trim();
        if trimmed.is_empty() {
            continue;
        }
        match Parser::new(trimmed).entry() {
            Some(Entry::Mailbox(mailbox)) => list.mailboxes.push(mailbox),
            Some(Entry::EmptyGroup) => {}
            None => list.rejected.push(trimmed.to_owned()),
        }
    }
    list
}

/// Splits at the commas that separate entries (not those inside quotes,
/// comments, angle brackets or domain literals).
fn split_entries(text: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let (mut start, mut depth, mut quoted, mut angle, mut literal, mut escaped) = (0, 0usize, false, false, false, false);
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 && !literal => quoted = !quoted,
            '(' if !quoted && !literal => depth += 1,
            ')' if !quoted && !literal && depth > 0 => depth -= 1,
            '<' if !quoted && depth == 0 => angle = true,
            '>' if !quoted && depth == 0 => angle = false,
            '[' if !quoted && depth == 0 => literal = true,
            ']' if !quoted && depth == 0 => literal = false,
            ',' if !quoted && depth == 0 && !angle && !literal => {
                entries.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    entries.push(&text[start..]);
    entries
}

enum Entry {
    Mailbox(Mailbox),
    EmptyGroup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Atom(&'a str),
    /// Its text without the quotes; owned only when a backslash escaped something.
    Quoted(Cow<'a, str>),
    Literal(&'a str),
    Special(char),
    /// Whitespace (or a comment) between tokens.
    Space,
}

/// atext of RFC 5322, and any non-ASCII character (RFC 6532).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '!' | '#' | '$' | '%' | '&' | '\'' | '*' | '+' | '-' | '/' | '=' | '?' | '^' | '_' | '`' | '{' | '|' | '}' | '~')
        || !c.is_ascii()
}

/// The tokens of `text`, borrowed from it (a list is parsed for every
/// letter: no allocation a token). `None` when a quote, comment or domain
/// literal is not closed, or a character stands where no token may.
fn tokenize(text: &str) -> Option<Vec<Token<'_>>> {
    let mut tokens = Vec::new();
    let space = |tokens: &mut Vec<Token>| {
        if tokens.last() != Some(&Token::Space) {
            tokens.push(Token::Space);
        }
    };
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        let next = at + c.len_utf8();
        if c.is_whitespace() {
            space(&mut tokens);
            at = next;
        } else if c == '(' {
            at = comment_end(text, next)?;
            space(&mut tokens);
        } else if c == '"' {
            let (quoted, end) = quoted_string(text, next)?;
            tokens.push(Token::Quoted(quoted));
            at = end;
        } else if c == '[' {
            let inner = &text[next..][..text[next..].find(']')?];
            if inner.contains(['[', '\\']) {
                return None;
            }
            tokens.push(Token::Literal(inner));
            at = next + inner.len() + 1;
        } else if is_atext(c) {
            let end = text[at..].find(|c: char| !is_atext(c)).map_or(text.len(), |len| at + len);
            tokens.push(Token::Atom(&text[at..end]));
            at = end;
        } else if matches!(c, '<' | '>' | '@' | ',' | ':' | ';' | '.') {
            tokens.push(Token::Special(c));
            at = next;
        } else {
            return None; // ')' alone, '\\', ']' ...
        }
    }
    Some(tokens)
}

/// Just past the `)` that closes a comment whose text starts at `from`
/// (comments nest; a backslash escapes the next character).
fn comment_end(text: &str, from: usize) -> Option<usize> {
    let mut depth = 1;
    let mut chars = text[from..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next()?;
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(from + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// A quoted string whose text starts at `from`: that text with its escapes
/// undone, and where the string ends (just past its closing quote).
fn quoted_string(text: &str, from: usize) -> Option<(Cow<'_, str>, usize)> {
    let mut unescaped: Option<String> = None;
    let mut chars = text[from..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let end = from + i;
                return Some((unescaped.map_or(Cow::Borrowed(&text[from..end]), Cow::Owned), end + 1));
            }
            '\\' => {
                let escaped = chars.next()?.1;
                unescaped.get_or_insert_with(|| text[from..from + i].to_owned()).push(escaped);
            }
            other => {
                if let Some(unescaped) = unescaped.as_mut() {
                    unescaped.push(other);
                }
            }
        }
    }
    None
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser { tokens: tokenize(text).unwrap_or_else(|| vec![Token::Special('!')]), at: 0 }
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.at)
    }

    fn skip_space(&mut self) {
        while self.peek() == Some(&Token::Space) {
            self.at += 1;
        }
    }

    fn special(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Special(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_space();
        self.at == self.tokens.len()
    }

    /// mailbox / empty group, and nothing after it.
    fn entry(&mut self) -> Option<Entry> {
        let start = self.at;
        if let Some(address) = self.bare_address() {
            return Some(Entry::Mailbox(Mailbox { name: String::new(), address }));
        }
        self.at = start;
        self.skip_space();
        let phrase = self.phrase();
        self.skip_space();
        if self.special('<') {
            self.skip_space();
            let address = self.addr_spec()?;
            self.skip_space();
            if !self.special('>') || !self.at_end() {
                return None;
            }
            let name = clean_display_name(&phrase.unwrap_or_default());
            return Some(Entry::Mailbox(Mailbox { name, address }));
        }
        // only the empty group `name:;`
        if phrase.is_some() && self.special(':') {
            self.skip_space();
            if self.special(';') && self.at_end() {
                return Some(Entry::EmptyGroup);
            }
        }
        None
    }

    fn bare_address(&mut self) -> Option<String> {
        self.skip_space();
        let address = self.addr_spec()?;
        self.at_end().then_some(address)
    }

    /// local-part "@" domain, with no space inside.
    fn addr_spec(&mut self) -> Option<String> {
        let local = match self.peek()? {
            Token::Quoted(q) => {
                let quoted = format!("\"{}\"", q.replace('\\', "\\\\").replace('"', "\\\""));
                self.at += 1;
                quoted
            }
            _ => self.dot_atom()?,
        };
        if !self.special('@') {
            return None;
        }
        let domain = match self.peek()? {
            Token::Literal(l) => {
                let literal = format!("[{l}]");
                self.at += 1;
                literal
            }
            _ => self.dot_atom()?,
        };
        // a domain is a host name: letters, digits, hyphens (any script, for IDNA)
        let host_name = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
        if !domain.starts_with('[') && !domain.chars().all(host_name) {
            return None;
        }
        Some(format!("{local}@{domain}"))
    }

    fn dot_atom(&mut self) -> Option<String> {
        let mut out = String::new();
        loop {
            match self.peek()? {
                Token::Atom(a) => out.push_str(a),
                _ => return None,
            }
            self.at += 1;
            if self.peek() == Some(&Token::Special('.')) && matches!(self.tokens.get(self.at + 1), Some(Token::Atom(_))) {
                self.at += 1;
                out.push('.');
            } else {
                return Some(out);
            }
        }
    }

    /// A display name: words (atoms, quoted strings, encoded words), with
    /// dots allowed after the first (obs-phrase: `John Q. Public`).
    fn phrase(&mut self) -> Option<String> {
        let mut words: Vec<(bool, Cow<str>)> = Vec::new(); // (is an encoded word, text)
        loop {
            let save = self.at;
            self.skip_space();
            match self.peek() {
                Some(Token::Atom(a)) => {
                    let word = match decode_word(a) {
                        Some(decoded) => (true, Cow::Owned(decoded)),
                        None => (false, Cow::Borrowed(*a)),
                    };
                    words.push(word);
                    self.at += 1;
                }
                Some(Token::Quoted(q)) => {
                    words.push((false, q.clone()));
                    self.at += 1;
                }
                Some(Token::Special('.')) if !words.is_empty() => {
                    words.push((false, Cow::Borrowed(".")));
                    self.at += 1;
                }
                _ => {
                    self.at = save;
                    break;
                }
            }
        }
        if words.is_empty() {
            return None;
        }
        // adjacent encoded words join without the space between them (RFC 2047 §6.2)
        let mut name = String::new();
        for (i, (encoded, text)) in words.iter().enumerate() {
            if i > 0 && !(*encoded && words[i - 1].0) && text != "." {
                name.push(' ');
            }
            name.push_str(text);
        }
        Some(name)
    }
}

/// An RFC 2047 encoded word `=?charset?B|Q?text?=`: its raw bytes and charset.
fn encoded_word(word: &str) -> Option<(String, Vec<u8>)> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let charset = parts.next()?.split('*').next()?.to_owned(); // RFC 2231 language suffix
    let encoding = parts.next()?;
    let text = parts.next()?;
    if charset.is_empty() || text.contains('?') {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => {
            let trimmed = text.trim_end_matches('=');
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed).ok()?
        }
        "Q" | "q" => {
            let mut out = Vec::with_capacity(text.len());
            let raw = text.as_bytes();
            let mut i = 0;
            while i < raw.len() {
                match raw[i] {
                    b'_' => out.push(b' '),
                    b'=' => {
                        let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    Some((charset, bytes))
}

fn decode_bytes(charset: &str, bytes: &[u8]) -> String {
    if charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8") {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match charset_decoder(charset.as_bytes()) {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn decode_word(word: &str) -> Option<String> {
    let (charset, bytes) = encoded_word(word)?;
    Some(decode_bytes(&charset, &bytes))
}

/// The text with every run of encoded words (separated only by whitespace)
/// replaced by what it says. A run's bytes are joined before the charset is
/// applied: `encodeMimeString` cuts its 40-byte pieces inside characters.
pub fn decode_encoded_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("=?") {
        out.push_str(&rest[..start]);
        let mut cursor = &rest[start..];
        let mut run: Option<(String, Vec<u8>)> = None;
        let mut consumed = 0;
        loop {
            let end = cursor.get(2..).and_then(find_word_end).map(|e| e + 2);
            let Some((charset, bytes)) = end.and_then(|e| encoded_word(&cursor[..e])) else { break };
            let end = end.expect("checked just above");
            match &mut run {
                Some((run_charset, run_bytes)) if run_charset.eq_ignore_ascii_case(&charset) => run_bytes.extend(bytes),
                Some(_) => break,
                None => run = Some((charset, bytes)),
            }
            consumed += end;
            cursor = &cursor[end..];
            let spaces = cursor.len() - cursor.trim_start().len();
            if cursor[spaces..].starts_with("=?") {
                consumed += spaces;
                cursor = &cursor[spaces..];
            } else {
                break;
            }
        }
        match run {
            Some((charset, bytes)) => {
                out.push_str(&decode_bytes(&charset, &bytes));
                rest = &rest[start + consumed..];
            }
            None => {
                out.push_str("=?");
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where `charset?X?text?=` (after the `=?`) ends, just past its `?=`.
fn find_word_end(s: &str) -> Option<usize> {
    let first = s.find('?')?;
    let second = first + 1 + s[first + 1..].find('?')?;
    let close = second + 1 + s[second + 1..].find("?=")?;
    let word = &s[..close];
    (!word.contains(char::is_whitespace)).then_some(close + 2)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn addresses(value: &str) -> Vec<String> {
        parse(value.as_bytes(), None).mailboxes.into_iter().map(|m| m.address).collect()
    }

    fn rejected(value: &str) -> Vec<String> {
        parse(value.as_bytes(), None).rejected
    }

    /// The tokenizer as first written (a `Vec<char>`, a `String` a token):
    /// the oracle the borrowing one must agree with.
    mod first_written {
        fn is_atext(c: char) -> bool {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
        }

        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Token {
            Atom(String),
            Quoted(String),
            Literal(String),
            Special(char),
            /// Whitespace (or a comment) between tokens.
            Space,
        }

        pub fn tokenize(text: &str) -> Option<Vec<Token>> {
            let chars: Vec<char> = text.chars().collect();
            let mut tokens = Vec::new();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                if c.is_whitespace() {
                    if tokens.last() != Some(&Token::Space) {
                        tokens.push(Token::Space);
                    }
                    i += 1;
                } else if c == '(' {
                    let mut depth = 0;
                    loop {
                        match chars.get(i)? {
                            '\\' => i += 1,
                            '(' => depth += 1,
                            ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    i += 1;
                    if tokens.last() != Some(&Token::Space) {
                        tokens.push(Token::Space);
                    }
                } else if c == '"' {
                    let mut value = String::new();
                    i += 1;
                    loop {
                        match *chars.get(i)? {
                            '"' => break,
                            '\\' => {
                                value.push(*chars.get(i + 1)?);
                                i += 1;
                            }
                            other => value.push(other),
                        }
                        i += 1;
                    }
                    i += 1;
                    tokens.push(Token::Quoted(value));
                } else if c == '[' {
                    let end = chars[i..].iter().position(|c| *c == ']')? + i;
                    let inner: String = chars[i + 1..end].iter().collect();
                    if inner.contains(['[', '\\']) {
                        return None;
                    }
                    tokens.push(Token::Literal(inner));
                    i = end + 1;
                } else if is_atext(c) {
                    let start = i;
                    while i < chars.len() && is_atext(chars[i]) {
                        i += 1;
                    }
                    tokens.push(Token::Atom(chars[start..i].iter().collect()));
                } else if "<>@,:;.".contains(c) {
                    tokens.push(Token::Special(c));
                    i += 1;
                } else {
                    return None; // ')' alone, '\\', ']' ...
                }
            }
            Some(tokens)
        }
    }

    fn owned(token: &Token) -> first_written::Token {
        match token {
            Token::Atom(a) => first_written::Token::Atom(a.to_string()),
            Token::Quoted(q) => first_written::Token::Quoted(q.to_string()),
            Token::Literal(l) => first_written::Token::Literal(l.to_string()),
            Token::Special(c) => first_written::Token::Special(*c),
            Token::Space => first_written::Token::Space,
        }
    }

    /// Header-like text: the characters that open, close and escape tokens, and any others.
    fn token_soup() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("a@b.ru".to_owned()),
            Just("\\".to_owned()),
            Just("\"".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("Имя".to_owned()),
            Just("=?UTF-8?B?0JjQvA==?=".to_owned()),
            "[ \t<>@,:;.a-z0-9!#$%&'*+/=?^_`{|}~-]{0,6}",
            any::<String>().prop_map(|s| s.chars().take(4).collect::<String>()),
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_borrowing_tokenizer_agrees_with_the_first_one(text in token_soup()) {
            let borrowed = tokenize(&text).map(|tokens| tokens.iter().map(owned).collect::<Vec<_>>());
            prop_assert_eq!(borrowed, first_written::tokenize(&text), "{:?}", text);
        }
    }

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn well_formed_lists_yield_exactly_their_addresses() {
        assert_eq!(addresses("a@b.ru"), ["a@b.ru"]);
        assert_eq!(addresses(" a@b.ru ,  c@d.ru,"), ["a@b.ru", "c@d.ru"]);
        assert_eq!(addresses("\"Doe, John\" <j@d.ru>, Jane Q. Roe <jane@r.ru>"), ["j@d.ru", "jane@r.ru"]);
        assert_eq!(addresses("<a@b.ru>, (comment) c@d.ru (another, with comma)"), ["a@b.ru", "c@d.ru"]);
        assert_eq!(addresses("\"odd local\"@b.ru, x@[127.0.0.1]"), ["\"odd local\"@b.ru", "x@[127.0.0.1]"]);
        assert_eq!(addresses("Undisclosed recipients:;, a@b.ru"), ["a@b.ru"]);
        let list = parse("=?UTF-8?B?0JzQsNCz0LDQt9C40L0=?= <shop@site.ru>".as_bytes(), None);
        assert_eq!(list.mailboxes, [Mailbox { name: "Магазин".into(), address: "shop@site.ru".into() }]);
        assert!(!list.revealed && list.rejected.is_empty());
    }

    #[test]
    fn a_colon_or_a_second_address_never_makes_a_recipient() {
        for value in [
            "user@example.test Bcc: evil2@evil.test",
            "user@example.test\tBcc: evil2@evil.test",
            "user@example.test\u{2028}Bcc: evil2@evil.test",
            "user@example.test\u{a0}Bcc: evil2@evil.test",
            "Team:evil@evil.test",
            "Team: evil@evil.test;",
            "user@example.test <evil@evil.test>",
            "<evil@evil.test> user@example.test",
            "user @example.test",
            "a@b.ru=?x?=",
            "a@b.ru>",
            "\"unclosed <a@b.ru>",
        ] {
            let list = parse(value.as_bytes(), None);
            assert!(list.mailboxes.is_empty(), "{value:?} gave {:?}", list.mailboxes);
            assert_eq!(list.rejected.len(), 1, "{value:?}");
        }
        assert_eq!(addresses("good@a.ru, user@example.test Bcc: evil@evil.test"), ["good@a.ru"]);
        assert_eq!(rejected("good@a.ru, user@example.test Bcc: evil@evil.test"), ["user@example.test Bcc: evil@evil.test"]);
    }

    #[test]
    fn bitrix_encode_header_from_hides_addresses_that_are_found() {
        // encodeHeaderFrom: one encoded word from the start to the last 8-bit byte
        let original = "Иван Петров <ivan@shop.ru>, Мария Сидорова <maria@shop.ru>";
        let cut = original.rfind('а').unwrap() + 'а'.len_utf8();
        let value = format!("=?UTF-8?B?{}?={}", b64(&original[..cut]), &original[cut..]);
        let list = parse(value.as_bytes(), None);
        assert!(list.revealed);
        assert_eq!(
            list.mailboxes,
            [
                Mailbox { name: "Иван Петров".into(), address: "ivan@shop.ru".into() },
                Mailbox { name: "Мария Сидорова".into(), address: "maria@shop.ru".into() },
            ]
        );
    }

    #[test]
    fn bitrix_encode_mime_string_bcc_in_pieces_cut_inside_characters() {
        let original = "Отдел продаж <sales@shop.ru>, boss@shop.ru, Бухгалтерия <acc@shop.ru>".as_bytes();
        let value: Vec<String> =
            original.chunks(40).map(|c| format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(c))).collect();
        let list = parse(value.join(" ").as_bytes(), None);
        assert!(list.revealed);
        assert_eq!(list.mailboxes.iter().map(|m| m.address.as_str()).collect::<Vec<_>>(), ["sales@shop.ru", "boss@shop.ru", "acc@shop.ru"]);
        assert_eq!(list.mailboxes[2].name, "Бухгалтерия");
    }

    #[test]
    fn windows_1251_encoded_words() {
        let cp = |s: &str| s.chars().map(|c| if c.is_ascii() { c as u8 } else { (c as u32 - 0x410 + 0xC0) as u8 }).collect::<Vec<u8>>();
        let original = cp("Иван <ivan@shop.ru>, Мария");
        let value = format!("=?windows-1251?B?{}?= <maria@shop.ru>", base64::engine::general_purpose::STANDARD.encode(&original));
        let list = parse(value.as_bytes(), None);
        assert_eq!(
            list.mailboxes.iter().map(|m| (m.name.as_str(), m.address.as_str())).collect::<Vec<_>>(),
            [("Иван", "ivan@shop.ru"), ("Мария", "maria@shop.ru")]
        );
    }

    #[test]
    fn an_encoded_name_with_a_comma_stays_a_name() {
        let value = format!("=?UTF-8?B?{}?= <a@b.ru>", b64("Рога, копыта и Co"));
        let list = parse(value.as_bytes(), None);
        assert!(!list.revealed);
        assert_eq!(list.mailboxes, [Mailbox { name: "Рога, копыта и Co".into(), address: "a@b.ru".into() }]);
    }

    #[test]
    fn encoded_text_that_does_not_parse_reveals_nothing() {
        let value = format!("=?UTF-8?B?{}?= <a@b.ru>", b64("x@y.ru Bcc: evil@e.ru, Имя"));
        let list = parse(value.as_bytes(), None);
        assert!(!list.revealed);
        assert_eq!(addresses(&value), ["a@b.ru"]);
    }

    #[test]
    fn raw_8bit_names_are_read_in_the_letters_charset() {
        let value = b"\xcc\xe0\xe3\xe0\xe7\xe8\xed <shop@site.ru>"; // "Магазин" in windows-1251
        let list = parse(value, Some("windows-1251"));
        assert_eq!(list.mailboxes[0].name, "Магазин");
        assert_eq!(parse(value, None).mailboxes[0].name, "Магазин", "not UTF-8: windows-1251");
    }

    #[test]
    fn q_encoding_and_adjacent_words() {
        let list = parse(b"=?UTF-8?Q?=D0=9C=D0=B0?= =?UTF-8?Q?=D0=B3?= <a@b.ru>", None);
        assert_eq!(list.mailboxes[0].name, "Маг");
    }
}
