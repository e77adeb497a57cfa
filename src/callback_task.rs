//! [`CallbackTask`]: a task handle that calls back when the task finishes, for code that
//! cannot await (a C event loop, a Python future, a GUI toolkit's main loop).
//!
//! [`Task::on_finish`] turns a `Task` into a `CallbackTask` and registers a callback that runs
//! exactly once, when the task finishes: completes, panics, or is cancelled and its future
//! dropped. The callback owns a [`Watcher`] (a counted reference to the task) through an `Arc`
//! that is also the waker it leaves in the task's awaiter slot; the `CallbackTask` never polls
//! with a waker (its [`try_take`](CallbackTask::try_take) registers none), so the watcher is the
//! slot's only registrar (protocol rule 13).
//!
//! The awaiter is also woken when the task is *closed* (a cancel notifies right away, before
//! the executor drops the future). A wake that finds the task not finished yet registers the
//! same waker again, from inside the wake: each registration leaves one waker in the slot and
//! each wake takes one out, so the registrations form a single chain and never overlap
//! (protocol rule 14).

use core::fmt;
use core::task::{Poll, Waker};
use std::sync::Arc;
use std::task::Wake;

use crate::raw::watcher::Watcher;
use crate::sync::Mutex;
use crate::task::Task;

/// A task handle that calls a callback when the task finishes instead of being awaited. Made by
/// [`Task::on_finish`].
///
/// Take the output with [`try_take`](Self::try_take) (typically from the callback, or after it
/// ran). Dropping the handle cancels the task, as dropping a [`Task`] does; the callback still
/// runs once the future is dropped. [`detach`](Self::detach) lets the task run on; the callback
/// runs when it finishes and the output is dropped.
///
/// ```
/// use std::sync::mpsc;
/// use std::task::Poll;
///
/// let (runnable, task) = rawtask::spawn(async { 6 * 7 }, |_| {});
/// let (done, finished) = mpsc::channel();
/// let mut task = task.on_finish(move || done.send(()).unwrap());
/// assert!(finished.try_recv().is_err());
/// runnable.run(); // completes the task and calls back, on this thread
/// finished.recv().unwrap();
/// assert_eq!(task.try_take(), Poll::Ready(Some(42)));
/// assert_eq!(task.try_take(), Poll::Ready(None)); // taken
/// ```
pub struct CallbackTask<T, M = ()> {
    task: Task<T, M>,
}

impl<T, M> Task<T, M> {
    /// Calls `callback` exactly once, when the task finishes: completes (or panics), or is
    /// cancelled and its future dropped. It runs on the thread that finishes the task (inside
    /// the executor's `run`, or wherever a `Runnable` of a cancelled task is dropped), or right
    /// here, before `on_finish` returns, if the task has already finished.
    ///
    /// The callback must not panic: it runs inside a waker, and a panicking waker aborts the
    /// process (protocol rule 9). It should be short and must not block: it runs in the
    /// executor's loop.
    ///
    /// Returns the handle to take the output with; it is never polled with a waker, which is
    /// what leaves the task's awaiter slot to the callback.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let (runnable, task) = rawtask::spawn(std::future::pending::<()>(), |_| {});
    /// let counter = calls.clone();
    /// let task = task.on_finish(move || {
    ///     counter.fetch_add(1, Ordering::Relaxed);
    /// });
    /// drop(task); // cancels: the callback waits for the future to be dropped
    /// assert_eq!(calls.load(Ordering::Relaxed), 0);
    /// drop(runnable); // drops the future
    /// assert_eq!(calls.load(Ordering::Relaxed), 1);
    /// ```
    pub fn on_finish<F>(self, callback: F) -> CallbackTask<T, M>
    where
        F: FnOnce() + Send + 'static,
    {
        call_when_finished(self.watcher(), callback);
        CallbackTask { task: self }
    }
}

impl<T, M> CallbackTask<T, M> {
    /// Takes the output without waiting: `Pending` until the task finishes, `Ready(Some(_))`
    /// once when it completed, `Ready(None)` if it was cancelled (and its future dropped) or
    /// the output was already taken. If the task panicked and was spawned with
    /// [`propagate_panic`](crate::Builder::propagate_panic), the panic is re-raised here.
    ///
    /// ```
    /// use std::task::Poll;
    /// let (runnable, task) = rawtask::spawn(async { "out" }, |_| {});
    /// let mut task = task.on_finish(|| {});
    /// assert_eq!(task.try_take(), Poll::Pending);
    /// drop(runnable); // cancels the task before it ran
    /// assert_eq!(task.try_take(), Poll::Ready(None));
    /// ```
    pub fn try_take(&mut self) -> Poll<Option<T>> {
        self.task.try_take()
    }

