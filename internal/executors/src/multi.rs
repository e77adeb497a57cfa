//! A multi-threaded work-stealing executor.
//!
//! # Where a woken task goes
//!
//! Each worker thread owns a FIFO queue (a crossbeam-deque [`Worker`]) that other workers can
//! steal from, and a one-task **LIFO slot**. The schedule function, which rawtask calls on
//! whatever thread wakes the task, decides:
//!
//! | who wakes the task | [`ScheduleInfo::woken_while_running`] | goes to |
//! |---|---|---|
//! | another task running on this worker (or a spawn from one) | `false` | the LIFO slot (its previous occupant moves to the back of the local queue) |
//! | the task itself while it runs (a yield), or anyone while it runs | `true` | the worker's **deferred** list, run after the queues (see below) |
//! | any thread that is not one of this executor's workers | — | the global [`Injector`] |
//!
//! The LIFO slot runs a task that was just woken by the task that ran before it, typically the
//! receiver of a message just sent, while the data it needs is still in the cache. Two tasks
//! that keep waking each other would then own the worker forever, so after
//! [`MAX_LIFO_POLLS`] polls in a row from the slot the worker takes from its queue instead.
//! The slot cannot be stolen from; everything else can.
//!
//! A task woken while it runs has, almost always, just yielded: it asks to let the others run
//! first, and has no data waiting in the cache. Such tasks go to a plain `Vec` of the worker
//! (no atomic operation and no wake-up of another worker per yield, which made a yield cost
//! twice a spawn) and get the lowest priority: the worker moves them, in order, to its queue
//! only when its LIFO slot, its queue and the global queue are all empty, or every
//! [`GLOBAL_QUEUE_INTERVAL`] runs so that local work that never runs out cannot starve them.
//! So a burst of spawns from outside is not stuck behind tasks that yield in a loop (tokio
//! gives the same low priority to its `yield_now`).
//!
//! # Finding work
//!
//! A worker takes, in order: a batch of the global queue (and its deferred tasks) once every
//! [`GLOBAL_QUEUE_INTERVAL`] runs (so that neither is starved by local work), the LIFO slot,
//! its own queue, a batch of the global queue, then, if it has deferred tasks, one pass of
//! stealing from the other workers and its deferred tasks; else it *searches*: it
//! steals a batch from the injector or from another worker, spinning with a [`Backoff`]. If
//! that finds nothing, it parks. Batches go to the worker's own queue, where other workers
//! can steal them back.
//!
//! # Sleeping without losing wake-ups
//!
//! Two counters, each on its own cache line ([`CachePadded`]), tell who may pick up new
//! work: `searching` workers and `sleeping` ones. Whoever pushes a runnable that another
//! worker could take calls `Shared::notify`, which wakes a sleeping worker only when no
//! worker is searching (a searcher will find the runnable anyway).
//!
//! The race to get right: a worker decides to sleep just as a runnable is pushed. The rule
//! that closes it is the classic store-then-load on both sides, with `SeqCst` fences between:
//!
//! - the pusher **pushes, then reads** the counters;
//! - the worker **registers as sleeping (and stops searching), then looks at every queue
//!   once more** before it parks.
//!
//! Either the pusher sees the worker's registration and unparks it, or the worker's last look
//! sees the runnable. A searcher that finds work and was the last searcher wakes one more
//! worker, since a pusher may have skipped the wake-up because of it. A [`Parker`] keeps an
//! unpark that comes before `park` as a token, so that one is never lost either.
//!
//! # Shutdown
//!
//! Dropping the [`Executor`] sets the `shutdown` flag, unparks every worker and joins them.
//! Each worker drops the runnables in its LIFO slot and queue on the way out; then the
//! injector is drained. A task woken after that has its runnable dropped (by
//! [`drop_later`](crate::drop_later)), which cancels the task.
//!
//! Like any executor that does not keep a list of all its tasks, it cannot cancel a task that
//! is waiting (not scheduled) and whose only wakers are held by other waiting tasks: such a
//! cycle stays in memory until something outside it wakes or drops one of those wakers.
//! (tokio and async-executor keep such a list and cancel every task at shutdown, at the cost
//! of a locked insertion and removal per task.)
//!
//! ```
//! use rawtask_executors::{block_on, multi::Executor};
//!
//! let ex = Executor::new(2);
//! let handle = ex.handle();
//! let sum = block_on(ex.spawn(async move {
//!     let tasks: Vec<_> = (1..=10u64).map(|i| handle.spawn(async move { i * i })).collect();
//!     let mut sum = 0;
//!     for task in tasks {
//!         sum += task.await;
//!     }
//!     sum
//! }));
//! assert_eq!(sum, 385);
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::sync::{Parker, Unparker};
use crossbeam_utils::{Backoff, CachePadded};
use rawtask::{Builder, Runnable, ScheduleInfo, Task, WithInfo};

