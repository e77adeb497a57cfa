//! `storage::OwnedPool`: one spawner claims slots (`PoolSpawner::claim`) for tasks spawned
//! with `Builder::allocator(slot).try_spawn`; the tasks are freed anywhere.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use common::{block_on, check_leaks, spawn_tracked, Counter, DropProbe, Queue};
use rawtask::storage::{OwnedPool, PoolSpawner, TaskSlot};
use rawtask::{Builder, Runnable, Task};

/// Each test has its own pool: tests run in parallel.
type Pool = OwnedPool<TaskSlot<256>, 4>;

/// Spawns `output` into a slot of the spawner's pool; `None` if the pool is full.
fn spawn_value<T: Send + 'static, S: Send + Sync + 'static, const N: usize>(
    spawner: &PoolSpawner<'static, S, N>,
    output: T,
) -> Option<(Runnable, Task<T>)> {
    let slot = spawner.claim()?;
    let spawned = Builder::new()
        .allocator(slot)
        .try_spawn(move |()| async move { output }, |_| {})
        .expect("a claimed slot takes a task that fits");
    Some(spawned)
}

#[test]
fn spawn_run_join() {
    static POOL: Pool = OwnedPool::new();
    let _g = check_leaks();
    let spawner = POOL.spawner().unwrap();
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .metadata(5u32)
        .allocator(spawner.claim().unwrap())
        .try_spawn(
            |m| {
                let m = *m;
                async move { m * 2 }
            },
            queue.schedule(),
        )
        .unwrap();
    assert_eq!(POOL.in_use(), 1);
    runnable.schedule();
    assert_eq!(queue.run_all(), 1);
    assert_eq!(block_on(task), 10);
    assert_eq!(POOL.in_use(), 0);
}

#[test]
fn the_task_memory_is_a_slot_of_the_pool() {
    static POOL: Pool = OwnedPool::new();
    let spawner = POOL.spawner().unwrap();
    let (first, task1) = spawn_value(&spawner, ()).unwrap();
    let (second, task2) = spawn_value(&spawner, ()).unwrap();
    let base = &POOL as *const Pool as usize;
    for runnable in [&first, &second] {
        let ptr = runnable.waker().data() as usize;
        assert!(ptr >= base && ptr < base + std::mem::size_of::<Pool>());
        assert_eq!(ptr % 16, 0, "slots are 16-aligned");
    }
    let distance = (first.waker().data() as usize).abs_diff(second.waker().data() as usize);
    assert!(
        distance > 0 && distance % 256 == 0,
        "tasks {distance} bytes apart"
    );
    drop((first, task1, second, task2));
    assert_eq!(POOL.in_use(), 0);
}

#[test]
fn a_full_pool_refuses_and_leaks_nothing() {
    static POOL: Pool = OwnedPool::new();
    let _g = check_leaks();
    let spawner = POOL.spawner().unwrap();
    let drops = Counter::new();
    let held: Vec<_> = (0..4)
        .map(|i| spawn_value(&spawner, DropProbe::with_value(&drops, i)).unwrap())
        .collect();
    assert_eq!(POOL.in_use(), 4);
    assert!(spawner.claim().is_none(), "every slot is taken");
    assert_eq!(POOL.in_use(), 4);
    for (i, (runnable, task)) in held.into_iter().enumerate() {
        runnable.run();
        assert_eq!(block_on(task).value, i);
    }
    assert_eq!(POOL.in_use(), 0);
    assert_eq!(drops.get(), 4);
    // And it serves again.
    let (runnable, task) = spawn_value(&spawner, 9u8).unwrap();
    runnable.run();
    assert_eq!(block_on(task), 9);
}

#[test]
fn a_task_that_does_not_fit_gives_its_slot_back() {
    static POOL: OwnedPool<TaskSlot<64>, 1> = OwnedPool::new();
    let _g = check_leaks();
    let spawner = POOL.spawner().unwrap();
    let drops = Counter::new();
    let probe = DropProbe::new(&drops);
    let big = [1u8; 128];
    let slot = spawner.claim().unwrap();
    assert_eq!(POOL.in_use(), 1, "a claimed slot is taken");
    let error = Builder::new()
        .allocator(slot)
        .try_spawn(
            move |()| async move {
                let _probe = &probe;
                big.len()
            },
            |_| {},
        )
        .unwrap_err();
    assert!(error.layout().size() > 64);
    assert_eq!(drops.get(), 1, "the refused spawn dropped its closure");
    assert_eq!(
        POOL.in_use(),
        0,
        "the refused spawn dropped its slot unused"
    );
    // A small one fits the same slot.
    let slot = spawner.claim().unwrap();
    let (runnable, task) = Builder::new()
        .allocator(slot)
        .try_spawn(|()| async { 1u8 }, |_| {})
        .unwrap();
    runnable.run();
    assert_eq!(block_on(task), 1);
    assert_eq!(POOL.in_use(), 0);
}

