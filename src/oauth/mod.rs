//! OAuth 2.0 for SMTP accounts (SPEC §9): provider presets, the
//! authorization-code flow with PKCE (S256) and a one-time state, and the
//! token endpoint's answers. Pure, but for [`http`], which talks to the
//! token endpoint.

pub mod http;
pub mod tokens;

use base64::Engine as _;

use crate::config::fields::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Google,
    Microsoft,
    Yandex,
    Mailru,
    Custom,
}

impl Provider {
    pub const NAMES: [&'static str; 5] = ["google", "microsoft", "yandex", "mailru", "custom"];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
            Provider::Yandex => "yandex",
            Provider::Mailru => "mailru",
            Provider::Custom => "custom",
        }
    }

    pub fn parse(text: &str) -> Option<Provider> {
        [Provider::Google, Provider::Microsoft, Provider::Yandex, Provider::Mailru, Provider::Custom]
            .into_iter()
            .find(|p| p.as_str() == text)
    }

    /// (authorize URL, token URL, scope) for a named provider; `{tenant}` is Microsoft's.
    fn preset(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Provider::Google => {
                Some(("https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token", "https://mail.google.com/"))
            }
            Provider::Microsoft => Some((
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
                "https://outlook.office.com/SMTP.Send offline_access",
            )),
            Provider::Yandex => Some(("https://oauth.yandex.ru/authorize", "https://oauth.yandex.ru/token", "mail:smtp")),
            Provider::Mailru => Some(("https://oauth.mail.ru/login", "https://oauth.mail.ru/token", "userinfo mail.imap")),
            Provider::Custom => None,
        }
    }
}

/// An account's OAuth settings (the client secret stays sealed in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthConfig {
    pub provider: Provider,
    pub client_id: String,
    pub tenant: String,
    /// As given; empty for a named provider means its preset.
    pub authorize_url: String,
    pub token_url: String,
    pub scope: String,
}

impl OAuthConfig {
    /// The account columns it is stored in, with their values.
    pub fn columns(&self) -> [(&'static str, String); 6] {
        [
            ("oauth_provider", self.provider.as_str().to_owned()),
            ("oauth_client_id", self.client_id.clone()),
            ("oauth_tenant", self.tenant.clone()),
            ("oauth_authorize_url", self.authorize_url.clone()),
            ("oauth_token_url", self.token_url.clone()),
            ("oauth_scope", self.scope.clone()),
        ]
    }

    /// The same columns for an account without OAuth settings.
    pub fn no_columns() -> [(&'static str, String); 6] {
        ["oauth_provider", "oauth_client_id", "oauth_tenant", "oauth_authorize_url", "oauth_token_url", "oauth_scope"]
            .map(|c| (c, String::new()))
    }

    pub fn effective_authorize_url(&self) -> String {
        self.resolve(&self.authorize_url, |p| p.0)
    }

    pub fn effective_token_url(&self) -> String {
        self.resolve(&self.token_url, |p| p.1)
    }

    pub fn effective_scope(&self) -> String {
        if !self.scope.is_empty() {
            return self.scope.clone();
        }
        self.provider.preset().map(|p| p.2.to_owned()).unwrap_or_default()
    }

    fn resolve(&self, given: &str, pick: impl Fn((&'static str, &'static str, &'static str)) -> &'static str) -> String {
        if !given.is_empty() {
            return given.to_owned();
        }
        let tenant = if self.tenant.is_empty() { "organizations" } else { self.tenant.as_str() };
        self.provider.preset().map(|p| pick(p).replace("{tenant}", tenant)).unwrap_or_default()
    }

    /// Checks what a save must have: a client id, and for `custom` both URLs and a scope.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.client_id.is_empty() {
            return Err(FieldError::new("oauth_client_id", "is required when auth is 'xoauth2'"));
        }
        if self.provider == Provider::Custom {
            for (field, value) in
                [("oauth_authorize_url", &self.authorize_url), ("oauth_token_url", &self.token_url), ("oauth_scope", &self.scope)]
            {
                if value.is_empty() {
                    return Err(FieldError::new(field, "is required for the 'custom' provider"));
                }
            }
        }
        check_endpoint("oauth_authorize_url", &self.effective_authorize_url())?;
        check_endpoint("oauth_token_url", &self.effective_token_url())?;
        if !self.tenant.is_empty() && !self.tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
            return Err(FieldError::new("oauth_tenant", "must be a tenant id or domain (letters, digits, '-', '.', '_')"));
        }
        Ok(())
    }
}

/// https, or plain http to a loopback address only (a local provider in tests).
pub fn check_endpoint(field: &str, url: &str) -> Result<(), FieldError> {
    let host_of = |rest: &str| rest.split(['/', '?', '#']).next().unwrap_or_default().to_owned();
    if let Some(rest) = url.strip_prefix("https://") {
        if !host_of(rest).is_empty() && !url.contains(char::is_whitespace) {
            return Ok(());
        }
    } else if let Some(rest) = url.strip_prefix("http://") {
        let authority = host_of(rest);
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
            None => authority.rsplit_once(':').map_or(authority.clone(), |(h, _)| h.to_owned()),
        };
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback {
            return Ok(());
        }
        return Err(FieldError::new(field, "must be https (plain http only to a loopback address)"));
    }
    Err(FieldError::new(field, format!("'{}' is not an https URL", url.escape_default())))
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A PKCE verifier (RFC 7636: 43 characters of base64url) and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = base64url(&crate::crypto::random_bytes::<32>());
    let challenge = pkce_challenge(&verifier);
    (verifier, challenge)
}

