//! The type-erased front of every task allocation: vtable, state word, awaiter slot and the data
//! slot, plus everything that needs only the header (wakers, the awaiter protocol).

use core::ptr::NonNull;
use core::task::{RawWaker, RawWakerVTable, Waker};

use super::state::{State, StateCell, Wake};
use crate::abort::abort_on_panic;
use crate::sync::UnsafeCell;
use crate::ScheduleInfo;

/// The per-type functions of a task, reached from the type-erased handles.
///
/// `repr(C)` with the [`FfiWakerVTable`] first: the task pointer starts with a pointer to this
/// table (the header's `vtable` field), so the task pointer is also an FFI waker
/// ([`FfiWakerBase`], async-ffi's layout) whose vtable is [`FFI_WAKER_VTABLE`]. C and foreign
/// Rust code can clone, wake and drop a task's waker through it without any allocation.
#[repr(C)]
pub(crate) struct TaskVTable {
    /// The FFI waker functions of the task pointer; the same four functions for every task.
    pub(crate) ffi_waker: FfiWakerVTable,
    /// Hands a `Runnable` (whose reference the caller owns) to the schedule function.
    pub(crate) schedule: unsafe fn(NonNull<()>, ScheduleInfo),
    /// Polls the future once; see [`super::RawTask::run`].
    pub(crate) run: unsafe fn(NonNull<()>) -> bool,
    /// Drops the future in place (leaks it instead on a foreign thread for local tasks).
    pub(crate) drop_future: unsafe fn(NonNull<()>),
    /// Moves the output (`panicked`: the panic payload) out into a `*mut Result<T, PanicPayload>`.
    pub(crate) read_output: unsafe fn(NonNull<()>, bool, *mut ()),
    /// Drops the schedule function and the data slot and frees the allocation.
    pub(crate) destroy: unsafe fn(NonNull<()>),
    /// Size and alignment of the whole allocation, for diagnostics.
    pub(crate) layout: core::alloc::Layout,
    /// Byte offset of the data slot from the task pointer (`data_offset::<M>()`), so that
    /// type-erased code (the C API) can find the slot of any task. Never read on a hot path.
    pub(crate) data_offset: usize,
    /// Size in bytes of the data slot (`size_of::<M>()`), for the C API's checks.
    pub(crate) data_size: usize,
    /// The task's identity, if it was spawned with one. The reference lives as long as the
    /// task (the caller ties it to a handle's borrow).
    pub(crate) identity: unsafe fn(NonNull<()>) -> Option<&'static crate::identity::Identity>,
}

/// async-ffi 0.5.1's FFI waker vtable: four C functions that take the waker (a pointer to its
/// [`FfiWakerBase`]). `clone` returns a new owned waker, `wake` and `drop` consume an owned one,
/// `wake_by_ref` borrows.
///
/// See [`crate::ffi`] for the whole ABI; in C this is `RawtaskFfiWakerVTable`.
///
/// ```
/// use rawtask::ffi::{FfiWakerBase, FfiWakerVTable};
/// // A waker that does nothing, as a C host might write it.
/// unsafe extern "C" fn clone(w: *const FfiWakerBase) -> *const FfiWakerBase { w }
/// unsafe extern "C" fn noop(_: *const FfiWakerBase) {}
/// static VTABLE: FfiWakerVTable =
///     FfiWakerVTable { clone, wake: noop, wake_by_ref: noop, drop: noop };
/// static WAKER: FfiWakerBase = FfiWakerBase { vtable: &VTABLE };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "abi_stable", derive(abi_stable::StableAbi))]
pub struct FfiWakerVTable {
    /// Returns a new owned waker that wakes the same task.
    pub clone: unsafe extern "C" fn(*const FfiWakerBase) -> *const FfiWakerBase,
    /// Wakes the task and releases the (owned) waker.
    pub wake: unsafe extern "C" fn(*const FfiWakerBase),
    /// Wakes the task; the waker stays valid.
    pub wake_by_ref: unsafe extern "C" fn(*const FfiWakerBase),
    /// Releases the (owned) waker without waking.
    pub drop: unsafe extern "C" fn(*const FfiWakerBase),
}

/// async-ffi 0.5.1's FFI waker: the first field of every FFI waker, a pointer to its vtable.
/// A waker is passed around as a pointer to this base; whatever follows it in memory belongs
/// to the waker's implementation. A rawtask task pointer is such a waker.
///
/// In C this is `RawtaskFfiWaker`.
///
/// ```
/// use rawtask::ffi::{FfiWakerBase, FfiWakerVTable};
/// unsafe extern "C" fn clone(w: *const FfiWakerBase) -> *const FfiWakerBase { w }
/// unsafe extern "C" fn noop(_: *const FfiWakerBase) {}
/// static VTABLE: FfiWakerVTable =
///     FfiWakerVTable { clone, wake: noop, wake_by_ref: noop, drop: noop };
/// static WAKER: FfiWakerBase = FfiWakerBase { vtable: &VTABLE };
/// // SAFETY: the waker's functions are valid for a static waker.
/// unsafe { ((*WAKER.vtable).wake_by_ref)(&WAKER) };
/// ```
#[repr(C)]
#[derive(Debug)]
#[cfg_attr(feature = "abi_stable", derive(abi_stable::StableAbi))]
pub struct FfiWakerBase {
    /// The waker's functions.
    pub vtable: *const FfiWakerVTable,
}

