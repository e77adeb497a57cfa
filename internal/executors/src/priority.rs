//! A priority executor: each task carries its [`Priority`] in its rawtask data slot, and the
//! highest-priority runnable always runs first (first come, first served among equals).
//!
//! The priority is stored once, in the task allocation, by
//! `Builder::new().metadata(Priority(p)).spawn(..)`. The schedule function reads it back with
//! [`Runnable::metadata`] every time the task is woken, to place the runnable in a binary
//! heap; no side table maps tasks to priorities. (C code would read the same byte at
//! [`rawtask::DATA_OFFSET`] from the task pointer.)
//!
//! Tasks run on the thread that calls [`Executor::block_on`]; they can be woken and spawned
//! from any thread through a [`Spawner`]. The heap sits behind a mutex, together with a
//! `closed` flag that shutdown sets, so that a runnable scheduled after shutdown is dropped
//! (by [`drop_later`](crate::drop_later), cancelling its task) instead of being left in the
//! heap.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use rawtask_executors::priority::{Executor, Priority};
//!
//! let ex = Executor::new();
//! let order = Arc::new(Mutex::new(Vec::new()));
//! for p in [1, 9, 5] {
//!     let order = order.clone();
//!     ex.spawn(Priority(p), async move { order.lock().unwrap().push(p) }).detach();
//! }
//! ex.run_pending();
//! assert_eq!(*order.lock().unwrap(), [9, 5, 1]);
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{self, AtomicBool};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use crossbeam_utils::sync::{Parker, Unparker};
use rawtask::{Builder, Runnable, Task};

/// A task's priority: higher runs first. It lives in the task's data slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Priority(pub u8);

/// A priority executor that runs its tasks on the thread calling
/// [`block_on`](Self::block_on) or [`run_pending`](Self::run_pending).
#[derive(Debug)]
pub struct Executor {
    queue: Arc<Queue>,
    /// Where the running thread sleeps; the queue holds the matching unparker.
    parker: Parker,
}

/// Spawns onto an [`Executor`] from any thread or task. Once the executor is dropped, spawning
/// returns an already cancelled `Task`.
#[derive(Clone, Debug)]
pub struct Spawner {
    queue: Arc<Queue>,
}

#[derive(Debug)]
struct Queue {
    state: Mutex<State>,
    /// Wakes the thread that runs the executor when a runnable arrives.
    unparker: Unparker,
}

#[derive(Debug, Default)]
struct State {
    heap: BinaryHeap<Entry>,
    /// Stamps entries in arrival order, for first come, first served among equals.
    next_seq: u64,
    /// Set by shutdown: from then on runnables are dropped rather than queued.
    closed: bool,
}

/// A queued runnable, ordered by priority and then by arrival.
#[derive(Debug)]
struct Entry {
    /// Copied from the data slot when queued, so that the heap's order can never change
    /// under it.
    priority: Priority,
    seq: u64,
    runnable: Runnable<Priority>,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // `BinaryHeap` pops the greatest: the highest priority, then the *smallest* seq.
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl Default for Executor {
    fn default() -> Self {
        Executor::new()
    }
}

impl Executor {
    /// Creates an executor with an empty queue.
    pub fn new() -> Executor {
        let parker = Parker::new();
        let queue = Arc::new(Queue {
            state: Mutex::new(State::default()),
            unparker: parker.unparker().clone(),
        });
        Executor { queue, parker }
    }

    /// A handle that spawns onto this executor from any thread or task.
    pub fn spawner(&self) -> Spawner {
        Spawner {
            queue: self.queue.clone(),
        }
    }

    /// Spawns `future` with `priority`; see [`Spawner::spawn`].
    pub fn spawn<F>(&self, priority: Priority, future: F) -> Task<F::Output, Priority>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn(&self.queue, priority, future)
    }

    /// Runs `future` to completion on this thread. Whenever it is pending, the thread runs
    /// queued tasks, highest priority first, and sleeps when there are none. The future is
    /// polled again as soon as it is woken, before any further task.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            unparker: self.queue.unparker.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if main.woken.swap(false, atomic::Ordering::SeqCst) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            match self.queue.pop() {
                Some(runnable) => {
                    runnable.run();
                }
                // Both a push and the main waker unpark us; an unpark that came before this
                // `park` makes it return at once.
                None => self.parker.park(),
            }
        }
    }

    /// Runs queued tasks, highest priority first, until the queue is empty (tasks that keep
    /// waking themselves keep it running). Returns how many runnables it ran.
    pub fn run_pending(&self) -> usize {
        let mut ran = 0;
        while let Some(runnable) = self.queue.pop() {
            runnable.run();
            ran += 1;
        }
        ran
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Close the queue and take its contents under the lock: any later `push` sees
        // `closed` and drops its runnable, so nothing is left in the heap.
        let heap = {
            let mut state = self.queue.lock();
            state.closed = true;
            std::mem::take(&mut state.heap)
        };
        // Drop them outside the lock: dropping a runnable drops its future, which may wake
        // other tasks, whose schedule function locks the queue.
        drop(heap);
    }
}

impl Spawner {
    /// Spawns `future` with `priority` in its data slot and queues it. Panics in the future
    /// are caught and re-raised where the returned `Task` is awaited; the `Task` can read the
    /// priority back with [`Task::metadata`].
    pub fn spawn<F>(&self, priority: Priority, future: F) -> Task<F::Output, Priority>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn(&self.queue, priority, future)
    }
}

fn spawn<F>(queue: &Arc<Queue>, priority: Priority, future: F) -> Task<F::Output, Priority>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let queue = queue.clone();
    let (runnable, task) = Builder::new()
        .metadata(priority)
        .propagate_panic(true)
        .spawn(|_| future, move |runnable| queue.push(runnable));
    runnable.schedule();
    task
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Only heap operations run under the lock; be robust to poisoning all the same.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The schedule function: read the priority from the data slot and queue the runnable.
    fn push(&self, runnable: Runnable<Priority>) {
        let priority = *runnable.metadata();
        let mut state = self.lock();
        if state.closed {
            drop(state);
            // Cancels the task, but not inside this `wake` (see the crate docs).
            crate::drop_later(runnable);
            return;
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.heap.push(Entry {
            priority,
            seq,
            runnable,
        });
        drop(state);
        self.unparker.unpark();
    }

    fn pop(&self) -> Option<Runnable<Priority>> {
        self.lock().heap.pop().map(|entry| entry.runnable)
    }
}

/// The waker of the future that [`Executor::block_on`] drives.
struct MainWaker {
    woken: AtomicBool,
    unparker: Unparker,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, atomic::Ordering::SeqCst);
        self.unparker.unpark();
    }
}
