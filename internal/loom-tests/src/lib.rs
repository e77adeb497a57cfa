//! The harness for the loom models of rawtask's raw task protocol (`tests/*.rs`).
//!
//! Everything here is compiled only with `RUSTFLAGS="--cfg loom"`; without it this crate and
//! its tests are empty, so a plain `cargo test --workspace` passes without running loom.
//!
//! # What every model checks
//!
//! A model spawns one task with [`Harness::spawn`], hands its `Runnable`, `Task` and wakers to the
//! main thread and one or two spawned loom threads, joins them, and calls [`Harness::finish`], which
//! runs whatever is still queued, resolves a `Task` the main thread kept, and asserts:
//!
//! - the future was dropped exactly once, the data slot exactly once, the schedule function
//!   exactly once;
//! - at most one output (or stored panic) was produced, it was dropped exactly once;
//! - the output (or, with `propagate_panic`, the stored panic) reached a `Task` holder (an
//!   await, or a `cancel` that returned it) as often as the model's [`Delivery`] says:
//!   exactly once where nobody gives the output up and the task can complete, so that a lost
//!   wakeup or a lost output fails the model; never where the `Task` was detached or dropped
//!   or the task was cancelled before completing; at most once where a `cancel` races the
//!   completion. A `Task` the main thread kept for [`Harness::finish`] must moreover receive any
//!   output that was produced;
//! - with a [`WithInfo`] schedule function, the number of schedules with
//!   `woken_while_running` equals the number of `Runnable::run` calls that returned `true`;
//! - the schedule function is never dropped while one of its calls is running (rule 6: checked
//!   inside every call, after the push);
//! - whenever a `Task` resolves (output, cancellation or propagated panic), the future has
//!   been dropped and that drop happens-before the resolution (rule 4).
//!
//! After the model closure returns, loom's allocation tracker reports any task allocation
//! still live ("Allocation leaked") and panics on a double free ("pointer not tracked"): the
//! task memory comes from `loom::alloc` under `cfg(loom)` (see `src/sync.rs`).
//!
//! Drop counters are `std` atomics on purpose: loom does not see them, so they add no
//! scheduling points and, more importantly, no happens-before edges that could hide a missing
//! synchronisation in rawtask. (loom runs all model threads on one OS thread, so the counters
//! always read the true program order.) Where a model needs loom to prove an ordering — "the
//! future was dropped before `cancel` returned", "the data slot is not read while it is
//! dropped" — it writes and reads a [`Flag`], a loom `UnsafeCell`, which panics with a
//! causality violation when the two accesses are not ordered by happens-before.
//!
//! That distinction matters for more than noise: loom's partial order reduction only tries
//! the interleavings that reorder accesses *it can see*. A use-after-free observable only
//! through plain memory or `std` atomics is pruned away; one that touches a loom cell is not.
//! (Removing rawtask's schedule-call reference, rule 6, went unnoticed until the schedule
//! function's liveness check became a `Flag`.) Counts are fine as `std` atomics; orderings
//! must go through loom.
//!
//! # Running
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p loom-tests --release [-- --nocapture to see each model's execution count]
//! ```
//!
//! Models whose state space allows it explore at `LOOM_MAX_PREEMPTIONS + 1` ([`deep`]).
#![cfg(loom)]

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

pub use loom;
use loom::cell::UnsafeCell;
use loom::sync::{Condvar, Mutex};
use rawtask::{AbortHandle, Builder, Runnable, ScheduleInfo, Task, WithInfo};

/// Counts of what happened to the one task of a model execution.
#[derive(Default, Debug)]
pub struct Counters {
    /// Polls of the future.
    pub polls: AtomicUsize,
    /// Drops of the future.
    pub future_drops: AtomicUsize,
    /// Outputs the future returned.
    pub outputs_made: AtomicUsize,
    /// Drops of an output.
    pub output_drops: AtomicUsize,
    /// Outputs a `Task` handed to the model.
    pub outputs_received: AtomicUsize,
    /// Drops of the data slot.
    pub data_drops: AtomicUsize,
    /// Drops of the schedule function.
    pub schedule_fn_drops: AtomicUsize,
    /// Calls of the schedule function.
    pub schedules: AtomicUsize,
    /// Schedule calls with `woken_while_running` set.
    pub woken_while_running: AtomicUsize,
    /// `Runnable::run` calls that returned `true`.
    pub runs_returning_true: AtomicUsize,
    /// Panics the future raised.
    pub panics_made: AtomicUsize,
    /// Drops of a stored panic payload.
    pub panic_drops: AtomicUsize,
    /// Panics an awaiting `Task` re-raised.
    pub panics_received: AtomicUsize,
    /// Queued `Runnable`s dropped unrun (each one cancels the task: a queued `Runnable` means
    /// the task has not completed).
    pub runnables_dropped: AtomicUsize,
    /// `Task::abort` or `AbortHandle::abort` calls that returned `true` (cancelled an
    /// unfinished task): the output, if the future still makes one, must never be delivered.
    pub aborts: AtomicUsize,
}

/// Shorthand for a relaxed-enough read of a counter.
pub fn get(a: &AtomicUsize) -> usize {
    a.load(SeqCst)
}

fn bump(a: &AtomicUsize) {
    a.fetch_add(1, SeqCst);
}

/// A loom-tracked boolean: `set` is a write and `get` a read of a loom `UnsafeCell`, so loom
/// panics ("Causality violation") unless every `get` that follows a `set` in program order of
/// the execution is also ordered after it by happens-before.
#[derive(Debug)]
pub struct Flag(UnsafeCell<bool>);

// SAFETY: every access goes through loom's `UnsafeCell`, which turns an unsynchronised access
// into a model failure instead of a data race.
unsafe impl Sync for Flag {}

impl Flag {
    /// A clear flag.
    pub fn new() -> Flag {
        Flag(UnsafeCell::new(false))
    }

    /// Sets the flag (a loom-checked write).
    pub fn set(&self) {
        // SAFETY: loom checks the access.
        self.0.with_mut(|p| unsafe { *p = true })
    }

    /// Reads the flag (a loom-checked read).
    pub fn get(&self) -> bool {
        // SAFETY: loom checks the access.
        self.0.with(|p| unsafe { *p })
    }
}

impl Default for Flag {
    fn default() -> Self {
        Flag::new()
    }
}

/// Flags shared by the whole execution.
#[derive(Debug, Default)]
pub struct Flags {
    /// Set by the future's destructor.
    pub future_dropped: Flag,
    /// Set by the data slot's destructor.
    pub data_dropped: Flag,
}

/// The data slot: counts its drop, and carries a loom cell so that reads through
/// `Runnable::data`/`Task::metadata` are checked against the destructor and `data_mut`.
#[derive(Debug)]
pub struct Data {
    counters: StdArc<Counters>,
    flags: StdArc<Flags>,
    /// A loom cell that slot readers and writers touch.
    pub cell: UnsafeCell<usize>,
}

// SAFETY: `cell` is only accessed through loom's checked `with`/`with_mut`; a model that
// accesses it concurrently fails instead of racing.
unsafe impl Sync for Data {}

impl Data {
    /// Reads the slot, as an executor or the `Task` holder would.
    pub fn read(&self) -> usize {
        // SAFETY: loom checks the access.
        self.cell.with(|p| unsafe { *p })
    }

    /// Writes the slot (only through `Runnable::data_mut`).
    pub fn write(&mut self, v: usize) {
        // SAFETY: loom checks the access.
        self.cell.with_mut(|p| unsafe { *p = v })
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        self.cell.with_mut(|_| ());
        self.flags.data_dropped.set();
        bump(&self.counters.data_drops);
    }
}

/// The output of every test future.
#[derive(Debug)]
pub struct Output {
    counters: StdArc<Counters>,
    /// The value the future produced.
    pub value: usize,
}

impl Drop for Output {
    fn drop(&mut self) {
        bump(&self.counters.output_drops);
    }
}

/// The payload of a test future's panic: counts its drop.
#[derive(Debug)]
pub struct PanicToken(StdArc<Counters>);

impl Drop for PanicToken {
    fn drop(&mut self) {
        bump(&self.0.panic_drops);
    }
}

/// Counts the drop of a model's own future type exactly as a [`TestFuture`]'s drop is counted
/// (and sets [`Flags::future_dropped`]): such a future holds one, made by [`Harness::future_guard`].
#[derive(Debug)]
pub struct FutureGuard {
    counters: StdArc<Counters>,
    flags: StdArc<Flags>,
}

impl Drop for FutureGuard {
    fn drop(&mut self) {
        self.flags.future_dropped.set();
        bump(&self.counters.future_drops);
    }
}

/// The value every completing future returns.
pub const VALUE: usize = 42;

/// How many times one execution must deliver the output (or, with `propagate_panic`, the
/// stored panic) to a `Task` holder: an await that resolves to it, or a `Task::cancel` that
/// returns it (both counted by [`Harness::record`]). Checked by [`Harness::finish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Exactly once: nobody gives the output up (the `Task` is neither dropped, detached nor
    /// cancelled, no queued `Runnable` is dropped) and the future completes (or panics with
    /// `propagate_panic`) once it is polled often enough. After draining, the task must have
    /// finished and its output must have been received: a lost wakeup (the task never polled
    /// again) or a lost output (the `Task` resolving to `None`) fails the model.
    Once,
    /// At most once: a `Task::cancel` races the completion (it returns the output only if the
    /// task completed before `cancel` closed it; closed while running, `run` drops the output),
    /// or the model cannot tell whether its wake came in time for the task to complete.
    AtMostOnce,
    /// Never: the `Task` was detached or dropped (its output, if any, is dropped unseen), or
    /// the task was cancelled before completing (a queued `Runnable` dropped, a panic without
    /// `propagate_panic`), so the `Task` resolves to `None`.
    Never,
}

