//! Task handles for C: poll for the output, cancel, detach, free.
//!
//! A [`RawtaskTask`] is not a pointer but a 64-bit id into a process-wide table of live
//! handles: a slot index and the slot's generation. Freeing a handle bumps the generation, so a
//! second free, or any use after free, finds a stale id and fails with `INVALID_HANDLE`
//! without touching freed memory (until one slot has been reused 2^32 times). A handle is
//! "checked out" of the table while a call uses it, so a concurrent free on another thread
//! (or from a schedule callback further up the stack) is deferred to the end of that call
//! instead of pulling the task out from under it.
//!
//! The table ([`HandleTable`]) is not part of the task protocol and is not loom-modelled: it is
//! a set of ordinary mutex-protected slabs, sharded per thread, and no user code runs while a
//! lock is held.

use alloc::boxed::Box;
use alloc::format;
use core::any::Any;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::{size_of, ManuallyDrop};
use core::ptr::NonNull;
use core::task::Poll;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::handle_table::HandleTable;
use super::status::{guard, panic_message, Failure, RawtaskStatus};
use super::{update_last_error, Error, IntoC};
use crate::callback_task::call_when_finished;
use crate::panic::drop_payload;
use crate::raw::header::prefix;
use crate::raw::watcher::Watcher;
use crate::task::Task;

/// A handle to a task's output, for C: a 64-bit id, `{0}` being the null handle.
///
/// C polls it with [`rawtask_task_poll`] until the task finishes, and must end it with exactly
/// one of [`rawtask_task_free`] (which cancels the task if it has not finished) and
/// [`rawtask_task_detach`] (which lets it run to completion and drops the output). Every use
/// after that, and a second free, fails with `INVALID_HANDLE`.
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, task) = rawtask::spawn(async { 5u64 }, |_| {});
/// let handle = RawtaskTask::new(task);
/// runnable.run();
/// let mut out = 0u64;
/// unsafe {
///     assert_eq!(rawtask_task_poll(handle, (&raw mut out).cast(), 8), RawtaskStatus::Ready);
///     assert_eq!(out, 5);
///     assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
///     assert_eq!(rawtask_task_free(handle), RawtaskStatus::InvalidHandle); // detected
/// }
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawtaskTask {
    /// The slot's generation in the high 32 bits, the slot index plus one in the low 32 bits;
    /// 0 is the null handle.
    pub id: u64,
}

impl RawtaskTask {
    /// The null handle (`{0}`), which every function rejects with `INVALID_ARGUMENT`.
    ///
    /// ```
    /// assert!(rawtask::capi::RawtaskTask::NULL.is_null());
    /// ```
    pub const NULL: RawtaskTask = RawtaskTask { id: 0 };

    /// Puts a task into the handle table and returns its handle for C.
    ///
    /// The output crosses to C through [`IntoC`] when C polls the handle: numbers and
    /// `repr(C)` structs as they are, strings and byte vectors as a
    /// [`RawtaskBuffer`](super::RawtaskBuffer), a `Result`'s error as the status `FAILED`.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1u8 }, |_| {});
    /// let handle = rawtask::capi::RawtaskTask::new(task);
    /// assert!(!handle.is_null());
    /// drop(runnable);
    /// assert_eq!(rawtask::capi::rawtask_task_free(handle), rawtask::capi::RawtaskStatus::Ok);
    /// ```
    pub fn new<T, M>(task: Task<T, M>) -> RawtaskTask
    where
        T: IntoC,
        M: Send + Sync + 'static,
    {
        let ptr = NonNull::new(task.into_raw()).expect("task pointers are never null");
        RawtaskTask {
            id: TABLE.insert(Held {
                ptr,
                ops: &Ops::<T, M>::OPS,
                finished: None,
                on_complete: false,
            }),
        }
    }

    /// Whether this is the null handle.
    ///
    /// ```
    /// assert!(!rawtask::capi::RawtaskTask { id: 7 }.is_null());
    /// ```
    pub fn is_null(self) -> bool {
        self.id == 0
    }
}

