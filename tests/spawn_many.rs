//! `spawn_many`: batch spawning onto one schedule function.

mod common;

use std::collections::VecDeque;

use common::{check_leaks, Probe, Queue};

#[test]
fn tasks_and_runnables_come_back_in_order() {
    let _g = check_leaks();
    let queue = Queue::new();
    let mut runnables = VecDeque::new();
    let mut tasks = Vec::new();
    rawtask::spawn_many(
        (0..10u32).map(|i| async move { i }),
        &queue.schedule(),
        &mut runnables,
        &mut tasks,
    );
    assert_eq!((runnables.len(), tasks.len()), (10, 10));
    assert_eq!(
        queue.scheduled(),
        0,
        "spawn_many does not call the schedule function"
    );
    for runnable in runnables {
        runnable.run();
    }
    let outputs: Vec<u32> = tasks.into_iter().map(common::block_on).collect();
    assert_eq!(outputs, (0..10).collect::<Vec<_>>());
}

#[test]
fn later_wakes_go_to_the_schedule_function() {
    let _g = check_leaks();
    let queue = Queue::new();
    let probes: Vec<Probe> = (0..3).map(|_| Probe::new()).collect();
    let (mut runnables, mut tasks) = (Vec::new(), Vec::new());
    rawtask::spawn_many(
        probes.iter().map(|probe| probe.future(())),
        &queue.schedule(),
        &mut runnables,
        &mut tasks,
    );
    for runnable in runnables {
        runnable.run();
    }
    for probe in &probes {
        probe.complete();
        probe.take_waker().unwrap().wake();
    }
    assert_eq!(queue.run_all(), 3);
    for task in tasks {
        common::block_on(task);
    }
}

#[test]
fn an_empty_batch_spawns_nothing() {
    let _g = check_leaks();
    let (mut runnables, mut tasks) = (Vec::new(), Vec::<rawtask::Task<()>>::new());
    rawtask::spawn_many(
        std::iter::empty::<std::future::Ready<()>>(),
        &|_| {},
        &mut runnables,
        &mut tasks,
    );
    assert!(runnables.is_empty() && tasks.is_empty());
}
