//! [`TaskHandle`]: the caller's side of a background job.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{pool, AlreadyTaken, Error, Panicked, Task};
use crate::cancel::CancellationToken;
use crate::raw::waker::noop_waker;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::UnsafeCell;
use crate::{FallibleTask, Schedule, TrySpawnError};

/// No one is polling and the result has not been taken: the cell may be claimed.
const IDLE: usize = 0;
/// A `poll` has claimed the cell.
const POLLING: usize = 1;
/// The result has been taken; the cell is empty for good.
const TAKEN: usize = 2;

/// An opaque handle to a job running in the background.
///
/// Dropping the handle cancels the job's token and the job's raw task: a job that has not
/// started yet never runs, and a running one is asked to stop; its result is dropped.
///
/// `TaskHandle` is `Send + Sync`: [`poll`](Self::poll), [`cancel`](Self::cancel) and
/// [`cancelled`](Self::cancelled) may be called from several threads at once. Of concurrent
/// polls, one may see `None` while another is taking the result.
///
/// ```
/// use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
///
/// #[derive(Clone)]
/// struct Spin;
///
/// impl Task for Spin {
///     type Output = u32;
///     fn run(&self, token: &CancellationToken) -> Result<u32, Error> {
///         let mut spins = 0;
///         while !token.wait_timeout(std::time::Duration::from_millis(1)) {
///             spins += 1;
///         }
///         Ok(spins)
///     }
/// }
///
/// let handle = TaskHandle::spawn(Spin);
/// assert!(handle.poll().is_none());
/// handle.cancel();
/// assert!(handle.cancelled());
/// let _spins = handle.wait().unwrap();
/// ```
pub struct TaskHandle<T> {
    token: CancellationToken,
    /// `IDLE`, `POLLING` or `TAKEN`: who may touch `task`.
    state: AtomicUsize,
    /// The raw task's handle: `Some` until the result is taken. Accessed by `poll` while it
    /// holds `POLLING`, and by `wait` and `drop`, which own the handle.
    task: UnsafeCell<Option<FallibleTask<Result<T, Error>>>>,
    /// Under Miri only: the job's own thread, joined on drop (see `spawn`).
    #[cfg(miri)]
    thread: Option<std::thread::JoinHandle<()>>,
}

// SAFETY: the handle owns the job's raw task, whose output `T` is moved to whichever thread
// takes it: `T: Send` is enough, as for `Task<T>` itself.
unsafe impl<T: Send> Send for TaskHandle<T> {}
// SAFETY: through `&TaskHandle`, `task` is only touched by the one `poll` that moved `state`
// from IDLE to POLLING (an exclusive claim, released with a Release store that the next claim's
// Acquire CAS synchronises with); the output moves to that thread, so `T: Send` suffices.
unsafe impl<T: Send> Sync for TaskHandle<T> {}