// ----- type-erased operations on a `Task<T, M>` -----

/// What polling a task did.
enum Polled {
    Pending,
    /// The output was written to the out-parameter.
    Ready,
    Cancelled,
    /// The output's conversion for C failed (a Rust `Err`): nothing was written.
    Failed(Error),
    Panicked(Box<dyn Any + Send>),
}

/// The operations on one `Task<T, M>` type, reached through a task pointer.
struct TaskOps {
    output_size: usize,
    /// Polls once with a no-op waker; on `Ready` writes the output to the (possibly unaligned)
    /// buffer, which the caller checked holds `output_size` bytes.
    poll: unsafe fn(NonNull<()>, *mut u8) -> Polled,
    /// Cancels without giving up the handle.
    cancel: unsafe fn(NonNull<()>),
    /// Gives up the handle: detaches the task (`Task::detach`).
    detach: unsafe fn(NonNull<()>),
    /// Gives up the handle: drops the `Task`, cancelling the task.
    free: unsafe fn(NonNull<()>),
    /// A watcher of the task, for a completion callback (the handle never registers a waker:
    /// `poll` uses `try_take`).
    watcher: unsafe fn(NonNull<()>) -> Watcher,
}

struct Ops<T, M>(PhantomData<fn() -> (T, M)>);

impl<T: IntoC, M: Send + Sync + 'static> Ops<T, M> {
    const OPS: TaskOps = TaskOps {
        output_size: size_of::<T::C>(),
        poll: Self::poll,
        cancel: Self::cancel,
        detach: Self::detach,
        free: Self::free,
        watcher: Self::watcher,
    };

    /// Borrows the `Task` that the table owns through `ptr`.
    ///
    /// # Safety
    /// `ptr` comes from `Task::<T, M>::into_raw` and the caller has it checked out.
    unsafe fn task(ptr: NonNull<()>) -> ManuallyDrop<Task<T, M>> {
        // SAFETY: forwarded from the caller; `ManuallyDrop` keeps the table's ownership.
        ManuallyDrop::new(unsafe { Task::from_raw(ptr.as_ptr()) })
    }

    unsafe fn poll(ptr: NonNull<()>, out: *mut u8) -> Polled {
        // SAFETY: the caller checked the handle out.
        let mut task = unsafe { Self::task(ptr) };
        // `try_take` registers no waker: a completion callback's watcher may own the awaiter
        // slot (rule 13). A propagated panic is re-raised after the payload was taken out.
        let taken = catch_unwind(AssertUnwindSafe(|| match task.try_take() {
            Poll::Ready(Some(output)) => Poll::Ready(Some(output.into_c())),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }));
        match taken {
            Ok(Poll::Pending) => Polled::Pending,
            Ok(Poll::Ready(Some(Ok(output)))) => {
                // SAFETY: the caller checked that `out` holds `size_of::<T::C>()` writable
                // bytes (or that it is zero-sized); `T::C: Copy`, so C owns a plain copy.
                unsafe { out.cast::<T::C>().write_unaligned(output) };
                Polled::Ready
            }
            Ok(Poll::Ready(Some(Err(error)))) => Polled::Failed(error),
            Ok(Poll::Ready(None)) => Polled::Cancelled,
            Err(payload) => Polled::Panicked(payload),
        }
    }

    unsafe fn cancel(ptr: NonNull<()>) {
        // SAFETY: the caller checked the handle out.
        unsafe { Self::task(ptr) }.set_canceled();
    }

    unsafe fn detach(ptr: NonNull<()>) {
        // SAFETY: the caller removed the handle from the table and owns the `Task`.
        ManuallyDrop::into_inner(unsafe { Self::task(ptr) }).detach();
    }

    unsafe fn free(ptr: NonNull<()>) {
        // SAFETY: the caller removed the handle from the table and owns the `Task`.
        drop(ManuallyDrop::into_inner(unsafe { Self::task(ptr) }));
    }

    unsafe fn watcher(ptr: NonNull<()>) -> Watcher {
        // SAFETY: the caller checked the handle out.
        unsafe { Self::task(ptr) }.watcher()
    }
}

