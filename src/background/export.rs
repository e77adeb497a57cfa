//! [`export_task!`](crate::export_task): the `extern "C"` functions for one
//! [`Task`](super::Task) type.

use core::ffi::c_int;

/// [`try_poll`](crate::export_task)'s status: the job finished and `*result` holds its output.
///
/// ```
/// assert_eq!(rawtask::background::RAWTASK_BACKGROUND_READY, 0);
/// ```
pub const RAWTASK_BACKGROUND_READY: c_int = 0;

/// [`try_poll`](crate::export_task)'s status: the job is still running; `*result` is null.
///
/// ```
/// assert_eq!(rawtask::background::RAWTASK_BACKGROUND_PENDING, 1);
/// ```
pub const RAWTASK_BACKGROUND_PENDING: c_int = 1;

/// [`try_poll`](crate::export_task)'s status: the job failed, its result was already taken, or
/// an argument was null; the last error says which, and `*result` is null.
///
/// ```
/// assert_eq!(rawtask::background::RAWTASK_BACKGROUND_ERROR, -1);
/// ```
pub const RAWTASK_BACKGROUND_ERROR: c_int = -1;

/// Generates the `extern "C"` functions that spawn and manage a [`Task`](crate::background::Task)
/// type from C, as ffi_helpers 0.3's macro of the same name does.
///
/// List the functions you want, in any order, each with the name it should have in C:
///
/// | key | C signature (`H` is the handle, `O` the task's `Output`) | what it does |
/// |---|---|---|
/// | `spawn` | `H *spawn(const Task *task)` | clones `*task` and starts it on the blocking pool |
/// | `poll` | `O *poll(H *handle)` | the boxed output once the job is done; `NULL` while it runs **or** on error |
/// | `wait` | `O *wait(H *handle)` | blocks until done, **frees the handle**, returns the boxed output or `NULL` on error |
/// | `cancel` | `void cancel(H *handle)` | asks the job to stop (cancels its token) |
/// | `cancelled` | `int cancelled(H *handle)` | 1 if `cancel` was called, 0 if not; 0 (and an error) for a null handle |
/// | `handle_destroy` | `void handle_destroy(H *handle)` | frees the handle, cancelling the job; `NULL` only sets the last error |
/// | `result_destroy` | `void result_destroy(O *result)` | frees an output; `NULL` only sets the last error |
/// | `try_spawn` (optional extra) | `RawtaskStatus try_spawn(const Task *task, H **handle)` | as `spawn`, but writes the handle to `*handle` and returns a status: `RAWTASK_STATUS_OK`, `INVALID_ARGUMENT` (a null argument), `NO_MEMORY` (the job's memory could not be allocated) or `PANICKED` (`Clone` panicked); `*handle` is null on failure |
/// | `try_poll` (optional extra) | `int try_poll(H *handle, O **result)` | [`RAWTASK_BACKGROUND_READY`] (0, `*result` set), [`RAWTASK_BACKGROUND_PENDING`] (1) or [`RAWTASK_BACKGROUND_ERROR`] (-1, last error set) |
///
/// A null argument is handled as ffi_helpers' `null_pointer_check!` handles it: the function
/// stores a [`NullPointer`](crate::background::NullPointer) error as the last error and returns
/// ffi_helpers' "null" value — null for a pointer, 0 for `cancelled`, nothing for the `void`
/// functions (so `handle_destroy(NULL)` and `result_destroy(NULL)` replace the last error) —
/// and -1 for `try_poll`, which ffi_helpers does not have.
///
/// Spawning never aborts the process when memory runs out: `spawn` returns null and
/// `try_spawn` returns `RAWTASK_STATUS_NO_MEMORY`, with a [`TrySpawnError`](crate::TrySpawnError)
/// naming the layout as the last error, if the job's task or the handle cannot be allocated.
/// (The job's cancellation token, the pool's queue and threads, boxed outputs and the last
/// error itself still come from aborting allocations.)
///
/// Errors (a failed job, a panic, a null argument, a result already taken) are stored as the
/// thread's last error, read with the functions of [`crate::capi`] (export them from your
/// `cdylib` with [`export_error_handling_functions!`](crate::export_error_handling_functions)).
/// `poll` returns `NULL` both while the job runs and when it failed: clear the last error before
/// calling it, or use `try_poll`, whose status code tells the two apart. No function unwinds
/// into C: a panic (in `run`, in `Clone`, in a destructor) becomes a
/// [`Panicked`](crate::background::Panicked) error.
///
/// Outputs are boxed; a zero-sized output (such as `()`) comes back as a non-null, dangling
/// sentinel pointer that `result_destroy` accepts (and that must not be dereferenced from C).
///
/// Attributes written before `Task:` are put on every generated function.
///
/// # Example
///
/// ffi_helpers' `Spin` example, as it runs with rawtask:
///
/// ```
/// use rawtask::background::{CancellationToken, Error, Task};
/// use rawtask::capi::*;
/// use std::thread;
/// use std::time::Duration;
///
/// #[derive(Debug, Clone, Copy)]
/// pub struct Spin;
///
/// impl Task for Spin {
///     type Output = usize;
///
///     fn run(&self, cancel_tok: &CancellationToken) -> Result<Self::Output, Error> {
///         let mut spins = 0;
///
///         while !cancel_tok.cancelled() {
///             thread::sleep(Duration::from_millis(10));
///             spins += 1;
///         }
///
///         Ok(spins)
///     }
/// }
///
/// rawtask::export_task! {
///     Task: Spin;
///     spawn: spin_spawn;
///     wait: spin_wait;
///     poll: spin_poll;
///     cancel: spin_cancel;
///     cancelled: spin_cancelled;
///     handle_destroy: spin_handle_destroy;
///     result_destroy: spin_result_destroy;
///     try_poll: spin_try_poll;
///     try_spawn: spin_try_spawn;
/// }
///
/// let s = Spin;
///
/// unsafe {
///     let handle = spin_spawn(&s);
///     assert_eq!(spin_cancelled(handle), 0);
///
///     clear_last_error();
///     let ret = spin_poll(handle);
///     assert_eq!(last_error_length(), 0);
///     assert!(ret.is_null(), "The task should still be running");
///
///     let mut out = std::ptr::null_mut();
///     assert_eq!(spin_try_poll(handle, &mut out), rawtask::background::RAWTASK_BACKGROUND_PENDING);
///
///     spin_cancel(handle);
///     let got = spin_wait(handle); // frees the handle
///
///     assert_eq!(last_error_length(), 0);
///     assert!(!got.is_null());
///     let _num_spins: usize = *got;
///     spin_result_destroy(got);
///
///     // `try_spawn` reports failures (`NO_MEMORY` among them) as a status.
///     let mut handle = std::ptr::null_mut();
///     assert_eq!(spin_try_spawn(&s, &mut handle), RawtaskStatus::Ok);
///     spin_cancel(handle);
///     spin_result_destroy(spin_wait(handle));
///     assert_eq!(spin_try_spawn(std::ptr::null(), &mut handle), RawtaskStatus::InvalidArgument);
///     assert!(handle.is_null());
/// }
/// ```
#[macro_export]
macro_rules! export_task {
    ($(#[$attr:meta])* Task: $task:ty; $($rest:tt)*) => {
        $crate::__export_task! { [$(#[$attr])*] [$task] $($rest)* }
    };
}

/// The muncher behind [`export_task!`]: one rule per function key.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_task {
    ([$($attr:tt)*] [$task:ty]) => {};
    ([$($attr:tt)*] [$task:ty] spawn: $name:ident; $($rest:tt)*) => {
        /// Clones `*task` and starts it in the background; returns its handle, or null (with
        /// the last error set) if `task` is null.
        ///
        /// # Safety
        /// `task` must be null or point to a valid task value.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(
            task: *const $task,
        ) -> *mut $crate::background::TaskHandle<<$task as $crate::background::Task>::Output> {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::spawn::<$task>(task) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] try_spawn: $name:ident; $($rest:tt)*) => {
        /// Clones `*task` and starts it in the background, writing its handle to `*handle`.
        /// Returns `RAWTASK_STATUS_OK`, or `INVALID_ARGUMENT`, `NO_MEMORY` or `PANICKED` with
        /// the last error set and `*handle` null.
        ///
        /// # Safety
        /// `task` must be null or point to a valid task value; `handle` must be null or valid
        /// for a pointer write.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(
            task: *const $task,
            handle: *mut *mut $crate::background::TaskHandle<<$task as $crate::background::Task>::Output>,
        ) -> $crate::capi::RawtaskStatus {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::try_spawn::<$task>(task, handle) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] poll: $name:ident; $($rest:tt)*) => {
        /// Returns the boxed output if the job has finished; null while it runs, or (with the
        /// last error set) if it failed or its result was already taken.
        ///
        /// # Safety
        /// `handle` must be null or a live handle from this task type's `spawn`.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(
            handle: *mut $crate::background::TaskHandle<<$task as $crate::background::Task>::Output>,
        ) -> *mut <$task as $crate::background::Task>::Output {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::poll(handle) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] try_poll: $name:ident; $($rest:tt)*) => {
        /// Polls the job: returns 0 and writes the boxed output to `*result` once it has
        /// finished, 1 while it runs, -1 (with the last error set) on failure.
        ///
        /// # Safety
        /// `handle` must be null or a live handle from this task type's `spawn`; `result` must
        /// be null or valid for a pointer write.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(
            handle: *mut $crate::background::TaskHandle<<$task as $crate::background::Task>::Output>,
            result: *mut *mut <$task as $crate::background::Task>::Output,
        ) -> ::core::ffi::c_int {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::try_poll(handle, result) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] wait: $name:ident; $($rest:tt)*) => {
        /// Blocks until the job has finished, frees the handle, and returns the boxed output,
        /// or null (with the last error set) on failure.
        ///
        /// # Safety
        /// `handle` must be null or a live handle from this task type's `spawn`; it is freed.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(
            handle: *mut $crate::background::TaskHandle<<$task as $crate::background::Task>::Output>,
        ) -> *mut <$task as $crate::background::Task>::Output {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::wait(handle) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] cancel: $name:ident; $($rest:tt)*) => {
        /// Asks the job to stop by cancelling its token.
        ///
        /// # Safety
        /// `handle` must be null or a live handle from this task type's `spawn`.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(
            handle: *mut $crate::background::TaskHandle<<$task as $crate::background::Task>::Output>,
        ) {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::cancel(handle) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] cancelled: $name:ident; $($rest:tt)*) => {
        /// 1 if the job was asked to stop, 0 if not; 0 with the last error set for a null
        /// handle (as ffi_helpers).
        ///
        /// # Safety
        /// `handle` must be null or a live handle from this task type's `spawn`.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(
            handle: *mut $crate::background::TaskHandle<<$task as $crate::background::Task>::Output>,
        ) -> ::core::ffi::c_int {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::cancelled(handle) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] handle_destroy: $name:ident; $($rest:tt)*) => {
        /// Frees a handle, cancelling its job; null only sets the last error (as ffi_helpers).
        /// Not after `wait`, which frees the handle itself.
        ///
        /// # Safety
        /// `handle` must be null or a live handle from this task type's `spawn`; it is freed.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(
            handle: *mut $crate::background::TaskHandle<<$task as $crate::background::Task>::Output>,
        ) {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::handle_destroy(handle) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] result_destroy: $name:ident; $($rest:tt)*) => {
        /// Frees an output returned by `poll`, `try_poll` or `wait`; null only sets the last
        /// error (as ffi_helpers).
        ///
        /// # Safety
        /// `result` must be null or an output of this task type not freed yet.
        #[no_mangle]
        #[allow(dead_code)]
        $($attr)*
        pub unsafe extern "C" fn $name(result: *mut <$task as $crate::background::Task>::Output) {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::background::__private::result_destroy(result) }
        }
        $crate::__export_task! { [$($attr)*] [$task] $($rest)* }
    };
    ([$($attr:tt)*] [$task:ty] $key:ident: $name:ident; $($rest:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "export_task!: unknown function `", ::core::stringify!($key),
            "` (expected spawn, try_spawn, poll, try_poll, wait, cancel, cancelled, handle_destroy or result_destroy)"
        ));
    };
}

