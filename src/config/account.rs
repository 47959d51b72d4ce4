//! SMTP accounts (SPEC §5): what is stored, and validation of what PHP sends.

use crate::config::fields::{check_email, FieldError, Fields, Value};
use crate::oauth::{OAuthConfig, Provider};
use crate::smtp::{AuthKind, Endpoint, Security};

/// An account id as given: a positive whole number.
pub fn positive_id(value: &Value) -> Result<i64, FieldError> {
    let id = value.to_int("id")?;
    if id <= 0 {
        return Err(FieldError::new("id", "must be a positive account id (leave it out to add an account)"));
    }
    Ok(id)
}

/// An account as stored (the password stays encrypted in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub active: bool,
    pub name: String,
    pub email: String,
    pub server: Endpoint,
    pub has_password: bool,
    pub mailing_first: bool,
    pub daily_limit: i64,
    pub hourly_limit: i64,
    pub minute_limit: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by every save; a transcript log restarts when it changes.
    pub revision: i64,
    /// For `auth = xoauth2` (SPEC §9); kept when auth changes, so switching back loses nothing.
    pub oauth: Option<OAuthConfig>,
    pub has_client_secret: bool,
}

impl Account {
    pub fn limits(&self) -> crate::store::health::Limits {
        crate::store::health::Limits { minute: self.minute_limit, hour: self.hourly_limit, day: self.daily_limit }
    }

    /// What SPEC §3 routing looks at.
    pub fn routing(&self) -> crate::route::Candidate<'_> {
        crate::route::Candidate {
            id: self.id,
            active: self.active,
            name: &self.name,
            email: &self.email,
            mailing_first: self.mailing_first,
        }
    }
}

/// An account to insert or update, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDraft {
    pub id: Option<i64>,
    pub active: bool,
    pub name: String,
    pub email: String,
    pub server: Endpoint,
    /// `None` keeps the stored password (a form never echoes it back).
    pub password: Option<String>,
    pub mailing_first: bool,
    pub daily_limit: i64,
    pub hourly_limit: i64,
    pub minute_limit: i64,
    pub oauth: Option<OAuthConfig>,
    /// Write-only, like the password; `None` keeps the stored one.
    pub client_secret: Option<String>,
    /// A refresh token obtained elsewhere (SPEC §9), write-only.
    pub refresh_token: Option<String>,
}

/// Fields an account array may carry. The read-only ones come back from
/// `smtp34_account_get()` and are ignored on save, so a get → edit → save
/// round trip works.
const WRITABLE: [&str; 23] = [
    "id",
    "active",
    "name",
    "email",
    "host",
    "port",
    "security",
    "auth",
    "login",
    "password",
    "mailing_first",
    "verify_tls",
    "daily_limit",
    "hourly_limit",
    "minute_limit",
    "oauth_provider",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_tenant",
    "oauth_authorize_url",
    "oauth_token_url",
    "oauth_scope",
    "oauth_refresh_token",
];
const READ_ONLY: [&str; 16] = [
    "has_password",
    "created_at",
    "updated_at",
    "sent_today",
    "sent_this_hour",
    "sent_this_minute",
    "failures",
    "last_error",
    "last_error_at",
    "last_success_at",
    "resting_until",
    "has_client_secret",
    "oauth_connected",
    "oauth_expires_at",
    "oauth_refreshed_at",
    "oauth_error",
];

impl AccountDraft {
    /// Validates `fields` for an insert (`existing` = None) or an update of
    /// `existing` (missing fields keep their stored values).
    pub fn from_fields(fields: &Fields, existing: Option<&Account>) -> Result<Self, FieldError> {
        if let Some(unknown) = fields.keys().find(|k| !WRITABLE.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str())) {
            return Err(FieldError::new(unknown, "is not an account field"));
        }
        let given = |key: &str| fields.get(key).filter(|v| **v != Value::Null);