// ----- the handle table -----

/// How a finished task answers further polls.
#[derive(Clone, Copy)]
enum Finished {
    /// `READY` or `PANICKED` was returned: the output is gone.
    Taken,
    /// `CANCELLED` was returned, and will be again.
    Cancelled,
}

/// A live handle's task.
#[derive(Clone, Copy)]
struct Held {
    /// Owns the `Task` (its TASK bit).
    ptr: NonNull<()>,
    ops: &'static TaskOps,
    finished: Option<Finished>,
    /// A completion callback was registered (at most one per handle).
    on_complete: bool,
}

// SAFETY: `RawtaskTask::new` only accepts `Task<T, M>`s that are `Send` (`T: Send`,
// `M: Send + Sync`), and the table hands each out to one caller at a time.
unsafe impl Send for Held {}

/// What to do with a checked-out handle's task when the call using it ends.
#[derive(Clone, Copy)]
enum Release {
    Free,
    Detach,
}

/// The table of live task handles.
static TABLE: HandleTable<Held, Release> = HandleTable::new("task", perform_deferred);

/// Performs a free or detach deferred to the end of a call that had the handle checked out.
fn perform_deferred(held: Held, release: Release) {
    // The status of a deferred release has nobody to go to; a panic is reported as the last
    // error.
    let _ = perform(release, held);
}

/// Frees or detaches a task that was just removed from the table.
fn perform(release: Release, held: Held) -> RawtaskStatus {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the handle is gone from the table, so we own the `Task` behind `ptr`.
        unsafe {
            match release {
                Release::Free => (held.ops.free)(held.ptr),
                Release::Detach => (held.ops.detach)(held.ptr),
            }
        }
    }));
    match result {
        Ok(()) => RawtaskStatus::Ok,
        Err(payload) => {
            super::status::panicked("freeing a task: the schedule function panicked", payload)
        }
    }
}

// ----- the C functions -----

