//! The home-thread scheduler ([`crate::home`]) for C event loops: create a home on the loop
//! thread with a notify callback, drain it when notified, free it at the end.
//!
//! Tasks are spawned onto a home by Rust code (the functions a library exports to C), with
//! the schedule function [`home_schedule`] returns. C gets no `RawtaskSchedule` for a home on
//! purpose: that struct holds no reference, and a task could outlive the home it points to;
//! a [`HomeSchedule`] holds the home's shared part alive.
//!
//! A `RawtaskHome *` is checked against a registry of live homes before use, so a null,
//! freed or forged pointer gets a status (`INVALID_ARGUMENT`, `INVALID_HANDLE`) instead of
//! undefined behaviour, and so does a call from a thread that is not the home's.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr;
use std::sync::Mutex;

use super::status::{catching_value, guard, Failure, RawtaskStatus};
use crate::home::{Home, HomeSchedule};

/// A home-thread scheduler, as C sees it (opaque). Made by [`rawtask_home_new`] on the loop
/// thread, used there with [`rawtask_home_drain`], ended there with [`rawtask_home_free`].
pub struct RawtaskHome {
    home: Home<()>,
}

impl core::fmt::Debug for RawtaskHome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawtaskHome")
            .field("home", &self.home)
            .finish()
    }
}

/// The addresses of the live homes (compared, never turned back into pointers). Its lock is
/// held while a C pointer is checked and, for calls off the home thread, while it is used, so
/// `rawtask_home_free` (which removes the entry under the same lock first) cannot free a home
/// under another thread's feet.
static LIVE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<usize>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

std::thread_local! {
    /// The addresses of the live homes made on this thread (their home thread): the fast
    /// check of `rawtask_home_drain`, with no lock.
    static OWNED: core::cell::RefCell<Vec<usize>> = const { core::cell::RefCell::new(Vec::new()) };
}

std::thread_local! {
    /// The live home of this thread that was made or checked last (0 if none): the one-compare
    /// fast path of `owned_here` for a loop that drains one home over and over. A const `Cell`
    /// with no destructor: reading it is a plain thread-local load.
    static LAST_OWNED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Whether `home` is a live home of the current thread (no lock taken).
#[inline]
fn owned_here(home: *const RawtaskHome) -> bool {
    let address = home as usize;
    if address != 0 && LAST_OWNED.with(core::cell::Cell::get) == address {
        return true;
    }
    owned_here_slow(address)
}

/// [`owned_here`] past its one-entry cache: this thread's list.
#[cold]
#[inline(never)]
fn owned_here_slow(address: usize) -> bool {
    let owned = OWNED
        .try_with(|owned| owned.borrow().contains(&address))
        .unwrap_or(false);
    if owned {
        LAST_OWNED.with(|last| last.set(address));
    }
    owned
}

/// Checks that `home` is a live home and runs `f` on it with the registry locked. `f` must
/// run no user code.
fn with_live<R>(
    function: &str,
    home: *const RawtaskHome,
    f: impl FnOnce(&RawtaskHome) -> Result<R, Failure>,
) -> Result<R, Failure> {
    if home.is_null() {
        return Err(Failure::null(function, "home"));
    }
    let registry = live();
    if !registry.contains(&(home as usize)) {
        return Err(not_live(function));
    }
    // SAFETY: the address is registered, so it is a live `RawtaskHome` from `rawtask_home_new`,
    // and it stays live while we hold the lock (`rawtask_home_free` unregisters under it).
    let home = unsafe { &*home };
    let result = f(home);
    drop(registry);
    result
}

/// `INVALID_HANDLE`: `function` got a pointer that is not a live home.
fn not_live(function: &str) -> Failure {
    Failure::new(
        RawtaskStatus::InvalidHandle,
        alloc::format!("{function}: `home` is not a live home (freed, or never made)"),
    )
}

/// Checks `home` as [`with_live`] does, and that the caller is on its thread; returns the
/// reference for use after the lock is released (only the home thread can free it, and that
/// is the caller, which does not while it uses it).
///
/// # Safety
/// The caller does not use the reference after a `rawtask_home_free` of the same home on this
/// thread (further up or down the stack) could have run.
#[inline]
unsafe fn on_home<'a>(
    function: &str,
    home: *const RawtaskHome,
) -> Result<&'a RawtaskHome, Failure> {
    if owned_here(home) {
        // SAFETY: a live home of this thread: only this thread can free it (see the contract).
        return Ok(unsafe { &*home });
    }
    // SAFETY: forwarded.
    unsafe { on_home_slow(function, home) }
}

