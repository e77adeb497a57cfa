//! [`FfiContext`] and the waker bridge: Rust wakers lent to foreign code as FFI wakers, and
//! FFI wakers used by Rust futures as Rust wakers.
//!
//! Which bridge a waker takes, from the cheapest:
//!
//! | the waker | as an FFI waker | its FFI clone |
//! |---|---|---|
//! | a rawtask task's (this copy) | the task pointer itself | reference count + 1 |
//! | a Rust waker around an FFI waker (this copy) | the FFI waker it wraps | that waker's clone |
//! | any other Rust waker | a `BorrowedRustWaker` on the stack | one allocation (`OwnedRustWaker`) |
//!
//! An FFI waker is always lent to a Rust future as a Rust waker around it (building it reads
//! nothing); its clone depends on what it wraps:
//!
//! | the FFI waker | its Rust clone |
//! |---|---|
//! | a `BorrowedRustWaker`/`OwnedRustWaker` (this copy) | the Rust waker inside, cloned |
//! | a rawtask task of this copy | the task's own Rust waker: reference count + 1 |
//! | anything else (another rawtask copy's task, async-ffi, C) | its FFI clone, wrapped |

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr;
use core::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::boxed::Box;

use super::{FfiWakerBase, FfiWakerVTable};
use crate::abort::{abort, abort_on_panic};
#[cfg(rawtask_waker_data)]
use crate::raw::waker::RAW_WAKER_VTABLE;
use crate::raw::waker::{clone_waker, is_task_ffi_vtable};

/// The FFI-safe counterpart of [`Context`]: a borrowed FFI waker, passed by pointer to a
/// future's `poll_fn` for the duration of one call.
///
/// `repr(C)`: a single pointer to an [`FfiWakerBase`]. In C this is `RawtaskFfiContext`.
///
/// ```
/// use rawtask::ffi::ContextExt;
/// use std::task::{Context, Waker};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// // Lend the waker to foreign code, then use it again as a Rust context.
/// cx.with_ffi_context(|ffi_cx| ffi_cx.with_context(|cx| cx.waker().wake_by_ref()));
/// ```
#[repr(C)]
#[cfg_attr(feature = "abi_stable", derive(abi_stable::StableAbi))]
pub struct FfiContext<'a> {
    waker: *const FfiWakerBase,
    _marker: PhantomData<&'a FfiWakerBase>,
}

impl<'a> FfiContext<'a> {
    /// Makes a context around an FFI waker, as a C-like host would.
    ///
    /// # Safety
    /// `waker` must be a valid FFI waker (its vtable functions uphold the contract in the
    /// [module docs](super#ownership-who-frees-what)) for all of `'a`, usable from any thread.
    ///
    /// ```
    /// use rawtask::ffi::{FfiContext, FfiWakerBase, FfiWakerVTable};
    /// unsafe extern "C" fn clone(w: *const FfiWakerBase) -> *const FfiWakerBase { w }
    /// unsafe extern "C" fn noop(_: *const FfiWakerBase) {}
    /// static VTABLE: FfiWakerVTable =
    ///     FfiWakerVTable { clone, wake: noop, wake_by_ref: noop, drop: noop };
    /// static WAKER: FfiWakerBase = FfiWakerBase { vtable: &VTABLE };
    /// // SAFETY: a static no-op waker is valid forever.
    /// let mut cx = unsafe { FfiContext::from_raw(&WAKER) };
    /// cx.with_context(|cx| cx.waker().clone().wake());
    /// ```
    pub unsafe fn from_raw(waker: *const FfiWakerBase) -> FfiContext<'a> {
        FfiContext {
            waker,
            _marker: PhantomData,
        }
    }

    /// The FFI waker this context lends.
    ///
    /// ```
    /// use rawtask::ffi::ContextExt;
    /// use std::task::{Context, Waker};
    /// Context::from_waker(Waker::noop()).with_ffi_context(|cx| assert!(!cx.raw_waker().is_null()));
    /// ```
    pub fn raw_waker(&self) -> *const FfiWakerBase {
        self.waker
    }

    /// Replaces the waker (only the panic note protocol does this).
    ///
    /// # Safety
    /// `waker` must be valid for the rest of `'a`.
    pub(crate) unsafe fn set_raw_waker(&mut self, waker: *const FfiWakerBase) {
        self.waker = waker;
    }

    /// Runs `closure` with a Rust [`Context`] whose waker is this context's FFI waker.
    ///
    /// Building the context reads nothing: the Rust waker only wraps the FFI pointer. What its
    /// clone costs is decided when it is cloned: for a rawtask task (of this copy of rawtask)
    /// a reference count increment, and the clone is the task's own Rust waker; for a Rust
    /// waker that this copy of rawtask lent, that waker's own clone; otherwise the FFI
    /// waker's `clone` (a reference count increment for a task of another copy of rawtask).
    ///
    /// ```
    /// use rawtask::ffi::ContextExt;
    /// use std::task::{Context, Waker};
    /// let waker = Waker::noop();
    /// Context::from_waker(waker).with_ffi_context(|ffi_cx| {
    ///     // A Rust waker lent by rawtask comes back as itself when cloned.
    ///     ffi_cx.with_context(|cx| assert!(cx.waker().clone().will_wake(waker)));
    /// });
    /// ```
    #[inline]
    pub fn with_context<T, F: FnOnce(&mut Context<'_>) -> T>(&mut self, closure: F) -> T {
        // SAFETY: `FFI_RUST_VTABLE` implements the `RawWaker` contract for a valid FFI waker,
        // which the context lends for `'a` (`from_raw`'s contract; in the ABI, the caller of
        // `poll_fn` lends it for the call); `ManuallyDrop` keeps the borrowed waker from being
        // released, and the waker does not outlive the borrow of `self`.
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(self.waker.cast(), &FFI_RUST_VTABLE))
        });
        closure(&mut Context::from_waker(&waker))
    }
}

