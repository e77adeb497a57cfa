//! Spawning when the allocator fails: the `try_spawn*` functions and `Builder::spawn_c` return
//! an error naming the task's layout, nothing aborts, and nothing leaks — every closure, data
//! slot, schedule function and allocator is dropped exactly once, and every allocation that
//! succeeded is freed.
//!
//! Each scenario spawns `SPAWNS` tasks one after the other with an allocator that refuses its
//! k-th allocation, for every k from 1 to `SPAWNS + 1` (the last: nothing fails).

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use common::{block_on, check_leaks, expect_panic, Counter, DropProbe};
use rawtask::capi::{
    rawtask_runnable_run, rawtask_task_free, rawtask_task_poll, Failure, RawtaskRunnable,
    RawtaskSchedule, RawtaskStatus,
};
use rawtask::storage::{AllocError, Allocator, Heap};
use rawtask::{Builder, Runnable, Task, TrySpawnError};

/// Tasks each scenario spawns.
const SPAWNS: usize = 3;

/// What a [`FailKth`] allocator did.
#[derive(Default)]
struct Record {
    /// Calls of `allocate`, failed or not.
    calls: AtomicUsize,
    /// The call (1-based) that fails; 0 for none.
    fail_at: usize,
    allocated: AtomicUsize,
    freed: AtomicUsize,
    /// The layout of every request, in order.
    layouts: Mutex<Vec<Layout>>,
}

/// An allocator that refuses its k-th allocation and forwards the others to the heap.
/// Cloned into every task (an `Arc`), so it is `Send + 'static` as `try_spawn` asks.
#[derive(Clone)]
struct FailKth(Arc<Record>);

impl FailKth {
    fn new(fail_at: usize) -> FailKth {
        FailKth(Arc::new(Record {
            fail_at,
            ..Record::default()
        }))
    }

    /// Every allocation made was freed.
    fn assert_balanced(&self) {
        let r = &self.0;
        assert_eq!(
            r.allocated.load(SeqCst),
            r.freed.load(SeqCst),
            "allocations vs deallocations"
        );
    }

    fn layout_of_call(&self, call: usize) -> Layout {
        self.0.layouts.lock().unwrap()[call - 1]
    }
}

// SAFETY: forwards to `Heap`, which satisfies the contract; a refused request hands out
// nothing.
unsafe impl Allocator for FailKth {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let call = self.0.calls.fetch_add(1, SeqCst) + 1;
        self.0.layouts.lock().unwrap().push(layout);
        if call == self.0.fail_at {
            return Err(AllocError);
        }
        self.0.allocated.fetch_add(1, SeqCst);
        Heap.allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        self.0.freed.fetch_add(1, SeqCst);
        // SAFETY: forwarded: the block came from `Heap` with this layout.
        unsafe { Heap.deallocate(ptr, layout) }
    }
}

/// Drop counters of everything a spawn is given.
#[derive(Default)]
struct Drops {
    closures: Counter,
    metadata: Counter,
    futures: Counter,
    schedules: Counter,
}

impl Drops {
    /// Everything given to `SPAWNS` spawns was dropped exactly once; `built` futures were
    /// built (and dropped once each).
    fn assert_all_dropped_once(&self, built: usize) {
        assert_eq!(self.closures.get(), SPAWNS, "closures dropped");
        assert_eq!(self.metadata.get(), SPAWNS, "data slots dropped");
        assert_eq!(self.schedules.get(), SPAWNS, "schedule functions dropped");
        assert_eq!(self.futures.get(), built, "futures dropped");
    }
}

/// A schedule function that counts its drops (and runs the task at once if woken).
fn schedule(drops: &Drops) -> impl Fn(Runnable<DropProbe>) + Send + Sync + 'static {
    let probe = DropProbe::new(&drops.schedules);
    move |runnable| {
        let _keep = &probe;
        runnable.run();
    }
}

