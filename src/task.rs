//! [`Task`] and [`FallibleTask`]: the awaiting side of a task.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop, MaybeUninit};
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll};

use crate::raw::awaiter::{wake_awaiter, Look};
use crate::raw::cell::StoredPanic;
use crate::raw::header::{prefix, Header, HeaderPrefix};
use crate::raw::state::{Close, CloseDetach, Detach};
#[cfg(feature = "std")]
use crate::raw::watcher::Watcher;
use crate::schedule_info::ScheduleInfo;

/// A handle that awaits the output of a task.
///
/// Dropping a `Task` cancels the task: its future is dropped (by the executor, on the next run
/// of its `Runnable`) and its output, if any, is dropped too. Use [`detach`](Task::detach) to
/// let the task run to completion in the background instead.
///
/// Awaiting a `Task` whose task was cancelled (its `Runnable` dropped, or its future panicked
/// without [`propagate_panic`](crate::Builder::propagate_panic)) panics; use
/// [`fallible`](Task::fallible) to get an `Option` instead.
///
/// ```
/// let (runnable, task) = rawtask::spawn(async { "done" }, |_| {});
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), "done");
/// ```
#[must_use = "tasks get cancelled when dropped, use `.detach()` to run them in the background"]
pub struct Task<T, M = ()> {
    ptr: NonNull<()>,
    _marker: PhantomData<(T, M)>,
}

// SAFETY: the output `T` may be moved out (and so dropped) on the `Task`'s thread, and `&M`
// is handed out: `T: Send` and `M: Send + Sync` make that sound across threads.
unsafe impl<T: Send, M: Send + Sync> Send for Task<T, M> {}
// SAFETY: `&Task` only reads the state and the data slot.
unsafe impl<T, M: Send + Sync> Sync for Task<T, M> {}

impl<T, M> Unpin for Task<T, M> {}

#[cfg(feature = "std")]
impl<T, M> std::panic::UnwindSafe for Task<T, M> {}
#[cfg(feature = "std")]
impl<T, M> std::panic::RefUnwindSafe for Task<T, M> {}

impl<T, M> Task<T, M> {
    #[inline(always)]
    fn prefix(&self) -> &HeaderPrefix {
        // SAFETY: the TASK bit keeps the allocation alive while the handle exists.
        unsafe { prefix(self.ptr) }
    }

    /// Lets the task run to completion in the background; its output is dropped.
    ///
    /// ```
    /// let (s, r) = flume::unbounded();
    /// let (runnable, task) = rawtask::spawn(async { println!("hello") }, move |r| s.send(r).unwrap());
    /// task.detach();
    /// runnable.schedule();
    /// r.recv().unwrap().run(); // still runs
    /// ```
    #[inline]
    pub fn detach(self) {
        let mut this = ManuallyDrop::new(self);
        // Alone with a finished task whose output, if stored, is neither a panic nor anything
        // with a destructor (a detached `()` task, a scoped leaf): the same one-load decision as
        // `set_detached`, carried out without a frame for the general path.
        match this.prefix().state.load().detach_alone_finished() {
            Some(Detach::Destroy) => {}
            Some(Detach::TakeOutputAndDestroy { panicked: false }) if !mem::needs_drop::<T>() => {}
            _ => return this.detach_general(),
        }
        // SAFETY: nothing else can reach the task (raw rule 12), and nothing it holds needs
        // dropping here: we own it.
        unsafe { (this.prefix().vtable.destroy)(this.ptr) };
    }

    /// [`detach`](Self::detach) through [`set_detached`](Self::set_detached); the output, if
    /// any, is dropped here.
    #[inline(never)]
    fn detach_general(&mut self) {
        drop(self.set_detached());
    }

