//! [`JoinSet`]: a group of tasks whose outputs come back in the order the tasks finish.
//!
//! rawtask has no runtime, so the set does not schedule anything: it takes the [`Task`] half of
//! each spawn and hands the [`Runnable`] half back to the caller's executor. Each task gets a
//! completion record ([`ready::Entry`]) that goes on the set's lock-free ready list when the
//! task finishes: a task the set spawns reports through its future (`reporting`), one spawned
//! elsewhere is watched through its awaiter slot. The handles themselves stay in the set,
//! which only `&mut self` touches; the records are reused, so a steady stream of spawns
//! allocates only the tasks.

mod ready;
mod reporting;

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::mem;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use std::sync::Arc;

use self::ready::{Batch, Entry, ReadyList, Spare};
use self::reporting::Reporting;
use crate::raw::watcher::Watcher;
use crate::runnable::Runnable;
use crate::schedule::Schedule;
use crate::task::Task;

/// A set of tasks whose outputs are joined in completion order, like tokio's `JoinSet`, over
/// any executor.
///
/// The set keeps each task's [`Task`] handle; [`spawn`](Self::spawn) returns the
/// [`Runnable`] for the caller to schedule, exactly as [`crate::spawn`] does. Tasks spawned any
/// other way (a [`Builder`](crate::Builder) with a data slot, an allocator or an identity,
/// [`spawn_local`](crate::spawn_local), `try_spawn`) join the set with
/// [`insert`](Self::insert).
///
/// [`join_next`](Self::join_next) yields the output of the next task to complete. A task that
/// ends without an output (cancelled by [`abort_all`](Self::abort_all) or by dropping its
/// `Runnable`, or panicked without [`propagate_panic`](crate::Builder::propagate_panic)) is
/// skipped and counted in [`cancelled_count`](Self::cancelled_count); a propagated panic is
/// re-raised by `join_next`. Dropping the set cancels every task still in it.
///
/// Each task costs its own allocation; the set keeps the completion records of joined tasks
/// for the next ones, so it allocates only while it grows.
///
/// ```
/// use futures_lite::future::block_on;
///
/// let (sender, receiver) = flume::unbounded();
/// let mut set = rawtask::JoinSet::new();
/// for i in 0..3u32 {
///     let sender = sender.clone();
///     set.spawn(async move { i * 10 }, move |r| sender.send(r).unwrap()).schedule();
/// }
/// // Run the tasks in reverse: the outputs come back in that (completion) order.
/// let mut queue: Vec<rawtask::Runnable> = receiver.try_iter().collect();
/// while let Some(runnable) = queue.pop() {
///     runnable.run();
/// }
/// assert_eq!(block_on(set.join_next()), Some(20));
/// assert_eq!(block_on(set.join_next()), Some(10));
/// assert_eq!(block_on(set.join_next()), Some(0));
/// assert_eq!(block_on(set.join_next()), None); // empty
/// ```
pub struct JoinSet<T, M = ()> {
    /// The handles, by slot index; a free slot links to the next free one.
    slots: Vec<Slot<T, M>>,
    /// The first free slot, or `NONE`.
    free: usize,
    /// Tasks in the set (busy slots).
    len: usize,
    /// Finished entries already taken off `ready`, in completion order.
    finished: Batch<T>,
    /// Completion records of joined tasks, for the next ones.
    spare: Vec<Spare<T>>,
    /// Tasks skipped by `join_next` because they ended without an output.
    cancelled: usize,
    ready: Arc<ReadyList<T>>,
}

/// The end of the free list.
const NONE: usize = usize::MAX;

enum Slot<T, M> {
    /// A task spawned elsewhere, watched; its output is in the task.
    Watched(Task<T, M>),
    /// A task the set spawned around a [`Reporting`] future; its output comes in its entry.
    Reporting(Task<()>),
    Free(usize),
}

