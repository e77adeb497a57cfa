//! `rawtask::scope::RemoteScope`: scoped tasks wrapped by hand run on any executor (here
//! `block_on` on two threads) and keep the termination order.

mod common;

use std::future::pending;

use common::check_leaks;
use common::scope::Log;
use rawtask::scope::{ForgettableSignalSender, RawScopedSpawn, RemoteScope};

#[test]
fn remote_scope_runs_on_any_executor() {
    let _g = check_leaks();
    let log = Log::default();
    let root = RemoteScope::new().spawner();
    let (parent, child) = root.spawn_raw_with_signal();
    let mut scope = RemoteScope::new();
    let grandchildren = scope.spawner();
    let grandchild = grandchildren.spawn_raw();
    let grandchild_task =
        RemoteScope::new().wrap(grandchild, pending(), log.done("grandchild done"));
    let task = scope.wrap(
        child,
        {
            let log = log.clone();
            async move { log.push("child ran") }
        },
        log.done("child done"),
    );
    // The child waits for the grandchild, which this "executor" runs on a thread.
    let thread = std::thread::spawn(move || common::block_on(grandchild_task));
    common::block_on(task);
    thread.join().unwrap();
    common::block_on(parent.done_receiver);
    assert_eq!(log.events(), ["child ran", "grandchild done", "child done"]);
    parent.cancel_sender.forget();
}