pub fn pkce_challenge(verifier: &str) -> String {
    base64url(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// A one-time state: 32 random bytes, base64url.
pub fn new_state() -> String {
    base64url(&crate::crypto::random_bytes::<32>())
}

/// How long a state waits for the provider to send the admin back.
pub const STATE_SECONDS: i64 = 600;

pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", percent(k), percent(v))).collect::<Vec<_>>().join("&")
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The provider's authorization URL the admin is sent to.
pub fn authorization_url(config: &OAuthConfig, login: &str, redirect_uri: &str, state: &str, challenge: &str) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", config.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", ""),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    let scope = config.effective_scope();
    pairs[3].1 = &scope;
    match config.provider {
        // a refresh token every time, and the right mailbox preselected
        Provider::Google => pairs.extend([("access_type", "offline"), ("prompt", "consent"), ("login_hint", login)]),
        Provider::Microsoft => pairs.extend([("login_hint", login)]),
        Provider::Yandex => pairs.extend([("login_hint", login), ("force_confirm", "yes")]),
        Provider::Mailru | Provider::Custom => {}
    }
    let base = config.effective_authorize_url();
    let joiner = if base.contains('?') { '&' } else { '?' };
    format!("{base}{joiner}{}", form_encode(&pairs))
}

/// What a token endpoint gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    /// A rotated refresh token, to keep at once; `None` keeps the old one.
    pub refresh_token: Option<String>,
    pub expires_at: i64,
}

/// A refusal by the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    /// The grant is dead (`invalid_grant`): only reconnecting helps.
    pub reconnect: bool,
    /// A network failure or a 5xx: try again later.
    pub transient: bool,
    pub message: String,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Reads a token endpoint's JSON answer (RFC 6749 §5.1, §5.2).
pub fn parse_token_answer(status: u16, body: &str, now: i64, refreshing: bool) -> Result<Tokens, TokenError> {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    let text = |key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    if (200..300).contains(&status) {
        if let Some(access_token) = text("access_token").filter(|t| !t.is_empty()) {
            let lifetime =
                json.get("expires_in").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))).unwrap_or(3600);
            return Ok(Tokens { access_token, refresh_token: text("refresh_token").filter(|t| !t.is_empty()), expires_at: now + lifetime });
        }
    }
    let error = text("error").unwrap_or_default();
    let description = text("error_description").map(|d| d.chars().take(300).collect::<String>()).unwrap_or_default();
    let what = match (error.is_empty(), description.is_empty()) {
        (true, _) => format!("HTTP {status}, no access token in the answer"),
        (false, true) => error.clone(),
        (false, false) => format!("{error}: {description}"),
    };
    let reconnect = refreshing && error == "invalid_grant";
    Err(TokenError {
        reconnect,
        transient: status >= 500 || status == 429,
        message: if reconnect {
            format!("the provider refused to refresh the token ({what}): reconnect the account")
        } else {
            format!("the token endpoint refused: {what}")
        },
    })
}