/// What the test future does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Ready on the first poll.
    Ready,
    /// First poll: puts a clone of its waker into the executor's stash (an external event
    /// source the executor fires later) and returns `Pending`; second poll: ready.
    Stash1,
    /// First poll: wakes itself by reference and returns `Pending` (a yield); second: ready.
    YieldOnce,
    /// Panics on the first poll.
    Panic1,
    /// Pending on the first poll without keeping a waker anywhere; ready on the second.
    /// Only an outside waker gets it polled again.
    PendingOnce,
}

/// The future of every model.
#[allow(missing_debug_implementations)] // holds closures
pub struct TestFuture {
    counters: StdArc<Counters>,
    flags: StdArc<Flags>,
    exec: StdArc<Exec>,
    kind: Kind,
    polls: usize,
    hook: Option<Hook>,
}

/// Called at the start of every poll with the poll's number (1, 2).
pub type Hook = Box<dyn FnMut(usize) + Send>;

impl Future for TestFuture {
    type Output = Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        bump(&self.counters.polls);
        self.polls += 1;
        assert!(self.polls <= 2, "a finished future was polled again");
        let first = self.polls == 1;
        let n = self.polls;
        if let Some(hook) = self.hook.as_mut() {
            hook(n);
        }
        match self.kind {
            Kind::Ready => {}
            Kind::Stash1 if first => {
                self.exec.stash(cx.waker().clone());
                return Poll::Pending;
            }
            Kind::YieldOnce if first => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Kind::PendingOnce if first => return Poll::Pending,
            Kind::Panic1 => {
                bump(&self.counters.panics_made);
                std::panic::panic_any(PanicToken(self.counters.clone()));
            }
            _ => {}
        }
        bump(&self.counters.outputs_made);
        Poll::Ready(Output {
            counters: self.counters.clone(),
            value: VALUE,
        })
    }
}