        let id = given("id").map(positive_id).transpose()?;
        let bool_field = |key: &str, current: bool| given(key).map_or(Ok(current), |v| v.to_bool(key));
        let text_field = |key: &str, current: &str| given(key).map_or(Ok(current.to_owned()), |v| v.to_line(key));

        let active = bool_field("active", existing.is_none_or(|a| a.active))?;
        let mailing_first = bool_field("mailing_first", existing.is_some_and(|a| a.mailing_first))?;
        let verify_tls = bool_field("verify_tls", existing.is_none_or(|a| a.server.verify_tls))?;
        let name = text_field("name", existing.map_or("", |a| &a.name))?.trim().to_owned();

        let email = text_field("email", existing.map_or("", |a| &a.email))?;
        if email.trim().is_empty() {
            return Err(FieldError::new("email", "is required"));
        }
        let email = check_email("email", &email)?;

        let host = text_field("host", existing.map_or("", |a| &a.server.host))?.trim().to_owned();
        if host.is_empty() {
            return Err(FieldError::new("host", "is required"));
        }
        crate::config::fields::check_host_name(&host).map_err(|why| FieldError::new("host", why))?;

        let security = match given("security") {
            Some(v) => Security::parse(v.to_choice("security", &Security::NAMES)?).unwrap_or(Security::None),
            None => existing.map_or(Security::None, |a| a.server.security),
        };
        let port = match given("port") {
            Some(v) => v.to_int_in("port", 1..=65535)?,
            None => existing.map_or(security.default_port(), |a| i64::from(a.server.port)),
        };

        let login = text_field("login", existing.map_or("", |a| &a.server.login))?.trim().to_owned();
        let auth = match given("auth") {
            Some(v) => AuthKind::parse(v.to_choice("auth", &AuthKind::NAMES)?).unwrap_or(AuthKind::None),
            None => existing.map_or(if login.is_empty() { AuthKind::None } else { AuthKind::Login }, |a| a.server.auth),
        };
        // An empty password from a form means "unchanged", as the form never shows it.
        let password = match given("password") {
            Some(v) => Some(v.to_text("password")?).filter(|p| !p.is_empty()),
            None => None,
        };
        if auth == AuthKind::Login {
            if login.is_empty() {
                return Err(FieldError::new("login", "is required when auth is 'login'"));
            }
            if password.is_none() && !existing.is_some_and(|a| a.has_password) {
                return Err(FieldError::new("password", "is required when auth is 'login'"));
            }
        }
        let server = Endpoint { host, port: port as u16, security, verify_tls, auth, login };
        if let Some(stored) = existing.filter(|a| a.has_password && password.is_none() && server.auth == AuthKind::Login) {
            if !stored.server.same_destination(&server) {
                return Err(FieldError::new(
                    "password",
                    "must be given again: host, port, security or verify_tls changed, and the stored password goes only to the server it was saved for",
                ));
            }
        }
        let limit = |key: &str, stored: fn(&Account) -> i64| match given(key) {
            Some(v) => v.to_int_in(key, 0..=i64::from(u32::MAX)),
            None => Ok(existing.map_or(0, stored)),
        };
        let daily_limit = limit("daily_limit", |a| a.daily_limit)?;
        let hourly_limit = limit("hourly_limit", |a| a.hourly_limit)?;
        let minute_limit = limit("minute_limit", |a| a.minute_limit)?;

