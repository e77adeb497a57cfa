#![cfg_attr(
    feature = "std",
    doc = "
[`FfiWakerVTable`]: crate::ffi::FfiWakerVTable
[`FfiWakerBase`]: crate::ffi::FfiWakerBase
[`rawtask::ffi`]: crate::ffi"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "
[`FfiWakerVTable`]: https://docs.rs/rawtask/latest/rawtask/ffi/struct.FfiWakerVTable.html
[`FfiWakerBase`]: https://docs.rs/rawtask/latest/rawtask/ffi/struct.FfiWakerBase.html
[`rawtask::ffi`]: https://docs.rs/rawtask/latest/rawtask/ffi/index.html"
)]
//! The raw task: one allocation per task, and the protocol that governs it.
//!
//! The protocol spec (layout, state bits, who may touch what, the numbered rules and every
//! transition) is `docs/protocol.md`, rendered as [`crate::protocol`]. One concept per file:
//!
//! | file | what it holds |
//! |---|---|
//! | `state` | the state word: its bits, snapshots with named predicates, one method per transition |
//! | `header` | the header every allocation starts with, and the data slot's offset |
//! | `vtable` | the per-type functions reached from type-erased handles |
//! | `ffi_waker` | async-ffi's FFI waker ABI, which every task pointer implements |
//! | `cell` | the layout of the whole allocation (header, schedule, extras, stage) |
//! | `extras` | what a task carries besides its future: locality, allocator, identity |
//! | `locality` | which threads may drop a task's contents |
//! | `harness` | running a task: poll, complete, pending, panic, schedule |
//! | `current` | the task this thread is polling, which may wake itself without an atomic |
//! | `lifecycle` | a task from allocation to free |
//! | `awaiter` | the awaiter slot's registration and notification |
//! | `waker` | the Rust and FFI waker vtables |
//! | `release` | giving up a reference, and what the last owner does |
//! | `watcher` | a reference that waits for the task to finish without taking the output |

#![doc = include_str!("../../docs/protocol.md")]
pub(crate) mod awaiter;
pub(crate) mod cell;
mod current;
pub(crate) mod extras;
pub(crate) mod ffi_waker;
pub(crate) mod harness;
pub(crate) mod header;
mod lifecycle;
pub(crate) mod locality;
pub(crate) mod release;
pub(crate) mod state;
pub(crate) mod vtable;
pub(crate) mod waker;
#[cfg(feature = "std")]
pub(crate) mod watcher;
