//! async-ffi's FFI waker ABI ([`FfiWakerBase`], [`FfiWakerVTable`]). It belongs to the core:
//! every task pointer is such a waker (protocol rule 10), and `rawtask::ffi` re-exports the
//! types for foreign futures.

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