/// Polls a task for its output without blocking.
///
/// `out` must point to `out_size` writable bytes, and `out_size` must equal the size of the
/// task's output type (see [`rawtask_task_output_size`]); `out` may be null if that size is 0.
/// No alignment is required. Returns:
///
/// - `PENDING`: not finished yet. Poll again later (after its runnable ran, typically).
/// - `READY`: finished; the output was copied into `out`. The handle stays live: free it.
/// - `CANCELLED`: cancelled, and the future has been dropped. Polling again says the same.
/// - `PANICKED`: the future panicked (task spawned with `propagate_panic(true)`); the message
///   is in the last error.
/// - `OUTPUT_TAKEN`: an earlier poll returned `READY` or `PANICKED`.
/// - `INVALID_ARGUMENT` (null handle, null `out`, wrong `out_size`), `INVALID_HANDLE` (freed,
///   detached, never issued), `BUSY` (in use by another call): nothing was done.
///
/// # Safety
/// `out` must be null or valid for writes of `out_size` bytes.
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, task) = rawtask::spawn(async { [1u16, 2, 3] }, |_| {});
/// let handle = RawtaskTask::new(task);
/// let mut out = [0u16; 3];
/// unsafe {
///     assert_eq!(rawtask_task_poll(handle, out.as_mut_ptr().cast(), 6), RawtaskStatus::Pending);
///     assert_eq!(rawtask_task_poll(handle, out.as_mut_ptr().cast(), 4), RawtaskStatus::InvalidArgument);
///     runnable.run();
///     assert_eq!(rawtask_task_poll(handle, out.as_mut_ptr().cast(), 6), RawtaskStatus::Ready);
///     assert_eq!(out, [1, 2, 3]);
///     assert_eq!(rawtask_task_poll(handle, out.as_mut_ptr().cast(), 6), RawtaskStatus::OutputTaken);
///     rawtask_task_free(handle);
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_task_poll(
    task: RawtaskTask,
    out: *mut c_void,
    out_size: usize,
) -> RawtaskStatus {
    const F: &str = "rawtask_task_poll";
    guard(|| {
        let mut checkout = TABLE.checkout(F, task.id)?;
        let held = &mut *checkout;
        match held.finished {
            Some(Finished::Taken) => {
                return Err(Failure::new(
                    RawtaskStatus::OutputTaken,
                    format!("{F}: the output was already taken by an earlier poll"),
                ))
            }
            Some(Finished::Cancelled) => {
                update_last_error(Error::msg(format!("{F}: the task was cancelled")));
                return Ok(RawtaskStatus::Cancelled);
            }
            None => {}
        }
        let expected = held.ops.output_size;
        if out_size != expected {
            return Err(Failure::invalid_argument(format!(
                "{F}: `out_size` is {out_size} but the task's output takes {expected} bytes"
            )));
        }
        if out.is_null() && expected != 0 {
            return Err(Failure::null(F, "out"));
        }
        // SAFETY: the handle is checked out, and `out` holds `output_size` bytes.
        match unsafe { (held.ops.poll)(held.ptr, out.cast()) } {
            Polled::Pending => Ok(RawtaskStatus::Pending),
            Polled::Ready => {
                held.finished = Some(Finished::Taken);
                Ok(RawtaskStatus::Ready)
            }
            Polled::Cancelled => {
                held.finished = Some(Finished::Cancelled);
                update_last_error(Error::msg(format!("{F}: the task was cancelled")));
                Ok(RawtaskStatus::Cancelled)
            }
            Polled::Failed(error) => {
                held.finished = Some(Finished::Taken);
                update_last_error(error);
                Ok(RawtaskStatus::Failed)
            }
            Polled::Panicked(payload) => {
                held.finished = Some(Finished::Taken);
                let message = panic_message(&*payload);
                drop_payload(payload);
                update_last_error(Error::msg(format!(
                    "{F}: the task's future panicked: {message}"
                )));
                Ok(RawtaskStatus::Panicked)
            }
        }
    })
}

/// Cancels the task but keeps the handle: if the task has not finished, its future will be
/// dropped by the executor (an idle task is handed to its schedule function one last time for
/// that, on this thread, before this returns). Poll the handle to learn when: it returns
/// `PENDING` until the future is dropped, then `CANCELLED` — or `READY` if the task had
/// finished before the cancel. Free the handle afterwards.
///
/// Returns `OK`, `INVALID_ARGUMENT`, `INVALID_HANDLE`, `BUSY`, or `PANICKED` if a Rust
/// schedule function panicked.
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, task) = rawtask::spawn(std::future::pending::<u8>(), |_| {});
/// let handle = RawtaskTask::new(task);
/// let mut out = 0u8;
/// unsafe {
///     assert_eq!(rawtask_task_cancel(handle), RawtaskStatus::Ok);
///     // The runnable still holds the future:
///     assert_eq!(rawtask_task_poll(handle, (&raw mut out).cast(), 1), RawtaskStatus::Pending);
///     runnable.run(); // drops the future instead of polling it
///     assert_eq!(rawtask_task_poll(handle, (&raw mut out).cast(), 1), RawtaskStatus::Cancelled);
///     rawtask_task_free(handle);
/// }
/// ```
#[no_mangle]
pub extern "C" fn rawtask_task_cancel(task: RawtaskTask) -> RawtaskStatus {
    guard(|| {
        let checkout = TABLE.checkout("rawtask_task_cancel", task.id)?;
        // SAFETY: the handle is checked out.
        unsafe { (checkout.ops.cancel)(checkout.ptr) };
        Ok(RawtaskStatus::Ok)
    })
}

/// The C function [`rawtask_task_on_complete`] calls when a task finishes: `context` is the
/// pointer registered with it, `task` the handle it was registered on (poll it for the
/// outcome; after a free or detach the handle is stale and polling it says `INVALID_HANDLE`).
/// It must not unwind, and should be short: it runs inside the executor's loop.
pub type RawtaskCompleteFn = unsafe extern "C" fn(context: *mut c_void, task: RawtaskTask);

