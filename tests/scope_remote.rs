//! `rawtask::scope::RemoteScope`: scoped tasks wrapped by hand run on any executor (here
//! `block_on` on two threads) and keep the termination order.

mod common;

use std::future::{pending, Future};

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

/// A parent whose executor polls it in a loop (spurious polls, a waker that does nothing)
/// and drops it the moment it is ready, while its child terminates on another thread: the
/// parent may see its child gone before the child has visited the lock to wake it. The
/// registry must outlive that visit (miri reports a use after free), and the parent's done
/// function still runs after the child's.
#[test]
fn a_busy_polled_parent_finishes_while_its_last_child_leaves() {
    let _g = check_leaks();
    let rounds = if cfg!(miri) { 30 } else { 200 };
    for _ in 0..rounds {
        let log = Log::default();
        let root = RemoteScope::new().spawner();
        let (parent, child) = root.spawn_raw_with_signal();
        parent.cancel_sender.forget();
        let mut scope = RemoteScope::new();
        let (grandchild_signals, grandchild) = scope.spawner().spawn_raw_with_signal();
        grandchild_signals.cancel_sender.forget();
        drop(grandchild_signals.done_receiver);
        let grandchild_task = RemoteScope::new().wrap(
            grandchild,
            {
                let log = log.clone();
                async move { log.push("grandchild ran") }
            },
            log.done("grandchild done"),
        );
        let task = scope.wrap(child, async {}, log.done("child done"));
        let thread = std::thread::spawn(move || common::block_on(grandchild_task));
        let mut task = Box::pin(task);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        while task.as_mut().poll(&mut cx).is_pending() {
            std::thread::yield_now();
        }
        drop(task);
        thread.join().unwrap();
        common::block_on(parent.done_receiver);
        // The child's close may cancel the grandchild before it runs.
        let events = log.events();
        assert_eq!(
            events[events.len() - 2..],
            ["grandchild done", "child done"]
        );
    }
}