/// The bodies of the functions [`export_task!`](crate::export_task) generates; not a stable API.
#[doc(hidden)]
pub mod __private {
    use alloc::boxed::Box;
    use core::ffi::c_int;
    use core::ptr::null_mut;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use core::alloc::Layout;

    use super::{RAWTASK_BACKGROUND_ERROR, RAWTASK_BACKGROUND_PENDING, RAWTASK_BACKGROUND_READY};
    use crate::background::{NullPointer, Panicked, Task, TaskHandle};
    use crate::capi::{update_last_error, Failure, RawtaskStatus};
    use crate::TrySpawnError;

    /// Runs `f`; a panic becomes the last error and `on_panic` the result.
    fn guard<R>(on_panic: R, f: impl FnOnce() -> R) -> R {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(payload) => {
                let error = Panicked::from_payload(payload);
                // Storing our own error cannot panic, but stay on the safe side.
                if let Err(payload) = catch_unwind(move || update_last_error(error)) {
                    crate::panic::drop_payload(payload);
                }
                on_panic
            }
        }
    }

    fn boxed<T>(value: T) -> *mut T {
        // A zero-sized `T` is not allocated: the pointer is a dangling, non-null sentinel.
        Box::into_raw(Box::new(value))
    }

    /// `spawn`: the new handle, or null with the last error set (`NO_MEMORY`'s error, a
    /// [`TrySpawnError`], if the job's memory could not be allocated).
    ///
    /// # Safety
    /// `task` must be null or point to a valid `K`.
    pub unsafe fn spawn<K>(task: *const K) -> *mut TaskHandle<K::Output>
    where
        K: Task + 'static,
        K::Output: 'static,
    {
        guard(null_mut(), || {
            // SAFETY: forwarded from the caller.
            match unsafe { spawn_boxed(task) } {
                Ok(handle) => handle,
                Err(failure) => {
                    failure.report();
                    null_mut()
                }
            }
        })
    }

    /// `try_spawn`: writes the new handle to `*handle` (null on failure) and returns `OK`,
    /// `INVALID_ARGUMENT` (a null argument), `NO_MEMORY` or `PANICKED` (in `Clone`), with the
    /// last error set on failure.
    ///
    /// # Safety
    /// `task` must be null or point to a valid `K`; `handle` null or writable.
    pub unsafe fn try_spawn<K>(
        task: *const K,
        handle: *mut *mut TaskHandle<K::Output>,
    ) -> RawtaskStatus
    where
        K: Task + 'static,
        K::Output: 'static,
    {
        guard(RawtaskStatus::Panicked, || {
            if handle.is_null() {
                update_last_error(NullPointer::new("handle"));
                return RawtaskStatus::InvalidArgument;
            }
            // SAFETY: non-null, and writable by the caller's contract.
            unsafe { handle.write(null_mut()) };
            // SAFETY: forwarded from the caller.
            match unsafe { spawn_boxed(task) } {
                Ok(spawned) => {
                    // SAFETY: as above.
                    unsafe { handle.write(spawned) };
                    RawtaskStatus::Ok
                }
                Err(failure) => failure.report(),
            }
        })
    }

    /// Starts a clone of `*task` and returns its boxed handle. Neither the box nor the job's
    /// task is an aborting allocation; the box comes first, so that no job is started for a
    /// handle that could not be returned.
    ///
    /// # Safety
    /// `task` must be null or point to a valid `K`.
    unsafe fn spawn_boxed<K>(task: *const K) -> Result<*mut TaskHandle<K::Output>, Failure>
    where
        K: Task + 'static,
        K::Output: 'static,
    {
        if task.is_null() {
            return Err(Failure::invalid_argument(NullPointer::new("task")));
        }
        let layout = Layout::new::<TaskHandle<K::Output>>();
        // SAFETY: a `TaskHandle` is never zero-sized (it holds a token and a state word).
        let memory = unsafe { alloc::alloc::alloc(layout) }.cast::<TaskHandle<K::Output>>();
        if memory.is_null() {
            return Err(Failure::no_memory(TrySpawnError::new(layout)));
        }
        /// Frees the box's memory unless a handle was written into it.
        struct Unwritten(*mut u8, Layout);
        impl Drop for Unwritten {
            fn drop(&mut self) {
                // SAFETY: allocated above with this layout; nothing was written to it.
                unsafe { alloc::alloc::dealloc(self.0, self.1) }
            }
        }
        let unwritten = Unwritten(memory.cast(), layout);
        // SAFETY: non-null, and valid by the caller's contract. (If `clone` panics,
        // `unwritten` frees the memory.)
        let task = unsafe { (*task).clone() };
        let spawned = TaskHandle::try_spawn(task)?;
        core::mem::forget(unwritten);
        // SAFETY: fresh memory with the layout of a `TaskHandle`, as `Box::new` allocates it
        // (`wait` and `handle_destroy` free it with `Box::from_raw`).
        unsafe { memory.write(spawned) };
        Ok(memory)
    }

    /// `poll`.
    ///
    /// # Safety
    /// `handle` must be null or a live handle from `spawn`.
    pub unsafe fn poll<T: Send>(handle: *mut TaskHandle<T>) -> *mut T {
        guard(null_mut(), || {
            if handle.is_null() {
                update_last_error(NullPointer::new("handle"));
                return null_mut();
            }
            // SAFETY: non-null, and live by the caller's contract.
            match unsafe { (*handle).poll() } {
                None => null_mut(),
                Some(Ok(value)) => boxed(value),
                Some(Err(error)) => {
                    update_last_error(error);
                    null_mut()
                }
            }
        })
    }

    /// `try_poll`.
    ///
    /// # Safety
    /// `handle` must be null or a live handle from `spawn`; `result` null or writable.
    pub unsafe fn try_poll<T: Send>(handle: *mut TaskHandle<T>, result: *mut *mut T) -> c_int {
        guard(RAWTASK_BACKGROUND_ERROR, || {
            if result.is_null() {
                update_last_error(NullPointer::new("result"));
                return RAWTASK_BACKGROUND_ERROR;
            }
            // SAFETY: non-null, and writable by the caller's contract.
            unsafe { result.write(null_mut()) };
            if handle.is_null() {
                update_last_error(NullPointer::new("handle"));
                return RAWTASK_BACKGROUND_ERROR;
            }
            // SAFETY: non-null, and live by the caller's contract.
            match unsafe { (*handle).poll() } {
                None => RAWTASK_BACKGROUND_PENDING,
                Some(Ok(value)) => {
                    // SAFETY: as above.
                    unsafe { result.write(boxed(value)) };
                    RAWTASK_BACKGROUND_READY
                }
                Some(Err(error)) => {
                    update_last_error(error);
                    RAWTASK_BACKGROUND_ERROR
                }
            }
        })
    }

    /// `wait`.
    ///
    /// # Safety
    /// `handle` must be null or a live handle from `spawn`; it is freed.
    pub unsafe fn wait<T: Send>(handle: *mut TaskHandle<T>) -> *mut T {
        guard(null_mut(), || {
            if handle.is_null() {
                update_last_error(NullPointer::new("handle"));
                return null_mut();
            }
            // SAFETY: `spawn` made it with `Box::into_raw`; the caller gives it up.
            let handle = unsafe { Box::from_raw(handle) };
            match handle.wait() {
                Ok(value) => boxed(value),
                Err(error) => {
                    update_last_error(error);
                    null_mut()
                }
            }
        })
    }

    /// `cancel`.
    ///
    /// # Safety
    /// `handle` must be null or a live handle from `spawn`.
    pub unsafe fn cancel<T>(handle: *mut TaskHandle<T>) {
        guard((), || {
            if handle.is_null() {
                update_last_error(NullPointer::new("handle"));
                return;
            }
            // SAFETY: non-null, and live by the caller's contract.
            unsafe { (*handle).cancel() }
        })
    }

    /// `cancelled`.
    ///
    /// # Safety
    /// `handle` must be null or a live handle from `spawn`.
    pub unsafe fn cancelled<T>(handle: *mut TaskHandle<T>) -> c_int {
        guard(0, || {
            if handle.is_null() {
                update_last_error(NullPointer::new("handle"));
                return 0;
            }
            // SAFETY: non-null, and live by the caller's contract.
            c_int::from(unsafe { (*handle).cancelled() })
        })
    }

    /// `handle_destroy`.
    ///
    /// # Safety
    /// `handle` must be null or a live handle from `spawn`; it is freed.
    pub unsafe fn handle_destroy<T>(handle: *mut TaskHandle<T>) {
        guard((), || {
            if handle.is_null() {
                update_last_error(NullPointer::new("handle"));
                return;
            }
            // SAFETY: `spawn` made it with `Box::into_raw`; the caller gives it up.
            drop(unsafe { Box::from_raw(handle) });
        })
    }

    /// `result_destroy`.
    ///
    /// # Safety
    /// `result` must be null or an output from `poll`, `try_poll` or `wait`, not freed yet.
    pub unsafe fn result_destroy<T>(result: *mut T) {
        guard((), || {
            if result.is_null() {
                update_last_error(NullPointer::new("result"));
                return;
            }
            // SAFETY: `boxed` made it with `Box::into_raw`; the caller gives it up.
            drop(unsafe { Box::from_raw(result) });
        })
    }
}
