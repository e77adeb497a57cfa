//! `TaskHandle`: poll is take-once, wait, cancel, errors, panics, drop, and the auto traits.
//! Jobs run on executor-less `spawn_on` queues where a test needs to control when they run.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

use rawtask::background::{
    Abandoned, AlreadyTaken, CancellationToken, Cancelled, Error, Panicked, Task, TaskHandle,
};

/// Returns its value, counting runs and drops of its clones.
#[derive(Clone)]
struct Value {
    value: u64,
    runs: Arc<AtomicUsize>,
}

impl Value {
    fn new(value: u64) -> Value {
        Value {
            value,
            runs: Arc::default(),
        }
    }
}

impl Task for Value {
    type Output = u64;
    fn run(&self, _: &CancellationToken) -> Result<u64, Error> {
        self.runs.fetch_add(1, SeqCst);
        Ok(self.value)
    }
}

/// Blocks until cancelled, then fails with `Cancelled`.
#[derive(Clone)]
struct UntilCancelled;

impl Task for UntilCancelled {
    type Output = ();
    fn run(&self, token: &CancellationToken) -> Result<(), Error> {
        token.wait_blocking();
        token.is_done()?;
        Ok(())
    }
}

#[derive(Clone)]
struct Panics;

impl Task for Panics {
    type Output = u8;
    fn run(&self, _: &CancellationToken) -> Result<u8, Error> {
        panic!("job exploded")
    }
}

#[track_caller]
fn poll_until_done<T>(handle: &TaskHandle<T>) -> Result<T, Error> {
    common::wait_for("the job's result", || handle.poll())
}

#[test]
fn poll_is_none_until_the_job_ran_then_takes_the_result_once() {
    let _g = common::check_leaks();
    let queue = common::Queue::new();
    let job = Value::new(9);
    let handle = TaskHandle::spawn_on(job.clone(), queue.schedule());
    assert!(handle.poll().is_none());
    assert!(handle.poll().is_none());
    assert_eq!(queue.run_all(), 1);
    assert_eq!(handle.poll().unwrap().unwrap(), 9);
    for _ in 0..3 {
        let error = handle.poll().unwrap().unwrap_err();
        assert!(error.is::<AlreadyTaken>(), "{error}");
        assert_eq!(
            error.to_string(),
            "the task's result has already been taken"
        );
    }
    assert!(handle.wait().unwrap_err().is::<AlreadyTaken>());
    assert_eq!(job.runs.load(SeqCst), 1);
}

#[test]
fn wait_returns_the_result() {
    let _g = common::check_leaks();
    let queue = common::Queue::new();
    let handle = TaskHandle::spawn_on(Value::new(3), queue.schedule());
    let runner = {
        let queue = queue.clone();
        common::spawn_tracked(move || queue.recv().run())
    };
    assert_eq!(handle.wait().unwrap(), 3);
    runner.join().unwrap();
}

#[test]
fn the_pool_runs_jobs() {
    let jobs = if cfg!(miri) { 4 } else { 100 };
    let handles: Vec<_> = (0..jobs)
        .map(|i| TaskHandle::spawn(Value::new(i)))
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(handle.wait().unwrap(), i as u64);
        } else {
            assert_eq!(poll_until_done(&handle).unwrap(), i as u64);
        }
    }
}

#[test]
fn errors_come_back_as_they_are() {
    #[derive(Clone)]
    struct Fails;
    impl Task for Fails {
        type Output = ();
        fn run(&self, _: &CancellationToken) -> Result<(), Error> {
            Err(std::io::Error::other("disk on fire").into())
        }
    }
    let error = TaskHandle::spawn(Fails).wait().unwrap_err();
    assert_eq!(error.to_string(), "disk on fire");
    assert!(error.is::<std::io::Error>());
}

#[test]
fn a_panic_in_run_becomes_an_error() {
    let handle = TaskHandle::spawn(Panics);
    let error = common::catch_quietly(|| handle.wait())
        .unwrap()
        .unwrap_err();
    let panicked = error.downcast_ref::<Panicked>().expect("a Panicked error");
    assert_eq!(panicked.message(), "job exploded");
    assert_eq!(error.to_string(), "the task panicked: job exploded");
    // The pool thread survived: the next job runs.
    assert_eq!(TaskHandle::spawn(Value::new(1)).wait().unwrap(), 1);
}

#[test]
fn cancel_reaches_the_job() {
    let handle = TaskHandle::spawn(UntilCancelled);
    assert!(!handle.cancelled());
    assert!(handle.poll().is_none());
    handle.cancel();
    assert!(handle.cancelled());
    let error = handle.wait().unwrap_err();
    assert!(error.is::<Cancelled>(), "{error}");
}

