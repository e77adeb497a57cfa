//! Cancellation tokens for C: a [`CancellationToken`] behind a generation-checked handle.
//!
//! A [`RawtaskToken`] is a 64-bit id into a table of live token handles (a [`HandleTable`] of
//! its own, with the same stale/forged/double-free detection as task handles). Each handle
//! owns one clone of the token, plus the callbacks registered through it. A handle is only
//! checked out for a few instructions (clone the token, register a callback) and no user
//! callback ever runs while it is: `rawtask_token_cancel` cancels a clone taken out of the
//! table, and a callback that is due at registration runs after the checkin. So a callback
//! may call any function on any token, its own included (free it, register another callback,
//! cancel it again) without deadlock or `BUSY`.
//!
//! A C callback is called exactly once per successful `rawtask_token_on_cancel`: with
//! `cancelled = true` when the token is cancelled (or right away if it already is), or with
//! `cancelled = false` when the handle it was registered through is freed first. Either way C
//! gets exactly one chance to release `context`.

use alloc::vec::Vec;
use core::ffi::c_void;
use core::mem::ManuallyDrop;

use super::handle_table::HandleTable;
use super::status::{guard, Failure, RawtaskStatus};
use crate::cancel::{CancellationToken, OnCancel, Refused};
use crate::TryAllocError;

/// A handle to a cancellation token, for C: a 64-bit id, `{0}` being the null handle.
///
/// Made by [`rawtask_token_new`], [`rawtask_token_child`] or, from Rust, [`RawtaskToken::new`];
/// ended by exactly one [`rawtask_token_free`] (a second free, and any use after it, fails with
/// `INVALID_HANDLE`). Freeing a handle does not cancel the token: other handles and Rust clones
/// of it stay usable. The functions taking a token handle may be called from any thread.
///
/// ```
/// use rawtask::capi::*;
/// let handle = RawtaskToken::new(rawtask::CancellationToken::new());
/// assert_eq!(rawtask_token_cancel(handle), RawtaskStatus::Ok);
/// assert!(handle.to_token().unwrap().cancelled());
/// assert_eq!(rawtask_token_free(handle), RawtaskStatus::Ok);
/// assert_eq!(rawtask_token_free(handle), RawtaskStatus::InvalidHandle);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawtaskToken {
    /// The slot's generation in the high 32 bits, the slot index plus one in the low 32 bits;
    /// 0 is the null handle.
    pub id: u64,
}

/// A callback run once per registration by [`rawtask_token_on_cancel`]: `cancelled` is true
/// when the token was cancelled, false when the handle it was registered through was freed
/// first. It must not unwind (throw a C++ exception or longjmp) out of the call.
///
/// ```
/// unsafe extern "C" fn on_cancel(_context: *mut std::ffi::c_void, _cancelled: bool) {}
/// let f: rawtask::capi::RawtaskCancelFn = on_cancel;
/// # let _ = f;
/// ```
pub type RawtaskCancelFn = unsafe extern "C" fn(context: *mut c_void, cancelled: bool);

/// A live token handle: its clone of the token and the callbacks registered through it.
struct Held {
    token: CancellationToken,
    /// Dropping one unregisters its callback, which then calls C with `cancelled = false`.
    callbacks: Vec<OnCancel>,
}

/// The table of live token handles.
static TOKENS: HandleTable<Held, ()> = HandleTable::new("token", drop_deferred);

/// Frees a handle whose free was deferred to the end of a call that had it checked out.
fn drop_deferred(held: Held, (): ()) {
    drop(held);
}

impl RawtaskToken {
    /// The null handle (`{0}`), which every function rejects with `INVALID_ARGUMENT`.
    ///
    /// ```
    /// assert!(rawtask::capi::RawtaskToken::NULL.is_null());
    /// ```
    pub const NULL: RawtaskToken = RawtaskToken { id: 0 };

    /// Hands a token to C: puts a clone of it into the table of token handles. C frees the
    /// handle with [`rawtask_token_free`].
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let handle = rawtask::capi::RawtaskToken::new(token.clone());
    /// rawtask::capi::rawtask_token_cancel(handle);
    /// assert!(token.cancelled());
    /// rawtask::capi::rawtask_token_free(handle);
    /// ```
    pub fn new(token: CancellationToken) -> RawtaskToken {
        RawtaskToken {
            id: TOKENS.insert(Held {
                token,
                callbacks: Vec::new(),
            }),
        }
    }