impl fmt::Debug for FfiContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FfiContext")
            .field("waker", &self.waker)
            .finish()
    }
}

/// Lends a [`Context`]'s waker to foreign code as an [`FfiContext`].
///
/// ```
/// use rawtask::ffi::{ContextExt, FutureExt};
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
///
/// // A hand-written future that polls an FFI future's parts (what `FfiFuture::poll` does).
/// struct Wrapper(rawtask::ffi::FfiFuture<u8>);
/// impl Future for Wrapper {
///     type Output = u8;
///     fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
///         cx.with_ffi_context(|ffi_cx| ffi_cx.with_context(|cx| Pin::new(&mut self.0).poll(cx)))
///     }
/// }
/// assert_eq!(futures_lite::future::block_on(Wrapper(async { 1 }.into_ffi())), 1);
/// ```
pub trait ContextExt {
    /// Runs `closure` with an [`FfiContext`] lending this context's waker. No allocation: a
    /// rawtask task's waker is lent as the task pointer, a Rust waker that wraps an FFI waker
    /// as that FFI waker, any other waker as a small struct on the stack.
    ///
    /// ```
    /// use rawtask::ffi::ContextExt;
    /// use std::task::{Context, Waker};
    /// let n = Context::from_waker(Waker::noop()).with_ffi_context(|_ffi_cx| 5);
    /// assert_eq!(n, 5);
    /// ```
    fn with_ffi_context<T, F: FnOnce(&mut FfiContext<'_>) -> T>(&mut self, closure: F) -> T;
}

impl ContextExt for Context<'_> {
    fn with_ffi_context<T, F: FnOnce(&mut FfiContext<'_>) -> T>(&mut self, closure: F) -> T {
        with_ffi_waker(self.waker(), |waker| {
            // SAFETY: `with_ffi_waker` lends a valid FFI waker for the duration of the call,
            // which the context cannot outlive (it is dropped before the closure returns).
            let mut cx = unsafe { FfiContext::from_raw(waker) };
            closure(&mut cx)
        })
    }
}

