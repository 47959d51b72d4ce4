//! The one path a letter takes: arguments → parsed letter → chosen account →
//! SMTP session → journal. Also the account check, which is the same session
//! without (or with a test) letter. No PHP here: PHP's own `mail()` is passed
//! in as a closure.

use std::time::Instant;

use lettre::Address;

use crate::account::{Account, AccountDraft, AuthKind, Server};
use crate::clock;
use crate::crypto::random_hex;
use crate::error::{Error, Result};
use crate::headers::Mailbox;
use crate::letter::{Letter, MailArgs};
use crate::logs;
use crate::routing::{self, Candidate};
use crate::runtime::Runtime;
use crate::settings::Settings;
use crate::smtp::{Session, SmtpError, Transcript};
use crate::store::JournalEntry;

/// The outcome of one `custom_mail()` call.
pub struct MailResult {
    pub accepted: bool,
    /// Set when the journal itself could not be written (the caller warns).
    pub journal_error: Option<String>,
}

/// Sends one letter as SPEC §1–§4 say, journals it, and returns what
/// `custom_mail()` returns. `php_mail` hands the untouched letter to PHP's
/// own `mail()` (module disabled, or no account and `fallback = mail`).
pub fn custom_mail(rt: &mut Runtime, args: &MailArgs, php_mail: &mut dyn FnMut() -> bool) -> MailResult {
    let started = Instant::now();
    let letter = Letter::parse(args, &random_hex(16));
    let mut entry = JournalEntry {
        time: clock::now_unix(),
        mailing_id: letter.mailing.clone(),
        from: letter.from.as_ref().map(|m| if m.name.is_empty() { m.address.clone() } else { format!("{} <{}>", m.name, m.address) }).unwrap_or_default(),
        recipients: letter.recipients.iter().map(Address::to_string).collect::<Vec<_>>().join(", "),
        subject: letter.subject.clone(),
        message_id: letter.message_id.clone(),
        ..Default::default()
    };

    let accepted = match rt.store.settings() {
        Err(e) => {
            entry.status = "failed".into();
            entry.reply = format!("cannot read settings: {e}");
            false
        }
        Ok(settings) => route_and_send(rt, &settings, &letter, &mut entry, php_mail),
    };
    entry.duration_ms = started.elapsed().as_millis() as i64;
    let journal_error = rt.store.append_journal(&entry).err().map(|e| format!("cannot write the journal: {e}"));
    MailResult { accepted, journal_error }
}

fn route_and_send(
    rt: &mut Runtime,
    settings: &Settings,
    letter: &Letter,
    entry: &mut JournalEntry,
    php_mail: &mut dyn FnMut() -> bool,
) -> bool {
    let mut hand_to_php = |entry: &mut JournalEntry, status: &str, why: &str| {
        let accepted = php_mail();
        entry.status = status.into();
        entry.reply = format!("{why}; PHP mail() returned {accepted}");
        accepted
    };
    if !settings.enabled {
        return hand_to_php(entry, "disabled", "smtp34 is disabled (setting 'enabled')");
    }
    let account = match choose_account(rt, letter) {
        Err(e) => {
            entry.status = "failed".into();
            entry.reply = e.to_string();
            return false;
        }
        Ok(account) => account,
    };
    let Some(account) = account else {
        let why = match &letter.from {
            None => "the letter has no readable From".to_owned(),
            Some(from) => format!("no active account for {}", from.address),
        };
        if settings.fallback == "mail" {
            return hand_to_php(entry, "fallback", &why);
        }
        entry.status = "refused".into();
        entry.reply = format!("{why} (fallback 'none')");
        return false;
    };
    entry.account_id = Some(account.id);

    let mut notes = Vec::new();
    if !letter.invalid_recipients.is_empty() {
        notes.push(format!("not valid addresses, skipped: {}", letter.invalid_recipients.join(", ")));
    }
    if letter.dropped_header_lines > 0 {
        notes.push(format!("{} malformed header line(s) dropped", letter.dropped_header_lines));
    }
    let started = Instant::now();
    let mut transcript = Transcript::default();
    let outcome = if letter.recipients.is_empty() {
        Err(SmtpError { code: None, message: "no valid recipients".into() })
    } else {
        send_letter(rt, settings, &account, letter, &mut transcript)
    };
    let (accepted, reply) = match outcome {
        Ok(delivered) => {
            for (recipient, reply) in &delivered.refused {
                notes.push(format!("refused {recipient}: {reply}"));
            }
            (true, delivered.reply)
        }
        Err(e) => (false, e.message),
    };
    entry.status = if accepted { "sent" } else { "failed" }.into();
    let title = format!(
        "send {} to {}: {} ({reply}) in {} ms",
        letter.message_id,
        if entry.recipients.is_empty() { "nobody" } else { &entry.recipients },
        entry.status,
        started.elapsed().as_millis()
    );
    let target = logs::Target { kind: logs::Kind::Send, account_id: account.id, revision: account.revision };
    if let Err(problem) = write_log(rt, settings, target, &title, &transcript) {
        notes.push(problem);
    }
    entry.reply = std::iter::once(reply).chain(notes).collect::<Vec<_>>().join("; ");
    accepted
}

