//! Alerts and the weekly report (SPEC §10). What to raise is decided purely
//! from what the store shows ([`Facts`]) and what each (event, account) last
//! did ([`AlertState`]): at most once an hour each, failing then recovered
//! once per episode. `smtp34_maintain()` gathers the facts, sends webhooks
//! (bounded by `timeout`), logs every alert, and hands the letters (alerts
//! to `alert_email`, the weekly report) to the PHP layer, which sends them
//! through `custom_mail()` like any letter of the site.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::config::settings::Settings;
use crate::error::Result;
use crate::logs;
use crate::runtime::Runtime;
use crate::store::alerts::AlertState;

const HOUR: i64 = 3600;

/// What one account shows now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFacts {
    pub id: i64,
    pub email: String,
    pub active: bool,
    pub failures: i64,
    pub last_error: String,
    pub oauth_error: String,
    /// Why it cannot take more now, when a limit is reached.
    pub over_limit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub enabled: bool,
    pub accounts: Vec<AccountFacts>,
    /// Letters given up since the last run: account, reply.
    pub given_up: Vec<(Option<i64>, String)>,
    /// From addresses of letters handed to mail() since the last run: no account had them.
    pub no_account: Vec<String>,
    /// Letters waiting for more than an hour.
    pub stale: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub event: &'static str,
    pub account_id: Option<i64>,
    pub text: String,
}

/// The alerts due now, and the states to store after them.
pub fn decide(
    facts: &Facts,
    after_failures: i64,
    states: &HashMap<(String, i64), AlertState>,
    now: i64,
) -> (Vec<Alert>, Vec<(&'static str, i64, AlertState)>) {
    let mut alerts = Vec::new();
    let mut changes = Vec::new();
    let state = |event: &str, id: i64| states.get(&(event.to_owned(), id)).cloned().unwrap_or_default();
    let mut send =
        |event: &'static str, account_id: Option<i64>, text: String, raised: bool, changes: &mut Vec<(&'static str, i64, AlertState)>| {
            let key = account_id.unwrap_or(0);
            let before = state(event, key);
            let due = now - before.last_sent_at >= HOUR;
            if due {
                alerts.push(Alert { event, account_id, text });
            }
            changes.push((event, key, AlertState { raised, last_sent_at: if due { now } else { before.last_sent_at } }));
        };
    for a in &facts.accounts {
        let name = format!("аккаунт {} ({})", a.id, a.email);
        let failing = state("account_failing", a.id);
        if a.active && a.failures >= after_failures && !failing.raised {
            let text = format!("smtp34: {name} не смог отправить письмо {} раз подряд: {}", a.failures, a.last_error);
            send("account_failing", Some(a.id), text, true, &mut changes);
        } else if a.failures == 0 && failing.raised {
            changes.push(("account_failing", a.id, AlertState { raised: false, ..failing }));
            send("account_recovered", Some(a.id), format!("smtp34: {name} снова отправляет письма"), false, &mut changes);
        }
        let refused = state("oauth_refused", a.id);
        if !a.oauth_error.is_empty() && !refused.raised {
            let text =
                format!("smtp34: {name}: провайдер отказал в обновлении токена OAuth, подключите аккаунт заново ({})", a.oauth_error);
            send("oauth_refused", Some(a.id), text, true, &mut changes);
        } else if a.oauth_error.is_empty() && refused.raised {
            changes.push(("oauth_refused", a.id, AlertState { raised: false, ..refused }));
        }
        if let Some(why) = &a.over_limit {
            send(
                "limit_reached",
                Some(a.id),
                format!("smtp34: {name} достиг лимита: {why}; письма ждут в очереди или уходят через другой аккаунт"),
                false,
                &mut changes,
            );
        }
    }
    let mut given_up: BTreeMap<Option<i64>, Vec<&str>> = BTreeMap::new();
    for (account, reply) in &facts.given_up {
        given_up.entry(*account).or_default().push(reply);
    }
    for (account, replies) in given_up {
        let text =
            format!("smtp34: писем снято с очереди без доставки: {}; последняя ошибка: {}", replies.len(), replies.last().unwrap_or(&""));
        send("letter_given_up", account, text, false, &mut changes);
    }
    if facts.enabled && !facts.no_account.is_empty() {
        let mut froms = facts.no_account.clone();
        froms.sort();
        froms.dedup();
        let text = format!("smtp34: для отправителей {} нет SMTP-аккаунта, письма ушли через PHP mail()", froms.join(", "));
        send("no_account", None, text, false, &mut changes);
    }
    if facts.stale > 0 {
        send("outbox_stale", None, format!("smtp34: писем ждёт в очереди больше часа: {}", facts.stale), false, &mut changes);
    }
    (alerts, changes)
}

