//! The SMTP conversation over a scripted stream in memory: every branch of
//! the session, with the exact bytes the client says and the replies it
//! gets cut wherever a network may cut them.

use std::cell::RefCell;
use std::rc::Rc;
use std::str::FromStr;
use std::time::{Duration, Instant};

use base64::Engine;
use lettre::transport::smtp::commands::Ehlo;
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;

use super::endpoint::{AuthKind, Endpoint, Security};
use super::scripted::{Record, Scripted};
use super::session::{Concern, Sent, Session, SmtpError, Verdict, WindowLetter};
use super::stream::TlsFailure;

const GREETING: &str = "220 mx.test ESMTP\r\n";
const TIMEOUT: Duration = Duration::from_secs(5);
const LETTER: &[u8] = b"Subject: x\r\n\r\nbody\r\n";

/// A multi-line EHLO reply offering `keywords`.
fn ehlo(keywords: &[&str]) -> String {
    let mut lines = vec!["mx.test".to_owned()];
    lines.extend(keywords.iter().map(|k| (*k).to_owned()));
    let last = lines.len() - 1;
    lines.iter().enumerate().map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' })).collect()
}

/// What the client says for EHLO.
fn ehlo_line() -> String {
    Ehlo::new(ClientId::default()).to_string()
}

fn server(security: Security, auth: AuthKind) -> Endpoint {
    Endpoint { host: "mx.test".into(), port: 25, security, verify_tls: true, auth, login: "shop".into() }
}

fn plain() -> Endpoint {
    server(Security::None, AuthKind::None)
}

fn address(text: &str) -> Address {
    Address::from_str(text).unwrap()
}

/// Greeting and EHLO with `keywords`, then `replies`.
fn script(keywords: &[&str], replies: &[&str]) -> Scripted {
    let mut scripted = Scripted::new(&[GREETING, &ehlo(keywords)]);
    for reply in replies {
        scripted.then(reply);
    }
    scripted
}

fn start(scripted: Scripted, server: &Endpoint, password: Option<&str>) -> (Result<Session<Scripted>, SmtpError>, Rc<RefCell<Record>>) {
    let record = scripted.record();
    (Session::start(scripted, server, password, TIMEOUT, None), record)
}

/// Opens over `scripted` (plain, no AUTH) and sends LETTER from a@site.ru to `to`.
fn send(scripted: Scripted, to: &[&str], reset_first: bool) -> (Result<Verdict, SmtpError>, Rc<RefCell<Record>>, bool) {
    send_message(scripted, to, LETTER, reset_first)
}

fn send_message(
    scripted: Scripted,
    to: &[&str],
    message: &[u8],
    reset_first: bool,
) -> (Result<Verdict, SmtpError>, Rc<RefCell<Record>>, bool) {
    let (session, record) = start(scripted, &plain(), None);
    let mut session = session.expect("the handshake goes through");
    let recipients: Vec<Address> = to.iter().map(|t| address(t)).collect();
    let result = session.send(&address("a@site.ru"), &recipients, message, reset_first);
    (result, record, session.mail_accepted)
}

/// What the client said after its EHLO.
fn after_ehlo(record: &Rc<RefCell<Record>>) -> String {
    let said = record.borrow().said();
    let ehlo = ehlo_line();
    said.rsplit_once(ehlo.as_str()).map(|(_, rest)| rest.to_owned()).unwrap_or(said)
}

/// The writes the client made after its EHLO (the greeting costs none, EHLO one).
fn writes_after_ehlo(record: &Rc<RefCell<Record>>) -> Vec<usize> {
    record.borrow().writes[1..].to_vec()
}

fn refused(result: Result<Verdict, SmtpError>) -> SmtpError {
    result.expect_err("the letter fails")
}

