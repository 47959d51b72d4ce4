//! One SMTP conversation with an account's server.
//!
//! lettre 0.11's `SmtpConnection` owns a socket we cannot tune (no
//! TCP_NODELAY; the final `\r\n.\r\n` goes out as its own write, so every
//! message stalls on delayed ACK) and gives no hook to record a transcript
//! without its tracing output, which contains AUTH lines and bodies. So the
//! conversation runs here over our own [`Stream`], and lettre supplies the
//! protocol pieces: command formatting, EHLO parsing, SASL responses and
//! address validation.

use std::io::{BufRead, BufReader};
use std::str::FromStr;
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::commands::{Auth, Data, Ehlo, Mail, Quit, Rcpt, Starttls};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter, ServerInfo};
use lettre::transport::smtp::response::Response;
use lettre::Address;

use super::endpoint::{AuthKind, Endpoint, Security};
use super::stream::{self, Stream, Transport};
use super::transcript::{self, MASK};

/// How much a reply may outlast `timeout` before a read's timeout is shortened for it.
const REARM_SLACK: Duration = Duration::from_millis(50);

/// Whose problem a failed attempt is. An account problem (connecting, TLS,
/// the greeting, EHLO, AUTH, a connection lost or timed out) says nothing
/// about the letter: another account, or the same one later, may deliver it.
/// A letter problem is the server refusing this letter (MAIL FROM, RCPT, DATA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    Account,
    Letter,
}

/// How an error begins when a letter may have been taken although no reply said so.
pub const FATE_UNKNOWN: &str = "its fate is unknown";

/// Why a conversation failed: the server's reply when it gave one, else what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpError {
    pub concern: Concern,
    /// Trying again later may succeed: a 4xx reply, a timeout, a lost connection.
    pub transient: bool,
    pub code: Option<u16>,
    pub message: String,
    /// The server said nothing within `timeout`: it may be frozen, so a
    /// fresh connection to it would likely wait as long again.
    pub timed_out: bool,
}

impl SmtpError {
    /// The network failed us (connect, timeout, connection lost): transient, the account's.
    pub fn network(message: impl Into<String>) -> Self {
        Self { concern: Concern::Account, transient: true, code: None, message: message.into(), timed_out: false }
    }

    /// The letter's bytes all went out and no answer came: the server may have
    /// taken it, so a retry may deliver it twice; the message says so.
    pub fn fate_unknown(self) -> Self {
        if self.code.is_some() || self.message.starts_with(FATE_UNKNOWN) {
            return self;
        }
        Self { message: format!("{FATE_UNKNOWN}: {}", self.message), ..self }
    }

    /// The server said nothing for `timeout` (transient, the account's).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self { timed_out: true, ..Self::network(message) }
    }

    /// The account cannot work as configured (no STARTTLS offered, no password, bad certificate).
    pub fn account_setup(message: impl Into<String>) -> Self {
        Self { concern: Concern::Account, transient: false, code: None, message: message.into(), timed_out: false }
    }

    /// A TLS handshake that failed: timed out or cut (transient), or refused (the account's setup).
    pub fn tls(failure: stream::TlsFailure) -> Self {
        Self { concern: Concern::Account, transient: failure.transient, code: None, message: failure.message, timed_out: false }
    }

    /// This letter cannot be sent as it is, whatever the server says.
    pub fn letter(message: impl Into<String>) -> Self {
        Self { concern: Concern::Letter, transient: false, code: None, message: message.into(), timed_out: false }
    }

    /// A server reply that refuses: 4xx is transient, 5xx permanent.
    fn refusal(concern: Concern, reply: &Reply) -> Self {
        Self { concern, transient: reply.code < 500, code: Some(reply.code), message: reply.text.clone(), timed_out: false }
    }

    /// A 5xx refusal of the letter itself: retrying it anywhere will not help.
    pub fn is_final(&self) -> bool {
        self.concern == Concern::Letter && !self.transient
    }

    /// Trying again later (here or elsewhere) may succeed: a 4xx, a timeout, a lost connection.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The connection is gone, not refused: the network failed or the server
    /// said 421 (closing); not a timeout (SPEC §4: a frozen server costs one). On a kept connection found so before MAIL FROM was
    /// accepted, the server has nothing of the letter: a new connection sends it.
    pub fn is_connection_lost(&self) -> bool {
        self.concern == Concern::Account && !self.timed_out && (self.code.is_none() || self.code == Some(421))
    }

    /// The account's own problem (connecting, TLS, greeting, EHLO, AUTH), or
    /// a whole letter refused for now: page hits should skip the account a while.
    pub fn rests_account(&self) -> bool {
        self.concern == Concern::Account || self.transient
    }
}

impl std::fmt::Display for SmtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A server reply: its code and its text, lines joined by `\n`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    /// A refusal during the account's part of the conversation (greeting, EHLO, STARTTLS, AUTH).
    fn account_error(&self) -> SmtpError {
        SmtpError::refusal(Concern::Account, self)
    }

    /// A refusal of this letter (MAIL FROM, RCPT, DATA, the end of data).
    fn letter_error(&self) -> SmtpError {
        SmtpError::refusal(Concern::Letter, self)
    }

    fn lettre(&self) -> Result<Response, SmtpError> {
        let raw: String = self.text.lines().map(|l| format!("{l}\r\n")).collect();
        Response::from_str(&raw).map_err(|_| SmtpError::network(format!("unreadable reply: {}", self.text)))
    }
}

/// How long a whole conversation that sends one letter may take: a
/// `timeout` for each reply it waits for (greeting, EHLO twice, STARTTLS,
/// AUTH, MAIL, each RCPT, DATA, the end of data, QUIT), and the letter's
/// bytes at no less than 32 KB/s.
pub fn conversation_time(timeout: Duration, recipients: usize, bytes: usize) -> Duration {
    const SLOWEST_BYTES_PER_SECOND: u64 = 32 * 1024;
    let replies = 10 + recipients as u32;
    timeout * replies + Duration::from_secs(bytes as u64 / SLOWEST_BYTES_PER_SECOND)
}

