//! Property tests over the letter parser and address lists (proptest).
//! CI runs a short budget; a long run is `PROPTEST_CASES=100000 cargo test
//! --release --lib properties` (see the README).

use base64::Engine;
use proptest::prelude::*;

use crate::letter::addresses::{decode_encoded_words, parse};
use crate::letter::headers::to_text;
use crate::letter::{Letter, MailArgs};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Bytes that look like header text often enough to reach deep branches.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"a@b.ru".to_vec()),
        Just(b", ".to_vec()),
        Just(b"<".to_vec()),
        Just(b">".to_vec()),
        Just(b"\"".to_vec()),
        Just(b":".to_vec()),
        Just(b";".to_vec()),
        Just(b"(".to_vec()),
        Just(b")".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"=?UTF-8?B?".to_vec()),
        Just(b"?=".to_vec()),
        Just(b"=?windows-1251?Q?=C0=?=".to_vec()),
        Just(b"\r\n\t".to_vec()),
        Just("Имя".as_bytes().to_vec()),
        Just(b"\xcc\xe0\xe3".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
        "[a-zA-Z0-9.@ ]{0,8}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(pieces, 0..24).prop_map(|parts| parts.concat())
}

/// A display name and an address that a list must give back exactly.
fn mailbox() -> impl Strategy<Value = (Option<String>, String)> {
    let local = "[a-z0-9][a-z0-9._+-]{0,10}[a-z0-9]".prop_filter("no double dots", |l| !l.contains(".."));
    let domain = "[a-z0-9]{1,8}(\\.[a-z0-9]{1,8}){0,2}\\.[a-z]{2,4}";
    let name = proptest::option::of("[ a-zA-Zа-яА-Я,.@<>\"():;]{1,20}");
    (name, local, domain).prop_map(|(name, local, domain)| (name, format!("{local}@{domain}")))
}

/// A mailbox written one of three ways. An encoded word whose text holds an
/// address is what Bitrix's encoder makes of a list, and is read as one
/// (SPEC §8), so encoded names here hold no `@`.
fn written(name: &Option<String>, address: &str, style: u8) -> String {
    match (name, style % 3) {
        (None, _) => address.to_owned(),
        (Some(n), 0) => format!("\"{}\" <{address}>", n.replace('\\', "\\\\").replace('"', "\\\"")),
        (Some(n), 1) => format!("=?UTF-8?B?{}?= <{address}>", base64::engine::general_purpose::STANDARD.encode(n.replace('@', " at "))),
        (Some(_), _) => format!("<{address}>"),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_parse_without_panic_and_every_address_comes_from_the_input(value in header_bytes(), charset in proptest::option::of(prop_oneof![Just("windows-1251"), Just("utf-8"), Just("koi8-r")])) {
        let list = parse(&value, charset);
        let text = to_text(&value, charset);
        let decoded = decode_encoded_words(&text);
        let in_input = |part: &str| text.contains(part) || decoded.contains(part);
        for mailbox in &list.mailboxes {
            let (local, domain) = mailbox.address.rsplit_once('@').expect("an address has an @");
            prop_assert!(in_input(domain), "{:?} not in {:?}", mailbox.address, decoded);
            prop_assert!(in_input(if local.starts_with('"') { domain } else { &mailbox.address }), "{:?} not in {:?}", mailbox.address, decoded);
        }
    }

    #[test]
    fn a_well_formed_list_yields_exactly_its_addresses(mailboxes in proptest::collection::vec((mailbox(), any::<u8>()), 1..8)) {
        let text: Vec<String> = mailboxes.iter().map(|((name, address), style)| written(name, address, *style)).collect();
        let list = parse(text.join(", ").as_bytes(), None);
        let want: Vec<&str> = mailboxes.iter().map(|((_, address), _)| address.as_str()).collect();
        let got: Vec<&str> = list.mailboxes.iter().map(|m| m.address.as_str()).collect();
        prop_assert_eq!(got, want, "from {:?}", text.join(", "));
        prop_assert!(list.rejected.is_empty(), "rejected {:?}", list.rejected);
    }

    #[test]
    fn any_letter_parses_and_renders_without_panic(to in header_bytes(), subject in proptest::collection::vec(any::<u8>(), 0..64), headers in header_bytes(), body in proptest::collection::vec(any::<u8>(), 0..256), parameters in proptest::collection::vec(any::<u8>(), 0..32)) {
        let headers = [b"From: shop@site.ru\r\nCc: ".as_slice(), &headers].concat();
        let letter = Letter::parse(&MailArgs { to: &to, subject: &subject, message: &body, headers: &headers, parameters: &parameters }, "x");
        let rendered = letter.render("Магазин", "Sun, 22 Nov 2026 10:00:00 +0000");
        prop_assert!(!rendered.contains(&0));
        prop_assert!(rendered.ends_with(b"\r\n"));
        // each argument is read on its own (a windows-1251 To beside UTF-8 headers)
        let texts: Vec<String> = [&to, &headers].iter().flat_map(|bytes| {
            let text = to_text(bytes, None);
            [decode_encoded_words(&text), text]
        }).collect();
        for recipient in &letter.recipients {
            let recipient = recipient.to_string();
            let (local, _) = recipient.rsplit_once('@').expect("an address has an @");
            let local = local.trim_matches('"');
            prop_assert!(texts.iter().any(|t| t.contains(local)), "{:?} not in {:?}", recipient, texts);
        }
    }
}
