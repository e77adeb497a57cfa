//! Raw round trips: `Runnable::into_raw`/`from_raw` and `Task::into_raw`/`from_raw`, on one
//! thread and across threads, as an executor written in C would use them.

mod common;

use std::ptr::NonNull;

use common::{block_on, check_leaks, spawn_tracked, Counter, DropProbe, Probe, Queue, SendPtr};
use rawtask::{Runnable, Task};

#[test]
fn runnable_round_trip() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 8u8 }, queue.schedule());
    let raw: NonNull<()> = runnable.into_raw();
    // SAFETY: `raw` came from `Runnable::into_raw` of a `Runnable<()>`.
    let runnable = unsafe { Runnable::<()>::from_raw(raw) };
    runnable.run();
    assert_eq!(block_on(task), 8);
}

#[test]
fn task_round_trip() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { String::from("raw") }, queue.schedule());
    let raw: *mut () = task.into_raw();
    assert!(!raw.is_null());
    runnable.run();
    // SAFETY: `raw` came from `Task::into_raw` of a `Task<String>`.
    let task = unsafe { Task::<String>::from_raw(raw) };
    assert!(task.is_finished());
    assert_eq!(block_on(task), "raw");
}

#[test]
fn both_raw_pointers_are_the_task_pointer() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    let task_ptr = task.into_raw();
    let runnable_ptr = runnable.into_raw();
    assert_eq!(
        runnable_ptr.as_ptr(),
        task_ptr,
        "one allocation, one address"
    );
    // SAFETY: both pointers came from `into_raw` of the matching types.
    unsafe {
        Runnable::<()>::from_raw(runnable_ptr).run();
        block_on(Task::<()>::from_raw(task_ptr));
    }
}

#[test]
fn raw_runnable_dropped_after_round_trip_cancels() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    let raw = runnable.into_raw();
    assert_eq!(probe.drops(), 0, "a raw runnable keeps the task scheduled");
    // SAFETY: `raw` came from `Runnable::into_raw`.
    drop(unsafe { Runnable::<()>::from_raw(raw) });
    assert_eq!(probe.drops(), 1);
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn raw_task_dropped_after_round_trip_cancels() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    let raw = task.into_raw();
    runnable.run();
    // SAFETY: `raw` came from `Task::into_raw` of a `Task<()>`.
    drop(unsafe { Task::<()>::from_raw(raw) });
    assert_eq!(queue.scheduled(), 1);
    queue.pop().unwrap().run();
    assert_eq!(probe.drops(), 1);
}

#[test]
fn raw_task_output_is_dropped_once() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let out = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(async move { out }, queue.schedule());
    let raw = task.into_raw();
    runnable.run();
    assert_eq!(drops.get(), 0);
    // SAFETY: `raw` came from `Task::into_raw` of a `Task<DropProbe>`.
    unsafe { Task::<DropProbe>::from_raw(raw) }.detach();
    assert_eq!(drops.get(), 1);
}

#[test]
fn schedule_function_hands_out_raw_pointers() {
    // A "C executor": the schedule function turns runnables into raw pointers and pushes
    // them to a queue; the executor thread turns them back and runs them.
    let _g = check_leaks();
    let (tx, rx) = flume::unbounded::<SendPtr<()>>();
    let executor = spawn_tracked(move || {
        let mut runs = 0;
        for ptr in rx {
            // SAFETY: every pointer in the channel came from `Runnable::into_raw` of a
            // `Runnable<usize>`.
            let runnable = unsafe { Runnable::<usize>::from_raw(NonNull::new(ptr.0).unwrap()) };
            runnable.run();
            runs += 1;
        }
        runs
    });
    let schedule = move |r: Runnable<usize>| tx.send(SendPtr(r.into_raw().as_ptr())).unwrap();
    let count = if cfg!(miri) { 5 } else { 100 };
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (runnable, task) = rawtask::spawn_with(
                async move {
                    common::yield_now().await;
                    i + 1
                },
                schedule.clone(),
                i,
            );
            runnable.schedule();
            task
        })
        .collect();
    drop(schedule);
    let sum: usize = tasks.into_iter().map(block_on).sum();
    assert_eq!(sum, (1..=count).sum());
    assert_eq!(executor.join().unwrap(), 2 * count);
}

#[test]
fn raw_pointers_cross_threads() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 21u32 * 2 }, queue.schedule());
    let runnable_ptr = SendPtr(runnable.into_raw().as_ptr());
    let task_ptr = SendPtr(task.into_raw());

    let runner = spawn_tracked(move || {
        let ptr = runnable_ptr;
        // SAFETY: the pointer came from `Runnable::into_raw`; the task is Send.
        unsafe { Runnable::<()>::from_raw(NonNull::new(ptr.0).unwrap()) }.run()
    });
    let joiner = spawn_tracked(move || {
        let ptr = task_ptr;
        // SAFETY: the pointer came from `Task::into_raw` of a `Task<u32>`.
        block_on(unsafe { Task::<u32>::from_raw(ptr.0) })
    });
    assert!(!runner.join().unwrap());
    assert_eq!(joiner.join().unwrap(), 42);
}

#[test]
fn waker_of_a_round_tripped_runnable() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(5u8), queue.schedule());
    // SAFETY: round trip of a `Runnable<()>`.
    let runnable = unsafe { Runnable::<()>::from_raw(runnable.into_raw()) };
    let waker = runnable.waker();
    runnable.run();
    probe.complete();
    waker.wake();
    // SAFETY: round trip of a `Runnable<()>`.
    let runnable = unsafe { Runnable::<()>::from_raw(queue.pop().unwrap().into_raw()) };
    runnable.run();
    assert_eq!(block_on(task), 5);
}

#[test]
fn metadata_through_round_trips() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn_with(async {}, queue.schedule(), String::from("meta"));
    // SAFETY: round trips with the same type parameters.
    let (runnable, task) = unsafe {
        (
            Runnable::<String>::from_raw(runnable.into_raw()),
            Task::<(), String>::from_raw(task.into_raw()),
        )
    };
    assert_eq!(runnable.data(), "meta");
    assert_eq!(task.metadata(), "meta");
    runnable.run();
    block_on(task);
}