/// Longest reply line and reply we accept (as Postfix does).
const MAX_LINE: usize = 1000;
const MAX_REPLY_LINES: usize = 100;

pub struct Session<S: Transport = Stream> {
    io: BufReader<S>,
    info: ServerInfo,
    hello: ClientId,
    host: String,
    verify_tls: bool,
    timeout: Duration,
    deadline: Option<Instant>,
    /// The server takes commands in groups (RFC 2920).
    pipelining: bool,
    /// The server takes the message as sized chunks (BDAT, RFC 3030): with
    /// pipelining, a whole letter then goes in one write, one round trip.
    chunking: bool,
    /// The current letter's MAIL FROM was accepted: after that, a lost
    /// connection may have delivered it, so it is not simply sent again.
    pub mail_accepted: bool,
    /// The socket's read and write timeouts as last set: a blocking call
    /// never outlasts them, so they are set again only when a deadline
    /// needs them shorter (once per connection, as a rule).
    read_armed: Duration,
    write_armed: Duration,
    /// What the client said that must never be shown: the password and
    /// each AUTH payload. A server that echoes one back in a reply has it
    /// masked before the reply reaches a transcript, an error or a page.
    secrets: Vec<String>,
}

impl Verdict {
    fn classify(&mut self, recipient: &Address, reply: Reply) {
        match reply.code {
            250 | 251 => self.accepted.push(recipient.clone()),
            400..=499 => self.deferred.push((recipient.clone(), reply.text)),
            _ => self.refused.push((recipient.clone(), reply.text)),
        }
    }
}

/// A letter of a chunked window once written: its envelope, what is known
/// of it and whether RSET went first, waiting for its replies; or, for a
/// letter this server cannot take, its result already.
type Written = Result<(Envelope, Verdict, bool), Result<Verdict, SmtpError>>;

/// One letter of a window ([`Session::send_window`]).
#[derive(Debug, Clone, Copy)]
pub struct WindowLetter<'a> {
    pub from: &'a Address,
    pub recipients: &'a [Address],
    pub message: &'a [u8],
}

/// What became of one letter of a window: its verdict or why it failed,
/// and whether the server had accepted its MAIL FROM (then a broken
/// connection leaves its fate unknown: it is not simply sent again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub result: Result<Verdict, SmtpError>,
    pub mail_accepted: bool,
}

/// A letter's MAIL FROM and RCPT TO commands, and the recipients they name.
struct Envelope {
    mail: String,
    rcpts: Vec<String>,
    recipients: Vec<Address>,
}

/// What the server did with one letter, recipient by recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The reply to the end of DATA (usually `250 ... queued as ...`);
    /// `None` when no recipient was accepted and no DATA was sent.
    pub reply: Option<String>,
    /// Recipients that got the letter.
    pub accepted: Vec<Address>,
    /// Recipients refused for good (5xx), with the server's reply.
    pub refused: Vec<(Address, String)>,
    /// Recipients refused for now (4xx), with the server's reply: worth another try.
    pub deferred: Vec<(Address, String)>,
}

impl Session<Stream> {
    /// Connects, secures and authenticates. `deadline` bounds the whole
    /// conversation; `timeout` bounds connecting and each reply, whole.
    /// What is said goes out as transcript events (see [`transcript`]).
    pub fn open(server: &Endpoint, password: Option<&str>, timeout: Duration, deadline: Option<Instant>) -> Result<Self, SmtpError> {
        transcript::connection(&format!("Connection: opening to {}:{}, timeout={}s", server.host, server.port, timeout.as_secs()));
        let started = Instant::now();
        let (tcp, addr) = stream::connect(&server.host, server.port, timeout)
            .map_err(|e| SmtpError::network(format!("cannot connect to {}:{}: {e}", server.host, server.port)))?;
        transcript::connection(&format!("Connection: opened to {addr} in {} ms", started.elapsed().as_millis()));
        let stream = match server.security {
            Security::Ssl => Stream::tls(tcp, &server.host, server.verify_tls, timeout).map_err(SmtpError::tls)?,
            Security::None | Security::StartTls => Stream::Plain(tcp),
        };
        Session::start(stream, server, password, timeout, deadline)
    }
}

impl<S: Transport> Session<S> {
    /// The conversation over `stream`, already connected (and, for
    /// implicit TLS, encrypted): greeting, EHLO, STARTTLS, AUTH.
    pub fn start(
        stream: S,
        server: &Endpoint,
        password: Option<&str>,
        timeout: Duration,
        deadline: Option<Instant>,
    ) -> Result<Self, SmtpError> {
        let mut session = Session {
            io: BufReader::new(stream),
            info: ServerInfo::default(),
            hello: ClientId::default(),
            host: server.host.clone(),
            verify_tls: server.verify_tls,
            timeout,
            deadline,
            pipelining: false,
            chunking: false,
            mail_accepted: false,
            read_armed: timeout,
            write_armed: timeout,
            secrets: Vec::new(),
        };
        session.handshake(server, password)?;
        Ok(session)
    }

    fn handshake(&mut self, server: &Endpoint, password: Option<&str>) -> Result<(), SmtpError> {
        self.note_tls();
        let greeting = self.read_reply()?;
        if greeting.code != 220 {
            return Err(greeting.account_error());
        }
        self.ehlo()?;
        if server.security == Security::StartTls {
            self.starttls()?;
        }
        match server.auth {
            AuthKind::None => {}
            AuthKind::Login => {
                let password = password.ok_or_else(|| SmtpError::account_setup("the account has no password stored"))?;
                self.authenticate(&server.login, password)?;
            }
            AuthKind::Xoauth2 => {
                let token = password.ok_or_else(|| SmtpError::account_setup("the account has no OAuth access token: connect it"))?;
                self.authenticate_xoauth2(&server.login, token)?;
            }
        }
        Ok(())
    }