impl<T> JoinSet<T> {
    /// Spawns `future` into the set with `schedule` as its schedule function, as
    /// [`crate::spawn`] does, and returns its `Runnable` for the caller to schedule (or run).
    ///
    /// ```
    /// let mut set = rawtask::JoinSet::new();
    /// let runnable = set.spawn(async { "out" }, |_| {});
    /// runnable.run();
    /// assert_eq!(set.try_join_next(), Some("out"));
    /// ```
    pub fn spawn<F, S>(&mut self, future: F, schedule: S) -> Runnable
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
        S: Schedule + Send + Sync + 'static,
    {
        let index = self.free_slot();
        let entry = self.entry(index, None);
        let (runnable, task) = crate::builder::spawn(Reporting::new(future, entry), schedule);
        self.fill(index, Slot::Reporting(task));
        runnable
    }

    /// Spawns a future that is not `Send`, as [`crate::spawn_local`] does, and returns its
    /// `Runnable`. The set itself stays `Send` when `T` is.
    ///
    /// ```
    /// use std::rc::Rc;
    /// let mut set = rawtask::JoinSet::new();
    /// let shared = Rc::new(5);
    /// set.spawn_local(async move { *shared + 1 }, |_| {}).run();
    /// assert_eq!(set.try_join_next(), Some(6));
    /// ```
    pub fn spawn_local<F, S>(&mut self, future: F, schedule: S) -> Runnable
    where
        F: Future<Output = T> + 'static,
        T: 'static,
        S: Schedule + Send + Sync + 'static,
    {
        let (runnable, task) = crate::builder::spawn_local(future, schedule);
        self.insert(task);
        runnable
    }
}