/// The callback and context of a completion, sent to the thread that finishes the task.
struct Completion {
    callback: RawtaskCompleteFn,
    context: *mut c_void,
    task: RawtaskTask,
}

// SAFETY: registering a completion promises that the callback may be called from any thread
// with its context (the header says so).
unsafe impl Send for Completion {}

impl Completion {
    fn call(self) {
        // SAFETY: the registrant promised that the callback may be called once, from any
        // thread, with this context.
        unsafe { (self.callback)(self.context, self.task) }
    }
}

/// Registers a callback that rawtask calls exactly once, when the task finishes: completes,
/// panics, or is cancelled and its future dropped. This is how a foreign event loop waits for a
/// task without polling: the callback resolves the loop's own promise or future, and the
/// loop then polls the handle once with [`rawtask_task_poll`] (which returns `READY`,
/// `CANCELLED` or `PANICKED` from then on).
///
/// The callback runs on the thread that finishes the task (inside `rawtask_runnable_run`,
/// or wherever the runnable of a cancelled task is dropped), or on this thread before this
/// function returns if the task has already finished. It may poll, free or detach the handle.
/// It runs exactly once even if the handle is freed or detached first: after a free it runs
/// when the cancelled task's future is dropped (right away if the task was idle), after a
/// detach when the task finishes; its `task` argument is then stale. So the callback is always
/// the place to release `context`.
///
/// Returns `OK`; `INVALID_ARGUMENT` (null handle or callback), `INVALID_HANDLE`, `BUSY`, or
/// `ALREADY_REGISTERED` if the handle has a callback already (the new one is never called).
///
/// # Safety
/// `callback` must be safe to call once from any thread with `context` and a task handle, and
/// `context` must stay valid until it is called.
///
/// ```
/// use rawtask::capi::*;
/// use std::ffi::c_void;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// unsafe extern "C" fn done(context: *mut c_void, task: RawtaskTask) {
///     // SAFETY: the context is the `AtomicU64` below, which outlives the task.
///     let slot = unsafe { &*context.cast::<AtomicU64>() };
///     let mut out = 0u32;
///     // SAFETY: `out` is a writable u32, the task's output type.
///     let status = unsafe { rawtask_task_poll(task, (&raw mut out).cast(), 4) };
///     assert_eq!(status, RawtaskStatus::Ready);
///     slot.store(u64::from(out), Ordering::Release);
/// }
///
/// let result = AtomicU64::new(0);
/// let (runnable, task) = rawtask::spawn(async { 7u32 }, |_| {});
/// let handle = RawtaskTask::new(task);
/// let context = (&raw const result).cast_mut().cast();
/// unsafe {
///     assert_eq!(rawtask_task_on_complete(handle, Some(done), context), RawtaskStatus::Ok);
///     assert_eq!(rawtask_task_on_complete(handle, Some(done), context), RawtaskStatus::AlreadyRegistered);
/// }
/// assert_eq!(result.load(Ordering::Acquire), 0);
/// runnable.run(); // completes the task: `done` runs here and takes the output
/// assert_eq!(result.load(Ordering::Acquire), 7);
/// assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_task_on_complete(
    task: RawtaskTask,
    // A `RawtaskCompleteFn`, spelled out for cbindgen.
    callback: Option<unsafe extern "C" fn(context: *mut c_void, task: RawtaskTask)>,
    context: *mut c_void,
) -> RawtaskStatus {
    const F: &str = "rawtask_task_on_complete";
    guard(|| {
        let callback = callback.ok_or_else(|| Failure::null(F, "callback"))?;
        let watcher = {
            let mut checkout = TABLE.checkout(F, task.id)?;
            if checkout.on_complete {
                return Err(Failure::new(
                    RawtaskStatus::AlreadyRegistered,
                    format!(
                        "{F}: task handle {:#x} already has a completion callback",
                        task.id
                    ),
                ));
            }
            checkout.on_complete = true;
            // SAFETY: the handle is checked out; the handle never registers a waker, so the
            // watcher is the awaiter's only registrar.
            unsafe { (checkout.ops.watcher)(checkout.ptr) }
            // The checkout ends here: the callback may run on this thread below, and may use
            // the handle.
        };
        let completion = Completion {
            callback,
            context,
            task,
        };
        call_when_finished(watcher, move || completion.call());
        Ok(RawtaskStatus::Ok)
    })
}

