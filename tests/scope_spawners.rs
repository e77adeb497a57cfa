//! `rawtask::scope`: a spawner that escaped its scope is refused once the scope ended, and
//! signals and spawners print something useful with `Debug`.

mod common;

use std::future::pending;
use std::sync::{Arc, Mutex};

use common::scope::spawner;
use common::{check_leaks, panic_message, Queue};
use rawtask::scope::{RawScopedSpawn, ScopedSpawn};

#[test]
fn a_spawner_used_after_its_scope_ended_is_refused() {
    let _g = check_leaks();
    let queue = Queue::new();
    let escaped = Arc::new(Mutex::new(None));
    {
        let escaped = escaped.clone();
        spawner(&queue)
            .spawn(
                move |children| {
                    *escaped.lock().unwrap() = Some(children);
                    async {}
                },
                || {},
            )
            .unwrap();
    }
    queue.run_all();
    let children = escaped.lock().unwrap().take().unwrap();
    let error = children.spawn_future(async {}, || {}).unwrap_err();
    assert!(error.is_scope_closed());
    assert!(!error.is_shutdown());
    assert!(children.as_raw().try_spawn_raw().is_err());
    let payload = common::expect_panic(|| children.as_raw().spawn_raw());
    assert!(panic_message(&*payload).contains("scope that is terminating"));
    assert!(queue.is_empty());
}

#[test]
fn signals_and_spawners_have_debug() {
    let _g = check_leaks();
    let queue = Queue::new();
    let spawner = spawner(&queue);
    let signals = spawner.spawn_future_with_signal(pending(), || {}).unwrap();
    assert!(format!("{:?}", signals.done_receiver).contains("done: false"));
    assert!(format!("{:?}", signals.cancel_sender).contains("CancelSender"));
    assert!(format!("{:?}", spawner.as_raw()).contains("RemoteSpawner"));
    drop(signals);
    queue.run_all();
}
