//! The layout of one task allocation: the header, then the schedule function, the extras, and
//! the stage (the future, later its output or a stored panic).

use core::mem::ManuallyDrop;

use super::header::Header;
use crate::sync::UnsafeCell;

/// A panic caught in `poll` and stored as the task's output (with panic propagation), boxed once
/// more so that it takes one word of the stage.
#[cfg(feature = "std")]
pub(crate) struct StoredPanic(pub(crate) std::boxed::Box<crate::panic::Payload>);

/// Without `std` panics cannot be caught, so no panic is ever stored.
#[cfg(not(feature = "std"))]
pub(crate) enum StoredPanic {}

/// The future, then its output (or the stored panic).
pub(crate) union Stage<F, T> {
    pub(crate) future: ManuallyDrop<F>,
    pub(crate) output: ManuallyDrop<T>,
    #[cfg(feature = "std")]
    pub(crate) panic: ManuallyDrop<StoredPanic>,
}

/// The whole allocation of one task: future `F`, output `T`, schedule function `S`, data slot
/// `M` and extras `E`.
#[repr(C)]
pub(crate) struct TaskCell<F, T, S, M, E> {
    pub(crate) header: Header<M>,
    pub(crate) schedule: S,
    pub(crate) extras: E,
    pub(crate) stage: UnsafeCell<Stage<F, T>>,
}
