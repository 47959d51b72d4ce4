//! The PHP API of SPEC §6. Thin on purpose: convert arguments, call the
//! module that does the work, convert the answer or the error. Every
//! function runs inside [`guard`], so a Rust panic becomes an
//! `Smtp34\Exception` (or `false` for custom_mail), never a crash.
//!
//! PHP values are made only after [`with_runtime`] has returned: making one
//! can hit `memory_limit`, a fatal error that longjmps over Rust frames, and
//! the runtime must not be out of its slot then (see [`crate::runtime`]).

pub mod site_check;

use std::panic::{catch_unwind, AssertUnwindSafe};

use ext_php_rs::binary::Binary;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::convert::{FromZval, IntoZvalDyn, StubLiteral};
use ext_php_rs::exception::PhpException;
use ext_php_rs::flags::DataType;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::{bailout, ce, try_catch, CatchError, ClassEntry, ExecutorGlobals};

use crate::config::account::{Account, AccountDraft};
use crate::config::fields::{FieldError, Fields, Value};
use crate::config::settings;
use crate::delivery::{self, MailStep};
use crate::error::Error;
use crate::letter::MailArgs;
use crate::logs;
use crate::runtime::with_runtime;
use crate::store::health::Health;
use crate::store::journal::JournalFilter;
use crate::store::outbox::OutboxLetter;
use crate::store::JournalEntry;

extern "C" {
    /// SPL's class entry, exported by the PHP binary (not bound by ext-php-rs).
    /// Read at module start-up, when the class table cannot be searched yet.
    static spl_ce_RuntimeException: *mut ClassEntry;
}

pub fn runtime_exception() -> &'static ClassEntry {
    // SAFETY: SPL is compiled into PHP and registers its classes before any
    // shared extension starts, so the pointer is set and lives as long as PHP.
    unsafe { spl_ce_RuntimeException.as_ref() }.unwrap_or_else(ce::exception)
}

/// `Smtp34\Exception`: a failed account check (the message holds the
/// server's reply) or a storage problem.
#[php_class]
#[php(name = "Smtp34\\Exception")]
#[php(extends(ce = runtime_exception, stub = "\\RuntimeException"))]
#[derive(Default)]
pub struct Smtp34Exception;

fn to_php(error: Error) -> PhpException {
    // A NUL (from a server's reply, an array key) would turn the exception
    // into a plain \Error: PHP messages are C strings.
    let message = error.to_string().replace('\0', "\\0");
    match error {
        Error::Invalid(_) => PhpException::new(message, 0, ce::value_error()),
        _ => PhpException::from_class::<Smtp34Exception>(message),
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs an API call; errors and panics become PHP exceptions.
fn guard<T>(call: impl FnOnce() -> Result<T, Error>) -> PhpResult<T> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => result.map_err(to_php),
        Err(payload) => Err(PhpException::from_class::<Smtp34Exception>(format!(
            "smtp34 internal error: {}",
            panic_message(payload).replace('\0', "\\0")
        ))),
    }
}

fn warn(message: &str) {
    let text = std::ffi::CString::new(format!("smtp34: {}", message.replace('\0', " "))).unwrap_or_default();
    // SAFETY: a plain "%s" format with one NUL-terminated string argument.
    unsafe {
        ext_php_rs::ffi::php_error_docref(std::ptr::null(), ext_php_rs::ffi::E_WARNING as i32, c"%s".as_ptr(), text.as_ptr());
    }
}

fn php_string(bytes: &[u8]) -> Zval {
    let mut zval = Zval::new();
    zval.set_binary(bytes.to_vec());
    zval
}

/// PHP's own mail(), with the letter exactly as Bitrix gave it.
fn php_mail(args: &MailArgs) -> bool {
    let Ok(mail) = ZendCallable::try_from_name("mail") else {
        warn("PHP's mail() function is not available");
        return false;
    };
    let params = [args.to, args.subject, args.message, args.headers, args.parameters].map(php_string);
    let params: Vec<&dyn IntoZvalDyn> = params.iter().map(|z| z as &dyn IntoZvalDyn).collect();
    mail.try_call(params).map(|r| r.is_true()).unwrap_or(false)
}