/// A letter for the PHP layer to send through `custom_mail()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Headers, one per line: From (an account that is not failing, when there is one) and the content type.
    pub headers: String,
}

/// What one maintenance run raised and wrote.
#[derive(Debug, Default)]
pub struct Raised {
    pub alerts: Vec<(Alert, i64)>,
    pub letters: Vec<Letter>,
    pub report_sent: bool,
}

fn encoded(subject: &str) -> String {
    use base64::Engine;
    format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(subject))
}

/// The From of an alert letter: an active account that is not failing and not the one alerted about.
fn sender(facts: &Facts, not: Option<i64>) -> Option<String> {
    facts.accounts.iter().find(|a| a.active && a.failures == 0 && Some(a.id) != not).map(|a| a.email.clone())
}

fn headers(from: Option<String>, content_type: &str) -> String {
    let from = from.map(|f| format!("From: smtp34 <{f}>\n")).unwrap_or_default();
    format!("{from}MIME-Version: 1.0\nContent-Type: {content_type}\nContent-Transfer-Encoding: 8bit")
}

/// Gathers the facts, raises what is due, sends the webhook, logs each alert
/// and prepares the letters; the weekly report too when it is due.
pub fn run(rt: &mut Runtime, settings: &Settings) -> Result<Raised> {
    let now = crate::clock::now_unix();
    let facts = gather(rt, settings, now)?;
    let states = rt.store.alert_states()?;
    let (alerts, changes) = decide(&facts, settings.alert_after_failures, &states, now);
    for (event, id, state) in &changes {
        rt.store.set_alert_state(event, *id, state)?;
    }
    let webhook = match settings.sealed_webhook() {
        Some(sealed) => rt.cipher()?.decrypt(&sealed).ok(),
        None => None,
    };
    let mut raised = Raised::default();
    for alert in alerts {
        let mut outcome = vec!["Bitrix".to_owned()];
        if let Some(url) = &webhook {
            outcome.push(match post_webhook(url, &alert, now, settings.timeout()) {
                Ok(status) => format!("webhook {status}"),
                Err(e) => format!("webhook failed: {e}"),
            });
        }
        if !settings.alert_email.is_empty() {
            raised.letters.push(Letter {
                to: settings.alert_email.join(", "),
                subject: encoded(&alert.text.chars().take(120).collect::<String>()),
                body: format!("{}\n\n{} UTC\n", alert.text, crate::clock::iso(now)),
                headers: headers(sender(&facts, alert.account_id), "text/plain; charset=UTF-8"),
            });
            outcome.push(format!("email to {}", settings.alert_email.join(", ")));
        }
        let outcome = outcome.join("; ");
        let id = rt.store.log_alert(now, alert.event, alert.account_id, &alert.text, &outcome)?;
        log_to_file(rt, &alert, &outcome, now);
        raised.alerts.push((alert, id));
    }
    if let Some(report) = weekly_report(rt, settings, &facts, now)? {
        raised.letters.push(report);
        raised.report_sent = true;
    }
    Ok(raised)
}

