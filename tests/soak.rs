//! Soak and stress with real threads: several worker threads share one run queue and, at random
//! (seeded), spawn tasks, run or drop their `Runnable`s, wake them from other threads, cancel
//! them every way there is (`Task::cancel`, `Task::abort`, `AbortHandle::abort` from another
//! thread, dropping the handle, dropping the `Runnable`), detach them, register `on_finish`
//! callbacks, put them in `JoinSet`s, spawn scoped families, and build, cancel and drop
//! `CancellationToken` trees with `on_cancel` callbacks.
//!
//! Counters prove exactly-once delivery: every task carries a record, shared by its future,
//! its output, its handle's holder and its completion callback, and checked when the last of
//! them lets go of it. The future must have been dropped once, the output (if produced) dropped
//! once, received at most once, and received exactly once when the handle's holder never gave
//! it up; a completion callback must have run once. Every `on_cancel` callback runs at most
//! once, and exactly once when its registration was kept until its token was cancelled; every
//! scope's done function runs once. Records still alive at the end are leaked tasks, and the
//! leak-checking allocator (`check_leaks`) checks every allocation was freed.
//!
//! The run lasts about 2 s (`RAWTASK_SOAK_SECS=N` runs N seconds); under miri a few dozen
//! operations per thread. The seed is printed at the start and in every failure message;
//! `RAWTASK_SOAK_SEED=S` reruns the same choices (the interleaving of the threads still varies).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use common::{check_leaks, noop_waker, spawn_tracked, untracked, wait_until, Queue};
use rawtask::cancel::{OnCancel, WaitForCancellationFutureOwned};
use rawtask::scope::{RemoteParentSignals, ScopedSpawn, ScopedSpawner};
use rawtask::{AbortHandle, CallbackTask, CancellationToken, FallibleTask, Join, JoinSet, Task};

const THREADS: usize = if cfg!(miri) { 2 } else { 4 };
/// Operations per thread under miri (natively the run is timed).
const MIRI_OPS: usize = 40;
/// Bounds on what one thread holds, so that memory stays flat however long the run.
const MAX_HELD: usize = 64;
const MAX_POOL: usize = 256;
const MAX_TOKENS: usize = 48;

/// xorshift64*: small and deterministic.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Never zero (xorshift's fixed point).
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

// ---------------------------------------------------------------------------------------
// Accounting
// ---------------------------------------------------------------------------------------

/// What the whole run counts; failures are collected here (records are checked in `Drop`,
/// on whatever thread lets go last, where a panic would only abort the run).
#[derive(Default)]
struct Stats {
    seed: u64,
    tasks: AtomicUsize,
    live_records: AtomicUsize,
    outputs_received: AtomicUsize,
    callbacks: AtomicUsize,
    cancel_callbacks: AtomicUsize,
    live_cancel_records: AtomicUsize,
    scopes: AtomicUsize,
    live_done_records: AtomicUsize,
    aborts: AtomicUsize,
    runs: AtomicUsize,
    runnables_dropped: AtomicUsize,
    wakes: AtomicUsize,
    failures: AtomicUsize,
    first_failure: Mutex<Option<String>>,
}

impl Stats {
    fn fail(&self, what: String) {
        if self.failures.fetch_add(1, SeqCst) == 0 {
            *self.first_failure.lock().unwrap() = Some(what);
        }
    }
}

/// One task's record: shared by its future, its output, its handle's holder and its callback.
struct Record {
    stats: Arc<Stats>,
    id: usize,
    produced: AtomicUsize,
    received: AtomicUsize,
    future_drops: AtomicUsize,
    output_drops: AtomicUsize,
    /// The handle's holder gave the output up (detached, dropped, aborted a set, or there is
    /// no handle: scoped tasks, tasks whose `Runnable` only is kept).
    given_up: AtomicBool,
    /// Someone cancelled or aborted the task (a race with its last poll may then drop an
    /// output that was produced).
    aborted: AtomicBool,
    callbacks_expected: AtomicUsize,
    callbacks_called: AtomicUsize,
    /// Whether the future may leave a waker that a thread drops without waking.
    forgettable: AtomicBool,
}

