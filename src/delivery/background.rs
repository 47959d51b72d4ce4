//! The sender thread of `delivery = background` (SPEC §4): `custom_mail()`
//! only writes the letter to the outbox and wakes this thread, which
//! delivers whatever is due over its own kept connections and settles the
//! journal, the outbox and the accounts' health.
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
//! flags only.

use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::window;
use crate::runtime::{Paths, Runtime};

/// Letters one pass of the thread claims before it looks for new work again.
const PASS: i64 = 50;

#[derive(Default)]
struct State {
    /// A letter was queued since the thread last looked.
    pending: bool,
    /// Module shutdown: deliver what is pending, then end.
    stop: bool,
    /// The thread has ended (or never managed to start its store).
    ended: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    /// The flags, even if a panic once poisoned the lock (they stay consistent).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
}

/// A letter is in the outbox and due: wakes this process's sender thread,
/// starting it first when this process has none (or inherited a dead one
/// through fork).
pub fn wake(paths: &Paths, timeout: Duration) {
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
        let Some(sender) = slot.as_mut() else { return };
        sender.timeout = timeout;
        sender.shared.lock().pending = true;
        sender.shared.changed.notify_all();
    });
}

fn start(paths: Paths, pid: u32) -> Option<Sender> {
    let shared = Arc::new(Shared::default());
    let token = format!("sender-{pid}-{}", crate::process::unique_id());
    let thread = {
        let (shared, token) = (shared.clone(), token.clone());
        std::thread::Builder::new().name("smtp34-sender".into()).spawn(move || run(paths, &shared, &token)).ok()?
    };
    Some(Sender { pid, shared, thread: Some(thread), token, timeout: Duration::from_secs(10) })
}

fn run(paths: Paths, shared: &Shared, token: &str) {
    // a panic ends the thread, never the PHP process; the next letter starts a new one
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(paths, shared, token)));
    let mut state = shared.lock();
    state.ended = true;
    shared.changed.notify_all();
}

fn serve(paths: Paths, shared: &Shared, token: &str) {
    let Ok(mut rt) = Runtime::open(paths) else { return };
    rt.store.keep_a_small_cache();
    loop {
        {
            let mut state = shared.lock();
            while !state.pending && !state.stop {
                state = shared.changed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if !state.pending {
                return;
            }
            state.pending = false;
        }
        // everything due, pass after pass, until a pass finds nothing to try
        while let Ok(report) = window::flush_windows(&mut rt, PASS, token) {
            if report.tried == 0 {
                break;
            }
        }
        rt.store.scrub_if_due();
    }
}

/// Module shutdown: lets the thread deliver what it holds for at most its
/// `timeout`, then ends it. Letters it is still sending when time is up are
/// released (their claims dropped) so the next flush sends them; a letter
/// whose end of data was already sent may then go twice, never zero times.
pub fn finish() {
    let Some(mut sender) = SENDER.with(|slot| slot.borrow_mut().take()) else { return };
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
    let ended = state.ended;
    drop(state);
    if ended {
        if let Some(thread) = sender.thread.take() {
            let _ = thread.join();
        }
        return;
    }
    // cut off mid-conversation: what it claimed is free for the next flush at once
    let _ = crate::runtime::with_runtime(|rt| Ok(rt.store.release_claims(&sender.token)?));
    std::mem::forget(sender);
}