    /// Whether this is the null handle.
    ///
    /// ```
    /// assert!(!rawtask::capi::RawtaskToken { id: 7 }.is_null());
    /// ```
    pub fn is_null(self) -> bool {
        self.id == 0
    }

    /// Gets the token back from a live handle (a clone of it; the handle stays live), for Rust
    /// functions exported to C that take a token: use it inside [`guard`] with `?`. Fails with
    /// `INVALID_ARGUMENT` for the null handle, `INVALID_HANDLE` for a freed or forged one,
    /// `BUSY` if another thread has the handle checked out at this instant.
    ///
    /// ```
    /// use rawtask::capi::*;
    ///
    /// #[no_mangle]
    /// pub extern "C" fn my_lib_work(token: RawtaskToken) -> RawtaskStatus {
    ///     guard(|| {
    ///         let token = token.to_token()?;
    ///         Ok(if token.cancelled() { RawtaskStatus::Cancelled } else { RawtaskStatus::Ok })
    ///     })
    /// }
    ///
    /// let handle = RawtaskToken::new(rawtask::CancellationToken::new());
    /// assert_eq!(my_lib_work(handle), RawtaskStatus::Ok);
    /// rawtask_token_cancel(handle);
    /// assert_eq!(my_lib_work(handle), RawtaskStatus::Cancelled);
    /// rawtask_token_free(handle);
    /// assert_eq!(my_lib_work(handle), RawtaskStatus::InvalidHandle);
    /// ```
    pub fn to_token(self) -> Result<CancellationToken, Failure> {
        clone_token("RawtaskToken::to_token", self)
    }
}

/// A clone of a live handle's token (the handle is checked out only while cloning).
fn clone_token(function: &str, token: RawtaskToken) -> Result<CancellationToken, Failure> {
    Ok(TOKENS.checkout(function, token.id)?.token.clone())
}

/// Writes a new handle to `out` (checked for null by the caller), or fails with `NO_MEMORY`
/// if the table of handles cannot grow (the token is dropped then).
///
/// # Safety
/// `out` is valid for a write.
unsafe fn store(out: *mut RawtaskToken, token: CancellationToken) -> Result<(), Failure> {
    let held = Held {
        token,
        callbacks: Vec::new(),
    };
    let id = TOKENS.try_insert(held).map_err(|(held, layout)| {
        drop(held);
        TryAllocError::new("a token handle", layout)
    })?;
    // SAFETY: forwarded from the caller.
    unsafe { out.write(RawtaskToken { id }) };
    Ok(())
}

/// Creates a token that is not cancelled and writes its handle to `out`.
///
/// Returns `OK`, `INVALID_ARGUMENT` (null `out`) or `NO_MEMORY` (the token or its handle
/// could not be allocated; `*out` is left as it was and the last error says which). Free the
/// handle with [`rawtask_token_free`].
///
/// # Safety
/// `out` must be null or valid for a write.
///
/// ```
/// use rawtask::capi::*;
/// let mut token = RawtaskToken::NULL;
/// unsafe { assert_eq!(rawtask_token_new(&mut token), RawtaskStatus::Ok) };
/// assert!(!token.is_null());
/// assert_eq!(rawtask_token_free(token), RawtaskStatus::Ok);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_token_new(out: *mut RawtaskToken) -> RawtaskStatus {
    guard(|| {
        if out.is_null() {
            return Err(Failure::null("rawtask_token_new", "out"));
        }
        let token = CancellationToken::try_new()?;
        // SAFETY: checked for null; the caller passes a writable `RawtaskToken`.
        unsafe { store(out, token) }?;
        Ok(RawtaskStatus::Ok)
    })
}