        let secret = |key: &str| given(key).map(|v| v.to_text(key)).transpose().map(|s| s.filter(|s| !s.trim().is_empty()));
        let client_secret = secret("oauth_client_secret")?;
        let refresh_token = secret("oauth_refresh_token")?;
        let stored = existing.and_then(|a| a.oauth.clone());
        // an account read back (get → edit → save) carries empty OAuth fields: they say nothing
        let oauth_given = |key: &str| given(key).filter(|v| !matches!(v, Value::Bytes(b) if b.is_empty()));
        let any_oauth_field = WRITABLE.iter().any(|k| k.starts_with("oauth_") && oauth_given(k).is_some());
        let oauth = if auth == AuthKind::Xoauth2 || any_oauth_field {
            let provider = match oauth_given("oauth_provider") {
                Some(v) => Provider::parse(v.to_choice("oauth_provider", &Provider::NAMES)?).unwrap_or(Provider::Custom),
                None => stored.as_ref().map_or(Provider::Custom, |o| o.provider),
            };
            let current = |pick: fn(&OAuthConfig) -> &str| stored.as_ref().map_or(String::new(), |o| pick(o).to_owned());
            let line = |key: &str, now: String| given(key).map_or(Ok(now), |v| v.to_line(key).map(|s| s.trim().to_owned()));
            let mut config = OAuthConfig {
                provider,
                client_id: line("oauth_client_id", current(|o| &o.client_id))?,
                tenant: line("oauth_tenant", current(|o| &o.tenant))?,
                authorize_url: line("oauth_authorize_url", current(|o| &o.authorize_url))?,
                token_url: line("oauth_token_url", current(|o| &o.token_url))?,
                scope: line("oauth_scope", current(|o| &o.scope))?,
            };
            if provider != Provider::Custom {
                // a named provider's endpoints and scope are its preset: what a form
                // sends back (the previous provider's, say) must not stick
                config.authorize_url.clear();
                config.token_url.clear();
                config.scope.clear();
            }
            Some(config)
        } else {
            stored
        };
        if auth == AuthKind::Xoauth2 {
            let config = oauth.as_ref().expect("built above for xoauth2");
            config.validate()?;
            if server.login.is_empty() {
                return Err(FieldError::new("login", "is required when auth is 'xoauth2' (the mailbox the token is for)"));
            }
            // like the password: a stored secret goes only to the token endpoint it was saved for
            let before = existing.and_then(|a| a.oauth.as_ref().filter(|_| a.has_client_secret));
            if let Some(before) = before.filter(|_| client_secret.is_none()) {
                if before.effective_token_url() != config.effective_token_url() {
                    return Err(FieldError::new("oauth_client_secret", "must be given again: the token endpoint changed"));
                }
            }
        }