/// Polls in a row that a worker takes from its LIFO slot before it must take the front of its
/// queue (tokio uses the same limit).
pub const MAX_LIFO_POLLS: u32 = 3;

/// A worker looks at the global queue before its own once every this many runs.
pub const GLOBAL_QUEUE_INTERVAL: u32 = 61;

/// A multi-threaded work-stealing executor. Dropping it shuts it down: see the
/// [module docs](self).
#[derive(Debug)]
pub struct Executor {
    handle: Handle,
    threads: Vec<JoinHandle<()>>,
}

/// A cheap handle that spawns onto an [`Executor`] from anywhere, including its own tasks.
///
/// Once the executor is dropped, spawning still returns a `Task`, already cancelled.
#[derive(Clone, Debug)]
pub struct Handle {
    shared: Arc<Shared>,
}

/// What the workers, the handles and every task's schedule function share.
struct Shared {
    /// Runnables scheduled from outside the workers.
    injector: Injector<Runnable>,
    /// The stealing ends of the workers' queues, by worker index.
    stealers: Box<[Stealer<Runnable>]>,
    /// Unparks worker `i`.
    unparkers: Box<[Unparker]>,
    /// Workers looking for work. A pusher does not wake a sleeper while this is non-zero.
    searching: CachePadded<AtomicUsize>,
    /// `sleepers.len()`, readable without the lock.
    sleeping: CachePadded<AtomicUsize>,
    /// Indices of the parked (or about to park) workers.
    sleepers: Mutex<Vec<usize>>,
    shutdown: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.stealers.len())
            .field("searching", &self.searching.load(SeqCst))
            .field("sleeping", &self.sleeping.load(SeqCst))
            .field("shutdown", &self.shutdown.load(SeqCst))
            .finish()
    }
}

/// One worker's own state, reachable from its thread's schedule calls.
struct Local {
    shared: Arc<Shared>,
    index: usize,
    queue: Worker<Runnable>,
    lifo: Cell<Option<Runnable>>,
    /// Tasks woken while they ran (yields), run once the queues are empty: see the module
    /// docs. Not stealable; `flush_deferred` moves them to `queue`.
    deferred: RefCell<Vec<Runnable>>,
    /// Where the next search starts stealing (a xorshift state).
    rng: Cell<u32>,
}

