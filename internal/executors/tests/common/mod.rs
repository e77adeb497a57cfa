//! Helpers shared by the executor tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How long a test waits for another thread before failing: only a bug (a lost wake-up, a
/// starved task) or a machine stalled for seconds takes this long. Longer under Miri, whose
/// clock (virtual under isolation) runs only roughly as fast as native code would.
pub const DEADLINE: Duration = if cfg!(miri) {
    Duration::from_secs(600)
} else {
    Duration::from_secs(30)
};

/// Polls `done` until it returns true, yielding the thread in between; panics with "timed
/// out after {DEADLINE:?} waiting for {what}" once [`DEADLINE`] has passed. (rawtask's
/// `tests/common` has the same helper.)
#[track_caller]
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() >= DEADLINE {
            panic!("timed out after {DEADLINE:?} waiting for {what}");
        }
        std::thread::yield_now();
    }
}

/// Counts the [`Tracked`] values alive; a test that leaks a task leaks its `Tracked`.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Counter {
        Counter::default()
    }

    /// A value that counts as alive until it is dropped.
    pub fn track(&self) -> Tracked {
        self.0.fetch_add(1, SeqCst);
        Tracked(self.0.clone())
    }

    pub fn alive(&self) -> usize {
        self.0.load(SeqCst)
    }

    /// Waits up to `timeout` for every tracked value to be dropped (a waker dropped on
    /// another thread may free its task a moment later), then asserts it.
    pub fn assert_none_alive(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.alive() != 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(self.alive(), 0, "tracked values leaked");
    }
}

/// Decrements its [`Counter`] when dropped. Move one into a future to track the task.
#[derive(Debug)]
pub struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// A future that returns `Pending` forever without keeping its waker: the task is woken
/// only if it is cancelled.
pub struct Forever;

impl Future for Forever {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// Yields (wakes itself and returns `Pending`) forever: the task is always queued.
pub async fn yield_forever() {
    loop {
        futures_lite::future::yield_now().await;
    }
}

/// Whether `f` panics (its panic message still goes to stderr).
pub fn panics<R>(f: impl FnOnce() -> R) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}