/// Gives up the handle and lets the task run to completion in the background; its output is
/// dropped. The handle is invalid afterwards.
///
/// Returns `OK`, `INVALID_ARGUMENT`, `INVALID_HANDLE` (already freed or detached: detected),
/// or `PANICKED` if a Rust schedule function panicked. If another call is using the handle
/// right now, the detach happens when that call returns (and this returns `OK`).
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, task) = rawtask::spawn(async { 1u8 }, |_| {});
/// let handle = RawtaskTask::new(task);
/// assert_eq!(rawtask_task_detach(handle), RawtaskStatus::Ok);
/// assert_eq!(rawtask_task_free(handle), RawtaskStatus::InvalidHandle);
/// runnable.run(); // still runs
/// ```
#[no_mangle]
pub extern "C" fn rawtask_task_detach(task: RawtaskTask) -> RawtaskStatus {
    release("rawtask_task_detach", task, Release::Detach)
}

/// Frees the handle. A task that has not finished is cancelled: its future is dropped by the
/// executor (right away if it is idle: it is handed to its schedule function one last time, on
/// this thread, before this returns; after the current poll if it is running right now). A
/// stored output is dropped. The handle is invalid afterwards.
///
/// Returns `OK`, `INVALID_ARGUMENT`, `INVALID_HANDLE` (already freed or detached: a detected
/// double free), or `PANICKED` if a Rust schedule function panicked. If another call is using
/// the handle right now, the free happens when that call returns (and this returns `OK`).
///
/// ```
/// use rawtask::capi::*;
/// let (_runnable, task) = rawtask::spawn(async { 1u8 }, |_| {});
/// let handle = RawtaskTask::new(task);
/// assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
/// assert_eq!(rawtask_task_free(handle), RawtaskStatus::InvalidHandle);
/// assert_eq!(rawtask_task_free(RawtaskTask::NULL), RawtaskStatus::InvalidArgument);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_task_free(task: RawtaskTask) -> RawtaskStatus {
    release("rawtask_task_free", task, Release::Free)
}

fn release(function: &str, task: RawtaskTask, release: Release) -> RawtaskStatus {
    guard(|| {
        let held = TABLE.release(function, task.id, release)?;
        Ok(match held {
            Some(held) => perform(release, held),
            None => RawtaskStatus::Ok,
        })
    })
}

/// Writes the size in bytes of the task's output type to `size`: the `out_size` that
/// [`rawtask_task_poll`] expects.
///
/// Returns `OK`, `INVALID_ARGUMENT` (null handle or `size`), `INVALID_HANDLE` or `BUSY`.
///
/// # Safety
/// `size` must be null or valid for a write.
///
/// ```
/// use rawtask::capi::*;
/// let (_runnable, task) = rawtask::spawn(async { 1u32 }, |_| {});
/// let handle = RawtaskTask::new(task);
/// let mut size = 0;
/// unsafe {
///     assert_eq!(rawtask_task_output_size(handle, &mut size), RawtaskStatus::Ok);
///     assert_eq!(size, 4);
///     rawtask_task_free(handle);
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_task_output_size(
    task: RawtaskTask,
    size: *mut usize,
) -> RawtaskStatus {
    const F: &str = "rawtask_task_output_size";
    guard(|| {
        if size.is_null() {
            return Err(Failure::null(F, "size"));
        }
        let checkout = TABLE.checkout(F, task.id)?;
        // SAFETY: checked for null; the caller passes a writable `size_t`.
        unsafe { size.write(checkout.ops.output_size) };
        Ok(RawtaskStatus::Ok)
    })
}