    /// AUTH XOAUTH2 (SPEC §9): `user=<login>^Aauth=Bearer <token>^A^A` in
    /// base64. A refusal comes as a 334 whose payload is the server's JSON
    /// error: answered with an empty line, shown decoded, never the token.
    fn authenticate_xoauth2(&mut self, login: &str, token: &str) -> Result<(), SmtpError> {
        use base64::Engine as _;
        if !self.info.supports_auth_mechanism(Mechanism::Xoauth2) {
            return Err(SmtpError::account_setup("the server offers no AUTH XOAUTH2 on this connection"));
        }
        let payload = base64::engine::general_purpose::STANDARD.encode(format!("user={login}\x01auth=Bearer {token}\x01\x01"));
        self.keep_secret(token);
        self.keep_secret(&payload);
        let reply = self.command_masked(&format!("AUTH XOAUTH2 {payload}\r\n"), &format!("AUTH XOAUTH2 {MASK}"))?;
        if reply.code == 334 {
            let challenge = reply.text.get(4..).unwrap_or_default().trim();
            let detail = base64::engine::general_purpose::STANDARD
                .decode(challenge)
                .ok()
                .and_then(|json| String::from_utf8(json).ok())
                .map(|json| self.masked(json))
                .unwrap_or_default();
            let last = self.command_masked("\r\n", "")?;
            let mut error = last.account_error();
            if !detail.is_empty() {
                error.message = format!("{} (the server said: {detail})", error.message);
            }
            return Err(error);
        }
        if reply.code != 235 {
            return Err(reply.account_error());
        }
        Ok(())
    }