#[test]
fn cancel_before_the_job_starts_still_runs_it_with_a_cancelled_token() {
    let _g = common::check_leaks();
    let queue = common::Queue::new();
    let handle = TaskHandle::spawn_on(UntilCancelled, queue.schedule());
    handle.cancel();
    queue.run_all();
    assert!(handle.wait().unwrap_err().is::<Cancelled>());
}

#[test]
fn dropping_the_handle_before_the_job_starts_means_it_never_runs() {
    let _g = common::check_leaks();
    let queue = common::Queue::new();
    let job = Value::new(1);
    let handle = TaskHandle::spawn_on(job.clone(), queue.schedule());
    drop(handle);
    // The executor still runs the `Runnable`, which only drops the job.
    queue.run_all();
    assert_eq!(job.runs.load(SeqCst), 0);
}

#[test]
fn dropping_the_handle_cancels_a_running_job_and_drops_its_output() {
    let _g = common::check_leaks();
    let drops = common::Counter::new();

    #[derive(Clone)]
    struct Slow {
        started: Arc<Barrier>,
        drops: common::Counter,
    }
    impl Task for Slow {
        type Output = common::DropProbe;
        fn run(&self, token: &CancellationToken) -> Result<common::DropProbe, Error> {
            self.started.wait();
            token.wait_blocking();
            Ok(common::DropProbe::new(&self.drops))
        }
    }

    let started = Arc::new(Barrier::new(2));
    let queue = common::Queue::new();
    let job = Slow {
        started: started.clone(),
        drops: drops.clone(),
    };
    let handle = TaskHandle::spawn_on(job, queue.schedule());
    let runner = {
        let queue = queue.clone();
        common::spawn_tracked(move || queue.recv().run())
    };
    started.wait();
    drop(handle);
    runner.join().unwrap();
    assert_eq!(drops.get(), 1);
}

#[test]
fn an_output_never_taken_is_dropped_with_the_handle() {
    let _g = common::check_leaks();
    let drops = common::Counter::new();

    #[derive(Clone)]
    struct Make(common::Counter);
    impl Task for Make {
        type Output = common::DropProbe;
        fn run(&self, _: &CancellationToken) -> Result<common::DropProbe, Error> {
            Ok(common::DropProbe::new(&self.0))
        }
    }

    let queue = common::Queue::new();
    let handle = TaskHandle::spawn_on(Make(drops.clone()), queue.schedule());
    queue.run_all();
    assert_eq!(drops.get(), 0);
    drop(handle);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_dropped_runnable_is_reported_as_abandoned() {
    let _g = common::check_leaks();
    let queue = common::Queue::new();
    let handle = TaskHandle::spawn_on(Value::new(1), queue.schedule());
    drop(queue.pop());
    let error = handle.poll().unwrap().unwrap_err();
    assert!(error.is::<Abandoned>());
    assert!(handle.poll().unwrap().unwrap_err().is::<AlreadyTaken>());
}

#[test]
fn concurrent_polls_hand_the_result_out_once() {
    let _g = common::check_leaks();
    for _ in 0..if cfg!(miri) { 5 } else { 200 } {
        let queue = common::Queue::new();
        let handle = Arc::new(TaskHandle::spawn_on(Value::new(5), queue.schedule()));
        let pollers: Vec<_> = (0..2)
            .map(|_| {
                let handle = handle.clone();
                common::spawn_tracked(move || {
                    match common::wait_for("the job's result", || handle.poll()) {
                        Ok(value) => Some(value),
                        Err(error) => {
                            assert!(error.is::<AlreadyTaken>());
                            None
                        }
                    }
                })
            })
            .collect();
        queue.run_all();
        let results: Vec<_> = pollers.into_iter().map(|p| p.join().unwrap()).collect();
        let values: Vec<_> = results.into_iter().flatten().collect();
        assert_eq!(values, [5]);
    }
}

#[test]
fn zero_sized_outputs() {
    #[derive(Clone)]
    struct Unit;
    impl Task for Unit {
        type Output = ();
        fn run(&self, _: &CancellationToken) -> Result<(), Error> {
            Ok(())
        }
    }
    TaskHandle::spawn(Unit).wait().unwrap();
}

#[test]
fn auto_traits_and_debug() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TaskHandle<u64>>();
    send_sync::<TaskHandle<std::cell::Cell<u8>>>(); // Send-only outputs still give a Sync handle
    let queue = common::Queue::new();
    let handle = TaskHandle::spawn_on(Value::new(1), queue.schedule());
    assert_eq!(
        format!("{handle:?}"),
        "TaskHandle { cancelled: false, taken: false, .. }"
    );
    queue.run_all();
}
