//! `storage::StaticPool`: tasks in a fixed number of static slots, through `Builder::allocator`
//! and `try_spawn`.

mod common;

use std::sync::Barrier;

use common::{block_on, check_leaks, spawn_tracked, Counter, DropProbe, Queue};
use rawtask::storage::{StaticPool, TaskSlot};
use rawtask::Builder;

/// Moves its argument whole: a closure or async block that reads only a field of a captured
/// value captures that field alone (edition 2021), and the tests need the whole value inside.
fn whole<T>(value: T) -> T {
    value
}

/// Each test has its own pool: tests run in parallel.
type Pool = StaticPool<TaskSlot<256>, 4>;

#[test]
fn spawn_run_join() {
    static POOL: Pool = StaticPool::new();
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .metadata(5u32)
        .allocator(&POOL)
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
    static POOL: Pool = StaticPool::new();
    let spawn = || {
        Builder::new()
            .allocator(&POOL)
            .try_spawn(|()| async {}, |_| {})
            .unwrap()
    };
    let ((first, task1), (second, task2)) = (spawn(), spawn());
    let base = &POOL as *const Pool as usize;
    let (a, b) = (first.into_raw(), second.into_raw());
    for ptr in [a.as_ptr() as usize, b.as_ptr() as usize] {
        assert!(ptr >= base && ptr < base + std::mem::size_of::<Pool>());
        assert_eq!(ptr % 16, 0, "slots are 16-aligned");
    }
    // The slots sit side by side (where the array sits inside the pool is the compiler's
    // choice): two tasks are a whole number of slots apart.
    let distance = (a.as_ptr() as usize).abs_diff(b.as_ptr() as usize);
    assert!(
        distance > 0 && distance % 256 == 0,
        "tasks {distance} bytes apart"
    );
    // SAFETY: the pointers came from `into_raw` just above.
    unsafe {
        drop(rawtask::Runnable::<()>::from_raw(a));
        drop(rawtask::Runnable::<()>::from_raw(b));
    }
    drop((task1, task2));
    assert_eq!(POOL.in_use(), 0);
}

#[test]
fn a_full_pool_refuses_and_leaks_nothing() {
    static POOL: Pool = StaticPool::new();
    let _g = check_leaks();
    let drops = Counter::new();
    let mut held = Vec::new();
    for i in 0..4 {
        let probe = DropProbe::with_value(&drops, i);
        let spawned = Builder::new()
            .allocator(&POOL)
            .try_spawn(move |()| async move { whole(probe).value }, |_| {});
        held.push(spawned.unwrap());
    }
    assert_eq!(POOL.in_use(), 4);
    // The fifth: refused; its future (never built), closure and data slot are dropped.
    let probe = DropProbe::new(&drops);
    let data = DropProbe::new(&drops);
    let error = Builder::new()
        .metadata(data)
        .allocator(&POOL)
        .try_spawn(move |_| async move { whole(probe).value }, |_| {})
        .unwrap_err();
    assert_eq!(
        drops.get(),
        2,
        "the refused spawn dropped its closure and data slot"
    );
    assert!(error.layout().size() <= 256);
    assert_eq!(POOL.in_use(), 4);
    // Every held task still runs and frees its slot.
    for (i, (runnable, task)) in held.drain(..).enumerate() {
        runnable.run();
        assert_eq!(block_on(task), i);
    }
    assert_eq!(POOL.in_use(), 0);
    assert_eq!(drops.get(), 6);
}

#[test]
fn a_task_bigger_than_a_slot_is_refused() {
    static POOL: StaticPool<TaskSlot<64>, 2> = StaticPool::new();
    let _g = check_leaks();
    let drops = Counter::new();
    let probe = DropProbe::new(&drops);
    let big = [1u8; 128];
    let error = Builder::new()
        .allocator(&POOL)
        .try_spawn(
            move |()| async move {
                let _probe = &probe;
                big.len()
            },
            |_| {},
        )
        .unwrap_err();
    assert!(error.layout().size() > 64);
    assert_eq!(drops.get(), 1);
    assert_eq!(POOL.in_use(), 0, "a refused task takes no slot");
    // A small one fits the same pool.
    let (runnable, task) = Builder::new()
        .allocator(&POOL)
        .try_spawn(|()| async { 1u8 }, |_| {})
        .unwrap();
    runnable.run();
    assert_eq!(block_on(task), 1);
}

#[test]
fn an_over_aligned_task_is_refused() {
    #[repr(align(64))]
    struct Aligned(u8);
    static POOL: StaticPool<TaskSlot<512>, 2> = StaticPool::new();
    let _g = check_leaks();
    let value = Aligned(3);
    let error = Builder::new()
        .allocator(&POOL)
        .try_spawn(move |()| async move { whole(value).0 }, |_| {})
        .unwrap_err();
    assert_eq!(error.layout().align(), 64);
    assert!(
        error.layout().size() <= 512,
        "refused for alignment, not size"
    );
    assert_eq!(POOL.in_use(), 0);

    // A slot type of that alignment takes it.
    #[repr(C, align(64))]
    struct Slot64([u8; 512]);
    static ALIGNED: StaticPool<Slot64, 1> = StaticPool::new();
    let value = Aligned(4);
    let (runnable, task) = Builder::new()
        .allocator(&ALIGNED)
        .try_spawn(move |()| async move { whole(value).0 }, |_| {})
        .unwrap();
    runnable.run();
    assert_eq!(block_on(task), 4);
    assert_eq!(ALIGNED.in_use(), 0);
}

