//! The process-wide pool of blocking threads that runs background jobs' `Runnable`s.
//!
//! Threads are started on demand, up to [`MAX_THREADS`]; a thread that finds no work spins
//! briefly (so that back-to-back jobs cost no wake-up), then sleeps up to [`KEEP_ALIVE`] for
//! more, then exits. Jobs are taken in FIFO order.
//!
//! Under Miri the pool is not used (`TaskHandle::spawn` gives each job a thread that its handle
//! joins), because Miri rejects threads that outlive `main`.
//!
//! The pool uses std's `Mutex` and `Condvar` directly, and `sync::atomic_static` rather than loom's
//! atomics: it is not part of any loom model (the models give jobs to their own threads with
//! `TaskHandle::spawn_on`).

#![cfg_attr(miri, allow(dead_code))] // see above: under Miri only `run` is used

use alloc::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use crate::sync::atomic_static::{AtomicUsize, Ordering};
use crate::Runnable;

/// The most threads the pool runs at once; further jobs wait in the queue.
const MAX_THREADS: usize = 512;
/// How long an idle thread waits for work before it exits.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The schedule function of every job spawned with `TaskHandle::spawn`.
pub(super) fn schedule(runnable: Runnable) {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::new).push(runnable);
}

struct Pool {
    shared: Mutex<Shared>,
    /// Signalled when a job is queued for a sleeping thread.
    available: Condvar,
    /// A copy of `Shared::notified`, written under the lock, that spinning threads watch
    /// without taking it.
    notified_hint: AtomicUsize,
}

struct Shared {
    queue: VecDeque<Runnable>,
    /// Threads alive (running a job, looking for one, or idle).
    threads: usize,
    /// Threads without a job: spinning, or sleeping on `available`.
    idle: usize,
    /// The idle threads that sleep on `available` (the others spin).
    sleeping: usize,
    /// Jobs handed to idle threads and not yet claimed; never more than `idle`.
    notified: usize,
    /// Number for the next thread's name.
    next_id: usize,
}

/// How often a thread that ran out of work checks for a new job before it sleeps, with
/// `SPINS_PER_ROUND` spin-loop hints in between (some tens of microseconds in all): back-to-back
/// jobs then cost no wake-up. It never yields: on a loaded machine `sched_yield` can give the
/// CPU away for a whole time slice, far longer than sleeping and being woken.
const SPIN_ROUNDS: u32 = 64;
const SPINS_PER_ROUND: u32 = 32;

impl Pool {
    fn new() -> Pool {
        Pool {
            shared: Mutex::new(Shared {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                sleeping: 0,
                notified: 0,
                next_id: 0,
            }),
            available: Condvar::new(),
            notified_hint: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Nothing panics while the lock is held (jobs run outside it).
        crate::sync::lock_static(&self.shared)
    }

    fn push(&'static self, runnable: Runnable) {
        let mut shared = self.lock();
        shared.queue.push_back(runnable);
        if shared.notified < shared.idle {
            // An idle thread will claim it: a spinning one sees the hint, and if there are more
            // notifications than spinners, a sleeping one is woken.
            shared.notified += 1;
            self.notified_hint.store(shared.notified, Ordering::Relaxed);
            let wake = shared.notified > shared.idle - shared.sleeping;
            drop(shared);
            if wake {
                self.available.notify_one();
            }
            return;
        }
        if shared.threads >= MAX_THREADS {
            // A running thread takes it when done.
            return;
        }
        shared.threads += 1;
        let id = shared.next_id;
        shared.next_id += 1;
        drop(shared);
        let started = std::thread::Builder::new()
            .name(alloc::format!("rawtask-blocking-{id}"))
            .spawn(move || self.work());
        if started.is_err() {
            let mut shared = self.lock();
            shared.threads -= 1;
            if shared.threads == 0 {
                // No thread will ever pick the queue up: run it here rather than lose it.
                while let Some(runnable) = shared.queue.pop_front() {
                    drop(shared);
                    run(runnable);
                    shared = self.lock();
                }
            }
        }
    }

    /// A pool thread's loop.
    fn work(&self) {
        let mut shared = self.lock();
        loop {
            if let Some(runnable) = shared.queue.pop_front() {
                drop(shared);
                run(runnable);
                shared = self.lock();
                continue;
            }
            // Idle: spin for a while, then sleep.
            shared.idle += 1;
            drop(shared);
            for _ in 0..SPIN_ROUNDS {
                if self.notified_hint.load(Ordering::Relaxed) > 0 {
                    break;
                }
                for _ in 0..SPINS_PER_ROUND {
                    core::hint::spin_loop();
                }
            }
            shared = self.lock();
            let mut timed_out = false;
            loop {
                if shared.notified > 0 {
                    shared.notified -= 1;
                    self.notified_hint.store(shared.notified, Ordering::Relaxed);
                    shared.idle -= 1;
                    break;
                }
                if !shared.queue.is_empty() {
                    shared.idle -= 1;
                    break;
                }
                if timed_out {
                    shared.idle -= 1;
                    shared.threads -= 1;
                    return;
                }
                shared.sleeping += 1;
                let (guard, wait) = self
                    .available
                    .wait_timeout(shared, KEEP_ALIVE)
                    .unwrap_or_else(PoisonError::into_inner);
                shared = guard;
                shared.sleeping -= 1;
                timed_out = wait.timed_out();
            }
        }
    }
}

/// Runs one job; a panic (which the job future already catches) cannot kill the thread.
pub(super) fn run(runnable: Runnable) {
    let _ = catch_unwind(AssertUnwindSafe(|| runnable.run()));
}