    /// [`detach`](Self::detach) for a task that was just spawned: a plain store instead of an
    /// atomic read-modify-write (raw rule 11). Its `Runnable` then starts out alone with the
    /// task (raw rule 12).
    ///
    /// # Safety
    /// No pointer to the task (its `Runnable`, a waker or a raw pointer) has left the current
    /// thread yet, and the task has not run.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) unsafe fn detach_unshared(self) {
        let this = ManuallyDrop::new(self);
        // SAFETY: forwarded from the caller.
        unsafe { this.prefix().state.detach_unshared() }
    }

    /// Cancels the task and waits until its future has been dropped.
    ///
    /// Returns the output if the task had already completed, `None` otherwise.
    ///
    /// ```
    /// use futures_lite::future::block_on;
    /// let (s, r) = flume::unbounded();
    /// let (runnable, task) = rawtask::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
    /// runnable.run(); // polled once, now idle
    /// let canceled = std::thread::spawn(move || block_on(task.cancel()));
    /// // The cancellation schedules the task one last time so the executor drops the future.
    /// r.recv().unwrap().run();
    /// assert_eq!(canceled.join().unwrap(), None);
    /// ```
    pub async fn cancel(self) -> Option<T> {
        self.set_canceled();
        self.fallible().await
    }

    /// Cancels the task and keeps the handle (tokio's `JoinHandle::abort`, maitake's
    /// `JoinHandle::cancel`). Returns `true` if this call cancelled a task that had neither
    /// completed nor been cancelled before; `false` if it had, and then a completed task's
    /// output is still there to await.
    ///
    /// As with [`cancel`](Self::cancel), the future is dropped by the executor (an idle task is
    /// scheduled one last time for it), and awaiting the handle afterwards resolves once that
    /// has happened (protocol rule 4), reporting the cancellation: `Task` panics,
    /// [`fallible`](Self::fallible) gives `None`, [`join`](Self::join) gives
    /// [`JoinError::Cancelled`](crate::JoinError::Cancelled).
    ///
    /// ```
    /// use futures_lite::future::block_on;
    /// let (s, r) = flume::unbounded();
    /// let (runnable, task) = rawtask::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
    /// runnable.run(); // pending, idle
    /// assert!(task.abort());
    /// assert!(!task.abort());
    /// r.recv().unwrap().run(); // the executor drops the future
    /// assert!(block_on(task.join()).unwrap_err().is_cancelled());
    /// ```
    pub fn abort(&self) -> bool {
        self.set_canceled()
    }

    /// A handle that cancels the task from any thread without owning this `Task` (tokio's
    /// `AbortHandle`). It holds one reference to the task, as a waker does, and does not keep
    /// the output alive.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// let abort = task.abort_handle();
    /// let second = abort.clone();
    /// assert!(abort.abort());
    /// assert!(!second.abort());
    /// drop(runnable); // an executor that sees `is_cancelled` drops the runnable
    /// assert!(second.is_finished());
    /// # drop(task);
    /// ```
    pub fn abort_handle(&self) -> crate::AbortHandle {
        self.prefix().state.add_ref();
        // SAFETY: the reference just added belongs to the handle.
        unsafe { crate::AbortHandle::from_ref(self.ptr) }
    }

    /// Turns the task into one that resolves to `None` instead of panicking when the task was
    /// cancelled.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// drop(runnable); // cancels the task
    /// assert_eq!(futures_lite::future::block_on(task.fallible()), None);
    /// ```
    pub fn fallible(self) -> FallibleTask<T, M> {
        FallibleTask { task: self }
    }

    /// Whether the task has finished: completed, or cancelled.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async {}, |_| {});
    /// assert!(!task.is_finished());
    /// runnable.run();
    /// assert!(task.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.prefix().state.load().is_done()
    }

    /// Whether the task has finished for good: completed, or cancelled with its future
    /// dropped (rule 4). [`is_finished`](Self::is_finished) also says `true` for a task that
    /// is cancelled but whose future the executor has yet to drop.
    #[cfg(feature = "std")]
    pub(crate) fn is_finished_for_good(&self) -> bool {
        self.prefix().state.load().is_finished()
    }

    /// Returns the task's data slot.
    ///
    /// ```
    /// let (_runnable, task) = rawtask::spawn_with(async {}, |_| {}, "meta");
    /// assert_eq!(*task.metadata(), "meta");
    /// ```
    pub fn metadata(&self) -> &M {
        // SAFETY: the task is alive and its data slot has type `M`.
        unsafe { &self.ptr.cast::<Header<M>>().as_ref().metadata }
    }

    /// The task's [`Identity`](crate::identity::Identity), if it was spawned with one.
    ///
    /// ```
    /// let (runnable, task) = rawtask::Builder::new().assign_id().spawn(|()| async {}, |_| {});
    /// assert_eq!(task.identity().unwrap().id(), runnable.identity().unwrap().id());
    /// ```
    pub fn identity(&self) -> Option<&crate::identity::Identity> {
        // SAFETY: the TASK bit keeps the task alive for the borrow.
        unsafe { (self.prefix().vtable.identity)(self.ptr) }
    }

    /// Converts the handle into a raw pointer (the same pointer `Runnable::into_raw` returns).
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 3 }, |_| {});
    /// let ptr = task.into_raw();
    /// runnable.run();
    /// // SAFETY: `ptr` came from `into_raw` of a `Task<i32>` and is converted back once.
    /// let task = unsafe { rawtask::Task::<i32>::from_raw(ptr) };
    /// assert_eq!(futures_lite::future::block_on(task), 3);
    /// ```
    pub fn into_raw(self) -> *mut () {
        let ptr = self.ptr;
        core::mem::forget(self);
        ptr.as_ptr()
    }

    /// Converts a pointer made by [`into_raw`](Self::into_raw) back into a `Task`.
    ///
    /// # Safety
    /// `ptr` must come from `Task::<T, M>::into_raw` with the same `T` and `M`, and be converted
    /// back only once.
    ///
    /// ```
    /// let (_runnable, task) = rawtask::spawn(async {}, |_| {});
    /// // SAFETY: the pointer comes straight from `into_raw` of a `Task<()>`.
    /// let task = unsafe { rawtask::Task::<()>::from_raw(task.into_raw()) };
    /// drop(task);
    /// ```
    pub unsafe fn from_raw(ptr: *mut ()) -> Self {
        Task {
            // SAFETY: the caller passes a pointer from `into_raw`, which is never null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            _marker: PhantomData,
        }
    }

    /// The same handle, with its slot type forgotten: the result's `metadata` is `&()`, which
    /// reads no memory, so it never touches the slot. The `Task` of
    /// [`compat::async_task_ffi`](crate::compat::async_task_ffi) is built on it, which is what
    /// makes its `Runnable::data_mut` sound without a check.
    #[inline]
    pub(crate) fn erase_metadata(self) -> Task<T> {
        let ptr = ManuallyDrop::new(self).ptr;
        Task {
            ptr,
            _marker: PhantomData,
        }
    }

    /// Wakes the task as one of its wakers would (the handle keeps the task alive).
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn wake(&self) {
        // SAFETY: the TASK bit keeps the task alive during the call.
        unsafe { crate::raw::waker::wake_by_ref(self.ptr.as_ptr()) }
    }

    /// Moves the output out; the caller has just marked it taken.
    #[inline]
    fn read_output(&self, panicked: bool) -> Result<T, StoredPanic> {
        if mem::size_of::<T>() == 0 && !panicked {
            // A zero-sized output (`()` above all) has no bytes to move: conjure it instead of
            // calling through the vtable. The stored value counts as moved out, exactly as the
            // vtable's read would leave it.
            // SAFETY: reading a zero-sized value from an aligned, non-null pointer is valid,
            // and the caller owns the output (it just marked it taken).
            return Ok(unsafe { ptr::read(NonNull::<T>::dangling().as_ptr()) });
        }
        let mut out = MaybeUninit::<Result<T, StoredPanic>>::uninit();
        let prefix = self.prefix();
        // SAFETY: `take_output` (or a `Detach::TakeOutput` step) gave us the stored output,
        // whose type is `T`, and `out` is valid for writes.
        unsafe {
            (prefix.vtable.read_output)(self.ptr, panicked, out.as_mut_ptr().cast());
            out.assume_init()
        }
    }

    /// Closes the task unless it is already done; an idle task is scheduled once more so the
    /// executor drops its future.
    /// Returns whether this call closed it (`false`: it was completed or closed already).
    pub(crate) fn set_canceled(&self) -> bool {
        let prefix = self.prefix();
        match prefix.state.close_from_task() {
            Close::AlreadyDone => false,
            Close::Closed { had_awaiter } => {
                if had_awaiter {
                    prefix.notify_awaiter(None);
                }
                true
            }
            Close::ClosedSchedule { had_awaiter } => {
                // SAFETY: `close_from_task` added the reference the new `Runnable` owns.
                unsafe { (prefix.vtable.schedule)(self.ptr, ScheduleInfo::new(false), false) };
                if had_awaiter {
                    prefix.notify_awaiter(None);
                }
                true
            }
        }
    }

    /// Gives up the handle, returning the output if it was stored and not yet taken.
    ///
    /// A handle alone with its finished task (raw rule 12) decides with one load, inline; the
    /// rest goes through [`set_detached_shared`](Self::set_detached_shared).
    #[inline]
    fn set_detached(&mut self) -> Option<Result<T, StoredPanic>> {
        match self.prefix().state.load().detach_alone_finished() {
            Some(outcome) => self.finish_detach(outcome, None),
            None => self.set_detached_shared(),
        }
    }

    /// The general detach: one transition decides whether the handle takes the output, frees
    /// the task, schedules it to drop its future, or only clears TASK.
    #[inline(never)]
    fn set_detached_shared(&mut self) -> Option<Result<T, StoredPanic>> {
        let mut output = None;
        loop {
            match self.prefix().state.detach(!mem::needs_drop::<T>()) {
                Detach::TakeOutput => {
                    let panicked = self.prefix().state.load().is_panicked();
                    output = Some(self.read_output(panicked));
                }
                outcome => return self.finish_detach(outcome, output),
            }
        }
    }

    /// Carries out a final `Detach` outcome; `output` is what an earlier `TakeOutput` took.
    #[inline]
    fn finish_detach(
        &mut self,
        outcome: Detach,
        output: Option<Result<T, StoredPanic>>,
    ) -> Option<Result<T, StoredPanic>> {
        // The task is read only in the arms that own it (or its final `Runnable`): after a
        // plain `Detached`, another thread may already have freed it.
        let ptr = self.ptr;
        match outcome {
            Detach::TakeOutputAndDestroy { panicked } => {
                let output = self.read_output(panicked);
                // SAFETY: nothing else can reach the task (raw rule 12): we own it, and its
                // output is now moved out.
                unsafe { (self.prefix().vtable.destroy)(ptr) };
                Some(output)
            }
            Detach::Destroy => {
                // SAFETY: no reference remains and TASK is clear (or we are alone with a closed
                // task): we own the task.
                unsafe { (self.prefix().vtable.destroy)(ptr) };
                output
            }
            Detach::Schedule => {
                // SAFETY: `detach` gave the final `Runnable` its reference, which keeps the task
                // alive until the executor runs it.
                unsafe { (self.prefix().vtable.schedule)(ptr, ScheduleInfo::new(false), false) };
                output
            }
            Detach::Detached => output,
            // Never final: `set_detached_shared` takes the output and detaches again.
            Detach::TakeOutput => output,
        }
    }

    /// A [`Watcher`] of the task, holding a reference of its own (rule 13: the caller promises
    /// never to poll this handle with a waker again; [`try_take`](Self::try_take) registers
    /// none).
    #[cfg(feature = "std")]
    pub(crate) fn watcher(&self) -> Watcher {
        self.prefix().state.add_watcher_ref();
        // SAFETY: the reference just added belongs to the watcher; the caller keeps the
        // promise of rule 13.
        unsafe { Watcher::from_marked_ref(self.ptr) }
    }

    /// Takes the output if the task has completed, without registering a waker: `Pending`
    /// until the task finishes, `Ready(None)` once it was cancelled (and its future dropped)
    /// or the output was taken before. A propagated panic is re-raised, as by a poll.
    #[cfg(feature = "std")]
    pub(crate) fn try_take(&mut self) -> Poll<Option<T>> {
        let prefix = self.prefix();
        let mut state = prefix.state.load();
        let panicked = loop {
            if state.is_closed() {
                // Cancelled, or taken: done once the future is gone (rule 4).
                return if state.is_finished() {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            }
            if !state.is_completed() {
                return Poll::Pending;
            }
            match prefix.state.take_output(state) {
                Ok(prev) => break prev.is_panicked(),
                Err(now) => state = now,
            }
        };
        match self.read_output(panicked) {
            Ok(output) => Poll::Ready(Some(output)),
            Err(payload) => std::panic::resume_unwind(*payload.0),
        }
    }

    /// Polls for the output: `Ready(None)` once the task is cancelled and its future dropped.
    /// A propagated panic is re-raised.
    #[inline]
    pub(crate) fn poll_task(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.poll_task_stored(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Ok(output))) => Poll::Ready(Some(output)),
            #[cfg(feature = "std")]
            Poll::Ready(Some(Err(payload))) => std::panic::resume_unwind(*payload.0),
            #[cfg(not(feature = "std"))]
            Poll::Ready(Some(Err(never))) => match never {},
        }
    }

    /// [`poll_task`](Self::poll_task), handing a propagated panic back as stored instead of
    /// re-raising it (for [`Join`](crate::Join)).
    #[inline]
    pub(crate) fn poll_task_stored(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<T, StoredPanic>>> {
        let prefix = self.prefix();
        let taken = prefix.poll_awaiter(cx.waker(), |state| {
            if state.is_closed() {
                // Cancelled (or the output was taken): wait until the `Runnable` has dropped
                // the future (protocol rule 4).
                if !state.is_finished() {
                    return Look::Wait;
                }
                prefix.notify_awaiter(Some(cx.waker()));
                return Look::Done(None);
            }
            if !state.is_completed() {
                return Look::Wait;
            }
            match prefix.state.take_output(state) {
                Ok(prev) => {
                    if prev.has_awaiter() {
                        prefix.notify_awaiter(Some(cx.waker()));
                    }
                    Look::Done(Some(prev.is_panicked()))
                }
                Err(_) => Look::Again,
            }
        });
        match taken {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(panicked)) => Poll::Ready(Some(self.read_output(panicked))),
        }
    }
}

