//! An account's check: connect, TLS, EHLO, AUTH and, when the setting asks,
//! a test letter; the transcript comes back whatever the log settings.

use super::*;

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
        (Some(password), _) if draft.server.auth == AuthKind::Login => Some(password.clone()),
        (_, Some(id)) => stored_password(rt, id, &draft.server)?,
        (_, None) => None,
    };
    // a check returns its transcript whether logs are kept or not
    let deadline = Instant::now() + settings.timeout();
    let (result, mut transcript) =
        crate::smtp::transcript::collect(Some(settings.log_level), || run_check(&settings, draft, password.as_deref(), deadline));
    let message = match &result {
        Ok(summary) => summary.clone(),
        Err(e) => e.message.clone(),
    };
    transcript.note(format!("Result: {}", if result.is_ok() { "OK" } else { "FAILED" }));
    let title = format!("check of {} on {}:{}: {message}", draft.email, draft.server.host, draft.server.port);
    let mut rendered = transcript.render(settings.log_level);
    if let Err(problem) = write_log(rt, &settings, log_as, &title, &transcript) {
        rendered.extend_from_slice(format!("({problem})\n").as_bytes());
    }
    Ok(CheckOutcome { ok: result.is_ok(), message, transcript: rendered })
}

pub(super) fn run_check(
    settings: &Settings,
    draft: &AccountDraft,
    password: Option<&str>,
    deadline: Instant,
) -> std::result::Result<String, SmtpError> {
    let server = &draft.server;
    let mut session = Session::open(server, password, settings.timeout(), Some(deadline))?;
    let result = check_session(settings, draft, server, &mut session);
    session.quit();
    result
}

pub(super) fn check_session(
    settings: &Settings,
    draft: &AccountDraft,
    server: &Endpoint,
    session: &mut Session,
) -> std::result::Result<String, SmtpError> {
    let mut summary = format!("connected to {}:{} ({})", server.host, server.port, server.security.as_str());
    if server.auth == AuthKind::Login {
        summary.push_str(&format!(", authorized as {}", server.login));
    }
    if settings.check_sends_test {
        let to = if settings.test_recipient.is_empty() { &draft.email } else { &settings.test_recipient };
        let (from, recipient) = match (draft.email.parse::<Address>(), to.parse::<Address>()) {
            (Ok(f), Ok(t)) => (f, t),
            _ => return Err(SmtpError::letter("the test letter has no valid addresses")),
        };
        let letter = test_letter(draft, to);
        let delivered = session.send(&from, &[recipient], &letter, false)?;
        let Some(reply) = delivered.reply else {
            let why = delivered.refused.iter().chain(&delivered.deferred).map(|(_, why)| why.as_str()).next().unwrap_or_default();
            return Err(SmtpError::letter(format!("the server refused the test recipient {to}: {why}")));
        };
        summary.push_str(&format!(", test letter sent to {to}: {reply}"));
    }
    Ok(summary)
}

pub(super) fn test_letter(draft: &AccountDraft, to: &str) -> Vec<u8> {
    let from = crate::letter::format_mailbox(if draft.name.is_empty() { "smtp34" } else { &draft.name }, &draft.email);
    let headers =
        format!("From: {from}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit");
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
    Letter::parse(&args, &crate::process::unique_id()).render("", &clock::rfc5322(clock::now_unix()))
}
