//! `WithInfo` schedule functions and the `ScheduleInfo` they receive.

mod common;

use std::sync::{Arc, Mutex};

use common::{block_on, check_leaks, Probe, Queue};
use rawtask::{Builder, Runnable, ScheduleInfo, WithInfo};

#[test]
fn explicit_schedule_is_not_woken_while_running() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, WithInfo(queue.schedule_with_info()));
    runnable.schedule();
    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(!info.woken_while_running);
    runnable.run();
    block_on(task);
}

#[test]
fn wake_of_an_idle_task_is_not_woken_while_running() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), WithInfo(queue.schedule_with_info()));
    runnable.run();
    probe.waker().wake();
    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(!info.woken_while_running);
    probe.complete();
    runnable.run();
    block_on(task);
}

#[test]
fn wake_during_poll_is_woken_while_running() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) =
        rawtask::spawn(common::yield_now(), WithInfo(queue.schedule_with_info()));
    assert!(runnable.run());
    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(info.woken_while_running);
    assert!(!runnable.run());
    block_on(task);
}

#[test]
fn cancel_of_an_idle_task_is_not_woken_while_running() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), WithInfo(queue.schedule_with_info()));
    runnable.run();
    drop(task);
    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(!info.woken_while_running);
    runnable.run();
    assert_eq!(probe.drops(), 1);
}

#[test]
fn final_schedule_after_the_last_waker_is_not_woken_while_running() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), WithInfo(queue.schedule_with_info()));
    task.detach();
    runnable.run();
    drop(probe.take_waker());
    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(!info.woken_while_running);
    runnable.run();
    assert_eq!(probe.drops(), 1);
}

#[test]
fn lifo_slot_executor() {
    // The use case from async-task's documentation: tasks woken while running go to the
    // back of the queue, other wakes to a LIFO slot.
    let _g = check_leaks();
    let (tx, rx) = flume::unbounded::<Runnable>();
    let slot: Arc<Mutex<Option<Runnable>>> = Arc::new(Mutex::new(None));
    let s = slot.clone();
    let schedule = move |runnable: Runnable, info: ScheduleInfo| {
        if info.woken_while_running {
            tx.send(runnable).unwrap();
        } else if let Some(previous) = s.lock().unwrap().replace(runnable) {
            tx.send(previous).unwrap();
        }
    };
    let (runnable, task) = rawtask::spawn(
        async {
            for _ in 0..3 {
                common::yield_now().await;
            }
            "done"
        },
        WithInfo(schedule),
    );
    runnable.schedule();
    let first = slot
        .lock()
        .unwrap()
        .take()
        .expect("not woken while running: LIFO slot");
    assert!(first.run());
    let mut runs = 1;
    while let Ok(r) = rx.try_recv() {
        r.run();
        runs += 1;
    }
    assert_eq!(runs, 4);
    assert!(slot.lock().unwrap().is_none());
    assert_eq!(block_on(task), "done");
}

#[test]
fn schedule_info_is_copy_and_debug() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) =
        rawtask::spawn(common::yield_now(), WithInfo(queue.schedule_with_info()));
    runnable.run();
    let (runnable, info) = queue.pop_with_info().unwrap();
    let copy = info;
    let clone = Clone::clone(&info);
    assert_eq!(copy.woken_while_running, clone.woken_while_running);
    assert!(format!("{info:?}").contains("woken_while_running"));
    runnable.run();
    block_on(task);
}

#[test]
fn with_info_and_metadata() {
    let _g = check_leaks();
    let seen: Arc<Mutex<Vec<(u32, bool)>>> = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let queue = Queue::new();
    let q = queue.schedule();
    let (runnable, task) = Builder::new().metadata(7u32).spawn(
        |_| common::yield_now(),
        WithInfo(move |r: Runnable<u32>, info: ScheduleInfo| {
            s.lock()
                .unwrap()
                .push((*r.metadata(), info.woken_while_running));
            q(r);
        }),
    );
    runnable.schedule();
    queue.run_all();
    assert_eq!(*seen.lock().unwrap(), [(7, false), (7, true)]);
    block_on(task);
}

#[test]
fn with_info_with_spawn_with() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn_with(
        common::yield_now(),
        WithInfo(queue.schedule_with_info()),
        'd',
    );
    assert!(runnable.run());
    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(info.woken_while_running);
    assert_eq!(*runnable.data(), 'd');
    runnable.run();
    block_on(task);
}
