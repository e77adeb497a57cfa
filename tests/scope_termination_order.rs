//! `rawtask::scope`: a task terminates in order — its future is dropped, its children are
//! cancelled and finish, its done function runs, then its parent hears it is done — whether
//! it completes or is cancelled, at any depth, and with tasks run on many threads.

mod common;

use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use common::scope::{spawn_family, spawner, Log, ORDER};
use common::{check_leaks, Queue};
use rawtask::scope::{ForgettableSignalSender, ScopeExecutor, ScopedSpawn, ScopedSpawner};

#[test]
fn cancel_terminates_in_order() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawn_family(&spawner(&queue), &log, false);
    queue.run_all();
    assert!(log.events().is_empty());
    assert!(!signals.done_receiver.is_done());

    drop(signals.cancel_sender);
    // Step 1 has happened (the token is cancelled); nothing else has run yet.
    assert!(log.events().is_empty());
    assert!(!signals.done_receiver.is_done());
    queue.run_all();
    assert_eq!(log.events(), ORDER);
    assert!(signals.done_receiver.is_done());
    common::block_on(signals.done_receiver);
}

#[test]
fn completion_terminates_in_order() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawn_family(&spawner(&queue), &log, true);
    queue.run_all();
    assert_eq!(log.events(), ORDER);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn the_done_signal_comes_after_the_done_function() {
    let _g = check_leaks();
    let queue = Queue::new();
    let receiver = Arc::new(Mutex::new(None::<rawtask::scope::DoneReceiver>));
    let seen = Arc::new(Mutex::new(None));
    let signals = spawner(&queue)
        .spawn_future_with_signal(async {}, {
            let (receiver, seen) = (receiver.clone(), seen.clone());
            move || {
                let done = receiver.lock().unwrap().as_ref().unwrap().is_done();
                *seen.lock().unwrap() = Some(done);
            }
        })
        .unwrap();
    signals.cancel_sender.forget();
    *receiver.lock().unwrap() = Some(signals.done_receiver);
    queue.run_all();
    assert_eq!(*seen.lock().unwrap(), Some(false));
    assert!(receiver.lock().unwrap().as_ref().unwrap().is_done());
}

#[test]
fn deep_trees_terminate_leaves_first() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();

    fn level<E: ScopeExecutor>(
        spawner: ScopedSpawner<E>,
        depth: usize,
        log: Log,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            if depth > 0 {
                let next = log.clone();
                spawner
                    .spawn(
                        move |children| level(children, depth - 1, next),
                        log.done(&format!("done {}", depth - 1)),
                    )
                    .unwrap();
            }
            pending::<()>().await
        })
    }

    let signals = {
        let log2 = log.clone();
        spawner(&queue)
            .spawn_with_signal(
                move |children| level(children, 5, log2),
                log.done("done root"),
            )
            .unwrap()
    };
    queue.run_all();
    drop(signals.cancel_sender);
    queue.run_all();
    assert_eq!(
        log.events(),
        [
            "done 0",
            "done 1",
            "done 2",
            "done 3",
            "done 4",
            "done root"
        ]
    );
}

#[test]
fn tasks_on_many_threads_terminate_in_order() {
    let _g = check_leaks();
    let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let receiver = receiver.clone();
            common::spawn_tracked(move || {
                for runnable in receiver.iter() {
                    runnable.run();
                }
            })
        })
        .collect();
    drop(receiver);
    let spawner = ScopedSpawner::on_schedule(move |runnable| sender.send(runnable).unwrap());

    // Each parent counts the children it spawned and their done functions; at its own done
    // function, all of them must have run. (A parent cancelled before its first poll spawns
    // none.)
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let mut all = Vec::new();
    for _ in 0..common::N / 10 {
        let spawned = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let (s2, f2) = (spawned.clone(), finished.clone());
        let signals = spawner
            .spawn_with_signal(
                move |children| async move {
                    for _ in 0..4 {
                        let finished = finished.clone();
                        children
                            .spawn_future(pending(), move || {
                                finished.fetch_add(1, SeqCst);
                            })
                            .unwrap();
                        spawned.fetch_add(1, SeqCst);
                    }
                    pending::<()>().await
                },
                move || assert_eq!(f2.load(SeqCst), s2.load(SeqCst)),
            )
            .unwrap();
        all.push(signals);
    }
    for signals in all {
        drop(signals.cancel_sender);
        common::block_on(signals.done_receiver);
    }
    drop(spawner);
    for worker in workers {
        worker.join().unwrap();
    }
}
