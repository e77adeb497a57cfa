//! Deterministic random-sequence testing of the task protocol (the fuzzing rung of the
//! verification ladder): one task is driven through long, seeded sequences of every operation a
//! handle holder can perform — run, schedule, drop a queued `Runnable`, wake by value and by
//! reference, clone and drop wakers, poll / detach / drop / cancel the `Task`, raw round trips —
//! while its future decides at each poll (from the same seed) to stay pending, wake itself,
//! keep a waker, complete, or panic.
//!
//! Odd seeds schedule through a `WithInfo` closure: every `Runnable::run` that returns `true`
//! must have rescheduled the task exactly once, inside the call, with `woken_while_running`, and
//! every other schedule (a `Runnable::schedule`, a wake, a cancellation's last run) must come
//! without it. (Single-threaded, the only wake during a poll is the future's own.) Even seeds use
//! a plain closure and check the same "one reschedule inside `run` iff it returns `true`".
//!
//! One seed in three keeps its `Task` to the end (polling it only while unfinished) and a spare
//! waker that no operation touches. If the `Task` is still held when the sequence ends, the
//! future is switched to complete at its next poll, every waker the test holds is woken and the
//! queue drained: a task that could be woken must then have finished (else a wakeup was lost),
//! and the `Task` is polled for its output.
//!
//! After every sequence, all handles are released and the queue is drained, and the test checks
//! what must hold in every interleaving: the future, the output and the data slot are each
//! dropped exactly once (the output only if it was produced), the output (or a propagated
//! panic) is delivered at most once, and exactly once whenever the task produced it and the
//! `Task` was never given up (dropped, detached or cancelled), and every allocation is freed
//! (`check_leaks`).
//!
//! The default is 2,000 seeds (8 under miri); `RAWTASK_RANDOM_OPS_SEEDS=N` runs `N` instead.
//! `.ci/run` runs 50,000 in release mode.

mod common;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use common::{catch_quietly, check_leaks, noop_waker};
use rawtask::{Builder, FallibleTask, Runnable, ScheduleInfo, WithInfo};

/// xorshift64*: small, deterministic, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Counts {
    future_drops: AtomicUsize,
    output_drops: AtomicUsize,
    data_drops: AtomicUsize,
    completions: AtomicUsize,
    panics: AtomicUsize,
}

/// Dropped exactly once wherever it ends up.
struct Tracked(Arc<Counts>, fn(&Counts) -> &AtomicUsize);

impl Drop for Tracked {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_add(1, SeqCst);
    }
}

/// What the future does at each poll, drawn from a shared script.
struct ScriptedFuture {
    script: Arc<Mutex<Rng>>,
    kept: Arc<Mutex<Vec<Waker>>>,
    counts: Arc<Counts>,
    /// Set at the end of a sequence: the next poll completes.
    finish_now: Arc<AtomicBool>,
    _drop: Tracked,
}

impl Future for ScriptedFuture {
    type Output = Tracked;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Tracked> {
        let choice = if self.finish_now.load(SeqCst) {
            0
        } else {
            self.script.lock().unwrap().below(10)
        };
        match choice {
            0 => {
                self.counts.completions.fetch_add(1, SeqCst);
                Poll::Ready(Tracked(self.counts.clone(), |c| &c.output_drops))
            }
            1 => {
                self.counts.panics.fetch_add(1, SeqCst);
                panic!("scripted panic")
            }
            2 | 3 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            4 | 5 => {
                self.kept.lock().unwrap().push(cx.waker().clone());
                Poll::Pending
            }
            _ => Poll::Pending,
        }
    }
}

/// The schedule calls of one sequence, as the schedule function saw them.
#[derive(Default)]
struct ScheduleLog {
    /// A `Runnable::run` of the test is in progress.
    in_run: bool,
    /// `woken_while_running` of each schedule during the current run.
    during_run: Vec<bool>,
    /// Schedules outside any run that came with `woken_while_running`.
    outside_woken_while_running: usize,
}

impl ScheduleLog {
    fn record(&mut self, woken_while_running: bool) {
        if self.in_run {
            self.during_run.push(woken_while_running);
        } else if woken_while_running {
            self.outside_woken_while_running += 1;
        }
    }
}

type Queue = Arc<Mutex<VecDeque<Runnable<Tracked>>>>;