impl Drop for TestFuture {
    fn drop(&mut self) {
        self.flags.future_dropped.set();
        bump(&self.counters.future_drops);
    }
}

/// A one-queue executor: the schedule function pushes onto `queue`; futures of kind `Stash1`
/// leave a waker in `stash`, which the executor wakes when it has nothing else to do.
#[allow(missing_debug_implementations)] // loom's queue types
pub struct Exec {
    state: Mutex<ExecState>,
    cv: Condvar,
}

#[derive(Default)]
struct ExecState {
    queue: VecDeque<Runnable<Data>>,
    stash: Option<Waker>,
    done: bool,
}

enum Job {
    Run(Runnable<Data>),
    Wake(Waker),
}

impl Exec {
    fn new() -> Exec {
        Exec {
            state: Mutex::new(ExecState::default()),
            cv: Condvar::new(),
        }
    }

    /// Stores a waker; a replaced one is dropped outside the lock (dropping a waker may
    /// schedule, which locks).
    fn stash(&self, waker: Waker) {
        let old = {
            let mut g = self.state.lock().unwrap();
            let old = g.stash.replace(waker);
            self.cv.notify_all();
            old
        };
        drop(old);
    }

    fn push(&self, r: Runnable<Data>) {
        let mut g = self.state.lock().unwrap();
        g.queue.push_back(r);
        self.cv.notify_all();
    }

    /// Pops a queued `Runnable`, if any.
    pub fn pop(&self) -> Option<Runnable<Data>> {
        self.state.lock().unwrap().queue.pop_front()
    }

    /// Takes the stashed waker, if any.
    pub fn take_stash(&self) -> Option<Waker> {
        self.state.lock().unwrap().stash.take()
    }

    /// The next job; with `block`, waits for one until `done` is set (then returns `None`).
    fn next_job(&self, block: bool) -> Option<Job> {
        let mut g = self.state.lock().unwrap();
        loop {
            if let Some(r) = g.queue.pop_front() {
                return Some(Job::Run(r));
            }
            if let Some(w) = g.stash.take() {
                return Some(Job::Wake(w));
            }
            if !block || g.done {
                return None;
            }
            g = self.cv.wait(g).unwrap();
        }
    }

    /// Tells a blocking executor loop to stop once it runs out of work.
    pub fn set_done(&self) {
        self.state.lock().unwrap().done = true;
        self.cv.notify_all();
    }

    /// Waits until a `Runnable` is queued and pops it.
    pub fn pop_blocking(&self) -> Runnable<Data> {
        let mut g = self.state.lock().unwrap();
        loop {
            if let Some(r) = g.queue.pop_front() {
                return r;
            }
            g = self.cv.wait(g).unwrap();
        }
    }
}

/// The schedule function's captured state; counts its drop.
struct Sched {
    counters: StdArc<Counters>,
    exec: StdArc<Exec>,
    dropped: Flag,
}

impl Sched {
    fn schedule(&self, r: Runnable<Data>, woken_while_running: bool) {
        bump(&self.counters.schedules);
        if woken_while_running {
            bump(&self.counters.woken_while_running);
        }
        self.exec.push(r);
        // Rule 6: the task (and so this closure) must still be alive after the push, even if
        // another thread already ran the task to completion meanwhile. `dropped` is a loom
        // cell, so loom sees this read conflict with the destructor's write and explores both
        // orders (a check through the std counters alone would be pruned by loom's partial
        // order reduction, which only reorders accesses it can see).
        assert!(
            !self.dropped.get(),
            "the schedule function was dropped during its own call"
        );
        assert_eq!(get(&self.counters.schedule_fn_drops), 0);
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        self.dropped.set();
        bump(&self.counters.schedule_fn_drops);
    }
}

