//! The sender thread of `delivery = background` (SPEC §4): `custom_mail()`
//! only writes the letter to the outbox and wakes this thread, which
//! delivers whatever is due over its own kept connections and settles the
//! journal, the outbox and the accounts' health. A letter is written
//! already claimed for the thread and handed to it in memory with its bytes
//! (at most three windows' worth), so the thread neither claims nor reads it
//! back; past that, or for letters of other processes and retries, the
//! thread claims them from the outbox.
//!
//! The thread has its own store connection, cipher and connection pool (a
//! [`Runtime`] of its own), never calls into PHP and never touches Zend
//! memory. It is started by the first letter a process queues (never at
//! module start-up, which php-fpm runs in its master), and again in a forked
//! child, which inherits no thread. At module shutdown (a php-fpm worker
//! recycled, a CLI script done) [`finish`] gives it at most `timeout` to
//! deliver what it holds; letters it could not finish are released for the
//! next flush. Nothing here is locked across a call into PHP: the handle
//! lives in the PHP thread's own slot, and the thread's mutex guards a few
//! flags and the handed letters.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::window;
use crate::runtime::{Paths, Runtime};
use crate::store::outbox::{Claim, OutboxLetter};
use crate::store::spool;

/// Letters one pass of the thread claims before it looks for new work again.
const PASS: i64 = 96;

/// How often an idle thread looks whether its spool's last letters are gone.
const SPOOL_LOOKS_AGAIN: Duration = Duration::from_secs(1);

/// Letters handed over in memory, claimed for the thread when they were
/// written, wait here: at most 48 and 4 MiB. Past that a letter goes the
/// outbox's way (the thread claims it from the database), so memory stays
/// bounded whatever a mailing queues. (Three windows of 64, 192 letters,
/// were no faster and cost another 0.5 MB of peak RSS.)
const HANDED_LETTERS: usize = 48;
const HANDED_BYTES: usize = 4 << 20;

#[derive(Default)]
struct State {
    /// A letter was queued since the thread last looked.
    pending: bool,
    /// Module shutdown: deliver what is pending, then end.
    stop: bool,
    /// The thread has ended (or never managed to start its store).
    ended: bool,
    /// The thread waits for `changed`: only then is there anyone to notify
    /// (a notification is a system call, and a mailing hands over a letter
    /// every ~150 µs while the thread is busy).
    asleep: bool,
    /// Letters written to the outbox already claimed by the thread, with
    /// their bytes: it sends them without claiming and reading them again.
    handed: VecDeque<OutboxLetter>,
    handed_bytes: usize,
}

#[derive(Default)]
pub(super) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// A page of this process (the PHP thread that started the thread)
    /// waits for the database's write lock the thread holds: the thread
    /// lets it in between two of its transactions, waking it at once.
    page: Waiter,
    /// The sender thread waits for the write lock a page of this process
    /// holds (or has just been let in to take): the page wakes it as it
    /// ends its transaction.
    thread: Waiter,
}

impl Shared {
    /// The flags, even if a panic once poisoned the lock (they stay consistent).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One thread of a process (a page, or the sender thread) waiting for the
/// write lock the other holds: the other wakes it as soon as it is done,
/// rather than the waiter sleeping out its busy handler's step.
#[derive(Default)]
struct Waiter {
    waiting: AtomicBool,
    /// The thread that waits here (only ever that one).
    thread: OnceLock<std::thread::Thread>,
}

impl Waiter {
    /// The calling thread waits until [`Waiter::wake`] or `most` has
    /// passed. `first` runs once it counts as waiting, so a wake that
    /// `first` brings about is not missed; `false` from it: nothing to wait for.
    fn wait(&self, most: Duration, first: impl FnOnce() -> bool) {
        self.waiting.store(true, Ordering::SeqCst);
        if first() {
            let until = Instant::now() + most;
            while self.waiting.load(Ordering::SeqCst) {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::park_timeout(left);
            }
        }
        self.waiting.store(false, Ordering::SeqCst);
    }

