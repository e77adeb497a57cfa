//! [`TaskVTable`]: the per-type functions of a task, which the type-erased handles call.

use core::ptr::NonNull;

use super::ffi_waker::FfiWakerVTable;
use crate::identity::task_identity::Identity;
use crate::schedule_info::ScheduleInfo;

/// The per-type functions of a task, reached from the type-erased handles.
///
/// `repr(C)` with the [`FfiWakerVTable`] first: the task pointer starts with a pointer to this
/// table (the header's `vtable` field), so the task pointer is also an FFI waker
/// ([`FfiWakerBase`](super::ffi_waker::FfiWakerBase), async-ffi's layout) whose vtable is [`FFI_WAKER_VTABLE`](super::waker::FFI_WAKER_VTABLE). C and foreign
/// Rust code can clone, wake and drop a task's waker through it without any allocation.
#[repr(C)]
pub(crate) struct TaskVTable {
    /// The FFI waker functions of the task pointer; the same four functions for every task.
    pub(crate) ffi_waker: FfiWakerVTable,
    /// Hands a `Runnable` (whose reference the caller owns) to the schedule function. `held`:
    /// the caller also owns the reference that keeps the function alive during the call (rule
    /// 6), added in its own transition, which the call releases afterwards; only callers that
    /// read `schedule_holds` pass `true`.
    pub(crate) schedule: unsafe fn(NonNull<()>, ScheduleInfo, bool),
    /// Whether a call of the schedule function needs a reference of its own (rule 6): the
    /// function has captured state and is not plain data. Wakes read it to add that reference
    /// in the transition that schedules the task instead of in a read-modify-write of its own.
    pub(crate) schedule_holds: bool,
    /// Polls the future once; see [`RawTask::run`](super::harness::RawTask::run).
    pub(crate) run: unsafe fn(NonNull<()>) -> bool,
    /// Drops the future in place (leaks it instead on a foreign thread for local tasks).
    pub(crate) drop_future: unsafe fn(NonNull<()>),
    /// Moves the output (`panicked`: the panic payload) out into a `*mut Result<T, PanicPayload>`.
    pub(crate) read_output: unsafe fn(NonNull<()>, bool, *mut ()),
    /// Drops the schedule function and the data slot and frees the allocation.
    pub(crate) destroy: unsafe fn(NonNull<()>),
    /// Size and alignment of the whole allocation, which `destroy` hands back to the allocator.
    pub(crate) layout: core::alloc::Layout,
    /// Byte offset of the data slot from the task pointer (`data_offset::<M>()`), so that
    /// type-erased code (the C API) can find the slot of any task. Never read on a hot path.
    pub(crate) data_offset: usize,
    /// Size in bytes of the data slot (`size_of::<M>()`), for the C API's checks.
    pub(crate) data_size: usize,
    /// The task's identity, if it was spawned with one. The reference lives as long as the
    /// task (the caller ties it to a handle's borrow).
    pub(crate) identity: unsafe fn(NonNull<()>) -> Option<&'static Identity>,
}