    /// The per-reply timeout this connection was opened with.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Bounds the next letter's conversation (a kept connection sends many),
    /// and gives back the full timeouts if an earlier deadline shortened them.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
        if self.write_armed < self.timeout {
            let _ = self.io.get_mut().set_write_timeout(self.timeout);
            self.write_armed = self.timeout;
        }
        if self.read_armed < self.timeout {
            self.rearm_read(Instant::now() + self.timeout);
        }
    }

    fn rearm_read(&mut self, until: Instant) {
        let armed = until.saturating_duration_since(Instant::now()).min(self.timeout).max(Duration::from_millis(1));
        let _ = self.io.get_mut().set_read_timeout(armed);
        self.read_armed = armed;
    }

    fn note_tls(&mut self) {
        if let Some(description) = self.io.get_ref().tls_description() {
            let verified = if self.verify_tls { "certificate verified" } else { "certificate NOT verified (verify_tls off)" };
            transcript::connection(&format!("Connection: TLS {description}, {verified}"));
        }
    }

    fn ehlo(&mut self) -> Result<(), SmtpError> {
        let reply = self.command(&Ehlo::new(self.hello.clone()).to_string())?;
        if reply.code != 250 {
            return Err(reply.account_error());
        }
        self.info = ServerInfo::from_response(&reply.lettre()?)
            .map_err(|_| SmtpError::network(format!("unreadable EHLO reply: {}", reply.text)))?;
        // lettre knows neither PIPELINING nor CHUNKING: keyword lines of their own in the reply
        self.pipelining = advertises(&reply.text, "PIPELINING");
        self.chunking = advertises(&reply.text, "CHUNKING");
        Ok(())
    }

    fn starttls(&mut self) -> Result<(), SmtpError> {
        if !self.info.supports_feature(Extension::StartTls) {
            return Err(SmtpError::account_setup("the server does not offer STARTTLS"));
        }
        let reply = self.command(&Starttls.to_string())?;
        if reply.code != 220 {
            return Err(reply.account_error());
        }
        if !self.io.buffer().is_empty() {
            // bytes sent before the handshake would be taken as said inside TLS (CVE-2011-0411)
            return Err(SmtpError::account_setup("the server sent more after its STARTTLS reply: refusing to go on over TLS"));
        }
        self.io.get_mut().start_tls(&self.host, self.verify_tls, self.timeout).map_err(SmtpError::tls)?;
        self.note_tls();
        self.ehlo()
    }

    fn authenticate(&mut self, login: &str, password: &str) -> Result<(), SmtpError> {
        let mechanism = self
            .info
            .get_auth_mechanism(&[Mechanism::Plain, Mechanism::Login])
            .ok_or_else(|| SmtpError::account_setup("the server offers no AUTH PLAIN or LOGIN on this connection"))?;
        let credentials = Credentials::new(login.to_owned(), password.to_owned());
        let sasl_error = |e: lettre::transport::smtp::Error| SmtpError::account_setup(format!("AUTH {mechanism}: {e}"));
        self.keep_secret(password);
        let first = Auth::new(mechanism, credentials.clone(), None).map_err(sasl_error)?.to_string();
        let shown = if mechanism.supports_initial_response() {
            // `AUTH PLAIN <base64 of \0login\0password>`
            self.keep_secret(first.trim_end().rsplit(' ').next().unwrap_or_default());
            format!("AUTH {mechanism} {MASK}")
        } else {
            format!("AUTH {mechanism}")
        };
        let mut reply = self.command_masked(&first, &shown)?;
        for _ in 0..10 {
            if reply.code != 334 {
                break;
            }
            let next = Auth::new_from_response(mechanism, credentials.clone(), &reply.lettre()?).map_err(sasl_error)?.to_string();
            self.keep_secret(next.trim_end());
            reply = self.command_masked(&next, MASK)?;
        }
        if reply.code != 235 {
            return Err(reply.account_error());
        }
        Ok(())
    }

    /// MAIL, RCPT for each recipient, DATA. Recipients the server refuses
    /// (for good or for now) are reported and the letter goes to the others.
    /// When it accepts none, no DATA is sent (RSET ends the transaction) and
    /// `Verdict::reply` is `None`. An `Err` means the whole letter failed:
    /// the server refused MAIL FROM, DATA or the data, or the connection failed.
    /// `reset_first`: the connection sent a letter before (RSET ends
    /// whatever that left open; pipelined, it costs no round trip).
    pub fn send(&mut self, from: &Address, recipients: &[Address], message: &[u8], reset_first: bool) -> Result<Verdict, SmtpError> {
        self.mail_accepted = false;
        let mut delivered = Verdict::default();
        let Some(envelope) = self.envelope(from, recipients, message, &mut delivered)? else { return Ok(delivered) };
        let data_reply = if self.pipelining {
            self.send_pipelined(&envelope, message, reset_first, &mut delivered)?
        } else {
            self.send_step_by_step(&envelope, reset_first, &mut delivered)?
        };
        match data_reply {
            Some(reply) => self.send_data(reply, message, delivered),
            None => Ok(delivered),
        }
    }

    /// Sends `letters` one after another on this connection. With
    /// PIPELINING (and no CHUNKING) the next letter's MAIL, RCPT and DATA
    /// leave in the same write as this letter's end of data (RFC 2920), so
    /// a letter costs one round trip, not two; with CHUNKING too, the whole
    /// window goes before any reply is read; without PIPELINING the letters
    /// go one at a time.
    /// One [`Sent`] per letter, in order. When the connection breaks, the
    /// letter it broke on says whether the server may have it
    /// (`mail_accepted`), and the letters after it are not sent.
    pub fn send_window(&mut self, letters: &[WindowLetter], reset_first: bool) -> Vec<Sent> {
        if !self.pipelining {
            return self.send_one_by_one(letters, reset_first);
        }
        if self.chunking {
            return self.send_chunked_window(letters, reset_first);
        }
        let mut sent: Vec<Sent> = Vec::with_capacity(letters.len());
        let mut reset = reset_first;
        // the letter whose commands already left behind the previous one's data
        let mut ahead: Option<(Envelope, Verdict)> = None;
        for (at, letter) in letters.iter().enumerate() {
            self.mail_accepted = false;
            let had_reset = ahead.is_none() && reset;
            let (envelope, mut verdict) = match ahead.take() {
                Some(prepared) => prepared,
                None => match self.prepare(letter) {
                    Err(result) => {
                        sent.push(Sent { result, mail_accepted: false });
                        continue;
                    }
                    Ok((envelope, verdict)) => {
                        let batch = self.command_batch(&envelope, letter.message.len(), had_reset);
                        if let Err(e) = self.write(&batch) {
                            return Self::broken(sent, e, false, letters.len());
                        }
                        (envelope, verdict)
                    }
                },
            };
            let data_reply = match self.read_pipelined(&envelope, had_reset, &mut verdict) {
                Ok(Some(reply)) => reply,
                Ok(None) => {
                    sent.push(Sent { result: Ok(verdict), mail_accepted: self.mail_accepted });
                    reset = true;
                    continue;
                }
                Err(e) if e.concern == Concern::Letter => {
                    sent.push(Sent { result: Err(e), mail_accepted: self.mail_accepted });
                    reset = true;
                    continue;
                }
                Err(e) => return Self::broken(sent, e, self.mail_accepted, letters.len()),
            };
            if data_reply.code != 354 {
                sent.push(Sent { result: Err(data_reply.letter_error()), mail_accepted: self.mail_accepted });
                reset = true;
                continue;
            }
            // this letter's end of data, and right behind it the next letter's commands
            let next = letters.get(at + 1).and_then(|l| self.prepare(l).ok());
            let behind = next.as_ref().map(|(envelope, _)| self.command_batch(envelope, 0, false)).unwrap_or_default();
            transcript::data(letter.message);
            let written = if letter.message.len() <= BODY_PIECE {
                let mut bytes = dot_stuff(letter.message);
                bytes.extend_from_slice(&behind);
                self.write(&bytes)
            } else {
                dot_stuff_into(letter.message, BODY_PIECE, |piece| self.write(piece)).and_then(|()| self.write(&behind))
            };
            let reply = match written.and_then(|()| self.read_reply()) {
                Ok(reply) => reply,
                Err(e) => return Self::broken(sent, e, true, letters.len()),
            };
            if reply.code == 250 {
                verdict.reply = Some(reply.text);
                sent.push(Sent { result: Ok(verdict), mail_accepted: true });
            } else {
                sent.push(Sent { result: Err(reply.letter_error()), mail_accepted: true });
            }
            // the end of data closed the transaction, whatever its reply
            reset = false;
            ahead = next;
        }
        sent
    }

    /// With PIPELINING and CHUNKING: every letter's commands and bytes
    /// (`BDAT <size> LAST`) go out before any reply is read, so a whole
    /// window costs about one round trip. Each letter after the first
    /// starts with RSET: how the one before it ends is not known yet. When
    /// the connection breaks, the letters whose bytes went out may have
    /// been taken: their fate is unknown (`mail_accepted`).
    fn send_chunked_window(&mut self, letters: &[WindowLetter], reset_first: bool) -> Vec<Sent> {
        let mut prepared: Vec<Written> = Vec::with_capacity(letters.len());
        let mut reset = reset_first;
        for letter in letters {
            let ready = self.prepare(letter).map(|(envelope, verdict)| (envelope, verdict, reset));
            if let Ok((envelope, _, had_reset)) = &ready {
                let batch = self.command_batch(envelope, letter.message.len(), *had_reset);
                transcript::data(letter.message);
                if let Err(e) = self.write(&batch).and_then(|()| self.write(letter.message)) {
                    return Self::broken_after(prepared, e, letters.len());
                }
                reset = true;
            }
            prepared.push(ready);
        }
        let mut sent: Vec<Sent> = Vec::with_capacity(letters.len());
        let mut ready = prepared.into_iter();
        while let Some(letter) = ready.next() {
            let (envelope, mut verdict, had_reset) = match letter {
                Ok(prepared) => prepared,
                Err(result) => {
                    sent.push(Sent { result, mail_accepted: false });
                    continue;
                }
            };
            self.mail_accepted = false;
            match self.read_pipelined(&envelope, had_reset, &mut verdict) {
                Ok(_) => sent.push(Sent { result: Ok(verdict), mail_accepted: self.mail_accepted }),
                Err(e) if e.concern == Concern::Letter => sent.push(Sent { result: Err(e), mail_accepted: self.mail_accepted }),
                Err(e) => {
                    // this letter and every one written after it: taken or not, nobody knows
                    sent.push(Sent { result: Err(e.clone()), mail_accepted: true });
                    for rest in ready.by_ref() {
                        let result = match rest {
                            Ok(_) => Err(SmtpError::network(format!("{FATE_UNKNOWN}: the connection broke ({})", e.message))),
                            Err(result) => result,
                        };
                        sent.push(Sent { result, mail_accepted: true });
                    }
                }
            }
        }
        sent
    }

    /// A chunked window whose writing failed: the letters written before
    /// may have been taken (their replies were never read), the one being
    /// written failed, the rest were not sent.
    fn broken_after(prepared: Vec<Written>, error: SmtpError, letters: usize) -> Vec<Sent> {
        let mut sent: Vec<Sent> = prepared
            .into_iter()
            .map(|ready| match ready {
                Ok(_) => Sent {
                    result: Err(SmtpError::network(format!("{FATE_UNKNOWN}: the connection broke ({})", error.message))),
                    mail_accepted: true,
                },
                Err(result) => Sent { result, mail_accepted: false },
            })
            .collect();
        sent.push(Sent { result: Err(error.clone()), mail_accepted: false });
        Self::not_sent(&mut sent, &error, letters);
        sent
    }

    /// Without PIPELINING: each letter by [`Session::send`], stopping when
    /// the connection breaks.
    fn send_one_by_one(&mut self, letters: &[WindowLetter], reset_first: bool) -> Vec<Sent> {
        let mut sent: Vec<Sent> = Vec::with_capacity(letters.len());
        let mut reset = reset_first;
        for letter in letters {
            let result = self.send(letter.from, letter.recipients, letter.message, reset);
            reset = !matches!(&result, Ok(verdict) if verdict.reply.is_some());
            let broke = match &result {
                Err(e) if e.concern == Concern::Account => Some(e.clone()),
                _ => None,
            };
            sent.push(Sent { result, mail_accepted: self.mail_accepted });
            if let Some(error) = broke {
                Self::not_sent(&mut sent, &error, letters.len());
                break;
            }
        }
        sent
    }

    /// The letter's envelope and what is already known of it (recipients
    /// this server cannot take); `Err` holds the letter's result when it
    /// cannot be sent here at all.
    fn prepare(&self, letter: &WindowLetter) -> Result<(Envelope, Verdict), Result<Verdict, SmtpError>> {
        let mut verdict = Verdict::default();
        match self.envelope(letter.from, letter.recipients, letter.message, &mut verdict) {
            Ok(Some(envelope)) => Ok((envelope, verdict)),
            Ok(None) => Err(Ok(verdict)),
            Err(e) => Err(Err(e)),
        }
    }

    /// The connection broke on letter `sent.len()` (after its MAIL was
    /// accepted, or not): that letter fails with `error`, and every letter
    /// after it is not sent.
    fn broken(mut sent: Vec<Sent>, error: SmtpError, mail_accepted: bool, letters: usize) -> Vec<Sent> {
        sent.push(Sent { result: Err(error.clone()), mail_accepted });
        Self::not_sent(&mut sent, &error, letters);
        sent
    }

    /// The letters after a broken connection's: not sent, free to go elsewhere.
    fn not_sent(sent: &mut Vec<Sent>, error: &SmtpError, letters: usize) {
        while sent.len() < letters {
            let not_sent = SmtpError::network(format!("not sent: the connection broke before its turn ({})", error.message));
            sent.push(Sent { result: Err(not_sent), mail_accepted: false });
        }
    }

    /// MAIL FROM and RCPT TO as they will be said; recipients this server
    /// cannot take (a non-ASCII local part without SMTPUTF8) are refused in
    /// `delivered` and left out. `None` when no recipient is left.
    fn envelope(
        &self,
        from: &Address,
        recipients: &[Address],
        message: &[u8],
        delivered: &mut Verdict,
    ) -> Result<Option<Envelope>, SmtpError> {
        // Domains are punycode already; a non-ASCII local part needs SMTPUTF8.
        let smtputf8 = self.info.supports_feature(Extension::SmtpUtfEight);
        let is_ascii = |a: &Address| a.to_string().is_ascii();
        if !is_ascii(from) && !smtputf8 {
            return Err(SmtpError::letter(format!("the envelope sender {from} is not ASCII and the server does not offer SMTPUTF8")));
        }
        let (sendable, unsendable): (Vec<&Address>, Vec<&Address>) = recipients.iter().partition(|r| smtputf8 || is_ascii(r));
        for recipient in unsendable {
            delivered.refused.push((recipient.clone(), "not sent: the address is not ASCII and the server does not offer SMTPUTF8".into()));
        }
        if sendable.is_empty() {
            return Ok(None);
        }
        let mut parameters = Vec::new();
        if !is_ascii(from) || sendable.iter().any(|r| !is_ascii(r)) {
            parameters.push(MailParameter::SmtpUtfEight);
        }
        // An 8-bit body to a server without 8BITMIME is sent anyway (as PHP's
        // mail() and sendmail do) rather than refused as lettre would.
        if !message.is_ascii() && self.info.supports_feature(Extension::EightBitMime) {
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        Ok(Some(Envelope {
            mail: Mail::new(Some(from.clone()), parameters).to_string(),
            rcpts: sendable.iter().map(|r| Rcpt::new((*r).clone(), vec![]).to_string()).collect(),
            recipients: sendable.into_iter().cloned().collect(),
        }))
    }

    /// RFC 2920: RSET, MAIL, every RCPT and DATA in one write; the replies
    /// come in order. With CHUNKING (RFC 3030) BDAT and the message itself
    /// join them: one round trip, and the letter is done here (`None`).
    /// Otherwise the reply to DATA, when the letter is to follow it.
    fn send_pipelined(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
        reset_first: bool,
        delivered: &mut Verdict,
    ) -> Result<Option<Reply>, SmtpError> {
        let mut batch = self.command_batch(envelope, message.len(), reset_first);
        if self.chunking {
            transcript::data(message);
        }
        if self.chunking && message.len() > BODY_PIECE {
            self.write(&batch)?;
            self.write(message)?;
        } else {
            if self.chunking {
                batch.extend_from_slice(message);
            }
            self.write(&batch)?;
        }
        self.read_pipelined(envelope, reset_first, delivered)
    }

    /// RSET (when asked), MAIL, every RCPT and DATA (or `BDAT <size> LAST`
    /// with CHUNKING) as one batch of bytes, each said in the transcript.
    fn command_batch(&self, envelope: &Envelope, size: usize, reset_first: bool) -> Vec<u8> {
        let last = if self.chunking { format!("BDAT {size} LAST\r\n") } else { "DATA\r\n".to_owned() };
        let mut commands: Vec<&str> = Vec::new();
        if reset_first {
            commands.push("RSET\r\n");
        }
        commands.push(&envelope.mail);
        commands.extend(envelope.rcpts.iter().map(String::as_str));
        commands.push(&last);
        let mut batch: Vec<u8> = Vec::new();
        for command in &commands {
            transcript::command(command);
            batch.extend_from_slice(command.as_bytes());
        }
        batch
    }

    /// The replies to a pipelined batch, in order: the letter done here
    /// (`None`: BDAT, or nothing to send), or the reply to DATA.
    fn read_pipelined(&mut self, envelope: &Envelope, reset_first: bool, delivered: &mut Verdict) -> Result<Option<Reply>, SmtpError> {
        if reset_first {
            let reply = self.read_reply()?;
            if reply.code != 250 {
                return Err(reply.account_error());
            }
        }
        let mail_reply = self.read_reply()?;
        let rcpt_replies = (0..envelope.rcpts.len()).map(|_| self.read_reply()).collect::<Result<Vec<_>, _>>()?;
        let last_reply = self.read_reply()?;
        if mail_reply.code != 250 {
            if !self.chunking {
                self.abandon_data(&last_reply)?;
            }
            return Err(mail_reply.letter_error());
        }
        self.mail_accepted = true;
        for (recipient, reply) in envelope.recipients.iter().zip(rcpt_replies) {
            delivered.classify(recipient, reply);
        }
        if delivered.accepted.is_empty() {
            // the server refused the chunk for want of recipients; a DATA accepted anyway is ended empty
            if !self.chunking {
                self.abandon_data(&last_reply)?;
            }
            return Ok(None);
        }
        if !self.chunking {
            return Ok(Some(last_reply));
        }
        if last_reply.code != 250 {
            return Err(last_reply.letter_error());
        }
        delivered.reply = Some(last_reply.text);
        Ok(None)
    }

    /// Each command waits for its reply. The reply to DATA, or `None` when
    /// no recipient was accepted (the transaction is reset).
    fn send_step_by_step(&mut self, envelope: &Envelope, reset_first: bool, delivered: &mut Verdict) -> Result<Option<Reply>, SmtpError> {
        if reset_first {
            let reply = self.command("RSET\r\n")?;
            if reply.code != 250 {
                return Err(reply.account_error());
            }
        }
        let reply = self.command(&envelope.mail)?;
        if reply.code != 250 {
            return Err(reply.letter_error());
        }
        self.mail_accepted = true;
        for (recipient, rcpt) in envelope.recipients.iter().zip(&envelope.rcpts) {
            let reply = self.command(rcpt)?;
            delivered.classify(recipient, reply);
        }
        if delivered.accepted.is_empty() {
            // a failed RSET only means the connection is going away; the answer is already known
            let _ = self.command("RSET\r\n");
            return Ok(None);
        }
        Ok(Some(self.command(&Data.to_string())?))
    }

    /// After the reply to DATA: the message, dot-stuffed, and the server's verdict.
    fn send_data(&mut self, data_reply: Reply, message: &[u8], mut delivered: Verdict) -> Result<Verdict, SmtpError> {
        if data_reply.code != 354 {
            return Err(data_reply.letter_error());
        }
        transcript::data(message);
        // streamed in pieces, dot-stuffed as it goes; the end of data leaves
        // in the same write as the last piece (one write for a small letter)
        dot_stuff_into(message, BODY_PIECE, |piece| self.write(piece))?;
        let reply = self.read_reply().map_err(SmtpError::fate_unknown)?;
        if reply.code != 250 {
            return Err(reply.letter_error());
        }
        delivered.reply = Some(reply.text);
        Ok(delivered)
    }

    /// A pipelined DATA that was accepted although the letter cannot go
    /// (MAIL refused, or no recipient): end it with an empty body.
    fn abandon_data(&mut self, data_reply: &Reply) -> Result<(), SmtpError> {
        if data_reply.code == 354 {
            self.command(".\r\n")?;
        }
        Ok(())
    }

    /// Says goodbye; a server that hangs up first is not an error.
    pub fn quit(mut self) {
        if self.command(&Quit.to_string()).is_ok() {
            transcript::connection("Connection: closed");
        }
    }

    /// Closes without waiting for an answer (a kept connection at exit).
    pub fn quit_without_waiting(mut self) {
        let _ = self.io.get_mut().write_all(Quit.to_string().as_bytes());
    }

    /// Remembers `secret` so that [`Self::masked`] hides it in what the server says.
    fn keep_secret(&mut self, secret: &str) {
        // Shorter strings would mask ordinary words of replies; a payload is never that short.
        if secret.len() >= 4 && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
        }
    }

    /// `line` with every secret the client said replaced by the mask.
    fn masked(&self, line: String) -> String {
        self.secrets
            .iter()
            .fold(line, |line, secret| if line.contains(secret.as_str()) { line.replace(secret.as_str(), MASK) } else { line })
    }

    fn command(&mut self, line: &str) -> Result<Reply, SmtpError> {
        transcript::command(line);
        self.write(line.as_bytes())?;
        self.read_reply()
    }

    fn command_masked(&mut self, line: &str, shown: &str) -> Result<Reply, SmtpError> {
        transcript::command_masked(shown);
        self.write(line.as_bytes())?;
        self.read_reply()
    }

    /// Writes all of `bytes` before the conversation's deadline: in pieces,
    /// so a peer that takes data slowly is cut off at the deadline rather
    /// than after a `timeout` per write.
    fn write(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        const PIECE: usize = 64 * 1024;
        for piece in bytes.chunks(PIECE) {
            let left = self.time_left(self.deadline)?;
            if left < self.write_armed {
                let _ = self.io.get_mut().set_write_timeout(left);
                self.write_armed = left;
            }
            let stream = self.io.get_mut();
            stream.write_all(piece).map_err(|e| Self::io_error(&self.host, self.timeout, "sending to", e))?;
        }
        let stream = self.io.get_mut();
        stream.flush().map_err(|e| Self::io_error(&self.host, self.timeout, "sending to", e))
    }

    /// What is left until `until` (and, within it, the conversation's
    /// deadline), or the error that says time is up.
    fn time_left(&self, until: Option<Instant>) -> Result<Duration, SmtpError> {
        let until = match (until, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(until) = until else { return Ok(self.timeout) };
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SmtpError::timeout(if Some(until) == self.deadline {
                format!(
                    "timed out: the conversation with {} took longer than allowed (timeout {}s a reply)",
                    self.host,
                    self.timeout.as_secs()
                )
            } else {
                format!("timed out after {}s waiting for a reply from {}", self.timeout.as_secs(), self.host)
            }));
        }
        Ok(left)
    }

    fn io_error(host: &str, timeout: Duration, doing: &str, e: std::io::Error) -> SmtpError {
        use std::io::ErrorKind::{TimedOut, WouldBlock};
        if matches!(e.kind(), WouldBlock | TimedOut) {
            SmtpError::timeout(format!("timed out after {}s {doing} {host}", timeout.as_secs()))
        } else {
            SmtpError::network(format!("connection to {host} failed while {doing} it: {e}"))
        }
    }

    /// One line of a reply, read before `until`: a server that sends its
    /// reply a byte at a time cannot stretch it past the `timeout`.
    fn read_line(&mut self, until: Instant) -> Result<Vec<u8>, SmtpError> {
        let mut line = Vec::new();
        loop {
            let left = self.time_left(Some(until))?;
            // Shortened only when a read will really wait and the reply's own
            // deadline is nearer than the armed timeout by more than a hair:
            // the first read of each reply keeps the timeout armed once per
            // connection (no setsockopt per letter).
            if self.io.buffer().is_empty() && left + REARM_SLACK < self.read_armed {
                let _ = self.io.get_mut().set_read_timeout(left);
                self.read_armed = left;
            }
            let filled = self.io.fill_buf().map(<[u8]>::len);
            match filled {
                Ok(0) => return Err(SmtpError::network(format!("{} closed the connection", self.host))),
                Ok(_) => {}
                // armed shorter than this reply may take: wait on until the reply's own deadline
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    self.time_left(Some(until))?;
                    self.rearm_read(until);
                    continue;
                }
                Err(e) => return Err(Self::io_error(&self.host, self.timeout, "waiting for a reply from", e)),
            }
            let available = self.io.buffer();
            let (taken, done) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            line.extend_from_slice(&available[..taken]);
            self.io.consume(taken);
            if line.len() > MAX_LINE + 2 {
                return Err(SmtpError::network(format!("{} sent a reply line longer than {MAX_LINE} bytes", self.host)));
            }
            if done {
                return Ok(line);
            }
        }
    }

    /// A whole reply (all its lines), within one `timeout`.
    fn read_reply(&mut self) -> Result<Reply, SmtpError> {
        let until = Instant::now() + self.timeout;
        let mut lines: Vec<String> = Vec::new();
        loop {
            let raw = self.read_line(until)?;
            let line = self.masked(String::from_utf8_lossy(&raw).trim_end_matches(['\r', '\n']).to_owned());
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok()).filter(|c| (200..=599).contains(c));
            let Some(code) = code else {
                transcript::reply(&line);
                return Err(SmtpError::network(format!("not an SMTP reply: {line}")));
            };
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line);
            if !more {
                let text = lines.join("\n");
                transcript::reply(&text);
                return Ok(Reply { code, text });
            }
            if lines.len() >= MAX_REPLY_LINES {
                return Err(SmtpError::network("the server's reply is too long"));
            }
        }
    }
}