/// [`on_home`] for a pointer that is not a live home of this thread (or not the last one
/// checked): the registry, under its lock.
///
/// # Safety
/// As for [`on_home`].
#[cold]
#[inline(never)]
unsafe fn on_home_slow<'a>(
    function: &str,
    home: *const RawtaskHome,
) -> Result<&'a RawtaskHome, Failure> {
    with_live(function, home, |h| {
        if h.home.on_home_thread() {
            // SAFETY: see the function's contract.
            Ok(unsafe { &*(h as *const RawtaskHome) })
        } else {
            Err(Failure::invalid_argument(alloc::format!(
                "{function}: called from a thread that is not the home's (the thread that \
                 called rawtask_home_new)"
            )))
        }
    })
}

/// Creates a home-thread scheduler whose home is the calling thread (the event loop's).
///
/// `notify(context)` is called when a task is woken on another thread, or on the loop thread
/// outside `rawtask_home_drain` (a spawn, a timer callback of the loop's own), and no notify
/// is pending (at most one from other threads and one from the loop thread; the next comes
/// after `rawtask_home_drain`, and an extra one costs an empty drain). It runs on
/// the waking thread, inside the wake: it must be thread-safe, must not block and must not call
/// into the home; it should just wake the loop (write to a pipe or an eventfd,
/// `uv_async_send`). `context` must stay valid until `rawtask_home_free` returns.
///
/// Returns NULL, with the last error set (`INVALID_ARGUMENT`), if `notify` is NULL.
///
/// ```
/// use rawtask::capi::*;
/// unsafe extern "C" fn wake_loop(_: *mut std::ffi::c_void) {}
/// let home = rawtask_home_new(Some(wake_loop), std::ptr::null_mut());
/// assert!(!home.is_null());
/// // SAFETY: `home` came from `rawtask_home_new` on this thread.
/// assert_eq!(unsafe { rawtask_home_free(home) }, RawtaskStatus::Ok);
/// assert!(rawtask_home_new(None, std::ptr::null_mut()).is_null());
/// ```
#[no_mangle]
// `context` is never dereferenced here: it is only handed back to the caller's own `notify`,
// under the contract above. (No `reason = ` on the allow: the MSRV, 1.70, lacks it.)
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub extern "C" fn rawtask_home_new(
    notify: Option<unsafe extern "C" fn(context: *mut c_void)>,
    context: *mut c_void,
) -> *mut RawtaskHome {
    catching_value("rawtask_home_new", ptr::null_mut(), || {
        let Some(notify) = notify else {
            Failure::null("rawtask_home_new", "notify").report();
            return ptr::null_mut();
        };
        // SAFETY: this function's contract: `notify(context)` may be called from any thread
        // until `rawtask_home_free` returns, which drops the home.
        let home = unsafe { Home::from_c(notify, context) };
        let home = Box::into_raw(Box::new(RawtaskHome { home }));
        live().push(home as usize);
        OWNED.with(|owned| owned.borrow_mut().push(home as usize));
        LAST_OWNED.with(|last| last.set(home as usize));
        home
    })
}

/// Runs up to `max` queued tasks on the home thread: first those woken on other threads
/// (oldest first), then those woken on the home thread; a task woken while it runs goes to the
/// back. Stores how many ran in `*ran` (if `ran` is not NULL). Clears the pending notify first,
/// so a later wake from another thread notifies again.
///
/// Returns `OK` if nothing is left queued, `PENDING` if runnables remain (`max` was reached, or
/// tasks woke during the drain): call it again soon (re-arm the loop; no notify comes for
/// them). `PANICKED` if a task panicked (the task is cancelled; the rest stay queued).
/// `INVALID_ARGUMENT` for a NULL `home` or a call from another thread, `INVALID_HANDLE` for a
/// freed or unknown `home`, `BUSY` if called from inside a task this drain is running (never
/// do that).
///
/// # Safety
/// `ran` is NULL or writable.
///
/// ```
/// use rawtask::capi::*;
/// unsafe extern "C" fn wake_loop(_: *mut std::ffi::c_void) {}
/// let home = rawtask_home_new(Some(wake_loop), std::ptr::null_mut());
/// let (runnable, task) = rawtask::spawn(async { 3 }, home_schedule(home).unwrap());
/// std::thread::spawn(move || runnable.schedule()).join().unwrap();
/// let mut ran = 0;
/// // SAFETY: `home` is live and ours; `ran` is writable.
/// unsafe {
///     assert_eq!(rawtask_home_drain(home, 8, &mut ran), RawtaskStatus::Ok);
///     assert_eq!(ran, 1);
///     assert_eq!(rawtask_home_free(home), RawtaskStatus::Ok);
/// }
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_home_drain(
    home: *mut RawtaskHome,
    max: usize,
    ran: *mut usize,
) -> RawtaskStatus {
    // Written once, at the end: 0 unless the drain returned (a failure or a panic leaves it 0).
    let mut count = 0;
    let status = guard(|| {
        // SAFETY: only a drain or free further down this stack could free the home, and both
        // are refused while this drain runs.
        let h = unsafe { on_home("rawtask_home_drain", home) }?;
        let drained = h.home.drain(max).map_err(|e| {
            Failure::new(
                RawtaskStatus::Busy,
                alloc::format!("rawtask_home_drain: {e}"),
            )
        })?;
        count = drained.ran;
        Ok(if drained.more {
            RawtaskStatus::Pending
        } else {
            RawtaskStatus::Ok
        })
    });
    if !ran.is_null() {
        // SAFETY: the caller passes NULL or a writable `size_t`.
        unsafe { *ran = count };
    }
    status
}

