//! Coverage-guided fuzzing of the raw task protocol: operations in any order over a few tasks.
//!
//! The input is a list of operations (derived with `arbitrary`): spawn a task (with or without
//! a data slot, `spawn_local`, `propagate_panic`, a `WithInfo` schedule function), run,
//! schedule or drop one of its queued `Runnable`s (or round-trip it through a raw pointer),
//! take, clone, wake (by value, by reference, on a second thread) and drop wakers, poll the
//! `Task` (plain or fallible, with a waker that records the awaiter's wakeups), detach, drop,
//! cancel it (driving `Task::cancel` by polling, possibly leaving the cancel future pending),
//! turn it into a `CallbackTask` (`Task::on_finish`) and `try_take`, `cancel`, `detach` or
//! drop that. Each task's future does what the input last told it at each poll: stay pending,
//! complete, wake itself (yield), keep a clone of its waker, or panic.
//!
//! It is tests/random_ops.rs grown up: many tasks instead of one, `on_finish`, locals, cross
//! thread wakes, awaiter wakeups, and libFuzzer choosing the sequences instead of a seed.
//!
//! Checked during the input: a `Runnable::run` that returns `true` rescheduled the task exactly
//! once (inside the call, with `woken_while_running` for a `WithInfo` schedule), and one that
//! returns `false` not at all; an awaiter registered by a pending poll is woken before the
//! future is dropped (completion or cancellation); an on_finish callback runs only once the
//! future is gone, and a `CallbackTask` that says it is finished has called back. Checked at
//! the end (after waking everything and draining every queue): every future, data slot and
//! produced output dropped exactly once, every output (or propagated panic) delivered at most
//! once and exactly once where the `Task` holder kept its handle, every callback called exactly
//! once, a task that could still be woken finished (no lost wakeup), and no allocation left
//! behind (the counting global allocator).

#![no_main]

mod common;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rawtask::{Builder, CallbackTask, FallibleTask, Runnable, ScheduleInfo, Task, WithInfo};

use common::catch_quietly;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

const MAX_TASKS: usize = 6;
const MAX_OPS: usize = 256;

/// What a task's future does at its next poll.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pending,
    Ready,
    /// Wakes its own waker, then pending.
    Yield,
    /// Keeps a clone of its waker (the harness can take it), then pending.
    KeepWaker,
    Panic,
}

