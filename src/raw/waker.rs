//! The task's wakers: the task pointer is the data of its Rust wakers and is itself an FFI waker,
//! so waking costs no allocation in either world. Both vtables run the same transitions.

use core::ptr::NonNull;
use core::task::{RawWaker, RawWakerVTable, Waker};

use super::ffi_waker::{FfiWakerBase, FfiWakerVTable};
use super::header::prefix;
use super::release::release_waker_ref;
use super::state::Wake;
use crate::abort::abort_on_panic;
use crate::identity::task_identity::Identity;
use crate::schedule_info::ScheduleInfo;

// ----- wakers: the task pointer is the waker's data, no allocation -----

/// The one waker vtable shared by every rawtask task: the wake functions need only the header.
pub(crate) static RAW_WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake, wake_by_ref, drop_waker);

/// Builds a waker around a reference the caller gives up.
///
/// # Safety
/// `ptr` must be a live task and the caller must own one reference that the waker takes over.
#[inline(always)]
pub(crate) unsafe fn waker_from_ref(ptr: NonNull<()>) -> Waker {
    // SAFETY: the vtable's functions uphold the `RawWaker` contract for a task pointer that
    // owns one reference, which the caller hands over.
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr(), &RAW_WAKER_VTABLE)) }
}

/// A waker that does nothing, as `Waker::noop` (Rust 1.85) but on every compiler. Never
/// dropped, like `Waker::noop`'s `&'static Waker`: borrow it.
#[cfg(feature = "std")]
pub(crate) fn noop_waker() -> core::mem::ManuallyDrop<Waker> {
    fn noop_clone(_: *const ()) -> RawWaker {
        RawWaker::new(core::ptr::null(), &NOOP_VTABLE)
    }
    fn noop(_: *const ()) {}
    static NOOP_VTABLE: RawWakerVTable = RawWakerVTable::new(noop_clone, noop, noop, noop);
    // SAFETY: the vtable's functions ignore the data pointer and do nothing, which fulfils the
    // `RawWaker` contract for any pointer.
    core::mem::ManuallyDrop::new(unsafe { Waker::from_raw(noop_clone(core::ptr::null())) })
}

/// The identity of the task behind `waker`, if it is a rawtask waker of an identified task.
///
/// Needs `Waker::data` (Rust 1.83) to recognise the task's own wakers; on older compilers
/// every waker is treated as foreign and this is `None`.
#[cfg(not(rawtask_waker_data))]
pub(crate) fn identity_of_waker(_waker: &Waker) -> Option<&Identity> {
    None
}

/// The identity of the task behind `waker`, if it is a rawtask waker of an identified task.
#[cfg(rawtask_waker_data)]
#[allow(clippy::incompatible_msrv)] // rawtask_waker_data: Rust 1.83 or later
pub(crate) fn identity_of_waker(waker: &Waker) -> Option<&Identity> {
    if !core::ptr::eq(waker.vtable(), &RAW_WAKER_VTABLE) {
        return None;
    }
    let ptr = task_ptr(waker.data());
    // SAFETY: a waker with our vtable holds a reference to a live task, which outlives the
    // borrow of `waker` that the result is tied to.
    unsafe { (prefix(ptr).vtable.identity)(ptr) }
}

/// Converts a waker's data pointer back to a task pointer.
#[inline(always)]
fn task_ptr(data: *const ()) -> NonNull<()> {
    // SAFETY: rawtask wakers are only ever built from non-null task pointers.
    unsafe { NonNull::new_unchecked(data as *mut ()) }
}

/// The clone function of [`RAW_WAKER_VTABLE`].
///
/// # Safety
/// `data` is a task pointer whose reference the caller owns or borrows.
pub(crate) unsafe fn clone_waker(data: *const ()) -> RawWaker {
    let ptr = task_ptr(data);
    // The vtable's address is read before the locked add, on purpose. Code outside this crate
    // inlines `waker_from_ref`, so the static is exported, and rustc reaches exported statics
    // through the GOT: a load. x86 lets no load pass a locked instruction, so a GOT load left
    // after the add (where the compiler puts it) makes the new waker wait for the add to
    // finish, which made a clone + drop loop measurably slower than async-task's (whose vtable
    // is a local constant).
    let vtable = in_register_now(&RAW_WAKER_VTABLE);
    // SAFETY: the waker being cloned holds a reference, so the task is alive.
    unsafe { prefix(ptr) }.state.add_ref();
    RawWaker::new(data, vtable)
}

/// Returns `value` after making the compiler hold it in a register at this point of the program,
/// so that loading it is not left for later (see `clone_waker`). On x86 an empty `asm!` statement
/// that takes and gives back the value does that for free; elsewhere (and under Miri, which runs
/// no assembly) `black_box` does it through the stack.
#[inline(always)]
fn in_register_now<T>(value: &'static T) -> &'static T {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), not(miri)))]
    {
        let mut address = value as *const T;
        // SAFETY: the assembly is empty: it leaves the register as it is and touches no memory,
        // stack or flag (it is not marked `nomem` only because it takes a pointer). Declaring
        // the register an output makes its value opaque, so the compiler cannot load the
        // address again later instead of keeping it.
        unsafe {
            core::arch::asm!("/* {0} */", inout(reg) address, options(nostack, preserves_flags));
        }
        // SAFETY: the assembly left `address` unchanged: it is still `value`.
        unsafe { &*address }
    }
    #[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), not(miri))))]
    core::hint::black_box(value)
}