        Ok(AccountDraft {
            id: id.or(existing.map(|a| a.id)),
            active,
            name,
            email,
            server,
            password,
            mailing_first,
            daily_limit,
            hourly_limit,
            minute_limit,
            oauth,
            client_secret,
            refresh_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, Value)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn text(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    fn minimal() -> Fields {
        fields(&[("email", text("shop@site.ru")), ("host", text("smtp.site.ru"))])
    }

    #[test]
    fn defaults_for_a_new_account() {
        let draft = AccountDraft::from_fields(&minimal(), None).unwrap();
        assert!(draft.active && draft.server.verify_tls && !draft.mailing_first);
        assert_eq!((draft.server.port, draft.server.security, draft.server.auth), (25, Security::None, AuthKind::None));
        let mut f = minimal();
        f.insert("security".into(), text("ssl"));
        assert_eq!(AccountDraft::from_fields(&f, None).unwrap().server.port, 465);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            ("security", text("tls")),
            ("auth", text("oauth")),
            ("port", Value::Int(0)),
            ("port", text("http")),
            ("email", text("not-an-email")),
            ("host", text("smtp.site.ru\r\nRCPT TO:<x@y>")),
            ("active", text("maybe")),
            ("name", Value::Bytes(b"\xcc\xe0".to_vec())),
            ("daily_limit", Value::Int(-1)),
            ("colour", text("red")),
        ];
        for (field, value) in cases {
            let mut f = minimal();
            f.insert(field.into(), value);
            let err = AccountDraft::from_fields(&f, None).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
        assert_eq!(AccountDraft::from_fields(&fields(&[("host", text("h"))]), None).unwrap_err().field, "email");
        assert_eq!(AccountDraft::from_fields(&fields(&[("email", text("a@b.ru"))]), None).unwrap_err().field, "host");
    }

    #[test]
    fn login_auth_needs_login_and_password() {
        let mut f = minimal();
        f.insert("auth".into(), text("login"));
        assert_eq!(AccountDraft::from_fields(&f, None).unwrap_err().field, "login");
        f.insert("login".into(), text("shop"));
        assert_eq!(AccountDraft::from_fields(&f, None).unwrap_err().field, "password");
        f.insert("password".into(), text("secret"));
        assert_eq!(AccountDraft::from_fields(&f, None).unwrap().password.as_deref(), Some("secret"));
    }

    #[test]
    fn update_keeps_what_is_not_given_including_the_password() {
        let mut f = minimal();
        f.extend(fields(&[("login", text("shop")), ("password", text("secret")), ("mailing_first", Value::Bool(true))]));
        let stored = saved_as_7(&AccountDraft::from_fields(&f, None).unwrap());
        let update = fields(&[("id", Value::Int(7)), ("name", text("Склад")), ("password", text("")), ("has_password", Value::Bool(true))]);
        let updated = AccountDraft::from_fields(&update, Some(&stored)).unwrap();
        assert_eq!(updated.id, Some(7));
        assert_eq!(updated.name, "Склад");
        assert_eq!(updated.server, stored.server);
        assert_eq!(updated.server.auth, AuthKind::Login);
        assert!(updated.mailing_first);
        assert_eq!(updated.password, None);
    }

    fn stored_with_password() -> Account {
        let mut f = minimal();
        f.extend(fields(&[("login", text("shop")), ("password", text("secret")), ("security", text("ssl"))]));
        saved_as_7(&AccountDraft::from_fields(&f, None).unwrap())
    }

    /// The account a save of `draft` stored, as id 7 with a password.
    fn saved_as_7(draft: &AccountDraft) -> Account {
        Account {
            id: 7,
            active: draft.active,
            name: draft.name.clone(),
            email: draft.email.clone(),
            server: draft.server.clone(),
            has_password: true,
            mailing_first: draft.mailing_first,
            daily_limit: 0,
            hourly_limit: 0,
            minute_limit: 0,
            created_at: 1,
            updated_at: 1,
            revision: 1,
            oauth: None,
            has_client_secret: false,
        }
    }

    #[test]
    fn the_stored_password_goes_only_where_it_was_saved_for() {
        let stored = stored_with_password();
        for (key, value) in [("host", "evil.test"), ("port", "2525"), ("security", "none"), ("verify_tls", "N")] {
            let change = fields(&[("id", Value::Int(7)), (key, text(value))]);
            let err = AccountDraft::from_fields(&change, Some(&stored)).unwrap_err();
            assert_eq!(err.field, "password", "{key}");
            assert!(err.message.contains("must be given again"), "{key}: {}", err.message);
            let with_password = fields(&[("id", Value::Int(7)), (key, text(value)), ("password", text("new"))]);
            assert!(AccountDraft::from_fields(&with_password, Some(&stored)).is_ok(), "{key} with the password");
        }
        let same = fields(&[("id", Value::Int(7)), ("host", text("SMTP.SITE.RU")), ("name", text("Другое имя"))]);
        assert!(AccountDraft::from_fields(&same, Some(&stored)).is_ok(), "the same server, any case; other fields");
        let no_auth = fields(&[("id", Value::Int(7)), ("host", text("other.test")), ("auth", text("none"))]);
        assert!(AccountDraft::from_fields(&no_auth, Some(&stored)).is_ok(), "no password sent at all");
    }

    #[test]
    fn an_id_is_positive() {
        for id in [0, -5] {
            let mut f = minimal();
            f.insert("id".into(), Value::Int(id));
            assert_eq!(AccountDraft::from_fields(&f, None).unwrap_err().field, "id", "{id}");
        }
    }
}