impl<T, M> Drop for Task<T, M> {
    fn drop(&mut self) {
        // The usual end of an awaited task, decided with one load: its output was taken (or it
        // was cancelled and its future dropped) and the handle is alone with it (raw rule 12).
        // Cancelling would find it done and detaching would free it: free it. (Models:
        // `internal/loom-tests/tests/alone.rs`, where the last other owner goes on another
        // thread just before or just after this load.)
        let seen = self.prefix().state.load();
        if let Some(Detach::Destroy) = seen.detach_alone_finished() {
            // SAFETY: nothing else can reach the task and it holds neither future nor output:
            // we own it.
            unsafe { (self.prefix().vtable.destroy)(self.ptr) };
            return;
        }
        // An unfinished task (say, spawned and dropped before it ran, or awaited and dropped
        // by a `select` that another branch won) is closed and let go of in one step. (Models:
        // the `TaskDrop` pairs in `internal/loom-tests/tests/pairs.rs`,
        // `task_drop_vs_last_waker_drop`, `task_drop_idle_vs_wake`, and
        // `awaited_task_drop_vs_run` and `awaited_task_drop_idle_vs_wake` for the awaiter.)
        match self.prefix().state.close_and_detach(seen) {
            CloseDetach::Detached => {}
            CloseDetach::Schedule => {
                // SAFETY: `close_and_detach` added the reference the new `Runnable` owns, which
                // keeps the task alive until the executor runs or drops it.
                unsafe {
                    (self.prefix().vtable.schedule)(self.ptr, ScheduleInfo::new(false), false)
                };
            }
            CloseDetach::ClaimedAwaiter { schedule } => self.wake_awaiter_and_release(schedule),
            CloseDetach::Apart => self.cancel_then_detach(),
        }
    }
}

