//! The allocator spawns under async-task PR #98's names, and async-task PR #97's raw metadata
//! pointer.

mod common;

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{block_on, check_leaks};
use rawtask::storage::TaskPool;

#[test]
fn free_functions_and_builder_methods_use_the_allocator() {
    // No leak check: the pool keeps freed blocks cached until it is dropped at the end.
    let raw = Box::into_raw(Box::new(TaskPool::new(8)));
    // SAFETY: `raw` stays valid until the `Box::from_raw` at the end, after the last task.
    let pool: &'static TaskPool = unsafe { &*raw };
    let (runnable, task) = rawtask::spawn_in(async { 1 }, |_| {}, pool);
    runnable.run();
    assert_eq!(block_on(task), 1);
    assert_eq!(pool.stats().cached, 1);

    let (runnable, task) = rawtask::spawn_local_in(async { 2 }, |_| {}, pool);
    runnable.run();
    assert_eq!(block_on(task), 2);

    // SAFETY: everything is 'static and `Send`.
    let (runnable, task) = unsafe { rawtask::spawn_unchecked_in(async { 3 }, |_| {}, pool) };
    runnable.run();
    assert_eq!(block_on(task), 3);

    let (runnable, task) = rawtask::Builder::new().metadata(10u32).spawn_in(
        |m| {
            let m = *m;
            async move { m + 4 }
        },
        |_| {},
        pool,
    );
    runnable.run();
    assert_eq!(block_on(task), 14);
    let stats = pool.stats();
    assert_eq!(
        stats.reused + stats.fresh,
        4,
        "every spawn went through the pool"
    );
    // SAFETY: every task is freed, so nothing uses the pool any more; `raw` is its box.
    drop(unsafe { Box::from_raw(raw) });
}

#[test]
fn metadata_raw_points_at_the_slot() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn_with(async {}, |_| {}, AtomicUsize::new(1));
    let ptr = runnable.into_raw();
    let slot = rawtask::Runnable::<AtomicUsize>::metadata_raw(ptr);
    assert_eq!(
        slot.as_ptr().cast::<u8>(),
        ptr.as_ptr().cast::<u8>().wrapping_add(rawtask::DATA_OFFSET)
    );
    // SAFETY: the raw pointer owns the `Runnable`; the slot type matches.
    unsafe { slot.as_ref() }.store(2, Ordering::Relaxed);
    assert_eq!(task.metadata().load(Ordering::Relaxed), 2);
    // SAFETY: converted back once.
    unsafe { rawtask::Runnable::<AtomicUsize>::from_raw(ptr) }.run();
    block_on(task);
}

#[test]
fn metadata_raw_with_an_overaligned_slot() {
    #[repr(align(64))]
    struct Wide(u8);
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn_with(async {}, |_| {}, Wide(9));
    let ptr = runnable.into_raw();
    let slot = rawtask::Runnable::<Wide>::metadata_raw(ptr);
    assert_eq!(slot.as_ptr() as usize % 64, 0);
    assert!(std::ptr::eq(slot.as_ptr(), task.metadata()));
    // SAFETY: the raw pointer owns the `Runnable`; the slot type matches.
    assert_eq!(unsafe { slot.as_ref() }.0, 9);
    // SAFETY: converted back once.
    drop(unsafe { rawtask::Runnable::<Wide>::from_raw(ptr) });
    drop(task);
}

#[test]
fn metadata_raw_reads_no_memory() {
    // Safe to call with any non-null pointer: it only offsets it.
    let dangling = NonNull::<u64>::dangling().cast::<()>();
    let slot = rawtask::Runnable::<u64>::metadata_raw(dangling);
    assert_eq!(slot.as_ptr() as usize, 8 + rawtask::data_offset::<u64>());
}