thread_local! {
    /// The worker running on this thread, if this thread is a worker.
    static LOCAL: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

impl Default for Executor {
    /// One worker per available core.
    fn default() -> Self {
        Executor::new(thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

impl Executor {
    /// Starts an executor with `threads` worker threads.
    ///
    /// # Panics
    /// If `threads` is zero, or a thread cannot be spawned.
    pub fn new(threads: usize) -> Executor {
        assert!(threads > 0, "an executor needs at least one worker thread");
        let queues: Vec<Worker<Runnable>> = (0..threads).map(|_| Worker::new_fifo()).collect();
        let parkers: Vec<Parker> = (0..threads).map(|_| Parker::new()).collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: queues.iter().map(Worker::stealer).collect(),
            unparkers: parkers.iter().map(|p| p.unparker().clone()).collect(),
            searching: CachePadded::new(AtomicUsize::new(0)),
            sleeping: CachePadded::new(AtomicUsize::new(0)),
            sleepers: Mutex::new(Vec::with_capacity(threads)),
            shutdown: AtomicBool::new(false),
        });
        let threads = queues
            .into_iter()
            .zip(parkers)
            .enumerate()
            .map(|(index, (queue, parker))| {
                let shared = shared.clone();
                thread::Builder::new()
                    .name(format!("rawtask-multi-{index}"))
                    .spawn(move || {
                        let local = Rc::new(Local {
                            shared,
                            index,
                            queue,
                            lifo: Cell::new(None),
                            deferred: RefCell::new(Vec::new()),
                            rng: Cell::new((index as u32).wrapping_mul(0x9E37_79B9) | 1),
                        });
                        local.run(&parker);
                    })
                    .expect("failed to spawn a worker thread")
            })
            .collect();
        Executor {
            handle: Handle { shared },
            threads,
        }
    }

    /// A handle that spawns onto this executor.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Spawns a future onto the executor; see [`Handle::spawn`].
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `future` on the calling thread until it completes, parking the thread while it is
    /// pending ([`crate::block_on`]); the executor's tasks keep running on its workers.
    /// Calling it from inside a task blocks a worker: use `.await` there.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        crate::block_on(future)
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.handle.shared.stealers.len()
    }

    /// How many workers are registered as sleeping right now (for tests and statistics).
    pub fn sleeping_workers(&self) -> usize {
        self.handle.shared.sleeping.load(SeqCst)
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        shared.shutdown.store(true, SeqCst);
        // Every worker sees the flag at its next loop or its last look before parking; an
        // unpark before `park` is kept as a token, so none stays asleep.
        for unparker in shared.unparkers.iter() {
            unparker.unpark();
        }
        for thread in self.threads.drain(..) {
            // Tasks cannot panic into a worker (`propagate_panic`, `catch_unwind`); if a
            // worker died anyway, there is nothing better to do in a destructor than go on.
            let _ = thread.join();
        }
        // The workers emptied their own queues. Runnables pushed to the injector meanwhile
        // are dropped here; from now on `push_global` drops them itself.
        shared.drain_injector(drop);
    }
}

impl Handle {
    /// Spawns a future onto the executor and returns its [`Task`]. Panics in the future are
    /// caught and re-raised where the `Task` is awaited.
    ///
    /// From one of the executor's own tasks the new task goes to the worker's LIFO slot; from
    /// any other thread it goes to the global queue.
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let shared = self.shared.clone();
        // The schedule function: one `Arc` in the task allocation.
        let schedule = WithInfo(move |runnable, info| shared.schedule(runnable, info));
        let (runnable, task) = Builder::new()
            .propagate_panic(true)
            .spawn(|()| future, schedule);
        runnable.schedule();
        task
    }
}

impl Shared {
    /// The schedule function of every task.
    fn schedule(&self, runnable: Runnable, info: ScheduleInfo) {
        let mut runnable = Some(runnable);
        // `try_with`: a wake from another thread-local's destructor may find `LOCAL` gone.
        let _ = LOCAL.try_with(|local| match &*local.borrow() {
            Some(local) if std::ptr::eq(&*local.shared, self) => {
                if let Some(runnable) = runnable.take() {
                    local.schedule(runnable, info);
                }
            }
            _ => {}
        });
        // Not on one of our workers: the global queue.
        if let Some(runnable) = runnable {
            self.push_global(runnable);
        }
    }

    /// Pushes onto the injector and wakes a worker if needed.
    fn push_global(&self, runnable: Runnable) {
        self.injector.push(runnable);
        // Push, fence, then read: see the module docs. The same fence orders the push before
        // the `shutdown` check, against `Drop`'s store of the flag before its drain.
        fence(SeqCst);
        if self.shutdown.load(SeqCst) {
            // Too late to run it. Take it (and anything else left) out of the injector, so
            // that no runnable, which holds an `Arc<Shared>`, stays there in a cycle, and
            // drop it on the reaper thread: we may be inside a `wake` (see the crate docs).
            self.drain_injector(crate::drop_later);
        } else {
            self.notify();
        }
    }

    /// Called after a push (and a `SeqCst` fence): wakes one sleeping worker unless someone
    /// is already searching.
    fn notify(&self) {
        if self.searching.load(SeqCst) != 0 || self.sleeping.load(SeqCst) == 0 {
            return;
        }
        let woken = {
            let mut sleepers = self.sleepers();
            let woken = sleepers.pop();
            if woken.is_some() {
                self.sleeping.fetch_sub(1, SeqCst);
                // Count the woken worker as searching from now on, so that the pushes that
                // follow do not wake a second worker for the same work.
                self.searching.fetch_add(1, SeqCst);
            }
            woken
        };
        if let Some(index) = woken {
            self.unparkers[index].unpark();
        }
    }