/// Appends a transcript to its log when logs are on. A log that cannot be
/// written is reported to the caller (for the journal) and nothing else:
/// the letter's fate does not depend on it.
fn write_log(rt: &Runtime, settings: &Settings, target: logs::Target, title: &str, transcript: &Transcript) -> std::result::Result<(), String> {
    if !settings.log_enabled {
        return Ok(());
    }
    let now = clock::now_unix();
    let mut entry = format!("==== {} {title}\n", clock::iso(now)).into_bytes();
    entry.extend_from_slice(&transcript.render(settings.log_level));
    logs::append(&rt.paths.log_dir, target, logs::Policy::from_settings(settings), &entry, now)
}

fn choose_account(rt: &Runtime, letter: &Letter) -> Result<Option<Account>> {
    match &letter.from {
        Some(from) => pick_account(rt, from, letter.mailing.is_some()),
        None => Ok(None),
    }
}

/// SPEC §3 over the stored accounts.
fn pick_account(rt: &Runtime, from: &Mailbox, mailing: bool) -> Result<Option<Account>> {
    let accounts = rt.store.accounts()?;
    let candidates: Vec<Candidate> = accounts
        .iter()
        .map(|a| Candidate { id: a.id, active: a.active, name: &a.name, email: &a.email, mailing_first: a.mailing_first })
        .collect();
    let id = routing::choose(&candidates, &from.name, &from.address, mailing);
    Ok(id.and_then(|id| accounts.into_iter().find(|a| a.id == id)))
}

fn send_letter(
    rt: &mut Runtime,
    settings: &Settings,
    account: &Account,
    letter: &Letter,
    transcript: &mut Transcript,
) -> std::result::Result<crate::smtp::Delivered, SmtpError> {
    let password = stored_password(rt, account.id, &account.server).map_err(|e| SmtpError { code: None, message: e.to_string() })?;
    let envelope_from = match &letter.envelope_from {
        Some(address) => address.clone(),
        None => account.email.parse().map_err(|_| SmtpError { code: None, message: format!("account email '{}' is not valid", account.email) })?,
    };
    let message = letter.render(&account.name, &clock::rfc5322(clock::now_unix()));
    let mut session = Session::open(&account.server, password.as_deref(), settings.timeout(), None, transcript)?;
    let delivered = session.send(&envelope_from, &letter.recipients, &message)?;
    session.quit();
    Ok(delivered)
}

/// The decrypted password of a stored account that authenticates.
fn stored_password(rt: &mut Runtime, id: i64, server: &Server) -> Result<Option<String>> {
    if server.auth != AuthKind::Login {
        return Ok(None);
    }
    let Some(sealed) = rt.store.sealed_password(id)? else { return Ok(None) };
    rt.cipher()?.decrypt(&sealed).map(Some).map_err(Error::Storage)
}