impl<T, M> Task<T, M> {
    /// A dropped `Task`'s last steps after [`CloseDetach::ClaimedAwaiter`]: the handle is now
    /// a reference, and the awaiter slot is ours (NOTIFYING).
    #[inline(never)]
    fn wake_awaiter_and_release(&mut self, schedule: bool) {
        let ptr = self.ptr;
        let prefix = self.prefix();
        if schedule {
            // SAFETY: `close_and_detach` added the reference the new `Runnable` owns; ours
            // keeps the task alive across the call.
            unsafe { (prefix.vtable.schedule)(ptr, ScheduleInfo::new(false), false) };
        }
        // SAFETY: we hold NOTIFYING without REGISTERING: nobody else touches the slot.
        let awaiter = prefix.awaiter.with_mut(|slot| unsafe { (*slot).take() });
        if prefix.state.end_notify_and_release().is_unreferenced() {
            // SAFETY: no reference and no `Task` remain, and the task is closed with no
            // `Runnable` left, which dropped the future (rule 4) and any output (rule 3): we
            // own it.
            unsafe { (prefix.vtable.destroy)(ptr) };
        }
        wake_awaiter(awaiter);
    }

    /// A dropped `Task`'s two steps, cancel then detach ([`CloseDetach::Apart`]): for a task
    /// that is done, or whose awaiter someone else is registering or notifying.
    #[inline(never)]
    fn cancel_then_detach(&mut self) {
        self.set_canceled();
        drop(self.set_detached());
    }
}