    /// Whether any queue that workers can take from holds a runnable.
    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Empties the injector, handing each runnable to `dispose`.
    fn drain_injector(&self, dispose: impl Fn(Runnable)) {
        loop {
            match self.injector.steal() {
                Steal::Success(runnable) => dispose(runnable),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
    }

    fn sleepers(&self) -> MutexGuard<'_, Vec<usize>> {
        // No code that can panic runs under this lock, but be robust anyway.
        self.sleepers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Local {
    /// The schedule function, when called on this worker's own thread.
    fn schedule(&self, runnable: Runnable, info: ScheduleInfo) {
        let pushed = if info.woken_while_running {
            // The task woke itself (it yielded): after everything else. Nobody else can
            // take it from there, so nobody is told.
            self.deferred.borrow_mut().push(runnable);
            false
        } else {
            // Woken by another task on this worker: run it next. The previous occupant
            // of the slot goes to the back of the queue.
            match self.lifo.replace(Some(runnable)) {
                Some(previous) => {
                    self.queue.push(previous);
                    true
                }
                None => false,
            }
        };
        if pushed {
            // Something stealable was pushed: a sleeping worker may take it.
            fence(SeqCst);
            self.shared.notify();
        }
    }

    /// The worker's main loop.
    fn run(self: &Rc<Self>, parker: &Parker) {
        LOCAL.with(|local| *local.borrow_mut() = Some(self.clone()));
        let mut runs: u32 = 0;
        let mut lifo_polls: u32 = 0;
        let mut searching = false;
        while let Some(runnable) = self.next(&mut runs, &mut lifo_polls, &mut searching, parker) {
            // Tasks are spawned with `propagate_panic(true)`, so `run` does not unwind from
            // a panicking future; this only guards the worker against a panicking destructor.
            let _ = catch_unwind(AssertUnwindSafe(|| runnable.run()));
        }
        // Shutdown. Leave the thread-local first, so that the runnables we drop (whose
        // futures' destructors may wake other tasks) go through `push_global`, which drops
        // them too.
        LOCAL.with(|local| local.borrow_mut().take());
        if searching {
            self.shared.searching.fetch_sub(1, SeqCst);
        }
        drop(self.lifo.take());
        drop(self.deferred.take());
        while let Some(runnable) = self.queue.pop() {
            drop(runnable);
        }
    }

    /// The next runnable to run, or `None` at shutdown.
    fn next(
        &self,
        runs: &mut u32,
        lifo_polls: &mut u32,
        searching: &mut bool,
        parker: &Parker,
    ) -> Option<Runnable> {
        let mut must_search = false;
        loop {
            if self.shared.shutdown.load(SeqCst) {
                return None;
            }
            if let Some(runnable) = self.next_local(runs, lifo_polls) {
                // Just woken (hence counted as searching) and found work at once.
                self.stop_searching(searching);
                return Some(runnable);
            }
            if let Some(runnable) = self.search(searching, must_search) {
                return Some(runnable);
            }
            must_search = self.sleep(searching, parker);
        }
    }

    /// A runnable from the global queue or the deferred tasks (now and then), the LIFO
    /// slot, the local queue, the global queue, or the deferred tasks.
    fn next_local(&self, runs: &mut u32, lifo_polls: &mut u32) -> Option<Runnable> {
        *runs = runs.wrapping_add(1);
        if *runs % GLOBAL_QUEUE_INTERVAL == 0 {
            // Behind what is already queued: they wait one more turn, but are not starved.
            self.flush_deferred(false);
            if let Some(runnable) = self.steal_global() {
                return Some(runnable);
            }
        }
        if let Some(runnable) = self.lifo.take() {
            if *lifo_polls < MAX_LIFO_POLLS {
                *lifo_polls += 1;
                return Some(runnable);
            }
            // Enough: the tasks queued behind get their turn first.
            self.queue.push(runnable);
        }
        *lifo_polls = 0;
        if let Some(runnable) = self.queue.pop() {
            return Some(runnable);
        }
        if let Some(runnable) = self.steal_global() {
            return Some(runnable);
        }
        if self.deferred.borrow().is_empty() {
            return None;
        }
        // Other workers' work before our yielders: a worker stuck in a blocking call (or
        // just busy) would otherwise keep its queue to itself for as long as ours yield.
        if let Some(runnable) = self.steal() {
            return Some(runnable);
        }
        // Nothing else to do: the deferred tasks, the first one now and the others queued.
        self.flush_deferred(true)
    }

    /// Takes a batch of the global queue into the local queue and returns one of it.
    fn steal_global(&self) -> Option<Runnable> {
        let injector = &self.shared.injector;
        loop {
            if injector.is_empty() {
                return None;
            }
            match injector.steal_batch_and_pop(&self.queue) {
                Steal::Success(runnable) => return Some(runnable),
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    /// Moves the deferred tasks to the back of the local queue, where other workers can
    /// steal them, and wakes a sleeping worker if needed: once for the whole batch. With
    /// `take_first`, returns the first one instead of queueing it.
    fn flush_deferred(&self, take_first: bool) -> Option<Runnable> {
        let mut deferred = self.deferred.borrow_mut();
        // `drain` keeps the vector's capacity for the next round of yields.
        let mut drain = deferred.drain(..);
        let first = if take_first { drain.next() } else { None };
        let mut pushed = false;
        for runnable in drain {
            self.queue.push(runnable);
            pushed = true;
        }
        drop(deferred);
        if pushed {
            fence(SeqCst);
            self.shared.notify();
        }
        first
    }

    /// Steals work, spinning a little. On success, stops searching; on failure, returns
    /// `None` and stays counted as searching until [`sleep`](Self::sleep).
    fn search(&self, searching: &mut bool, must_search: bool) -> Option<Runnable> {
        let shared = &*self.shared;
        if !*searching {
            // At most half the workers search at once (tokio's rule): more would only burn
            // CPU and fight over the same queues. The others go straight to `sleep`, whose
            // last look at the queues keeps this from losing work.
            let workers = shared.stealers.len();
            if !must_search && 2 * shared.searching.load(SeqCst) >= workers {
                return None;
            }
            shared.searching.fetch_add(1, SeqCst);
            *searching = true;
        }
        let backoff = Backoff::new();
        loop {
            if let Some(runnable) = self.steal() {
                self.stop_searching(searching);
                return Some(runnable);
            }
            if backoff.is_completed() || shared.shutdown.load(SeqCst) {
                return None;
            }
            backoff.snooze();
        }
    }

    /// Called when a searching worker found work and is about to run it.
    fn stop_searching(&self, searching: &mut bool) {
        if *searching {
            *searching = false;
            if self.shared.searching.fetch_sub(1, SeqCst) == 1 {
                // We were the last searcher: pushers may have skipped waking anyone because
                // of us, and there may be more work. Pass the baton.
                fence(SeqCst);
                self.shared.notify();
            }
        }
    }

    /// One pass over the injector and the other workers' queues. A successful steal takes a
    /// batch into our queue and returns one runnable of it.
    fn steal(&self) -> Option<Runnable> {
        let shared = &*self.shared;
        let workers = shared.stealers.len();
        // Start at a random victim (xorshift32), so that thieves spread out.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        let start = x as usize % workers;
        loop {
            let victims = (0..workers)
                .map(|i| (start + i) % workers)
                .filter(|&i| i != self.index);
            // The injector first: what waits there has no worker at all. Collecting steals
            // stops at the first success.
            let steal = shared
                .injector
                .steal_batch_and_pop(&self.queue)
                .or_else(|| {
                    victims
                        .map(|i| shared.stealers[i].steal_batch_and_pop(&self.queue))
                        .collect()
                });
            match steal {
                Steal::Success(runnable) => return Some(runnable),
                Steal::Empty => return None,
                // Lost a race with another thief: look again.
                Steal::Retry => continue,
            }
        }
    }

    /// Registers as sleeping, looks at the queues one last time, and parks unless there is
    /// work (or shutdown). Returns whether the next search must happen regardless of the
    /// half-the-workers limit, because there is work to take.
    fn sleep(&self, searching: &mut bool, parker: &Parker) -> bool {
        let shared = &*self.shared;
        {
            let mut sleepers = shared.sleepers();
            sleepers.push(self.index);
            shared.sleeping.fetch_add(1, SeqCst);
        }
        if *searching {
            *searching = false;
            shared.searching.fetch_sub(1, SeqCst);
        }
        // Register, fence, then look: see the module docs.
        fence(SeqCst);
        if shared.shutdown.load(SeqCst) || shared.has_work() {
            *searching = self.leave_sleepers();
            return true;
        }
        parker.park();
        *searching = self.leave_sleepers();
        false
    }

    /// Takes this worker off the sleeper list after `park` (or instead of it). Returns `true`
    /// if a notifier already took it off, in which case it counted us as searching.
    fn leave_sleepers(&self) -> bool {
        let shared = &*self.shared;
        let mut sleepers = shared.sleepers();
        match sleepers.iter().position(|&i| i == self.index) {
            Some(position) => {
                sleepers.swap_remove(position);
                shared.sleeping.fetch_sub(1, SeqCst);
                false
            }
            // A notifier popped us, so it also added us to `searching`. Its unpark may not
            // have come yet: that leaves a token and makes our next `park` return at once,
            // which is harmless.
            None => true,
        }
    }
}
