//! A single-threaded executor whose run queue is a flume channel.
//!
//! The whole executor is three ideas:
//!
//! 1. **The schedule function sends the `Runnable` into the channel.** rawtask calls it when
//!    the task is spawned (`runnable.schedule()`) and whenever a waker wakes the task, on any
//!    thread.
//! 2. **The run loop receives runnables and runs them.** [`Executor::block_on`] does that on
//!    the calling thread until the future it was given is done; the future's own waker sends a
//!    `None` message into the same channel, so one blocking `recv` waits for both kinds of
//!    event.
//! 3. **Shutdown closes the channel, then drains it.** The schedule functions hold *weak*
//!    senders, so dropping the executor's one strong sender closes the channel: from then on
//!    a woken task's runnable is dropped (by [`drop_later`](crate::drop_later)), which
//!    cancels the task. Receiving until
//!    the channel reports "disconnected" drops every runnable still queued, so a runnable
//!    (which holds its schedule function, which holds a sender) can never keep the channel
//!    alive in a cycle.
//!
//! ```
//! use rawtask_executors::single::Executor;
//!
//! let ex = Executor::new();
//! let spawner = ex.spawner();
//! let answer = ex.block_on(async move {
//!     let task = spawner.spawn(async { 6 * 7 });
//!     task.await
//! });
//! assert_eq!(answer, 42);
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use flume::{Receiver, Sender, WeakSender};
use rawtask::{Builder, Runnable, Task};

/// What travels through the channel: a task to run, or `None` when the future passed to
/// [`Executor::block_on`] was woken. (`Option<Runnable>` is one pointer: no extra cost.)
type Message = Option<Runnable>;

/// A single-threaded executor. Tasks run on the thread that calls [`block_on`](Self::block_on)
/// or [`run_pending`](Self::run_pending); they may be woken, and spawned through a
/// [`Spawner`], from any thread.
///
/// The executor is not `Send`, so that the `!Send` futures of [`spawn_local`](Self::spawn_local)
/// always run on the thread that spawned them.
#[derive(Debug)]
pub struct Executor {
    /// The only strong sender of the channel, `None` once shutdown has begun.
    sender: Option<Sender<Message>>,
    receiver: Receiver<Message>,
    spawner: Spawner,
    /// Keeps the executor on its thread (`Rc` is neither `Send` nor `Sync`).
    _not_send: PhantomData<Rc<()>>,
}

/// Spawns tasks onto an [`Executor`] from anywhere: a cheap, `Send + Sync` handle.
///
/// Once the executor is dropped, spawning still returns a `Task`, already cancelled: awaiting it
/// panics, and `task.fallible().await` returns `None`.
#[derive(Clone, Debug)]
pub struct Spawner {
    sender: WeakSender<Message>,
}

impl Default for Executor {
    fn default() -> Self {
        Executor::new()
    }
}

impl Executor {
    /// Creates an executor with an empty run queue.
    pub fn new() -> Executor {
        let (sender, receiver) = flume::unbounded();
        let spawner = Spawner {
            sender: sender.downgrade(),
        };
        Executor {
            sender: Some(sender),
            receiver,
            spawner,
            _not_send: PhantomData,
        }
    }

    /// A handle that spawns onto this executor from any thread or task.
    pub fn spawner(&self) -> Spawner {
        self.spawner.clone()
    }

    /// Spawns a `Send` future; it runs when this thread runs the executor.
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawner.spawn(future)
    }

    /// Spawns a future that need not be `Send`: it is polled on this thread only.
    pub fn spawn_local<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let (runnable, task) = Builder::new()
            .propagate_panic(true)
            .spawn_local(|()| future, self.spawner.schedule_fn());
        runnable.schedule();
        task
    }

    /// Runs `future` to completion on this thread, running the executor's tasks meanwhile.
    ///
    /// Between two polls of `future` the thread runs tasks in the order they were scheduled,
    /// and sleeps in `recv` when there are none. Calling `block_on` from inside one of this
    /// executor's tasks blocks forever; use `.await` there.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let main = Arc::new(MainWaker {
            sender: self.spawner.sender.clone(),
            notified: AtomicBool::new(false),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            // Run tasks until the main future's waker sends its `None`. `recv` cannot fail:
            // `self.sender` keeps the channel open while the executor lives.
            while let Ok(Some(runnable)) = self.receiver.recv() {
                runnable.run();
            }
            // Clear the flag before polling, so a wake during the poll sends a new `None`.
            main.notified.store(false, Ordering::SeqCst);
        }
    }

    /// Runs the runnables that are queued now, without waiting; those scheduled meanwhile
    /// (a task that yields, say) wait for the next call. Returns how many were run.
    pub fn run_pending(&self) -> usize {
        let mut ran = 0;
        let queued = self.receiver.len();
        // `flatten` skips the `None`s: no `block_on` is waiting for them.
        for runnable in self.receiver.try_iter().take(queued).flatten() {
            runnable.run();
            ran += 1;
        }
        ran
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Close the channel: the schedule functions' weak senders no longer upgrade, so a
        // task woken from now on has its runnable dropped (by `drop_later`), which cancels it.
        drop(self.sender.take());
        // Drop every queued runnable. A schedule function that upgraded its sender just
        // before may still send one more; `recv` reports an error only once the queue is empty
        // *and* no sender is left, so that one is received and dropped here too. Dropping a
        // runnable drops its future, which may wake other tasks: their runnables go to
        // `drop_later`.
        while let Ok(message) = self.receiver.recv() {
            drop(message);
        }
    }
}

impl Spawner {
    /// The schedule function shared by every task of the executor: one weak pointer.
    fn schedule_fn(&self) -> impl Fn(Runnable) + Send + Sync + 'static {
        let sender = self.sender.clone();
        move |runnable| {
            // If the executor is gone (or going), `upgrade` fails: the runnable cannot be
            // queued, and dropping it cancels the task. Not here, though (see the crate docs).
            match sender.upgrade() {
                Some(sender) => {
                    if let Err(flume::SendError(message)) = sender.send(Some(runnable)) {
                        crate::drop_later(message);
                    }
                }
                None => crate::drop_later(runnable),
            }
        }
    }

    /// Spawns a `Send` future onto the executor. Its panics are caught and re-raised where
    /// the `Task` is awaited.
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, task) = Builder::new()
            .propagate_panic(true)
            .spawn(|()| future, self.schedule_fn());
        // The first schedule: into the queue.
        runnable.schedule();
        task
    }
}

/// The waker of the future that [`Executor::block_on`] drives: it sends `None` into the run
/// queue, once per poll however often it is woken.
struct MainWaker {
    sender: WeakSender<Message>,
    notified: AtomicBool,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.notified.swap(true, Ordering::SeqCst) {
            if let Some(sender) = self.sender.upgrade() {
                let _ = sender.send(None);
            }
        }
    }
}
