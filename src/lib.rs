// In a `no_std` build the std-only items named below are not in the crate (nor, without
// `alloc`, the heap spawn functions): their links go to docs.rs, which documents every feature.
#![cfg_attr(
    not(feature = "alloc"),
    doc = "
[`spawn_with`]: https://docs.rs/rawtask/latest/rawtask/fn.spawn_with.html
[`spawn_many`]: https://docs.rs/rawtask/latest/rawtask/fn.spawn_many.html"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "
[`spawn_local`]: https://docs.rs/rawtask/latest/rawtask/fn.spawn_local.html
[`ffi`]: https://docs.rs/rawtask/latest/rawtask/ffi/index.html
[`CancellationToken`]: https://docs.rs/rawtask/latest/rawtask/cancel/struct.CancellationToken.html
[`background`]: https://docs.rs/rawtask/latest/rawtask/background/index.html
[`capi`]: https://docs.rs/rawtask/latest/rawtask/capi/index.html
[`scope`]: https://docs.rs/rawtask/latest/rawtask/scope/index.html
[`storage::TaskPool`]: https://docs.rs/rawtask/latest/rawtask/storage/struct.TaskPool.html
[`scope::ScopeExecutor`]: https://docs.rs/rawtask/latest/rawtask/scope/trait.ScopeExecutor.html
[`JoinSet`]: https://docs.rs/rawtask/latest/rawtask/struct.JoinSet.html
[`TaskTracker`]: https://docs.rs/rawtask/latest/rawtask/struct.TaskTracker.html"
)]
//! One-allocation raw tasks for async executors, usable from Rust and from C.
//!
//! A task is a future in a single heap allocation together with an atomic state word, the
//! executor's schedule function and a user-defined **data slot** at a fixed offset. Spawning
//! returns a [`Runnable`], which the executor queues and [`run`](Runnable::run)s, and a
//! [`Task`], which awaits the output:
//!
//! ```
//! // The executor's queue.
//! let (sender, receiver) = flume::unbounded();
//!
//! // Spawn: the schedule function pushes the task onto the queue whenever it is woken.
//! let (runnable, task) = rawtask::spawn(async { 1 + 2 }, move |runnable| sender.send(runnable).unwrap());
//! runnable.schedule();
//!
//! // The executor loop.
//! for runnable in receiver.try_iter() {
//!     runnable.run();
//! }
//! assert_eq!(futures_lite::future::block_on(task), 3);
//! ```
//!
//! The API is a superset of [async-task 4.7](https://docs.rs/async-task/4.7.1) and of
//! [async-task-ffi 4.1](https://docs.rs/async-task-ffi/4.1.1)'s data-slot functions
//! ([`spawn_with`], [`Runnable::data`], [`Task::into_raw`]); the README lists the few places
//! where rawtask deliberately differs for soundness.
//!
//! # The data slot
//!
//! The slot (`M`, async-task's "metadata") sits at [`data_offset::<M>()`](data_offset) bytes
//! from the pointer that [`Runnable::into_raw`] and [`Task::into_raw`] return — for any `M`
//! aligned to at most a pointer, [`DATA_OFFSET`] — whatever the future's type, so C code can
//! read it without calling into Rust.
//!
//! # Features
//!
//! - `std` (default): [`spawn_local`], panic propagation, [`ffi`], [`CancellationToken`],
//!   [`background`] jobs for C, [`capi`] (the C ABI: runnables, task handles and wakers from
//!   C, status codes and the thread-local last error), [`scope`], [`storage::TaskPool`].
//!   Without it the crate is `no_std` and needs only `alloc`.
//! - `macros`: the `#[async_ffi]` attribute, as `rawtask::ffi::async_ffi`.
//! - `futures`: `futures::task::Spawn` executors as [`scope::ScopeExecutor`]s.
//! - `portable-atomic`: every atomic from the [portable-atomic](https://docs.rs/portable-atomic)
//!   crate, for targets without compare-and-swap such as `thumbv6m-none-eabi` (as async-task's
//!   feature of that name; the target also needs one of portable-atomic's own options, e.g.
//!   `--cfg portable_atomic_unsafe_assume_single_core`).
//!
//! No 64-bit atomic is required (see [`identity::TaskId`] for ids on targets without them). The
//! library builds with Rust 1.70 and later; a few things are faster on newer compilers (before
//! 1.83, [`identity::of_waker`] returns `None` and Rust wakers crossing the [`ffi`] layer are
//! always wrapped).
//!
//! # Beyond async-task
//!
//! - [`protocol`]: the raw task's specification (state bits, who may touch what, the rules,
//!   every transition), for readers of the core and authors of C executors.
//! - [`scope`]: structured scopes (no task outlives its parent), a superset of scoped_spawn.
//! - [`storage`]: where a task's allocation lives ([`Builder::allocator`], a recycling pool).
//! - [`identity`]: opt-in task ids, names and spawn locations.
//! - [`JoinSet`] and [`TaskTracker`]: task groups joined in completion order, and graceful
//!   shutdown by counting tracked tasks.
//! - [`spawn_many`]: batch spawning; [`spawn_in`] and `Builder::spawn_in` (async-task PR #98's
//!   names for [`Builder::allocator`]); [`Runnable::metadata_raw`] (PR #97).
//! - Cancelling and telling outcomes apart: [`Runnable::is_cancelled`], [`Task::abort`], an
//!   [`AbortHandle`] that cancels from any thread without owning the `Task`, and
//!   [`Task::join`], whose [`JoinError`] tells a cancellation from a propagated panic.
//! - [`compat::async_task_ffi`]: async-task-ffi 4.1.1's API exactly, where it collides with
//!   async-task's (`data_mut` returning `&mut D`, `Task<T>`, raw pointers as `*mut ()`).

