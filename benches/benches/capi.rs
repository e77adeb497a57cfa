//! Running rawtask tasks through the C API against the Rust API, in the same run.
//!
//! In each group, `rust_closure` schedules with a Rust closure and runs with
//! `Runnable::run`; `c_callback` schedules with a `RawtaskSchedule` (an `extern "C"` function
//! pointer plus a context pointer, exactly what a C executor passes) and runs with
//! `rawtask_runnable_run`, the C entry point with its null check and panic guard. The target
//! is `c_callback` ≤ 1.3 × `rust_closure`. `spawn_run_join/c_handle` also takes the
//! output through a C task handle (`Builder::spawn_c`, `rawtask_task_poll`,
//! `rawtask_task_free`): the whole C path, for information.
//!
//! The callback is written in Rust as `extern "C"`: at the machine level a call through it is
//! the same indirect call with the C calling convention that a callback compiled by a C
//! compiler gets (no inlining is possible in either case).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rawtask::capi::{
    rawtask_runnable_run, rawtask_runnable_schedule, rawtask_task_free, rawtask_task_poll,
    RawtaskRunnable, RawtaskSchedule, RawtaskStatus,
};
use rawtask::Runnable;
use rawtask_benches::{poll_ready, SelfWake};

/// How many times the task of `spawn_run_join` reschedules itself before it completes.
const YIELDS: u64 = 3;

thread_local! {
    /// The Rust executor's slot for a single self-waking task.
    static RUST_SLOT: Cell<Option<Runnable>> = const { Cell::new(None) };
    /// The Rust executor's queue.
    static RUST_QUEUE: RefCell<VecDeque<Runnable>> = const { RefCell::new(VecDeque::new()) };
    /// The "C" executor's slot, reached through the callback's context pointer.
    static C_SLOT: Cell<*mut RawtaskRunnable> = const { Cell::new(std::ptr::null_mut()) };
    /// The "C" executor's queue, reached through the callback's context pointer.
    static C_QUEUE: RefCell<VecDeque<*mut RawtaskRunnable>> = const { RefCell::new(VecDeque::new()) };
}

fn rust_to_slot(runnable: Runnable) {
    let previous = RUST_SLOT.replace(Some(runnable));
    assert!(previous.is_none(), "only one task uses the slot");
}

fn rust_to_queue(runnable: Runnable) {
    RUST_QUEUE.with_borrow_mut(|q| q.push_back(runnable));
}

unsafe extern "C" fn c_to_slot(context: *mut c_void, runnable: *mut RawtaskRunnable, _: u32) {
    // SAFETY: the context is `C_SLOT` of the benchmark thread, where every wake happens.
    let slot = unsafe { &*context.cast::<Cell<*mut RawtaskRunnable>>() };
    let previous = slot.replace(runnable);
    assert!(previous.is_null(), "only one task uses the slot");
}

unsafe extern "C" fn c_to_queue(context: *mut c_void, runnable: *mut RawtaskRunnable, _: u32) {
    // SAFETY: the context is `C_QUEUE` of the benchmark thread, where every wake happens.
    let queue = unsafe { &*context.cast::<RefCell<VecDeque<*mut RawtaskRunnable>>>() };
    queue.borrow_mut().push_back(runnable);
}

fn c_slot_schedule() -> RawtaskSchedule {
    let context = C_SLOT.with(|slot| slot as *const Cell<_>).cast_mut().cast();
    // SAFETY: the callback is only ever called on this thread (the tasks never leave it),
    // whose thread-local the context points to.
    unsafe { RawtaskSchedule::new(c_to_slot, context) }
}

fn c_queue_schedule() -> RawtaskSchedule {
    let context = C_QUEUE
        .with(|queue| queue as *const RefCell<_>)
        .cast_mut()
        .cast();
    // SAFETY: as in `c_slot_schedule`.
    unsafe { RawtaskSchedule::new(c_to_queue, context) }
}

/// One task that wakes itself while running, run `iters` times: one run plus one schedule
/// per iteration. This is the executor's hot path.
fn run_rescheduled(c: &mut Criterion) {
    let mut group = c.benchmark_group("capi/run_rescheduled");
    group.bench_function("rust_closure", |b| {
        b.iter_custom(|iters| {
            let (runnable, task) = rawtask::spawn(SelfWake::new(iters - 1), rust_to_slot);
            let start = Instant::now();
            let mut next = Some(runnable);
            while let Some(runnable) = next {
                black_box(runnable.run());
                next = RUST_SLOT.take();
            }
            let elapsed = start.elapsed();
            poll_ready(task);
            elapsed
        })
    });
    group.bench_function("c_callback", |b| {
        b.iter_custom(|iters| {
            let (runnable, task) = rawtask::spawn(SelfWake::new(iters - 1), c_slot_schedule());
            let start = Instant::now();
            let mut next = RawtaskRunnable::from_runnable(runnable).as_ptr();
            while !next.is_null() {
                // SAFETY: `next` is a runnable the callback handed over, run once.
                black_box(unsafe { rawtask_runnable_run(next) });
                next = C_SLOT.replace(std::ptr::null_mut());
            }
            let elapsed = start.elapsed();
            poll_ready(task);
            elapsed
        })
    });
    group.finish();
}

/// Spawn, schedule through the schedule function, run until done (the task reschedules
/// itself `YIELDS` times), take the output.
fn spawn_run_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("capi/spawn_run_join");
    group.bench_function("rust_closure", |b| {
        b.iter(|| {
            let (runnable, task) = rawtask::spawn(SelfWake::new(YIELDS), rust_to_queue);
            runnable.schedule();
            while let Some(runnable) = RUST_QUEUE.with_borrow_mut(VecDeque::pop_front) {
                black_box(runnable.run());
            }
            poll_ready(task)
        })
    });
    group.bench_function("c_callback", |b| {
        let schedule = c_queue_schedule();
        b.iter(|| {
            let (runnable, task) = rawtask::spawn(SelfWake::new(YIELDS), schedule);
            let runnable = RawtaskRunnable::from_runnable(runnable).as_ptr();
            // SAFETY: a fresh runnable, consumed once; then each one the callback queued.
            unsafe {
                black_box(rawtask_runnable_schedule(runnable));
                while let Some(runnable) = C_QUEUE.with_borrow_mut(VecDeque::pop_front) {
                    black_box(rawtask_runnable_run(runnable));
                }
            }
            poll_ready(task)
        })
    });
    group.bench_function("c_handle", |b| {
        let schedule = c_queue_schedule();
        b.iter(|| {
            let (runnable, task) = rawtask::Builder::new()
                .spawn_c(
                    |()| async {
                        SelfWake::new(YIELDS).await;
                        1u64
                    },
                    schedule,
                )
                .unwrap();
            let mut out = 0u64;
            // SAFETY: as above; `out` is a writable u64 and the handle is freed once.
            unsafe {
                black_box(rawtask_runnable_schedule(runnable.as_ptr()));
                while let Some(runnable) = C_QUEUE.with_borrow_mut(VecDeque::pop_front) {
                    black_box(rawtask_runnable_run(runnable));
                }
                let status = rawtask_task_poll(task, (&raw mut out).cast(), 8);
                assert_eq!(status, RawtaskStatus::Ready);
                rawtask_task_free(task);
            }
            out
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = run_rescheduled, spawn_run_join
}
criterion_main!(benches);