/// Runs `f` with `waker` as an FFI waker, valid for the duration of the call.
///
/// Without `Waker::data` (before Rust 1.83) every waker goes the slower way, wrapped on the
/// stack, even a task's own.
#[inline]
pub(crate) fn with_ffi_waker<R>(waker: &Waker, f: impl FnOnce(*const FfiWakerBase) -> R) -> R {
    #[cfg(rawtask_waker_data)]
    #[allow(clippy::incompatible_msrv)] // rawtask_waker_data: Rust 1.83 or later
    {
        let vtable = waker.vtable();
        if ptr::eq(vtable, &RAW_WAKER_VTABLE) || ptr::eq(vtable, &FFI_RUST_VTABLE) {
            // A task pointer (its `TaskVTable` starts with the FFI vtable), or an FFI waker that
            // a Rust waker wraps: either is an FFI waker as it is, borrowed with the Rust waker.
            return f(waker.data().cast());
        }
    }
    let borrowed = BorrowedRustWaker {
        base: FfiWakerBase {
            vtable: &BORROWED_VTABLE,
        },
        waker,
    };
    f(ptr::addr_of!(borrowed).cast())
}

// ----- Rust wakers as FFI wakers -----

/// A Rust waker lent to foreign code for one call: built on the stack, no allocation.
#[repr(C)]
struct BorrowedRustWaker<'a> {
    base: FfiWakerBase,
    waker: &'a Waker,
}

/// A clone of a Rust waker owned by foreign code: one allocation, freed by `wake` or `drop`.
#[repr(C)]
struct OwnedRustWaker {
    base: FfiWakerBase,
    waker: Waker,
}

fn new_owned(waker: Waker) -> *const FfiWakerBase {
    Box::into_raw(Box::new(OwnedRustWaker {
        base: FfiWakerBase {
            vtable: &OWNED_VTABLE,
        },
        waker,
    }))
    .cast()
}

static BORROWED_VTABLE: FfiWakerVTable = FfiWakerVTable {
    clone: borrowed_clone,
    wake: borrowed_consumed,
    wake_by_ref: borrowed_wake_by_ref,
    drop: borrowed_consumed,
};

static OWNED_VTABLE: FfiWakerVTable = FfiWakerVTable {
    clone: owned_clone,
    wake: owned_wake,
    wake_by_ref: owned_wake_by_ref,
    drop: owned_drop,
};

