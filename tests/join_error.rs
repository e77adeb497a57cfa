//! `Task::join`: completed, cancelled and panicked told apart, while `Task` and `FallibleTask`
//! keep async-task's behaviour.

mod common;

use common::{block_on, check_leaks, expect_panic, poll_once, Counter, DropProbe, Probe, Queue};

#[test]
fn completed() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async { "out" }, |_| {});
    let mut join = task.join();
    assert!(!join.is_finished());
    assert!(poll_once(&mut join).is_pending());
    runnable.run();
    assert!(join.is_finished());
    assert_eq!(block_on(join).unwrap(), "out");
}

#[test]
fn cancelled_by_runnable_drop() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    drop(runnable);
    let err = block_on(task.join()).unwrap_err();
    assert!(err.is_cancelled());
    assert!(!err.is_panic());
    assert_eq!(err.to_string(), "task was cancelled");
    assert_eq!(format!("{err:?}"), "JoinError::Cancelled");
}

#[test]
fn cancelled_by_abort_waits_for_the_future_drop() {
    let _g = check_leaks();
    let queue = Queue::new();
    let probe = Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    let mut join = task.join();
    assert!(join.abort());
    assert!(poll_once(&mut join).is_pending());
    queue.recv().run();
    assert_eq!(probe.drops(), 1);
    assert!(block_on(join).unwrap_err().is_cancelled());
}

#[test]
fn panicked_with_propagation() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::Builder::new()
        .propagate_panic(true)
        .spawn(|()| async { std::panic::panic_any(11u32) }, |_| {});
    runnable.run();
    let err = block_on(task.join()).unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(format!("{err:?}"), "JoinError::Panicked(..)");
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<u32>(), Some(&11));
}

#[test]
fn panic_without_propagation_is_a_cancellation() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async { panic!("not propagated") }, |_| {});
    let _ = common::catch_quietly(|| runnable.run());
    let err = block_on(task.join()).unwrap_err();
    assert!(err.is_cancelled());
    assert!(err.try_into_panic().unwrap_err().is_cancelled());
}

#[test]
fn into_panic_of_a_cancellation_panics() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async {}, |_| {});
    drop(runnable);
    let err = block_on(task.join()).unwrap_err();
    expect_panic(|| err.into_panic());
}

#[test]
fn dropping_a_join_cancels_and_drops_the_output() {
    let _g = check_leaks();
    let drops = Counter::new();
    let out = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(async move { out }, |_| {});
    runnable.run();
    drop(task.join());
    assert_eq!(drops.get(), 1);

    let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    let join = task.join();
    drop(join);
    assert!(runnable.is_cancelled());
    drop(runnable);
}

#[test]
fn detached_join_runs_on() {
    let _g = check_leaks();
    let ran = Counter::new();
    let r2 = ran.clone();
    let (runnable, task) = rawtask::spawn_with(async move { r2.inc() }, |_| {}, 4u8);
    let join = task.join();
    assert_eq!(*join.metadata(), 4);
    join.detach();
    runnable.run();
    assert_eq!(ran.get(), 1);
}

#[test]
fn task_and_fallible_task_behave_as_before() {
    let _g = check_leaks();
    // `Task` re-raises a propagated panic and panics on cancellation; `FallibleTask` gives
    // `None` on cancellation and re-raises a propagated panic.
    let (runnable, task) = rawtask::Builder::new()
        .propagate_panic(true)
        .spawn(|()| async { std::panic::panic_any(3u8) }, |_| {});
    runnable.run();
    let p = expect_panic(|| block_on(task));
    assert_eq!(p.downcast_ref::<u8>(), Some(&3));

    let (runnable, task) = rawtask::Builder::new()
        .propagate_panic(true)
        .spawn(|()| async { std::panic::panic_any(4u8) }, |_| {});
    runnable.run();
    let p = expect_panic(|| block_on(task.fallible()));
    assert_eq!(p.downcast_ref::<u8>(), Some(&4));

    let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    drop(runnable);
    expect_panic(|| block_on(task));
}
