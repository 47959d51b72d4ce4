//! Letters per second into postfix's smtp-sink on loopback, side by side:
//! lettre 0.11's own `SmtpTransport` (its socket: no TCP_NODELAY, the final
//! `\r\n.\r\n` written separately) against smtp34's session (our socket with
//! TCP_NODELAY, the end of DATA in the same write as the body). Both open one
//! connection per letter, as custom_mail() does, and send the same bytes.
//!
//!   bash bench/run       (installs smtp-sink if needed, then cargo bench --bench send_rate)
//!
//! Needs `smtp-sink` (Debian package postfix); run as root it is started
//! with `-u nobody`. LETTERS=N sets how many letters each side sends.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::{Address, SmtpTransport, Transport};
use smtp34::letter::{Letter, MailArgs};
use smtp34::smtp::Session;
use smtp34::smtp::{AuthKind, Endpoint, Security};

struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sink(port: u16) -> Sink {
    let mut command = Command::new("smtp-sink");
    // SAFETY: getuid has no preconditions.
    if unsafe { getuid() } == 0 {
        command.args(["-u", "nobody"]);
    }
    let child = command
        .args([&format!("127.0.0.1:{port}"), "256"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("smtp-sink is needed (apt-get install postfix)");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(5), "smtp-sink did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Sink(child)
}

extern "C" {
    fn getuid() -> u32;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A typical Bitrix letter: headers as bxmail gives them, a 3 KB 8-bit body.
fn letter() -> Letter {
    let headers = "From: =?UTF-8?B?0JzQsNCz0LDQt9C40L0=?= <shop@site.ru>\r\nReply-To: shop@site.ru\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\nX-EVENT_NAME: SALE_NEW_ORDER";
    let body = "Здравствуйте! Ваш заказ принят и будет доставлен завтра.\n".repeat(30);
    let args = MailArgs {
        to: b"buyer@example.ru",
        subject: b"=?UTF-8?B?0JfQsNC60LDQtw==?=",
        message: body.as_bytes(),
        headers: headers.as_bytes(),
        parameters: b"",
    };
    Letter::parse(&args, "bench")
}

fn rate(label: &str, letters: usize, mut send: impl FnMut()) -> f64 {
    send(); // warm up: resolver, first connection
    let started = Instant::now();
    for _ in 0..letters {
        send();
    }
    let seconds = started.elapsed().as_secs_f64();
    let per_second = letters as f64 / seconds;
    println!(
        "{label:<44} {letters:>6} letters  {seconds:>7.2} s  {per_second:>8.1} letters/s  {:>7.2} ms/letter",
        seconds * 1000.0 / letters as f64
    );
    per_second
}

fn main() {
    let letters: usize = std::env::var("LETTERS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let port = free_port();
    let _sink = start_sink(port);
    let letter = letter();
    let message = letter.render("", "Sun, 22 Nov 2026 10:00:00 +0000");
    let from: Address = "shop@site.ru".parse().unwrap();
    let to: Vec<Address> = letter.recipients.clone();
    println!("postfix smtp-sink on 127.0.0.1:{port}; {} byte letter; a new connection per letter\n", message.len());

    let lettre = SmtpTransport::builder_dangerous("127.0.0.1").port(port).build();
    let envelope = Envelope::new(Some(from.clone()), to.clone()).unwrap();
    let lettre_rate = rate("lettre 0.11 SmtpTransport::send_raw", letters, || {
        lettre.send_raw(&envelope, &message).expect("lettre send");
    });

    let server =
        Endpoint { host: "127.0.0.1".into(), port, security: Security::None, verify_tls: true, auth: AuthKind::None, login: String::new() };
    let ours_rate = rate("smtp34 Session (TCP_NODELAY, one final write)", letters, || {
        let mut session = Session::open(&server, None, Duration::from_secs(10), None).expect("connect");
        session.send(&from, &to, &message, false).expect("smtp34 send");
        session.quit();
    });

    println!("\nsmtp34 / lettre: {:.1}x", ours_rate / lettre_rate);
}
