//! What every worker knows of each account: whether it is failing (and so
//! resting for a back-off period, which page hits respect and flushers probe
//! through), and how many recipients it has sent to today (`daily_limit`,
//! counted per recipient per calendar day in the server's local time, as
//! Yandex and Bitrix count).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use crate::store::Store;

/// Seconds an account rests after its `failures`-th failure in a row:
/// 1, 2, 4, 8 minutes, then 15 at most.
pub fn backoff_seconds(failures: i64) -> i64 {
    let doubling = 60i64 << (failures.max(1) - 1).min(4);
    doubling.min(15 * 60)
}

/// Recipients an account may send to per calendar minute, hour and day (0: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub minute: i64,
    pub hour: i64,
    pub day: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Failures in a row; 0 once it delivers again.
    pub failures: i64,
    pub last_error: String,
    pub last_error_at: Option<i64>,
    pub last_success_at: Option<i64>,
    /// Page hits skip the account until then.
    pub backoff_until: i64,
}

impl Health {
    pub fn is_failing(&self) -> bool {
        self.failures > 0
    }
}

/// The local calendar day, as SQLite sees the server's time zone.
const TODAY: &str = "date('now', 'localtime')";

impl Store {
    /// Every account's health; accounts never tried have none.
    pub fn health(&self) -> rusqlite::Result<HashMap<i64, Health>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT account_id, failures, last_error, last_error_at, last_success_at, backoff_until FROM account_health")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                Health {
                    failures: r.get(1)?,
                    last_error: r.get(2)?,
                    last_error_at: r.get(3)?,
                    last_success_at: r.get(4)?,
                    backoff_until: r.get(5)?,
                },
            ))
        })?;
        rows.collect()
    }

    /// Clears an account's failures. A healthy account's last success is
    /// written at most once a minute: a mailing must not pay a write a letter.
    pub fn record_success(&self, account_id: i64, now: i64) -> rusqlite::Result<()> {
        self.run(
            "INSERT INTO account_health (account_id, last_success_at) VALUES (?1, ?2)
             ON CONFLICT (account_id) DO UPDATE SET failures = 0, last_success_at = ?2, backoff_until = 0
             WHERE failures > 0 OR last_success_at IS NULL OR last_success_at <= ?2 - 60",
            params![account_id, now],
        )?;
        Ok(())
    }

    /// An admin fixed the account (reconnected its OAuth grant): it is tried
    /// at once again, its last error kept for the record.
    pub fn end_backoff(&self, account_id: i64) -> rusqlite::Result<()> {
        self.run("UPDATE account_health SET failures = 0, backoff_until = 0 WHERE account_id = ?1", [account_id])?;
        Ok(())
    }

    /// Counts a failure and starts the account's back-off; returns the failures in a row.
    pub fn record_failure(&self, account_id: i64, error: &str, now: i64) -> rusqlite::Result<i64> {
        let failures: i64 = self.query_one(
            "INSERT INTO account_health (account_id, failures, last_error, last_error_at) VALUES (?1, 1, ?2, ?3)
             ON CONFLICT (account_id) DO UPDATE SET failures = failures + 1, last_error = ?2, last_error_at = ?3
             RETURNING failures",
            params![account_id, error, now],
            |r| r.get(0),
        )?;
        self.run(
            "UPDATE account_health SET backoff_until = ?2 WHERE account_id = ?1",
            params![account_id, now + backoff_seconds(failures)],
        )?;
        Ok(failures)
    }

    /// Recipients each limited account sent to this calendar minute and hour
    /// (`now`'s): account id → (minute, hour).
    pub fn used_this_window(&self, now: i64) -> rusqlite::Result<HashMap<i64, (i64, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT account_id, period, recipients FROM rate_usage WHERE (period = 60 AND start = ?1) OR (period = 3600 AND start = ?2)",
        )?;
        let mut used: HashMap<i64, (i64, i64)> = HashMap::new();
        for row in
            stmt.query_map([now / 60 * 60, now / 3600 * 3600], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?
        {
            let (account, period, recipients) = row?;
            let entry = used.entry(account).or_default();
            if period == 60 {
                entry.0 = recipients;
            } else {
                entry.1 = recipients;
            }
        }
        Ok(used)
    }

    /// Takes `count` places of each limit the account has (per minute, hour
    /// and day; 0 = none), all or nothing, so two workers never both take the
    /// last places. Places of the minute and hour are not given back: a
    /// provider counts what was tried.
    pub fn reserve(&self, account_id: i64, count: i64, limits: Limits, now: i64) -> rusqlite::Result<bool> {
        if limits.minute <= 0 && limits.hour <= 0 {
            return self.reserve_today(account_id, count, limits.day);
        }
        self.run("SAVEPOINT reserve", [])?;
        let taken = (|| -> rusqlite::Result<bool> {
            for (period, limit) in [(60, limits.minute), (3600, limits.hour)] {
                if limit > 0 && !self.reserve_window(account_id, period, now / period * period, count, limit)? {
                    return Ok(false);
                }
            }
            self.reserve_today(account_id, count, limits.day)
        })();
        match taken {
            Ok(true) => {
                self.run("RELEASE reserve", [])?;
            }
            _ => {
                self.run("ROLLBACK TO reserve", [])?;
                self.run("RELEASE reserve", [])?;
            }
        }
        taken
    }

    fn reserve_window(&self, account_id: i64, period: i64, start: i64, count: i64, limit: i64) -> rusqlite::Result<bool> {
        let taken = self
            .query_one(
                "INSERT INTO rate_usage (account_id, period, start, recipients) SELECT ?1, ?2, ?3, ?4 WHERE ?4 <= ?5
                 ON CONFLICT (account_id, period) DO UPDATE
                     SET recipients = CASE WHEN start = ?3 THEN recipients + ?4 ELSE ?4 END, start = ?3
                     WHERE CASE WHEN start = ?3 THEN recipients ELSE 0 END + ?4 <= ?5
                 RETURNING recipients",
                params![account_id, period, start, count, limit],
                |r| r.get::<_, i64>(0),
            )
            .optional()?;
        Ok(taken.is_some())
    }

    /// Recipients each account sent to today.
    pub fn used_today(&self) -> rusqlite::Result<HashMap<i64, i64>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT account_id, recipients FROM daily_usage WHERE day = {TODAY}"))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Takes `count` of today's `limit` for the account, all or nothing, in
    /// one statement so two workers never both take the last places.
    pub fn reserve_today(&self, account_id: i64, count: i64, limit: i64) -> rusqlite::Result<bool> {
        if limit <= 0 {
            return Ok(true);
        }
        let taken = self
            .query_one(
                &format!(
                    "INSERT INTO daily_usage (account_id, day, recipients) SELECT ?1, {TODAY}, ?2 WHERE ?2 <= ?3
                     ON CONFLICT (account_id, day) DO UPDATE SET recipients = recipients + ?2 WHERE recipients + ?2 <= ?3
                     RETURNING recipients"
                ),
                params![account_id, count, limit],
                |r| r.get::<_, i64>(0),
            )
            .optional()?;
        Ok(taken.is_some())
    }

    /// Counts recipients sent by an account without a limit, or gives back
    /// reserved places that were not used (a negative `count`).
    pub fn add_today(&self, account_id: i64, count: i64) -> rusqlite::Result<()> {
        if count == 0 {
            return Ok(());
        }
        self.run(
            &format!(
                "INSERT INTO daily_usage (account_id, day, recipients) VALUES (?1, {TODAY}, max(?2, 0))
                 ON CONFLICT (account_id, day) DO UPDATE SET recipients = max(recipients + ?2, 0)"
            ),
            params![account_id, count],
        )?;
        Ok(())
    }

    /// The unix time of the next local midnight: when daily limits start over.
    pub fn next_local_midnight(&self) -> rusqlite::Result<i64> {
        self.query_one("SELECT CAST(strftime('%s', date('now', 'localtime', '+1 day'), 'utc') AS INTEGER)", [], |r| r.get(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("smtp34-health-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("smtp34.db")).unwrap()
    }

    #[test]
    fn backoff_doubles_up_to_a_quarter_hour() {
        let minutes: Vec<i64> = (1..=7).map(|n| backoff_seconds(n) / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 15, 15, 15]);
    }

    #[test]
    fn failures_count_up_and_a_success_clears_them() {
        let store = store("failures");
        assert_eq!(store.record_failure(3, "535 bad", 1000).unwrap(), 1);
        assert_eq!(store.record_failure(3, "535 still bad", 1010).unwrap(), 2);
        let health = store.health().unwrap()[&3].clone();
        assert_eq!(
            (health.failures, health.last_error.as_str(), health.last_error_at, health.backoff_until),
            (2, "535 still bad", Some(1010), 1130)
        );
        assert!(health.is_failing());
        store.record_success(3, 2000).unwrap();
        let health = store.health().unwrap()[&3].clone();
        assert_eq!((health.failures, health.backoff_until, health.last_success_at), (0, 0, Some(2000)));
        assert_eq!(health.last_error, "535 still bad", "the last error stays visible");
    }

    #[test]
    fn the_daily_limit_is_all_or_nothing() {
        let store = store("daily");
        assert!(store.reserve_today(1, 2, 3).unwrap());
        assert!(!store.reserve_today(1, 2, 3).unwrap(), "2 + 2 > 3");
        assert!(store.reserve_today(1, 1, 3).unwrap());
        assert!(!store.reserve_today(1, 1, 3).unwrap());
        assert!(!store.reserve_today(2, 4, 3).unwrap(), "more than the limit at once");
        assert_eq!(store.used_today().unwrap().get(&1), Some(&3));
        store.add_today(1, -2).unwrap();
        assert!(store.reserve_today(1, 2, 3).unwrap(), "given back");
        assert!(store.reserve_today(5, 1000, 0).unwrap(), "0: no limit");
        assert!(store.next_local_midnight().unwrap() > crate::clock::now_unix());
    }

    #[test]
    fn minute_and_hour_places_are_taken_all_or_nothing_and_start_over_with_their_window() {
        let store = store("windows");
        let limits = Limits { minute: 3, hour: 5, day: 0 };
        let t = 36_000_000; // on the hour
        assert!(store.reserve(1, 2, limits, t).unwrap());
        assert!(!store.reserve(1, 2, limits, t + 10).unwrap(), "the minute has one place left");
        assert_eq!(store.used_this_window(t).unwrap()[&1], (2, 2), "a refused reservation took nothing");
        assert!(store.reserve(1, 1, limits, t + 20).unwrap());
        assert!(store.reserve(1, 2, limits, t + 60).unwrap(), "a new minute");
        assert!(!store.reserve(1, 1, limits, t + 120).unwrap(), "but the hour is full (5 of 5)");
        assert_eq!(store.used_this_window(t + 120).unwrap()[&1], (0, 5));
        assert!(store.reserve(1, 3, limits, t + 3600).unwrap(), "a new hour");
        let day = Limits { minute: 10, hour: 0, day: 1 };
        assert!(store.reserve(2, 1, day, t).unwrap());
        assert!(!store.reserve(2, 1, day, t + 60).unwrap(), "the day is full");
        assert_eq!(store.used_this_window(t + 60).unwrap().get(&2), None, "and the new minute took nothing");
    }
}
