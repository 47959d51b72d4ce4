//! Connections kept per account in this PHP process, across custom_mail()
//! calls and across the requests a php-fpm worker serves. The pool lives in
//! the per-process runtime, so it is made lazily in the worker and never
//! shared with a forked child. A kept connection is reused only for the same
//! account revision, while it has been idle less than `keepalive_seconds`
//! and has sent fewer than `letters_per_connection` letters (providers cap
//! letters per connection); otherwise it is closed and a new one opened.
//!
//! The sender thread may keep up to [`MOST_CONNECTIONS`] per account: to a
//! server a round trip away its windows go over several at once (see
//! [`Pool::connections`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::session::Session;

struct Kept {
    session: Session,
    revision: i64,
    last_used: Instant,
    letters: u32,
}

/// Connections to one account at once, at most (the sender thread's, to a
/// far server). Providers allow several per client; a site's php-fpm workers
/// in `wait` mode already open one each.
pub const MOST_CONNECTIONS: usize = 3;

/// A window whose letters took longer than this each waited for the
/// server's round trips, not for our work: the next go over several
/// connections. (Loopback: ~0.1 ms a letter; 20 ms away: ~21 ms.)
const FAR_PER_LETTER: Duration = Duration::from_millis(2);

/// After a server refused an extra connection, one is used for this long.
const ONE_AFTER_REFUSAL: Duration = Duration::from_secs(600);

#[derive(Default)]
struct Pace {
    far: bool,
    refused_at: Option<Instant>,
}

#[derive(Default)]
pub struct Pool {
    /// Idle connections per account, the most recently used last.
    kept: HashMap<i64, Vec<Kept>>,
    pace: HashMap<i64, Pace>,
}

impl Pool {
    /// The kept connection of this account revision, when it may still be
    /// used, with the letters it has sent so far.
    pub fn take(&mut self, account_id: i64, revision: i64, idle: Duration, max_letters: u32) -> Option<(Session, u32)> {
        let idle_ones = self.kept.get_mut(&account_id)?;
        while let Some(kept) = idle_ones.pop() {
            if kept.revision != revision || kept.last_used.elapsed() >= idle || kept.letters >= max_letters {
                kept.session.quit_without_waiting();
                continue;
            }
            return Some((kept.session, kept.letters));
        }
        None
    }

    /// Keeps a connection; past [`MOST_CONNECTIONS`] for its account the one idle longest says QUIT.
    pub fn put(&mut self, account_id: i64, revision: i64, session: Session, letters: u32) {
        let idle_ones = self.kept.entry(account_id).or_default();
        idle_ones.push(Kept { session, revision, last_used: Instant::now(), letters });
        if idle_ones.len() > MOST_CONNECTIONS {
            idle_ones.remove(0).session.quit_without_waiting();
        }
    }

    /// Connections kept, over all accounts.
    pub fn len(&self) -> usize {
        self.kept.values().map(Vec::len).sum()
    }

    /// How many connections the next windows to this account go over: one,
    /// or [`MOST_CONNECTIONS`] while its server is far (its last window
    /// waited on round trips) and has not refused an extra connection lately.
    pub fn connections(&self, account_id: i64) -> usize {
        match self.pace.get(&account_id) {
            Some(pace) if pace.far && pace.refused_at.is_none_or(|at| at.elapsed() >= ONE_AFTER_REFUSAL) => MOST_CONNECTIONS,
            _ => 1,
        }
    }

    /// The most connections any account's windows go over now.
    pub fn widest(&self) -> usize {
        self.pace.keys().map(|id| self.connections(*id)).max().unwrap_or(1)
    }

    /// A window of `letters` took `sending` (its conversation, not opening the connection).
    pub fn note_pace(&mut self, account_id: i64, letters: usize, sending: Duration) {
        if letters > 0 {
            self.pace.entry(account_id).or_default().far = sending / letters as u32 >= FAR_PER_LETTER;
        }
    }

    /// The server would not take an extra connection at once (a 421, a reset).
    pub fn extra_refused(&mut self, account_id: i64) {
        self.pace.entry(account_id).or_default().refused_at = Some(Instant::now());
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Pool {
    /// A worker that ends says QUIT on every kept connection, without waiting.
    fn drop(&mut self) {
        for kept in self.kept.drain().flat_map(|(_, idle_ones)| idle_ones) {
            kept.session.quit_without_waiting();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_far_servers_windows_go_over_several_connections_until_it_refuses_one() {
        let mut pool = Pool::default();
        assert_eq!((pool.connections(1), pool.widest()), (1, 1), "one connection until the pace is known");
        pool.note_pace(1, 16, Duration::from_millis(2));
        assert_eq!(pool.connections(1), 1, "loopback-fast windows keep one connection");
        pool.note_pace(1, 16, Duration::from_millis(340));
        assert_eq!((pool.connections(1), pool.connections(2), pool.widest()), (MOST_CONNECTIONS, 1, MOST_CONNECTIONS));
        pool.note_pace(1, 0, Duration::ZERO);
        assert_eq!(pool.connections(1), MOST_CONNECTIONS, "a window without letters says nothing of the pace");
        pool.extra_refused(1);
        assert_eq!((pool.connections(1), pool.widest()), (1, 1), "one connection after a refusal");
        pool.note_pace(1, 16, Duration::from_millis(340));
        assert_eq!(pool.connections(1), 1, "for a while, however far the server");
        pool.pace.get_mut(&1).unwrap().refused_at = Instant::now().checked_sub(ONE_AFTER_REFUSAL);
        assert_eq!(pool.connections(1), MOST_CONNECTIONS, "and several again after it");
    }
}