/// Shuts the home down and frees it, on the home thread: drops every task still queued (which
/// cancels it), here; never calls `notify` again, and waits for a call in progress on another
/// thread to return, so `context` may be freed right after. A task woken later is cancelled by
/// its wake (see the Rust docs of `rawtask::home`).
///
/// Returns `OK`; `INVALID_ARGUMENT` for NULL or a call from another thread, `INVALID_HANDLE`
/// for a freed or unknown home (a double free is detected), `BUSY` if called from inside a
/// task that `rawtask_home_drain` is running (nothing is done).
///
/// # Safety
/// None beyond the checks above: any pointer value is accepted.
///
/// ```
/// use rawtask::capi::*;
/// unsafe extern "C" fn wake_loop(_: *mut std::ffi::c_void) {}
/// let home = rawtask_home_new(Some(wake_loop), std::ptr::null_mut());
/// // SAFETY: any pointer is checked.
/// unsafe {
///     assert_eq!(rawtask_home_free(home), RawtaskStatus::Ok);
///     assert_eq!(rawtask_home_free(home), RawtaskStatus::InvalidHandle);
///     assert_eq!(rawtask_home_free(std::ptr::null_mut()), RawtaskStatus::InvalidArgument);
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_home_free(home: *mut RawtaskHome) -> RawtaskStatus {
    guard(|| {
        if home.is_null() {
            return Err(Failure::null("rawtask_home_free", "home"));
        }
        {
            let mut registry = live();
            let Some(index) = registry.iter().position(|&a| a == home as usize) else {
                return Err(not_live("rawtask_home_free"));
            };
            // SAFETY: registered, so live; the lock keeps it so while we look.
            let h = unsafe { &*home };
            if !h.home.on_home_thread() {
                return Err(Failure::invalid_argument(
                    "rawtask_home_free: called from a thread that is not the home's",
                ));
            }
            if h.home.is_draining() {
                return Err(Failure::new(
                    RawtaskStatus::Busy,
                    "rawtask_home_free: called from inside a task that rawtask_home_drain is \
                     running; free the home after the drain returned",
                ));
            }
            // Unregistered under the lock: from now on no other call can reach it.
            registry.swap_remove(index);
            let _ = OWNED.try_with(|owned| owned.borrow_mut().retain(|&a| a != home as usize));
            LAST_OWNED.with(|last| {
                if last.get() == home as usize {
                    last.set(0);
                }
            });
        }
        // SAFETY: the home was live, is on this thread, is unregistered now, and no drain is
        // running: we own the box. Shutdown runs destructors, so outside the lock.
        drop(unsafe { Box::from_raw(home) });
        Ok(RawtaskStatus::Ok)
    })
}

/// The schedule function that spawns tasks onto the home `home` — for Rust code that exports
/// spawn functions to C and receives a `RawtaskHome *`. Callable from any thread.
///
/// # Errors
/// `INVALID_ARGUMENT` for NULL, `INVALID_HANDLE` for a freed or unknown home.
///
/// ```
/// use rawtask::capi::*;
/// unsafe extern "C" fn wake_loop(_: *mut std::ffi::c_void) {}
/// let home = rawtask_home_new(Some(wake_loop), std::ptr::null_mut());
/// let (runnable, _task) = rawtask::spawn(async {}, home_schedule(home).unwrap());
/// runnable.schedule();
/// // SAFETY: `home` came from `rawtask_home_new` on this thread.
/// unsafe { rawtask_home_free(home) };
/// assert_eq!(home_schedule(home).unwrap_err().status(), RawtaskStatus::InvalidHandle);
/// ```
pub fn home_schedule(home: *const RawtaskHome) -> Result<HomeSchedule<()>, Failure> {
    with_live("home_schedule", home, |h| Ok(h.home.schedule()))
}