/// Whether an EHLO reply's keyword lines offer `keyword` (a line of its own, parameters allowed).
fn advertises(ehlo_reply: &str, keyword: &str) -> bool {
    ehlo_reply
        .lines()
        .skip(1)
        .any(|line| line.get(4..).and_then(|k| k.split_whitespace().next()).is_some_and(|k| k.eq_ignore_ascii_case(keyword)))
}

/// How much of a letter's body goes to the socket in one write.
const BODY_PIECE: usize = 64 * 1024;

/// SMTP transparency (RFC 5321 §4.5.2) plus the terminator, handed to
/// `emit` in pieces of about `piece` bytes, the terminator in the last one
/// so the end of the message leaves in the same write as its last line.
/// (lettre's `ClientCodec` does the same but is private to lettre.)
/// `message` ends with CRLF (the letter is rendered so); a missing one is added.
pub fn dot_stuff_into<E>(message: &[u8], piece: usize, mut emit: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
    let piece = piece.max(1);
    let mut buffer = Vec::with_capacity(piece.min(message.len()) + 8);
    // fills the buffer to `piece` and hands it over only when more is to come,
    // so the terminator below always joins the last piece
    let mut put = |buffer: &mut Vec<u8>, mut bytes: &[u8]| -> Result<(), E> {
        while !bytes.is_empty() {
            if buffer.len() >= piece {
                emit(buffer)?;
                buffer.clear();
            }
            let take = (piece - buffer.len()).min(bytes.len());
            buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    };
    let mut rest = message;
    while let Some(&first) = rest.first() {
        if first == b'.' {
            put(&mut buffer, b".")?;
        }
        // a line ends after LF, and after a bare CR too: a receiver that ends lines
        // there must not see `.` as the end of data
        let end = memchr::memchr2(b'\n', b'\r', rest).map_or(rest.len(), |i| i + 1);
        put(&mut buffer, &rest[..end])?;
        rest = &rest[end..];
    }
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        buffer.extend_from_slice(b"\r\n");
    }
    buffer.extend_from_slice(b".\r\n");
    emit(&buffer)
}