impl<T: Send + 'static> TaskHandle<T> {
    /// Starts `task` on the blocking thread pool and returns a handle to it.
    ///
    /// ```
    /// use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
    ///
    /// #[derive(Clone)]
    /// struct Answer;
    /// impl Task for Answer {
    ///     type Output = u32;
    ///     fn run(&self, _: &CancellationToken) -> Result<u32, Error> { Ok(42) }
    /// }
    ///
    /// assert_eq!(TaskHandle::spawn(Answer).wait().unwrap(), 42);
    /// ```
    pub fn spawn<K>(task: K) -> TaskHandle<T>
    where
        K: Task<Output = T> + 'static,
    {
        TaskHandle::try_spawn(task).unwrap_or_else(|error| allocation_failed(error))
    }

    /// [`spawn`](Self::spawn), but returns an error instead of aborting the process when the
    /// job's task or its cancellation token cannot be allocated; the job is then dropped (never
    /// run). The pool's queue and its threads are still allocated with the global allocator
    /// (which aborts if that fails).
    ///
    /// ```
    /// use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
    ///
    /// #[derive(Clone)]
    /// struct Answer;
    /// impl Task for Answer {
    ///     type Output = u32;
    ///     fn run(&self, _: &CancellationToken) -> Result<u32, Error> { Ok(42) }
    /// }
    ///
    /// let handle = TaskHandle::try_spawn(Answer).expect("out of memory");
    /// assert_eq!(handle.wait().unwrap(), 42);
    /// ```
    pub fn try_spawn<K>(task: K) -> Result<TaskHandle<T>, TrySpawnError>
    where
        K: Task<Output = T> + 'static,
    {
        #[cfg(not(miri))]
        {
            TaskHandle::try_spawn_on(task, pool::schedule)
        }
        // Miri reports every thread still running when `main` returns, and pool threads
        // outlive the jobs they ran: under Miri each job gets a thread of its own instead,
        // which the handle joins when it is dropped (after `wait`, or after cancelling).
        #[cfg(miri)]
        {
            // The job's future completes on its first poll and nothing wakes it, so the
            // schedule function is never called.
            let (runnable, mut handle) = TaskHandle::try_new(task, |_| {})?;
            handle.thread = Some(std::thread::spawn(move || pool::run(runnable)));
            Ok(handle)
        }
    }

    /// Starts `task` as a raw task whose [`Runnable`](crate::Runnable) goes to `schedule` (once,
    /// at once) instead of the blocking pool: for executors that bring their own blocking
    /// threads. The job runs when the `Runnable` is [run](crate::Runnable::run); a `Runnable`
    /// dropped unrun makes the handle report [`Abandoned`](super::Abandoned).
    ///
    /// ```
    /// use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
    ///
    /// #[derive(Clone)]
    /// struct Answer;
    /// impl Task for Answer {
    ///     type Output = u32;
    ///     fn run(&self, _: &CancellationToken) -> Result<u32, Error> { Ok(42) }
    /// }
    ///
    /// let (sender, receiver) = flume::unbounded();
    /// let handle = TaskHandle::spawn_on(Answer, move |runnable| sender.send(runnable).unwrap());
    /// assert!(handle.poll().is_none());
    /// receiver.recv().unwrap().run(); // our own "blocking thread"
    /// assert_eq!(handle.poll().unwrap().unwrap(), 42);
    /// ```
    pub fn spawn_on<K, S>(task: K, schedule: S) -> TaskHandle<T>
    where
        K: Task<Output = T> + 'static,
        S: Schedule + Send + Sync + 'static,
    {
        TaskHandle::try_spawn_on(task, schedule).unwrap_or_else(|error| allocation_failed(error))
    }

    /// [`spawn_on`](Self::spawn_on), but returns an error instead of aborting the process when
    /// the job's task or its cancellation token cannot be allocated; the job and `schedule` are
    /// then dropped (never called). A refused token is reported with its layout.
    ///
    /// ```
    /// use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
    ///
    /// #[derive(Clone)]
    /// struct Answer;
    /// impl Task for Answer {
    ///     type Output = u32;
    ///     fn run(&self, _: &CancellationToken) -> Result<u32, Error> { Ok(42) }
    /// }
    ///
    /// let (sender, receiver) = flume::unbounded();
    /// let handle = TaskHandle::try_spawn_on(Answer, move |runnable| sender.send(runnable).unwrap())
    ///     .expect("out of memory");
    /// receiver.recv().unwrap().run();
    /// assert_eq!(handle.wait().unwrap(), 42);
    /// ```
    pub fn try_spawn_on<K, S>(task: K, schedule: S) -> Result<TaskHandle<T>, TrySpawnError>
    where
        K: Task<Output = T> + 'static,
        S: Schedule + Send + Sync + 'static,
    {
        let (runnable, handle) = TaskHandle::try_new(task, schedule)?;
        runnable.schedule();
        Ok(handle)
    }

    /// The job's raw task, not yet scheduled, and its handle.
    fn try_new<K, S>(
        task: K,
        schedule: S,
    ) -> Result<(crate::Runnable, TaskHandle<T>), TrySpawnError>
    where
        K: Task<Output = T> + 'static,
        S: Schedule + Send + Sync + 'static,
    {
        let token =
            CancellationToken::try_new().map_err(|error| TrySpawnError::new(error.layout()))?;
        let job_token = token.clone();
        let (runnable, raw) = crate::Builder::new()
            .try_spawn(move |()| async move { run_job(task, job_token) }, schedule)?;
        let handle = TaskHandle {
            token,
            state: AtomicUsize::new(IDLE),
            task: UnsafeCell::new(Some(raw.fallible())),
            #[cfg(miri)]
            thread: None,
        };
        Ok((runnable, handle))
    }
}