/// Creates a child of `token` and writes its handle to `out`: the child is cancelled whenever
/// `token` (or any ancestor) is, while cancelling the child affects neither `token` nor its
/// other children. A child of a cancelled token is born cancelled. The child does not need its
/// parent's handle to stay live.
///
/// Returns `OK`, `INVALID_ARGUMENT` (null `token` or `out`), `INVALID_HANDLE`, `BUSY`, or
/// `NO_MEMORY` (the child, its place in its parent's list or its handle could not be
/// allocated; `*out` is left as it was, and no child exists).
///
/// # Safety
/// `out` must be null or valid for a write.
///
/// ```
/// use rawtask::capi::*;
/// let parent = RawtaskToken::new(rawtask::CancellationToken::new());
/// let mut child = RawtaskToken::NULL;
/// let mut cancelled = false;
/// unsafe {
///     assert_eq!(rawtask_token_child(parent, &mut child), RawtaskStatus::Ok);
///     rawtask_token_cancel(parent);
///     rawtask_token_is_cancelled(child, &mut cancelled);
/// }
/// assert!(cancelled);
/// rawtask_token_free(child);
/// rawtask_token_free(parent);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_token_child(
    token: RawtaskToken,
    out: *mut RawtaskToken,
) -> RawtaskStatus {
    const F: &str = "rawtask_token_child";
    guard(|| {
        if out.is_null() {
            return Err(Failure::null(F, "out"));
        }
        let child = TOKENS.checkout(F, token.id)?.token.try_child_token()?;
        // SAFETY: checked for null; the caller passes a writable `RawtaskToken`.
        unsafe { store(out, child) }?;
        Ok(RawtaskStatus::Ok)
    })
}

/// Cancels the token and all its descendants. Every callback registered on any of them runs
/// on this thread before this returns (those of a concurrent cancel of the same tree may still
/// be running on its thread). Cancelling twice does nothing more. The handle stays live.
///
/// Returns `OK`, `INVALID_ARGUMENT`, `INVALID_HANDLE`, `BUSY`, or `PANICKED` if Rust code
/// woken by the cancellation (a Rust callback or waker) panicked: the whole tree is still
/// cancelled and every callback called.
///
/// ```
/// use rawtask::capi::*;
/// let token = rawtask::CancellationToken::new();
/// let handle = RawtaskToken::new(token.clone());
/// assert_eq!(rawtask_token_cancel(handle), RawtaskStatus::Ok);
/// assert_eq!(rawtask_token_cancel(handle), RawtaskStatus::Ok);
/// assert!(token.cancelled());
/// rawtask_token_free(handle);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_token_cancel(token: RawtaskToken) -> RawtaskStatus {
    guard(|| {
        // Cancel a clone, with the handle checked in: callbacks may use the handle.
        clone_token("rawtask_token_cancel", token)?.cancel();
        Ok(RawtaskStatus::Ok)
    })
}

/// Writes whether the token has been cancelled to `out`.
///
/// Returns `OK`, `INVALID_ARGUMENT` (null `token` or `out`), `INVALID_HANDLE` or `BUSY`.
///
/// # Safety
/// `out` must be null or valid for a write.
///
/// ```
/// use rawtask::capi::*;
/// let handle = RawtaskToken::new(rawtask::CancellationToken::new());
/// let mut cancelled = true;
/// unsafe {
///     assert_eq!(rawtask_token_is_cancelled(handle, &mut cancelled), RawtaskStatus::Ok);
///     assert!(!cancelled);
///     assert_eq!(rawtask_token_is_cancelled(handle, std::ptr::null_mut()), RawtaskStatus::InvalidArgument);
/// }
/// rawtask_token_free(handle);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_token_is_cancelled(
    token: RawtaskToken,
    out: *mut bool,
) -> RawtaskStatus {
    const F: &str = "rawtask_token_is_cancelled";
    guard(|| {
        if out.is_null() {
            return Err(Failure::null(F, "out"));
        }
        let cancelled = TOKENS.checkout(F, token.id)?.token.cancelled();
        // SAFETY: checked for null; the caller passes a writable `bool`.
        unsafe { out.write(cancelled) };
        Ok(RawtaskStatus::Ok)
    })
}

/// A C callback and its context, called exactly once: by [`CallOnce::call`], or with
/// `cancelled = false` when dropped uncalled (its registration was dropped).
struct CallOnce {
    callback: RawtaskCancelFn,
    context: *mut c_void,
}

// SAFETY: `rawtask_token_on_cancel`'s contract: the callback may be called on any thread with
// its context.
unsafe impl Send for CallOnce {}