// SAFETY: the base is a pointer to an immutable table of thread-safe functions: FFI wakers are
// `Send + Sync` by contract, as Rust wakers are.
unsafe impl Sync for FfiWakerBase {}
// SAFETY: as above.
unsafe impl Send for FfiWakerBase {}

/// The start of every task allocation. `repr(C)` so that the data slot sits at an offset that
/// depends only on `M` (see [`crate::data_offset`]), and so that the task pointer, which points
/// to `vtable`, is an [`FfiWakerBase`].
#[repr(C)]
pub(crate) struct Header<M> {
    pub(crate) vtable: &'static TaskVTable,
    pub(crate) state: StateCell,
    /// The waker of whoever awaits the `Task`; guarded by the AWAITER/REGISTERING/NOTIFYING bits.
    pub(crate) awaiter: UnsafeCell<Option<Waker>>,
    /// The user's data slot (async-task's metadata).
    pub(crate) metadata: M,
}

/// The offset of `Header<M>::metadata`, computed as `repr(C)` lays fields out (each at the end
/// of the previous one, rounded up to its alignment), so that it is exact, `const`, and needs
/// no `offset_of!` (Rust 1.77). A test checks it against `offset_of!`.
pub(crate) const fn metadata_offset<M>() -> usize {
    use core::mem::{align_of, size_of};
    const fn align_up(offset: usize, align: usize) -> usize {
        (offset + align - 1) / align * align
    }
    let vtable_end = size_of::<&'static TaskVTable>();
    let state_end = align_up(vtable_end, align_of::<StateCell>()) + size_of::<StateCell>();
    let awaiter_end = align_up(state_end, align_of::<UnsafeCell<Option<Waker>>>())
        + size_of::<UnsafeCell<Option<Waker>>>();
    align_up(awaiter_end, align_of::<M>())
}

/// The header without its data slot: the part whose layout is the same for every task.
#[repr(C)]
pub(crate) struct HeaderPrefix {
    pub(crate) vtable: &'static TaskVTable,
    pub(crate) state: StateCell,
    pub(crate) awaiter: UnsafeCell<Option<Waker>>,
}

/// Reinterprets a task pointer as its type-erased header prefix.
///
/// # Safety
/// `ptr` must point to a live task allocation.
#[inline(always)]
pub(crate) unsafe fn prefix<'a>(ptr: NonNull<()>) -> &'a HeaderPrefix {
    // SAFETY: every task allocation starts with a `Header<M>`, whose `repr(C)` layout begins
    // with exactly the fields of `HeaderPrefix`; the caller guarantees the task is alive.
    unsafe { ptr.cast::<HeaderPrefix>().as_ref() }
}

impl HeaderPrefix {
    /// Takes the awaiter out of its slot unless someone else is registering or notifying, and
    /// unless it would wake the same task as `current`.
    pub(crate) fn take_awaiter(&self, current: Option<&Waker>) -> Option<Waker> {
        if !self.state.begin_notify() {
            // A concurrent notifier takes the waker, or the registrar finds our NOTIFYING bit
            // and wakes its waker itself.
            return None;
        }
        // SAFETY: `begin_notify` succeeded, so we hold NOTIFYING with no REGISTERING: nobody
        // else touches the awaiter slot until `end_notify`.
        let waker = self.awaiter.with_mut(|slot| unsafe { (*slot).take() });
        self.state.end_notify();
        match (waker, current) {
            (Some(w), Some(c)) if w.will_wake(c) => {
                abort_on_panic("rawtask: a waker's drop panicked", || drop(w));
                None
            }
            (waker, _) => waker,
        }
    }

    /// Wakes the awaiter (unless it is `current`).
    pub(crate) fn notify_awaiter(&self, current: Option<&Waker>) {
        if let Some(w) = self.take_awaiter(current) {
            abort_on_panic("rawtask: an awaiter's wake panicked", || w.wake());
        }
    }

    /// Stores `waker` as the awaiter. Only the `Task` holder calls this, so registrations never
    /// overlap.
    pub(crate) fn register_awaiter(&self, waker: &Waker) {
        if !self.state.begin_register() {
            // A notification is running right now: poll again instead of registering.
            abort_on_panic("rawtask: a waker panicked", || waker.wake_by_ref());
            return;
        }
        // SAFETY: we hold REGISTERING, so no notifier touches the slot; only the unique `Task`
        // holder ever registers.
        let old = self.awaiter.with_mut(|slot| unsafe {
            match &*slot {
                Some(w) if w.will_wake(waker) => None,
                _ => (*slot).replace(waker.clone()),
            }
        });
        let mut to_wake = None;
        self.state.end_register(|| {
            // A notifier gave up because we were registering: take the waker back out and wake
            // it ourselves.
            // SAFETY: we still hold REGISTERING, so nobody else touches the slot.
            if let Some(w) = self.awaiter.with_mut(|slot| unsafe { (*slot).take() }) {
                to_wake = Some(w);
            }
        });
        abort_on_panic("rawtask: a waker panicked", || {
            drop(old);
            if let Some(w) = to_wake {
                w.wake();
            }
        });
    }
}

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
pub(crate) fn identity_of_waker(_waker: &Waker) -> Option<&crate::identity::Identity> {
    None
}