/// A PHP `string` argument taken as its bytes: windows-1251 sites exist, and
/// ext-php-rs's `&str`/`String` refuse anything that is not UTF-8 (SPEC §8).
/// Unlike `BinarySlice` it can carry a `""` default, so reflection shows the
/// signature of SPEC §6.
pub struct Bytes<'a>(&'a [u8]);

impl<'a> FromZval<'a> for Bytes<'a> {
    const TYPE: DataType = DataType::String;

    fn from_zval(zval: &'a Zval) -> Option<Self> {
        zval.zend_str().map(|s| Bytes(s.as_bytes()))
    }
}

impl Bytes<'_> {
    /// The `""` default (ext-php-rs's attribute parser does not take an empty literal).
    pub const EMPTY: Bytes<'static> = Bytes(b"");
}

impl StubLiteral for Bytes<'_> {
    fn stub_literal(&self) -> String {
        format!("'{}'", String::from_utf8_lossy(self.0).replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

#[php_function]
#[php(name = "custom_mail")]
#[php(defaults(additional_headers = Bytes::EMPTY, additional_parameters = Bytes::EMPTY))]
pub fn custom_mail(
    to: Bytes,
    subject: Bytes,
    message: Bytes,
    additional_headers: Bytes,
    additional_parameters: Bytes,
    context: Option<&ZendObject>,
) -> bool {
    let _ = context; // Bitrix's Mail\Context: nothing in it decides routing (SPEC §2).
    let args =
        MailArgs { to: to.0, subject: subject.0, message: message.0, headers: additional_headers.0, parameters: additional_parameters.0 };
    let step = catch_unwind(AssertUnwindSafe(|| with_runtime(|rt| delivery::custom_mail(rt, &args))));
    let result = match step {
        Ok(Ok(MailStep::Done(result))) => result,
        Ok(Ok(MailStep::HandToMail(handed))) => {
            // PHP's mail() runs with the runtime back in its slot; a fatal
            // error inside it is journaled, then goes on as PHP meant it to.
            let returned = try_catch(AssertUnwindSafe(|| php_mail(&args)));
            let accepted = match &returned {
                Ok(accepted) => Some(*accepted),
                Err(_) => None,
            };
            let recorded = with_runtime(|rt| Ok(delivery::handed_to_mail(rt, handed, accepted)));
            if let Err(CatchError::Bailout) = returned {
                // SAFETY: re-raises the bailout we caught, to PHP's own catch point.
                unsafe { bailout() }
            }
            match recorded {
                Ok(result) => result,
                Err(e) => delivery::MailResult { accepted: accepted.unwrap_or(false), warning: Some(e.to_string()) },
            }
        }
        Ok(Err(problem)) => {
            // No usable store: the site's mail goes on through mail(), as without smtp34.
            warn_once(&format!("smtp34 cannot use its data ({problem}); letters go through PHP's mail() until this is fixed"));
            return php_mail(&args);
        }
        Err(payload) => {
            warn(&format!("internal error, the letter was not sent: {}", panic_message(payload)));
            return false;
        }
    };
    if let Some(problem) = result.warning {
        warn(&problem);
    }
    result.accepted
}

/// Warns once per process: a broken store would otherwise warn on every letter.
fn warn_once(message: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static WARNED: AtomicU32 = AtomicU32::new(0);
    let pid = crate::process::id();
    if WARNED.swap(pid, Ordering::Relaxed) != pid {
        warn(message);
    }
}

// ---- conversions ----

fn value_of(zval: &Zval) -> Value {
    if zval.is_null() {
        Value::Null
    } else if let Some(b) = zval.bool() {
        Value::Bool(b)
    } else if let Some(i) = zval.long() {
        Value::Int(i)
    } else if let Some(f) = zval.double() {
        Value::Float(f)
    } else if let Some(s) = zval.zend_str() {
        Value::Bytes(s.as_bytes().to_vec())
    } else {
        Value::Other("array or object")
    }
}

fn fields_of(array: &ZendHashTable) -> Fields {
    array.iter().map(|(key, value)| (key.to_string(), value_of(value.dereference()))).collect()
}

fn to_zval(value: Value) -> Zval {
    let mut zval = Zval::new();
    match value {
        Value::Bool(b) => zval.set_bool(b),
        Value::Int(i) => zval.set_long(i),
        Value::Float(f) => zval.set_double(f),
        Value::Bytes(b) => zval.set_binary(b),
        Value::Null | Value::Other(_) => zval.set_null(),
    }
    zval
}

type PhpArray = ZBox<ZendHashTable>;

fn array_of(pairs: Vec<(&str, Value)>) -> PhpArray {
    let mut array = ZendHashTable::new();
    for (key, value) in pairs {
        let _ = array.insert(key, to_zval(value));
    }
    array
}

fn text(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

fn int_or_null(i: Option<i64>) -> Value {
    i.map_or(Value::Null, Value::Int)
}

/// An account as the API shows it: its fields (never the password) and
/// what every worker knows of it (health, today's count).
struct AccountState {
    account: Account,
    health: Health,
    sent_today: i64,
    /// Recipients this calendar minute and hour (counted for accounts limited per minute or hour).
    window: (i64, i64),
    tokens: Option<crate::store::oauth::StoredTokens>,
}

fn account_states(rt: &crate::runtime::Runtime, accounts: Vec<Account>) -> Result<Vec<AccountState>, Error> {
    let mut health = rt.store.health()?;
    let used = rt.store.used_today()?;
    let windows = rt.store.used_this_window(crate::clock::now_unix())?;
    let mut tokens = rt.store.oauth_states()?;
    Ok(accounts
        .into_iter()
        .map(|account| AccountState {
            health: health.remove(&account.id).unwrap_or_default(),
            tokens: tokens.remove(&account.id),
            sent_today: used.get(&account.id).copied().unwrap_or(0),
            window: windows.get(&account.id).copied().unwrap_or_default(),
            account,
        })
        .collect())
}

fn account_array(state: &AccountState) -> PhpArray {
    let (a, h) = (&state.account, &state.health);
    let now = crate::clock::now_unix();
    let mut array = account_fields(a);
    for (key, value) in [
        ("sent_today", Value::Int(state.sent_today)),
        ("sent_this_hour", Value::Int(state.window.1)),
        ("sent_this_minute", Value::Int(state.window.0)),
        ("failures", Value::Int(h.failures)),
        ("last_error", text(&h.last_error)),
        ("last_error_at", int_or_null(h.last_error_at)),
        ("last_success_at", int_or_null(h.last_success_at)),
        ("resting_until", int_or_null(Some(h.backoff_until).filter(|t| *t > now))),
    ] {
        let _ = array.insert(key, to_zval(value));
    }
    oauth_fields(&mut array, a, state.tokens.as_ref());
    array
}

fn account_fields(a: &Account) -> PhpArray {
    array_of(vec![
        ("id", Value::Int(a.id)),
        ("active", Value::Bool(a.active)),
        ("name", text(&a.name)),
        ("email", text(&a.email)),
        ("host", text(&a.server.host)),
        ("port", Value::Int(a.server.port.into())),
        ("security", text(a.server.security.as_str())),
        ("auth", text(a.server.auth.as_str())),
        ("login", text(&a.server.login)),
        ("has_password", Value::Bool(a.has_password)),
        ("mailing_first", Value::Bool(a.mailing_first)),
        ("verify_tls", Value::Bool(a.server.verify_tls)),
        ("daily_limit", Value::Int(a.daily_limit)),
        ("hourly_limit", Value::Int(a.hourly_limit)),
        ("minute_limit", Value::Int(a.minute_limit)),
        ("created_at", Value::Int(a.created_at)),
        ("updated_at", Value::Int(a.updated_at)),
    ])
}

/// SPEC §9's OAuth fields of an account (never a secret or a token).
fn oauth_fields(array: &mut PhpArray, a: &Account, tokens: Option<&crate::store::oauth::StoredTokens>) {
    let o = a.oauth.as_ref();
    let t = tokens.cloned().unwrap_or_default();
    let pairs = [
        ("oauth_provider", text(o.map_or("", |o| o.provider.as_str()))),
        ("oauth_client_id", text(o.map_or("", |o| o.client_id.as_str()))),
        ("has_client_secret", Value::Bool(a.has_client_secret)),
        ("oauth_tenant", text(o.map_or("", |o| o.tenant.as_str()))),
        ("oauth_authorize_url", text(&o.map(|o| o.effective_authorize_url()).unwrap_or_default())),
        ("oauth_token_url", text(&o.map(|o| o.effective_token_url()).unwrap_or_default())),
        ("oauth_scope", text(&o.map(|o| o.effective_scope()).unwrap_or_default())),
        ("oauth_connected", Value::Bool(t.refresh_token.is_some())),
        ("oauth_expires_at", int_or_null(Some(t.expires_at).filter(|e| *e > 0))),
        ("oauth_refreshed_at", int_or_null(t.refreshed_at)),
        ("oauth_error", text(&t.error)),
    ];
    for (key, value) in pairs {
        let _ = array.insert(key, to_zval(value));
    }
}

fn journal_array(e: &JournalEntry) -> PhpArray {
    array_of(vec![
        ("id", Value::Int(e.id)),
        ("time", Value::Int(e.time)),
        ("account_id", int_or_null(e.account_id)),
        ("mailing", Value::Bool(e.mailing_id.is_some())),
        ("mailing_id", e.mailing_id.as_deref().map_or(Value::Null, text)),
        ("from", text(&e.from)),
        ("recipients", text(&e.recipients)),
        ("subject", text(&e.subject)),
        ("message_id", text(&e.message_id)),
        ("status", text(e.status.as_str())),
        ("reply", text(&e.reply)),
        ("duration_ms", Value::Int(e.duration_ms)),
        ("kept", Value::Bool(e.kept)),
        ("resent_from", int_or_null(e.resent_from)),
    ])
}

/// An account array validated against the stored account it updates, if any.
fn draft_of(rt: &crate::runtime::Runtime, fields: &Fields) -> Result<(AccountDraft, Option<Account>), Error> {
    let id = match fields.get("id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(crate::config::account::positive_id(v)?),
    };
    let existing = match id {
        Some(id) => Some(rt.store.account(id)?.ok_or_else(|| FieldError::new("id", format!("no account with id {id}")))?),
        None => None,
    };
    Ok((AccountDraft::from_fields(fields, existing.as_ref())?, existing))
}

/// The check log of an account: its own, or `check_0.log` before it is saved.
fn check_log(existing: Option<&Account>, revision_after: i64) -> logs::Target {
    logs::Target {
        kind: logs::Kind::Check,
        account_id: existing.map_or(0, |a| a.id),
        revision: existing.map_or(0, |a| a.revision + revision_after),
    }
}

// ---- accounts ----

#[php_function]
#[php(name = "smtp34_account_save")]
#[php(defaults(check = true))]
pub fn smtp34_account_save(account: &ZendHashTable, check: bool) -> PhpResult<i64> {
    let fields = fields_of(account);
    guard(|| {
        with_runtime(|rt| {
            let (draft, existing) = draft_of(rt, &fields)?;
            // an OAuth account is checked once connected: before, it has no token to try
            let connected = match (&existing, draft.server.auth) {
                (Some(account), crate::smtp::AuthKind::Xoauth2) => rt.store.oauth_tokens(account.id)?.refresh_token.is_some(),
                (None, crate::smtp::AuthKind::Xoauth2) => false,
                _ => true,
            };
            if check && connected && draft.refresh_token.is_none() {
                // logged under the revision the account is about to get
                let outcome = delivery::check(rt, &draft, check_log(existing.as_ref(), 1))?;
                if !outcome.ok {
                    return Err(Error::CheckFailed(format!("account check failed, nothing saved: {}", outcome.message)));
                }
            }
            let mut seal = |secret: &Option<String>| -> Result<Option<Vec<u8>>, Error> {
                secret.as_ref().map(|s| rt.cipher().map(|c| c.encrypt(s))).transpose()
            };
            let sealed = crate::store::Sealed { password: seal(&draft.password)?, client_secret: seal(&draft.client_secret)? };
            let refresh_token = seal(&draft.refresh_token)?;
            let now = crate::clock::now_unix();
            let saved = match &existing {
                Some(before) => rt.store.update_account(before, &draft, sealed, now)?.then_some(before.id),
                None => Some(rt.store.insert_account(&draft, sealed, now)?),
            };
            let id = saved.ok_or_else(|| Error::Invalid(FieldError::new("id", "the account no longer exists")))?;
            if let Some(token) = refresh_token {
                rt.store.set_refresh_token(id, &token)?;
            }
            Ok(id)
        })
    })
}

#[php_function]
#[php(name = "smtp34_account_get")]
pub fn smtp34_account_get(id: i64) -> PhpResult<Option<PhpArray>> {
    let state = guard(|| with_runtime(|rt| account_states(rt, rt.store.account(id)?.into_iter().collect())))?;
    Ok(state.first().map(account_array))
}

#[php_function]
#[php(name = "smtp34_account_list")]
pub fn smtp34_account_list() -> PhpResult<Vec<PhpArray>> {
    let states = guard(|| with_runtime(|rt| account_states(rt, rt.store.accounts()?)))?;
    Ok(states.iter().map(account_array).collect())
}

#[php_function]
#[php(name = "smtp34_account_delete")]
pub fn smtp34_account_delete(id: i64) -> PhpResult<bool> {
    guard(|| with_runtime(|rt| Ok(rt.store.delete_account(id)?)))
}

#[php_function]
#[php(name = "smtp34_account_check")]
pub fn smtp34_account_check(account: &Zval) -> PhpResult<PhpArray> {
    let fields: Result<Fields, Error> = if let Some(array) = account.array() {
        Ok(fields_of(array))
    } else if let Some(id) = account.long() {
        Ok([("id".to_owned(), Value::Int(id))].into_iter().collect())
    } else {
        Err(Error::Invalid(FieldError::new("account", "must be an account array or an account id")))
    };
    guard(|| {
        let fields = fields?;
        with_runtime(|rt| {
            let (draft, existing) = draft_of(rt, &fields)?;
            delivery::check(rt, &draft, check_log(existing.as_ref(), 0))
        })
    })
    .map(|outcome| {
        array_of(vec![
            ("ok", Value::Bool(outcome.ok)),
            ("message", text(&outcome.message)),
            ("transcript", Value::Bytes(outcome.transcript)),
        ])
    })
}

// ---- settings, routing, journal ----

#[php_function]
#[php(name = "smtp34_settings")]
pub fn smtp34_settings(changes: Option<&ZendHashTable>) -> PhpResult<PhpArray> {
    let changes = changes.map(fields_of);
    let current = guard(|| {
        with_runtime(|rt| match changes.filter(|c| !c.is_empty()) {
            Some(mut changes) => {
                // a new webhook URL is a secret: only its sealed form is stored
                if changes.contains_key("alert_webhook") {
                    let cipher = rt.cipher()?;
                    settings::seal_webhook(&mut changes, |url| cipher.encrypt(url))?;
                }
                rt.store.update_settings(&changes)
            }
            None => Ok(rt.store.settings()?),
        })
    })?;
    Ok(array_of(settings::KEYS.iter().map(|k| (*k, current.get(k))).collect()))
}

#[php_function]
#[php(name = "smtp34_resolve")]
#[php(defaults(mailing = false))]
pub fn smtp34_resolve(from: Bytes, mailing: bool) -> PhpResult<Option<i64>> {
    guard(|| with_runtime(|rt| delivery::resolve(rt, from.0, mailing)))
}

#[php_function]
#[php(name = "smtp34_journal")]
#[php(defaults(limit = 50, before_id = 0))]
#[php(optional = limit)]
pub fn smtp34_journal(limit: i64, before_id: i64, filter: Option<&ZendHashTable>) -> PhpResult<Vec<PhpArray>> {
    let filter = match filter {
        Some(array) => {
            // 'status' may be a list of statuses: its elements, read apart from the other keys
            let statuses: Option<Vec<Value>> =
                array.get("status").and_then(|v| v.array()).map(|list| list.iter().map(|(_, v)| value_of(v.dereference())).collect());
            JournalFilter::from_fields(&fields_of(array), statuses.as_deref()).map_err(|e| to_php(Error::Invalid(e)))?
        }
        None => JournalFilter::default(),
    };
    let rows = guard(|| {
        with_runtime(|rt| {
            rt.store.mark_interrupted(crate::clock::now_unix())?;
            Ok(rt.store.journal_page(limit, before_id, &filter)?)
        })
    })?;
    Ok(rows.iter().map(journal_array).collect())
}

#[php_function]
#[php(name = "smtp34_journal_counts")]
#[php(defaults(until = 0, bucket = 3600))]
pub fn smtp34_journal_counts(since: i64, until: i64, bucket: i64) -> PhpResult<Vec<PhpArray>> {
    if bucket < 1 {
        return Err(to_php(Error::Invalid(FieldError::new("bucket", "must be at least 1 second"))));
    }
    let counts = guard(|| {
        with_runtime(|rt| {
            let until = if until > 0 { until } else { crate::clock::now_unix() };
            Ok(rt.store.journal_counts(since, until, bucket)?)
        })
    })?;
    Ok(counts
        .iter()
        .map(|c| {
            array_of(vec![
                ("start", Value::Int(c.start)),
                ("account_id", int_or_null(c.account_id)),
                ("status", text(c.status.as_str())),
                ("count", Value::Int(c.count)),
            ])
        })
        .collect())
}

#[php_function]
#[php(name = "smtp34_journal_resend")]
#[php(defaults(to = Bytes::EMPTY))]
pub fn smtp34_journal_resend(id: i64, to: Bytes) -> PhpResult<i64> {
    guard(|| with_runtime(|rt| delivery::resend(rt, id, to.0)))
}

// ---- the outbox ----

#[php_function]
#[php(name = "smtp34_outbox_flush")]
#[php(defaults(limit = 100, now = false))]
pub fn smtp34_outbox_flush(limit: i64, now: bool) -> PhpResult<PhpArray> {
    let report = guard(|| with_runtime(|rt| delivery::flush(rt, limit, now)))?;
    Ok(flush_array(&report))
}

fn flush_array(report: &delivery::FlushReport) -> PhpArray {
    array_of(vec![("sent", Value::Int(report.sent)), ("failed", Value::Int(report.failed)), ("left", Value::Int(report.left))])
}

#[php_function]
#[php(name = "smtp34_maintain")]
pub fn smtp34_maintain() -> PhpResult<PhpArray> {
    let done = guard(|| with_runtime(delivery::maintain))?;
    // alert letters and the weekly report go out as any letter of the site does,
    // with the runtime back in its slot (custom_mail() may hand one to PHP's mail())
    for letter in &done.raised.letters {
        custom_mail(
            Bytes(letter.to.as_bytes()),
            Bytes(letter.subject.as_bytes()),
            Bytes(letter.body.as_bytes()),
            Bytes(letter.headers.as_bytes()),
            Bytes::EMPTY,
            None,
        );
    }
    let alerts: Vec<PhpArray> = done
        .raised
        .alerts
        .iter()
        .map(|(alert, id)| {
            array_of(vec![
                ("id", Value::Int(*id)),
                ("event", text(alert.event)),
                ("account_id", int_or_null(alert.account_id)),
                ("text", text(&alert.text)),
            ])
        })
        .collect();
    let mut array = array_of(vec![
        ("pruned", Value::Int(done.pruned as i64)),
        ("tokens_refreshed", Value::Int(done.tokens_refreshed as i64)),
        ("alerts_sent", Value::Int(alerts.len() as i64)),
        ("report_sent", Value::Bool(done.raised.report_sent)),
    ]);
    let _ = array.insert("flushed", flush_array(&done.flushed));
    // beyond SPEC §6's keys: the alerts themselves, for the host's own notifications (Bitrix's CAdminNotify)
    let _ = array.insert("alerts", alerts);
    Ok(array)
}

#[php_function]
#[php(name = "smtp34_outbox_list")]
pub fn smtp34_outbox_list() -> PhpResult<Vec<PhpArray>> {
    let letters = guard(|| with_runtime(|rt| Ok(rt.store.outbox(crate::clock::now_unix())?)))?;
    Ok(letters.iter().map(outbox_array).collect())
}

#[php_function]
#[php(name = "smtp34_outbox_delete")]
pub fn smtp34_outbox_delete(id: i64) -> PhpResult<bool> {
    guard(|| with_runtime(|rt| delivery::drop_from_outbox(rt, id)))
}

#[php_function]
#[php(name = "smtp34_oauth_start")]
pub fn smtp34_oauth_start(account_id: i64, redirect_uri: &str) -> PhpResult<String> {
    guard(|| with_runtime(|rt| crate::oauth::tokens::start(rt, account_id, redirect_uri)))
}

#[php_function]
#[php(name = "smtp34_oauth_finish")]
pub fn smtp34_oauth_finish(state: &str, code: &str) -> PhpResult<i64> {
    guard(|| with_runtime(|rt| crate::oauth::tokens::finish(rt, state, code)))
}

#[php_function]
#[php(name = "smtp34_dkim_save")]
pub fn smtp34_dkim_save(key: &ZendHashTable) -> PhpResult<i64> {
    let fields = fields_of(key);
    guard(|| {
        let draft = crate::config::dkim::DkimDraft::from_fields(&fields)?;
        with_runtime(|rt| {
            let timeout = rt.config()?.settings.timeout();
            crate::config::dkim::save(rt, draft, timeout)
        })
    })
}

#[php_function]
#[php(name = "smtp34_dkim_list")]
pub fn smtp34_dkim_list() -> PhpResult<Vec<PhpArray>> {
    let keys = guard(|| with_runtime(|rt| Ok(rt.store.dkim_keys()?)))?;
    Ok(keys
        .iter()
        .map(|k| {
            array_of(vec![
                ("id", Value::Int(k.id)),
                ("domain", text(&k.domain)),
                ("selector", text(&k.selector)),
                ("algorithm", text(k.algorithm.as_str())),
                ("active", Value::Bool(k.active)),
                ("dns_name", text(&k.dns_name())),
                ("dns_value", text(&k.dns_value())),
                ("created_at", Value::Int(k.created_at)),
            ])
        })
        .collect())
}

#[php_function]
#[php(name = "smtp34_dkim_delete")]
pub fn smtp34_dkim_delete(id: i64) -> PhpResult<bool> {
    guard(|| with_runtime(|rt| Ok(rt.store.delete_dkim(id)?)))
}

fn outbox_array(l: &OutboxLetter) -> PhpArray {
    array_of(vec![
        ("id", Value::Int(l.id)),
        ("journal_id", int_or_null(l.journal_id)),
        ("created_at", Value::Int(l.created_at)),
        ("account_id", int_or_null(l.account_id)),
        ("mailing", Value::Bool(l.mailing)),
        ("from", text(&if l.from_name.is_empty() { l.from_email.clone() } else { format!("{} <{}>", l.from_name, l.from_email) })),
        ("recipients", text(&l.recipients.join(", "))),
        ("subject", text(&l.subject)),
        ("size", Value::Int(l.size)),
        ("attempts", Value::Int(l.attempts)),
        ("next_try_at", Value::Int(l.next_try_at)),
        ("last_try_at", int_or_null(l.last_try_at)),
        ("last_error", text(&l.last_error)),
        ("sending", Value::Bool(l.claimed)),
    ])
}

// ---- transcript logs ----

#[php_function]
#[php(name = "smtp34_log_list")]
pub fn smtp34_log_list() -> PhpResult<Vec<PhpArray>> {
    guard(|| {
        let dir = crate::runtime::paths().log_dir;
        Ok(logs::list(&dir)
            .iter()
            .map(|log| {
                array_of(vec![
                    ("name", text(&log.name)),
                    ("account_id", Value::Int(log.account_id)),
                    ("kind", text(log.kind.as_str())),
                    ("size", Value::Int(log.size as i64)),
                    ("modified", Value::Int(log.modified)),
                ])
            })
            .collect())
    })
}

#[php_function]
#[php(name = "smtp34_log_read")]
pub fn smtp34_log_read(name: Bytes) -> PhpResult<Binary<u8>> {
    let name = String::from_utf8_lossy(name.0).into_owned();
    let max = log_read_limit();
    guard(|| match logs::read(&crate::runtime::paths().log_dir, &name, max) {
        Ok(bytes) => Ok(Binary::from(bytes)),
        Err(logs::ReadError::BadName(e)) => Err(Error::Invalid(e)),
        Err(logs::ReadError::Missing(m)) => Err(Error::Storage(m)),
    })
}

/// How much of a log `smtp34_log_read()` returns: a quarter of PHP's
/// `memory_limit` (the page still has to escape and print it), at most 16 MiB.
fn log_read_limit() -> u64 {
    const MOST: u64 = 16 << 20;
    let limit = ExecutorGlobals::get().ini_values().get("memory_limit").cloned().flatten();
    match limit.as_deref().and_then(ini_quantity) {
        Some(bytes) if bytes > 0 => (bytes / 4).clamp(64 << 10, MOST),
        _ => MOST,
    }
}

/// A php.ini size (`128M`, `1G`, `512k`, `1048576`); `None` for `-1` and what does not parse.
fn ini_quantity(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (at, c) if c.is_ascii_alphabetic() => (&text[..at], c.to_ascii_lowercase()),
        _ => (text, ' '),
    };
    let number: u64 = digits.trim().parse().ok()?;
    let shift = match unit {
        ' ' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

#[php_function]
#[php(name = "smtp34_log_delete")]
pub fn smtp34_log_delete(name: Bytes) -> PhpResult<bool> {
    let name = String::from_utf8_lossy(name.0).into_owned();
    guard(|| Ok(logs::delete(&crate::runtime::paths().log_dir, &name)?))
}

/// Adds the class and the functions of SPEC §6 to the module.
pub fn register(module: ModuleBuilder) -> ModuleBuilder {
    module
        .class::<Smtp34Exception>()
        .function(wrap_function!(custom_mail))
        .function(wrap_function!(smtp34_account_save))
        .function(wrap_function!(smtp34_account_get))
        .function(wrap_function!(smtp34_account_list))
        .function(wrap_function!(smtp34_account_delete))
        .function(wrap_function!(smtp34_account_check))
        .function(wrap_function!(smtp34_settings))
        .function(wrap_function!(smtp34_resolve))
        .function(wrap_function!(smtp34_journal))
        .function(wrap_function!(smtp34_journal_counts))
        .function(wrap_function!(smtp34_journal_resend))
        .function(wrap_function!(smtp34_log_list))
        .function(wrap_function!(smtp34_log_read))
        .function(wrap_function!(smtp34_log_delete))
        .function(wrap_function!(smtp34_outbox_flush))
        .function(wrap_function!(smtp34_outbox_list))
        .function(wrap_function!(smtp34_outbox_delete))
        .function(wrap_function!(smtp34_maintain))
        .function(wrap_function!(smtp34_oauth_start))
        .function(wrap_function!(smtp34_oauth_finish))
        .function(wrap_function!(smtp34_dkim_save))
        .function(wrap_function!(smtp34_dkim_list))
        .function(wrap_function!(smtp34_dkim_delete))
}
