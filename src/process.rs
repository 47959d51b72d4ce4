//! This process's id and unique ids, without a system call per letter.
//!
//! `getpid()` is a system call in glibc, and every letter asked for it (the
//! runtime and the sender thread must notice a fork) and for fresh random
//! bytes (Message-ID, claim tokens). Both are kept per process here: a
//! `pthread_atfork` child handler, registered on first use (never at module
//! start-up), forgets them in the child, which then asks again.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Once;

/// 0: not known in this process (yet, or since a fork).
static PID: AtomicU32 = AtomicU32::new(0);
/// 0: not drawn in this process (yet, or since a fork).
static SEED: AtomicU64 = AtomicU64::new(0);
static COUNTER: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn forget_after_fork() {
    // only atomic stores: this runs in the child right after fork
    PID.store(0, Ordering::SeqCst);
    SEED.store(0, Ordering::SeqCst);
}

fn register_fork_handler() {
    REGISTER.call_once(|| {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe { libc::pthread_atfork(None, None, Some(forget_after_fork)) };
    });
}

/// This process's id; a system call only on the first use after start or fork.
pub fn id() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            register_fork_handler();
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// An id no other call returns, here or (but for a 64-bit coincidence) in any
/// other process: 8 random bytes drawn once per process, then a counter; 32
/// hex characters. Enough for a Message-ID or a claim token (neither is a secret).
pub fn unique_id() -> String {
    register_fork_handler();
    let mut seed = SEED.load(Ordering::Acquire);
    if seed == 0 {
        // threads that draw at once (a page and the sender thread) keep the first one's seed
        let drawn = u64::from_le_bytes(crate::crypto::random_bytes::<8>()).max(1);
        seed = match SEED.compare_exchange(0, drawn, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => drawn,
            Err(first) => first,
        };
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{seed:016x}{n:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests that forget the seed, as a fork does, and those that compare seeds.
    static SEEDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn ids_are_unique_and_the_pid_is_this_process() {
        let _seeds = SEEDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        assert_eq!(id(), std::process::id());
        let a = unique_id();
        let b = unique_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(a[..16], b[..16], "one seed per process");
    }

    #[test]
    fn threads_that_draw_the_seed_at_once_share_one() {
        let _seeds = SEEDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for _ in 0..20 {
            forget_after_fork();
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let start = start.clone();
                    std::thread::spawn(move || {
                        start.wait();
                        unique_id()[..16].to_owned()
                    })
                })
                .collect();
            let seeds: std::collections::HashSet<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            assert_eq!(seeds.len(), 1, "one seed per process: {seeds:?}");
        }
    }

    #[test]
    fn a_forked_child_knows_its_own_pid_and_draws_a_new_seed() {
        let parent_id = unique_id();
        let parent_pid = id();
        let mut pipe = [0i32; 2];
        // SAFETY: plain pipe/fork/write/_exit; the child touches no locks the parent may hold
        unsafe {
            assert_eq!(libc::pipe(pipe.as_mut_ptr()), 0);
            let child = libc::fork();
            if child == 0 {
                let same_pid = id() == parent_pid;
                let same_seed = unique_id()[..16] == parent_id[..16];
                let byte = [u8::from(same_pid) + 2 * u8::from(same_seed)];
                libc::write(pipe[1], byte.as_ptr().cast(), 1);
                libc::_exit(0);
            }
            let mut byte = [9u8];
            libc::read(pipe[0], byte.as_mut_ptr().cast(), 1);
            libc::waitpid(child, std::ptr::null_mut(), 0);
            assert_eq!(byte[0], 0, "the child neither kept the parent's pid nor its seed");
        }
    }
}
