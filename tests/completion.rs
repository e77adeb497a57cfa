//! Completion callbacks: `Task::on_finish` and the C API's `rawtask_task_on_complete`. Every
//! callback runs exactly once — registered before or after the finish, on the finishing thread
//! or the registering one, with the handle polled, freed or detached meanwhile — and nothing
//! leaks.

mod common;

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::thread;

use common::{check_leaks, spawn_tracked, wait_until, Counter, Probe, Queue, N};
use rawtask::capi::*;

/// The per-task record a C completion callback gets as its context.
struct Record {
    calls: AtomicUsize,
    /// What polling the handle inside the callback said (as i32), and the output.
    status: AtomicUsize,
    output: AtomicUsize,
}

impl Record {
    fn new() -> Arc<Record> {
        Arc::new(Record {
            calls: AtomicUsize::new(0),
            status: AtomicUsize::new(usize::MAX),
            output: AtomicUsize::new(0),
        })
    }
}

/// Counts the call and polls the handle, as a foreign loop resolving its future would; then
/// releases the context (the callback owns one `Arc` of it).
unsafe extern "C" fn poll_in_callback(context: *mut c_void, task: RawtaskTask) {
    // SAFETY: the context is an `Arc<Record>` turned into a raw pointer at registration; the
    // callback runs once, so it takes that reference back exactly once.
    let record = unsafe { Arc::from_raw(context.cast::<Record>()) };
    record.calls.fetch_add(1, SeqCst);
    let mut out = 0usize;
    // SAFETY: `out` is a writable usize, the task's output type.
    let status = unsafe { rawtask_task_poll(task, (&raw mut out).cast(), size_of::<usize>()) };
    record.status.store(status as i32 as usize, SeqCst);
    record.output.store(out, SeqCst);
    // A stale handle left a message in this (executor) thread's last error.
    clear_last_error();
}

/// Counts only (the context is a static `AtomicUsize`).
unsafe extern "C" fn count(context: *mut c_void, _task: RawtaskTask) {
    // SAFETY: the context is an `AtomicUsize` that outlives every task of the test.
    unsafe { &*context.cast::<AtomicUsize>() }.fetch_add(1, SeqCst);
}

fn register(handle: RawtaskTask, record: &Arc<Record>) -> RawtaskStatus {
    let context = Arc::into_raw(record.clone()).cast_mut().cast();
    // SAFETY: `poll_in_callback` may run on any thread and takes the context back once.
    unsafe { rawtask_task_on_complete(handle, Some(poll_in_callback), context) }
}

/// Grows the process-wide handle table to the most handles a test here keeps at once, before
/// the leak check starts: its memory stays for the process's life and is not a leak.
fn leak_check() -> common::LeakCheck {
    let handles: Vec<_> = (0..2 * N)
        .map(|_| RawtaskTask::new(rawtask::spawn(async { 0usize }, |_| {}).1))
        .collect();
    for handle in handles {
        assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
    }
    check_leaks()
}

fn status(record: &Record) -> i32 {
    record.status.load(SeqCst) as i32
}

