//! Connections kept per account in this PHP process, across custom_mail()
//! calls and across the requests a php-fpm worker serves. The pool lives in
//! the per-process runtime, so it is made lazily in the worker and never
//! shared with a forked child. A kept connection is reused only for the same
//! account revision, while it has been idle less than `keepalive_seconds`
//! and has sent fewer than `letters_per_connection` letters (providers cap
//! letters per connection); otherwise it is closed and a new one opened.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::session::Session;

struct Kept {
    session: Session,
    revision: i64,
    last_used: Instant,
    letters: u32,
}

#[derive(Default)]
pub struct Pool {
    kept: HashMap<i64, Kept>,
}

impl Pool {
    /// The kept connection of this account revision, when it may still be
    /// used, with the letters it has sent so far.
    pub fn take(&mut self, account_id: i64, revision: i64, idle: Duration, max_letters: u32) -> Option<(Session, u32)> {
        let kept = self.kept.remove(&account_id)?;
        if kept.revision != revision || kept.last_used.elapsed() >= idle || kept.letters >= max_letters {
            kept.session.quit_without_waiting();
            return None;
        }
        Some((kept.session, kept.letters))
    }

    pub fn put(&mut self, account_id: i64, revision: i64, session: Session, letters: u32) {
        let kept = Kept { session, revision, last_used: Instant::now(), letters };
        if let Some(old) = self.kept.insert(account_id, kept) {
            old.session.quit_without_waiting();
        }
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

impl Drop for Pool {
    /// A worker that ends says QUIT on every kept connection, without waiting.
    fn drop(&mut self) {
        for (_, kept) in self.kept.drain() {
            kept.session.quit_without_waiting();
        }
    }
}
