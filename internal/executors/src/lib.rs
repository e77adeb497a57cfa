//! Reference executors built on [`rawtask`], short enough to read in one sitting and to copy
//! the shape of:
//!
//! - [`single`]: a single-threaded executor whose run queue is a flume channel. Shows the
//!   minimum: a schedule function that sends, a loop that receives and runs, `block_on`, and a
//!   shutdown that leaks nothing.
//! - [`multi`]: a multi-threaded work-stealing executor: per-worker queues, a LIFO slot fed by
//!   [`ScheduleInfo`](rawtask::ScheduleInfo), stealing, and workers that spin, then park,
//!   without ever losing a wake-up.
//! - [`priority`]: an executor that reads each task's priority from its rawtask data slot and
//!   always runs the highest-priority runnable first.
//!
//! Every executor spawns with [`Builder::propagate_panic(true)`](rawtask::Builder): a panicking
//! task never unwinds into the executor; the panic is re-raised where its `Task` is awaited.
//!
//! `cargo run -p rawtask-executors --example multi` (or `single`, `priority`) runs a demo.
//!
//! # A rule for every schedule function: never drop a `Runnable` in it
//!
//! Once an executor has shut down, its schedule functions cannot queue what they are given.
//! Dropping the `Runnable` right there looks natural (it cancels the task), but it runs the
//! future's destructor *inside the `wake` call* that scheduled it, and the waker's caller may
//! hold a lock that the destructor needs too. flume does exactly that when its last sender
//! goes away: it wakes the receivers with the channel locked, and a receiver's destructor
//! locks the channel. The executors here therefore hand such runnables to
//! [`drop_later`], a background thread that drops them a moment later.

#![forbid(unsafe_code)]

pub mod multi;
pub mod priority;
pub mod single;

use std::future::Future;
use std::pin::pin;
use std::sync::{mpsc, Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread that is blocked in [`block_on`].
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// One waker per thread, made once: `block_on` itself then allocates nothing.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
}

/// Runs `future` to completion on the calling thread, parking the thread while the future is
/// pending. Tasks spawned on an executor keep running on that executor's threads meanwhile.
///
/// ```
/// let executor = rawtask_executors::multi::Executor::new(2);
/// let task = executor.spawn(async { 6 * 7 });
/// assert_eq!(rawtask_executors::block_on(task), 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    THREAD_WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            // A wake-up that came before this call left the thread's token set, so `park`
            // returns at once: no wake-up is lost. Spurious returns just poll once more.
            thread::park();
        }
    })
}

/// Drops `value` on a background thread (started on first use) instead of here.
///
/// Schedule functions use it for runnables they cannot queue because their executor has shut
/// down: dropping a runnable drops its future, and that destructor must not run inside a
/// `wake` call (see the [crate docs](crate)).
pub fn drop_later<T: Send + 'static>(value: T) {
    static REAPER: OnceLock<mpsc::Sender<Box<dyn Send>>> = OnceLock::new();
    let reaper = REAPER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Box<dyn Send>>();
        thread::Builder::new()
            .name("rawtask-reaper".into())
            .spawn(move || receiver.into_iter().for_each(drop))
            .expect("failed to spawn the reaper thread");
        sender
    });
    // Sending fails only if the reaper thread is gone; the value is then dropped here.
    let _ = reaper.send(Box::new(value));
}