impl<T, M> Future for Task<T, M> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut().poll_task(cx) {
            Poll::Ready(Some(output)) => Poll::Ready(output),
            Poll::Ready(None) => panic!("rawtask: the awaited task was cancelled or panicked"),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T, M: fmt::Debug> fmt::Debug for Task<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.prefix().state.load();
        let mut s = f.debug_struct("Task");
        if let Some(identity) = self.identity() {
            s.field("identity", identity);
        }
        s.field("state", &format_args!("{}", state.stage()))
            .field("references", &state.refs())
            .field("awaiter", &state.has_awaiter())
            .field("metadata", self.metadata())
            .finish()
    }
}

/// A [`Task`] that resolves to `None` instead of panicking when the task was cancelled.
///
/// ```
/// let (runnable, task) = rawtask::spawn(async { 5 }, |_| {});
/// let task = task.fallible();
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), Some(5));
/// ```
#[must_use = "tasks get cancelled when dropped, use `.detach()` to run them in the background"]
pub struct FallibleTask<T, M = ()> {
    task: Task<T, M>,
}

impl<T, M> FallibleTask<T, M> {
    /// Lets the task run to completion in the background; see [`Task::detach`].
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async {}, |_| {});
    /// task.fallible().detach();
    /// runnable.run();
    /// ```
    pub fn detach(self) {
        self.task.detach()
    }

    /// Cancels the task and waits until its future has been dropped; see [`Task::cancel`].
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task.fallible().cancel()), Some(1));
    /// ```
    pub async fn cancel(self) -> Option<T> {
        self.task.cancel().await
    }

    /// Whether the task has finished: completed, or cancelled.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async {}, |_| {});
    /// let task = task.fallible();
    /// runnable.run();
    /// assert!(task.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Returns the task's data slot.
    ///
    /// ```
    /// let (_runnable, task) = rawtask::spawn_with(async {}, |_| {}, 9i32);
    /// assert_eq!(*task.fallible().metadata(), 9);
    /// ```
    pub fn metadata(&self) -> &M {
        self.task.metadata()
    }
}

impl<T, M> Future for FallibleTask<T, M> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().task.poll_task(cx)
    }
}

impl<T, M: fmt::Debug> fmt::Debug for FallibleTask<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallibleTask")
            .field("task", &self.task)
            .finish()
    }
}
