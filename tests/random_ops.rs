//! Deterministic random-sequence testing of the task protocol (the fuzzing rung of the
//! verification ladder): one task is driven through long, seeded sequences of every operation a
//! handle holder can perform — run, schedule, drop a queued `Runnable`, wake by value and by
//! reference, clone and drop wakers, poll / detach / drop / cancel the `Task`, raw round trips —
//! while its future decides at each poll (from the same seed) to stay pending, wake itself,
//! keep a waker, complete, or panic.
//!
//! After every sequence, all handles are released and the queue is drained, and the test checks
//! what must hold in every interleaving: the future, the output and the data slot are each
//! dropped exactly once (the output only if it was produced), the output is delivered at most
//! once, and every allocation is freed (`check_leaks`).
//!
//! `RAWTASK_RANDOM_OPS_SEEDS=N` runs more seeds (CI runs the default; run it longer by hand).

mod common;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use common::{catch_quietly, check_leaks, noop_waker};
use rawtask::{Builder, FallibleTask, Runnable};

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
    _drop: Tracked,
}

impl Future for ScriptedFuture {
    type Output = Tracked;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Tracked> {
        let choice = self.script.lock().unwrap().below(10);
        match choice {
            0 => {
                self.counts.completions.fetch_add(1, SeqCst);
                Poll::Ready(Tracked(self.counts.clone(), |c| &c.output_drops))
            }
            1 => panic!("scripted panic"),
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

fn run_sequence(seed: u64, steps: usize) {
    let counts = Arc::new(Counts::default());
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let propagate = rng.below(2) == 0;
    let script = Arc::new(Mutex::new(Rng(rng.next() | 1)));
    let kept: Arc<Mutex<Vec<Waker>>> = Arc::new(Mutex::new(Vec::new()));
    let queue: Arc<Mutex<VecDeque<Runnable<Tracked>>>> = Arc::new(Mutex::new(VecDeque::new()));

    let future = ScriptedFuture {
        script,
        kept: kept.clone(),
        counts: counts.clone(),
        _drop: Tracked(counts.clone(), |c| &c.future_drops),
    };
    let q = queue.clone();
    let (runnable, task) = Builder::new()
        .metadata(Tracked(counts.clone(), |c| &c.data_drops))
        .propagate_panic(propagate)
        .spawn(move |_| future, move |r| q.lock().unwrap().push_back(r));
    runnable.schedule();

    let mut task: Option<FallibleTask<Tracked, Tracked>> = Some(task.fallible());
    let mut wakers: Vec<Waker> = Vec::new();
    let mut delivered = 0;

    for _ in 0..steps {
        let op = rng.below(12);
        let pop = || queue.lock().unwrap().pop_front();
        match op {
            0 | 1 => {
                if let Some(r) = pop() {
                    let _ = catch_quietly(move || r.run());
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
                if let Some(t) = task.as_mut() {
                    let mut cx = Context::from_waker(noop_waker());
                    match catch_quietly(|| Pin::new(t).poll(&mut cx)) {
                        Ok(Poll::Ready(out)) => {
                            delivered += usize::from(out.is_some());
                            task = None;
                        }
                        Ok(Poll::Pending) => {}
                        // A propagated panic re-raised by the awaiting side.
                        Err(_) => task = None,
                    }
                }
            }
            10 => match rng.below(3) {
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
                        if let Ok(Poll::Ready(out)) =
                            catch_quietly(|| cancel.as_mut().poll(&mut cx))
                        {
                            delivered += usize::from(out.is_some());
                        }
                        // Dropping an unfinished cancel future drops the task handle.
                    }
                }
            },
            _ => {
                if let Some(r) = pop() {
                    r.schedule();
                }
            }
        }
    }

    // Release everything, then drain: every path must end with the task freed.
    drop(task);
    drop(wakers);
    loop {
        let next = queue.lock().unwrap().pop_front();
        match next {
            Some(r) => {
                let _ = catch_quietly(move || r.run());
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
    assert_eq!(c.future_drops.load(SeqCst), 1, "seed {seed}: future drops");
    assert_eq!(c.data_drops.load(SeqCst), 1, "seed {seed}: data slot drops");
    assert!(c.completions.load(SeqCst) <= 1, "seed {seed}: completions");
    assert_eq!(
        c.output_drops.load(SeqCst),
        c.completions.load(SeqCst),
        "seed {seed}: every produced output is dropped exactly once"
    );
    assert!(
        delivered <= c.completions.load(SeqCst),
        "seed {seed}: output delivered twice"
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