/// How a model's task is built.
#[derive(Clone, Copy, Debug)]
pub struct Spawn {
    /// What the future does.
    pub kind: Kind,
    /// Spawned with `propagate_panic(true)`.
    pub propagate_panic: bool,
    /// Schedule through `WithInfo` (and check `woken_while_running`) or a plain closure.
    pub with_info: bool,
    /// The task uses the harness's counting schedule function (`Harness::spawn`); `false` for
    /// models that spawn with their own (see `Harness::adopt`).
    pub counted_schedule: bool,
}

impl Spawn {
    /// A task of `kind`, scheduled through `WithInfo` with the counting schedule function.
    pub const fn new(kind: Kind) -> Spawn {
        Spawn {
            kind,
            propagate_panic: false,
            with_info: true,
            counted_schedule: true,
        }
    }

    /// The same, with panic propagation.
    pub const fn propagate(mut self) -> Spawn {
        self.propagate_panic = true;
        self
    }

    /// The same, with a plain closure as schedule function.
    pub const fn plain(mut self) -> Spawn {
        self.with_info = false;
        self
    }

    /// For a task spawned by the model itself with its own schedule function.
    pub const fn custom_schedule(mut self) -> Spawn {
        self.with_info = false;
        self.counted_schedule = false;
        self
    }
}

/// The `Runnable` of a model's task (its data slot is the counted [`Data`]).
pub type ModelRunnable = Runnable<Data>;
/// The `Task` handle of a model's task.
pub type ModelTask = Task<Output, Data>;

/// One model execution's world: counters, flags and the executor.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // its executor holds loom queues
pub struct Harness {
    /// What happened to the task.
    pub counters: StdArc<Counters>,
    /// What has been dropped.
    pub flags: StdArc<Flags>,
    /// The executor.
    pub exec: StdArc<Exec>,
    spawn: Option<Spawn>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// A fresh world for one model execution.
    pub fn new() -> Harness {
        quiet_test_panics();
        Harness {
            counters: StdArc::new(Counters::default()),
            flags: StdArc::new(Flags::default()),
            exec: StdArc::new(Exec::new()),
            spawn: None,
        }
    }

    /// Builds the data slot (value 7).
    pub fn data(&self) -> Data {
        Data {
            counters: self.counters.clone(),
            flags: self.flags.clone(),
            cell: UnsafeCell::new(7),
        }
    }

    /// A test future of the given kind.
    pub fn future(&self, kind: Kind) -> TestFuture {
        TestFuture {
            counters: self.counters.clone(),
            flags: self.flags.clone(),
            exec: self.exec.clone(),
            kind,
            polls: 0,
            hook: None,
        }
    }

    /// Spawns the model's one task. The `Runnable` is returned as is (not scheduled yet).
    pub fn spawn(&mut self, how: Spawn) -> (ModelRunnable, ModelTask) {
        self.spawn_hooked(how, None)
    }

    /// [`spawn`](Self::spawn) with a [`Hook`] the future calls at the start of every poll.
    pub fn spawn_hooked(&mut self, how: Spawn, hook: Option<Hook>) -> (ModelRunnable, ModelTask) {
        let mut future = self.future(how.kind);
        future.hook = hook;
        self.spawn_with(how, future)
    }

    /// Spawns the model's one task with a future of the model's own type, which must hold a
    /// [`FutureGuard`] (from [`future_guard`](Self::future_guard)) and complete with
    /// [`output`](Self::output), so that the end-of-model checks count its drops as for a
    /// [`TestFuture`]. `how.kind` only describes the future (with [`Delivery::Once`], `Panic1`
    /// means the `Task` must receive a propagated panic, any other kind the output); the data
    /// slot and the schedule function are the harness's, as in [`spawn`](Self::spawn).
    pub fn spawn_with<F>(&mut self, how: Spawn, future: F) -> (ModelRunnable, ModelTask)
    where
        F: Future<Output = Output> + Send + 'static,
    {
        assert!(self.spawn.is_none(), "one task per model");
        assert!(
            how.counted_schedule,
            "spawn_with uses the harness's schedule function"
        );
        self.spawn = Some(how);
        let builder = Builder::new()
            .metadata(self.data())
            .propagate_panic(how.propagate_panic);
        let sched = Sched {
            counters: self.counters.clone(),
            exec: self.exec.clone(),
            dropped: Flag::new(),
        };
        if how.with_info {
            builder.spawn(
                move |_| future,
                WithInfo(move |r: ModelRunnable, info: ScheduleInfo| {
                    sched.schedule(r, info.woken_while_running)
                }),
            )
        } else {
            builder.spawn(
                move |_| future,
                move |r: ModelRunnable| sched.schedule(r, false),
            )
        }
    }

    /// The drop counter of a model's own future type (see [`spawn_with`](Self::spawn_with)).
    pub fn future_guard(&self) -> FutureGuard {
        FutureGuard {
            counters: self.counters.clone(),
            flags: self.flags.clone(),
        }
    }

    /// The output of a model's own future type, counted as made (value [`VALUE`]).
    pub fn output(&self) -> Output {
        bump(&self.counters.outputs_made);
        Output {
            counters: self.counters.clone(),
            value: VALUE,
        }
    }

    /// Records how a task the model spawned itself (with [`data`](Self::data) and
    /// [`future`](Self::future)) was built, for [`check`](Self::check).
    pub fn adopt(&mut self, how: Spawn) {
        assert!(self.spawn.is_none(), "one task per model");
        self.spawn = Some(how);
    }