#[test]
fn on_finish_runs_once_for_completion_cancel_and_panic() {
    let _leaks = leak_check();
    let calls = Counter::new();
    let queue = Queue::new();

    // Completed.
    let (runnable, task) = rawtask::spawn(async { 1 }, queue.schedule());
    let c = calls.clone();
    let mut task = task.on_finish(move || c.inc());
    runnable.run();
    assert_eq!(calls.get(), 1);
    assert_eq!(task.try_take(), Poll::Ready(Some(1)));
    drop(task);

    // Cancelled through the handle: not before the future is dropped.
    let probe = Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(2), queue.schedule());
    runnable.run();
    let c = calls.clone();
    let mut task = task.on_finish(move || c.inc());
    task.cancel();
    assert_eq!(calls.get(), 1, "called back before the future was dropped");
    assert_eq!(queue.run_all(), 1);
    assert_eq!((calls.get(), probe.drops()), (2, 1));
    assert_eq!(task.try_take(), Poll::Ready(None));
    drop(task);

    // Panicked, without propagation: cancelled.
    let (runnable, task) = rawtask::spawn(async { panic!("boom") }, queue.schedule());
    let c = calls.clone();
    let mut task: rawtask::CallbackTask<()> = task.on_finish(move || c.inc());
    common::quietly(|| assert!(std::panic::catch_unwind(|| runnable.run()).is_err()));
    assert_eq!(calls.get(), 3);
    assert_eq!(task.try_take(), Poll::Ready(None));
    drop(task);

    // Panicked, with propagation: `try_take` re-raises it.
    let (runnable, task) = rawtask::Builder::new()
        .propagate_panic(true)
        .spawn(|()| async { panic!("boom") }, queue.schedule());
    let c = calls.clone();
    let mut task: rawtask::CallbackTask<()> = task.on_finish(move || c.inc());
    runnable.run();
    assert_eq!(calls.get(), 4);
    let payload = common::expect_panic(|| task.try_take());
    assert_eq!(common::panic_message(&*payload), "boom");
    drop(task);

    // Registered after the finish: at once, on this thread.
    let (runnable, task) = rawtask::spawn(async { 5 }, queue.schedule());
    runnable.run();
    let c = calls.clone();
    let mut task = task.on_finish(move || c.inc());
    assert_eq!(calls.get(), 5);
    assert_eq!(task.try_take(), Poll::Ready(Some(5)));
}

#[test]
fn c_callback_polls_the_handle_inside_the_callback() {
    let _leaks = leak_check();
    let (runnable, task) = rawtask::spawn(async { 41usize + 1 }, |_| {});
    let handle = RawtaskTask::new(task);
    let record = Record::new();
    assert_eq!(register(handle, &record), RawtaskStatus::Ok);
    runnable.run();
    assert_eq!(record.calls.load(SeqCst), 1);
    assert_eq!(status(&record), RawtaskStatus::Ready as i32);
    assert_eq!(record.output.load(SeqCst), 42);
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
}

#[test]
fn c_misuse_has_defined_outcomes() {
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let hits = &HITS;
    let _leaks = leak_check();
    let context: *mut c_void = (hits as *const AtomicUsize).cast_mut().cast();
    let (runnable, task) = rawtask::spawn(async { 0usize }, |_| {});
    let handle = RawtaskTask::new(task);
    // SAFETY: `count` is thread-safe and its context lives forever.
    unsafe {
        assert_eq!(
            rawtask_task_on_complete(RawtaskTask::NULL, Some(count), context),
            RawtaskStatus::InvalidArgument
        );
        assert_eq!(
            rawtask_task_on_complete(handle, None, context),
            RawtaskStatus::InvalidArgument
        );
        assert_eq!(
            rawtask_task_on_complete(handle, Some(count), context),
            RawtaskStatus::Ok
        );
        assert_eq!(
            rawtask_task_on_complete(handle, Some(count), context),
            RawtaskStatus::AlreadyRegistered
        );
    }
    runnable.run();
    assert_eq!(hits.load(SeqCst), 1, "the rejected callback must never run");
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            rawtask_task_on_complete(handle, Some(count), context),
            RawtaskStatus::InvalidHandle
        );
    }
    assert_eq!(hits.load(SeqCst), 1);
    // The errors above left a message in this thread's last error.
    clear_last_error();
}

#[test]
fn free_or_detach_with_a_callback_pending_still_calls_back_once() {
    let _leaks = leak_check();
    let queue = Queue::new();

    // Free: cancels; the callback runs when the executor drops the future, with a stale handle.
    let probe = Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(0usize), queue.schedule());
    runnable.run();
    let handle = RawtaskTask::new(task);
    let record = Record::new();
    assert_eq!(register(handle, &record), RawtaskStatus::Ok);
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
    assert_eq!(record.calls.load(SeqCst), 0);
    assert_eq!(queue.run_all(), 1);
    assert_eq!(record.calls.load(SeqCst), 1);
    assert_eq!(status(&record), RawtaskStatus::InvalidHandle as i32);
    assert_eq!(probe.drops(), 1);

    // Detach: the task runs on; the callback runs when it completes.
    let probe = Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(3usize), queue.schedule());
    runnable.run();
    let handle = RawtaskTask::new(task);
    let record = Record::new();
    assert_eq!(register(handle, &record), RawtaskStatus::Ok);
    assert_eq!(rawtask_task_detach(handle), RawtaskStatus::Ok);
    probe.complete();
    probe.take_waker().unwrap().wake();
    assert_eq!(queue.run_all(), 1);
    assert_eq!(record.calls.load(SeqCst), 1);
    assert_eq!(status(&record), RawtaskStatus::InvalidHandle as i32);
    // The errors above left a message in this thread's last error.
    clear_last_error();
}