    /// Wakes the waiting thread, if it waits; whether it did.
    fn wake(&self) -> bool {
        let woken = self.waiting.swap(false, Ordering::SeqCst);
        if woken {
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
        woken
    }

    fn waits(&self) -> bool {
        self.waiting.load(Ordering::SeqCst)
    }
}

/// The thread as the PHP thread that started it knows it.
struct Sender {
    pid: u32,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The claim token of its passes, to release what it holds at a cut-off shutdown.
    token: String,
    /// The `timeout` setting when it was last woken: its budget at shutdown.
    timeout: Duration,
}

thread_local! {
    /// Only the PHP thread touches this: no lock, so a bailout cannot leave one held.
    static SENDER: RefCell<Option<Sender>> = const { RefCell::new(None) };
    /// In the sender thread: its shared state, for its connection's busy handler.
    static THREAD_SHARED: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// A letter is in the outbox and due: wakes this process's sender thread,
/// starting it first when this process has none (or inherited a dead one
/// through fork).
pub fn wake(paths: &Paths, timeout: Duration) {
    with_running(paths, timeout, |sender| {
        let mut state = sender.shared.lock();
        state.pending = true;
        if state.asleep {
            sender.shared.changed.notify_all();
        }
    });
}

/// A claim for a letter about to be written to the outbox, when this
/// process's sender thread runs and has room for it in memory: the letter is
/// then written claimed by the thread and given to it with [`hand_over`].
/// `None`: write it unclaimed and [`wake`] the thread.
///
/// The claim lasts a minute and two replies' timeouts, until the thread
/// takes the letter (and claims it for its window). Short, so that the
/// letters a killed worker held in memory are due again soon, not after a
/// window's worst case (an hour or more); a thread held longer by a slow
/// server renews what nobody else took meanwhile.
pub fn claim_for_handover(paths: &Paths, timeout: Duration, bytes: usize, now: i64) -> Option<Claim> {
    let until = now + 60 + 2 * timeout.as_secs() as i64;
    with_running(paths, timeout, |sender| {
        let state = sender.shared.lock();
        let room = state.handed.len() < HANDED_LETTERS && state.handed_bytes + bytes <= HANDED_BYTES;
        room.then(|| Claim { token: sender.token.clone(), until })
    })
    .flatten()
}

/// This process's sender thread, started first when it has none (or
/// inherited a dead one through fork); `None` when it cannot start.
fn with_running<R>(paths: &Paths, timeout: Duration, act: impl FnOnce(&mut Sender) -> R) -> Option<R> {
    SENDER.with(|slot| {
        let mut slot = slot.borrow_mut();
        let pid = crate::process::id();
        let usable = slot.as_ref().is_some_and(|s| s.pid == pid && !s.shared.lock().ended);
        if !usable {
            if let Some(inherited) = slot.take().filter(|s| s.pid != pid) {
                // the parent's thread does not exist here; its handle must not be joined
                std::mem::forget(inherited);
            }
            *slot = start(paths.clone(), pid);
        }
        let sender = slot.as_mut()?;
        sender.timeout = timeout;
        Some(act(sender))
    })
}

/// Gives the thread a letter written claimed for it ([`claim_for_handover`]).
pub fn hand_over(letter: OutboxLetter) {
    SENDER.with(|slot| {
        let slot = slot.borrow();
        let Some(sender) = slot.as_ref() else { return };
        let mut state = sender.shared.lock();
        state.handed_bytes += letter.message.len();
        state.handed.push_back(letter);
        state.pending = true;
        if state.asleep {
            sender.shared.changed.notify_all();
        }
    });
}

/// The busy handler of a page's connection in background mode: it sleeps as
/// any writer does ([`crate::store::busy_sleep`]), but tells this process's
/// sender thread that it waits, and is woken as soon as the thread commits.
/// Without this the page slept behind the thread's transactions (up to a
/// millisecond, settling a window) and woke late: `custom_mail()`'s p99 in a
/// tight loop was 1.6-1.9 ms, of which ~1.3 ms waiting for the lock.
pub fn page_waits_for_lock(tries: i32) -> bool {
    let Some(sleep) = crate::store::busy_sleep(tries.max(0) as u32) else { return false };
    let waited = SENDER.with(|slot| {
        let Ok(slot) = slot.try_borrow() else { return false };
        let Some(sender) = slot.as_ref().filter(|s| s.pid == crate::process::id()) else { return false };
        sender.shared.page.wait(sleep, || true);
        true
    });
    if !waited {
        std::thread::sleep(sleep);
    }
    true
}

/// Between two of the thread's transactions: a page of this process that
/// waits for the lock is woken, and goes first: the thread waits until
/// the page has ended its transaction ([`page_committed`] wakes it), at most
/// [`PAGE_GOES_FIRST_FOR_AT_MOST`]. (Waking the page and taking the lock
/// again at once, the thread took it first: p99 1.35 ms. Sleeping a fixed
/// 40 µs, then waiting for the lock as any writer does, cost the thread
/// ~460 µs each time it gave way, 60 ms of a 2,000-letter mailing's 270.)
pub(super) fn let_page_in(shared: &Shared) {
    if shared.page.waits() {
        shared.thread.wait(PAGE_GOES_FIRST_FOR_AT_MOST, || shared.page.wake());
    }
}

/// How long the thread lets a page it woke go first (a page's transaction
/// takes ~50-100 µs; past this the thread waits for the lock as usual).
const PAGE_GOES_FIRST_FOR_AT_MOST: Duration = Duration::from_millis(1);

/// A page of this process ended its letter's write transaction (committed
/// it, or rolled it back): the sender thread, if it waits for the lock, is
/// woken at once. (A page's rarer writes do not call this: the thread then
/// waits out its busy handler's step, at most 2 ms.)
pub fn page_committed() {
    SENDER.with(|slot| {
        let Ok(slot) = slot.try_borrow() else { return };
        if let Some(sender) = slot.as_ref().filter(|s| s.pid == crate::process::id()) {
            sender.shared.thread.wake();
        }
    });
}

/// The busy handler of the sender thread's connection: it sleeps as any
/// writer does ([`crate::store::busy_sleep`]), but is woken as soon as a
/// page of its process commits ([`page_committed`]).
fn thread_waits_for_lock(tries: i32) -> bool {
    let Some(sleep) = crate::store::busy_sleep(tries.max(0) as u32) else { return false };
    match THREAD_SHARED.with(|slot| slot.borrow().clone()) {
        Some(shared) => shared.thread.wait(sleep, || true),
        None => std::thread::sleep(sleep),
    }
    true
}

/// A page of this process waits for the lock.
pub(super) fn page_waits(shared: &Shared) -> bool {
    shared.page.waits()
}

/// Letters handed to this thread wait.
pub(super) fn has_handed(shared: &Shared) -> bool {
    !shared.lock().handed.is_empty()
}

/// Up to `most` of the letters handed to this thread, oldest first.
pub(super) fn take_handed(shared: &Shared, most: usize) -> Vec<OutboxLetter> {
    let mut state = shared.lock();
    let n = most.min(state.handed.len());
    let letters: Vec<OutboxLetter> = state.handed.drain(..n).collect();
    state.handed_bytes -= letters.iter().map(|l| l.message.len()).sum::<usize>();
    letters
}

fn start(paths: Paths, pid: u32) -> Option<Sender> {
    let shared = Arc::new(Shared::default());
    let _ = shared.page.thread.set(std::thread::current());
    let token = format!("sender-{pid}-{}", crate::process::unique_id());
    let thread = {
        let (shared, token) = (shared.clone(), token.clone());
        std::thread::Builder::new().name("smtp34-sender".into()).spawn(move || run(paths, &shared, &token)).ok()?
    };
    Some(Sender { pid, shared, thread: Some(thread), token, timeout: Duration::from_secs(10) })
}

fn run(paths: Paths, shared: &Arc<Shared>, token: &str) {
    // a panic ends the thread, never the PHP process; the next letter starts a new one
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(paths, shared, token)));
    let mut state = shared.lock();
    state.ended = true;
    shared.changed.notify_all();
}

fn serve(paths: Paths, shared: &Arc<Shared>, token: &str) {
    let _ = shared.thread.thread.set(std::thread::current());
    THREAD_SHARED.with(|slot| *slot.borrow_mut() = Some(shared.clone()));
    let Ok(mut rt) = Runtime::open(paths) else { return };
    rt.store.configure_for_sender_thread(thread_waits_for_lock);
    // letters a killed process spooled take their bytes back into their rows
    spool::collect_dead(&rt.store);
    loop {
        {
            let mut state = shared.lock();
            while !state.pending && !state.stop {
                state.asleep = true;
                if !spool::holds_bytes() {
                    state = shared.changed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
                    state.asleep = false;
                    continue;
                }
                // rows another process's flush claimed may still name this process's spool:
                // it looks again each second until they are gone, then sleeps for good
                let (woken, waited) =
                    shared.changed.wait_timeout(state, SPOOL_LOOKS_AGAIN).unwrap_or_else(|poisoned| poisoned.into_inner());
                state = woken;
                state.asleep = false;
                if waited.timed_out() && !state.pending && !state.stop {
                    drop(state);
                    spool::tidy(&rt.store, true);
                    state = shared.lock();
                }
            }
            if !state.pending {
                return;
            }
            state.pending = false;
        }
        // everything due, pass after pass, until a pass finds nothing to try
        let mut tidied = Instant::now();
        while let Ok(report) = window::flush_windows(&mut rt, PASS, token, Some(shared)) {
            if report.tried == 0 {
                break;
            }
            // a thread that never falls idle still lets go of the spool files it filled
            if spool::has_retired() && tidied.elapsed() >= Duration::from_secs(1) {
                spool::tidy(&rt.store, false);
                tidied = Instant::now();
            }
        }
        rt.store.scrub_if_due();
        spool::tidy(&rt.store, true);
    }
}

/// Module shutdown: lets the thread deliver what it holds (the letters
/// handed to it in memory too) for at most its `timeout`, then ends it.
/// Letters it is still sending, or was never given time for, are released
/// (their claims dropped) so the next flush sends them; a letter whose end
/// of data was already sent may then go twice, never zero times.
///
/// Then what still names this process's spool takes its bytes back into
/// its row, and the file goes (also when no thread could start).
pub fn finish() {
    if let Some(sender) = SENDER.with(|slot| slot.borrow_mut().take()) {
        stop(sender);
    }
    if spool::is_open() {
        let _ = crate::runtime::with_runtime(|rt| {
            spool::retire(&rt.store);
            Ok(())
        });
    }
}

fn stop(mut sender: Sender) {
    if sender.pid != crate::process::id() {
        std::mem::forget(sender);
        return;
    }
    let deadline = Instant::now() + sender.timeout;
    let mut state = sender.shared.lock();
    state.stop = true;
    sender.shared.changed.notify_all();
    while !state.ended {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        state = sender.shared.changed.wait_timeout(state, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
    }
    let (ended, handed_left) = (state.ended, !state.handed.is_empty());
    drop(state);
    if ended {
        if let Some(thread) = sender.thread.take() {
            let _ = thread.join();
        }
    }
    // cut off mid-conversation, or ended (a database error) with letters handed to it:
    // what it claimed is free for the next flush at once
    if !ended || handed_left {
        let _ = crate::runtime::with_runtime(|rt| Ok(rt.store.release_claims(&sender.token, crate::clock::now_unix())?));
    }
    if !ended {
        std::mem::forget(sender);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_waiting_for_the_lock_is_woken_by_the_thread_between_two_transactions() {
        let shared = Arc::new(Shared::default());
        let _ = shared.page.thread.set(std::thread::current());
        let thread = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                while !page_waits(&shared) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(50));
                let_page_in(&shared);
            })
        };
        // as the page's busy handler waits; it is woken well before its time is up
        let started = Instant::now();
        shared.page.wait(Duration::from_secs(5), || true);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(!page_waits(&shared));
        thread.join().unwrap();
    }

    #[test]
    fn the_sender_waiting_for_the_lock_is_woken_by_a_commit_of_its_process() {
        let shared = Arc::new(Shared::default());
        let waiter = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let _ = shared.thread.thread.set(std::thread::current());
                let started = Instant::now();
                shared.thread.wait(Duration::from_secs(5), || true);
                started.elapsed()
            })
        };
        while !shared.thread.waits() {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(shared.thread.wake());
        let waited = waiter.join().unwrap();
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        assert!(!shared.thread.waits());
        assert!(!shared.thread.wake(), "nobody waits any more");
    }
}