    /// Runs a `Runnable` as an executor does: a panic from the test future is caught (and its
    /// payload dropped); any other panic (a loom failure, a broken assertion) goes on.
    pub fn run(&self, r: ModelRunnable) {
        let _ = r.data().read();
        match catch_unwind(AssertUnwindSafe(|| r.run())) {
            Ok(true) => bump(&self.counters.runs_returning_true),
            Ok(false) => {}
            Err(payload) => expect_test_panic(payload),
        }
    }

    /// Pops and runs one queued `Runnable`, if there is one.
    pub fn run_next(&self) -> bool {
        match self.exec.pop() {
            Some(r) => {
                self.run(r);
                true
            }
            None => false,
        }
    }

    /// An executor thread: runs queued tasks and fires the stash until `set_done` and idle.
    pub fn executor_loop(&self) {
        while let Some(job) = self.exec.next_job(true) {
            self.do_job(job);
        }
    }

    fn do_job(&self, job: Job) {
        match job {
            Job::Run(r) => self.run(r),
            Job::Wake(w) => w.wake(),
        }
    }

    /// Runs everything queued and fires the stash until there is nothing left.
    pub fn drain(&self) {
        while let Some(job) = self.exec.next_job(false) {
            self.do_job(job);
        }
    }

    /// Awaits the `Task` (as a `FallibleTask`), records what it got, and checks that the future
    /// is gone by then (rule 4 for cancelled tasks; completion drops the future before storing
    /// the output). Returns the output value, `None` if cancelled; a propagated panic is
    /// caught and counted, and reported as `Some(usize::MAX)`.
    pub fn await_task(&self, t: ModelTask) -> Option<usize> {
        let _ = t.metadata().read();
        let got = catch_unwind(AssertUnwindSafe(|| loom::future::block_on(t.fallible())));
        self.record(got)
    }

    /// `Task::cancel`, then the same bookkeeping as [`await_task`](Self::await_task).
    pub fn cancel_task(&self, t: ModelTask) -> Option<usize> {
        let _ = t.metadata().read();
        let got = catch_unwind(AssertUnwindSafe(|| loom::future::block_on(t.cancel())));
        self.record(got)
    }

    /// `Task::abort` (keeping the handle), then awaits it through `Task::join`, with the same
    /// bookkeeping as [`await_task`](Self::await_task). An abort that returned `true` must
    /// end in `JoinError::Cancelled`; a panic reaches the model as `JoinError::Panicked`.
    pub fn abort_task(&self, t: ModelTask) -> Option<usize> {
        let _ = t.metadata().read();
        let aborted = t.abort();
        if aborted {
            bump(&self.counters.aborts);
        }
        let joined = loom::future::block_on(t.join());
        if aborted {
            assert!(
                matches!(joined, Err(rawtask::JoinError::Cancelled)),
                "an abort that cancelled the task must be reported as a cancellation"
            );
        }
        self.record(match joined {
            Ok(out) => Ok(Some(out)),
            Err(rawtask::JoinError::Cancelled) => Ok(None),
            Err(rawtask::JoinError::Panicked(payload)) => Err(payload),
        })
    }

    /// `AbortHandle::abort`, counted like [`abort_task`](Self::abort_task)'s, then drops the
    /// handle (possibly the task's last reference: rule 7).
    pub fn abort_by_handle(&self, handle: AbortHandle) {
        if handle.abort() {
            bump(&self.counters.aborts);
        }
        drop(handle)
    }

    /// The bookkeeping of [`await_task`](Self::await_task) for a result obtained otherwise.
    pub fn record(&self, got: std::thread::Result<Option<Output>>) -> Option<usize> {
        // Whatever the outcome, the future must be gone, and loom must see its drop as
        // happening before this point.
        assert!(
            self.flags.future_dropped.get(),
            "the Task resolved before the future was dropped"
        );
        match got {
            Ok(Some(out)) => {
                assert_eq!(out.value, VALUE);
                bump(&self.counters.outputs_received);
                Some(out.value)
            }
            Ok(None) => None,
            Err(payload) => {
                expect_test_panic(payload);
                bump(&self.counters.panics_received);
                Some(usize::MAX)
            }
        }
    }

    /// Ends a model: joins nothing (the caller joined its threads), runs what is left, settles
    /// a `Task` the main thread kept, and checks the counters, including that the output was
    /// delivered as `delivery` says over the whole execution. Returns what the kept `Task`
    /// received, if it was awaited.
    ///
    /// A kept `Task` was not given up, so it must receive whatever output (or propagated
    /// panic) the task produced; and with [`Delivery::Once`] the task must have finished once
    /// everything queued has run and the stash has been fired (else a wakeup was lost). A kept
    /// `Task` that has not finished is dropped (cancelling the task) only where neither holds.
    pub fn finish(&self, task: Option<ModelTask>, delivery: Delivery) -> Option<usize> {
        self.drain();
        let mut got = None;
        if let Some(t) = task {
            let produced = self.produced();
            if delivery == Delivery::Once || produced {
                assert!(
                    t.is_finished(),
                    "the kept Task has not finished after draining (a lost wakeup?): {:?}",
                    self.counters
                );
            }
            if t.is_finished() {
                got = self.await_task(t);
                if produced && get(&self.counters.aborts) == 0 {
                    assert!(
                        got.is_some(),
                        "the kept Task lost the output: {:?}",
                        self.counters
                    );
                }
            } else {
                drop(t);
            }
            self.drain();
        }
        self.check(delivery);
        got
    }

