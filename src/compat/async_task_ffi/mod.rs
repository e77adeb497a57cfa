#![cfg_attr(
    not(feature = "std"),
    doc = "
[`spawn_local`]: https://docs.rs/rawtask/latest/rawtask/compat/async_task_ffi/fn.spawn_local.html
[`Checked`]: https://docs.rs/rawtask/latest/rawtask/compat/async_task_ffi/struct.Checked.html"
)]
//! async-task-ffi 4.1.1's API, exactly, over the same raw task as the crate root.
//!
//! Code written for async-task-ffi switches with one line, `use rawtask::compat::async_task_ffi;`
//! in place of the dependency; every path below it (`async_task_ffi::spawn_with`,
//! `async_task_ffi::Runnable<D>`, …) then means the same thing:
//!
//! ```
//! use rawtask::compat::async_task_ffi;
//!
//! let (s, r) = flume::unbounded();
//! let schedule = move |mut runnable: async_task_ffi::Runnable<u32>| {
//!     *runnable.data_mut() += 1; // counts how often the task was scheduled
//!     s.send(runnable).unwrap();
//! };
//! let (runnable, task) = async_task_ffi::spawn_with(async { 7 }, schedule, 0);
//! runnable.schedule();
//! let runnable = r.recv().unwrap();
//! assert_eq!(*runnable.data(), 1);
//! runnable.run();
//! assert_eq!(futures_lite::future::block_on(task), 7);
//! ```
//!
//! # How it differs from the crate root
//!
//! The crate root follows async-task, whose names collide with async-task-ffi's in four places;
//! this module takes async-task-ffi's side in each:
//!
//! | | crate root (async-task) | this module (async-task-ffi) |
//! |---|---|---|
//! | `Runnable::data_mut` | `Option<&mut M>`: `Some` once no `Task` can read the slot | `&mut D`, always |
//! | the `Task` | `Task<T, M>`, which can read the slot (`metadata`) | `Task<T>`, which cannot |
//! | `Runnable::into_raw`/`from_raw` | `NonNull<()>` | `*mut ()` |
//! | `spawn_local_with` | `Runnable<M>` | `Runnable<Checked<D>>` |
//!
//! `data_mut` is sound here without a check because nothing but the `Runnable` can reach the
//! slot: this module's [`Task`] is the crate root's handle with its slot type erased, and it
//! reads no memory of the slot; wakers never touch it; and at most one `Runnable` of a task
//! exists at a time. A task is the same allocation as the crate root's, with the slot at
//! [`DATA_OFFSET`](crate::DATA_OFFSET) (for any `D` aligned to at most a pointer), and costs
//! the same to spawn, run and join: the wrappers are `repr(transparent)` and the schedule
//! function is wrapped in a closure of the same size.
//!
//! What stays different from async-task-ffi itself, each for soundness or to avoid an abort
//! (the README lists them too):
//!
//! - [`Runnable<D>`] is `Send` and `Sync` for `D: Send + Sync` (async-task-ffi: `D: Sync`): the
//!   `Runnable` that finishes a task drops `D`, on whatever thread it was sent to.
//! - Local tasks never abort: a [`spawn_local`] task run on a foreign thread panics after it
//!   is cancelled, and its future, output or data are leaked rather than dropped there
//!   (async-task-ffi aborts the process). A [`Checked`] value dropped on a foreign thread leaks
//!   its contents instead of panicking in `drop`.
//! - Futures of 2 KiB and more are stored inline, not in a second allocation.

#[cfg(feature = "std")]
mod checked;
mod runnable;
#[cfg(feature = "alloc")]
mod spawn;
mod task;

#[cfg(feature = "std")]
pub use checked::Checked;
pub use runnable::Runnable;
#[cfg(feature = "alloc")]
pub use spawn::{spawn, spawn_unchecked, spawn_unchecked_with, spawn_with};
#[cfg(feature = "std")]
pub use spawn::{spawn_local, spawn_local_with};
pub use task::Task;