/// Checks one spawn's result: `Err` exactly at the failing call, with that call's layout.
fn check<T>(
    alloc: &FailKth,
    spawn: usize,
    result: Result<(Runnable<DropProbe>, Task<T, DropProbe>), TrySpawnError>,
) -> Option<T> {
    match result {
        Ok((runnable, task)) => {
            assert_ne!(spawn, alloc.0.fail_at, "spawn {spawn} should have failed");
            runnable.run();
            Some(block_on(task))
        }
        Err(error) => {
            assert_eq!(spawn, alloc.0.fail_at, "spawn {spawn} failed");
            assert_eq!(error.layout(), alloc.layout_of_call(spawn));
            assert!(error
                .to_string()
                .contains(&error.layout().size().to_string()));
            None
        }
    }
}

/// Runs `scenario` (which spawns `SPAWNS` tasks with the given allocator and checks each
/// result) for every k, and checks the books afterwards.
fn for_every_k(scenario: impl Fn(&FailKth, &Drops)) {
    let _g = check_leaks();
    for k in 1..=SPAWNS + 1 {
        let alloc = FailKth::new(k);
        let drops = Drops::default();
        scenario(&alloc, &drops);
        // One allocation per spawn, and nothing after the failed one was skipped.
        assert_eq!(alloc.0.calls.load(SeqCst), SPAWNS, "k = {k}");
        let built = if k <= SPAWNS { SPAWNS - 1 } else { SPAWNS };
        drops.assert_all_dropped_once(built);
        alloc.assert_balanced();
        // The tasks kept clones of the allocator; all are gone.
        assert_eq!(
            Arc::strong_count(&alloc.0),
            1,
            "k = {k}: an allocator clone leaked"
        );
    }
}

#[test]
fn try_spawn() {
    for_every_k(|alloc, drops| {
        for spawn in 1..=SPAWNS {
            let captured = DropProbe::new(&drops.closures);
            let futures = drops.futures.clone();
            let result = Builder::new()
                .metadata(DropProbe::with_value(&drops.metadata, spawn))
                .allocator(alloc.clone())
                .try_spawn(
                    move |slot: &DropProbe| {
                        let value = slot.value;
                        drop(captured);
                        let future_probe = DropProbe::new(&futures);
                        async move {
                            let _probe = future_probe;
                            value * 10
                        }
                    },
                    schedule(drops),
                );
            if let Some(out) = check(alloc, spawn, result) {
                assert_eq!(out, spawn * 10);
            }
        }
    });
}

#[test]
fn try_spawn_with_propagate_panic() {
    for_every_k(|alloc, drops| {
        for spawn in 1..=SPAWNS {
            let captured = DropProbe::new(&drops.closures);
            let futures = drops.futures.clone();
            let result = Builder::new()
                .metadata(DropProbe::new(&drops.metadata))
                .propagate_panic(true)
                .allocator(alloc.clone())
                .try_spawn(
                    move |_: &DropProbe| {
                        drop(captured);
                        let future_probe = DropProbe::new(&futures);
                        async move {
                            let _probe = future_probe;
                            spawn
                        }
                    },
                    schedule(drops),
                );
            if let Some(out) = check(alloc, spawn, result) {
                assert_eq!(out, spawn);
            }
        }
    });
}

#[test]
fn try_spawn_local() {
    for_every_k(|alloc, drops| {
        for spawn in 1..=SPAWNS {
            // Not `Send`: a local task.
            let captured = std::rc::Rc::new(DropProbe::new(&drops.closures));
            let futures = drops.futures.clone();
            let result = Builder::new()
                .metadata(DropProbe::new(&drops.metadata))
                .allocator(alloc.clone())
                .try_spawn_local(
                    move |_: &DropProbe| {
                        drop(captured);
                        let future_probe = std::rc::Rc::new(DropProbe::new(&futures));
                        async move {
                            let _probe = future_probe;
                            spawn
                        }
                    },
                    schedule(drops),
                );
            if let Some(out) = check(alloc, spawn, result) {
                assert_eq!(out, spawn);
            }
        }
    });
}