/// The alerts log (`alerts_0.log`, read through `smtp34_log_read()`): one
/// tab-separated line an alert, time (UTC), event, account id (`-` for
/// none), where it went, text; started afresh past 1 MB. The dashboard shows
/// its newest lines, a webhook that failed among them.
fn log_to_file(rt: &Runtime, alert: &Alert, outcome: &str, now: i64) {
    const TARGET: logs::Target = logs::Target { kind: logs::Kind::Alerts, account_id: 0, revision: 0 };
    const POLICY: logs::Policy = logs::Policy { period_seconds: i64::MAX, max_bytes: 1 << 20 };
    let one_line = |text: &str| text.replace(['\t', '\r', '\n'], " ");
    let account = alert.account_id.map_or_else(|| "-".to_owned(), |id| id.to_string());
    let line = format!("{} UTC\t{}\t{account}\t{}\t{}\n", crate::clock::iso(now), alert.event, one_line(outcome), one_line(&alert.text));
    // the alert_log table has it too: a log directory that cannot be written loses only this copy
    let _ = logs::append(&rt.paths.log_dir, TARGET, POLICY, line.as_bytes(), now);
}

fn gather(rt: &Runtime, settings: &Settings, now: i64) -> Result<Facts> {
    let accounts = rt.store.accounts()?;
    let health = rt.store.health()?;
    let oauth = rt.store.oauth_states()?;
    let used = rt.store.used_today()?;
    let windows = rt.store.used_this_window(now)?;
    let midnight = rt.store.next_local_midnight()?;
    let cursor = rt.store.mark("alert_cursor")?;
    let newest = rt.store.newest_journal_id()?;
    // the first run reads nothing old: alerts are about what happens from now on
    let after = cursor.unwrap_or(newest);
    let given_up = rt.store.journal_since(after, "failed")?;
    let fallback = rt.store.journal_since(after, "fallback")?;
    rt.store.set_mark("alert_cursor", newest)?;
    Ok(Facts {
        enabled: settings.enabled,
        accounts: accounts
            .iter()
            .map(|a| {
                let h = health.get(&a.id).cloned().unwrap_or_default();
                let window = windows.get(&a.id).copied().unwrap_or_default();
                let view = crate::delivery::view_of(a, used.get(&a.id).copied().unwrap_or(0), window, 0);
                AccountFacts {
                    id: a.id,
                    email: a.email.clone(),
                    active: a.active,
                    failures: h.failures,
                    last_error: h.last_error,
                    oauth_error: oauth.get(&a.id).map(|t| t.error.clone()).unwrap_or_default(),
                    // a limit is reached when not even one more recipient fits
                    over_limit: view.over_limit(1, now, midnight).map(|(why, _)| why),
                }
            })
            .collect(),
        given_up: given_up.into_iter().filter(|row| row.reply.starts_with("given up")).map(|row| (row.account_id, row.reply)).collect(),
        // a letter without any From is not a template missing its account; and an alert letter
        // that went to mail() because no account works has none: it must not alert about itself
        no_account: fallback.into_iter().map(|row| row.from).filter(|from| !from.trim().is_empty()).collect(),
        stale: rt.store.stale_letters(now - HOUR)?,
    })
}

/// POSTs an alert as SPEC §10 says: our JSON (its `text` is what Slack,
/// Mattermost and Rocket.Chat show), or `chat_id` and `text` for a Telegram
/// bot URL. The answer's status, or why there was none (never the URL).
fn post_webhook(url: &str, alert: &Alert, now: i64, timeout: Duration) -> std::result::Result<u16, String> {
    crate::oauth::check_endpoint("alert_webhook", url).map_err(|e| e.to_string())?;
    let body = match telegram_chat(url) {
        Some(chat_id) => serde_json::json!({ "chat_id": chat_id, "text": alert.text }),
        None => serde_json::json!({ "event": alert.event, "account_id": alert.account_id, "text": alert.text, "time": now }),
    };
    match crate::oauth::http::agent(timeout).post(url).header("Content-Type", "application/json").send(body.to_string()) {
        Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
        Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
        Err(ureq::Error::Timeout(_)) => Err("timed out".into()),
        Err(e) => Err(e.to_string().split(url).collect::<Vec<_>>().join("(the webhook)")),
    }
}

/// The `chat_id` of a Telegram bot's sendMessage URL.
fn telegram_chat(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://api.telegram.org/bot")?;
    let query = rest.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix("chat_id=")).map(str::to_owned)
}