unsafe extern "C" fn borrowed_clone(waker: *const FfiWakerBase) -> *const FfiWakerBase {
    abort_on_panic(
        "rawtask::ffi: a Rust waker's clone panicked in an FFI waker's clone",
        || {
            // SAFETY: a waker with this vtable is a live `BorrowedRustWaker`.
            new_owned(unsafe { (*waker.cast::<BorrowedRustWaker<'_>>()).waker }.clone())
        },
    )
}

unsafe extern "C" fn borrowed_wake_by_ref(waker: *const FfiWakerBase) {
    abort_on_panic(
        "rawtask::ffi: a Rust waker's wake_by_ref panicked in an FFI waker",
        || {
            // SAFETY: a waker with this vtable is a live `BorrowedRustWaker`.
            unsafe { (*waker.cast::<BorrowedRustWaker<'_>>()).waker }.wake_by_ref()
        },
    )
}

unsafe extern "C" fn borrowed_consumed(_: *const FfiWakerBase) {
    abort(
        "rawtask::ffi: wake or drop was called on the waker of an FfiContext; that waker is only \
         borrowed: clone it to get one to consume",
    )
}

unsafe extern "C" fn owned_clone(waker: *const FfiWakerBase) -> *const FfiWakerBase {
    abort_on_panic(
        "rawtask::ffi: a Rust waker's clone panicked in an FFI waker's clone",
        || {
            // SAFETY: a waker with this vtable is a live `OwnedRustWaker`.
            new_owned(unsafe { &(*waker.cast::<OwnedRustWaker>()).waker }.clone())
        },
    )
}

unsafe extern "C" fn owned_wake(waker: *const FfiWakerBase) {
    abort_on_panic(
        "rawtask::ffi: a Rust waker's wake panicked in an FFI waker's wake",
        || {
            // SAFETY: a waker with this vtable is an `OwnedRustWaker` from `new_owned`, which the
            // caller gives up.
            let owned = unsafe { Box::from_raw(waker.cast::<OwnedRustWaker>().cast_mut()) };
            owned.waker.wake()
        },
    )
}

unsafe extern "C" fn owned_wake_by_ref(waker: *const FfiWakerBase) {
    abort_on_panic(
        "rawtask::ffi: a Rust waker's wake_by_ref panicked in an FFI waker",
        || {
            // SAFETY: a waker with this vtable is a live `OwnedRustWaker`.
            unsafe { &(*waker.cast::<OwnedRustWaker>()).waker }.wake_by_ref()
        },
    )
}

unsafe extern "C" fn owned_drop(waker: *const FfiWakerBase) {
    abort_on_panic(
        "rawtask::ffi: a Rust waker's drop panicked in an FFI waker's drop",
        || {
            // SAFETY: a waker with this vtable is an `OwnedRustWaker` from `new_owned`, which the
            // caller gives up.
            drop(unsafe { Box::from_raw(waker.cast::<OwnedRustWaker>().cast_mut()) })
        },
    )
}

// ----- FFI wakers as Rust wakers -----

/// The vtable of a Rust waker whose data pointer is an FFI waker it owns (or, in
/// `with_context`, borrows).
static FFI_RUST_VTABLE: RawWakerVTable = RawWakerVTable::new(
    ffi_rust_clone,
    ffi_rust_wake,
    ffi_rust_wake_by_ref,
    ffi_rust_drop,
);

unsafe fn ffi_rust_clone(data: *const ()) -> RawWaker {
    let waker = data.cast::<FfiWakerBase>();
    // SAFETY: the Rust waker being cloned owns or borrows this live FFI waker, so its vtable
    // pointer and the vtable's four entries may be read.
    let vtable = unsafe { (*waker).vtable };
    if ptr::eq(vtable, &BORROWED_VTABLE) {
        // SAFETY: only `with_ffi_waker` makes wakers with this vtable, as a live
        // `BorrowedRustWaker`: the lent Rust waker clones itself.
        return into_raw(unsafe { (*waker.cast::<BorrowedRustWaker<'_>>()).waker }.clone());
    }
    if ptr::eq(vtable, &OWNED_VTABLE) {
        // SAFETY: only `new_owned` makes wakers with this vtable, as a live `OwnedRustWaker`.
        return into_raw(unsafe { &(*waker.cast::<OwnedRustWaker>()).waker }.clone());
    }
    // SAFETY: as above, the vtable's entries are readable.
    if is_task_ffi_vtable(unsafe { &*vtable }) {
        // SAFETY: a task pointer of this copy, alive while the waker being cloned holds or
        // borrows its reference: the clone is the task's own Rust waker.
        return unsafe { clone_waker(data) };
    }
    // SAFETY: the FFI waker's `clone` returns a new owned waker, which the new Rust waker owns.
    let cloned = unsafe { ((*vtable).clone)(waker) };
    RawWaker::new(cloned.cast(), &FFI_RUST_VTABLE)
}

/// Gives up a Rust waker for its raw parts (the new `RawWaker` owns what the waker owned).
#[cfg(rawtask_waker_data)]
#[allow(clippy::incompatible_msrv)] // rawtask_waker_data: Rust 1.83 or later
fn into_raw(waker: Waker) -> RawWaker {
    let waker = ManuallyDrop::new(waker);
    RawWaker::new(waker.data(), waker.vtable())
}

/// Without `Waker::data` (before Rust 1.83) a waker cannot be taken apart: box it as an owned
/// FFI waker instead, which the new `RawWaker` wraps (one allocation per clone).
#[cfg(not(rawtask_waker_data))]
fn into_raw(waker: Waker) -> RawWaker {
    RawWaker::new(new_owned(waker).cast(), &FFI_RUST_VTABLE)
}

unsafe fn ffi_rust_wake(data: *const ()) {
    let waker = data.cast::<FfiWakerBase>();
    // SAFETY: the consumed Rust waker owns this FFI waker and gives it up.
    unsafe { ((*(*waker).vtable).wake)(waker) }
}

unsafe fn ffi_rust_wake_by_ref(data: *const ()) {
    let waker = data.cast::<FfiWakerBase>();
    // SAFETY: the Rust waker owns or borrows this live FFI waker.
    unsafe { ((*(*waker).vtable).wake_by_ref)(waker) }
}

unsafe fn ffi_rust_drop(data: *const ()) {
    let waker = data.cast::<FfiWakerBase>();
    // SAFETY: the dropped Rust waker owns this FFI waker and gives it up.
    unsafe { ((*(*waker).vtable).drop)(waker) }
}