impl CallOnce {
    fn call(self, cancelled: bool) {
        let this = ManuallyDrop::new(self);
        // SAFETY: the registrant's contract: callable once, from any thread, with `context`.
        unsafe { (this.callback)(this.context, cancelled) }
    }
}

impl Drop for CallOnce {
    fn drop(&mut self) {
        // SAFETY: as in `call`; `call` forgets `self`, so this is the only call.
        unsafe { (self.callback)(self.context, false) }
    }
}

/// Registers `callback` to be called exactly once with `context`:
///
/// - with `cancelled = true` when the token is cancelled (by any handle or Rust clone of it,
///   or through an ancestor), on the thread that cancels it, before that cancel returns; or
///   right away, on this thread, before this function returns, if it already is;
/// - with `cancelled = false` when `token` (this handle) is freed before the token is
///   cancelled, on the thread that frees it, before `rawtask_token_free` returns.
///
/// So C can always release `context` in the callback. Several callbacks may be registered on
/// one token; they run in no particular order. No lock is held while a callback runs: it may
/// call any rawtask function, on its own token too (free it, register another callback). The
/// callback must be safe to call from any thread and must not unwind out of the call.
///
/// Returns `OK` (the callback will be called exactly once), or `INVALID_ARGUMENT` (null
/// `token` or `callback`), `INVALID_HANDLE`, `BUSY` or `NO_MEMORY` (the registration could
/// not be allocated): then the callback is never called, and `context` stays the caller's.
///
/// # Safety
/// `callback` must be safe to call once with `context`, from any thread.
///
/// ```
/// use rawtask::capi::*;
/// use std::ffi::c_void;
///
/// unsafe extern "C" fn count(context: *mut c_void, cancelled: bool) {
///     let counts = unsafe { &mut *context.cast::<[u32; 2]>() };
///     counts[usize::from(cancelled)] += 1;
/// }
///
/// let mut counts = [0u32; 2]; // [not cancelled, cancelled]
/// let context = (&raw mut counts).cast::<c_void>();
/// let a = RawtaskToken::new(rawtask::CancellationToken::new());
/// let b = RawtaskToken::new(rawtask::CancellationToken::new());
/// unsafe {
///     assert_eq!(rawtask_token_on_cancel(a, Some(count), context), RawtaskStatus::Ok);
///     assert_eq!(rawtask_token_on_cancel(b, Some(count), context), RawtaskStatus::Ok);
///     assert_eq!(rawtask_token_on_cancel(a, None, context), RawtaskStatus::InvalidArgument);
/// }
/// rawtask_token_cancel(a); // a's callback: cancelled
/// rawtask_token_free(a);
/// rawtask_token_free(b); // b's callback: not cancelled
/// assert_eq!(counts, [1, 1]);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_token_on_cancel(
    token: RawtaskToken,
    // A `RawtaskCancelFn` or null, spelled out for cbindgen.
    callback: Option<unsafe extern "C" fn(context: *mut c_void, cancelled: bool)>,
    context: *mut c_void,
) -> RawtaskStatus {
    const F: &str = "rawtask_token_on_cancel";
    guard(|| {
        let Some(callback) = callback else {
            return Err(Failure::null(F, "callback"));
        };
        let mut checkout = TOKENS.checkout(F, token.id)?;
        // Room for the registration first: once registered, it can no longer be refused.
        if checkout.callbacks.try_reserve(1).is_err() {
            let wanted = checkout.callbacks.len() + 1;
            let layout = core::alloc::Layout::array::<OnCancel>(wanted)
                .unwrap_or(core::alloc::Layout::new::<OnCancel>());
            return Err(TryAllocError::new("a token handle's list of callbacks", layout).into());
        }
        let once = CallOnce { callback, context };
        match checkout.token.register(move || once.call(true), true) {
            Ok(registration) => {
                if checkout.token.cancelled() {
                    // Every registration has run or is running: forget them (this drops
                    // only token clones, not callbacks).
                    checkout.callbacks.clear();
                }
                checkout.callbacks.push(registration);
            }
            Err(Refused::Cancelled(call_now)) => {
                // Already cancelled: call it with the handle checked in.
                checkout.callbacks.clear();
                drop(checkout);
                call_now();
            }
            Err(Refused::NoMemory(never, error)) => {
                // Not registered: the callback must not be called, not even by its drop
                // (forgetting it leaks nothing: it holds a function and a pointer).
                core::mem::forget(never);
                return Err(error.into());
            }
        }
        Ok(RawtaskStatus::Ok)
    })
}

