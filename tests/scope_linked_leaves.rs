//! `rawtask::scope` on an executor that implements only `spawn_scoped`: its leaves with
//! signals use the shared `Link` rather than the raw task's own slot (the path of
//! `futures::task::Spawn` executors), and are cancelled and report done all the same.

mod common;

use std::future::{pending, Future};

use common::scope::Log;
use common::{check_leaks, Queue};
use rawtask::scope::{ForgettableSignalSender, ScopeExecutor, ScopedSpawn, ScopedSpawner};

/// An executor that implements only `spawn_scoped`, so its leaves with signals use the shared
/// `Link` rather than the raw task's own slot (the path of `futures::task::Spawn` executors).
#[derive(Clone)]
struct PlainExecutor(Queue);

impl ScopeExecutor for PlainExecutor {
    fn spawn_scoped<F>(&self, future: F) -> Result<(), rawtask::scope::SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (runnable, task) = rawtask::spawn(future, self.0.schedule());
        task.detach();
        runnable.schedule();
        Ok(())
    }
}

#[test]
fn linked_leaves_are_cancelled_and_report_done() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let spawner = ScopedSpawner::new(PlainExecutor(queue.clone()));
    let pending_one = spawner
        .spawn_future_with_signal(
            {
                let guard = log.on_drop("pending future dropped");
                async move {
                    let _guard = guard;
                    pending::<()>().await
                }
            },
            log.done("pending done"),
        )
        .unwrap();
    let quick = spawner
        .spawn_future_with_signal(async {}, log.done("quick done"))
        .unwrap();
    queue.run_all();
    assert!(quick.done_receiver.is_done());
    assert!(!pending_one.done_receiver.is_done());
    drop(pending_one.cancel_sender);
    queue.run_all();
    assert_eq!(
        log.events(),
        ["quick done", "pending future dropped", "pending done"]
    );
    common::block_on(pending_one.done_receiver);
    quick.cancel_sender.forget();
}

#[test]
fn linked_leaves_dropped_by_the_executor_report_done() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = ScopedSpawner::new(PlainExecutor(queue.clone()))
        .spawn_future_with_signal(pending(), log.done("done"))
        .unwrap();
    while let Some(runnable) = queue.pop() {
        drop(runnable);
    }
    assert_eq!(log.events(), ["done"]);
    assert!(signals.done_receiver.is_done());
}