#[test]
fn an_unused_claim_gives_its_slot_back_on_any_thread() {
    static POOL: OwnedPool<TaskSlot<64>, 1> = OwnedPool::new();
    let spawner = POOL.spawner().unwrap();
    let slot = spawner.claim().unwrap();
    assert!(spawner.claim().is_none());
    assert!(format!("{slot:?}").contains("index: Some(0)"));
    std::thread::spawn(move || drop(slot)).join().unwrap();
    assert_eq!(POOL.in_use(), 0);
    assert!(spawner.claim().is_some());
}

#[test]
fn a_freed_slot_is_reused_once_the_last_handle_is_gone() {
    static POOL: OwnedPool<TaskSlot<256>, 2> = OwnedPool::new();
    let _g = check_leaks();
    let spawner = POOL.spawner().unwrap();
    let address = |runnable: &Runnable| runnable.waker().data() as usize;
    let (runnable, task) = spawn_value(&spawner, 1).unwrap();
    let first = address(&runnable);
    // A waker keeps the finished task (and its slot) alive after both handles are gone.
    let waker = runnable.waker();
    runnable.run();
    assert_eq!(block_on(task), 1);
    assert_eq!(POOL.in_use(), 1, "the waker still holds the task");
    drop(waker);
    assert_eq!(POOL.in_use(), 0);
    let (r1, t1) = spawn_value(&spawner, 2).unwrap();
    assert_eq!(address(&r1), first, "the freed slot is reused first");
    let (r2, t2) = spawn_value(&spawner, 3).unwrap();
    assert_ne!(address(&r2), first);
    assert!(spawner.claim().is_none());
    // Cancelled tasks give their slots back too.
    drop((r1, t1, r2, t2));
    assert_eq!(POOL.in_use(), 0);
}

#[test]
fn one_spawner_at_a_time() {
    static POOL: OwnedPool<TaskSlot<128>, 2> = OwnedPool::new();
    let _g = check_leaks();
    let first = POOL.spawner().expect("a new pool has its spawner");
    assert!(POOL.spawner().is_none());
    assert!(std::thread::spawn(|| POOL.spawner().is_none())
        .join()
        .unwrap());
    // A task spawned by the first spawner outlives it.
    let (runnable, task) = spawn_value(&first, 7u32).unwrap();
    drop(first);
    // Another thread takes the spawner over, sees the slot still taken, and spawns into the
    // other one.
    let other = spawn_tracked(|| {
        let spawner = POOL.spawner().expect("the first spawner was dropped");
        assert_eq!(POOL.in_use(), 1);
        let (r, t) = spawn_value(&spawner, 8u32).unwrap();
        assert!(
            spawner.claim().is_none(),
            "the first task's slot is still taken"
        );
        r.run();
        block_on(t)
    });
    assert_eq!(other.join().unwrap(), 8);
    runnable.run();
    assert_eq!(block_on(task), 7);
    assert_eq!(POOL.in_use(), 0);
    let again = POOL.spawner().expect("the thread's spawner was dropped");
    assert!(format!("{POOL:?}").contains("spawner_taken: true"));
    drop(again);
}

#[test]
fn the_pool_reports_itself() {
    static POOL: OwnedPool<TaskSlot<128>, 3> = OwnedPool::new();
    assert_eq!(POOL.capacity(), 3);
    let text = format!("{POOL:?}");
    assert!(
        text.contains("slot_size: 128") && text.contains("in_use: 0"),
        "{text}"
    );
    assert!(OwnedPool::<TaskSlot<128>, 3>::fits(
        std::alloc::Layout::new::<[u8; 128]>()
    ));
    assert!(!OwnedPool::<TaskSlot<128>, 3>::fits(
        std::alloc::Layout::new::<[u8; 129]>()
    ));
    let spawner = POOL.spawner().unwrap();
    assert!(std::ptr::eq(spawner.pool(), &POOL));
    assert!(format!("{spawner:?}").starts_with("PoolSpawner"));
}

