//! `rawtask::scope` over executors other than rawtask's own (whose tests are the root's
//! `tests/scope_*.rs`): Tokio's runtimes and `futures::task::Spawn` executors, the foreign side
//! as in the rest of this crate.
//!
//! The first test is the scoped_spawn seed's Tokio example, with only the crate path changed
//! (and tokio 0.2's `delay_for` spelled `sleep`, its tokio 1 name, with shorter delays).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test]
async fn the_seed_example_cancels_the_sleeping_task() {
    use rawtask::scope::{ScopedSpawn, ScopedSpawner};

    let still_alive = Arc::new(AtomicBool::new(false));
    let seen = still_alive.clone();

    let spawn = TokioDefaultSpawner::new();
    let spawn = ScopedSpawner::new(spawn);
    let signal = spawn
        .spawn_with_signal(
            |spawn| async move {
                // Here `spawn` is the child's spawner. Do not give it to anyone else!
                // And do not try to use the parent's spawner because it would break structured
                // concurrency.

                // We could spawn nested children here, but for the demo we don't.
                drop(spawn);

                eprintln!("I'm alive!");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                eprintln!("I'm still alive!"); // Nope.
                seen.store(true, Ordering::SeqCst);
            },
            || (),
        )
        .unwrap();

    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    drop(signal.cancel_sender); // Cancel the task by dropping.
    signal.done_receiver.await; // Do this if you want to wait.
                                // When the await returns, the future of the spawned task is
                                // guaranteed dropped.
    eprintln!("Task terminated.");
    assert!(!still_alive.load(Ordering::SeqCst));
}

// Just some chores to turn the Tokio spawner into a `Spawn`.
#[derive(Clone)]
struct TokioDefaultSpawner {}

impl TokioDefaultSpawner {
    fn new() -> Self {
        Self {}
    }
}

impl futures::task::Spawn for TokioDefaultSpawner {
    fn spawn_obj(
        &self,
        future: futures::future::FutureObj<'static, ()>,
    ) -> Result<(), futures::task::SpawnError> {
        tokio::spawn(future);
        Ok(())
    }

    fn status(&self) -> Result<(), futures::task::SpawnError> {
        Ok(())
    }
}

/// A tree on tokio's multi-threaded runtime terminates leaves first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_on_tokio_terminates_leaves_first() {
    use rawtask::scope::{ScopedSpawn, ScopedSpawner};
    use std::sync::Mutex;

    let log = Arc::new(Mutex::new(Vec::new()));
    let spawner = ScopedSpawner::new(TokioDefaultSpawner::new());
    let signals = {
        let (l1, l2) = (log.clone(), log.clone());
        spawner
            .spawn_with_signal(
                move |children| async move {
                    for i in 0..3 {
                        let log = l1.clone();
                        children
                            .spawn_future(std::future::pending(), move || {
                                log.lock().unwrap().push(format!("child {i}"))
                            })
                            .unwrap();
                    }
                    std::future::pending::<()>().await
                },
                move || l2.lock().unwrap().push("parent".to_owned()),
            )
            .unwrap()
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    drop(signals.cancel_sender);
    signals.done_receiver.await;
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(log[3], "parent");
}

/// A shut-down executor refuses the spawn: the error says so, and the task (dropped unpolled)
/// still runs its done function and sends its done signal.
#[test]
fn a_refused_spawn_terminates_the_task_at_once() {
    use rawtask::scope::{ScopedSpawn, ScopedSpawner};

    #[derive(Clone)]
    struct ShutDown;
    impl futures::task::Spawn for ShutDown {
        fn spawn_obj(
            &self,
            _: futures::future::FutureObj<'static, ()>,
        ) -> Result<(), futures::task::SpawnError> {
            Err(futures::task::SpawnError::shutdown())
        }
    }

    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let error = ScopedSpawner::new(ShutDown)
        .spawn_future(std::future::pending(), move || {
            flag.store(true, Ordering::SeqCst)
        })
        .unwrap_err();
    assert!(error.is_shutdown());
    assert!(done.load(Ordering::SeqCst));
    let _: futures::task::SpawnError = error.into();
}

/// `futures::executor::ThreadPool` is a `Spawn` executor too.
#[test]
fn futures_thread_pool() {
    use rawtask::scope::{ScopedSpawn, ScopedSpawner};

    let pool = futures::executor::ThreadPool::builder()
        .pool_size(2)
        .create()
        .unwrap();
    let spawner = ScopedSpawner::new(pool);
    let signals = spawner
        .spawn_with_signal(
            |children| async move {
                children.spawn_future(async {}, || {}).unwrap();
            },
            || {},
        )
        .unwrap();
    futures::executor::block_on(signals.done_receiver);
    let signals = spawner.spawn_future_with_signal(async {}, || {}).unwrap();
    futures::executor::block_on(signals.done_receiver);
}