#[test]
fn try_spawn_with_identity() {
    for_every_k(|alloc, drops| {
        for spawn in 1..=SPAWNS {
            let captured = DropProbe::new(&drops.closures);
            let futures = drops.futures.clone();
            let result = Builder::new()
                .metadata(DropProbe::new(&drops.metadata))
                // An owned name: the leak check sees it if the failure path loses it.
                .name(format!("task {spawn}"))
                .track_location()
                .allocator(alloc.clone())
                .try_spawn(
                    move |_: &DropProbe| {
                        drop(captured);
                        let future_probe = DropProbe::new(&futures);
                        async move {
                            let _probe = future_probe;
                            spawn
                        }
                    },
                    schedule(drops),
                );
            if let Ok((runnable, _)) = &result {
                let name = format!("task {spawn}");
                assert_eq!(runnable.identity().unwrap().name(), Some(&*name));
            }
            if let Some(out) = check(alloc, spawn, result) {
                assert_eq!(out, spawn);
            }
        }
    });
}

#[test]
fn try_spawn_unchecked_borrowing() {
    for_every_k(|alloc, drops| {
        let borrowed = String::from("borrowed");
        for spawn in 1..=SPAWNS {
            let captured = DropProbe::new(&drops.closures);
            let futures = drops.futures.clone();
            let text = &borrowed;
            // SAFETY: the task is run and joined (or never spawned) before `borrowed` goes.
            let result = unsafe {
                Builder::new()
                    .metadata(DropProbe::new(&drops.metadata))
                    .allocator(alloc.clone())
                    .try_spawn_unchecked(
                        move |_: &DropProbe| {
                            drop(captured);
                            let future_probe = DropProbe::new(&futures);
                            async move {
                                let _probe = future_probe;
                                text.len() + spawn
                            }
                        },
                        schedule(drops),
                    )
            };
            if let Some(out) = check(alloc, spawn, result) {
                assert_eq!(out, 8 + spawn);
            }
        }
    });
}

/// A C schedule callback that runs the runnable at once.
unsafe extern "C" fn run_now(_: *mut std::ffi::c_void, runnable: *mut RawtaskRunnable, _: u32) {
    // SAFETY: the callback owns the runnable and runs it once.
    unsafe { rawtask_runnable_run(runnable) };
}

#[test]
fn spawn_c_returns_no_memory() {
    // The C handle table is process-wide and keeps what it grew to: grow it before the leak
    // check starts.
    // SAFETY: `run_now` is thread-safe and ignores its context.
    let c_schedule = unsafe { RawtaskSchedule::new(run_now, std::ptr::null_mut()) };
    let warm_up: Vec<_> = (0..2 * SPAWNS)
        .map(|_| Builder::new().spawn_c(|()| async {}, c_schedule).unwrap())
        .collect();
    for (runnable, task) in warm_up {
        // SAFETY: fresh handles from `spawn_c`, each used once.
        unsafe {
            rawtask_runnable_run(runnable.as_ptr());
            assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
        }
    }
    for_every_k(|alloc, drops| {
        // SAFETY: `run_now` is thread-safe and ignores its context.
        let c_schedule = unsafe { RawtaskSchedule::new(run_now, std::ptr::null_mut()) };
        for spawn in 1..=SPAWNS {
            // `spawn_c` has no schedule function of ours to count: count one here.
            drops.schedules.inc();
            let captured = DropProbe::new(&drops.closures);
            let futures = drops.futures.clone();
            let result = Builder::new()
                .metadata(DropProbe::with_value(&drops.metadata, spawn))
                .allocator(alloc.clone())
                .spawn_c(
                    move |slot: &DropProbe| {
                        let value = slot.value as u64;
                        drop(captured);
                        let future_probe = DropProbe::new(&futures);
                        async move {
                            let _probe = future_probe;
                            value * 3
                        }
                    },
                    c_schedule,
                );
            match result {
                Ok((runnable, task)) => {
                    assert_ne!(spawn, alloc.0.fail_at);
                    let mut out = 0u64;
                    // SAFETY: the handles come from `spawn_c`; each is used once.
                    unsafe {
                        assert_eq!(rawtask_runnable_run(runnable.as_ptr()), RawtaskStatus::Ok);
                        let status = rawtask_task_poll(task, (&raw mut out).cast(), 8);
                        assert_eq!((status, out), (RawtaskStatus::Ready, spawn as u64 * 3));
                        assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
                    }
                }
                Err(failure) => {
                    assert_eq!(spawn, alloc.0.fail_at);
                    assert_eq!(failure.status(), RawtaskStatus::NoMemory);
                    let layout = alloc.layout_of_call(spawn);
                    let expected = format!(
                        "rawtask: could not allocate a task of {} bytes (alignment {})",
                        layout.size(),
                        layout.align()
                    );
                    assert_eq!(failure.to_string(), expected);
                }
            }
        }
    });
}