/// The weekly report (SPEC §10), on Monday from 8 o'clock (the server's local
/// time), once a week: the last 7 days per account and status, the top
/// failure replies, each account's health and limits, the outbox.
fn weekly_report(rt: &Runtime, settings: &Settings, facts: &Facts, now: i64) -> Result<Option<Letter>> {
    if !settings.weekly_report || settings.alert_email.is_empty() {
        return Ok(None);
    }
    let (week, monday_morning) = rt.store.local_week(now)?;
    if !monday_morning || rt.store.mark("report_week")? == Some(week) {
        return Ok(None);
    }
    rt.store.set_mark("report_week", week)?;
    let report = report_text(&rt.store, facts, now)?;
    let boundary = format!("smtp34-{}", crate::process::unique_id());
    let body = format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--{boundary}--\r\n",
        report.0, report.1
    );
    Ok(Some(Letter {
        to: settings.alert_email.join(", "),
        subject: encoded("smtp34: отчёт за неделю"),
        body,
        headers: headers(sender(facts, None), &format!("multipart/alternative; boundary=\"{boundary}\"")),
    }))
}

/// The report as plain text and as HTML.
pub fn report_text(store: &crate::store::Store, facts: &Facts, now: i64) -> Result<(String, String)> {
    let since = now - 7 * 86400;
    let mut per_account: BTreeMap<Option<i64>, BTreeMap<&'static str, i64>> = BTreeMap::new();
    for count in store.journal_counts(since, now, 7 * 86400)? {
        *per_account.entry(count.account_id).or_default().entry(count.status.as_str()).or_default() += count.count;
    }
    let high = store.newest_journal_id()?;
    let low = store.first_id_from(since)?.unwrap_or(high + 1);
    let failures = store.top_failures(low, high, 5)?;
    let duplicates = store.possible_duplicates(low, high)?;
    let outbox = store.outbox_size()?;
    let name = |id: Option<i64>| match id {
        Some(id) => facts
            .accounts
            .iter()
            .find(|a| a.id == id)
            .map_or(format!("аккаунт {id} (удалён)"), |a| format!("аккаунт {id} ({})", a.email)),
        None => "без аккаунта".to_owned(),
    };
    let mut text = format!("smtp34: отчёт за 7 дней по {} UTC\n\nПисьма по аккаунтам:\n", crate::clock::iso(now));
    let mut html = String::from("<h2>smtp34: отчёт за 7 дней</h2><table border=\"1\" cellpadding=\"4\"><tr><th>Аккаунт</th><th>Отправлено</th><th>В очереди</th><th>Не отправлено</th><th>Через mail()</th></tr>");
    for (id, counts) in &per_account {
        let get = |statuses: &[&str]| statuses.iter().map(|s| counts.get(s).copied().unwrap_or(0)).sum::<i64>();
        let row = [get(&["sent"]), get(&["queued", "sending"]), get(&["failed", "refused", "interrupted"]), get(&["fallback", "disabled"])];
        text.push_str(&format!(
            "  {}: отправлено {}, в очереди {}, не отправлено {}, через mail() {}\n",
            name(*id),
            row[0],
            row[1],
            row[2],
            row[3]
        ));
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&name(*id)),
            row[0],
            row[1],
            row[2],
            row[3]
        ));
    }
    html.push_str("</table>");
    text.push_str("\nЧастые ошибки:\n");
    html.push_str("<h3>Частые ошибки</h3><ul>");
    for (reply, count) in &failures {
        text.push_str(&format!("  {count} × {reply}\n"));
        html.push_str(&format!("<li>{count} × {}</li>", escape(reply)));
    }
    html.push_str("</ul><h3>Аккаунты</h3><ul>");
    text.push_str("\nАккаунты:\n");
    for a in &facts.accounts {
        let state = if !a.active {
            "выключен".to_owned()
        } else if a.failures > 0 {
            format!("ошибки подряд: {} ({})", a.failures, a.last_error)
        } else {
            "работает".to_owned()
        };
        let limit = a.over_limit.as_deref().map(|w| format!("; {w}")).unwrap_or_default();
        text.push_str(&format!("  {}: {state}{limit}\n", name(Some(a.id))));
        html.push_str(&format!("<li>{}: {}{}</li>", escape(&name(Some(a.id))), escape(&state), escape(&limit)));
    }
    text.push_str(&format!("\nВ очереди сейчас: {outbox}\nВозможно доставлено дважды (обрыв связи после отправки письма): {duplicates}\n"));
    html.push_str(&format!(
        "</ul><p>В очереди сейчас: {outbox}</p><p>Возможно доставлено дважды (обрыв связи после отправки письма): {duplicates}</p>"
    ));
    Ok((text, html))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, failures: i64) -> AccountFacts {
        AccountFacts { id, email: format!("a{id}@site.ru"), active: true, failures, last_error: "535 bad".into(), ..Default::default() }
    }

    fn apply(states: &mut HashMap<(String, i64), AlertState>, changes: Vec<(&'static str, i64, AlertState)>) {
        for (event, id, state) in changes {
            states.insert((event.to_owned(), id), state);
        }
    }

    #[test]
    fn a_failing_account_alerts_once_then_recovers_once() {
        let mut states = HashMap::new();
        let mut facts = Facts { enabled: true, accounts: vec![account(1, 2)], ..Default::default() };
        let (alerts, changes) = decide(&facts, 3, &states, 10_000);
        assert!(alerts.is_empty(), "two failures are below alert_after_failures");
        apply(&mut states, changes);
        facts.accounts[0].failures = 3;
        let (alerts, changes) = decide(&facts, 3, &states, 10_060);
        assert_eq!(alerts.iter().map(|a| (a.event, a.account_id)).collect::<Vec<_>>(), [("account_failing", Some(1))]);
        assert!(alerts[0].text.contains("3 раз подряд: 535 bad"));
        apply(&mut states, changes);
        facts.accounts[0].failures = 9;
        let (alerts, changes) = decide(&facts, 3, &states, 20_000);
        assert!(alerts.is_empty(), "still the same episode");
        apply(&mut states, changes);
        facts.accounts[0].failures = 0;
        let (alerts, changes) = decide(&facts, 3, &states, 20_060);
        assert_eq!(alerts.iter().map(|a| a.event).collect::<Vec<_>>(), ["account_recovered"]);
        apply(&mut states, changes);
        // failing again within the hour of the first alert: raised, but not sent again
        facts.accounts[0].failures = 3;
        let (alerts, _) = decide(&facts, 3, &states, 10_060 + 1800);
        assert!(alerts.is_empty());
        let (alerts, _) = decide(&facts, 3, &states, 10_060 + 3600);
        assert_eq!(alerts.len(), 1, "an hour later it may");
    }

    #[test]
    fn letters_given_up_limits_no_account_and_a_stale_outbox_alert_once_an_hour() {
        let mut states = HashMap::new();
        let mut limited = account(2, 0);
        limited.over_limit = Some("account 2 reached its hourly limit (100 of 100 recipients this hour)".into());
        let facts = Facts {
            enabled: true,
            accounts: vec![limited],
            given_up: vec![(Some(2), "given up after 48 h: 421".into()), (Some(2), "given up after 48 h: timeout".into())],
            no_account: vec!["b@x.ru".into(), "a@x.ru".into(), "b@x.ru".into()],
            stale: 4,
        };
        let (alerts, changes) = decide(&facts, 3, &states, 50_000);
        let events: Vec<&str> = alerts.iter().map(|a| a.event).collect();
        assert_eq!(events, ["limit_reached", "letter_given_up", "no_account", "outbox_stale"]);
        assert!(alerts[1].text.contains(": 2;") && alerts[1].text.ends_with("timeout"), "{}", alerts[1].text);
        assert!(alerts[2].text.contains("a@x.ru, b@x.ru"));
        apply(&mut states, changes);
        assert!(decide(&facts, 3, &states, 50_000 + 3599).0.is_empty());
        assert_eq!(decide(&facts, 3, &states, 50_000 + 3600).0.len(), 4);
        let off = Facts { enabled: false, ..facts };
        assert!(!decide(&off, 3, &HashMap::new(), 1).0.iter().any(|a| a.event == "no_account"), "smtp34 off: mail() is expected");
    }

    #[test]
    fn a_refused_oauth_refresh_alerts_once_until_the_account_is_connected_again() {
        let mut states = HashMap::new();
        let mut a = account(4, 0);
        a.oauth_error = "invalid_grant: reconnect the account".into();
        let mut facts = Facts { accounts: vec![a], ..Default::default() };
        let (alerts, changes) = decide(&facts, 3, &states, 100_000);
        assert_eq!(alerts.iter().map(|a| (a.event, a.account_id)).collect::<Vec<_>>(), [("oauth_refused", Some(4))]);
        assert!(alerts[0].text.contains("подключите аккаунт заново"));
        apply(&mut states, changes);
        assert!(decide(&facts, 3, &states, 200_000).0.is_empty(), "raised: not again while it stays refused");
        facts.accounts[0].oauth_error.clear();
        let (alerts, changes) = decide(&facts, 3, &states, 200_000);
        assert!(alerts.is_empty());
        apply(&mut states, changes);
        facts.accounts[0].oauth_error = "invalid_grant".into();
        assert_eq!(decide(&facts, 3, &states, 300_000).0.len(), 1, "refused again after a reconnect: a new alert");
    }

    #[test]
    fn telegram_urls_give_their_chat() {
        assert_eq!(telegram_chat("https://api.telegram.org/bot123:ABC/sendMessage?chat_id=-100200"), Some("-100200".into()));
        assert_eq!(telegram_chat("https://hooks.slack.com/services/T/B/x"), None);
    }

    #[test]
    fn the_weekly_report_counts_what_the_journal_holds() {
        use crate::route::outcome::Status;
        use crate::store::JournalEntry;
        let dir = std::env::temp_dir().join(format!("smtp34-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = crate::store::Store::open(&dir.join("smtp34.db")).unwrap();
        let now = 2_000_000_000;
        let rows = [
            (Some(1), Status::Sent, ""),
            (Some(1), Status::Sent, ""),
            (Some(1), Status::Failed, "550 no such user"),
            (Some(2), Status::Failed, "550 no such user"),
            (Some(2), Status::Queued, ""),
            (None, Status::Fallback, ""),
            (Some(2), Status::Refused, "554 spam"),
        ];
        store
            .append_journal(&JournalEntry { time: now - 8 * 86400, account_id: Some(1), status: Status::Sent, ..Default::default() })
            .unwrap();
        for (i, (account_id, status, reply)) in rows.iter().enumerate() {
            store
                .append_journal(&JournalEntry {
                    time: now - 3600 + i as i64,
                    account_id: *account_id,
                    status: *status,
                    reply: reply.to_string(),
                    ..Default::default()
                })
                .unwrap();
        }
        let facts = Facts { accounts: vec![account(1, 0), account(2, 4)], ..Default::default() };
        let (text, html) = report_text(&store, &facts, now).unwrap();
        assert!(text.contains("аккаунт 1 (a1@site.ru): отправлено 2, в очереди 0, не отправлено 1, через mail() 0"), "{text}");
        assert!(text.contains("аккаунт 2 (a2@site.ru): отправлено 0, в очереди 1, не отправлено 2, через mail() 0"), "{text}");
        assert!(text.contains("без аккаунта: отправлено 0, в очереди 0, не отправлено 0, через mail() 1"), "{text}");
        assert!(text.contains("  2 × 550 no such user\n  1 × 554 spam\n"), "most frequent first: {text}");
        assert!(text.contains("аккаунт 2 (a2@site.ru): ошибки подряд: 4 (535 bad)"), "{text}");
        assert!(html.contains("<td>аккаунт 1 (a1@site.ru)</td><td>2</td><td>0</td><td>1</td><td>0</td>"), "{html}");
        assert!(text.contains("В очереди сейчас: 0"));
        assert!(text.contains("Возможно доставлено дважды (обрыв связи после отправки письма): 0"));
    }
}