#[test]
fn a_freed_slot_is_reused_once_the_last_handle_is_gone() {
    static POOL: StaticPool<TaskSlot<256>, 2> = StaticPool::new();
    let _g = check_leaks();
    let address = |runnable: &rawtask::Runnable| runnable.waker().data() as usize;
    let (runnable, task) = Builder::new()
        .allocator(&POOL)
        .try_spawn(|()| async { 1 }, |_| {})
        .unwrap();
    let first = address(&runnable);
    // A waker keeps the finished task (and its slot) alive after both handles are gone.
    let waker = runnable.waker();
    runnable.run();
    assert_eq!(block_on(task), 1);
    assert_eq!(POOL.in_use(), 1, "the waker still holds the task");
    drop(waker);
    assert_eq!(POOL.in_use(), 0);
    // The next spawns: the freed slot first, then the other one, then none.
    let (r1, t1) = Builder::new()
        .allocator(&POOL)
        .try_spawn(|()| async { 2 }, |_| {})
        .unwrap();
    assert_eq!(address(&r1), first, "the freed slot is reused first");
    let (r2, t2) = Builder::new()
        .allocator(&POOL)
        .try_spawn(|()| async { 3 }, |_| {})
        .unwrap();
    assert_ne!(address(&r2), first);
    assert!(Builder::new()
        .allocator(&POOL)
        .try_spawn(|()| async { 4 }, |_| {})
        .is_err());
    // Cancelled tasks give their slots back too.
    drop((r1, t1, r2, t2));
    assert_eq!(POOL.in_use(), 0);
}

#[test]
fn the_pool_reports_itself() {
    static POOL: StaticPool<TaskSlot<128>, 3> = StaticPool::new();
    assert_eq!(POOL.capacity(), 3);
    let text = format!("{POOL:?}");
    assert!(
        text.contains("slot_size: 128") && text.contains("in_use: 0"),
        "{text}"
    );
    assert!(StaticPool::<TaskSlot<128>, 3>::fits(
        std::alloc::Layout::new::<[u8; 128]>()
    ));
    assert!(!StaticPool::<TaskSlot<128>, 3>::fits(
        std::alloc::Layout::new::<[u8; 129]>()
    ));
}

/// Threads spawn into one small pool, run the tasks on other threads and free them there:
/// every task gets a slot of its own (its output comes back intact), refusals happen only
/// when the pool is full, and at the end every slot is free.
#[test]
fn threads_spawn_and_free_concurrently() {
    const THREADS: usize = 4;
    const SLOTS: usize = 3;
    static POOL: StaticPool<TaskSlot<256>, SLOTS> = StaticPool::new();
    let _g = check_leaks();
    let rounds = if cfg!(miri) { 20 } else { 2000 };
    let barrier = std::sync::Arc::new(Barrier::new(THREADS));
    let (sender, receiver) = flume::unbounded();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            let (sender, receiver) = (sender.clone(), receiver.clone());
            spawn_tracked(move || {
                barrier.wait();
                let (mut spawned, mut refused, mut joined) = (0usize, 0usize, 0usize);
                for i in 0..rounds {
                    let tag = [t as u64, i as u64, (t * rounds + i) as u64];
                    match Builder::new()
                        .allocator(&POOL)
                        .try_spawn(move |()| async move { tag }, |_| {})
                    {
                        Ok(handles) => {
                            spawned += 1;
                            sender.send((tag, handles)).unwrap();
                        }
                        Err(_) => refused += 1,
                    }
                    // Run and free someone's task (maybe another thread's).
                    if let Ok((tag, (runnable, task))) = receiver.try_recv() {
                        runnable.run();
                        assert_eq!(block_on(task), tag, "a task's memory was shared");
                        joined += 1;
                    }
                }
                (spawned, refused, joined)
            })
        })
        .collect();
    drop(sender);
    let (mut spawned, mut refused, mut joined) = (0, 0, 0);
    for worker in workers {
        let (s, r, j) = worker.join().unwrap();
        spawned += s;
        refused += r;
        joined += j;
    }
    for (tag, (runnable, task)) in receiver.drain() {
        runnable.run();
        assert_eq!(block_on(task), tag);
        joined += 1;
    }
    assert_eq!(spawned + refused, THREADS * rounds);
    assert_eq!(joined, spawned);
    assert!(
        spawned >= SLOTS,
        "at least the first spawns found free slots"
    );
    assert_eq!(POOL.in_use(), 0, "every slot came back");
}