    /// Whether the task produced something for its `Task`: an output, or a panic stored for
    /// `propagate_panic`.
    fn produced(&self) -> bool {
        let spawn = self.spawn.expect("no task spawned");
        get(&self.counters.outputs_made) > 0
            || (spawn.propagate_panic && get(&self.counters.panics_made) > 0)
    }

    /// The end-of-model assertions.
    pub fn check(&self, delivery: Delivery) {
        let counters = &*self.counters;
        let spawn = self.spawn.expect("no task spawned");
        let delivered = get(&counters.outputs_received) + get(&counters.panics_received);
        match delivery {
            Delivery::Once if spawn.kind == Kind::Panic1 => assert_eq!(
                (
                    get(&counters.panics_received),
                    get(&counters.outputs_received)
                ),
                (1, 0),
                "the propagated panic must reach the Task exactly once: {counters:?}"
            ),
            Delivery::Once => assert_eq!(
                (
                    get(&counters.outputs_received),
                    get(&counters.panics_received)
                ),
                (1, 0),
                "the output must reach the Task exactly once: {counters:?}"
            ),
            Delivery::AtMostOnce => assert!(delivered <= 1, "delivered twice: {counters:?}"),
            Delivery::Never => assert_eq!(delivered, 0, "delivered, but given up: {counters:?}"),
        }
        if get(&counters.aborts) > 0 {
            assert_eq!(
                delivered, 0,
                "an abort cancelled the task, yet its output was delivered: {counters:?}"
            );
        }
        assert_eq!(get(&counters.future_drops), 1, "future drops: {counters:?}");
        assert!(self.flags.future_dropped.get());
        assert_eq!(
            get(&counters.data_drops),
            1,
            "data slot drops: {counters:?}"
        );
        assert!(self.flags.data_dropped.get());
        let sched_drops = usize::from(spawn.counted_schedule);
        assert_eq!(
            get(&counters.schedule_fn_drops),
            sched_drops,
            "schedule fn drops: {counters:?}"
        );
        assert!(get(&counters.outputs_made) <= 1, "{counters:?}");
        assert_eq!(
            get(&counters.output_drops),
            get(&counters.outputs_made),
            "output drops: {counters:?}"
        );
        assert!(
            get(&counters.outputs_received) <= get(&counters.outputs_made),
            "{counters:?}"
        );
        assert!(get(&counters.panics_made) <= 1, "{counters:?}");
        assert_eq!(
            get(&counters.panic_drops),
            get(&counters.panics_made),
            "panic payload drops: {counters:?}"
        );
        assert!(
            get(&counters.panics_received) <= get(&counters.panics_made),
            "{counters:?}"
        );
        assert!(
            get(&counters.outputs_made) + get(&counters.panics_made) <= 1,
            "{counters:?}"
        );
        if !spawn.propagate_panic {
            assert_eq!(get(&counters.panics_received), 0, "{counters:?}");
        }
        assert!(get(&counters.polls) <= 2, "{counters:?}");
        if spawn.with_info {
            assert_eq!(
                get(&counters.woken_while_running),
                get(&counters.runs_returning_true),
                "woken_while_running schedules vs run() == true: {counters:?}"
            );
        }
        let exec = self.exec.state.lock().unwrap();
        assert!(exec.queue.is_empty() && exec.stash.is_none());
    }
}

/// Drops a caught panic payload, re-raising it unless it is a test future's [`PanicToken`].
pub fn expect_test_panic(payload: Box<dyn std::any::Any + Send>) {
    if !payload.is::<PanicToken>() {
        std::panic::resume_unwind(payload);
    }
}

/// A raw task pointer that may cross threads (for `into_raw`/`from_raw` hand-offs).
#[derive(Debug)]
pub struct SendPtr(pub NonNull<()>);

// SAFETY: it is only a task pointer; the `Runnable` or `Task` it stands for is `Send`.
unsafe impl Send for SendPtr {}

/// A `*mut ()` from `Task::into_raw` that may cross threads.
#[derive(Debug)]
pub struct SendTaskPtr(pub *mut ());

// SAFETY: as for `SendPtr`.
unsafe impl Send for SendTaskPtr {}