/// The owner spawns into a small pool as fast as it can while other threads run the tasks
/// and free them: every spawned task runs and is joined exactly once with its own output
/// (a slot handed to two tasks would mix outputs up), refusals happen only while the pool
/// is full, and at the end every slot is free.
#[test]
fn other_threads_free_while_the_owner_spawns() {
    const RUNNERS: usize = 3;
    const SLOTS: usize = 3;
    static POOL: OwnedPool<TaskSlot<256>, SLOTS> = OwnedPool::new();
    let _g = check_leaks();
    let tasks = if cfg!(miri) { 30 } else { 20_000 };
    let runs = Arc::new(AtomicUsize::new(0));
    let (sender, receiver) = flume::unbounded::<(u64, Runnable, Task<[u64; 2]>)>();
    let runners: Vec<_> = (0..RUNNERS)
        .map(|_| {
            let receiver = receiver.clone();
            let runs = runs.clone();
            spawn_tracked(move || {
                let mut joined = Vec::new();
                for (tag, runnable, task) in receiver.iter() {
                    assert!(!runnable.run(), "the task completes at once");
                    runs.fetch_add(1, SeqCst);
                    assert_eq!(block_on(task), [tag, !tag], "a task's memory was shared");
                    joined.push(tag);
                }
                joined
            })
        })
        .collect();
    drop(receiver);
    let spawner = POOL.spawner().unwrap();
    let mut refused = 0usize;
    for tag in 0..tasks as u64 {
        // Spin until a runner frees a slot: every task is spawned once.
        let (runnable, task) = loop {
            match spawn_value(&spawner, [tag, !tag]) {
                Some(spawned) => break spawned,
                None => {
                    refused += 1;
                    std::thread::yield_now();
                }
            }
        };
        sender.send((tag, runnable, task)).unwrap();
    }
    drop(sender);
    let mut joined: Vec<u64> = runners
        .into_iter()
        .flat_map(|runner| runner.join().unwrap())
        .collect();
    joined.sort_unstable();
    assert_eq!(
        joined,
        (0..tasks as u64).collect::<Vec<_>>(),
        "each task joined once"
    );
    assert_eq!(runs.load(SeqCst), tasks);
    assert_eq!(POOL.in_use(), 0, "every slot came back");
    let _ = refused; // how often the pool was full depends on the scheduler
    drop(spawner);
}

/// The spawner moves between threads (dropped on one, taken on the next) while tasks it
/// spawned are freed on yet other threads: no slot is handed out twice.
#[test]
fn the_spawner_changes_threads_while_tasks_are_freed() {
    const SLOTS: usize = 2;
    static POOL: OwnedPool<TaskSlot<256>, SLOTS> = OwnedPool::new();
    let _g = check_leaks();
    let rounds = if cfg!(miri) { 10 } else { 2000 };
    let (sender, receiver) = flume::unbounded::<(u64, Runnable, Task<[u64; 2]>)>();
    let runner = {
        let receiver = receiver.clone();
        spawn_tracked(move || {
            let mut count = 0usize;
            for (tag, runnable, task) in receiver.iter() {
                runnable.run();
                assert_eq!(block_on(task), [tag, !tag], "a task's memory was shared");
                count += 1;
            }
            count
        })
    };
    drop(receiver);
    let spawned = Arc::new(AtomicUsize::new(0));
    let spawners: Vec<_> = (0..2u64)
        .map(|t| {
            let sender = sender.clone();
            let spawned = spawned.clone();
            spawn_tracked(move || {
                for i in 0..rounds as u64 {
                    // Take the spawner (spinning while the other thread has it), spawn one
                    // task if a slot is free, give the spawner back.
                    let spawner = loop {
                        match POOL.spawner() {
                            Some(spawner) => break spawner,
                            None => std::thread::yield_now(),
                        }
                    };
                    let tag = t << 32 | i;
                    if let Some((runnable, task)) = spawn_value(&spawner, [tag, !tag]) {
                        spawned.fetch_add(1, SeqCst);
                        sender.send((tag, runnable, task)).unwrap();
                    }
                    drop(spawner);
                }
            })
        })
        .collect();
    drop(sender);
    for spawner in spawners {
        spawner.join().unwrap();
    }
    assert_eq!(runner.join().unwrap(), spawned.load(SeqCst));
    assert!(spawned.load(SeqCst) >= SLOTS);
    assert_eq!(POOL.in_use(), 0);
}