#[test]
fn a_letter_step_by_step() {
    let scripted = script(&["8BITMIME"], &["250 2.1.0 ok\r\n", "250 2.1.5 ok\r\n", "354 go ahead\r\n", "250 2.0.0 queued as 1\r\n"]);
    let (result, record, mail_accepted) = send(scripted, &["b@mail.ru"], false);
    let delivered = result.unwrap();
    assert_eq!(after_ehlo(&record), "MAIL FROM:<a@site.ru>\r\nRCPT TO:<b@mail.ru>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
    assert_eq!(delivered.reply.as_deref(), Some("250 2.0.0 queued as 1"));
    assert_eq!(delivered.accepted, vec![address("b@mail.ru")]);
    assert!(mail_accepted);
    assert_eq!(writes_after_ehlo(&record).len(), 4, "one write per command, one for the data");
}

#[test]
fn a_pipelined_letter_is_one_write_of_commands_then_one_of_data() {
    let scripted = script(&["PIPELINING"], &["250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "250 queued\r\n"]);
    let (result, record, _) = send(scripted, &["b@mail.ru", "c@mail.ru"], false);
    assert_eq!(result.unwrap().accepted.len(), 2);
    assert_eq!(
        after_ehlo(&record),
        "MAIL FROM:<a@site.ru>\r\nRCPT TO:<b@mail.ru>\r\nRCPT TO:<c@mail.ru>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n"
    );
    assert_eq!(writes_after_ehlo(&record).len(), 2);
}

#[test]
fn a_kept_connection_resets_in_the_same_pipelined_write() {
    let scripted = script(&["PIPELINING"], &["250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n", "250 queued\r\n"]);
    let (result, record, _) = send(scripted, &["b@mail.ru"], true);
    assert!(result.is_ok());
    assert!(after_ehlo(&record).starts_with("RSET\r\nMAIL FROM:<a@site.ru>\r\n"));
    assert_eq!(writes_after_ehlo(&record).len(), 2, "RSET costs no round trip");
}

#[test]
fn a_pipelined_mail_refused_after_a_354_ends_the_data_empty() {
    let scripted = script(&["PIPELINING"], &["550 5.7.1 sender refused\r\n", "250 ok\r\n", "354 go\r\n", "250 nothing\r\n"]);
    let (result, record, mail_accepted) = send(scripted, &["b@mail.ru"], false);
    let error = refused(result);
    assert_eq!((error.concern, error.transient, error.code), (Concern::Letter, false, Some(550)));
    assert!(after_ehlo(&record).ends_with("DATA\r\n.\r\n"), "the accepted DATA is ended with no letter");
    assert!(!mail_accepted);
}

#[test]
fn a_pipelined_mail_refused_with_data_refused_says_no_more() {
    let scripted = script(&["PIPELINING"], &["451 4.3.0 try later\r\n", "503 5.5.1 need MAIL\r\n", "503 5.5.1 need RCPT\r\n"]);
    let (result, record, _) = send(scripted, &["b@mail.ru"], false);
    let error = refused(result);
    assert_eq!((error.concern, error.transient, error.code), (Concern::Letter, true, Some(451)));
    assert!(after_ehlo(&record).ends_with("DATA\r\n"));
}

#[test]
fn every_recipient_refused_with_bdat_sends_nothing_more() {
    let scripted = script(
        &["PIPELINING", "CHUNKING"],
        &["250 ok\r\n", "550 no such user\r\n", "550 no such user\r\n", "554 5.5.1 no valid recipients\r\n"],
    );
    let (result, record, _) = send(scripted, &["b@mail.ru", "c@mail.ru"], false);
    let delivered = result.unwrap();
    assert_eq!((delivered.accepted.len(), delivered.refused.len(), delivered.reply), (0, 2, None));
    assert_eq!(writes_after_ehlo(&record).len(), 1);
    assert!(after_ehlo(&record).ends_with(&format!("BDAT {} LAST\r\n{}", LETTER.len(), String::from_utf8_lossy(LETTER))));
}

#[test]
fn chunking_with_pipelining_is_one_round_trip() {
    let scripted = script(&["PIPELINING", "CHUNKING"], &["250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n"]);
    let (result, record, _) = send(scripted, &["b@mail.ru"], false);
    assert_eq!(result.unwrap().reply.as_deref(), Some("250 2.0.0 queued"));
    assert_eq!(writes_after_ehlo(&record).len(), 1);
    assert!(!after_ehlo(&record).contains("DATA"));
    assert!(after_ehlo(&record).ends_with("\r\nbody\r\n"), "BDAT data is not dot-stuffed nor terminated");
}

#[test]
fn chunking_refused_at_the_end_is_the_letters() {
    let scripted = script(&["PIPELINING", "CHUNKING"], &["250 ok\r\n250 ok\r\n552 5.3.4 too big\r\n"]);
    let error = refused(send(scripted, &["b@mail.ru"], false).0);
    assert_eq!((error.concern, error.code, error.is_final()), (Concern::Letter, Some(552), true));
}

#[test]
fn a_big_letter_with_chunking_goes_as_commands_then_the_bytes_untouched() {
    let message: Vec<u8> = (0..20_000).flat_map(|_| b".dotted line\r\n".to_vec()).collect();
    let scripted = script(&["PIPELINING", "CHUNKING"], &["250 ok\r\n250 ok\r\n250 queued\r\n"]);
    let (result, record, _) = send_message(scripted, &["b@mail.ru"], &message, false);
    assert!(result.is_ok());
    let record = record.borrow();
    let commands = format!("MAIL FROM:<a@site.ru>\r\nRCPT TO:<b@mail.ru>\r\nBDAT {} LAST\r\n", message.len());
    assert_eq!(record.writes[1], commands.len(), "the commands, then the letter in pieces");
    assert_eq!(record.writes[2..].iter().sum::<usize>(), message.len());
    assert!(record.written.ends_with(&message));
}

#[test]
fn chunking_without_pipelining_uses_data() {
    let scripted = script(&["CHUNKING"], &["250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"]);
    let (result, record, _) = send(scripted, &["b@mail.ru"], false);
    assert!(result.is_ok());
    assert!(after_ehlo(&record).contains("DATA\r\n") && !after_ehlo(&record).contains("BDAT"));
}

#[test]
fn some_recipients_deferred_or_refused_the_letter_goes_to_the_others() {
    let replies = ["250 ok\r\n", "250 ok\r\n", "451 4.7.1 greylisted\r\n", "550 5.1.1 no such user\r\n", "354 go\r\n", "250 queued\r\n"];
    let (result, _, _) = send(script(&[], &replies), &["b@mail.ru", "c@mail.ru", "d@mail.ru"], false);
    let delivered = result.unwrap();
    assert_eq!(delivered.accepted, vec![address("b@mail.ru")]);
    assert_eq!(delivered.deferred, vec![(address("c@mail.ru"), "451 4.7.1 greylisted".to_owned())]);
    assert_eq!(delivered.refused, vec![(address("d@mail.ru"), "550 5.1.1 no such user".to_owned())]);
}

#[test]
fn no_recipient_accepted_step_by_step_resets_and_sends_no_data() {
    let (result, record, _) = send(script(&[], &["250 ok\r\n", "550 no such user\r\n", "250 reset\r\n"]), &["b@mail.ru"], false);
    let delivered = result.unwrap();
    assert_eq!((delivered.accepted.len(), delivered.reply), (0, None));
    assert!(after_ehlo(&record).ends_with("RCPT TO:<b@mail.ru>\r\nRSET\r\n"));
}

#[test]
fn a_421_on_the_reset_of_a_kept_connection_is_the_accounts_and_transient() {
    for keywords in [&[][..], &["PIPELINING"][..]] {
        let (result, _, _) = send(script(keywords, &["421 4.4.2 idle too long, closing\r\n"]), &["b@mail.ru"], true);
        let error = refused(result);
        assert_eq!((error.concern, error.transient, error.code), (Concern::Account, true, Some(421)), "{keywords:?}");
    }
}

#[test]
fn a_multi_line_ehlo_in_fragments_is_read_whole() {
    let mut scripted = Scripted::new(&["220 mx", ".test ESMTP\r", "\n250-mx.test\r\n250-PIPE", "LINING\r\n250 8BIT", "MIME\r\n"]);
    scripted.then("250 ok\r\n250 ok\r\n354 go\r\n").then("250 queued\r\n");
    let (result, record, _) = send(scripted, &["b@mail.ru"], false);
    assert!(result.is_ok());
    assert_eq!(writes_after_ehlo(&record).len(), 2, "PIPELINING was seen across the cut");
}

#[test]
fn a_reply_cut_across_reads_is_one_reply() {
    let (result, _, _) =
        send(script(&[], &["2", "50 o", "k\r", "\n", "250 ok\r\n", "35", "4 go\r\n", "250 queued\r\n"]), &["b@mail.ru"], false);
    assert_eq!(result.unwrap().reply.as_deref(), Some("250 queued"));
}

#[test]
fn a_reply_line_over_the_bound_is_refused() {
    let long = format!("250 {}\r\n", "x".repeat(2000));
    let error = refused(send(script(&[], &[&long]), &["b@mail.ru"], false).0);
    assert!(error.message.contains("longer than 1000 bytes"), "{error}");
    assert!(error.transient && error.concern == Concern::Account);
}

#[test]
fn a_reply_of_too_many_lines_is_refused() {
    let many = "250-more\r\n".repeat(150) + "250 end\r\n";
    let error = refused(send(script(&[], &[&many]), &["b@mail.ru"], false).0);
    assert!(error.message.contains("too long"), "{error}");
}

#[test]
fn a_server_that_closes_mid_data_fails_the_attempt_after_mail_was_accepted() {
    let (result, record, mail_accepted) = send(script(&[], &["250 ok\r\n", "250 ok\r\n", "354 go\r\n"]), &["b@mail.ru"], false);
    let error = refused(result);
    assert!(error.message.contains("closed the connection"), "{error}");
    assert_eq!((error.concern, error.transient), (Concern::Account, true));
    assert!(error.is_connection_lost() && !error.timed_out);
    assert!(mail_accepted, "the letter may have been delivered: not simply sent again");
    assert!(after_ehlo(&record).ends_with("body\r\n.\r\n"));
}

#[test]
fn a_server_that_hangs_up_while_the_data_is_written() {
    let mut scripted = script(&[], &["250 ok\r\n", "250 ok\r\n", "354 go\r\n"]);
    scripted.hang_up_after = Some(ehlo_line().len() + 60);
    let error = refused(send(scripted, &["b@mail.ru"], false).0);
    assert!(error.message.contains("failed while sending to it"), "{error}");
    assert!(error.transient);
}

#[test]
fn dots_are_stuffed_after_every_line_end_crlf_lf_or_cr() {
    let message = b"a\r\n.\r\nMAIL FROM:<evil@x>\r\nb\n.\nc\r.\rd\r\n..e\r\n";
    let (result, record, _) =
        send_message(script(&[], &["250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"]), &["b@mail.ru"], message, false);
    assert!(result.is_ok());
    let data = after_ehlo(&record).split_once("DATA\r\n").unwrap().1.to_owned();
    assert_eq!(data, "a\r\n..\r\nMAIL FROM:<evil@x>\r\nb\n..\nc\r..\rd\r\n...e\r\n.\r\n");
    assert_eq!(data.matches("\r\n.\r\n").count(), 1, "the only end of data is the terminator");
}

#[test]
fn auth_plain_sends_the_initial_response() {
    let scripted = script(&["AUTH PLAIN LOGIN"], &["235 2.7.0 ok\r\n"]);
    let (session, record) = start(scripted, &server(Security::None, AuthKind::Login), Some("pw"));
    assert!(session.is_ok());
    let payload = base64::engine::general_purpose::STANDARD.encode("\0shop\0pw");
    assert_eq!(after_ehlo(&record), format!("AUTH PLAIN {payload}\r\n"));
}

#[test]
fn auth_login_answers_both_challenges() {
    let scripted = script(&["AUTH LOGIN"], &["334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n", "235 2.7.0 ok\r\n"]);
    let (session, record) = start(scripted, &server(Security::None, AuthKind::Login), Some("pw"));
    assert!(session.is_ok());
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(after_ehlo(&record), format!("AUTH LOGIN\r\n{}\r\n{}\r\n", b64("shop"), b64("pw")));
}

#[test]
fn a_refused_login_is_the_accounts_and_final() {
    let (session, _) =
        start(script(&["AUTH PLAIN"], &["535 5.7.8 authentication failed\r\n"]), &server(Security::None, AuthKind::Login), Some("pw"));
    let error = session.err().unwrap();
    assert_eq!((error.concern, error.transient, error.code), (Concern::Account, false, Some(535)));
}

#[test]
fn an_echoed_auth_payload_or_password_is_masked_in_the_error() {
    let payload = base64::engine::general_purpose::STANDARD.encode("\0shop\0Tr0ub4dor");
    let echo = format!("535 5.7.8 bad credentials {payload} (Tr0ub4dor)\r\n");
    let (session, _) = start(script(&["AUTH PLAIN"], &[&echo]), &server(Security::None, AuthKind::Login), Some("Tr0ub4dor"));
    let error = session.err().unwrap();
    assert_eq!(error.message, "535 5.7.8 bad credentials ******** (********)");
}

#[test]
fn no_stored_password_and_no_mechanism_are_setup_errors() {
    let (session, _) = start(script(&["AUTH PLAIN"], &[]), &server(Security::None, AuthKind::Login), None);
    assert!(session.err().unwrap().message.contains("no password stored"));
    let (session, _) = start(script(&["AUTH CRAM-MD5"], &[]), &server(Security::None, AuthKind::Login), Some("pw"));
    let error = session.err().unwrap();
    assert!(error.message.contains("no AUTH PLAIN or LOGIN") && !error.transient, "{error}");
}

#[test]
fn xoauth2_sends_the_bearer_token_in_one_line() {
    let scripted = script(&["AUTH LOGIN XOAUTH2"], &["235 2.7.0 Accepted\r\n"]);
    let (session, record) = start(scripted, &server(Security::None, AuthKind::Xoauth2), Some("ya29.token"));
    assert!(session.is_ok());
    let payload = base64::engine::general_purpose::STANDARD.encode("user=shop\x01auth=Bearer ya29.token\x01\x01");
    assert_eq!(after_ehlo(&record), format!("AUTH XOAUTH2 {payload}\r\n"));
}

#[test]
fn a_refused_token_is_answered_with_an_empty_line_and_shown_without_the_token() {
    // Gmail's way: 334 with a base64 JSON error, then 535 after the client's empty line
    let json = r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/","token":"ya29.token"}"#;
    let challenge = format!("334 {}\r\n", base64::engine::general_purpose::STANDARD.encode(json));
    let scripted = script(&["AUTH XOAUTH2"], &[&challenge, "535 5.7.8 Username and Password not accepted\r\n"]);
    let (session, record) = start(scripted, &server(Security::None, AuthKind::Xoauth2), Some("ya29.token"));
    let error = session.err().unwrap();
    assert_eq!((error.concern, error.transient, error.code), (Concern::Account, false, Some(535)));
    assert!(error.message.contains(r#""status":"401""#), "{error}");
    assert!(!error.message.contains("ya29.token"), "{error}");
    assert!(after_ehlo(&record).ends_with("\r\n\r\n"), "the challenge is answered with an empty line");
}

#[test]
fn xoauth2_needs_a_token_and_the_mechanism() {
    let (session, _) = start(script(&["AUTH XOAUTH2"], &[]), &server(Security::None, AuthKind::Xoauth2), None);
    assert!(session.err().unwrap().message.contains("connect it"));
    let (session, _) = start(script(&["AUTH PLAIN"], &[]), &server(Security::None, AuthKind::Xoauth2), Some("t0ken"));
    assert!(session.err().unwrap().message.contains("no AUTH XOAUTH2"));
}

#[test]
fn starttls_upgrades_then_says_ehlo_again() {
    let scripted = script(&["STARTTLS"], &["220 2.0.0 go ahead\r\n", &ehlo(&["AUTH PLAIN"]), "235 ok\r\n"]);
    let (session, record) = start(scripted, &server(Security::StartTls, AuthKind::Login), Some("pw"));
    assert!(session.is_ok());
    let record = record.borrow();
    assert!(record.encrypted);
    assert_eq!(record.said().matches(&ehlo_line()).count(), 2);
    assert!(record.said().contains("STARTTLS\r\n"));
}

#[test]
fn starttls_refused_or_not_offered_fails_the_account() {
    let (session, _) =
        start(script(&["STARTTLS"], &["454 4.7.0 TLS not available\r\n"]), &server(Security::StartTls, AuthKind::None), None);
    let error = session.err().unwrap();
    assert_eq!((error.concern, error.transient, error.code), (Concern::Account, true, Some(454)));
    let (session, record) = start(script(&[], &[]), &server(Security::StartTls, AuthKind::None), None);
    assert!(session.err().unwrap().message.contains("does not offer STARTTLS"));
    assert!(!record.borrow().said().contains("STARTTLS"), "never asked");
}

#[test]
fn bytes_after_the_starttls_reply_are_refused_not_taken_as_encrypted() {
    let (session, record) = start(
        script(&["STARTTLS"], &["220 go ahead\r\n250 injected before the handshake\r\n"]),
        &server(Security::StartTls, AuthKind::Login),
        Some("pw"),
    );
    assert!(session.err().unwrap().message.contains("sent more after its STARTTLS reply"));
    assert!(!record.borrow().encrypted);
}

#[test]
fn a_failed_handshake_says_whether_it_may_pass() {
    let mut scripted = script(&["STARTTLS"], &["220 go ahead\r\n"]);
    scripted.tls_failure = Some(TlsFailure { transient: false, message: "invalid peer certificate: UnknownIssuer".into() });
    let (session, _) = start(scripted, &server(Security::StartTls, AuthKind::None), None);
    let error = session.err().unwrap();
    assert!(!error.transient && error.message.contains("UnknownIssuer"));
}

#[test]
fn a_refused_greeting_is_the_accounts() {
    let (session, _) = start(Scripted::new(&["554 5.7.1 go away\r\n"]), &plain(), None);
    let error = session.err().unwrap();
    assert_eq!((error.concern, error.transient, error.code), (Concern::Account, false, Some(554)));
    let (session, _) = start(Scripted::new(&["HTTP/1.1 400 Bad Request\r\n"]), &plain(), None);
    assert!(session.err().unwrap().message.contains("not an SMTP reply"));
}

#[test]
fn a_silent_server_costs_one_timeout() {
    let mut scripted = Scripted::new(&[GREETING]);
    scripted.then_silence();
    let timeout = Duration::from_millis(150);
    let started = Instant::now();
    let error = Session::start(scripted, &plain(), None, timeout, None).err().unwrap();
    let took = started.elapsed();
    assert!(error.message.contains("timed out"), "{error}");
    assert!(error.timed_out && !error.is_connection_lost(), "a frozen server is not worth a fresh connection");
    assert!(took >= timeout && took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn a_recipient_needing_smtputf8_the_server_lacks_is_refused_alone() {
    let replies = ["250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"];
    let (result, record, _) = send(script(&[], &replies), &["иван@mail.ru", "b@mail.ru"], false);
    let delivered = result.unwrap();
    assert_eq!(delivered.accepted, vec![address("b@mail.ru")]);
    assert_eq!(delivered.refused.len(), 1);
    assert!(after_ehlo(&record).starts_with("MAIL FROM:<a@site.ru>\r\nRCPT TO:<b@mail.ru>\r\n"));

    let (result, record, _) = send(script(&["SMTPUTF8"], &replies), &["иван@mail.ru"], false);
    assert!(result.is_ok());
    assert!(after_ehlo(&record).starts_with("MAIL FROM:<a@site.ru> SMTPUTF8\r\nRCPT TO:<иван@mail.ru>\r\n"));
}

#[test]
fn an_eight_bit_letter_says_8bitmime_when_offered() {
    let message = "Subject: x\r\n\r\nтекст\r\n".as_bytes();
    let replies = ["250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"];
    let (_, record, _) = send_message(script(&["8BITMIME"], &replies), &["b@mail.ru"], message, false);
    assert!(after_ehlo(&record).starts_with("MAIL FROM:<a@site.ru> BODY=8BITMIME\r\n"));
    let (result, record, _) = send_message(script(&[], &replies), &["b@mail.ru"], message, false);
    assert!(result.is_ok(), "sent anyway, as mail() and sendmail do");
    assert!(after_ehlo(&record).starts_with("MAIL FROM:<a@site.ru>\r\n"));
}

/// Opens over `scripted` and sends a window of letters from a@site.ru, one recipient each.
fn window(scripted: Scripted, to: &[&str], reset_first: bool) -> (Vec<Sent>, Rc<RefCell<Record>>) {
    let (session, record) = start(scripted, &plain(), None);
    let mut session = session.expect("the handshake goes through");
    let from = address("a@site.ru");
    let recipients: Vec<Vec<Address>> = to.iter().map(|t| vec![address(t)]).collect();
    let letters: Vec<WindowLetter> = recipients.iter().map(|r| WindowLetter { from: &from, recipients: r, message: LETTER }).collect();
    (session.send_window(&letters, reset_first), record)
}

fn replies(sent: &[Sent]) -> Vec<Result<String, (u16, bool)>> {
    sent.iter()
        .map(|s| match &s.result {
            Ok(verdict) => Ok(verdict.reply.clone().unwrap_or_default()),
            Err(e) => Err((e.code.unwrap_or(0), s.mail_accepted)),
        })
        .collect()
}

const BODY: &str = "Subject: x\r\n\r\nbody\r\n.\r\n";

#[test]
fn a_pipelined_window_sends_the_next_letters_commands_behind_each_end_of_data() {
    let scripted = script(
        &["PIPELINING"],
        &[
            "250 ok\r\n250 ok\r\n354 go\r\n",
            "250 queued 1\r\n250 ok\r\n250 ok\r\n354 go\r\n",
            "250 queued 2\r\n250 ok\r\n250 ok\r\n354 go\r\n",
            "250 queued 3\r\n",
        ],
    );
    let (sent, record) = window(scripted, &["b@mail.ru", "c@mail.ru", "d@mail.ru"], false);
    assert_eq!(replies(&sent), vec![Ok("250 queued 1".into()), Ok("250 queued 2".into()), Ok("250 queued 3".into())]);
    let commands = |to: &str| format!("MAIL FROM:<a@site.ru>\r\nRCPT TO:<{to}>\r\nDATA\r\n");
    assert_eq!(
        after_ehlo(&record),
        [commands("b@mail.ru"), BODY.into(), commands("c@mail.ru"), BODY.into(), commands("d@mail.ru"), BODY.into()].concat()
    );
    assert_eq!(writes_after_ehlo(&record).len(), 4, "one write to start, then one per letter: one round trip a letter");
}

#[test]
fn a_refused_letter_in_a_window_ends_its_transaction_and_the_next_starts_with_rset() {
    let scripted = script(
        &["PIPELINING"],
        &[
            "250 ok\r\n250 ok\r\n354 go\r\n",
            "250 queued 1\r\n550 5.7.1 sender refused\r\n250 ok\r\n354 go\r\n",
            "250 nothing\r\n",
            "250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n",
            "250 queued 3\r\n",
        ],
    );
    let (sent, record) = window(scripted, &["b@mail.ru", "c@mail.ru", "d@mail.ru"], false);
    assert_eq!(replies(&sent), vec![Ok("250 queued 1".into()), Err((550, false)), Ok("250 queued 3".into())]);
    let said = after_ehlo(&record);
    assert!(said.contains("RCPT TO:<c@mail.ru>\r\nDATA\r\n.\r\nRSET\r\nMAIL FROM:<a@site.ru>\r\nRCPT TO:<d@mail.ru>"), "{said}");
}

#[test]
fn a_connection_lost_after_a_letters_data_leaves_it_unknown_and_the_rest_unsent() {
    let scripted = script(&["PIPELINING"], &["250 ok\r\n250 ok\r\n354 go\r\n", "250 queued 1\r\n250 ok\r\n250 ok\r\n354 go\r\n"]);
    let (sent, _) = window(scripted, &["b@mail.ru", "c@mail.ru", "d@mail.ru"], false);
    assert_eq!(replies(&sent), vec![Ok("250 queued 1".into()), Err((0, true)), Err((0, false))]);
    assert!(sent[2].result.as_ref().unwrap_err().message.starts_with("not sent: the connection broke"));
}

#[test]
fn a_421_to_the_next_letters_mail_sends_nothing_more() {
    let scripted = script(&["PIPELINING"], &["250 ok\r\n250 ok\r\n354 go\r\n", "250 queued 1\r\n421 4.4.2 closing\r\n"]);
    let (sent, _) = window(scripted, &["b@mail.ru", "c@mail.ru", "d@mail.ru"], false);
    assert_eq!(replies(&sent), vec![Ok("250 queued 1".into()), Err((0, false)), Err((0, false))], "nothing of letter 2 was accepted");
}

#[test]
fn a_window_with_chunking_goes_out_whole_before_any_reply_is_read() {
    let scripted = script(
        &["PIPELINING", "CHUNKING"],
        &[
            "250 ok\r\n250 ok\r\n250 queued 1\r\n",
            "250 reset\r\n250 ok\r\n550 no such user\r\n554 no valid recipients\r\n",
            "250 reset\r\n250 ok\r\n250 ok\r\n250 queued 3\r\n",
        ],
    );
    let (sent, record) = window(scripted, &["b@mail.ru", "nobody@mail.ru", "d@mail.ru"], false);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].result.as_ref().unwrap().reply.as_deref(), Some("250 queued 1"));
    assert_eq!(sent[1].result.as_ref().unwrap().refused.len(), 1, "its one recipient refused");
    assert_eq!(sent[2].result.as_ref().unwrap().reply.as_deref(), Some("250 queued 3"));
    let body = String::from_utf8_lossy(LETTER).into_owned();
    let letter = |to: &str| format!("MAIL FROM:<a@site.ru>\r\nRCPT TO:<{to}>\r\nBDAT {} LAST\r\n{body}", LETTER.len());
    assert_eq!(
        after_ehlo(&record),
        [letter("b@mail.ru"), "RSET\r\n".into(), letter("nobody@mail.ru"), "RSET\r\n".into(), letter("d@mail.ru")].concat(),
        "each letter after the first starts afresh: how the one before ends is not known when it is written"
    );
}

#[test]
fn a_chunked_window_cut_off_leaves_the_written_letters_unknown() {
    let scripted = script(&["PIPELINING", "CHUNKING"], &["250 ok\r\n250 ok\r\n250 queued 1\r\n"]);
    let (sent, _) = window(scripted, &["b@mail.ru", "c@mail.ru", "d@mail.ru"], false);
    assert_eq!(replies(&sent), vec![Ok("250 queued 1".into()), Err((0, true)), Err((0, true))], "written, never answered: maybe taken");
}

#[test]
fn without_pipelining_a_window_goes_letter_by_letter() {
    let letter = ["250 ok\r\n", "250 ok\r\n", "354 go\r\n"];
    let mut all: Vec<&str> = Vec::new();
    for end in ["250 queued 1\r\n", "250 queued 2\r\n"] {
        all.extend(letter);
        all.push(end);
    }
    let (sent, record) = window(script(&[], &all), &["b@mail.ru", "c@mail.ru"], false);
    assert_eq!(replies(&sent), vec![Ok("250 queued 1".into()), Ok("250 queued 2".into())]);
    assert!(!after_ehlo(&record).contains("RSET"));
}