/// The preemption bound of the models whose state space is small enough to explore one
/// level deeper than `LOOM_MAX_PREEMPTIONS` (2 when unset) within seconds: that bound plus one.
/// The heavy models (a `Task` awaited in `block_on` while an executor loop runs, and the
/// three-thread models) pass `None` and take the environment's bound as is.
pub fn deep() -> Option<usize> {
    let base = std::env::var("LOOM_MAX_PREEMPTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    Some(base + 1)
}

/// Runs `f` as a loom model with the preemption bound from `LOOM_MAX_PREEMPTIONS` (or
/// `bound`, if given), and prints how many executions it explored.
pub fn model<F>(name: &str, bound: Option<usize>, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let executions = StdArc::new(AtomicUsize::new(0));
    let counted = executions.clone();
    let mut builder = loom::model::Builder::new();
    if let Some(b) = bound {
        builder.preemption_bound = Some(b);
    }
    let start = std::time::Instant::now();
    builder.check(move || {
        counted.fetch_add(1, SeqCst);
        f()
    });
    eprintln!(
        "loom model {name}: {} executions (preemption bound {:?}) in {:.1?}",
        executions.load(SeqCst),
        builder.preemption_bound,
        start.elapsed()
    );
}

/// Silences the panic messages of expected panics: the test futures' [`PanicToken`]s and the
/// message of a `spawn_local` task run on a foreign thread. Everything else still prints.
pub fn quiet_test_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            if payload.is::<PanicToken>() || payload.is::<ExpectedPanic>() {
                return;
            }
            let text = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if text.contains("was run on a thread other than the one that spawned it") {
                return;
            }
            previous(info)
        }));
    });
}

/// A panic payload a model raises on purpose (not counted anywhere).
#[derive(Debug)]
pub struct ExpectedPanic;

// ----- two actors racing on one task -----

/// One thing a thread can do to the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// Pops one queued `Runnable` and runs it (when the other actor blocks on the `Task`:
    /// runs the executor loop until the `Task` side is done).
    Run,
    /// Holds the spawned `Runnable` and calls `Runnable::schedule` on it.
    Schedule,
    /// Pops one queued `Runnable` and drops it without running it.
    RunnableDrop,
    /// Receives the spawned `Runnable` as a raw pointer (`into_raw` on the main thread),
    /// rebuilds it with `from_raw` and runs it.
    RawHandoff,
    /// Holds a waker (from `Runnable::waker`) and wakes it by value.
    WakeByValue,
    /// Holds a waker, wakes it by reference, then drops it.
    WakeByRef,
    /// Holds a waker, clones it, and drops both (possibly the last reference).
    CloneDrop,
    /// Awaits the `Task` (registers an awaiter, is notified).
    TaskPoll,
    /// Drops the `Task`.
    TaskDrop,
    /// `Task::cancel` and awaits it.
    TaskCancel,
    /// `Task::detach`.
    TaskDetach,
    /// `Task::abort` (keeping the handle), then awaits the `Task` through `Task::join`.
    Abort,
    /// Holds an `AbortHandle` (made from the `Task` before it is handed out), aborts through
    /// it and drops it.
    AbortHandle,
}

impl Actor {
    fn wants_waker(self) -> bool {
        matches!(
            self,
            Actor::WakeByValue | Actor::WakeByRef | Actor::CloneDrop
        )
    }

    /// Made before the `Runnable` and the `Task` are handed out.
    fn made_first(self) -> bool {
        self.wants_waker() || self == Actor::AbortHandle
    }

    fn wants_runnable(self) -> bool {
        matches!(self, Actor::Schedule | Actor::RawHandoff)
    }

    fn wants_task(self) -> bool {
        matches!(
            self,
            Actor::TaskPoll
                | Actor::TaskDrop
                | Actor::TaskCancel
                | Actor::TaskDetach
                | Actor::Abort
        )
    }

    fn blocks(self) -> bool {
        matches!(self, Actor::TaskPoll | Actor::TaskCancel | Actor::Abort)
    }
}

/// What an actor gets from the main thread.
enum Kit {
    Nothing,
    Runnable(ModelRunnable),
    Raw(SendPtr),
    Waker(Waker),
    Task(ModelTask),
    Abort(AbortHandle),
}

fn act(h: &Harness, actor: Actor, kit: Kit, executor: bool) {
    act_once(h, actor, kit, executor);
    if executor && actor != Actor::Run {
        h.executor_loop();
    }
}

fn act_once(h: &Harness, actor: Actor, kit: Kit, executor: bool) {
    match (actor, kit) {
        (Actor::Run, Kit::Nothing) if executor => h.executor_loop(),
        (Actor::Run, Kit::Nothing) => {
            h.run_next();
        }
        (Actor::Schedule, Kit::Runnable(r)) => {
            let _ = r.data().read();
            r.schedule()
        }
        (Actor::RunnableDrop, Kit::Nothing) => {
            if let Some(r) = h.exec.pop() {
                bump(&h.counters.runnables_dropped);
                drop(r)
            }
        }
        (Actor::RawHandoff, Kit::Raw(p)) => {
            // SAFETY: the pointer came from `Runnable::into_raw` and is converted back once.
            let r = unsafe { Runnable::<Data>::from_raw(p.0) };
            h.run(r)
        }
        (Actor::WakeByValue, Kit::Waker(w)) => w.wake(),
        (Actor::WakeByRef, Kit::Waker(w)) => {
            w.wake_by_ref();
            drop(w)
        }
        (Actor::CloneDrop, Kit::Waker(w)) => {
            let w2 = w.clone();
            drop(w);
            drop(w2)
        }
        (Actor::TaskPoll, Kit::Task(t)) => {
            h.await_task(t);
            h.exec.set_done()
        }
        (Actor::TaskDrop, Kit::Task(t)) => {
            let _ = t.metadata().read();
            drop(t)
        }
        (Actor::TaskCancel, Kit::Task(t)) => {
            h.cancel_task(t);
            h.exec.set_done()
        }
        (Actor::TaskDetach, Kit::Task(t)) => {
            let _ = t.metadata().read();
            t.detach()
        }
        (Actor::Abort, Kit::Task(t)) => {
            h.abort_task(t);
            h.exec.set_done()
        }
        (Actor::AbortHandle, Kit::Abort(handle)) => h.abort_by_handle(handle),
        (actor, _) => unreachable!("bad kit for {actor:?}"),
    }
}

