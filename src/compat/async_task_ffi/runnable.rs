//! async-task-ffi's [`Runnable`]: the crate root's, with an unconditional `data_mut` and raw
//! pointers as `*mut ()`.

use core::fmt;
use core::ptr::NonNull;
use core::task::Waker;

/// A handle to a scheduled task, owned by the executor (async-task-ffi's `Runnable<D>`).
///
/// It behaves as [`crate::Runnable`]: [`run`](Runnable::run) polls the future once, a waker
/// hands it back to the schedule function, and dropping it cancels the task.
///
/// ```
/// use rawtask::compat::async_task_ffi::{self, Runnable};
///
/// let (s, r) = flume::unbounded();
/// let (runnable, task) = async_task_ffi::spawn(async { 1 + 2 }, move |r: Runnable| s.send(r).unwrap());
/// runnable.schedule();
/// r.recv().unwrap().run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
#[repr(transparent)]
pub struct Runnable<D = ()> {
    inner: crate::Runnable<D>,
}

impl<D> Runnable<D> {
    #[inline(always)]
    pub(super) fn new(inner: crate::Runnable<D>) -> Runnable<D> {
        Runnable { inner }
    }

    /// Hands the task to its schedule function.
    ///
    /// ```
    /// let (s, r) = flume::unbounded();
    /// let (runnable, _task) = rawtask::compat::async_task_ffi::spawn(async {}, move |r| s.send(r).unwrap());
    /// runnable.schedule();
    /// assert_eq!(r.len(), 1);
    /// # drop(r.try_recv());
    /// ```
    #[inline]
    pub fn schedule(self) {
        self.inner.schedule()
    }

    /// Polls the task's future once; `true` if it was woken while running (and so has already
    /// been scheduled again). See [`crate::Runnable::run`].
    ///
    /// ```
    /// let (runnable, task) = rawtask::compat::async_task_ffi::spawn(async { 1 }, |_| {});
    /// assert!(!runnable.run());
    /// assert_eq!(futures_lite::future::block_on(task), 1);
    /// ```
    #[inline]
    pub fn run(self) -> bool {
        self.inner.run()
    }

    /// Returns a waker that wakes this task.
    ///
    /// ```
    /// let (s, r) = flume::unbounded();
    /// let (runnable, _task) = rawtask::compat::async_task_ffi::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
    /// let waker = runnable.waker();
    /// runnable.run();
    /// waker.wake();
    /// assert_eq!(r.len(), 1);
    /// # drop(r.try_recv());
    /// ```
    #[inline]
    pub fn waker(&self) -> Waker {
        self.inner.waker()
    }

    /// Returns the data attached to the task.
    ///
    /// ```
    /// let (runnable, _task) = rawtask::compat::async_task_ffi::spawn_with(async {}, |_| {}, "hello");
    /// assert_eq!(*runnable.data(), "hello");
    /// ```
    #[inline]
    pub fn data(&self) -> &D {
        self.inner.data()
    }

    /// Returns the data attached to the task, mutably.
    ///
    /// Unlike [`crate::Runnable::data_mut`] this needs no check: this module's
    /// [`Task`](super::Task) cannot read the slot, so the `Runnable` is the only handle that
    /// reaches it.
    ///
    /// ```
    /// let (mut runnable, task) = rawtask::compat::async_task_ffi::spawn_with(async {}, |_| {}, 0);
    /// *runnable.data_mut() += 1;
    /// assert_eq!(*runnable.data(), 1);
    /// runnable.run();
    /// # drop(task);
    /// ```
    #[inline]
    pub fn data_mut(&mut self) -> &mut D {
        // SAFETY: every `Runnable<D>` of this module comes from this module's spawn functions
        // (or `from_raw` of their pointers), which hand out only the slot-erased `Task`: no
        // handle but this one reads the slot, wakers never touch it, and a task has at most
        // one `Runnable` at a time.
        unsafe { self.inner.data_mut_unchecked() }
    }

    /// Converts the `Runnable` into a raw pointer to the task; the data slot sits at
    /// [`data_offset::<D>()`](crate::data_offset) bytes from it.
    ///
    /// Convert it back with [`from_raw`](Self::from_raw) exactly once, or the task leaks.
    ///
    /// ```
    /// use rawtask::compat::async_task_ffi::{self, Runnable};
    ///
    /// let (runnable, _task) = async_task_ffi::spawn_with(async {}, |_| {}, 42u64);
    /// let ptr = runnable.into_raw();
    /// // SAFETY: a `u64` slot lives at DATA_OFFSET.
    /// assert_eq!(unsafe { *ptr.cast::<u8>().add(rawtask::DATA_OFFSET).cast::<u64>() }, 42);
    /// // SAFETY: `ptr` came from `into_raw` of a `Runnable<u64>` and is converted back once.
    /// unsafe { Runnable::<u64>::from_raw(ptr) }.run();
    /// ```
    #[inline]
    pub fn into_raw(self) -> *mut () {
        self.inner.into_raw().as_ptr()
    }

    /// Converts a pointer made by [`into_raw`](Self::into_raw) back into a `Runnable`.
    ///
    /// # Safety
    /// `ptr` must come from `Runnable::<D>::into_raw` of this module with the same `D`, and be
    /// converted back only once. (A pointer from the crate root's `Runnable::into_raw` does
    /// not qualify: its task's `Task` handle may read the slot.)
    ///
    /// ```
    /// use rawtask::compat::async_task_ffi::{self, Runnable};
    ///
    /// let (runnable, task) = async_task_ffi::spawn(async { 2 }, |_| {});
    /// let ptr = runnable.into_raw();
    /// // SAFETY: `ptr` came from `into_raw` of a `Runnable<()>` and is converted back once.
    /// unsafe { Runnable::<()>::from_raw(ptr) }.run();
    /// assert_eq!(futures_lite::future::block_on(task), 2);
    /// ```
    #[inline]
    pub unsafe fn from_raw(ptr: *mut ()) -> Runnable<D> {
        debug_assert!(!ptr.is_null(), "Runnable::from_raw: null pointer");
        // SAFETY: `into_raw` never returns null, and the caller passes its pointer back once,
        // with the same `D`.
        Runnable::new(unsafe { crate::Runnable::from_raw(NonNull::new_unchecked(ptr)) })
    }
}

impl<D> fmt::Debug for Runnable<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // async-task-ffi prints a `Runnable` whatever its `D`: the slot is left out.
        self.inner
            .debug_state(&mut f.debug_struct("Runnable"))
            .finish()
    }
}
