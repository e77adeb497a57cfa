//! Regression tests for what the fuzz targets (fuzz/, `.ci/fuzz.sh`) found.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// raw_ops: `Task::on_finish` then `CallbackTask::detach` of an idle task that no waker can
/// reach any more. A plain detached task in that state is cancelled (its future dropped by one
/// last run), but the callback's watcher holds a reference of its own, so the detach (and
/// likewise the drop of the last waker after a detach) sees a reference left and does nothing:
/// the future is never dropped, the callback never runs, and the task and the callback leak
/// each other (the task's awaiter slot holds the callback, the callback holds the task).
/// The same happened through C with `rawtask_task_on_complete` + `rawtask_task_detach`.
///
/// Fixed by protocol rule 16: the watcher's reference is marked (WATCHED) and does not count as
/// a way to wake the task.
#[test]
fn a_detached_callback_task_that_nothing_can_wake_is_cancelled() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (s, r) = flume::unbounded();
    let (runnable, task) =
        rawtask::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
    runnable.run(); // idle, and no waker exists
    let counter = calls.clone();
    task.on_finish(move || {
        counter.fetch_add(1, SeqCst);
    })
    .detach();
    // As for a plain detached task: the task is handed to the executor once more to drop its
    // future, and then the callback runs.
    while let Ok(r) = r.try_recv() {
        r.run();
    }
    assert_eq!(calls.load(SeqCst), 1, "the callback never ran");
}

/// The same after a detach while a waker still exists: dropping that last waker must cancel
/// the task (raw rule 7), as it does without a callback.
#[test]
fn a_detached_callback_task_whose_last_waker_is_dropped_is_cancelled() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (s, r) = flume::unbounded();
    let (runnable, task) =
        rawtask::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
    let waker = runnable.waker();
    runnable.run();
    let counter = calls.clone();
    task.on_finish(move || {
        counter.fetch_add(1, SeqCst);
    })
    .detach();
    drop(waker);
    while let Ok(r) = r.try_recv() {
        r.run();
    }
    assert_eq!(calls.load(SeqCst), 1, "the callback never ran");
}

/// Detached before its first run, the task returns `Pending` without keeping a waker: the
/// `Runnable` finds only the watcher left and drops the future then and there (rule 16).
#[test]
fn a_detached_callback_task_pending_without_a_waker_is_cancelled() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (runnable, task) = rawtask::spawn(std::future::pending::<()>(), |_| {});
    let counter = calls.clone();
    task.on_finish(move || {
        counter.fetch_add(1, SeqCst);
    })
    .detach();
    assert!(!runnable.run());
    assert_eq!(calls.load(SeqCst), 1, "the callback never ran");
}

/// The C API's form of the first test: `rawtask_task_on_complete`, then `rawtask_task_detach`.
#[test]
fn a_detached_c_handle_with_a_callback_that_nothing_can_wake_calls_back() {
    use rawtask::capi::*;
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn done(_: *mut std::ffi::c_void, _: RawtaskTask) {
        CALLS.fetch_add(1, SeqCst);
    }
    let (s, r) = flume::unbounded();
    let (runnable, task) =
        rawtask::spawn(std::future::pending::<u8>(), move |r| s.send(r).unwrap());
    runnable.run();
    let handle = RawtaskTask::new(task);
    // SAFETY: `done` is thread-safe and needs no context.
    let status = unsafe { rawtask_task_on_complete(handle, Some(done), std::ptr::null_mut()) };
    assert_eq!(status, RawtaskStatus::Ok);
    assert_eq!(rawtask_task_detach(handle), RawtaskStatus::Ok);
    while let Ok(r) = r.try_recv() {
        r.run();
    }
    assert_eq!(CALLS.load(SeqCst), 1);
}

/// Without a callback both orders cancel the task: the behaviour the two tests above expect.
#[test]
fn a_detached_task_that_nothing_can_wake_is_cancelled() {
    for keep_waker in [false, true] {
        let (s, r) = flume::unbounded();
        let (runnable, task) =
            rawtask::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
        let waker = keep_waker.then(|| runnable.waker());
        runnable.run();
        task.detach();
        drop(waker);
        let mut runs = 0;
        while let Ok(r) = r.try_recv() {
            r.run();
            runs += 1;
        }
        assert_eq!(runs, 1, "the future was not handed back to be dropped");
    }
}