impl Action {
    fn from_u8(v: u8) -> Action {
        match v {
            0 => Action::Pending,
            1 => Action::Ready,
            2 => Action::Yield,
            3 => Action::KeepWaker,
            _ => Action::Panic,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct SpawnSpec {
    local: bool,
    data: bool,
    propagate: bool,
    with_info: bool,
    /// Keep a waker that no operation touches until the end.
    spare: bool,
    /// Schedule the fresh runnable (else it is queued without a schedule call).
    schedule: bool,
    first: Action,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Spawn(SpawnSpec),
    Run { task: u8, action: Action },
    SetAction { task: u8, action: Action },
    Schedule(u8),
    DropRunnable(u8),
    RawRoundTrip(u8),
    WakerFromRunnable(u8),
    TakeKept,
    Wake(u8),
    WakeByRef(u8),
    CloneWaker(u8),
    DropWaker(u8),
    WakeOnThread(u8),
    DropWakerOnThread(u8),
    PollTask { task: u8, with_waker: bool },
    Fallible(u8),
    Detach(u8),
    DropHandle(u8),
    Cancel { task: u8, with_waker: bool },
    OnFinish(u8),
    TryTake(u8),
    CallbackCancel(u8),
    IsFinished(u8),
}

#[derive(Default)]
struct Counts {
    future_drops: AtomicUsize,
    output_drops: AtomicUsize,
    data_drops: AtomicUsize,
    completions: AtomicUsize,
    panics: AtomicUsize,
    callbacks: AtomicUsize,
    awaiter_wakes: AtomicUsize,
}

/// Dropped exactly once wherever it ends up.
struct Tracked(Arc<Counts>, fn(&Counts) -> &AtomicUsize);

impl Drop for Tracked {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_add(1, SeqCst);
    }
}

type Data = Option<Tracked>;

/// The schedule calls of one task, as its schedule function saw them.
#[derive(Default)]
struct ScheduleLog {
    in_run: bool,
    during_run: Vec<bool>,
    outside_woken_while_running: usize,
}

/// One task's shared state: what its future does next, its queue, the wakers it kept.
struct Shared {
    counts: Arc<Counts>,
    action: AtomicU8,
    finish_now: AtomicBool,
    queue: Mutex<VecDeque<Runnable<Data>>>,
    kept: Mutex<Vec<Waker>>,
    log: Mutex<ScheduleLog>,
}

impl Shared {
    fn push(&self, r: Runnable<Data>, woken_while_running: bool) {
        {
            let mut log = self.log.lock().unwrap();
            if log.in_run {
                log.during_run.push(woken_while_running);
            } else if woken_while_running {
                log.outside_woken_while_running += 1;
            }
        }
        self.queue.lock().unwrap().push_back(r);
    }

    fn pop(&self) -> Option<Runnable<Data>> {
        self.queue.lock().unwrap().pop_front()
    }
}

struct ScriptedFuture {
    shared: Arc<Shared>,
    _drop: Tracked,
}

impl Future for ScriptedFuture {
    type Output = Tracked;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Tracked> {
        let action = if self.shared.finish_now.load(SeqCst) {
            Action::Ready
        } else {
            Action::from_u8(self.shared.action.load(SeqCst))
        };
        let counts = &self.shared.counts;
        match action {
            Action::Ready => {
                counts.completions.fetch_add(1, SeqCst);
                Poll::Ready(Tracked(counts.clone(), |c| &c.output_drops))
            }
            Action::Panic => {
                counts.panics.fetch_add(1, SeqCst);
                panic!("scripted panic")
            }
            Action::Yield => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Action::KeepWaker => {
                self.shared.kept.lock().unwrap().push(cx.waker().clone());
                Poll::Pending
            }
            Action::Pending => Poll::Pending,
        }
    }
}

/// The waker a `Task` is polled with: counts the wakeups of the task's awaiter.
struct Awaiter(Arc<Counts>);

impl Wake for Awaiter {
    fn wake(self: Arc<Self>) {
        self.0.awaiter_wakes.fetch_add(1, SeqCst);
    }
}

type CancelFuture = Pin<Box<dyn Future<Output = Option<Tracked>>>>;

enum Handle {
    None,
    Task(Task<Tracked, Data>),
    Fallible(FallibleTask<Tracked, Data>),
    /// A `Task::cancel` future that was polled and is still pending.
    Cancelling(CancelFuture),
    Callback(CallbackTask<Tracked, Data>),
}

struct Slot {
    shared: Arc<Shared>,
    handle: Handle,
    propagate: bool,
    local: bool,
    with_info: bool,
    has_data: bool,
    on_finish: bool,
    spare: Option<Waker>,
    /// Outputs and propagated panics that reached the handle holder.
    delivered: usize,
    /// The handle was dropped, detached or cancelled: its output may be gone.
    given_up: bool,
    /// The last poll of the handle (or its cancel future) was pending with an `Awaiter`:
    /// the awaiter wakes counted then.
    awaiting: Option<usize>,
}

struct World {
    slots: Vec<Slot>,
    /// Wakers the harness holds, with their task.
    wakers: Vec<(usize, Waker)>,
}

fn pick(n: usize, i: u8) -> Option<usize> {
    (n > 0).then(|| usize::from(i) % n)
}

/// The outcome of polling a handle for its output.
enum Got {
    Pending,
    /// The output (or, as `Some(None)`, nothing: cancelled) reached the holder.
    Done(Option<Tracked>),
    /// A propagated panic reached the holder.
    Panicked,
    /// `Task`'s own panic for a cancelled task.
    CancelledPanic,
}

fn classify<T>(result: std::thread::Result<Poll<Option<T>>>) -> Poll<Result<Option<T>, bool>> {
    match result {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
        Err(payload) => {
            let scripted = payload.downcast_ref::<&str>() == Some(&"scripted panic");
            Poll::Ready(Err(scripted))
        }
    }
}

impl World {
    fn spawn(&mut self, spec: &SpawnSpec) {
        if self.slots.len() >= MAX_TASKS {
            return;
        }
        let counts = Arc::new(Counts::default());
        let shared = Arc::new(Shared {
            counts: counts.clone(),
            action: AtomicU8::new(spec.first as u8),
            finish_now: AtomicBool::new(false),
            queue: Mutex::new(VecDeque::new()),
            kept: Mutex::new(Vec::new()),
            log: Mutex::new(ScheduleLog::default()),
        });
        let future = ScriptedFuture {
            shared: shared.clone(),
            _drop: Tracked(counts.clone(), |c| &c.future_drops),
        };
        let data = spec
            .data
            .then(|| Tracked(counts.clone(), |c| &c.data_drops));
        let builder = Builder::new()
            .metadata(data)
            .propagate_panic(spec.propagate);
        let s = shared.clone();
        let (runnable, task) = match (spec.local, spec.with_info) {
            (false, false) => builder.spawn(move |_| future, move |r| s.push(r, false)),
            (false, true) => builder.spawn(
                move |_| future,
                WithInfo(move |r, info: ScheduleInfo| s.push(r, info.woken_while_running)),
            ),
            (true, false) => builder.spawn_local(move |_| future, move |r| s.push(r, false)),
            (true, true) => builder.spawn_local(
                move |_| future,
                WithInfo(move |r, info: ScheduleInfo| s.push(r, info.woken_while_running)),
            ),
        };
        let spare = spec.spare.then(|| runnable.waker());
        if spec.schedule {
            runnable.schedule();
        } else {
            shared.queue.lock().unwrap().push_back(runnable);
        }
        self.slots.push(Slot {
            shared,
            handle: Handle::Task(task),
            propagate: spec.propagate,
            local: spec.local,
            with_info: spec.with_info,
            has_data: spec.data,
            on_finish: false,
            spare,
            delivered: 0,
            given_up: false,
            awaiting: None,
        });
    }

    /// Runs a runnable as an executor does, checking what it scheduled.
    fn run(&self, t: usize, r: Runnable<Data>) {
        let slot = &self.slots[t];
        {
            let mut log = slot.shared.log.lock().unwrap();
            log.in_run = true;
            log.during_run.clear();
        }
        let result = catch_quietly(move || r.run());
        let during = {
            let mut log = slot.shared.log.lock().unwrap();
            log.in_run = false;
            std::mem::take(&mut log.during_run)
        };
        let rescheduled = matches!(result, Ok(true));
        assert_eq!(
            during.len(),
            usize::from(rescheduled),
            "run() returned {result:?} but scheduled {} times",
            during.len()
        );
        if slot.with_info {
            assert!(
                during.iter().all(|&w| w),
                "a reschedule inside run() came without woken_while_running"
            );
        }
    }

    /// Polls the slot's handle for its output (a `Task`, a fallible one, a cancel future, or
    /// a `CallbackTask`'s `try_take`), and books what reached the holder.
    fn take_output(&mut self, t: usize, with_waker: bool) {
        let slot = &mut self.slots[t];
        let awaiter = Waker::from(Arc::new(Awaiter(slot.shared.counts.clone())));
        let waker = if with_waker {
            awaiter
        } else {
            Waker::noop().clone()
        };
        let mut cx = Context::from_waker(&waker);
        let got = match &mut slot.handle {
            Handle::None => return,
            Handle::Task(task) => match catch_quietly(|| Pin::new(task).poll(&mut cx).map(Some)) {
                Ok(Poll::Pending) => Got::Pending,
                Ok(Poll::Ready(out)) => Got::Done(out),
                Err(p) if p.downcast_ref::<&str>() == Some(&"scripted panic") => Got::Panicked,
                Err(_) => Got::CancelledPanic,
            },
            Handle::Fallible(task) => {
                match classify(catch_quietly(|| Pin::new(task).poll(&mut cx))) {
                    Poll::Pending => Got::Pending,
                    Poll::Ready(Ok(out)) => Got::Done(out),
                    Poll::Ready(Err(true)) => Got::Panicked,
                    Poll::Ready(Err(false)) => {
                        panic!("a FallibleTask panicked without a scripted panic")
                    }
                }
            }
            Handle::Cancelling(cancel) => {
                match classify(catch_quietly(|| cancel.as_mut().poll(&mut cx))) {
                    Poll::Pending => Got::Pending,
                    Poll::Ready(Ok(out)) => Got::Done(out),
                    Poll::Ready(Err(true)) => Got::Panicked,
                    Poll::Ready(Err(false)) => {
                        panic!("Task::cancel panicked without a scripted panic")
                    }
                }
            }
            Handle::Callback(task) => {
                let finished = task.is_finished();
                let result = classify(catch_quietly(|| task.try_take()));
                if !matches!(result, Poll::Pending) {
                    assert!(
                        finished || slot.shared.counts.future_drops.load(SeqCst) == 1,
                        "try_take returned a result before the task finished"
                    );
                }
                match result {
                    Poll::Pending => {
                        assert!(!finished, "a finished CallbackTask's try_take is pending");
                        return;
                    }
                    Poll::Ready(Ok(Some(out))) => {
                        slot.delivered += 1;
                        drop(out);
                        return; // the handle stays: a second try_take says Ready(None)
                    }
                    Poll::Ready(Ok(None)) => return,
                    Poll::Ready(Err(true)) => {
                        slot.delivered += 1;
                        return;
                    }
                    Poll::Ready(Err(false)) => panic!("try_take panicked without a scripted panic"),
                }
            }
        };
        match got {
            Got::Pending => {
                slot.awaiting = with_waker.then(|| slot.shared.counts.awaiter_wakes.load(SeqCst));
            }
            Got::Done(out) => {
                slot.delivered += usize::from(out.is_some());
                slot.handle = Handle::None;
                slot.awaiting = None;
            }
            Got::Panicked => {
                slot.delivered += 1;
                slot.handle = Handle::None;
                slot.awaiting = None;
            }
            Got::CancelledPanic => {
                slot.handle = Handle::None;
                slot.awaiting = None;
            }
        }
    }

    fn give_up(&mut self, t: usize, how: u8) {
        let slot = &mut self.slots[t];
        let handle = std::mem::replace(&mut slot.handle, Handle::None);
        slot.awaiting = None;
        if matches!(handle, Handle::None) {
            return;
        }
        slot.given_up = true;
        match (handle, how) {
            (Handle::Task(t), 0) => t.detach(),
            (Handle::Fallible(t), 0) => t.detach(),
            (Handle::Callback(t), 0) => t.detach(),
            (h, _) => drop(h),
        }
    }

    /// The invariants that hold between any two operations.
    fn check_step(&self) {
        for slot in &self.slots {
            let c = &slot.shared.counts;
            if let Some(wakes) = slot.awaiting {
                if c.future_drops.load(SeqCst) > 0 {
                    assert!(
                        c.awaiter_wakes.load(SeqCst) > wakes,
                        "the task finished but its awaiter was not woken (a lost wakeup)"
                    );
                }
            }
            assert!(c.callbacks.load(SeqCst) <= 1, "on_finish called back twice");
            assert!(c.future_drops.load(SeqCst) <= 1, "a future dropped twice");
        }
    }

    fn step(&mut self, op: &Op) {
        let n = self.slots.len();
        match *op {
            Op::Spawn(ref spec) => self.spawn(spec),
            Op::Run { task, action } => {
                if let Some(t) = pick(n, task) {
                    self.slots[t].shared.action.store(action as u8, SeqCst);
                    if let Some(r) = self.slots[t].shared.pop() {
                        self.run(t, r);
                    }
                }
            }
            Op::SetAction { task, action } => {
                if let Some(t) = pick(n, task) {
                    self.slots[t].shared.action.store(action as u8, SeqCst);
                }
            }
            Op::Schedule(task) => {
                if let Some(t) = pick(n, task) {
                    if let Some(r) = self.slots[t].shared.pop() {
                        r.schedule();
                    }
                }
            }
            Op::DropRunnable(task) => {
                if let Some(t) = pick(n, task) {
                    let r = self.slots[t].shared.pop();
                    drop(r);
                }
            }
            Op::RawRoundTrip(task) => {
                if let Some(t) = pick(n, task) {
                    if let Some(r) = self.slots[t].shared.pop() {
                        let raw = r.into_raw();
                        // SAFETY: `raw` came from `into_raw` with the same `M`, converted once.
                        let r = unsafe { Runnable::<Data>::from_raw(raw) };
                        self.slots[t].shared.queue.lock().unwrap().push_front(r);
                    }
                }
            }
            Op::WakerFromRunnable(task) => {
                if let Some(t) = pick(n, task) {
                    let w = self.slots[t]
                        .shared
                        .queue
                        .lock()
                        .unwrap()
                        .front()
                        .map(|r| r.waker());
                    if let Some(w) = w {
                        self.wakers.push((t, w));
                    }
                }
            }
            Op::TakeKept => {
                for (t, slot) in self.slots.iter().enumerate() {
                    let kept: Vec<Waker> = slot.shared.kept.lock().unwrap().drain(..).collect();
                    self.wakers.extend(kept.into_iter().map(|w| (t, w)));
                }
            }
            Op::Wake(i) => {
                if let Some(i) = pick(self.wakers.len(), i) {
                    self.wakers.swap_remove(i).1.wake();
                }
            }
            Op::WakeByRef(i) => {
                if let Some(i) = pick(self.wakers.len(), i) {
                    self.wakers[i].1.wake_by_ref();
                }
            }
            Op::CloneWaker(i) => {
                if let Some(i) = pick(self.wakers.len(), i) {
                    let (t, w) = (self.wakers[i].0, self.wakers[i].1.clone());
                    self.wakers.push((t, w));
                }
            }
            Op::DropWaker(i) => {
                if let Some(i) = pick(self.wakers.len(), i) {
                    drop(self.wakers.swap_remove(i));
                }
            }
            Op::WakeOnThread(i) | Op::DropWakerOnThread(i) => {
                if let Some(i) = pick(self.wakers.len(), i) {
                    let (t, w) = self.wakers.swap_remove(i);
                    let wake = matches!(op, Op::WakeOnThread(_));
                    if self.slots[t].local {
                        // The last reference of a local task released on another thread leaks
                        // the task's values (documented): stay on this thread.
                        if wake {
                            w.wake();
                        } else {
                            drop(w);
                        }
                    } else {
                        std::thread::spawn(move || {
                            if wake {
                                w.wake();
                            } else {
                                drop(w);
                            }
                        })
                        .join()
                        .expect("a waker panicked on the second thread");
                    }
                }
            }
            Op::PollTask { task, with_waker } => {
                if let Some(t) = pick(n, task) {
                    self.take_output(t, with_waker);
                }
            }
            Op::Fallible(task) => {
                if let Some(t) = pick(n, task) {
                    let slot = &mut self.slots[t];
                    slot.handle = match std::mem::replace(&mut slot.handle, Handle::None) {
                        Handle::Task(task) => Handle::Fallible(task.fallible()),
                        other => other,
                    };
                }
            }
            Op::Detach(task) => {
                if let Some(t) = pick(n, task) {
                    self.give_up(t, 0);
                }
            }
            Op::DropHandle(task) => {
                if let Some(t) = pick(n, task) {
                    self.give_up(t, 1);
                }
            }
            Op::Cancel { task, with_waker } => {
                if let Some(t) = pick(n, task) {
                    let slot = &mut self.slots[t];
                    let cancel: Option<CancelFuture> =
                        match std::mem::replace(&mut slot.handle, Handle::None) {
                            Handle::Task(task) => Some(Box::pin(task.cancel())),
                            Handle::Fallible(task) => Some(Box::pin(task.cancel())),
                            other => {
                                slot.handle = other;
                                None
                            }
                        };
                    if let Some(cancel) = cancel {
                        slot.given_up = true;
                        slot.awaiting = None;
                        slot.handle = Handle::Cancelling(cancel);
                        self.take_output(t, with_waker);
                    }
                }
            }
            Op::OnFinish(task) => {
                if let Some(t) = pick(n, task) {
                    let slot = &mut self.slots[t];
                    // Any task may get a callback, also one that nothing can wake any more once
                    // detached (protocol rule 16, found here: tests/fuzz_findings.rs).
                    let eligible = matches!(slot.handle, Handle::Task(_));
                    if eligible {
                        let Handle::Task(task) = std::mem::replace(&mut slot.handle, Handle::None)
                        else {
                            unreachable!()
                        };
                        let counts = slot.shared.counts.clone();
                        slot.on_finish = true;
                        slot.awaiting = None;
                        slot.handle = Handle::Callback(task.on_finish(move || {
                            // A panic here aborts (rule 9), which libFuzzer reports too.
                            assert_eq!(
                                counts.future_drops.load(SeqCst),
                                1,
                                "on_finish called back before the future was dropped"
                            );
                            counts.callbacks.fetch_add(1, SeqCst);
                        }));
                    }
                }
            }
            Op::TryTake(task) => {
                if let Some(t) = pick(n, task) {
                    if matches!(self.slots[t].handle, Handle::Callback(_)) {
                        self.take_output(t, false);
                    }
                }
            }
            Op::CallbackCancel(task) => {
                if let Some(t) = pick(n, task) {
                    let slot = &mut self.slots[t];
                    if let Handle::Callback(task) = &mut slot.handle {
                        slot.given_up = true;
                        task.cancel();
                    }
                }
            }
            Op::IsFinished(task) => {
                if let Some(t) = pick(n, task) {
                    let slot = &self.slots[t];
                    if let Handle::Callback(task) = &slot.handle {
                        if task.is_finished() {
                            assert_eq!(
                                slot.shared.counts.callbacks.load(SeqCst),
                                1,
                                "a finished CallbackTask has not called back"
                            );
                        }
                    }
                }
            }
        }
        self.check_step();
    }

    /// Runs every queued runnable until all queues are empty.
    fn drain(&self) {
        loop {
            let mut ran = false;
            for t in 0..self.slots.len() {
                while let Some(r) = self.slots[t].shared.pop() {
                    self.run(t, r);
                    ran = true;
                }
            }
            if !ran {
                break;
            }
        }
    }

    fn is_finished(&self, t: usize) -> bool {
        self.slots[t].shared.counts.future_drops.load(SeqCst) == 1
    }

    /// Wakes everything, lets every task that can finish finish, takes what the kept handles
    /// get, releases everything, and checks the invariants of the whole input.
    fn finish(mut self) {
        for slot in &self.slots {
            slot.shared.finish_now.store(true, SeqCst);
        }
        let mut wakeable = vec![false; self.slots.len()];
        let mut all: Vec<Waker> = Vec::new();
        for (t, w) in self.wakers.drain(..) {
            wakeable[t] = true;
            all.push(w);
        }
        for (t, slot) in self.slots.iter_mut().enumerate() {
            let kept: Vec<Waker> = slot.shared.kept.lock().unwrap().drain(..).collect();
            wakeable[t] |= !kept.is_empty()
                || slot.spare.is_some()
                || !slot.shared.queue.lock().unwrap().is_empty()
                || matches!(slot.handle, Handle::Cancelling(_));
            all.extend(kept);
            all.extend(slot.spare.take());
        }
        for w in all {
            w.wake();
        }
        self.drain();
        self.check_step();
        for t in 0..self.slots.len() {
            if matches!(self.slots[t].handle, Handle::None) {
                continue;
            }
            if self.is_finished(t) {
                self.take_output(t, false);
                if let Handle::Callback(_) = self.slots[t].handle {
                    assert_eq!(
                        self.slots[t].shared.counts.callbacks.load(SeqCst),
                        1,
                        "the task finished but on_finish did not call back"
                    );
                }
            } else {
                assert!(
                    !wakeable[t],
                    "the task was woken but did not finish (a lost wakeup)"
                );
            }
        }
        // Release every handle, then drain until nothing is left.
        for t in 0..self.slots.len() {
            let handle = std::mem::replace(&mut self.slots[t].handle, Handle::None);
            if !matches!(handle, Handle::None) {
                self.slots[t].given_up = true;
            }
            drop(handle);
        }
        loop {
            self.drain();
            let mut stray = Vec::new();
            for slot in &self.slots {
                stray.extend(slot.shared.kept.lock().unwrap().drain(..));
            }
            if stray.is_empty() {
                break;
            }
            drop(stray);
        }
        for slot in &self.slots {
            let c = &slot.shared.counts;
            let completions = c.completions.load(SeqCst);
            let panics = c.panics.load(SeqCst);
            assert_eq!(c.future_drops.load(SeqCst), 1, "future drops");
            assert_eq!(
                c.data_drops.load(SeqCst),
                usize::from(slot.has_data),
                "data slot drops"
            );
            assert!(
                completions + panics <= 1,
                "the future completed or panicked twice"
            );
            assert_eq!(
                c.output_drops.load(SeqCst),
                completions,
                "every produced output is dropped exactly once"
            );
            let produced = completions + if slot.propagate { panics } else { 0 };
            assert!(
                slot.delivered <= produced,
                "output delivered twice, or without being produced"
            );
            if !slot.given_up {
                assert_eq!(
                    slot.delivered, produced,
                    "the handle was kept, but the output did not reach it exactly once"
                );
            }
            assert_eq!(
                c.callbacks.load(SeqCst),
                usize::from(slot.on_finish),
                "on_finish callbacks"
            );
            assert_eq!(
                slot.shared.log.lock().unwrap().outside_woken_while_running,
                0,
                "woken_while_running outside a run"
            );
        }
    }
}

fn run_input(ops: &[Op]) {
    let mut world = World {
        slots: Vec::new(),
        wakers: Vec::new(),
    };
    for op in ops.iter().take(MAX_OPS) {
        world.step(op);
    }
    world.finish();
}

/// Touches what the standard library allocates once (a caught panic, a second thread).
fn warm_up() {
    let spec = |local, propagate| SpawnSpec {
        local,
        data: true,
        propagate,
        with_info: false,
        spare: false,
        schedule: true,
        first: Action::Panic,
    };
    run_input(&[
        Op::Spawn(spec(false, true)),
        Op::Spawn(spec(true, false)),
        Op::WakerFromRunnable(0),
        Op::WakeOnThread(0),
        Op::Run {
            task: 0,
            action: Action::Panic,
        },
        Op::Run {
            task: 1,
            action: Action::Panic,
        },
        Op::PollTask {
            task: 0,
            with_waker: true,
        },
    ]);
}

fuzz_target!(|ops: Vec<Op>| {
    common::leak_checked(warm_up, || run_input(&ops));
});