#[test]
fn no_memory_status_is_an_error_named_for_c() {
    assert_eq!(RawtaskStatus::NoMemory as i32, -6);
    assert!(RawtaskStatus::NoMemory.is_error());
    assert_eq!(
        RawtaskStatus::NoMemory.to_string(),
        "RAWTASK_STATUS_NO_MEMORY"
    );
    let error = Builder::new()
        .allocator(FailKth::new(1))
        .try_spawn(|()| async {}, |_| {})
        .unwrap_err();
    let failure: Failure = error.into();
    assert_eq!(failure.status(), RawtaskStatus::NoMemory);
    let alloc_error: AllocError = error.into();
    assert_eq!(alloc_error, AllocError);
    let boxed: Box<dyn std::error::Error + Send + Sync> = error.into();
    assert_eq!(boxed.to_string(), error.to_string());
}

/// A value whose destructor panics.
struct PanicsOnDrop(Counter);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.0.inc();
        panic!("data slot destructor");
    }
}

#[test]
fn a_panicking_destructor_on_the_failure_path_still_drops_the_rest_once() {
    let _g = check_leaks();
    let alloc = FailKth::new(1);
    let drops = Drops::default();
    let metadata_drops = Counter::new();
    let captured = DropProbe::new(&drops.closures);
    let slot = PanicsOnDrop(metadata_drops.clone());
    let sched = schedule(&drops);
    let payload = expect_panic(move || {
        let _ = Builder::new()
            .metadata(slot)
            .allocator(alloc.clone())
            .try_spawn(
                move |_: &PanicsOnDrop| {
                    drop(captured);
                    async {}
                },
                move |runnable: Runnable<PanicsOnDrop>| {
                    let _keep = &sched;
                    drop(runnable);
                },
            );
    });
    assert_eq!(common::panic_message(&*payload), "data slot destructor");
    assert_eq!(metadata_drops.get(), 1);
    assert_eq!(drops.closures.get(), 1);
    assert_eq!(drops.schedules.get(), 1);
}

#[test]
fn try_spawn_many_keeps_what_it_spawned() {
    let _g = check_leaks();
    let (mut runnables, mut tasks) = (Vec::new(), Vec::new());
    let futures = Counter::new();
    let made: Vec<_> = (0..SPAWNS)
        .map(|i| {
            let probe = DropProbe::new(&futures);
            async move {
                let _probe = probe;
                i
            }
        })
        .collect();
    rawtask::try_spawn_many(made, &|_| {}, &mut runnables, &mut tasks).unwrap();
    assert_eq!((runnables.len(), tasks.len()), (SPAWNS, SPAWNS));
    for runnable in runnables {
        runnable.run();
    }
    let outputs: Vec<usize> = tasks.into_iter().map(block_on).collect();
    assert_eq!(outputs, [0, 1, 2]);
    assert_eq!(futures.get(), SPAWNS);
}

#[test]
fn the_infallible_spawn_still_works_with_a_working_allocator() {
    let _g = check_leaks();
    let alloc = FailKth::new(0);
    let (runnable, task) = Builder::new()
        .allocator(alloc.clone())
        .spawn(|()| async { 5 }, |_| {});
    runnable.run();
    assert_eq!(block_on(task), 5);
    alloc.assert_balanced();
    assert_eq!(alloc.0.allocated.load(SeqCst), 1);
}
