//! OAuth tokens and one-time states (SPEC §9). Tokens live apart from the
//! account row: a refresh every hour must not move the account's revision
//! (which restarts its log) or every worker's cached config.

use rusqlite::{params, OptionalExtension};

use super::Store;

/// What the store keeps of an account's tokens (both sealed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredTokens {
    pub refresh_token: Option<Vec<u8>>,
    pub access_token: Option<Vec<u8>>,
    pub expires_at: i64,
    pub refreshed_at: Option<i64>,
    pub error: String,
}

/// A started authorization, waiting for the provider to send the admin back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub account_id: i64,
    pub sealed_verifier: Vec<u8>,
    pub redirect_uri: String,
}

impl Store {
    pub fn oauth_tokens(&self, account_id: i64) -> rusqlite::Result<StoredTokens> {
        Ok(self
            .query_one(
                "SELECT refresh_token, access_token, expires_at, refreshed_at, error FROM oauth_tokens WHERE account_id = ?1",
                [account_id],
                |r| {
                    Ok(StoredTokens {
                        refresh_token: r.get::<_, Option<Vec<u8>>>(0)?.filter(|t| !t.is_empty()),
                        access_token: r.get::<_, Option<Vec<u8>>>(1)?.filter(|t| !t.is_empty()),
                        expires_at: r.get(2)?,
                        refreshed_at: r.get(3)?,
                        error: r.get(4)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Every account's tokens' state, for the account list.
    pub fn oauth_states(&self) -> rusqlite::Result<std::collections::HashMap<i64, StoredTokens>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT account_id, refresh_token IS NOT NULL AND length(refresh_token) > 0, expires_at, refreshed_at, error FROM oauth_tokens",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                StoredTokens {
                    refresh_token: r.get::<_, bool>(1)?.then(Vec::new),
                    access_token: None,
                    expires_at: r.get(2)?,
                    refreshed_at: r.get(3)?,
                    error: r.get(4)?,
                },
            ))
        })?;
        rows.collect()
    }

    /// New tokens: the refresh token replaced only when one came (rotation).
    pub fn save_oauth_tokens(
        &self,
        account_id: i64,
        refresh: Option<&[u8]>,
        access: &[u8],
        expires_at: i64,
        now: i64,
    ) -> rusqlite::Result<()> {
        self.run(
            "INSERT INTO oauth_tokens (account_id, refresh_token, access_token, expires_at, refreshed_at, error)
             VALUES (?1, ?2, ?3, ?4, ?5, '')
             ON CONFLICT (account_id) DO UPDATE SET refresh_token = coalesce(?2, refresh_token), access_token = ?3,
                 expires_at = ?4, refreshed_at = ?5, error = ''",
            params![account_id, refresh, access, expires_at, now],
        )?;
        Ok(())
    }

    /// A refresh token given on save (obtained elsewhere): the cached access token goes.
    pub fn set_refresh_token(&self, account_id: i64, sealed: &[u8]) -> rusqlite::Result<()> {
        self.run(
            "INSERT INTO oauth_tokens (account_id, refresh_token, access_token, expires_at, error) VALUES (?1, ?2, NULL, 0, '')
             ON CONFLICT (account_id) DO UPDATE SET refresh_token = ?2, access_token = NULL, expires_at = 0, error = ''",
            params![account_id, sealed],
        )?;
        Ok(())
    }

    /// The provider refused: the access token goes, the error stays until a reconnect.
    pub fn oauth_failed(&self, account_id: i64, error: &str, dead_grant: bool) -> rusqlite::Result<()> {
        self.run(
            "INSERT INTO oauth_tokens (account_id, error) VALUES (?1, ?2)
             ON CONFLICT (account_id) DO UPDATE SET error = ?2, access_token = CASE WHEN ?3 THEN NULL ELSE access_token END,
                 refresh_token = CASE WHEN ?3 THEN NULL ELSE refresh_token END",
            params![account_id, error, dead_grant],
        )?;
        Ok(())
    }

    /// Accounts whose refresh token was last refreshed before `before` (SPEC §9: idle 3 days).
    pub fn oauth_idle(&self, before: i64) -> rusqlite::Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.account_id FROM oauth_tokens t JOIN accounts a ON a.id = t.account_id
             WHERE a.auth = 'xoauth2' AND length(t.refresh_token) > 0 AND coalesce(t.refreshed_at, 0) < ?1",
        )?;
        let rows = stmt.query_map([before], |r| r.get(0))?;
        rows.collect()
    }

    pub fn begin_authorization(&self, state: &str, pending: &PendingAuthorization, expires_at: i64, now: i64) -> rusqlite::Result<()> {
        self.run("DELETE FROM oauth_pending WHERE expires_at < ?1", [now])?;
        self.run(
            "INSERT INTO oauth_pending (state, account_id, verifier, redirect_uri, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![state, pending.account_id, pending.sealed_verifier, pending.redirect_uri, expires_at],
        )?;
        Ok(())
    }

    /// Takes a state: it is gone afterwards, whatever happens next (one-time).
    pub fn take_authorization(&self, state: &str, now: i64) -> rusqlite::Result<Option<PendingAuthorization>> {
        let pending = self
            .query_one(
                "DELETE FROM oauth_pending WHERE state = ?1 RETURNING account_id, verifier, redirect_uri, expires_at",
                [state],
                |r| {
                    Ok((
                        PendingAuthorization { account_id: r.get(0)?, sealed_verifier: r.get(1)?, redirect_uri: r.get(2)? },
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(pending.filter(|(_, expires_at)| *expires_at >= now).map(|(p, _)| p))
    }
}