impl Record {
    fn new(stats: &Arc<Stats>) -> Arc<Record> {
        stats.live_records.fetch_add(1, SeqCst);
        Arc::new(Record {
            stats: stats.clone(),
            id: stats.tasks.fetch_add(1, SeqCst),
            produced: AtomicUsize::new(0),
            received: AtomicUsize::new(0),
            future_drops: AtomicUsize::new(0),
            output_drops: AtomicUsize::new(0),
            given_up: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            callbacks_expected: AtomicUsize::new(0),
            callbacks_called: AtomicUsize::new(0),
            forgettable: AtomicBool::new(true),
        })
    }

    fn give_up(&self) {
        self.given_up.store(true, SeqCst);
    }

    fn abort(&self) {
        self.aborted.store(true, SeqCst);
    }

    /// The handle's holder learnt that the task ended without an output.
    fn got_none(&self, how: &str) {
        // An abort that races the last poll lets the poll produce an output that `run` drops.
        if self.produced.load(SeqCst) != 0 && !self.aborted.load(SeqCst) {
            self.stats.fail(format!(
                "seed {}: task {}: {how} reported no output, but the future produced one",
                self.stats.seed, self.id
            ));
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let s = &self.stats;
        let (produced, received) = (*self.produced.get_mut(), *self.received.get_mut());
        let mut problems = Vec::new();
        if *self.future_drops.get_mut() != 1 {
            problems.push(format!(
                "future dropped {} times",
                self.future_drops.get_mut()
            ));
        }
        if *self.output_drops.get_mut() != produced {
            problems.push(format!(
                "output produced {produced} times, dropped {} times",
                self.output_drops.get_mut()
            ));
        }
        if received > produced {
            problems.push(format!("received {received} outputs of {produced}"));
        }
        if produced == 1 && received == 0 && !*self.given_up.get_mut() && !*self.aborted.get_mut() {
            problems.push("output produced and kept for the handle, never received".into());
        }
        let (expected, called) = (
            *self.callbacks_expected.get_mut(),
            *self.callbacks_called.get_mut(),
        );
        if expected != called {
            problems.push(format!(
                "{called} completion callback calls, {expected} expected"
            ));
        }
        if !problems.is_empty() {
            s.fail(format!(
                "seed {}: task {}: {}",
                s.seed,
                self.id,
                problems.join("; ")
            ));
        }
        s.live_records.fetch_sub(1, SeqCst);
    }
}

/// A task's output.
struct Out(Arc<Record>);

impl Drop for Out {
    fn drop(&mut self) {
        self.0.output_drops.fetch_add(1, SeqCst);
    }
}

/// Records that the holder got `out` (at most once per task).
fn received(out: Out) {
    let record = out.0.clone();
    if record.received.fetch_add(1, SeqCst) != 0 {
        record.stats.fail(format!(
            "seed {}: task {}: output received twice",
            record.stats.seed, record.id
        ));
    }
    record.stats.outputs_received.fetch_add(1, SeqCst);
    drop(out);
}

// ---------------------------------------------------------------------------------------
// The shared world
// ---------------------------------------------------------------------------------------

struct World {
    stats: Arc<Stats>,
    queue: Queue,
    /// Wakers left by pending futures, woken (or, for forgettable ones, dropped) by any thread.
    wakers: Mutex<Vec<(Waker, Arc<Record>)>>,
    /// Abort handles any thread may fire or drop.
    aborts: Mutex<Vec<(AbortHandle, Arc<Record>)>>,
    /// Cancellation tokens any thread may cancel, derive children from, or drop.
    tokens: Mutex<Vec<CancellationToken>>,
    /// The ancestor of every token, cancelled at the end. A future waiting for a token keeps
    /// it (and the token keeps the task's waker): if nothing outside could cancel the token any
    /// more, the task could never wake, and a detached one would live forever.
    root: CancellationToken,
}

impl World {
    fn deposit(&self, waker: Waker, record: Arc<Record>) {
        let mut wakers = self.wakers.lock().unwrap();
        if wakers.len() < MAX_POOL {
            wakers.push((waker, record));
        } else {
            let (old, _) = std::mem::replace(&mut wakers[record.id % MAX_POOL], (waker, record));
            drop(wakers);
            self.stats.wakes.fetch_add(1, SeqCst);
            old.wake();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The future
// ---------------------------------------------------------------------------------------

/// Pending for a few polls, each time waking itself, leaving its waker in the shared pool for
/// another thread, or both; then ready. With a token, completes early once it is cancelled.
struct SoakFuture {
    record: Arc<Record>,
    world: Arc<World>,
    rng: Rng,
    polls_left: usize,
    token: Option<WaitForCancellationFutureOwned>,
}

impl SoakFuture {
    fn new(
        world: &Arc<World>,
        record: &Arc<Record>,
        rng: &mut Rng,
        token: Option<CancellationToken>,
    ) -> Self {
        SoakFuture {
            record: record.clone(),
            world: world.clone(),
            rng: Rng::new(rng.next()),
            polls_left: rng.below(5),
            token: token.map(CancellationToken::wait_cancelled_owned),
        }
    }
}

impl Future for SoakFuture {
    type Output = Out;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out> {
        let this = &mut *self;
        let cancelled = match &mut this.token {
            Some(token) => Pin::new(token).poll(cx).is_ready(),
            None => false,
        };
        if this.polls_left == 0 || cancelled {
            if this.record.produced.fetch_add(1, SeqCst) != 0 {
                this.record
                    .stats
                    .fail(format!("task {}: polled after completion", this.record.id));
            }
            return Poll::Ready(Out(this.record.clone()));
        }
        this.polls_left -= 1;
        match this.rng.below(3) {
            0 => cx.waker().wake_by_ref(),
            1 => this.world.deposit(cx.waker().clone(), this.record.clone()),
            _ => {
                this.world.deposit(cx.waker().clone(), this.record.clone());
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }
}

impl Drop for SoakFuture {
    fn drop(&mut self) {
        self.record.future_drops.fetch_add(1, SeqCst);
    }
}

// ---------------------------------------------------------------------------------------
// What a thread holds
// ---------------------------------------------------------------------------------------

/// A task handle in one of its forms, with the task's record.
enum Handle {
    Task(Task<Out>),
    Join(Join<Out>),
    Fallible(FallibleTask<Out>),
    Cancelling(Pin<Box<dyn Future<Output = Option<Out>> + Send>>),
    Callback(CallbackTask<Out>, AbortHandle),
}

struct Held {
    handle: Handle,
    record: Arc<Record>,
}

/// A `JoinSet` and the records of the tasks spawned into it (pruned of delivered ones).
struct Set {
    set: JoinSet<Out>,
    records: Vec<Arc<Record>>,
}

/// A registration of an `on_cancel` callback and its record.
struct Registration {
    on_cancel: OnCancel,
    record: Arc<CancelRecord>,
}

/// One `on_cancel` callback: called at most once; exactly once if `must_call` (its registration
/// was kept until its token was cancelled).
struct CancelRecord {
    stats: Arc<Stats>,
    called: AtomicUsize,
    must_call: AtomicBool,
}

impl Drop for CancelRecord {
    fn drop(&mut self) {
        let called = *self.called.get_mut();
        if called > 1 || (*self.must_call.get_mut() && called != 1) {
            self.stats.fail(format!(
                "seed {}: an on_cancel callback ran {called} times (must run: {})",
                self.stats.seed,
                self.must_call.get_mut()
            ));
        }
        self.stats.live_cancel_records.fetch_sub(1, SeqCst);
    }
}

/// A scope's done function must run exactly once.
struct DoneRecord {
    stats: Arc<Stats>,
    called: AtomicUsize,
}

impl Drop for DoneRecord {
    fn drop(&mut self) {
        if *self.called.get_mut() != 1 {
            self.stats.fail(format!(
                "seed {}: a scope's done function ran {} times",
                self.stats.seed,
                self.called.get_mut()
            ));
        }
        self.stats.live_done_records.fetch_sub(1, SeqCst);
    }
}

fn done_function(stats: &Arc<Stats>) -> impl FnOnce() + Send + 'static {
    stats.live_done_records.fetch_add(1, SeqCst);
    let record = Arc::new(DoneRecord {
        stats: stats.clone(),
        called: AtomicUsize::new(0),
    });
    move || {
        record.called.fetch_add(1, SeqCst);
    }
}

struct Worker {
    world: Arc<World>,
    rng: Rng,
    held: Vec<Held>,
    sets: Vec<Set>,
    scopes: Vec<RemoteParentSignals>,
    registrations: Vec<Registration>,
}

impl Worker {
    fn stats(&self) -> &Arc<Stats> {
        &self.world.stats
    }

    fn step(&mut self) {
        // Keep the queue short: running is the most common operation.
        if self.world.queue.len() > 512 {
            return self.run_some(64);
        }
        match self.rng.below(20) {
            0..=4 => self.run_some(4),
            5 => self.drop_a_runnable(),
            6..=8 => self.spawn(),
            9 | 10 => self.wake_some(),
            11..=13 => self.act_on_a_handle(),
            14 => self.join_set_op(),
            15 => self.scope_op(),
            16 | 17 => self.token_op(),
            18 => self.abort_op(),
            _ => self.forget_a_waker(),
        }
    }

    fn run(mut self, end: Option<Instant>) -> Worker {
        let mut ops = 0usize;
        loop {
            match end {
                Some(end) if ops % 64 == 0 && Instant::now() >= end => break,
                None if ops == MIRI_OPS => break,
                _ => {}
            }
            self.step();
            ops += 1;
        }
        self
    }

    fn run_some(&mut self, n: usize) {
        for _ in 0..n {
            match self.world.queue.pop() {
                Some(runnable) => {
                    self.stats().runs.fetch_add(1, SeqCst);
                    runnable.run();
                }
                None => return,
            }
        }
    }

    fn drop_a_runnable(&mut self) {
        if let Some(runnable) = self.world.queue.pop() {
            self.stats().runnables_dropped.fetch_add(1, SeqCst);
            drop(runnable);
        }
    }

    fn some_token(&mut self) -> Option<CancellationToken> {
        let tokens = self.world.tokens.lock().unwrap();
        if tokens.is_empty() {
            return None;
        }
        Some(tokens[self.rng.below(tokens.len())].clone())
    }

    fn new_future(&mut self, record: &Arc<Record>) -> SoakFuture {
        let token = if self.rng.chance(4) {
            self.some_token()
        } else {
            None
        };
        SoakFuture::new(&self.world, record, &mut self.rng, token)
    }

    fn spawn(&mut self) {
        let record = Record::new(self.stats());
        let future = self.new_future(&record);
        let (runnable, task) = rawtask::spawn(future, self.world.queue.schedule());
        match self.rng.below(4) {
            0 => {
                runnable.run();
            }
            1 => {
                // Scheduled through a waker instead (a wake of a task that never ran).
                runnable.waker().wake();
                drop(runnable);
            }
            _ => runnable.schedule(),
        }
        if self.held.len() >= MAX_HELD || self.rng.chance(5) {
            record.give_up();
            return task.detach();
        }
        let handle = match self.rng.below(6) {
            0 => Handle::Join(task.join()),
            1 => Handle::Fallible(task.fallible()),
            2 => self.with_callback(task, &record),
            _ => Handle::Task(task),
        };
        self.held.push(Held { handle, record });
    }

    fn with_callback(&mut self, task: Task<Out>, record: &Arc<Record>) -> Handle {
        record.callbacks_expected.fetch_add(1, SeqCst);
        let abort = task.abort_handle();
        let r = record.clone();
        let callback = task.on_finish(move || {
            r.callbacks_called.fetch_add(1, SeqCst);
            r.stats.callbacks.fetch_add(1, SeqCst);
        });
        Handle::Callback(callback, abort)
    }

    fn wake_some(&mut self) {
        for _ in 0..1 + self.rng.below(4) {
            let mut wakers = self.world.wakers.lock().unwrap();
            if wakers.is_empty() {
                return;
            }
            let i = self.rng.below(wakers.len());
            let by_ref = self.rng.chance(3);
            let (waker, record) = if by_ref {
                wakers[i].clone()
            } else {
                wakers.swap_remove(i)
            };
            drop(wakers);
            self.stats().wakes.fetch_add(1, SeqCst);
            if by_ref {
                waker.wake_by_ref();
            } else {
                waker.wake();
            }
            drop(record);
        }
    }

    fn forget_a_waker(&mut self) {
        let mut wakers = self.world.wakers.lock().unwrap();
        if wakers.is_empty() {
            return;
        }
        let i = self.rng.below(wakers.len());
        if wakers[i].1.forgettable.load(SeqCst) {
            let entry = wakers.swap_remove(i);
            drop(wakers);
            drop(entry);
        }
    }

    fn act_on_a_handle(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let i = self.rng.below(self.held.len());
        let choice = self.rng.below(12);
        let Held { handle, record } = self.held.swap_remove(i);
        let keep = match handle {
            Handle::Task(task) => match choice {
                0 => {
                    record.give_up();
                    task.detach();
                    None
                }
                1 => {
                    record.give_up();
                    drop(task);
                    None
                }
                2 => {
                    record.abort();
                    task.abort();
                    Some(Handle::Task(task))
                }
                3 => {
                    self.share_abort_handle(task.abort_handle(), &record);
                    Some(Handle::Task(task))
                }
                4 => {
                    record.abort();
                    Some(Handle::Cancelling(Box::pin(task.cancel())))
                }
                5 => Some(Handle::Join(task.join())),
                6 => Some(Handle::Fallible(task.fallible())),
                7 => {
                    record.forgettable.store(false, SeqCst);
                    Some(self.with_callback(task, &record))
                }
                // A plain `Task` panics when it sees a cancellation that another thread may
                // have caused (an `AbortHandle`, a dropped `Runnable`): poll it as the `Join`
                // it becomes without a state change.
                _ => poll_join(task.join(), &record),
            },
            Handle::Callback(mut task, abort) => match choice {
                0 | 1 => {
                    record.give_up();
                    // Nothing may be left that can wake it: then the detach (or the last
                    // waker's drop) cancels it and the callback still runs (rule 16).
                    drop(abort);
                    task.detach();
                    None
                }
                2 => {
                    record.give_up();
                    drop(task);
                    None
                }
                3 => {
                    record.abort();
                    task.cancel();
                    Some(Handle::Callback(task, abort))
                }
                _ => try_take(task, abort, &record),
            },
            Handle::Join(join) => match choice {
                0 => {
                    record.abort();
                    join.abort();
                    Some(Handle::Join(join))
                }
                1 => {
                    record.give_up();
                    drop(join);
                    None
                }
                _ => poll_join(join, &record),
            },
            Handle::Fallible(task) => match choice {
                0 => {
                    record.give_up();
                    task.detach();
                    None
                }
                1 => {
                    record.abort();
                    Some(Handle::Cancelling(Box::pin(task.cancel())))
                }
                _ => poll_fallible(task, &record),
            },
            Handle::Cancelling(cancel) => match choice {
                0 => {
                    record.give_up();
                    drop(cancel);
                    None
                }
                _ => poll_cancelling(cancel),
            },
        };
        if let Some(handle) = keep {
            self.held.push(Held { handle, record });
        }
    }

    fn share_abort_handle(&mut self, abort: AbortHandle, record: &Arc<Record>) {
        let mut aborts = self.world.aborts.lock().unwrap();
        if aborts.len() < MAX_POOL {
            aborts.push((abort, record.clone()));
        }
    }

    fn abort_op(&mut self) {
        let mut aborts = self.world.aborts.lock().unwrap();
        if aborts.is_empty() {
            return;
        }
        let i = self.rng.below(aborts.len());
        let (abort, record) = aborts.swap_remove(i);
        drop(aborts);
        if self.rng.chance(4) {
            drop(abort);
        } else {
            self.stats().aborts.fetch_add(1, SeqCst);
            record.abort();
            abort.abort();
            if !self.rng.chance(3) {
                self.share_abort_handle(abort, &record);
            }
        }
    }

    fn join_set_op(&mut self) {
        if self.sets.is_empty() || (self.sets.len() < 4 && self.rng.chance(8)) {
            self.sets.push(Set {
                set: JoinSet::new(),
                records: Vec::new(),
            });
        }
        let i = self.rng.below(self.sets.len());
        match self.rng.below(8) {
            0..=3 => {
                if self.sets[i].set.len() >= MAX_HELD {
                    return;
                }
                let record = Record::new(self.stats());
                let future = self.new_future(&record);
                let set = &mut self.sets[i];
                set.set
                    .spawn(future, self.world.queue.schedule())
                    .schedule();
                set.records.push(record);
                if set.records.len() > 4 * MAX_HELD {
                    set.records.retain(|r| r.received.load(SeqCst) == 0);
                }
            }
            4 | 5 => join_ready(&mut self.sets[i]),
            6 => {
                let set = self.sets.swap_remove(i);
                for record in &set.records {
                    record.give_up();
                }
                drop(set);
            }
            _ => {
                let set = &mut self.sets[i];
                for record in &set.records {
                    record.abort();
                }
                set.set.abort_all();
            }
        }
    }

    fn scope_op(&mut self) {
        if !self.scopes.is_empty() && self.rng.chance(2) {
            let i = self.rng.below(self.scopes.len());
            let mut signals = self.scopes.swap_remove(i);
            if poll_noop(&mut signals.done_receiver).is_pending() {
                if self.rng.chance(2) {
                    // Cancels the family; it still terminates and its done functions run.
                    drop(signals);
                } else {
                    self.scopes.push(signals);
                }
            }
            return;
        }
        if self.scopes.len() >= 16 {
            return;
        }
        self.stats().scopes.fetch_add(1, SeqCst);
        let spawner = ScopedSpawner::on_schedule(self.world.queue.schedule());
        let (world, stats) = (self.world.clone(), self.stats().clone());
        let mut rng = Rng::new(self.rng.next());
        let children = rng.below(4);
        let parent = Record::new(&stats);
        parent.give_up();
        parent.forgettable.store(false, SeqCst);
        let parent_future = SoakFuture::new(&world, &parent, &mut rng, None);
        drop(parent);
        let result = spawner.spawn_with_signal(
            move |children_spawner| async move {
                for _ in 0..children {
                    let record = Record::new(&stats);
                    record.give_up();
                    record.forgettable.store(false, SeqCst);
                    let token = rng.chance(3).then(|| children_spawner.token().clone());
                    let future = SoakFuture::new(&world, &record, &mut rng, token);
                    children_spawner
                        .spawn_future(
                            async move {
                                drop(future.await);
                            },
                            done_function(&stats),
                        )
                        .expect("spawning a scoped child");
                }
                drop(parent_future.await);
            },
            done_function(self.stats()),
        );
        self.scopes.push(result.expect("spawning a scoped parent"));
    }

    fn token_op(&mut self) {
        match self.rng.below(8) {
            0 | 1 => {
                let token = match self.some_token() {
                    Some(parent) if !self.rng.chance(3) => parent.child_token(),
                    _ => self.world.root.child_token(),
                };
                let mut tokens = self.world.tokens.lock().unwrap();
                if tokens.len() < MAX_TOKENS {
                    tokens.push(token);
                } else {
                    let i = self.rng.below(tokens.len());
                    let old = std::mem::replace(&mut tokens[i], token);
                    drop(tokens);
                    drop(old);
                }
            }
            2 => {
                if let Some(token) = self.some_token() {
                    token.cancel();
                }
            }
            3 => {
                let mut tokens = self.world.tokens.lock().unwrap();
                if !tokens.is_empty() {
                    let i = self.rng.below(tokens.len());
                    let old = tokens.swap_remove(i);
                    drop(tokens);
                    drop(old);
                }
            }
            4..=6 => {
                if self.registrations.len() >= MAX_HELD {
                    return self.unregister();
                }
                if let Some(token) = self.some_token() {
                    self.register(&token);
                }
            }
            _ => self.unregister(),
        }
    }

    fn register(&mut self, token: &CancellationToken) {
        let stats = self.stats().clone();
        stats.live_cancel_records.fetch_add(1, SeqCst);
        let record = Arc::new(CancelRecord {
            stats: stats.clone(),
            called: AtomicUsize::new(0),
            must_call: AtomicBool::new(false),
        });
        let r = record.clone();
        let on_cancel = token.on_cancel(move || {
            r.called.fetch_add(1, SeqCst);
            r.stats.cancel_callbacks.fetch_add(1, SeqCst);
        });
        self.registrations.push(Registration { on_cancel, record });
    }

    fn unregister(&mut self) {
        if !self.registrations.is_empty() {
            let i = self.rng.below(self.registrations.len());
            drop(self.registrations.swap_remove(i));
        }
    }

    /// One round of the final drain: polls everything this worker still holds, aborting it
    /// all first if `force`. Returns whether anything is left.
    fn drain(&mut self, force: bool) -> bool {
        if force {
            for Held { handle, record } in &mut self.held {
                record.abort();
                match handle {
                    Handle::Task(task) => {
                        task.abort();
                    }
                    Handle::Join(join) => {
                        join.abort();
                    }
                    Handle::Callback(task, _) => task.cancel(),
                    Handle::Fallible(_) | Handle::Cancelling(_) => {
                        // No way to abort and keep these: turned into cancels.
                    }
                }
            }
            for Held { handle, record } in std::mem::take(&mut self.held) {
                let handle = match handle {
                    Handle::Fallible(task) => Handle::Cancelling(Box::pin(task.cancel())),
                    other => other,
                };
                self.held.push(Held { handle, record });
            }
            for set in &mut self.sets {
                for record in &set.records {
                    record.abort();
                }
                set.set.abort_all();
            }
            // Dropping the signals cancels the families.
            self.scopes.clear();
        }
        for Held { handle, record } in std::mem::take(&mut self.held) {
            let keep = match handle {
                Handle::Task(task) => poll_join(task.join(), &record),
                Handle::Join(join) => poll_join(join, &record),
                Handle::Fallible(task) => poll_fallible(task, &record),
                Handle::Cancelling(cancel) => poll_cancelling(cancel),
                Handle::Callback(task, abort) => try_take(task, abort, &record),
            };
            if let Some(handle) = keep {
                self.held.push(Held { handle, record });
            }
        }
        for set in &mut self.sets {
            join_ready(set);
        }
        self.sets.retain(|set| !set.set.is_empty());
        self.scopes
            .retain_mut(|signals| poll_noop(&mut signals.done_receiver).is_pending());
        !(self.held.is_empty() && self.sets.is_empty() && self.scopes.is_empty())
    }
}

fn poll_noop<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(noop_waker()))
}

fn join_ready(set: &mut Set) {
    while let Some(out) = set.set.try_join_next() {
        received(out);
    }
}

fn try_take(
    mut task: CallbackTask<Out>,
    abort: AbortHandle,
    record: &Arc<Record>,
) -> Option<Handle> {
    match task.try_take() {
        Poll::Pending => Some(Handle::Callback(task, abort)),
        Poll::Ready(Some(out)) => {
            received(out);
            None
        }
        Poll::Ready(None) => {
            record.got_none("CallbackTask::try_take");
            None
        }
    }
}

fn poll_join(mut join: Join<Out>, record: &Arc<Record>) -> Option<Handle> {
    match poll_noop(&mut join) {
        Poll::Pending => Some(Handle::Join(join)),
        Poll::Ready(Ok(out)) => {
            received(out);
            None
        }
        Poll::Ready(Err(error)) => {
            assert!(error.is_cancelled(), "no soak future panics");
            record.got_none("Join");
            None
        }
    }
}

fn poll_fallible(mut task: FallibleTask<Out>, record: &Arc<Record>) -> Option<Handle> {
    match poll_noop(&mut task) {
        Poll::Pending => Some(Handle::Fallible(task)),
        Poll::Ready(Some(out)) => {
            received(out);
            None
        }
        Poll::Ready(None) => {
            record.got_none("FallibleTask");
            None
        }
    }
}

fn poll_cancelling(
    mut cancel: Pin<Box<dyn Future<Output = Option<Out>> + Send>>,
) -> Option<Handle> {
    match cancel.as_mut().poll(&mut Context::from_waker(noop_waker())) {
        Poll::Pending => Some(Handle::Cancelling(cancel)),
        Poll::Ready(Some(out)) => {
            received(out);
            None
        }
        // The cancel won: the future was dropped without an output.
        Poll::Ready(None) => None,
    }
}

fn seconds() -> f64 {
    std::env::var("RAWTASK_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0)
}

fn seed() -> u64 {
    match std::env::var("RAWTASK_SOAK_SEED") {
        Ok(s) => s.parse().expect("RAWTASK_SOAK_SEED is a number"),
        Err(_) if cfg!(miri) => 1,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}

#[test]
fn soak() {
    let _g = check_leaks();
    let seed = seed();
    // Printed at once (libtest shows it when the test fails).
    // (Untracked: the first write allocates libtest's capture buffer, which outlives the test.)
    untracked(|| println!("soak: seed {seed} (rerun with RAWTASK_SOAK_SEED={seed})"));
    let stats = Arc::new(Stats {
        seed,
        ..Stats::default()
    });
    let world = Arc::new(World {
        stats: stats.clone(),
        queue: Queue::new(),
        wakers: Mutex::new(Vec::new()),
        aborts: Mutex::new(Vec::new()),
        tokens: Mutex::new(Vec::new()),
        root: CancellationToken::new(),
    });
    let end = (!cfg!(miri)).then(|| Instant::now() + Duration::from_secs_f64(seconds()));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let worker = Worker {
                world: world.clone(),
                rng: Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F)),
                held: Vec::new(),
                sets: Vec::new(),
                scopes: Vec::new(),
                registrations: Vec::new(),
            };
            spawn_tracked(move || worker.run(end))
        })
        .collect();
    let mut workers: Vec<Worker> = threads
        .into_iter()
        .map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect();

