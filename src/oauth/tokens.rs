//! An account's tokens over time (SPEC §9): the flow's start and finish,
//! an access token for AUTH (refreshed when under 5 minutes are left, a
//! rotated refresh token kept at once), and the idle refresh of
//! `smtp34_maintain()`. Every token is sealed like a password.

use super::http;
use crate::config::account::Account;
use crate::config::fields::FieldError;
use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::smtp::AuthKind;
use crate::store::oauth::PendingAuthorization;

fn oauth_account(rt: &Runtime, account_id: i64) -> Result<(Account, super::OAuthConfig)> {
    let account = rt.store.account(account_id)?.ok_or_else(|| FieldError::new("account_id", "no account has this id"))?;
    if account.server.auth != AuthKind::Xoauth2 {
        return Err(FieldError::new("account_id", "the account's auth is not 'xoauth2'").into());
    }
    let config = account.oauth.clone().ok_or_else(|| FieldError::new("oauth_provider", "the account has no OAuth settings"))?;
    Ok((account, config))
}

fn client_secret(rt: &mut Runtime, account_id: i64) -> Result<Option<String>> {
    match rt.store.sealed_client_secret(account_id)? {
        Some(sealed) => Ok(Some(rt.cipher()?.decrypt(&sealed).map_err(Error::Storage)?)),
        None => Ok(None),
    }
}

fn timeout(rt: &mut Runtime) -> Result<std::time::Duration> {
    Ok(rt.config()?.settings.timeout())
}

/// The provider's authorization URL for `account_id`, with a new one-time state.
pub fn start(rt: &mut Runtime, account_id: i64, redirect_uri: &str) -> Result<String> {
    let (account, config) = oauth_account(rt, account_id)?;
    if !(redirect_uri.starts_with("https://") || redirect_uri.starts_with("http://")) || redirect_uri.contains(char::is_whitespace) {
        return Err(FieldError::new("redirect_uri", "must be the absolute http(s) URL of the page that finishes the flow").into());
    }
    let (verifier, challenge) = super::pkce_pair();
    let state = super::new_state();
    let now = crate::clock::now_unix();
    let pending =
        PendingAuthorization { account_id, sealed_verifier: rt.cipher()?.encrypt(&verifier), redirect_uri: redirect_uri.to_owned() };
    rt.store.begin_authorization(&state, &pending, now + super::STATE_SECONDS, now)?;
    Ok(super::authorization_url(&config, &account.server.login, redirect_uri, &state, &challenge))
}

/// Exchanges the code the provider sent back; the account id.
pub fn finish(rt: &mut Runtime, state: &str, code: &str) -> Result<i64> {
    let now = crate::clock::now_unix();
    let pending = rt
        .store
        .take_authorization(state, now)?
        .ok_or_else(|| Error::CheckFailed("OAuth: unknown or expired state (start the connection again)".into()))?;
    let (_, config) = oauth_account(rt, pending.account_id)?;
    let verifier = rt.cipher()?.decrypt(&pending.sealed_verifier).map_err(Error::Storage)?;
    let secret = client_secret(rt, pending.account_id)?;
    let timeout = timeout(rt)?;
    let tokens = http::exchange_code(
        &config.effective_token_url(),
        &config.client_id,
        secret.as_deref(),
        code,
        &verifier,
        &pending.redirect_uri,
        timeout,
        now,
    )
    .map_err(|e| Error::CheckFailed(format!("OAuth: {e}")))?;
    let refresh = tokens.refresh_token.as_deref().ok_or_else(|| {
        Error::CheckFailed("OAuth: the provider gave no refresh token (ask for offline access, e.g. the offline_access scope)".into())
    })?;
    let cipher = rt.cipher()?;
    let (refresh, access) = (cipher.encrypt(refresh), cipher.encrypt(&tokens.access_token));
    rt.store.save_oauth_tokens(pending.account_id, Some(&refresh), &access, tokens.expires_at, now)?;
    // letters that waited for the connection go with the next flush, not after the back-off
    rt.store.end_backoff(pending.account_id)?;
    Ok(pending.account_id)
}

/// A fresh access token for AUTH XOAUTH2.
pub fn access_token(rt: &mut Runtime, account_id: i64) -> Result<String> {
    let now = crate::clock::now_unix();
    let stored = rt.store.oauth_tokens(account_id)?;
    if let Some(sealed) = stored.access_token.as_ref().filter(|_| !super::needs_refresh(stored.expires_at, now)) {
        return rt.cipher()?.decrypt(sealed).map_err(Error::Storage);
    }
    refresh(rt, account_id, now)
}

/// Refreshes now; the new access token. A dead grant fails the account
/// with "reconnect the account" until an admin connects it again.
fn refresh(rt: &mut Runtime, account_id: i64, now: i64) -> Result<String> {
    let (_, config) = oauth_account(rt, account_id)?;
    let stored = rt.store.oauth_tokens(account_id)?;
    let Some(sealed_refresh) = stored.refresh_token else {
        let why = if stored.error.is_empty() { "OAuth: the account is not connected yet: connect it".to_owned() } else { stored.error };
        return Err(Error::CheckFailed(why));
    };
    let refresh_token = rt.cipher()?.decrypt(&sealed_refresh).map_err(Error::Storage)?;
    let secret = client_secret(rt, account_id)?;
    let timeout = timeout(rt)?;
    let scope = if config.provider == super::Provider::Microsoft { config.effective_scope() } else { String::new() };
    match http::refresh(&config.effective_token_url(), &config.client_id, secret.as_deref(), &refresh_token, &scope, timeout, now) {
        Ok(tokens) => {
            let cipher = rt.cipher()?;
            let rotated = tokens.refresh_token.as_deref().map(|t| cipher.encrypt(t));
            let access = cipher.encrypt(&tokens.access_token);
            rt.store.save_oauth_tokens(account_id, rotated.as_deref(), &access, tokens.expires_at, now)?;
            Ok(tokens.access_token)
        }
        Err(e) => {
            let message = format!("OAuth: {e}");
            if !e.transient {
                rt.store.oauth_failed(account_id, &message, e.reconnect)?;
            }
            Err(Error::CheckFailed(message))
        }
    }
}

/// SPEC §9: every token not refreshed for 3 days is refreshed, so
/// providers that expire idle grants never do. How many were refreshed.
pub fn refresh_idle(rt: &mut Runtime) -> Result<usize> {
    const IDLE: i64 = 3 * 86_400;
    let now = crate::clock::now_unix();
    let mut refreshed = 0;
    for account_id in rt.store.oauth_idle(now - IDLE)? {
        if refresh(rt, account_id, now).is_ok() {
            refreshed += 1;
        }
    }
    Ok(refreshed)
}
