//! What alerts need to remember (SPEC §10): per (event, account) whether it
//! is raised and when it last went out (at most once an hour), the journal of
//! alerts the dashboard shows, and how far `smtp34_maintain()` has read.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::Store;

/// An alert's memory; `account_id` 0 for alerts about no account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertState {
    pub raised: bool,
    pub last_sent_at: i64,
}

/// One alert as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedAlert {
    pub id: i64,
    pub time: i64,
    pub event: String,
    pub account_id: Option<i64>,
    pub text: String,
    /// Where it went, and what failed.
    pub outcome: String,
}

/// A journal row an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEvent {
    pub id: i64,
    pub account_id: Option<i64>,
    pub from: String,
    pub reply: String,
}

impl Store {
    pub fn alert_states(&self) -> rusqlite::Result<HashMap<(String, i64), AlertState>> {
        let mut stmt = self.conn.prepare_cached("SELECT event, account_id, raised, last_sent_at FROM alert_state")?;
        let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), AlertState { raised: r.get(2)?, last_sent_at: r.get(3)? })))?;
        rows.collect()
    }

    pub fn set_alert_state(&self, event: &str, account_id: i64, state: &AlertState) -> rusqlite::Result<()> {
        self.run(
            "INSERT INTO alert_state (event, account_id, raised, last_sent_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (event, account_id) DO UPDATE SET raised = excluded.raised, last_sent_at = excluded.last_sent_at",
            params![event, account_id, state.raised, state.last_sent_at],
        )?;
        Ok(())
    }

    pub fn log_alert(&self, time: i64, event: &str, account_id: Option<i64>, text: &str, outcome: &str) -> rusqlite::Result<i64> {
        self.run(
            "INSERT INTO alert_log (time, event, account_id, text, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![time, event, account_id, text, outcome],
        )?;
        self.run("DELETE FROM alert_log WHERE id <= (SELECT max(id) - 500 FROM alert_log)", [])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The newest alerts first.
    pub fn alert_log(&self, limit: i64) -> rusqlite::Result<Vec<LoggedAlert>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT id, time, event, account_id, text, outcome FROM alert_log ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit], |r| {
            Ok(LoggedAlert { id: r.get(0)?, time: r.get(1)?, event: r.get(2)?, account_id: r.get(3)?, text: r.get(4)?, outcome: r.get(5)? })
        })?;
        rows.collect()
    }

    /// A number `smtp34_maintain()` keeps between runs (how far it read the journal, the last report's week).
    pub fn mark(&self, key: &str) -> rusqlite::Result<Option<i64>> {
        self.query_one("SELECT value FROM marks WHERE key = ?1", [key], |r| r.get(0)).optional()
    }

    pub fn set_mark(&self, key: &str, value: i64) -> rusqlite::Result<()> {
        self.run(
            "INSERT INTO marks (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn newest_journal_id(&self) -> rusqlite::Result<i64> {
        self.query_one("SELECT coalesce(max(id), 0) FROM journal", [], |r| r.get(0))
    }

    /// Rows after `after_id` with `status` (the status index walks them).
    pub fn journal_since(&self, after_id: i64, status: &str) -> rusqlite::Result<Vec<JournalEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, account_id, from_addr, reply FROM journal WHERE status = ?2 AND id > ?1 ORDER BY id LIMIT 1000")?;
        let rows = stmt.query_map(params![after_id, status], |r| {
            Ok(JournalEvent { id: r.get(0)?, account_id: r.get(1)?, from: r.get(2)?, reply: r.get(3)? })
        })?;
        rows.collect()
    }

    /// The local (year, week) of `now` and whether it is Monday from 8 o'clock: when the weekly report is due.
    pub fn local_week(&self, now: i64) -> rusqlite::Result<(i64, bool)> {
        self.query_one(
            "SELECT CAST(strftime('%Y%W', ?1, 'unixepoch', 'localtime') AS INTEGER),
                    strftime('%w', ?1, 'unixepoch', 'localtime') = '1' AND CAST(strftime('%H', ?1, 'unixepoch', 'localtime') AS INTEGER) >= 8",
            [now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Letters waiting since before `before` (unix time).
    pub fn stale_letters(&self, before: i64) -> rusqlite::Result<i64> {
        self.query_one("SELECT count(*) FROM outbox WHERE created_at < ?1", [before], |r| r.get(0))
    }

    /// Letters between two ids that may have arrived twice (their rows say so).
    pub fn possible_duplicates(&self, low: i64, high: i64) -> rusqlite::Result<i64> {
        self.query_one(
            "SELECT count(*) FROM journal WHERE status = 'sent' AND id BETWEEN ?1 AND ?2 AND instr(reply, ?3) > 0",
            params![low, high, crate::delivery::POSSIBLE_DUPLICATE],
            |r| r.get(0),
        )
    }

    /// The most frequent replies of letters that failed between two ids: reply, count.
    pub fn top_failures(&self, low: i64, high: i64, limit: i64) -> rusqlite::Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT reply, count(*) FROM journal WHERE status IN ('failed', 'refused') AND id BETWEEN ?1 AND ?2
             GROUP BY reply ORDER BY 2 DESC, 1 LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![low, high, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }
}