/// Whether a token expiring at `expires_at` must be refreshed before use.
pub fn needs_refresh(expires_at: i64, now: i64) -> bool {
    expires_at - now < 300
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(provider: Provider) -> OAuthConfig {
        OAuthConfig {
            provider,
            client_id: "client-1".into(),
            tenant: String::new(),
            authorize_url: String::new(),
            token_url: String::new(),
            scope: String::new(),
        }
    }

    #[test]
    fn presets_fill_urls_and_scope_and_microsoft_gets_its_tenant() {
        let microsoft = config(Provider::Microsoft);
        assert_eq!(microsoft.effective_token_url(), "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
        let tenant = OAuthConfig { tenant: "contoso.onmicrosoft.com".into(), ..microsoft };
        assert!(tenant.effective_authorize_url().contains("/contoso.onmicrosoft.com/oauth2/v2.0/authorize"));
        assert_eq!(config(Provider::Google).effective_scope(), "https://mail.google.com/");
        assert_eq!(config(Provider::Yandex).effective_scope(), "mail:smtp");
        assert!(config(Provider::Custom).validate().is_err());
        assert!(config(Provider::Google).validate().is_ok());
    }

    #[test]
    fn the_authorization_url_carries_pkce_state_and_scope() {
        let (verifier, challenge) = pkce_pair();
        assert_eq!(verifier.len(), 43);
        let url = authorization_url(&config(Provider::Google), "shop@site.ru", "https://site.ru/back?x=1", "st", &challenge);
        assert!(url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=client-1&"));
        assert!(url.contains("&redirect_uri=https%3A%2F%2Fsite.ru%2Fback%3Fx%3D1&"));
        assert!(url.contains("&scope=https%3A%2F%2Fmail.google.com%2F&state=st&"));
        assert!(url.contains(&format!("&code_challenge={challenge}&code_challenge_method=S256")));
        assert!(url.contains("access_type=offline"));
        // RFC 7636 appendix B
        assert_eq!(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn token_endpoints_are_https_or_loopback_http() {
        assert!(check_endpoint("f", "https://oauth2.googleapis.com/token").is_ok());
        assert!(check_endpoint("f", "http://127.0.0.1:8080/token").is_ok());
        assert!(check_endpoint("f", "http://[::1]:8080/token").is_ok());
        assert!(check_endpoint("f", "http://localhost/token").is_ok());
        assert!(check_endpoint("f", "http://example.com/token").is_err());
        assert!(check_endpoint("f", "http://127.0.0.1.evil.com/token").is_err());
        assert!(check_endpoint("f", "ftp://x/").is_err());
    }

    #[test]
    fn token_answers() {
        let ok = parse_token_answer(200, r#"{"access_token":"a1","expires_in":3599,"refresh_token":"r2"}"#, 1000, true).unwrap();
        assert_eq!(ok, Tokens { access_token: "a1".into(), refresh_token: Some("r2".into()), expires_at: 4599 });
        let kept = parse_token_answer(200, r#"{"access_token":"a1","expires_in":"60"}"#, 0, true).unwrap();
        assert_eq!((kept.refresh_token, kept.expires_at), (None, 60));
        let dead =
            parse_token_answer(400, r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#, 0, true)
                .unwrap_err();
        assert!(dead.reconnect && !dead.transient && dead.message.contains("reconnect the account"), "{dead}");
        let busy = parse_token_answer(503, "<html>", 0, true).unwrap_err();
        let bad_code = parse_token_answer(400, r#"{"error":"invalid_grant"}"#, 0, false).unwrap_err();
        assert!(!bad_code.reconnect && bad_code.message.contains("refused: invalid_grant"), "{bad_code}");
        assert!(busy.transient && !busy.reconnect);
        assert!(needs_refresh(1299, 1000) && !needs_refresh(1301, 1000));
    }
}
