//! The metadata / data slot: `Builder::metadata`, `spawn_with`, `Runnable::data`,
//! `Runnable::data_mut`, and the documented offset of the slot (`DATA_OFFSET`,
//! `data_offset::<M>()`) for code that only holds the raw task pointer.

// Tests and examples may use newer Rust than the library's MSRV (1.70); see the README.
#![allow(clippy::incompatible_msrv)]

mod common;

use std::mem::align_of;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use common::{block_on, check_leaks, Counter, DropProbe, Probe, Queue};
use rawtask::{Builder, Runnable};

// Both are usable in constant expressions.
const OFFSET: usize = rawtask::DATA_OFFSET;
const OFFSET_U64: usize = rawtask::data_offset::<u64>();

#[test]
fn metadata_from_the_builder() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = Builder::new().metadata(String::from("meta")).spawn(
        |m: &String| {
            let len = m.len();
            async move { len }
        },
        queue.schedule(),
    );
    assert_eq!(runnable.metadata(), "meta");
    assert_eq!(task.metadata(), "meta");
    assert!(
        std::ptr::eq(runnable.metadata(), runnable.data()),
        "one slot, two names"
    );
    assert!(std::ptr::eq(runnable.metadata(), task.metadata()));
    runnable.run();
    assert_eq!(task.metadata(), "meta", "readable after completion");
    assert_eq!(block_on(task), 4);
}

#[test]
fn spawn_with_sets_the_data_slot() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn_with(async { 1u8 }, queue.schedule(), [7u32; 3]);
    assert_eq!(*runnable.data(), [7, 7, 7]);
    assert_eq!(*task.metadata(), [7, 7, 7]);
    runnable.run();
    assert_eq!(block_on(task), 1);
}

#[test]
fn schedule_function_sees_the_data() {
    let _g = check_leaks();
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let queue = Queue::new();
    let q = queue.schedule();
    let (runnable, task) = rawtask::spawn_with(
        common::yield_now(),
        move |r: Runnable<usize>| {
            s.store(*r.data(), SeqCst);
            q(r);
        },
        1234usize,
    );
    assert!(runnable.run());
    assert_eq!(seen.load(SeqCst), 1234);
    queue.run_all();
    block_on(task);
}

#[test]
fn future_may_borrow_the_metadata_with_spawn_unchecked() {
    let _g = check_leaks();
    let queue = Queue::new();
    // SAFETY: the future only borrows the metadata, which lives as long as the task; all
    // types are Send and 'static.
    let (runnable, task) = unsafe {
        Builder::new().metadata(vec![1u32, 2, 3]).spawn_unchecked(
            |m: &Vec<u32>| async move {
                common::yield_now().await;
                m.iter().sum::<u32>()
            },
            queue.schedule(),
        )
    };
    runnable.run();
    queue.run_all();
    assert_eq!(block_on(task), 6);
}

#[test]
fn data_mut_is_none_while_a_task_handle_exists() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (mut runnable, task) = rawtask::spawn_with(async {}, queue.schedule(), 5u64);
    assert!(
        runnable.data_mut().is_none(),
        "the Task may read the slot concurrently"
    );
    task.detach();
    *runnable.data_mut().expect("no Task handle left") += 1;
    assert_eq!(*runnable.data(), 6);
    runnable.run();
}

#[test]
fn data_mut_after_the_task_is_dropped() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (mut runnable, task) = rawtask::spawn_with(probe.future(()), queue.schedule(), 0u8);
    drop(task);
    *runnable.data_mut().unwrap() = 9;
    assert_eq!(*runnable.data(), 9);
    assert!(!runnable.run());
    assert_eq!(probe.polls(), 0);
}

#[test]
fn data_mut_with_a_fallible_task() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (mut runnable, task) = rawtask::spawn_with(async { 3 }, queue.schedule(), 1i32);
    let fallible = task.fallible();
    assert!(
        runnable.data_mut().is_none(),
        "a FallibleTask is a Task handle"
    );
    fallible.detach();
    *runnable.data_mut().unwrap() = 2;
    runnable.run();
}

#[test]
fn data_mut_with_a_task_in_raw_form() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (mut runnable, task) = rawtask::spawn_with(async { 3 }, queue.schedule(), 1i32);
    let raw = task.into_raw();
    assert!(
        runnable.data_mut().is_none(),
        "a Task in raw form is still a Task handle"
    );
    // SAFETY: `raw` came from `Task::into_raw` of a `Task<i32, i32>`.
    let task = unsafe { rawtask::Task::<i32, i32>::from_raw(raw) };
    assert!(runnable.data_mut().is_none());
    task.detach();
    assert_eq!(runnable.data_mut().copied(), Some(1));
    runnable.run();
}

#[test]
fn data_mut_mutations_are_seen_later() {
    let _g = check_leaks();
    let queue = Queue::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let q = queue.schedule();
    let (mut runnable, task) = rawtask::spawn_with(
        common::yield_now(),
        move |r: Runnable<usize>| {
            s.store(*r.data(), SeqCst);
            q(r);
        },
        1usize,
    );
    task.detach();
    *runnable.data_mut().unwrap() = 77;
    runnable.run();
    assert_eq!(seen.load(SeqCst), 77);
    let mut runnable = queue.pop().unwrap();
    *runnable.data_mut().unwrap() += 1;
    assert_eq!(*runnable.data(), 78);
    runnable.run();
}