/// Runs a `Runnable` as an executor does (catching the future's panic) and checks what it
/// scheduled: exactly one reschedule, with `woken_while_running` (when the schedule function
/// sees it), if `run` returned `true`; none otherwise.
fn run_checked(seed: u64, r: Runnable<Tracked>, log: &Mutex<ScheduleLog>, with_info: bool) {
    {
        let mut log = log.lock().unwrap();
        log.in_run = true;
        log.during_run.clear();
    }
    let result = catch_quietly(move || r.run());
    let during = {
        let mut log = log.lock().unwrap();
        log.in_run = false;
        std::mem::take(&mut log.during_run)
    };
    let rescheduled = matches!(result, Ok(true));
    assert_eq!(
        during.len(),
        usize::from(rescheduled),
        "seed {seed}: run() returned {result:?} but scheduled {} times",
        during.len()
    );
    if with_info {
        assert!(
            during.iter().all(|&w| w),
            "seed {seed}: the reschedule of a task woken while running came without \
             woken_while_running"
        );
    }
}

fn run_sequence(seed: u64, steps: usize) {
    let counts = Arc::new(Counts::default());
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let propagate = rng.below(2) == 0;
    // Not drawn from `rng`, so that every seed keeps the operation sequence it always had.
    let with_info = seed % 2 == 1;
    // One seed in three keeps the `Task` to the end (it is only polled while unfinished, never
    // dropped, detached or cancelled), so that the end of the sequence must deliver the output.
    let keep_task = seed % 3 == 2;
    let script = Arc::new(Mutex::new(Rng(rng.next() | 1)));
    let kept: Arc<Mutex<Vec<Waker>>> = Arc::new(Mutex::new(Vec::new()));
    let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
    let log = Arc::new(Mutex::new(ScheduleLog::default()));
    let finish_now = Arc::new(AtomicBool::new(false));

    let future = ScriptedFuture {
        script,
        kept: kept.clone(),
        counts: counts.clone(),
        finish_now: finish_now.clone(),
        _drop: Tracked(counts.clone(), |c| &c.future_drops),
    };
    let builder = Builder::new()
        .metadata(Tracked(counts.clone(), |c| &c.data_drops))
        .propagate_panic(propagate);
    let (q, l) = (queue.clone(), log.clone());
    let (runnable, task) = if with_info {
        builder.spawn(
            move |_| future,
            WithInfo(move |r, info: ScheduleInfo| {
                l.lock().unwrap().record(info.woken_while_running);
                q.lock().unwrap().push_back(r)
            }),
        )
    } else {
        builder.spawn(
            move |_| future,
            move |r| {
                l.lock().unwrap().record(false);
                q.lock().unwrap().push_back(r)
            },
        )
    };
    // A waker no operation touches, so that a kept `Task`'s task can always be woken at the end.
    let mut spare = keep_task.then(|| runnable.waker());
    runnable.schedule();

    let mut task: Option<FallibleTask<Tracked, Tracked>> = Some(task.fallible());
    let mut wakers: Vec<Waker> = Vec::new();
    // Outputs and propagated panics that reached the `Task` holder.
    let mut delivered = 0;
    // The `Task` was dropped, detached or cancelled (its output, if any, given up unless
    // `cancel` returned it).
    let mut given_up = false;
    let run = |r| run_checked(seed, r, &log, with_info);

    for _ in 0..steps {
        let op = rng.below(12);
        let pop = || queue.lock().unwrap().pop_front();
        match op {
            0 | 1 => {
                if let Some(r) = pop() {
                    run(r);
                }
            }
            2 => {
                if let Some(r) = pop() {
                    // Raw round trip, then back to the queue through the schedule function.
                    let raw = r.into_raw();
                    // SAFETY: `raw` came from `into_raw` with the same `M`, converted once.
                    let r = unsafe { Runnable::<Tracked>::from_raw(raw) };
                    r.schedule();
                }
            }
            3 => drop(pop()),
            4 => {
                if let Some(r) = queue.lock().unwrap().front() {
                    wakers.push(r.waker());
                }
                if let Some(w) = kept.lock().unwrap().pop() {
                    wakers.push(w);
                }
            }
            5 => {
                if let Some(w) = wakers.pop() {
                    w.wake();
                }
            }
            6 => {
                if let Some(w) = wakers.last() {
                    w.wake_by_ref();
                }
            }
            7 => {
                if let Some(w) = wakers.last() {
                    wakers.push(w.clone());
                }
            }
            8 => drop(wakers.pop()),
            9 => {
                if let Some(t) = task.as_mut().filter(|t| !keep_task || !t.is_finished()) {
                    let mut cx = Context::from_waker(noop_waker());
                    match catch_quietly(|| Pin::new(t).poll(&mut cx)) {
                        Ok(Poll::Ready(out)) => {
                            delivered += usize::from(out.is_some());
                            task = None;
                        }
                        Ok(Poll::Pending) => {}
                        // A propagated panic re-raised by the awaiting side.
                        Err(_) => {
                            delivered += 1;
                            task = None;
                        }
                    }
                }
            }
            10 if keep_task => {}
            10 => {
                given_up |= task.is_some();
                match rng.below(3) {
                    0 => drop(task.take()),
                    1 => {
                        if let Some(t) = task.take() {
                            t.detach();
                        }
                    }
                    _ => {
                        if let Some(t) = task.take() {
                            let mut cancel = Box::pin(t.cancel());
                            let mut cx = Context::from_waker(noop_waker());
                            match catch_quietly(|| cancel.as_mut().poll(&mut cx)) {
                                Ok(Poll::Ready(out)) => delivered += usize::from(out.is_some()),
                                Ok(Poll::Pending) => {}
                                // `cancel` of a task that stored a propagated panic.
                                Err(_) => delivered += 1,
                            }
                            // Dropping an unfinished cancel future drops the task handle.
                        }
                    }
                }
            }
            _ => {
                if let Some(r) = pop() {
                    r.schedule();
                }
            }
        }
    }

    // A `Task` still held: let the task finish if anything can still wake it, and take what it
    // delivers.
    if let Some(mut t) = task.take() {
        finish_now.store(true, SeqCst);
        let kept_now: Vec<Waker> = kept.lock().unwrap().drain(..).collect();
        let wakeable = spare.is_some()
            || !wakers.is_empty()
            || !kept_now.is_empty()
            || !queue.lock().unwrap().is_empty();
        for w in wakers.drain(..).chain(kept_now).chain(spare.take()) {
            w.wake();
        }
        loop {
            // (Not `while let`: the queue's lock would be held through the run.)
            let next = queue.lock().unwrap().pop_front();
            match next {
                Some(r) => run(r),
                None => break,
            }
        }
        if t.is_finished() {
            let mut cx = Context::from_waker(noop_waker());
            match catch_quietly(|| Pin::new(&mut t).poll(&mut cx)) {
                Ok(Poll::Ready(out)) => delivered += usize::from(out.is_some()),
                Ok(Poll::Pending) => panic!("seed {seed}: a finished task's Task is pending"),
                Err(_) => delivered += 1,
            }
        } else {
            // Idle, with nothing left that could wake it: the task can never finish.
            assert!(
                !wakeable,
                "seed {seed}: the task was woken but did not finish (a lost wakeup)"
            );
            drop(t);
        }
    }

    // Release everything, then drain: every path must end with the task freed.
    drop(wakers);
    drop(spare);
    loop {
        let next = queue.lock().unwrap().pop_front();
        match next {
            Some(r) => {
                run(r);
                kept.lock().unwrap().clear();
            }
            None => {
                let stray: Vec<Waker> = kept.lock().unwrap().drain(..).collect();
                if stray.is_empty() {
                    break;
                }
                drop(stray);
            }
        }
    }

    let c = &counts;
    let completions = c.completions.load(SeqCst);
    assert_eq!(c.future_drops.load(SeqCst), 1, "seed {seed}: future drops");
    assert_eq!(c.data_drops.load(SeqCst), 1, "seed {seed}: data slot drops");
    assert!(completions <= 1, "seed {seed}: completions");
    assert!(
        completions + c.panics.load(SeqCst) <= 1,
        "seed {seed}: the future completed or panicked twice"
    );
    assert_eq!(
        c.output_drops.load(SeqCst),
        completions,
        "seed {seed}: every produced output is dropped exactly once"
    );
    // What the task produced for its `Task`: the output, or a panic stored for propagation.
    let produced = completions + if propagate { c.panics.load(SeqCst) } else { 0 };
    assert!(
        delivered <= produced,
        "seed {seed}: output delivered twice, or without being produced"
    );
    if !given_up {
        assert_eq!(
            delivered, produced,
            "seed {seed}: the Task was kept, but the output did not reach it exactly once"
        );
    }
    assert_eq!(
        log.lock().unwrap().outside_woken_while_running,
        0,
        "seed {seed}: woken_while_running outside a run"
    );
}

#[test]
fn random_operation_sequences_keep_the_invariants() {
    let _g = check_leaks();
    let default_seeds = if cfg!(miri) { 8 } else { 2_000 };
    let seeds: u64 = std::env::var("RAWTASK_RANDOM_OPS_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seeds);
    let steps = if cfg!(miri) { 40 } else { 120 };
    for seed in 0..seeds {
        run_sequence(seed, steps);
    }
}
