//! The Rust side of rawtask's foreign-event-loop clients: Rust tasks that use timers, channels
//! and wakes from other threads, spawned through `extern "C"` functions onto rawtask's
//! home-thread scheduler (`rawtask_home_new` / `_drain` / `_free`), which a foreign event loop
//! drains on its own thread.
//!
//! - [`tasks`]: the spawn functions (`interop_spawn_*`), each returning a `RawtaskTask`.
//! - [`completions`]: a batching completion callback for `rawtask_task_on_complete`.
//! - [`worker`]: the thread that fires timers and feeds channels.
//!
//! C declarations: `include/interop_bridge.h`. The libuv client (`internal/interop/libuv`)
//! links the static library; the Python client (`internal/interop/python`) loads the cdylib
//! with `ctypes`. `tests/scope_foreign_executors.rs` runs `rawtask::scope` on two other foreign
//! executors, Tokio and `futures::executor::ThreadPool`.
//!
//! ```
//! use rawtask::capi::*;
//! use rawtask_interop_bridge::*;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! static NOTIFIED: AtomicUsize = AtomicUsize::new(0);
//! unsafe extern "C" fn notify(_: *mut std::ffi::c_void) {
//!     NOTIFIED.fetch_add(1, Ordering::SeqCst);
//! }
//! let lp = rawtask_home_new(Some(notify), std::ptr::null_mut());
//! // SAFETY: `lp` is live and used on this thread; `out` is a writable u64.
//! unsafe {
//!     let task = interop_spawn_yields(lp, 3);
//!     // Spawned on the loop thread outside a drain: queued locally, and one notify.
//!     assert_eq!(NOTIFIED.load(Ordering::SeqCst), 1);
//!     let mut ran = 0;
//!     assert_eq!(rawtask_home_drain(lp, 100, &mut ran), RawtaskStatus::Ok);
//!     assert_eq!(ran, 4); // the first poll and one per yield
//!     let mut out = 0u64;
//!     assert_eq!(rawtask_task_poll(task, (&raw mut out).cast(), 8), RawtaskStatus::Ready);
//!     assert_eq!(out, 3);
//!     rawtask_task_free(task);
//!     rawtask_home_free(lp);
//! }
//! ```

pub mod completions;
pub mod tasks;
pub mod worker;

pub use completions::{
    interop_completions_collect, interop_completions_free, interop_completions_new,
    interop_completions_watch, InteropCompletion, InteropCompletions,
};
pub use tasks::{
    interop_live_futures, interop_shutdown, interop_signal_fire, interop_spawn_channel_sum,
    interop_spawn_offload, interop_spawn_pending, interop_spawn_pipeline,
    interop_spawn_sleep_then_value, interop_spawn_wait_signal, interop_spawn_yields,
    interop_spawn_yields_c, InteropSignal,
};