    /// Whether the task has finished: completed, or cancelled with its future dropped. Once it
    /// is, the callback has run or is running.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async {}, |_| {});
    /// let task = task.on_finish(|| {});
    /// assert!(!task.is_finished());
    /// runnable.run();
    /// assert!(task.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.is_finished_for_good()
    }

    /// Cancels the task but keeps the handle: the executor drops the future (an idle task is
    /// handed to its schedule function one last time, here, for that), and the callback runs
    /// once it has. If the task had completed already, the output stays for
    /// [`try_take`](Self::try_take).
    ///
    /// ```
    /// use std::task::Poll;
    /// let (s, r) = std::sync::mpsc::channel();
    /// let (runnable, task) = rawtask::spawn(std::future::pending::<u8>(), move |r| s.send(r).unwrap());
    /// runnable.run(); // polled once, now idle
    /// let mut task = task.on_finish(|| {});
    /// task.cancel(); // schedules the task so that the executor drops its future
    /// assert_eq!(task.try_take(), Poll::Pending);
    /// r.recv().unwrap().run(); // drops the future: the callback runs
    /// assert_eq!(task.try_take(), Poll::Ready(None));
    /// ```
    pub fn cancel(&mut self) {
        self.task.set_canceled();
    }

    /// Gives up the handle and lets the task run to completion; its output is dropped. The
    /// callback still runs when the task finishes.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// let (done, finished) = std::sync::mpsc::channel();
    /// task.on_finish(move || done.send(()).unwrap()).detach();
    /// runnable.run();
    /// finished.recv().unwrap();
    /// ```
    pub fn detach(self) {
        self.task.detach();
    }

    /// The task's data slot.
    ///
    /// ```
    /// let (_runnable, task) = rawtask::spawn_with(async {}, |_| {}, 5u8);
    /// assert_eq!(*task.on_finish(|| {}).metadata(), 5);
    /// ```
    pub fn metadata(&self) -> &M {
        self.task.metadata()
    }
}

impl<T, M: fmt::Debug> fmt::Debug for CallbackTask<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackTask")
            .field("task", &self.task)
            .finish()
    }
}

/// Calls `callback` exactly once, when the watched task finishes (at once if it has): the
/// mechanism of [`Task::on_finish`], for handles that keep the `Task` elsewhere (the C API's
/// handle table). The watcher must be the task's only registrar (rule 13).
pub(crate) fn call_when_finished<F>(watcher: Watcher, callback: F)
where
    F: FnOnce() + Send + 'static,
{
    let finish = Arc::new(FinishCallback {
        watcher,
        callback: Mutex::new(Some(callback)),
    });
    finish.look();
}

/// The callback of a [`CallbackTask`], with the watcher that waits for the task. An `Arc` of it
/// is the waker left in the task's awaiter slot.
struct FinishCallback<F> {
    watcher: Watcher,
    /// Taken by the one call.
    callback: Mutex<Option<F>>,
}

impl<F: FnOnce() + Send + 'static> FinishCallback<F> {
    /// Calls back if the task has finished; otherwise waits for it with this `Arc` as the
    /// awaiter (calling back at once if it finished meanwhile).
    fn look(self: &Arc<Self>) {
        if self.watcher.is_finished() {
            return self.call();
        }
        let waker = Waker::from(self.clone());
        // SAFETY: registrations of this watcher form one chain (rule 14): the first happens
        // in `on_finish` before any waker exists in the slot, and every later one in the wake
        // of the waker the previous one left there, which the wake has taken out.
        if unsafe { self.watcher.register_finished(&waker) }.is_ready() {
            self.call();
        }
    }

    /// Runs the callback unless it already ran.
    fn call(&self) {
        let callback = crate::sync::lock(&self.callback).take();
        if let Some(callback) = callback {
            callback();
        }
    }
}

impl<F: FnOnce() + Send + 'static> Wake for FinishCallback<F> {
    fn wake(self: Arc<Self>) {
        self.look();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.look();
    }
}
