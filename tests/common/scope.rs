//! Helpers for the `rawtask::scope` tests (`tests/scope_*.rs`): an ordered log of what
//! happened, a spawner onto a [`Queue`], and a parent with one never-ending child whose
//! termination is logged step by step.

use std::future::pending;
use std::sync::{Arc, Mutex};

use rawtask::scope::{OnSchedule, RemoteParentSignals, ScopeExecutor, ScopedSpawn, ScopedSpawner};

use super::Queue;

/// A shared, ordered record of what happened.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }
    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    /// A value that records `event` when dropped (put it inside a future to see the drop).
    pub fn on_drop(&self, event: &str) -> OnDrop {
        OnDrop(self.clone(), event.to_owned())
    }
    /// A done function that records `event`.
    pub fn done(&self, event: &str) -> impl FnOnce() + Send + 'static {
        let (log, event) = (self.clone(), event.to_owned());
        move || log.push(event)
    }
}

/// See [`Log::on_drop`].
pub struct OnDrop(Log, String);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.push(std::mem::take(&mut self.1));
    }
}

/// The shared one: its future borrows its own state across the `Pending`, which the scope's
/// wrappers must allow (tests/scope_self_borrows.rs says why).
#[allow(unused_imports)] // not every scope test yields
pub use super::yield_now;

/// A root spawner whose tasks are scheduled into `queue`.
pub fn spawner(
    queue: &Queue,
) -> ScopedSpawner<OnSchedule<impl Fn(rawtask::Runnable) + Clone + Send + Sync + 'static>> {
    ScopedSpawner::on_schedule(queue.schedule())
}

/// Spawns, from a parent's spawner, a child that never completes; its future's drop and its
/// done function are logged as "child future dropped" and "child done".
pub fn spawn_pending_child<E: ScopeExecutor>(children: &ScopedSpawner<E>, log: &Log) {
    let guard = log.on_drop("child future dropped");
    let future = async move {
        let _guard = guard;
        pending::<()>().await
    };
    children
        .spawn_future(future, log.done("child done"))
        .unwrap();
}

/// A parent whose future spawns one never-ending child and then waits forever (or, with
/// `complete`, returns). Everything is logged.
pub fn spawn_family<E: ScopeExecutor>(
    spawner: &ScopedSpawner<E>,
    log: &Log,
    complete: bool,
) -> RemoteParentSignals {
    let (l1, l2) = (log.clone(), log.clone());
    spawner
        .spawn_with_signal(
            move |children| async move {
                let _guard = l1.on_drop("parent future dropped");
                spawn_pending_child(&children, &l1);
                if !complete {
                    pending::<()>().await;
                }
            },
            l2.done("parent done"),
        )
        .unwrap()
}

/// The log of a family (see [`spawn_family`]) that terminated in order: the parent's future
/// is dropped, its child is cancelled and finishes, then the parent's done function runs.
pub const ORDER: [&str; 4] = [
    "parent future dropped",
    "child future dropped",
    "child done",
    "parent done",
];