#![no_std]
// On docs.rs, every feature-gated item shows the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod abort;
mod abort_handle;
#[cfg(feature = "std")]
pub mod background;
mod builder;
#[cfg(feature = "std")]
mod callback_task;
#[cfg(feature = "std")]
pub mod cancel;
#[cfg(feature = "std")]
pub mod capi;
pub mod compat;
#[cfg(feature = "std")]
pub mod ffi;
#[cfg(feature = "std")]
pub mod home;
pub mod hooks;
pub mod identity;
mod join;
mod join_error;
#[cfg(feature = "std")]
mod join_set;
#[cfg(feature = "std")]
mod panic;
#[cfg_attr(
    feature = "std",
    doc = "
[`FfiWakerVTable`]: crate::ffi::FfiWakerVTable
[`FfiWakerBase`]: crate::ffi::FfiWakerBase
[`rawtask::ffi`]: crate::ffi"
)]
#[cfg_attr(
    not(feature = "std"),
    doc = "
[`FfiWakerVTable`]: https://docs.rs/rawtask/latest/rawtask/ffi/struct.FfiWakerVTable.html
[`FfiWakerBase`]: https://docs.rs/rawtask/latest/rawtask/ffi/struct.FfiWakerBase.html
[`rawtask::ffi`]: https://docs.rs/rawtask/latest/rawtask/ffi/index.html"
)]
#[doc = include_str!("../docs/protocol.md")]
pub mod protocol {}
mod raw;
mod runnable;
mod schedule;
mod schedule_info;
#[cfg(feature = "std")]
pub mod scope;
mod spawn_in;
pub mod storage;
mod sync;
mod task;
#[cfg(feature = "std")]
mod task_tracker;
mod try_alloc_error;
#[cfg(feature = "std")]
mod try_arc;
#[cfg(feature = "std")]
mod try_box;
mod try_spawn_error;

pub use crate::abort_handle::AbortHandle;
pub use crate::builder::Builder;
#[cfg(feature = "alloc")]
pub use crate::builder::{
    spawn, spawn_many, spawn_unchecked, spawn_unchecked_with, spawn_with, try_spawn_many,
};
#[cfg(feature = "std")]
pub use crate::builder::{spawn_local, spawn_local_with};
#[cfg(feature = "std")]
pub use crate::callback_task::CallbackTask;
#[cfg(feature = "std")]
pub use crate::cancel::CancellationToken;
pub use crate::join::Join;
pub use crate::join_error::JoinError;
#[cfg(feature = "std")]
pub use crate::join_set::{JoinNext, JoinSet};
pub use crate::runnable::Runnable;
pub use crate::schedule::{Schedule, WithInfo};
pub use crate::schedule_info::ScheduleInfo;
#[cfg(feature = "std")]
pub use crate::spawn_in::spawn_local_in;
pub use crate::spawn_in::{spawn_in, spawn_unchecked_in};
pub use crate::task::{FallibleTask, Task};
#[cfg(feature = "std")]
pub use crate::task_tracker::{TaskTracker, TaskTrackerToken, TrackedFuture, TrackerWait};
pub use crate::try_alloc_error::TryAllocError;
pub use crate::try_spawn_error::TrySpawnError;

/// The byte offset of the data slot from a task pointer, for a slot of type `M`.
///
/// It depends on `M`'s alignment only, never on the future: the slot follows a fixed header of
/// four pointer-sized words (vtable, state, and the two-word awaiter waker).
///
/// ```
/// assert_eq!(rawtask::data_offset::<u64>(), rawtask::DATA_OFFSET);
/// assert_eq!(rawtask::data_offset::<u8>(), rawtask::DATA_OFFSET);
/// assert_eq!(rawtask::data_offset::<()>(), rawtask::DATA_OFFSET);
/// ```
pub const fn data_offset<M>() -> usize {
    raw::header::metadata_offset::<M>()
}

/// The byte offset of the data slot for any `M` aligned to at most `align_of::<usize>()`: four
/// pointer-sized words (32 on 64-bit targets, 16 on 32-bit ones).
///
/// ```
/// let (runnable, _task) = rawtask::spawn_with(async {}, |_| {}, 0xC0FFEEu32);
/// let ptr = runnable.into_raw();
/// // SAFETY: a `u32` slot lives at DATA_OFFSET.
/// let value = unsafe { *ptr.as_ptr().cast::<u8>().add(rawtask::DATA_OFFSET).cast::<u32>() };
/// assert_eq!(value, 0xC0FFEE);
/// # drop(unsafe { rawtask::Runnable::<u32>::from_raw(ptr) });
/// ```
pub const DATA_OFFSET: usize = data_offset::<usize>();

#[cfg(not(loom))]
const _: () = assert!(DATA_OFFSET == 4 * core::mem::size_of::<usize>());

/// The README's Rust examples, compiled and run as doc tests. One of them uses `#[async_ffi]`,
/// so they run with the `macros` feature, as `cargo test --workspace` builds rawtask.
#[cfg(all(doctest, feature = "macros"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