impl<T, M> JoinSet<T, M> {
    /// An empty set. It allocates only its shared list.
    ///
    /// ```
    /// let set = rawtask::JoinSet::<u8>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> Self {
        JoinSet {
            slots: Vec::new(),
            free: NONE,
            len: 0,
            finished: Batch::default(),
            spare: Vec::new(),
            cancelled: 0,
            ready: ReadyList::new(),
        }
    }

    /// Adds a task spawned elsewhere (any [`Builder`](crate::Builder) configuration or
    /// `spawn` function) to the set. The set owns the handle from now on: it never polls it
    /// with a waker, and its completion record reports the task to
    /// [`join_next`](Self::join_next) (at once if it has already finished).
    ///
    /// ```
    /// let mut set = rawtask::JoinSet::new();
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .metadata(7u8)
    ///     .spawn(|slot: &u8| { let n = *slot; async move { n * 2 } }, |_| {});
    /// set.insert(task);
    /// runnable.run();
    /// assert_eq!(set.try_join_next(), Some(14));
    /// ```
    pub fn insert(&mut self, task: Task<T, M>) {
        let index = self.free_slot();
        // Rule 13: the set never polls the handle, so the watcher is the only registrar.
        let entry = self.entry(index, Some(task.watcher()));
        self.fill(index, Slot::Watched(task));
        // The entry may be pushed right here (the task has finished already): `join_next`
        // reads it after the slot above is filled.
        entry.watch();
    }

    /// The first free slot (made if there is none); `fill` takes it.
    fn free_slot(&mut self) -> usize {
        match self.free {
            NONE => {
                self.slots.push(Slot::Free(NONE));
                self.slots.len() - 1
            }
            index => index,
        }
    }

    /// Puts a task in the slot `free_slot` returned.
    fn fill(&mut self, index: usize, slot: Slot<T, M>) {
        if let Slot::Free(next) = mem::replace(&mut self.slots[index], slot) {
            self.free = next;
        }
        self.len += 1;
    }

    /// A completion record for the task in slot `index`: a spare one if there is.
    fn entry(&mut self, index: usize, watcher: Option<Watcher>) -> Arc<Entry<T>> {
        match self.spare.pop() {
            Some(spare) => spare.reuse(index, watcher),
            None => Entry::new(&self.ready, index, watcher),
        }
    }

    /// The number of tasks in the set: running, or finished and not yet joined.
    ///
    /// ```
    /// let mut set = rawtask::JoinSet::new();
    /// let runnable = set.spawn(async {}, |_| {});
    /// assert_eq!(set.len(), 1);
    /// runnable.run();
    /// assert_eq!(set.len(), 1); // finished, not joined
    /// assert_eq!(set.try_join_next(), Some(()));
    /// assert_eq!(set.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no task.
    ///
    /// ```
    /// let mut set = rawtask::JoinSet::new();
    /// assert!(set.is_empty());
    /// let _runnable = set.spawn(async {}, |_| {});
    /// assert!(!set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many tasks `join_next` and `try_join_next` have skipped so far because they ended
    /// without an output: cancelled (by [`abort_all`](Self::abort_all), or by dropping the
    /// `Runnable`), or panicked without panic propagation.
    ///
    /// ```
    /// let mut set = rawtask::JoinSet::new();
    /// drop(set.spawn(async { 1 }, |_| {})); // dropping the Runnable cancels the task
    /// assert_eq!(set.try_join_next(), None);
    /// assert_eq!(set.cancelled_count(), 1);
    /// assert!(set.is_empty());
    /// ```
    pub fn cancelled_count(&self) -> usize {
        self.cancelled
    }

    /// Waits for the next task to complete and returns its output; `None` once the set is
    /// empty. Outputs come in completion order. Tasks that end without an output are skipped
    /// (see [`cancelled_count`](Self::cancelled_count)); a panic stored with
    /// [`propagate_panic`](crate::Builder::propagate_panic) is re-raised here.
    ///
    /// Cancel-safe: dropping the future loses no output.
    ///
    /// ```
    /// use futures_lite::future::block_on;
    /// let (sender, receiver) = flume::unbounded();
    /// let mut set = rawtask::JoinSet::new();
    /// set.spawn(async { 1 }, move |r| sender.send(r).unwrap()).schedule();
    /// let runner = std::thread::spawn(move || receiver.recv().unwrap().run());
    /// assert_eq!(block_on(set.join_next()), Some(1));
    /// assert_eq!(block_on(set.join_next()), None);
    /// runner.join().unwrap();
    /// ```
    pub fn join_next(&mut self) -> JoinNext<'_, T, M> {
        JoinNext { set: self }
    }

    /// [`join_next`](Self::join_next) as a poll function, for hand-written futures.
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    /// let mut set = rawtask::JoinSet::new();
    /// let runnable = set.spawn(async { 3 }, |_| {});
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(set.poll_join_next(&mut cx), Poll::Pending);
    /// runnable.run();
    /// assert_eq!(set.poll_join_next(&mut cx), Poll::Ready(Some(3)));
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.next_output(Some(cx.waker()))
    }

    /// The output of a task that has completed, without waiting: `None` when no task in the
    /// set has completed (the set may still hold running ones) or the set is empty.
    ///
    /// ```
    /// let mut set = rawtask::JoinSet::new();
    /// let runnable = set.spawn(async { 'x' }, |_| {});
    /// assert_eq!(set.try_join_next(), None); // not run yet
    /// runnable.run();
    /// assert_eq!(set.try_join_next(), Some('x'));
    /// ```
    pub fn try_join_next(&mut self) -> Option<T> {
        match self.next_output(None) {
            Poll::Ready(output) => output,
            Poll::Pending => None,
        }
    }

    /// Cancels every task in the set. The tasks stay in the set until they have finished (an
    /// idle task is handed to its schedule function once more so the executor drops its
    /// future); `join_next` still yields the outputs of those that had completed already.
    ///
    /// ```
    /// use futures_lite::future::block_on;
    /// let (sender, receiver) = flume::unbounded();
    /// let mut set = rawtask::JoinSet::new();
    /// let s = sender.clone();
    /// set.spawn(std::future::pending::<u8>(), move |r| s.send(r).unwrap()).run(); // now idle
    /// set.spawn(async { 2 }, move |r| sender.send(r).unwrap()).run(); // completed
    /// set.abort_all(); // schedules the idle task so its future gets dropped
    /// for runnable in receiver.try_iter() {
    ///     runnable.run();
    /// }
    /// assert_eq!(block_on(set.join_next()), Some(2));
    /// assert_eq!(block_on(set.join_next()), None);
    /// assert_eq!(set.cancelled_count(), 1);
    /// ```
    pub fn abort_all(&mut self) {
        for slot in &mut self.slots {
            match slot {
                Slot::Watched(task) => {
                    task.set_canceled();
                }
                Slot::Reporting(task) => {
                    task.set_canceled();
                }
                Slot::Free(_) => {}
            }
        }
    }

    /// Removes every task from the set and lets them run to completion; their outputs are
    /// dropped.
    ///
    /// ```
    /// let (sender, receiver) = flume::unbounded();
    /// let mut set = rawtask::JoinSet::new();
    /// set.spawn(async { println!("still runs") }, move |r| sender.send(r).unwrap()).schedule();
    /// set.detach_all();
    /// assert!(set.is_empty());
    /// receiver.recv().unwrap().run();
    /// ```
    pub fn detach_all(&mut self) {
        // The records of the detached tasks keep the old list, closed, and push nothing.
        let old = mem::replace(&mut self.ready, ReadyList::new());
        drop(old.close());
        let slots = mem::take(&mut self.slots);
        self.free = NONE;
        self.len = 0;
        self.finished = Batch::default();
        self.spare.clear();
        for slot in slots {
            match slot {
                Slot::Watched(task) => task.detach(),
                Slot::Reporting(task) => task.detach(),
                Slot::Free(_) => {}
            }
        }
    }

    /// Cancels every task and waits until all of them have finished (their futures dropped);
    /// the outputs of tasks that had completed are dropped. The set is empty afterwards.
    ///
    /// ```
    /// use futures_lite::future::block_on;
    /// let (sender, receiver) = flume::unbounded();
    /// let mut set = rawtask::JoinSet::new();
    /// set.spawn(std::future::pending::<()>(), move |r| sender.send(r).unwrap()).run();
    /// let executor = std::thread::spawn(move || {
    ///     for runnable in receiver.iter() {
    ///         runnable.run();
    ///     }
    /// });
    /// block_on(set.shutdown());
    /// assert!(set.is_empty());
    /// drop(set);
    /// executor.join().unwrap();
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// The next joined output; `waker` is registered when nothing is ready (`None`: don't wait).
    fn next_output(&mut self, waker: Option<&Waker>) -> Poll<Option<T>> {
        loop {
            if self.finished.is_empty() {
                if self.len == 0 {
                    return Poll::Ready(None);
                }
                // The whole list at once, so that a run of `join_next` calls takes it once.
                self.finished = self.ready.take(waker);
            }
            let Some(entry) = self.finished.pop() else {
                return Poll::Pending;
            };
            let index = entry.index();
            let slot = mem::replace(&mut self.slots[index], Slot::Free(self.free));
            self.free = index;
            self.len -= 1;
            let output = match slot {
                Slot::Reporting(task) => {
                    // SAFETY: the slot's entry reports: the set holds its only handle.
                    let output = unsafe { entry.take_output() };
                    // SAFETY: as above, with the output taken.
                    self.spare.push(unsafe { Entry::recycle_reported(entry) });
                    // The future is gone; the task may still be leaving its `run`.
                    drop(task);
                    output
                }
                Slot::Watched(mut task) => {
                    if let Some(spare) = Entry::recycle(entry, &self.ready) {
                        self.spare.push(spare);
                    }
                    // The entry was pushed, so the task has finished: never `Pending`. A
                    // propagated panic unwinds from here, with the set already consistent.
                    match task.try_take() {
                        Poll::Ready(output) => output,
                        Poll::Pending => None,
                    }
                }
                Slot::Free(_) => unreachable!("rawtask: a JoinSet slot finished twice"),
            };
            match output {
                Some(output) => return Poll::Ready(Some(output)),
                None => self.cancelled += 1,
            }
        }
    }
}

impl<T, M> Default for JoinSet<T, M> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T, M> Drop for JoinSet<T, M> {
    /// Cancels every task still in the set (their records then push nothing).
    fn drop(&mut self) {
        drop(self.ready.close());
        // The handles drop with the field, cancelling their tasks.
    }
}

impl<T, M> fmt::Debug for JoinSet<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.len)
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

/// The future of [`JoinSet::join_next`].
///
/// ```
/// let mut set = rawtask::JoinSet::<u8>::new();
/// let next: rawtask::JoinNext<'_, u8> = set.join_next();
/// assert_eq!(futures_lite::future::block_on(next), None);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct JoinNext<'a, T, M = ()> {
    set: &'a mut JoinSet<T, M>,
}

impl<T, M> Future for JoinNext<'_, T, M> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().set.poll_join_next(cx)
    }
}

impl<T, M> fmt::Debug for JoinNext<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinNext").field("set", &self.set).finish()
    }
}