#[test]
fn metadata_is_dropped_exactly_once() {
    let _g = check_leaks();
    let queue = Queue::new();
    let drops = Counter::new();

    // Completed and joined.
    let (runnable, task) = rawtask::spawn_with(async {}, queue.schedule(), DropProbe::new(&drops));
    runnable.run();
    block_on(task);
    assert_eq!(drops.get(), 1);

    // Cancelled through the runnable.
    let (runnable, task) = rawtask::spawn_with(async {}, queue.schedule(), DropProbe::new(&drops));
    drop(runnable);
    drop(task);
    assert_eq!(drops.get(), 2);

    // Cancelled through the task, then run.
    let (runnable, task) = rawtask::spawn_with(async {}, queue.schedule(), DropProbe::new(&drops));
    drop(task);
    runnable.run();
    assert_eq!(drops.get(), 3);

    // Builder metadata.
    let (runnable, task) = Builder::new()
        .metadata(DropProbe::new(&drops))
        .spawn(|_| async {}, queue.schedule());
    task.detach();
    runnable.run();
    assert_eq!(drops.get(), 4);
}

/// Reads the slot through the pointer returned by `Runnable::into_raw` plus `offset`,
/// checks it against `data()`, and writes through it as C code would.
fn check_slot<M>(value: M, offset: usize, overwrite: M)
where
    M: Copy + PartialEq + std::fmt::Debug + Send + Sync + 'static,
{
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn_with(async {}, queue.schedule(), value);
    task.detach();
    assert_eq!(
        offset % align_of::<M>(),
        0,
        "the offset keeps the slot aligned"
    );
    let via_method: *const M = runnable.data();
    let raw: NonNull<()> = runnable.into_raw();
    // SAFETY: the pointer came from `into_raw` and the documented offset points to the data
    // slot, which holds an `M`; no reference to the slot is alive.
    let slot = unsafe { raw.cast::<u8>().add(offset).cast::<M>() };
    assert_eq!(slot.as_ptr().cast_const(), via_method);
    assert_eq!(slot.as_ptr() as usize % align_of::<M>(), 0);
    // SAFETY: as above; the task is detached so nothing else reads or writes the slot.
    unsafe {
        assert_eq!(slot.read(), value);
        slot.write(overwrite);
    }
    // SAFETY: `raw` came from `Runnable::into_raw` of a `Runnable<M>`.
    let runnable = unsafe { Runnable::<M>::from_raw(raw) };
    assert_eq!(*runnable.data(), overwrite);
    runnable.run();
}

#[test]
fn data_offset_for_word_sized_and_smaller_types() {
    let _g = check_leaks();
    assert_eq!(OFFSET, rawtask::data_offset::<usize>());
    assert_eq!(OFFSET_U64, rawtask::data_offset::<u64>());
    assert_eq!(rawtask::data_offset::<u8>(), OFFSET);
    assert_eq!(rawtask::data_offset::<u16>(), OFFSET);
    assert_eq!(rawtask::data_offset::<u32>(), OFFSET);
    assert_eq!(rawtask::data_offset::<*const ()>(), OFFSET);
    if align_of::<u64>() <= align_of::<usize>() {
        assert_eq!(OFFSET_U64, OFFSET);
    }
    check_slot(0xA5u8, rawtask::DATA_OFFSET, 0x5A);
    check_slot(0xA5u8, rawtask::data_offset::<u8>(), 0x5A);
    check_slot(0x0123_4567_89AB_CDEFu64, rawtask::data_offset::<u64>(), 42);
    check_slot(usize::MAX, rawtask::DATA_OFFSET, 3);
    check_slot((1u16, 2u8), rawtask::data_offset::<(u16, u8)>(), (3, 4));
}

#[test]
fn data_offset_for_over_aligned_types() {
    let _g = check_leaks();

    check_slot(u128::MAX - 7, rawtask::data_offset::<u128>(), 1);

    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(align(64))]
    struct Align64(u32);
    check_slot(
        Align64(0xDEAD),
        rawtask::data_offset::<Align64>(),
        Align64(0xBEEF),
    );

    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(align(4096))]
    struct Page([u8; 5]);
    check_slot(Page([1; 5]), rawtask::data_offset::<Page>(), Page([2; 5]));
}

#[test]
fn data_offset_for_a_zero_sized_type() {
    let _g = check_leaks();
    check_slot((), rawtask::data_offset::<()>(), ());
}

#[test]
fn slot_read_through_the_task_pointer() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn_with(async {}, queue.schedule(), 0xC0FFEEu32);
    let raw_task = task.into_raw();
    // SAFETY: the data slot is at the documented offset from the task pointer; only shared
    // reads happen while the Runnable exists.
    let value = unsafe {
        raw_task
            .cast::<u8>()
            .add(rawtask::data_offset::<u32>())
            .cast::<u32>()
            .read()
    };
    assert_eq!(value, 0xC0FFEE);
    runnable.run();
    // SAFETY: `raw_task` came from `Task::into_raw` of a `Task<(), u32>`.
    let task = unsafe { rawtask::Task::<(), u32>::from_raw(raw_task) };
    block_on(task);
}

#[test]
fn metadata_shared_between_threads() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) =
        rawtask::spawn_with(async { 2u8 }, queue.schedule(), AtomicUsize::new(0));
    let t = common::spawn_tracked(move || {
        task.metadata().fetch_add(1, SeqCst);
        block_on(task)
    });
    runnable.metadata().fetch_add(1, SeqCst);
    let waker = runnable.waker();
    runnable.run();
    assert_eq!(t.join().unwrap(), 2);
    drop(waker);
}