/// Writes a pointer to the task's data slot to `data` (the same pointer as
/// `rawtask_runnable_data`), valid while the handle is live.
///
/// Returns `OK`, `INVALID_ARGUMENT` (null handle or `data`), `INVALID_HANDLE` or `BUSY`.
///
/// # Safety
/// `data` must be null or valid for a write.
///
/// ```
/// use rawtask::capi::*;
/// let (_runnable, task) = rawtask::spawn_with(async { 1u32 }, |_| {}, 99u64);
/// let handle = RawtaskTask::new(task);
/// let mut data = std::ptr::null_mut();
/// unsafe {
///     assert_eq!(rawtask_task_data(handle, &mut data), RawtaskStatus::Ok);
///     assert_eq!(*data.cast::<u64>(), 99);
///     rawtask_task_free(handle);
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_task_data(
    task: RawtaskTask,
    data: *mut *mut c_void,
) -> RawtaskStatus {
    const F: &str = "rawtask_task_data";
    guard(|| {
        if data.is_null() {
            return Err(Failure::null(F, "data"));
        }
        let checkout = TABLE.checkout(F, task.id)?;
        let ptr = checkout.ptr;
        // SAFETY: the handle keeps the task alive; the vtable gives the slot's offset inside
        // the allocation; `data` was checked for null and the caller passes a writable
        // `void *`.
        unsafe {
            let offset = prefix(ptr).vtable.data_offset;
            data.write(ptr.as_ptr().cast::<u8>().add(offset).cast());
        }
        Ok(RawtaskStatus::Ok)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn_ready(value: u32) -> (crate::Runnable, RawtaskTask) {
        let (runnable, task) = crate::spawn(async move { value }, |_| {});
        (runnable, RawtaskTask::new(task))
    }

    #[test]
    fn stale_ids_are_rejected_after_the_slot_is_reused() {
        let (r1, a) = spawn_ready(1);
        drop(r1);
        assert_eq!(rawtask_task_free(a), RawtaskStatus::Ok);
        let (r2, b) = spawn_ready(2);
        // The slot may be reused, but never with the same id.
        assert_ne!(a, b);
        let mut out = 0u32;
        // SAFETY: `out` is a writable u32.
        unsafe {
            assert_eq!(
                rawtask_task_poll(a, (&raw mut out).cast(), 4),
                RawtaskStatus::InvalidHandle
            );
            r2.run();
            assert_eq!(
                rawtask_task_poll(b, (&raw mut out).cast(), 4),
                RawtaskStatus::Ready
            );
            assert_eq!(out, 2);
            assert_eq!(rawtask_task_free(b), RawtaskStatus::Ok);
            assert_eq!(rawtask_task_detach(b), RawtaskStatus::InvalidHandle);
        }
    }

    #[test]
    fn forged_ids_are_rejected() {
        // Tests share the global table and run in parallel, so every id here must be one that no
        // live handle can have: an index part of zero, or an index far past the
        // table's end. (A small id such as 1 is a real handle while another test holds slot 0.)
        for id in [u64::MAX, 0xFFFF_FFFF_0000_0000, 0x1_0000_0000, 0x7FFF_FFFF] {
            let status = rawtask_task_free(RawtaskTask { id });
            assert_eq!(status, RawtaskStatus::InvalidHandle, "id {id:#x}");
        }
    }

    #[test]
    fn a_free_during_a_checkout_is_deferred() {
        let (runnable, task) = spawn_ready(3);
        let checkout = TABLE.checkout("test", task.id).unwrap();
        assert_eq!(rawtask_task_cancel(task), RawtaskStatus::Busy);
        assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
        assert_eq!(rawtask_task_free(task), RawtaskStatus::InvalidHandle);
        drop(checkout); // performs the free: the task is cancelled
        drop(runnable);
    }
}
