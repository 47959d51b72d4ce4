//! Whose turn it is to write, within one process.
//!
//! In background mode a page's `custom_mail()` and its process's sender
//! thread both write the database. Left to SQLite's lock, the one that
//! comes second sleeps in the busy handler and wakes late (after 20, 40,
//! 80 µs... whatever the holder needed): a page's handover went from about
//! 0.23 ms to 1–2 ms at its 99th percentile. Within the process they take
//! turns here instead, and the one waiting wakes when the other commits.
//! Other processes still meet at SQLite's lock: this turn only orders the
//! writers of one process, it guards nothing by itself.
//!
//! A turn is never held across a call into PHP (the writes under it are
//! ours alone), and a child forked while the thread held it gets it free
//! (see [`crate::process`]): the thread that held it does not exist there.

use std::time::Duration;

use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::{Mutex, MutexGuard};

static TURN: Mutex<()> = parking_lot::const_mutex(());
/// Writers waiting for their turn: a long writer (the sender thread
/// settling a window) commits what it has and lets them go first.
static WAITING: AtomicU32 = AtomicU32::new(0);

/// Past this, a writer goes on to SQLite's lock without its turn: the other
/// writer of this process is itself waiting there for another process.
const LONGEST_WAIT: Duration = Duration::from_millis(200);

/// This process's turn to write, given back when dropped.
pub struct WriteTurn {
    held: Option<MutexGuard<'static, ()>>,
}

impl Drop for WriteTurn {
    /// Handed straight to a waiting writer: otherwise the one giving it back
    /// could take it again before the waiter wakes.
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            if wanted() {
                MutexGuard::unlock_fair(held);
            }
        }
    }
}

/// Waits (at most [`LONGEST_WAIT`]) for this process's turn to write.
pub fn take() -> WriteTurn {
    crate::process::id();
    let h = TURN.try_lock().or_else(|| {
        WAITING.fetch_add(1, Ordering::SeqCst);
        let held = TURN.try_lock_for(LONGEST_WAIT);
        WAITING.fetch_sub(1, Ordering::SeqCst);
        held
    });
    WriteTurn { held: h }
}

/// Another writer of this process waits for its turn.
pub fn wanted() -> bool {
    WAITING.load(Ordering::Relaxed) > 0
}

/// In a child right after fork: only the forking thread exists, and it was
/// not waiting for a turn, so nobody is parked on it and freeing it is one
/// atomic store.
pub(crate) fn free_after_fork() {
    WAITING.store(0, Ordering::SeqCst);
    if TURN.is_locked() {
        // SAFETY: the guard that held it belongs to a thread the child does not have.
        unsafe { TURN.force_unlock() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    /// One test: the turn is the process's, and tests run side by side.
    #[test]
    fn a_writer_waits_for_the_other_and_a_lost_turn_delays_it_only_boundedly() {
        let first = take();
        let done = Arc::new(AtomicBool::new(false));
        let waiter = {
            let done = done.clone();
            std::thread::spawn(move || {
                let _second = take();
                done.load(Ordering::SeqCst)
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        done.store(true, Ordering::SeqCst);
        drop(first);
        assert!(waiter.join().unwrap(), "the second writer went ahead while the first held its turn");

        let lost = take();
        let started = Instant::now();
        std::thread::spawn(|| drop(take())).join().unwrap();
        assert!(started.elapsed() >= LONGEST_WAIT && started.elapsed() < LONGEST_WAIT * 5);
        drop(lost);
    }
}