/// A callback that frees its own handle (a loop that is done with the task).
unsafe extern "C" fn free_in_callback(context: *mut c_void, task: RawtaskTask) {
    // SAFETY: the context is an `AtomicUsize` that outlives the test.
    unsafe { &*context.cast::<AtomicUsize>() }.fetch_add(1, SeqCst);
    assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
}

#[test]
fn the_callback_may_free_its_handle() {
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let hits = &HITS;
    let _leaks = leak_check();
    let context: *mut c_void = (hits as *const AtomicUsize).cast_mut().cast();
    for finished_first in [false, true] {
        let (runnable, task) = rawtask::spawn(async { 1usize }, |_| {});
        let handle = RawtaskTask::new(task);
        let mut runnable = Some(runnable);
        if finished_first {
            runnable.take().unwrap().run();
        }
        // SAFETY: `free_in_callback` is thread-safe and its context lives forever.
        let status = unsafe { rawtask_task_on_complete(handle, Some(free_in_callback), context) };
        assert_eq!(status, RawtaskStatus::Ok);
        if let Some(runnable) = runnable {
            runnable.run();
        }
        assert_eq!(rawtask_task_free(handle), RawtaskStatus::InvalidHandle);
    }
    assert_eq!(hits.load(SeqCst), 2);
    // The errors above left a message in this thread's last error.
    clear_last_error();
}

/// Many tasks, finished on several executor threads while the registering thread registers
/// (and sometimes frees or detaches) their handles: every callback runs exactly once, every
/// output is seen exactly once, nothing leaks.
#[test]
fn stress_completions_on_other_threads() {
    let _leaks = leak_check();
    let tasks = N;
    let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    let executors: Vec<_> = (0..2)
        .map(|_| {
            let receiver = receiver.clone();
            spawn_tracked(move || {
                while let Ok(runnable) = receiver.recv() {
                    runnable.run();
                }
            })
        })
        .collect();
    let mut records = Vec::new();
    let mut kept = Vec::new();
    for i in 0..tasks {
        let sender = sender.clone();
        let (runnable, task) = rawtask::spawn(
            async move {
                // One yield, so that completion often races registration.
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        Poll::Ready(())
                    } else {
                        yielded = true;
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await;
                i
            },
            move |r| sender.send(r).unwrap(),
        );
        let handle = RawtaskTask::new(task);
        runnable.schedule();
        if i % 7 == 0 {
            thread::yield_now();
        }
        let record = Record::new();
        assert_eq!(register(handle, &record), RawtaskStatus::Ok);
        match i % 10 {
            0 => assert_eq!(rawtask_task_detach(handle), RawtaskStatus::Ok),
            1 => assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok),
            _ => kept.push((i, handle, record.clone())),
        }
        records.push(record);
    }
    wait_until("every completion callback ran", || {
        records.iter().all(|r| r.calls.load(SeqCst) >= 1)
    });
    for record in &records {
        assert_eq!(record.calls.load(SeqCst), 1);
    }
    for (i, handle, record) in kept {
        // The callback polled: READY with the output (none of these was cancelled).
        assert_eq!(status(&record), RawtaskStatus::Ready as i32, "task {i}");
        assert_eq!(record.output.load(SeqCst), i);
        assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
    }
    // Every task is gone now, and with it its clone of the sender: the executors end.
    drop(sender);
    for e in executors {
        e.join().unwrap();
    }
}
