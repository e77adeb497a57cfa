//! One allocation per task, whatever the size of the future, its output or the data slot —
//! including futures larger than 64 KiB (async-task boxes futures of 2 KiB and more, which
//! makes a second allocation; rawtask keeps them inline).

mod common;

use std::future::Future;
use std::mem::size_of_val;

use common::{block_on, check_leaks, count_allocations, Counter, DropProbe, Queue};
use rawtask::{Builder, Runnable};

/// A future that keeps `N` bytes alive across an await point.
/// Returns `fill * 3`, read from three places of the buffer (not a loop over all of it,
/// which would be slow under Miri).
async fn holding<const N: usize>(fill: u8) -> usize {
    let buffer = [fill; N];
    common::yield_now().await;
    [0, N / 2, N - 1]
        .iter()
        .map(|&i| usize::from(buffer[i]))
        .sum()
}

/// Checks a few bytes of a large array.
fn sampled_eq(bytes: &[u8], value: u8) -> bool {
    let n = bytes.len();
    [0, 1, n / 3, n / 2, n - 2, n - 1]
        .iter()
        .all(|&i| bytes[i] == value)
}

/// Spawns `future` and returns the runnable, the task and the number of allocations made.
fn spawn_counted<F>(future: F, queue: &Queue) -> ((Runnable, rawtask::Task<F::Output>), usize)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let schedule = queue.schedule();
    count_allocations(move || rawtask::spawn(future, schedule))
}

#[test]
fn small_future_is_one_allocation() {
    let _g = check_leaks();
    let queue = Queue::new();
    let ((runnable, task), allocations) = spawn_counted(async { 1u8 }, &queue);
    assert_eq!(allocations, 1);
    runnable.run();
    assert_eq!(block_on(task), 1);
}

#[test]
fn medium_future_is_one_allocation() {
    let _g = check_leaks();
    common::on_big_stack(|| {
        let queue = Queue::new();
        let future = holding::<4096>(1);
        assert!(size_of_val(&future) > 4096);
        let ((runnable, task), allocations) = spawn_counted(future, &queue);
        assert_eq!(allocations, 1, "no boxing of futures above some size");
        assert!(runnable.run());
        queue.run_all();
        assert_eq!(block_on(task), 3);
    });
}

#[test]
fn future_larger_than_64_kib() {
    let _g = check_leaks();
    common::on_big_stack(|| {
        let queue = Queue::new();
        let future = holding::<100_000>(3);
        assert!(size_of_val(&future) > 64 * 1024);
        let ((runnable, task), allocations) = spawn_counted(future, &queue);
        assert_eq!(allocations, 1);
        assert!(runnable.run(), "the future yields once");
        assert_eq!(queue.run_all(), 1);
        assert_eq!(block_on(task), 9);
    });
}

#[test]
fn output_larger_than_64_kib() {
    let _g = check_leaks();
    common::on_big_stack(|| {
        let queue = Queue::new();
        let future = async {
            common::yield_now().await;
            [7u8; 70_000]
        };
        let ((runnable, task), allocations) = spawn_counted(future, &queue);
        assert_eq!(allocations, 1);
        runnable.run();
        queue.run_all();
        let out = block_on(task);
        assert!(sampled_eq(&out, 7));
    });
}

#[test]
fn data_slot_larger_than_64_kib() {
    let _g = check_leaks();
    common::on_big_stack(|| {
        let queue = Queue::new();
        let schedule = queue.schedule();
        let ((runnable, task), allocations) = count_allocations(move || {
            rawtask::spawn_with(holding::<70_000>(1), schedule, [9u8; 80_000])
        });
        assert_eq!(allocations, 1);
        assert!(sampled_eq(runnable.data(), 9));
        let expected: *const [u8; 80_000] = runnable.data();
        task.detach();
        let raw = runnable.into_raw();
        // SAFETY: the slot sits at `data_offset` from the task pointer.
        let slot = unsafe { raw.cast::<u8>().add(rawtask::data_offset::<[u8; 80_000]>()) };
        assert_eq!(slot.as_ptr().cast_const().cast(), expected);
        // SAFETY: `raw` came from `Runnable::into_raw` of a `Runnable<[u8; 80_000]>`.
        let runnable = unsafe { Runnable::<[u8; 80_000]>::from_raw(raw) };
        runnable.run();
        queue.run_all();
    });
}

#[test]
fn large_future_dropped_once_on_every_path() {
    let _g = check_leaks();
    common::on_big_stack(|| {
        let queue = Queue::new();
        let drops = Counter::new();
        let make = |drops: &Counter| {
            let probe = DropProbe::new(drops);
            async move {
                let buffer = [1u8; 100_000];
                common::yield_now().await;
                drop(probe);
                buffer[99_999]
            }
        };

        // Completed.
        let (runnable, task) = rawtask::spawn(make(&drops), queue.schedule());
        runnable.run();
        queue.run_all();
        assert_eq!(block_on(task), 1);
        assert_eq!(drops.get(), 1);

        // Runnable dropped before the first run.
        let (runnable, task) = rawtask::spawn(make(&drops), queue.schedule());
        drop(runnable);
        drop(task);
        assert_eq!(drops.get(), 2);

        // Cancelled while pending.
        let (runnable, task) = rawtask::spawn(make(&drops), queue.schedule());
        runnable.run();
        drop(task);
        queue.run_all();
        assert_eq!(drops.get(), 3);
    });
}

#[test]
fn builder_with_large_future_and_metadata() {
    let _g = check_leaks();
    common::on_big_stack(|| {
        let queue = Queue::new();
        let schedule = queue.schedule();
        let ((runnable, task), allocations) = count_allocations(move || {
            Builder::new().metadata(5u64).propagate_panic(true).spawn(
                |m: &u64| {
                    let m = *m as usize;
                    let inner = holding::<65_537>(1);
                    async move { inner.await + m }
                },
                schedule,
            )
        });
        assert_eq!(allocations, 1);
        runnable.run();
        queue.run_all();
        assert_eq!(block_on(task), 3 + 5);
    });
}

#[test]
fn many_tasks_one_allocation_each() {
    let _g = check_leaks();
    let queue = Queue::new();
    let count = if cfg!(miri) { 5 } else { 200 };
    let schedule = queue.schedule();
    let (tasks, allocations) = count_allocations(|| {
        (0..count)
            .map(|i| rawtask::spawn(async move { i }, schedule.clone()))
            .collect::<Vec<_>>()
    });
    // One per task, plus the vector's buffer.
    assert_eq!(allocations, count + 1);
    drop(schedule);
    for (i, (runnable, task)) in tasks.into_iter().enumerate() {
        runnable.run();
        assert_eq!(block_on(task), i);
    }
}
