//! DKIM keys (SPEC §9): the private key sealed like a password, the public
//! half kept in clear for the TXT record. A change moves `config_version`
//! (triggers), so every worker picks it up with the rest of its config.

use rusqlite::{params, OptionalExtension};

use super::Store;
use crate::dkim::Algorithm;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKey {
    pub id: i64,
    pub domain: String,
    pub selector: String,
    pub algorithm: Algorithm,
    pub active: bool,
    /// The `p=` value.
    pub public_key: String,
    pub created_at: i64,
}

impl DkimKey {
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    pub fn dns_value(&self) -> String {
        crate::dkim::dns_value(self.algorithm, &self.public_key)
    }
}

/// A new private key: its algorithm, public half and sealed PEM.
pub struct NewKey {
    pub algorithm: Algorithm,
    pub public_key: String,
    pub sealed: Vec<u8>,
}

const COLUMNS: &str = "id, domain, selector, algorithm, active, public_key, created_at";

fn key_from_row(r: &rusqlite::Row) -> rusqlite::Result<DkimKey> {
    let algorithm: String = r.get(3)?;
    Ok(DkimKey {
        id: r.get(0)?,
        domain: r.get(1)?,
        selector: r.get(2)?,
        algorithm: Algorithm::parse(&algorithm)
            .ok_or_else(|| rusqlite::Error::InvalidColumnType(3, "algorithm".into(), rusqlite::types::Type::Text))?,
        active: r.get(4)?,
        public_key: r.get(5)?,
        created_at: r.get(6)?,
    })
}

impl Store {
    /// Every key, newest first.
    pub fn dkim_keys(&self) -> rusqlite::Result<Vec<DkimKey>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM dkim_keys ORDER BY id DESC"))?;
        let keys = stmt.query_map([], key_from_row)?.collect();
        keys
    }

    pub fn dkim_key(&self, id: i64) -> rusqlite::Result<Option<DkimKey>> {
        self.query_one(&format!("SELECT {COLUMNS} FROM dkim_keys WHERE id = ?1"), [id], key_from_row).optional()
    }

    /// The sealed private key (PEM).
    pub fn dkim_private_key(&self, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
        self.query_one("SELECT private_key FROM dkim_keys WHERE id = ?1", [id], |r| r.get(0)).optional()
    }

    /// Whether another key already has this domain and selector.
    pub fn dkim_taken(&self, domain: &str, selector: &str, except: i64) -> rusqlite::Result<bool> {
        self.query_one(
            "SELECT EXISTS (SELECT 1 FROM dkim_keys WHERE domain = ?1 COLLATE NOCASE AND selector = ?2 COLLATE NOCASE AND id != ?3)",
            params![domain, selector, except],
            |r| r.get(0),
        )
    }

    pub fn insert_dkim(&self, domain: &str, selector: &str, active: bool, key: &NewKey, now: i64) -> rusqlite::Result<i64> {
        self.run(
            "INSERT INTO dkim_keys (domain, selector, algorithm, active, public_key, private_key, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![domain, selector, key.algorithm.as_str(), active, key.public_key, key.sealed, now],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Writes what changed, in one statement; false when the key is gone.
    pub fn update_dkim(&self, id: i64, domain: &str, selector: &str, active: bool, key: Option<&NewKey>) -> rusqlite::Result<bool> {
        let changed = match key {
            Some(key) => self.run(
                "UPDATE dkim_keys SET domain = ?2, selector = ?3, active = ?4, algorithm = ?5, public_key = ?6, private_key = ?7 WHERE id = ?1",
                params![id, domain, selector, active, key.algorithm.as_str(), key.public_key, key.sealed],
            )?,
            None => self.run(
                "UPDATE dkim_keys SET domain = ?2, selector = ?3, active = ?4 WHERE id = ?1",
                params![id, domain, selector, active],
            )?,
        };
        Ok(changed == 1)
    }

    pub fn delete_dkim(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self.run("DELETE FROM dkim_keys WHERE id = ?1", [id])? == 1)
    }
}
