//! The token endpoint over HTTPS (ureq with rustls; plain http only to a
//! loopback address, checked on save): the code exchange and the refresh,
//! bounded by the `timeout` setting, secrets only in the request body.

use std::time::Duration;

use super::{form_encode, parse_token_answer, TokenError, Tokens};

/// An HTTP client bounded by `timeout`, answering every status, following no redirect.
pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).max_redirects(0).build().into()
}

fn post(url: &str, form: &[(&str, &str)], timeout: Duration, now: i64) -> Result<Tokens, TokenError> {
    let refreshing = form.first().is_some_and(|(_, grant)| *grant == "refresh_token");
    super::check_endpoint("oauth_token_url", url).map_err(|e| TokenError { reconnect: false, transient: false, message: e.to_string() })?;
    let answer = agent(timeout)
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .send(form_encode(form));
    match answer {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let body = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
            parse_token_answer(status, &body, now, refreshing)
        }
        // never the URL's query or the form: only what failed
        Err(e) => {
            Err(TokenError { reconnect: false, transient: true, message: format!("cannot reach the token endpoint: {}", describe(&e)) })
        }
    }
}

fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::Io(e) => e.to_string(),
        ureq::Error::HostNotFound => "host not found".into(),
        other => other.to_string(),
    }
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
#[allow(clippy::too_many_arguments)]
pub fn exchange_code(
    token_url: &str,
    client_id: &str,
    client_secret: Option<&str>,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    timeout: Duration,
    now: i64,
) -> Result<Tokens, TokenError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier),
    ];
    if let Some(secret) = client_secret {
        form.push(("client_secret", secret));
    }
    post(token_url, &form, timeout, now)
}

/// A fresh access token (and maybe a rotated refresh token).
pub fn refresh(
    token_url: &str,
    client_id: &str,
    client_secret: Option<&str>,
    refresh_token: &str,
    scope: &str,
    timeout: Duration,
    now: i64,
) -> Result<Tokens, TokenError> {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client_id)];
    if let Some(secret) = client_secret {
        form.push(("client_secret", secret));
    }
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    post(token_url, &form, timeout, now)
}