    // The drain: wake everything, run everything, collect every output still kept; after a
    // while, cancel what is left (a task whose waker was forgotten never wakes).
    let mut rounds = 0;
    wait_until(&format!("the drain to finish (seed {seed})"), || {
        rounds += 1;
        let force = rounds > 50;
        if rounds == 50 {
            world.root.cancel();
        }
        if force {
            for (abort, record) in world.aborts.lock().unwrap().drain(..) {
                record.abort();
                abort.abort();
            }
        }
        let wakers: Vec<_> = world.wakers.lock().unwrap().drain(..).collect();
        for (waker, _) in wakers {
            waker.wake();
        }
        world.queue.run_all();
        let mut busy = false;
        for worker in &mut workers {
            busy |= worker.drain(force);
        }
        world.queue.run_all();
        !busy && world.queue.is_empty() && world.wakers.lock().unwrap().is_empty()
    });

    // Every registration kept to the end sees its token cancelled: its callback must run.
    for worker in &mut workers {
        for registration in &worker.registrations {
            registration.record.must_call.store(true, SeqCst);
            registration.on_cancel.token().cancel();
        }
    }
    drop(workers);
    world.aborts.lock().unwrap().clear();
    world.tokens.lock().unwrap().clear();
    world.queue.run_all();
    assert!(
        world.queue.is_empty(),
        "seed {seed}: the last drops scheduled nothing"
    );
    drop(world);