/// What the infallible spawn functions do when the job's task cannot be allocated.
#[cold]
#[inline(never)]
fn allocation_failed(error: TrySpawnError) -> ! {
    std::alloc::handle_alloc_error(error.layout())
}

/// Runs the job, turning a panic (in `run` or in the job's destructor) into an error.
fn run_job<K: Task>(task: K, token: CancellationToken) -> Result<K::Output, Error> {
    let outcome = catch_unwind(AssertUnwindSafe(move || {
        let result = task.run(&token);
        drop(task);
        drop(token);
        result
    }));
    outcome.unwrap_or_else(|payload| Err(Panicked::from_payload(payload).into()))
}

impl<T> TaskHandle<T> {
    /// Takes the result if the job has finished: `None` while it runs, `Some(result)` once,
    /// then `Some(Err(AlreadyTaken))`. Never blocks.
    ///
    /// ```
    /// use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
    ///
    /// #[derive(Clone)]
    /// struct Quick;
    /// impl Task for Quick {
    ///     type Output = &'static str;
    ///     fn run(&self, _: &CancellationToken) -> Result<&'static str, Error> { Ok("hi") }
    /// }
    ///
    /// let handle = TaskHandle::spawn(Quick);
    /// let result = loop {
    ///     match handle.poll() {
    ///         Some(result) => break result,
    ///         None => std::thread::yield_now(),
    ///     }
    /// };
    /// assert_eq!(result.unwrap(), "hi");
    /// ```
    pub fn poll(&self) -> Option<Result<T, Error>> {
        match self
            .state
            .compare_exchange(IDLE, POLLING, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {}
            Err(TAKEN) => return Some(Err(AlreadyTaken.into())),
            // Another poll holds the claim: as far as this call can tell, nothing is ready.
            Err(_) => return None,
        }
        // SAFETY: the IDLE -> POLLING transition gives this call exclusive access to `task`
        // until it stores IDLE or TAKEN; `wait` and `drop` own the handle, so cannot run now.
        let result = self.task.with_mut(|task| try_take(unsafe { &mut *task }));
        let next = if result.is_some() { TAKEN } else { IDLE };
        self.state.store(next, Ordering::Release);
        result
    }

    /// Blocks until the job has finished and returns its result, consuming the handle; if
    /// [`poll`](Self::poll) already took the result, returns [`AlreadyTaken`].
    ///
    /// The calling thread spins briefly before it sleeps, so a short job costs no context
    /// switch on the caller's side.
    ///
    /// ```
    /// use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
    ///
    /// #[derive(Clone)]
    /// struct Fails;
    /// impl Task for Fails {
    ///     type Output = ();
    ///     fn run(&self, _: &CancellationToken) -> Result<(), Error> { Err(Error::msg("no luck")) }
    /// }
    ///
    /// assert_eq!(TaskHandle::spawn(Fails).wait().unwrap_err().to_string(), "no luck");
    /// ```
    pub fn wait(self) -> Result<T, Error> {
        // SAFETY: `self` is owned, so nothing else can access `task`.
        let task = self.task.with_mut(|task| unsafe { (*task).take() });
        match task {
            None => Err(AlreadyTaken.into()),
            Some(task) => block_on(task).unwrap_or_else(|| Err(super::Abandoned.into())),
        }
    }