/// Races `a` against `b` on one task built as `how` says.
///
/// Set-up on the main thread: spawn; each waker actor gets its own `Runnable::waker`; the
/// `Runnable` goes to a `Schedule`/`RawHandoff` actor if there is one, else it is scheduled
/// onto the queue; the `Task` goes to a `Task*` actor if there is one, else the main thread
/// keeps it for `finish`. If an actor blocks on the `Task`, someone must keep running the
/// task: the other actor runs an executor loop after its own step (for `Run`, that loop is
/// its step), until the blocked side is done.
pub fn race(name: &str, a: Actor, b: Actor, how: Spawn, bound: Option<usize>) {
    assert!(
        !(a.wants_task() && b.wants_task()),
        "there is only one Task handle"
    );
    assert!(
        !(a.wants_runnable() && b.wants_runnable()),
        "there is only one spawned Runnable"
    );
    assert_ne!(
        how.kind,
        Kind::PendingOnce,
        "no actor would wake a PendingOnce future a second time"
    );
    model(name, bound, move || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(how);
        let blocking = a.blocks() || b.blocks();
        let mut r = Some(r);
        let mut t = Some(t);
        let kit = |actor: Actor, r: &mut Option<ModelRunnable>, t: &mut Option<ModelTask>| {
            if actor.wants_waker() {
                Kit::Waker(r.as_ref().unwrap().waker())
            } else if actor == Actor::AbortHandle {
                Kit::Abort(t.as_ref().unwrap().abort_handle())
            } else if actor == Actor::Schedule {
                Kit::Runnable(r.take().unwrap())
            } else if actor == Actor::RawHandoff {
                Kit::Raw(SendPtr(r.take().unwrap().into_raw()))
            } else if actor.wants_task() {
                Kit::Task(t.take().unwrap())
            } else {
                Kit::Nothing
            }
        };
        // Wakers and abort handles first: they are made from the `Runnable` or the `Task`
        // before those are handed out.
        let (kit_a, kit_b) = if b.made_first() {
            let kit_b = kit(b, &mut r, &mut t);
            (kit(a, &mut r, &mut t), kit_b)
        } else {
            let kit_a = kit(a, &mut r, &mut t);
            (kit_a, kit(b, &mut r, &mut t))
        };
        if let Some(r) = r.take() {
            r.schedule();
        }
        // Only one side blocks on the `Task`; the other side keeps the task running once it
        // has done its part.
        let exec_a = blocking && !a.blocks();
        let exec_b = blocking && !b.blocks();

        // `b` on a new thread, `a` on the model's main thread: two threads in all.
        let hb = h.clone();
        let tb = loom::thread::spawn(move || act(&hb, b, kit_b, exec_b));
        act(&h, a, kit_a, exec_a);
        tb.join().unwrap();
        h.finish(t, race_delivery(a, b, how, &h.counters));
    });
}

/// What a race must deliver to the `Task` holder (the `TaskPoll` actor, the `TaskCancel` actor,
/// or the main thread that kept the `Task` for [`Harness::finish`]), from the two actors, how the
/// task was built, and whether the `RunnableDrop` actor found a `Runnable` to drop:
///
/// - [`Delivery::Never`] if the `Task` is given up (`TaskDrop`, `TaskDetach`: any output is
///   dropped unseen), if a queued `Runnable` was dropped (the task is cancelled before it
///   completes; a `RunnableDrop` actor that found the queue empty did nothing), or if the
///   future panics without `propagate_panic` (the task is cancelled);
/// - [`Delivery::AtMostOnce`] if a `TaskCancel` races the completion: `cancel` returns the
///   output only if the task completed before it closed the task;
/// - [`Delivery::Once`] otherwise. The remaining actors (`Run`, `Schedule`, `RawHandoff`, the
///   waker actors, `TaskPoll`) never give the output up, and every future kind in the races
///   completes once polled often enough: the first poll is queued at set-up (or runs in the
///   `Schedule`/`RawHandoff` actor), a second poll is queued by the future itself (`YieldOnce`)
///   or by the executor firing the stash (`Stash1`), and [`Harness::finish`] drains both. So after
///   draining the task must have finished, and its output (or propagated panic) must have
///   reached the `TaskPoll` actor or the kept `Task` exactly once.
fn race_delivery(a: Actor, b: Actor, how: Spawn, counters: &Counters) -> Delivery {
    let either = |f: fn(Actor) -> bool| f(a) || f(b);
    if either(|x| matches!(x, Actor::TaskDrop | Actor::TaskDetach))
        || get(&counters.runnables_dropped) > 0
        || (how.kind == Kind::Panic1 && !how.propagate_panic)
    {
        Delivery::Never
    } else if either(|x| matches!(x, Actor::TaskCancel | Actor::Abort | Actor::AbortHandle)) {
        Delivery::AtMostOnce
    } else {
        Delivery::Once
    }
}