/// The identity of the task behind `waker`, if it is a rawtask waker of an identified task.
#[cfg(rawtask_waker_data)]
pub(crate) fn identity_of_waker(waker: &Waker) -> Option<&crate::identity::Identity> {
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
    // SAFETY: the waker being cloned holds a reference, so the task is alive.
    unsafe { prefix(ptr) }.state.add_ref();
    RawWaker::new(data, &RAW_WAKER_VTABLE)
}

unsafe fn wake(data: *const ()) {
    let ptr = task_ptr(data);
    // SAFETY: the consumed waker holds a reference, so the task is alive.
    let header = unsafe { prefix(ptr) };
    match header.state.wake(true) {
        // SAFETY: `wake(true)` released nothing: we still own the waker's reference.
        Wake::Done => unsafe { release_waker_ref(ptr) },
        Wake::Marked => {}
        // SAFETY: the waker's reference now belongs to the new `Runnable`, which we hand to
        // the schedule function.
        Wake::Schedule => unsafe { (header.vtable.schedule)(ptr, ScheduleInfo::new(false)) },
    }
}

/// The wake-by-reference function of [`RAW_WAKER_VTABLE`]; also used by handles that keep the
/// task alive without holding a reference (`Task::wake`).
///
/// # Safety
/// `data` is a task pointer that the caller keeps alive during the call.
pub(crate) unsafe fn wake_by_ref(data: *const ()) {
    let ptr = task_ptr(data);
    // SAFETY: the borrowed waker holds a reference, so the task is alive.
    let header = unsafe { prefix(ptr) };
    if header.state.wake(false) == Wake::Schedule {
        // SAFETY: `wake(false)` added a reference for the new `Runnable`.
        unsafe { (header.vtable.schedule)(ptr, ScheduleInfo::new(false)) }
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

/// Releases a waker's reference. If it was the last owner of a task whose future still lives,
/// the task is closed and scheduled one last time so that the executor drops the future on its
/// own thread; a finished task is destroyed.
///
/// # Safety
/// The caller owns one reference to a live task and gives it up.
pub(crate) unsafe fn release_waker_ref(ptr: NonNull<()>) {
    // SAFETY: the caller's reference keeps the task alive until `release_ref`.
    let new = unsafe { prefix(ptr) }.state.release_ref();
    if new.is_unreferenced() {
        // SAFETY: no reference and no `Task` remain, so we own the allocation.
        unsafe { release_last(ptr, new) }
    }
}

/// Disposes of a task whose last owner was a waker or a schedule guard.
///
/// # Safety
/// The caller owns the allocation (`new.is_unreferenced()` was observed by it).
#[cold]
unsafe fn release_last(ptr: NonNull<()>, new: State) {
    // SAFETY: we own the allocation, so it is alive.
    let vtable = unsafe { prefix(ptr) }.vtable;
    if new.is_done() {
        // SAFETY: the task is finished (its future and output are gone) and we own it.
        unsafe { (vtable.destroy)(ptr) }
    } else {
        // SAFETY: we own the task; `reschedule_for_drop` gives the new `Runnable` its
        // reference, and the executor drops the future when it runs it.
        unsafe {
            prefix(ptr).state.reschedule_for_drop(new);
            (vtable.schedule)(ptr, ScheduleInfo::new(false));
        }
    }
}

// `metadata_offset` is `offset_of!`, checked at compile time wherever the compiler has it.
#[cfg(rawtask_offset_of)]
const _: () = {
    assert!(metadata_offset::<()>() == core::mem::offset_of!(Header<()>, metadata));
    assert!(metadata_offset::<u8>() == core::mem::offset_of!(Header<u8>, metadata));
    assert!(metadata_offset::<u64>() == core::mem::offset_of!(Header<u64>, metadata));
    assert!(metadata_offset::<u128>() == core::mem::offset_of!(Header<u128>, metadata));
};

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(align(64))]
    struct Align64(#[allow(dead_code)] u8);

    #[repr(align(16))]
    struct Align16(#[allow(dead_code)] [u8; 40]);

    #[test]
    fn metadata_offset_matches_offset_of() {
        macro_rules! check {
            ($($m:ty),*) => {$(
                assert_eq!(
                    metadata_offset::<$m>(),
                    core::mem::offset_of!(Header<$m>, metadata),
                    "{}",
                    stringify!($m),
                );
            )*};
        }
        check!(
            (),
            u8,
            u16,
            u32,
            u64,
            u128,
            usize,
            [u8; 3],
            [u64; 5],
            Align16,
            Align64
        );
    }
}
