//! Microseconds to parse a Bitrix letter and choose its account candidates
//! (no network, no store): what custom_mail() spends before it talks SMTP.
//!
//!   cargo bench --bench parse_route

use std::time::Instant;

use smtp34::letter::{Letter, MailArgs};
use smtp34::route::{ordered, Candidate};

fn letter_of(size: usize) -> (Vec<u8>, Vec<u8>) {
    let line = "Здравствуйте! Новая коллекция уже в магазине, скидки до 30% до конца недели.\n";
    let body = line.repeat(size / line.len() + 1).into_bytes();
    let headers = b"From: =?UTF-8?B?0JjQvdGC0LXRgNC90LXRgi3QvNCw0LPQsNC30LjQvQ==?= <shop@site.ru>\r\nReply-To: support@site.ru\r\n\
X-Priority: 3 (Normal)\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\
X-Smtp34-Mailing: 42\r\nX-MID: 42.7"
        .to_vec();
    (body, headers)
}

fn main() {
    let accounts: Vec<Candidate> = (1..=10)
        .map(|id| Candidate {
            id,
            active: true,
            name: if id % 2 == 0 { "Интернет-магазин" } else { "Новости" },
            email: "shop@site.ru",
            mailing_first: id == 7,
        })
        .collect();
    for (label, size) in [("2 KB", 2 * 1024), ("50 KB", 50 * 1024)] {
        let (body, headers) = letter_of(size);
        let subject = b"=?UTF-8?B?0J3QvtCy0L7RgdGC0Lg=?=";
        let rounds = 20_000;
        let started = Instant::now();
        let mut chosen = 0;
        for _ in 0..rounds {
            let args = MailArgs { to: b"user@example.test", subject, message: &body, headers: &headers, parameters: b"" };
            let letter = Letter::parse(&args, "0123456789abcdef");
            let from = letter.from.as_ref().expect("a From");
            chosen += ordered(&accounts, &from.name, &from.address, letter.mailing.is_some()).len();
        }
        let micros = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
        println!("parse + route, {label} letter: {micros:8.2} us   ({chosen} candidates seen)");
    }
}