    /// Asks the job to stop: cancels the token its `run` was given. The job still returns a
    /// result (whatever `run` returns once it notices), which `poll` and `wait` report.
    ///
    /// ```
    /// use rawtask::background::{Cancelled, CancellationToken, Error, Task, TaskHandle};
    ///
    /// #[derive(Clone)]
    /// struct UntilCancelled;
    /// impl Task for UntilCancelled {
    ///     type Output = ();
    ///     fn run(&self, token: &CancellationToken) -> Result<(), Error> {
    ///         token.wait_blocking();
    ///         Err(Cancelled.into())
    ///     }
    /// }
    ///
    /// let handle = TaskHandle::spawn(UntilCancelled);
    /// handle.cancel();
    /// assert!(handle.wait().unwrap_err().is::<Cancelled>());
    /// ```
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether [`cancel`](Self::cancel) has been called.
    ///
    /// ```
    /// use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
    ///
    /// #[derive(Clone)]
    /// struct Nothing;
    /// impl Task for Nothing {
    ///     type Output = ();
    ///     fn run(&self, _: &CancellationToken) -> Result<(), Error> { Ok(()) }
    /// }
    ///
    /// let handle = TaskHandle::spawn(Nothing);
    /// assert!(!handle.cancelled());
    /// handle.cancel();
    /// assert!(handle.cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.token.cancelled()
    }
}

/// Takes the output out of `slot` if the job has finished.
fn try_take<T>(slot: &mut Option<FallibleTask<Result<T, Error>>>) -> Option<Result<T, Error>> {
    let task = slot.as_mut()?;
    if !task.is_finished() {
        return None;
    }
    match Pin::new(task).poll(&mut Context::from_waker(&noop_waker())) {
        // Closed but the `Runnable` has not dropped the future yet: not done after all.
        Poll::Pending => None,
        Poll::Ready(output) => {
            *slot = None;
            Some(output.unwrap_or_else(|| Err(super::Abandoned.into())))
        }
    }
}

/// Waits for `task` on the current thread: spins a little, then parks until woken.
fn block_on<R>(mut task: FallibleTask<R>) -> Option<R> {
    #[cfg(not(loom))]
    for _ in 0..SPIN_ROUNDS {
        if task.is_finished() {
            break;
        }
        for _ in 0..SPINS_PER_ROUND {
            core::hint::spin_loop();
        }
    }
    if task.is_finished() {
        // The common case after spinning: no waker to allocate.
        if let Poll::Ready(output) =
            Pin::new(&mut task).poll(&mut Context::from_waker(&noop_waker()))
        {
            return output;
        }
    }
    let waker = crate::sync::waker_for_current_thread();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = Pin::new(&mut task).poll(&mut cx) {
            return output;
        }
        crate::sync::thread::park();
    }
}

/// How often `block_on` checks for the result before it parks, with `SPINS_PER_ROUND`
/// spin-loop hints in between (some tens of microseconds in all). It never yields: on a loaded
/// machine `sched_yield` can give the CPU away for a whole time slice.
#[cfg(not(loom))]
const SPIN_ROUNDS: u32 = 64;
#[cfg(not(loom))]
const SPINS_PER_ROUND: u32 = 32;

impl<T> Drop for TaskHandle<T> {
    fn drop(&mut self) {
        self.token.cancel();
        // The raw task's handle (if the result was not taken) drops with the cell: that
        // cancels a job that has not started and drops an output nobody took.
        #[cfg(miri)]
        if let Some(thread) = self.thread.take() {
            // SAFETY: `&mut self`: nothing else can access the cell.
            drop(self.task.with_mut(|task| unsafe { (*task).take() }));
            let _ = thread.join();
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let taken = self.state.load(Ordering::Acquire) == TAKEN;
        f.debug_struct("TaskHandle")
            .field("cancelled", &self.cancelled())
            .field("taken", &taken)
            .finish_non_exhaustive()
    }
}