/// Frees the handle. The token is not cancelled (other handles and Rust clones of it go on);
/// every callback registered through this handle that has not been called yet is called now,
/// on this thread, with `cancelled = false`, before this returns. The handle is invalid
/// afterwards.
///
/// Returns `OK`, `INVALID_ARGUMENT` (null `token`) or `INVALID_HANDLE` (already freed: a
/// detected double free, or never issued). If another thread is using the handle at this
/// instant, the free happens when that call returns (and this returns `OK`).
///
/// ```
/// use rawtask::capi::*;
/// let handle = RawtaskToken::new(rawtask::CancellationToken::new());
/// assert_eq!(rawtask_token_free(handle), RawtaskStatus::Ok);
/// assert_eq!(rawtask_token_free(handle), RawtaskStatus::InvalidHandle);
/// assert_eq!(rawtask_token_free(RawtaskToken::NULL), RawtaskStatus::InvalidArgument);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_token_free(token: RawtaskToken) -> RawtaskStatus {
    guard(|| {
        let held = TOKENS.release("rawtask_token_free", token.id, ())?;
        // Outside the table's lock: unregistering calls the C callbacks.
        drop(held);
        Ok(RawtaskStatus::Ok)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts calls with `cancelled` false and true.
    #[derive(Default)]
    struct Counts {
        calls: [AtomicUsize; 2],
    }

    unsafe extern "C" fn count(context: *mut c_void, cancelled: bool) {
        // SAFETY: every test passes a live `Counts`.
        let counts = unsafe { &*context.cast::<Counts>() };
        counts.calls[usize::from(cancelled)].fetch_add(1, Ordering::SeqCst);
    }

    fn calls(counts: &Counts) -> [usize; 2] {
        [0, 1].map(|i| counts.calls[i].load(Ordering::SeqCst))
    }

    fn ctx(counts: &Counts) -> *mut c_void {
        (counts as *const Counts).cast_mut().cast()
    }

    fn new_handle() -> RawtaskToken {
        let mut out = RawtaskToken::NULL;
        // SAFETY: `out` is writable.
        assert_eq!(unsafe { rawtask_token_new(&mut out) }, RawtaskStatus::Ok);
        out
    }

    #[test]
    fn null_and_stale_handles_and_pointers_are_rejected() {
        let counts = Counts::default();
        let stale = new_handle();
        assert_eq!(rawtask_token_free(stale), RawtaskStatus::Ok);
        let mut out = RawtaskToken::NULL;
        let mut flag = false;
        // SAFETY: every pointer is null or writable.
        unsafe {
            assert_eq!(
                rawtask_token_new(core::ptr::null_mut()),
                RawtaskStatus::InvalidArgument
            );
            for (handle, status) in [
                (RawtaskToken::NULL, RawtaskStatus::InvalidArgument),
                (stale, RawtaskStatus::InvalidHandle),
                (RawtaskToken { id: u64::MAX }, RawtaskStatus::InvalidHandle),
                (
                    RawtaskToken { id: 0x1_0000_0000 },
                    RawtaskStatus::InvalidHandle,
                ),
            ] {
                assert_eq!(rawtask_token_child(handle, &mut out), status);
                assert_eq!(rawtask_token_cancel(handle), status);
                assert_eq!(rawtask_token_is_cancelled(handle, &mut flag), status);
                assert_eq!(
                    rawtask_token_on_cancel(handle, Some(count), ctx(&counts)),
                    status
                );
                assert_eq!(rawtask_token_free(handle), status);
                assert_eq!(handle.to_token().unwrap_err().status(), status);
            }
            let live = new_handle();
            assert_eq!(
                rawtask_token_child(live, core::ptr::null_mut()),
                RawtaskStatus::InvalidArgument
            );
            assert_eq!(
                rawtask_token_is_cancelled(live, core::ptr::null_mut()),
                RawtaskStatus::InvalidArgument
            );
            assert_eq!(
                rawtask_token_on_cancel(live, None, ctx(&counts)),
                RawtaskStatus::InvalidArgument
            );
            assert_eq!(rawtask_token_free(live), RawtaskStatus::Ok);
        }
        assert_eq!(calls(&counts), [0, 0], "a failed registration never calls");
        assert!(out.is_null());
    }

    #[test]
    fn every_callback_runs_exactly_once() {
        let counts = Counts::default();
        let root = new_handle();
        let mut child = RawtaskToken::NULL;
        // SAFETY: pointers writable, `counts` outlives every call (checked below).
        unsafe {
            assert_eq!(rawtask_token_child(root, &mut child), RawtaskStatus::Ok);
            for _ in 0..3 {
                assert_eq!(
                    rawtask_token_on_cancel(child, Some(count), ctx(&counts)),
                    RawtaskStatus::Ok
                );
            }
            assert_eq!(
                rawtask_token_on_cancel(root, Some(count), ctx(&counts)),
                RawtaskStatus::Ok
            );
            assert_eq!(rawtask_token_cancel(root), RawtaskStatus::Ok);
            assert_eq!(calls(&counts), [0, 4]);
            assert_eq!(rawtask_token_cancel(child), RawtaskStatus::Ok);
            // Already cancelled: called at once.
            assert_eq!(
                rawtask_token_on_cancel(child, Some(count), ctx(&counts)),
                RawtaskStatus::Ok
            );
            assert_eq!(calls(&counts), [0, 5]);
            assert_eq!(rawtask_token_free(child), RawtaskStatus::Ok);
            assert_eq!(rawtask_token_free(root), RawtaskStatus::Ok);
        }
        assert_eq!(calls(&counts), [0, 5]);
    }

    #[test]
    fn freeing_the_handle_first_calls_with_not_cancelled() {
        let counts = Counts::default();
        let token = CancellationToken::new();
        let a = RawtaskToken::new(token.clone());
        let b = RawtaskToken::new(token.clone());
        // SAFETY: `counts` outlives every call.
        unsafe {
            assert_eq!(
                rawtask_token_on_cancel(a, Some(count), ctx(&counts)),
                RawtaskStatus::Ok
            );
            assert_eq!(
                rawtask_token_on_cancel(b, Some(count), ctx(&counts)),
                RawtaskStatus::Ok
            );
        }
        assert_eq!(rawtask_token_free(a), RawtaskStatus::Ok);
        assert_eq!(calls(&counts), [1, 0]);
        assert!(!token.cancelled(), "freeing a handle does not cancel");
        token.cancel();
        assert_eq!(calls(&counts), [1, 1]);
        assert_eq!(rawtask_token_free(b), RawtaskStatus::Ok);
        assert_eq!(calls(&counts), [1, 1]);
    }

    /// What the re-entrant callbacks do to their own handle.
    struct Reentrant {
        handle: RawtaskToken,
        counts: Counts,
        statuses: std::sync::Mutex<Vec<RawtaskStatus>>,
    }

    unsafe extern "C" fn free_own_handle(context: *mut c_void, cancelled: bool) {
        // SAFETY: the test passes a live `Reentrant`.
        let this = unsafe { &*context.cast::<Reentrant>() };
        this.counts.calls[usize::from(cancelled)].fetch_add(1, Ordering::SeqCst);
        this.statuses
            .lock()
            .unwrap()
            .push(rawtask_token_free(this.handle));
    }

    unsafe extern "C" fn register_another(context: *mut c_void, cancelled: bool) {
        // SAFETY: the test passes a live `Reentrant`.
        let this = unsafe { &*context.cast::<Reentrant>() };
        this.counts.calls[usize::from(cancelled)].fetch_add(1, Ordering::SeqCst);
        // SAFETY: `count` gets the test's `Counts`, which outlives the test's calls.
        let status =
            unsafe { rawtask_token_on_cancel(this.handle, Some(count), ctx(&this.counts)) };
        this.statuses.lock().unwrap().push(status);
    }

    #[test]
    fn callbacks_may_free_their_own_handle_or_register_more() {
        let this = Reentrant {
            handle: new_handle(),
            counts: Counts::default(),
            statuses: std::sync::Mutex::new(Vec::new()),
        };
        let context = (&this as *const Reentrant).cast_mut().cast();
        // SAFETY: `this` outlives every call.
        unsafe {
            assert_eq!(
                rawtask_token_on_cancel(this.handle, Some(register_another), context),
                RawtaskStatus::Ok
            );
            assert_eq!(
                rawtask_token_on_cancel(this.handle, Some(free_own_handle), context),
                RawtaskStatus::Ok
            );
        }
        assert_eq!(rawtask_token_cancel(this.handle), RawtaskStatus::Ok);
        // register_another ran (true) and its `count` ran at once (true); free_own_handle ran
        // (true) and freed the handle. Order is not specified, so the registration may have
        // come after the free (INVALID_HANDLE, `count` never called) or before it (OK).
        let statuses = this.statuses.lock().unwrap().clone();
        assert_eq!(statuses.len(), 2);
        assert!(statuses.contains(&RawtaskStatus::Ok));
        let expected_true = if statuses.iter().all(|&s| s == RawtaskStatus::Ok) {
            3
        } else {
            2
        };
        assert_eq!(calls(&this.counts), [0, expected_true]);
        assert_eq!(
            rawtask_token_free(this.handle),
            RawtaskStatus::InvalidHandle
        );

        // A callback called at free (not cancelled) that frees its own handle again.
        let this = Reentrant {
            handle: new_handle(),
            counts: Counts::default(),
            statuses: std::sync::Mutex::new(Vec::new()),
        };
        let context = (&this as *const Reentrant).cast_mut().cast();
        // SAFETY: `this` outlives every call.
        unsafe {
            assert_eq!(
                rawtask_token_on_cancel(this.handle, Some(free_own_handle), context),
                RawtaskStatus::Ok
            );
        }
        assert_eq!(rawtask_token_free(this.handle), RawtaskStatus::Ok);
        assert_eq!(calls(&this.counts), [1, 0]);
        assert_eq!(
            *this.statuses.lock().unwrap(),
            [RawtaskStatus::InvalidHandle]
        );
    }

    #[test]
    fn a_panicking_rust_callback_is_reported_and_the_others_still_run() {
        let counts = Counts::default();
        let token = CancellationToken::new();
        let _panics = token.on_cancel(|| panic!("a Rust callback panicked"));
        let handle = RawtaskToken::new(token.clone());
        // SAFETY: `counts` outlives every call.
        unsafe {
            assert_eq!(
                rawtask_token_on_cancel(handle, Some(count), ctx(&counts)),
                RawtaskStatus::Ok
            );
        }
        assert_eq!(rawtask_token_cancel(handle), RawtaskStatus::Panicked);
        let message = crate::capi::take_last_error().unwrap().to_string();
        assert!(message.contains("a Rust callback panicked"), "{message}");
        assert_eq!(calls(&counts), [0, 1]);
        assert!(token.cancelled());
        assert_eq!(rawtask_token_free(handle), RawtaskStatus::Ok);
    }

    #[test]
    fn cancel_from_other_threads_calls_each_callback_once() {
        const THREADS: usize = 4;
        let counts = Arc::new(Counts::default());
        let root = new_handle();
        let children: Vec<RawtaskToken> = (0..THREADS)
            .map(|_| {
                let mut child = RawtaskToken::NULL;
                // SAFETY: `child` is writable; `counts` is kept alive until the end.
                unsafe {
                    assert_eq!(rawtask_token_child(root, &mut child), RawtaskStatus::Ok);
                    assert_eq!(
                        rawtask_token_on_cancel(child, Some(count), ctx(&counts)),
                        RawtaskStatus::Ok
                    );
                }
                child
            })
            .collect();
        std::thread::scope(|s| {
            for &child in &children {
                let counts = &counts;
                s.spawn(move || {
                    // Register while another thread cancels: once either way.
                    // SAFETY: `counts` outlives the scope.
                    unsafe {
                        assert_eq!(
                            rawtask_token_on_cancel(child, Some(count), ctx(counts)),
                            RawtaskStatus::Ok
                        );
                    }
                });
            }
            s.spawn(|| assert_eq!(rawtask_token_cancel(root), RawtaskStatus::Ok));
        });
        assert_eq!(calls(&counts), [0, 2 * THREADS]);
        for child in children {
            assert_eq!(rawtask_token_free(child), RawtaskStatus::Ok);
        }
        assert_eq!(rawtask_token_free(root), RawtaskStatus::Ok);
        assert_eq!(calls(&counts), [0, 2 * THREADS]);
    }
}
