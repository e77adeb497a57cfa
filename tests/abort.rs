//! `Task::abort`, `AbortHandle` and `Runnable::is_cancelled`: cancelling without giving up the
//! handle, from any thread, and what an executor sees.

mod common;

use common::{
    block_on, check_leaks, counting_waker, poll_with, spawn_tracked, wait_until, Counter,
    DropProbe, Probe, Queue,
};

#[test]
fn abort_idle_task_schedules_it_and_await_reports_cancellation() {
    let _g = check_leaks();
    let queue = Queue::new();
    let probe = Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(1u8), queue.schedule());
    runnable.run();
    assert_eq!(queue.len(), 0);
    assert!(task.abort());
    // The idle task is scheduled one last time; the future is still alive until it runs.
    assert_eq!(queue.len(), 1);
    assert_eq!(probe.drops(), 0);
    let mut task = task.fallible();
    let (waker, wakes) = counting_waker();
    assert!(
        poll_with(&mut task, &waker).is_pending(),
        "rule 4: not before the drop"
    );
    let runnable = queue.pop().unwrap();
    assert!(runnable.is_cancelled());
    runnable.run();
    assert_eq!(probe.drops(), 1);
    assert_eq!(probe.polls(), 1, "a cancelled task is not polled again");
    assert!(wakes.get() >= 1);
    assert_eq!(block_on(task), None);
}

#[test]
fn abort_returns_false_on_a_completed_task_and_keeps_the_output() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async { 5u32 }, |_| {});
    runnable.run();
    assert!(!task.abort());
    assert!(!task.abort_handle().abort());
    assert_eq!(block_on(task.join()).unwrap(), 5);
}

#[test]
fn abort_twice_returns_true_once() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    let handle = task.abort_handle();
    assert!(task.abort());
    assert!(!task.abort());
    assert!(!handle.abort());
    assert_eq!(queue.len(), 0, "a scheduled task is not scheduled again");
    runnable.run();
    assert!(handle.is_finished());
    assert!(block_on(task.join()).unwrap_err().is_cancelled());
}

#[test]
fn awaiting_an_aborted_task_panics() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    task.abort();
    drop(runnable);
    let panic = common::expect_panic(|| block_on(task));
    assert!(common::panic_message(&*panic).contains("cancelled"));
}

#[test]
fn abort_while_running_drops_the_future_after_the_poll() {
    let _g = check_leaks();
    let queue = Queue::new();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(None::<rawtask::AbortHandle>));
    let inner = slot.clone();
    let drops = Counter::new();
    let guard = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(
        async move {
            let _guard = guard;
            // Aborts its own task mid-poll: the poll finishes, then the future is dropped.
            assert!(inner.lock().unwrap().as_ref().unwrap().abort());
            std::future::pending::<()>().await
        },
        queue.schedule(),
    );
    *slot.lock().unwrap() = Some(task.abort_handle());
    assert!(!runnable.run());
    assert_eq!(drops.get(), 1);
    assert_eq!(queue.len(), 0);
    assert!(block_on(task.join()).unwrap_err().is_cancelled());
    drop(slot.lock().unwrap().take());
}

#[test]
fn abort_handle_from_another_thread() {
    let _g = check_leaks();
    let queue = Queue::new();
    let probe = Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    let handle = task.abort_handle();
    let clone = handle.clone();
    let t = spawn_tracked(move || clone.abort());
    assert!(t.join().unwrap());
    assert!(!handle.is_finished(), "the future is not dropped yet");
    queue.recv().run();
    assert!(handle.is_finished());
    assert_eq!(probe.drops(), 1);
    assert!(block_on(task.join()).unwrap_err().is_cancelled());
    drop(handle);
}

#[test]
fn abort_handle_does_not_keep_a_detached_output_alive() {
    let _g = check_leaks();
    let drops = Counter::new();
    let probe = Probe::new();
    let out = DropProbe::new(&drops);
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(
        {
            let f = probe.future(());
            async move {
                f.await;
                out
            }
        },
        queue.schedule(),
    );
    let handle = task.abort_handle();
    task.detach();
    runnable.run();
    probe.complete();
    probe.take_waker().unwrap().wake();
    queue.recv().run();
    assert_eq!(
        drops.get(),
        1,
        "dropped at completion, not when the handle goes"
    );
    assert!(handle.is_finished());
    assert!(!handle.abort());
    drop(handle);
    assert_eq!(drops.get(), 1);
}

#[test]
fn abort_handle_does_not_keep_a_dropped_tasks_output_alive() {
    let _g = check_leaks();
    let drops = Counter::new();
    let out = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(async move { out }, |_| {});
    let handle = task.abort_handle();
    runnable.run();
    drop(task); // takes and drops the stored output
    assert_eq!(drops.get(), 1);
    assert!(handle.is_finished());
    drop(handle);
}

