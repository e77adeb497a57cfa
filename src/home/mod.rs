//! A ready-made scheduler for a foreign event loop's thread (libuv, asyncio, GLib, nginx, a
//! hand-written `poll` loop): tasks run only on the loop's thread, their "home", and wakes from
//! other threads are marshalled there.
//!
//! - A [`Home`] is created on the loop thread with a `notify` function that wakes the loop
//!   (write to a pipe or an eventfd, `uv_async_send`, `call_soon_threadsafe`,
//!   `g_main_context_wakeup`). Its [`schedule`](Home::schedule) gives the [`HomeSchedule`] to
//!   spawn tasks with ([`spawn`](crate::spawn) or [`spawn_local`](crate::spawn_local)).
//! - A wake **on the home thread during a drain** (a task waking itself or another) pushes the
//!   runnable onto a local queue: no atomic operation, no notify; the drain goes on with it.
//! - A wake **on the home thread between drains** (a spawn, or a timer callback of the loop's
//!   own) queues locally too, and notifies so that the loop drains: a loop never has to
//!   remember to drain after its own callbacks.
//! - A wake **on another thread** pushes it onto a lock-free inbox and calls `notify`.
//! - Notifies coalesce: at most one is pending from other threads and one from the home
//!   thread (each counted apart, so a wake on the loop's own thread costs no atomic
//!   read-modify-write); the next comes only after the loop drained. A loop woken twice finds
//!   nothing the second time, which costs one empty drain.
//! - The loop calls [`drain(max)`](Home::drain) when notified (and again while it reports
//!   `more`): it moves the inbox behind the local queue and runs up to `max` runnables,
//!   oldest wake first. A task woken while running goes to the back.
//! - No wake is lost: after a drain, either the inbox was empty when it was taken or a notify
//!   is pending or was issued for what came after.
//! - Dropping the `Home` shuts it down (below).
//!
//! In C: `rawtask_home_new`, `rawtask_home_drain`, `rawtask_home_free`
//! ([`capi`](crate::capi)); Rust code that exports spawn functions to C gets the schedule
//! function with [`capi::home_schedule`](crate::capi::home_schedule). A task's completion is
//! observed on the home thread when it runs there.
//!
//! # The schedule function never blocks and never re-enters the loop
//!
//! **A wake never blocks, never runs a task and never calls `drain`.** Never call `drain`
//! from inside a task or a schedule function: a nested call is refused with [`Reentered`] (and
//! `RAWTASK_STATUS_BUSY` in C). Re-polling inside `schedule` deadlocked nginx's Rust module
//! (nginx/ngx-rust#294); a blocking cross-thread wake deadlocked compio (compio#1044). `notify`
//! must be just as short: it runs inside `wake`, on the waking thread, possibly while the loop
//! thread is busy or stuck, and it must not block on the loop or call into the home.
//!
//! # Shutdown, and wakes that come after it
//!
//! Dropping the [`Home`] (`rawtask_home_free`), on the home thread:
//!
//! 1. bars `notify`: no call starts afterwards, and one in progress on another thread is
//!    waited for (so C may free the notify context as soon as `rawtask_home_free` returns);
//!    the notify function is then dropped;
//! 2. closes the inbox and drops every runnable still queued, locally or in the inbox, right
//!    there on the home thread — never inside a wake. Dropping a runnable cancels its task:
//!    its future is dropped and its `Task` resolves as cancelled. A runnable that is dropped
//!    becomes CLOSED, and later wakes of its task schedule nothing.
//!
//! A task that was not queued at that moment (pending, its waker held by a timer thread, say)
//! may be woken **after** shutdown. Its `HomeSchedule` still holds the shared part alive, so
//! the wake touches no freed memory; it finds the home closed and **drops the runnable right
//! there, cancelling the task**. That is acceptable, and the best available: the loop is gone,
//! so the task can never run again; keeping the runnable would leak the task, its future and
//! whatever that holds, forever (and the runnable's schedule function would keep the shared
//! part alive in a cycle). It happens only after the owner chose to shut down, and never calls
//! `notify`. Two consequences to know:
//!
//! - the future's destructor then runs inside `wake`, on the waking thread. If that thread
//!   holds a lock the destructor needs, it deadlocks; to avoid any drop-in-wake, cancel the
//!   tasks first: drop (or `cancel`) their `Task` handles on the home thread and drain until
//!   empty, then drop the `Home`;
//! - a [`spawn_local`](crate::spawn_local) task's future must never be dropped off its
//!   thread: if a late wake comes from another thread, rawtask leaks that future instead (its
//!   memory is kept, never freed: sound, as for any local task cancelled on a foreign thread).
//!   A late wake on the home thread drops it there.
//!
//! `spawn_local` tasks must be spawned on the home thread: the home runs everything there.
//!
//! # Example: a loop thread woken through a condition variable
//!
//! ```
//! use rawtask::home::Home;
//! use std::sync::{Arc, Condvar, Mutex};
//!
//! // The loop's wake-up: a flag and a condition variable (a pipe or an eventfd in C).
//! let wakeup = Arc::new((Mutex::new(false), Condvar::new()));
//! let notify = {
//!     let wakeup = wakeup.clone();
//!     move || {
//!         *wakeup.0.lock().unwrap() = true;
//!         wakeup.1.notify_one();
//!     }
//! };
//! let home = Home::new(notify);
//!
//! // A task that waits for a value from another thread.
//! let (sender, receiver) = flume::bounded::<u32>(1);
//! let (runnable, task) = rawtask::spawn_local(
//!     async move { receiver.recv_async().await.unwrap() * 2 },
//!     home.schedule(),
//! );
//! runnable.schedule();
//! std::thread::spawn(move || sender.send(21).unwrap());
//!
//! // The loop: drain, then sleep until notified, until the task is done.
//! while !task.is_finished() {
//!     if home.drain(64).unwrap().more {
//!         continue;
//!     }
//!     let mut woken = wakeup.0.lock().unwrap();
//!     while !*woken && !task.is_finished() && home.is_empty() {
//!         woken = wakeup.1.wait(woken).unwrap();
//!     }
//!     *woken = false;
//! }
//! assert_eq!(futures_lite::future::block_on(task), 42);
//! ```

mod inbox;
mod notify;
mod owner;
mod schedule;
mod shared;
mod shared_ref;
mod signal;

pub use self::owner::{Drained, Home, Reentered};
pub use self::schedule::HomeSchedule;