/// `smtp34_account_check()`'s answer.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub ok: bool,
    pub message: String,
    pub transcript: Vec<u8>,
}

/// Connects, secures, authorizes and (with `check_sends_test`) sends a test
/// letter, all within the `timeout` setting. The transcript also goes to
/// `check_<id>.log` of `log_as` (account 0: an account not saved yet).
pub fn check(rt: &mut Runtime, draft: &AccountDraft, log_as: logs::Target) -> Result<CheckOutcome> {
    let settings = rt.store.settings()?;
    let password = match (&draft.password, draft.id) {
        (Some(password), _) => Some(password.clone()),
        (None, Some(id)) => stored_password(rt, id, &draft.server)?,
        (None, None) => None,
    };
    let mut transcript = Transcript::default();
    let deadline = Instant::now() + settings.timeout();
    let result = run_check(&settings, draft, password.as_deref(), deadline, &mut transcript);
    let message = match &result {
        Ok(summary) => summary.clone(),
        Err(e) => e.message.clone(),
    };
    transcript.note(format!("Result: {}", if result.is_ok() { "OK" } else { "FAILED" }));
    let title = format!(
        "check of {} on {}:{}: {message}",
        draft.email, draft.server.host, draft.server.port
    );
    let mut rendered = transcript.render(settings.log_level);
    if let Err(problem) = write_log(rt, &settings, log_as, &title, &transcript) {
        rendered.extend_from_slice(format!("({problem})\n").as_bytes());
    }
    Ok(CheckOutcome { ok: result.is_ok(), message, transcript: rendered })
}

fn run_check(
    settings: &Settings,
    draft: &AccountDraft,
    password: Option<&str>,
    deadline: Instant,
    transcript: &mut Transcript,
) -> std::result::Result<String, SmtpError> {
    let server = &draft.server;
    let mut session = Session::open(server, password, settings.timeout(), Some(deadline), transcript)?;
    let mut summary = format!("connected to {}:{} ({})", server.host, server.port, server.security.as_str());
    if server.auth == AuthKind::Login {
        summary.push_str(&format!(", authorized as {}", server.login));
    }
    if settings.check_sends_test {
        let to = if settings.test_recipient.is_empty() { &draft.email } else { &settings.test_recipient };
        let (from, recipient) = match (draft.email.parse::<Address>(), to.parse::<Address>()) {
            (Ok(f), Ok(t)) => (f, t),
            _ => return Err(SmtpError { code: None, message: "the test letter has no valid addresses".into() }),
        };
        let letter = test_letter(draft, to);
        let delivered = session.send(&from, &[recipient], &letter)?;
        summary.push_str(&format!(", test letter sent to {to}: {}", delivered.reply));
    }
    session.quit();
    Ok(summary)
}

fn test_letter(draft: &AccountDraft, to: &str) -> Vec<u8> {
    let from = crate::letter::format_mailbox(if draft.name.is_empty() { "smtp34" } else { &draft.name }, &draft.email);
    let headers = format!(
        "From: {from}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit"
    );
    let body = format!(
        "This is a test letter from smtp34, sent while checking the account {} on {}:{}.\n",
        draft.email, draft.server.host, draft.server.port
    );
    let args = MailArgs {
        to: to.as_bytes(),
        subject: b"smtp34: test letter",
        message: body.as_bytes(),
        headers: headers.as_bytes(),
        parameters: b"",
    };
    Letter::parse(&args, &random_hex(16)).render("", &clock::rfc5322(clock::now_unix()))
}

/// Resolution used by `smtp34_resolve()`: the account custom_mail would use.
pub fn resolve(rt: &Runtime, from: &[u8], mailing: bool) -> Result<Option<i64>> {
    match crate::headers::parse_address_list(from, None).0.first() {
        Some(from) => Ok(pick_account(rt, from, mailing)?.map(|a| a.id)),
        None => Ok(None),
    }
}