unsafe fn wake(data: *const ()) {
    let ptr = task_ptr(data);
    // SAFETY: the consumed waker holds a reference, so the task is alive.
    let header = unsafe { prefix(ptr) };
    let hold = header.vtable.schedule_holds;
    match header.state.wake(true, hold) {
        // SAFETY: `wake` released nothing: we still own the waker's reference.
        Wake::Done => unsafe { release_waker_ref(ptr) },
        Wake::Marked => {}
        // SAFETY: the waker's reference (and with `hold` the one `wake` added) now belong to
        // the new `Runnable` and the schedule call's hold, which we hand over.
        Wake::Schedule => unsafe { (header.vtable.schedule)(ptr, ScheduleInfo::new(false), hold) },
    }
}

/// The wake-by-reference function of [`RAW_WAKER_VTABLE`]; also used by handles that keep the
/// task alive without holding a reference (`Task::wake`).
///
/// # Safety
/// `data` is a task pointer that the caller keeps alive during the call.
pub(crate) unsafe fn wake_by_ref(data: *const ()) {
    // The task being polled on this thread woke itself: its poll's end will see it (rule 17).
    if super::current::wake_current(data) {
        return;
    }
    let ptr = task_ptr(data);
    // SAFETY: the borrowed waker holds a reference, so the task is alive.
    let header = unsafe { prefix(ptr) };
    let hold = header.vtable.schedule_holds;
    if header.state.wake(false, hold) == Wake::Schedule {
        // SAFETY: `wake` added a reference for the new `Runnable` (and with `hold` one for the
        // schedule call's hold).
        unsafe { (header.vtable.schedule)(ptr, ScheduleInfo::new(false), hold) }
    }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the dropped waker owns a reference.
    unsafe { release_waker_ref(task_ptr(data)) }
}

// ----- the same wakers for FFI: the task pointer is an async-ffi `FfiWakerBase` -----

/// The FFI waker vtable at the start of every [`TaskVTable`]: the same logic as
/// [`RAW_WAKER_VTABLE`] behind C functions, which abort (instead of unwinding into foreign code)
/// if the schedule function or a destructor panics.
pub(crate) const FFI_WAKER_VTABLE: FfiWakerVTable = FfiWakerVTable {
    clone: ffi_clone,
    wake: ffi_wake,
    wake_by_ref: ffi_wake_by_ref,
    drop: ffi_drop,
};

/// Whether `vtable` is the FFI vtable of a task of this copy of rawtask, i.e. whether an FFI
/// waker with this vtable is a task pointer that [`RAW_WAKER_VTABLE`] can wrap directly.
///
/// Compares function addresses only (no read beyond the four entries every FFI vtable has). A
/// `false` for a task of this copy (if the linker duplicated a function) only costs speed.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn is_task_ffi_vtable(vtable: &FfiWakerVTable) -> bool {
    // Addresses as data pointers, which is what `ptr::fn_addr_eq` (Rust 1.85) compares.
    core::ptr::eq(
        vtable.wake_by_ref as *const (),
        ffi_wake_by_ref as *const (),
    ) && core::ptr::eq(vtable.clone as *const (), ffi_clone as *const ())
}

unsafe extern "C" fn ffi_clone(waker: *const FfiWakerBase) -> *const FfiWakerBase {
    // SAFETY: the caller passes a live FFI waker whose vtable is `FFI_WAKER_VTABLE`, so it is
    // a task pointer that holds (or borrows) a reference, which keeps the task alive.
    unsafe { prefix(task_ptr(waker.cast())) }.state.add_ref();
    waker
}

unsafe extern "C" fn ffi_wake(waker: *const FfiWakerBase) {
    abort_on_panic(
        "rawtask: a task's schedule function panicked in an FFI waker's wake",
        || {
            // SAFETY: the caller gives up an owned FFI waker of a task, i.e. one reference.
            unsafe { wake(waker.cast()) }
        },
    )
}

unsafe extern "C" fn ffi_wake_by_ref(waker: *const FfiWakerBase) {
    abort_on_panic(
        "rawtask: a task's schedule function panicked in an FFI waker's wake_by_ref",
        || {
            // SAFETY: the caller lends a live FFI waker of a task.
            unsafe { wake_by_ref(waker.cast()) }
        },
    )
}

unsafe extern "C" fn ffi_drop(waker: *const FfiWakerBase) {
    abort_on_panic(
        "rawtask: a task's schedule function panicked in an FFI waker's drop",
        || {
            // SAFETY: the caller gives up an owned FFI waker of a task, i.e. one reference.
            unsafe { drop_waker(waker.cast()) }
        },
    )
}