#[test]
fn last_abort_handle_reschedules_an_unreachable_task_to_drop_its_future() {
    let _g = check_leaks();
    let queue = Queue::new();
    let probe = Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    let handle = task.abort_handle();
    task.detach();
    runnable.run();
    // The future drops its own waker: only the handle is left.
    drop(probe.take_waker());
    assert_eq!(queue.len(), 0);
    assert_eq!(probe.drops(), 0);
    drop(handle); // rule 7: scheduled once more, so the executor drops the future
    let r = queue.pop().expect("rescheduled for drop");
    assert!(r.is_cancelled());
    r.run();
    assert_eq!(probe.drops(), 1);
}

#[test]
fn abort_handle_after_runnable_and_task_are_gone_frees_the_task() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async { 3 }, |_| {});
    let handle = task.abort_handle();
    runnable.run();
    assert_eq!(block_on(task), 3);
    assert!(handle.is_finished());
    assert!(!handle.abort());
    drop(handle);
}

#[test]
fn abort_handle_keeps_runnable_and_task_from_being_alone() {
    // Rule 12: with an `AbortHandle` alive, neither a detached task's `Runnable` nor the `Task`
    // may take the alone fast paths; the leak checker and the counters prove the drops.
    let _g = check_leaks();
    let drops = Counter::new();
    let out = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(async move { out }, |_| {});
    let handle = task.abort_handle();
    task.detach();
    runnable.run();
    assert_eq!(drops.get(), 1);
    assert!(handle.is_finished());
    drop(handle);

    let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    let handle = task.abort_handle();
    drop(runnable); // cancelled
    drop(task);
    assert!(!handle.abort());
    drop(handle);
}

#[test]
fn abort_handle_is_send_sync_for_local_tasks() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<rawtask::AbortHandle>();
    let _g = check_leaks();
    let queue = Queue::new();
    let rc = std::rc::Rc::new(());
    let probe = Probe::new();
    let f = probe.future(());
    let (runnable, task) = rawtask::spawn_local(
        async move {
            let _rc = rc;
            f.await
        },
        queue.schedule(),
    );
    runnable.run();
    let handle = task.abort_handle();
    assert!(spawn_tracked(move || handle.abort()).join().unwrap());
    queue.recv().run(); // dropped on the home thread
    assert_eq!(probe.drops(), 1);
    assert!(block_on(task.join()).unwrap_err().is_cancelled());
}

#[test]
fn executor_drops_cancelled_runnables_without_running_them() {
    let _g = check_leaks();
    let queue = Queue::new();
    let probe = Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    assert!(!runnable.is_cancelled());
    runnable.schedule();
    let handle = task.abort_handle();
    assert!(handle.abort());
    let r = queue.pop().unwrap();
    assert!(r.is_cancelled());
    drop(r);
    assert_eq!(probe.polls(), 0);
    assert_eq!(probe.drops(), 1);
    assert!(handle.is_finished());
    assert!(block_on(task.join()).unwrap_err().is_cancelled());
}

#[test]
fn is_cancelled_after_task_drop_and_after_a_panic() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async {}, |_| {});
    drop(task);
    assert!(runnable.is_cancelled());
    drop(runnable);

    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    let pending = task.cancel();
    let mut pending = Box::pin(pending);
    assert!(common::poll_once(&mut pending).is_pending());
    assert!(runnable.is_cancelled());
    runnable.run();
    assert_eq!(block_on(pending), None);
}

#[test]
fn abort_races_run_on_many_threads() {
    let _g = check_leaks();
    for _ in 0..200 {
        let queue = Queue::new();
        let probe = Probe::new();
        let (runnable, task) = rawtask::spawn(probe.future(7u8), queue.schedule());
        runnable.run();
        let handle = task.abort_handle();
        let waker = probe.waker();
        let aborter = spawn_tracked(move || handle.abort());
        let q = queue.clone();
        let runner = spawn_tracked(move || {
            probe.complete();
            waker.wake();
            while let Some(r) = q.pop() {
                r.run();
            }
            probe
        });
        let aborted = aborter.join().unwrap();
        let probe = runner.join().unwrap();
        wait_until("queue drained", || {
            while let Some(r) = queue.pop() {
                r.run();
            }
            queue.is_empty()
        });
        let result = block_on(task.join());
        match result {
            Ok(v) => {
                assert_eq!(v, 7);
                assert!(!aborted, "abort cannot both cancel and lose to completion");
            }
            Err(e) => {
                assert!(e.is_cancelled());
                assert!(aborted);
            }
        }
        assert_eq!(probe.drops(), 1);
    }
}
