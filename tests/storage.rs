//! Custom task storage: `Builder::allocator` with allocator-api2 allocators and `TaskPool`.

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use common::{check_leaks, Queue};
use rawtask::storage::{AllocError, Allocator, Heap, TaskPool};
use rawtask::Builder;

/// An allocator that records what it does and forwards to the heap. Each test has its own
/// `static` one (spawned tasks need a `'static` allocator).
struct Recorder {
    allocated: AtomicUsize,
    freed: AtomicUsize,
    last_size: AtomicUsize,
}

impl Recorder {
    const fn new() -> Recorder {
        Recorder {
            allocated: AtomicUsize::new(0),
            freed: AtomicUsize::new(0),
            last_size: AtomicUsize::new(0),
        }
    }
}

// SAFETY: forwards to `Heap`, which satisfies the contract.
unsafe impl Allocator for Recorder {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.allocated.fetch_add(1, SeqCst);
        self.last_size.store(layout.size(), SeqCst);
        Heap.allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        self.freed.fetch_add(1, SeqCst);
        // SAFETY: forwarded.
        unsafe { Heap.deallocate(ptr, layout) }
    }
}

#[test]
fn every_task_goes_back_to_its_allocator() {
    let _g = check_leaks();
    static RECORDER: Recorder = Recorder::new();
    let recorder = &RECORDER;
    let queue = Queue::new();
    let mut tasks = Vec::new();
    for i in 0..10u32 {
        let (runnable, task) = Builder::new()
            .allocator(recorder)
            .spawn(move |()| async move { i }, queue.schedule());
        runnable.schedule();
        tasks.push(task);
    }
    assert_eq!(recorder.allocated.load(SeqCst), 10);
    queue.run_all();
    let sum: u32 = tasks.into_iter().map(common::block_on).sum();
    assert_eq!(sum, 45);
    assert_eq!(recorder.freed.load(SeqCst), 10);
}

#[test]
fn the_allocator_adds_only_itself_to_the_task() {
    static RECORDER: Recorder = Recorder::new();
    let recorder = &RECORDER;
    let (runnable, task) = Builder::new()
        .allocator(recorder)
        .spawn(|()| async {}, |_| {});
    drop((runnable, task));
    // A trivial task is 40 bytes on the heap (see the allocation test in benches/); a
    // reference to an allocator adds one word.
    if cfg!(target_pointer_width = "64") {
        assert_eq!(recorder.last_size.load(SeqCst), 48);
    }
}

#[test]
fn a_task_freed_on_another_thread_returns_to_its_pool() {
    // No leak check: the pool keeps freed memory, by design.
    static POOL: TaskPool = TaskPool::new(8);
    let before = POOL.stats();
    let (runnable, task) = Builder::new()
        .allocator(&POOL)
        .spawn(|()| async { 1 }, |_| {});
    let waker = runnable.waker();
    runnable.run();
    assert_eq!(common::block_on(task), 1);
    // The last reference is a waker, dropped on another thread (untracked: the pool keeps
    // what it frees, which the leak checks of tests running meanwhile must not count).
    std::thread::spawn(move || drop(waker)).join().unwrap();
    let after = POOL.stats();
    assert_eq!(after.cached, before.cached + 1);
    // The next task of the same type reuses that memory.
    let (runnable, task) = Builder::new()
        .allocator(&POOL)
        .spawn(|()| async { 1 }, |_| {});
    assert_eq!(POOL.stats().reused, after.reused + 1);
    drop((runnable, task));
}

#[test]
fn a_pool_bounds_its_cache() {
    static POOL: TaskPool = TaskPool::new(2);
    let pool = &POOL;
    let handles: Vec<_> = (0..5)
        .map(|_| Builder::new().allocator(pool).spawn(|()| async {}, |_| {}))
        .collect();
    assert_eq!(pool.stats().fresh, 5);
    drop(handles);
    assert_eq!(pool.stats().cached, 2);
    for _ in 0..3 {
        drop(Builder::new().allocator(pool).spawn(|()| async {}, |_| {}));
    }
    let stats = pool.stats();
    assert_eq!((stats.reused, stats.fresh, stats.cached), (3, 5, 2));
    assert!(format!("{pool:?}").contains("capacity: 2"));
}

#[test]
fn local_tasks_and_data_slots_with_a_pool() {
    // A pool that is dropped at the end returns its cache to the heap: nothing leaks.
    let _g = check_leaks();
    let raw = Box::into_raw(Box::new(TaskPool::new(4)));
    // SAFETY: the box is freed only at the end of the test, after every task of the pool.
    let pool: &'static TaskPool = unsafe { &*raw };
    let text = std::rc::Rc::new(String::from("local"));
    let (runnable, task) = Builder::new().metadata(7u64).allocator(pool).spawn_local(
        move |slot: &u64| {
            let n = *slot;
            async move { format!("{text} {n}") }
        },
        |_| {},
    );
    assert_eq!(*runnable.metadata(), 7);
    runnable.run();
    assert_eq!(common::block_on(task), "local 7");
    assert_eq!(pool.stats().cached, 1);
    // SAFETY: every task of the pool is gone and `pool` is not used again; `raw` came from
    // `Box::into_raw` above.
    drop(unsafe { Box::from_raw(raw) });
}

#[test]
fn a_panic_while_building_the_future_frees_to_the_allocator() {
    let _g = check_leaks();
    static RECORDER: Recorder = Recorder::new();
    let recorder = &RECORDER;
    let payload = common::expect_panic(|| {
        Builder::new().allocator(recorder).spawn(
            |()| -> std::future::Ready<()> { panic!("no future") },
            |_| {},
        )
    });
    assert_eq!(common::panic_message(&*payload), "no future");
    assert_eq!(recorder.allocated.load(SeqCst), 1);
    assert_eq!(recorder.freed.load(SeqCst), 1);
}

#[test]
fn cancelled_and_detached_tasks_free_to_the_allocator() {
    let _g = check_leaks();
    static RECORDER: Recorder = Recorder::new();
    let recorder = &RECORDER;
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .allocator(recorder)
        .spawn(|()| std::future::pending::<()>(), queue.schedule());
    runnable.run();
    drop(task); // cancels
    queue.run_all();
    let (runnable, task) = Builder::new()
        .allocator(recorder)
        .spawn(|()| async {}, queue.schedule());
    task.detach();
    drop(runnable);
    assert_eq!(recorder.allocated.load(SeqCst), 2);
    assert_eq!(recorder.freed.load(SeqCst), 2);
}