/// The whole dot-stuffed message with its terminator, in one buffer.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let _ = dot_stuff_into::<()>(message, usize::MAX, |piece| {
        out.extend_from_slice(piece);
        Ok(())
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_read_from_their_own_keyword_lines() {
        let reply = "250-smtp.example.test Hello\n250-PIPELINING\n250-SIZE 33554432\n250-chunking\n250 8BITMIME";
        assert!(advertises(reply, "PIPELINING"));
        assert!(advertises(reply, "CHUNKING"), "any case");
        assert!(advertises(reply, "SIZE"), "with parameters");
        assert!(!advertises(reply, "SMTPUTF8"));
        assert!(!advertises("250 smtp.example.test CHUNKING", "CHUNKING"), "the greeting line is not a keyword");
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b".a\r\nb\r\n..c\r\n.\r\n"), b"..a\r\nb\r\n...c\r\n..\r\n.\r\n");
        assert_eq!(dot_stuff(b"x"), b"x\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
    }

    /// Byte by byte, as RFC 5321 §4.5.2 reads: the reference the scanning version must equal.
    fn dot_stuff_slowly(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut line_start = true;
        for &b in message {
            if line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            line_start = b == b'\n' || b == b'\r';
        }
        if !message.is_empty() && !message.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    proptest::proptest! {
        #[test]
        fn scanning_equals_the_byte_by_byte_reading(
            message in proptest::collection::vec(proptest::sample::select(vec![b'.', b'\r', b'\n', b'a', 0xd0]), 0..300),
            piece in 1usize..40,
        ) {
            let mut pieces: Vec<Vec<u8>> = Vec::new();
            dot_stuff_into::<()>(&message, piece, |p| { pieces.push(p.to_vec()); Ok(()) }).unwrap();
            proptest::prop_assert_eq!(pieces.concat(), dot_stuff_slowly(&message));
            proptest::prop_assert!(pieces[..pieces.len() - 1].iter().all(|p| p.len() == piece));
        }
    }

    #[test]
    fn streamed_pieces_add_up_to_the_whole_and_end_with_the_terminator() {
        let message: Vec<u8> =
            (0..5000).flat_map(|i| if i % 7 == 0 { b".dot line\r\n".to_vec() } else { b"plain line\r\n".to_vec() }).collect();
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        dot_stuff_into::<()>(&message, 4096, |p| {
            pieces.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        assert!(pieces.len() > 10);
        assert!(pieces[..pieces.len() - 1].iter().all(|p| p.len() == 4096));
        assert!(pieces.last().unwrap().ends_with(b"\r\n.\r\n"));
        assert_eq!(pieces.concat(), dot_stuff(&message));
    }

    fn reply(code: u16) -> Reply {
        Reply { code, text: format!("{code} text") }
    }

    #[test]
    fn the_conversation_may_take_longer_for_more_recipients_and_bytes() {
        let t = Duration::from_secs(3);
        assert_eq!(conversation_time(t, 1, 2_000), Duration::from_secs(33));
        assert_eq!(conversation_time(t, 5, 2_000), Duration::from_secs(45));
        assert_eq!(conversation_time(t, 1, 20 * 1024 * 1024), Duration::from_secs(33 + 640));
    }

    #[test]
    fn only_a_5xx_refusal_of_the_letter_is_final() {
        assert!(reply(550).letter_error().is_final());
        assert!(reply(554).letter_error().is_final());
        assert!(!reply(451).letter_error().is_final());
        assert!(reply(451).letter_error().transient);
        // the account's refusals are never final for the letter: another account may take it
        assert!(!reply(535).account_error().is_final());
        assert!(!reply(535).account_error().transient);
        assert!(reply(421).account_error().transient);
        assert!(!SmtpError::network("timed out").is_final());
        assert!(SmtpError::network("timed out").transient);
        assert_eq!(SmtpError::network("x").concern, Concern::Account);
        assert!(SmtpError::letter("no SMTPUTF8").is_final());
    }
}