    untracked(|| {
        println!(
        "soak: {} tasks, {} runs, {} runnables dropped, {} wakes, {} aborts, {} outputs received, \
         {} completion callbacks, {} scopes, {} on_cancel callbacks",
        stats.tasks.load(SeqCst),
        stats.runs.load(SeqCst),
        stats.runnables_dropped.load(SeqCst),
        stats.wakes.load(SeqCst),
        stats.aborts.load(SeqCst),
        stats.outputs_received.load(SeqCst),
        stats.callbacks.load(SeqCst),
        stats.scopes.load(SeqCst),
        stats.cancel_callbacks.load(SeqCst),
    )
    });
    let failure = stats.first_failure.lock().unwrap().take();
    assert_eq!(
        stats.failures.load(SeqCst),
        0,
        "seed {seed}: first failure: {}",
        failure.unwrap_or_default()
    );
    assert_eq!(
        stats.live_records.load(SeqCst),
        0,
        "seed {seed}: tasks leaked"
    );
    assert_eq!(
        stats.live_cancel_records.load(SeqCst),
        0,
        "seed {seed}: on_cancel callbacks leaked"
    );
    assert_eq!(
        stats.live_done_records.load(SeqCst),
        0,
        "seed {seed}: done functions leaked"
    );
    assert_eq!(
        Arc::strong_count(&stats),
        1,
        "seed {seed}: something still holds the stats"
    );
}
