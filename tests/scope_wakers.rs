//! `rawtask::scope`: a pending scoped task leaves its waker with what can cancel it (its own
//! token, or its scope's); once it completes, that waker is gone rather than kept until the
//! token is dropped.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use common::check_leaks;
use common::scope::Log;
use rawtask::scope::{RemoteScope, ScopeExecutor, ScopedSpawn, ScopedSpawner};

/// A waker whose clones are counted by its `Arc`.
struct CountedWaker;

impl Wake for CountedWaker {
    fn wake(self: Arc<Self>) {}
}

/// Completes once `ready` is set; pending (registering nothing) before.
struct WhenSet(Arc<AtomicBool>);

impl Future for WhenSet {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Polls `task`, whose future is a `WhenSet(ready)`, with a counted waker until it pends, then
/// sets `ready` and polls it to completion. Returns the waker's count (the test's own handle
/// included) while it was pending and once it completed.
fn waker_clones_pending_then_done(
    mut task: Pin<&mut (dyn Future<Output = ()> + Send)>,
    ready: &AtomicBool,
) -> (usize, usize) {
    let counted = Arc::new(CountedWaker);
    let waker = Waker::from(counted.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(task.as_mut().poll(&mut cx).is_pending());
    let pending = Arc::strong_count(&counted);
    ready.store(true, SeqCst);
    assert!(task.as_mut().poll(&mut cx).is_ready());
    (pending, Arc::strong_count(&counted))
}

/// A child that pends leaves its waker with its cancel receiver (in its own token); once the
/// child completes instead, that waker must be gone, not kept until the token is dropped.
#[test]
fn a_completed_child_leaves_no_waker_in_its_token() {
    let _g = check_leaks();
    let log = Log::default();
    let root = RemoteScope::new().spawner();
    let (parent, child) = root.try_spawn_raw_with_signal().unwrap();
    let ready = Arc::new(AtomicBool::new(false));
    let mut task =
        Box::pin(RemoteScope::new().wrap(child, WhenSet(ready.clone()), log.done("done")));
    let (pending, done) = waker_clones_pending_then_done(task.as_mut(), &ready);
    assert_eq!(pending, 3, "the cancel receiver keeps a clone");
    assert_eq!(log.events(), ["done"]);
    assert_eq!(done, 2, "the token still holds the finished child's waker");
    // The parent's cancel sender still holds the child's token: dropping it now cancels a
    // token with no waiter left.
    drop(parent);
}

type BoxedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An executor that only stores what it is given, for the test to poll by hand.
#[derive(Clone, Default)]
struct Stash(Arc<Mutex<Vec<BoxedFuture>>>);

impl ScopeExecutor for Stash {
    fn spawn_scoped<F>(&self, future: F) -> Result<(), rawtask::scope::SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.lock().unwrap().push(Box::pin(future));
        Ok(())
    }
}

/// The same for a child spawned with `spawn_future`, which waits on its scope's token: a
/// pending leaf's waker must leave that token when the leaf completes.
#[test]
fn a_completed_leaf_leaves_no_waker_in_its_scopes_token() {
    let _g = check_leaks();
    let log = Log::default();
    let stash = Stash::default();
    let spawner = ScopedSpawner::new(stash.clone());
    let ready = Arc::new(AtomicBool::new(false));
    spawner
        .spawn_future(WhenSet(ready.clone()), log.done("done"))
        .unwrap();
    let mut leaf = stash.0.lock().unwrap().pop().unwrap();
    let (pending, done) = waker_clones_pending_then_done(leaf.as_mut(), &ready);
    assert_eq!(pending, 3, "the scope's token keeps a clone");
    assert_eq!(log.events(), ["done"]);
    assert_eq!(
        done, 2,
        "the scope's token still holds the finished leaf's waker"
    );
    drop(leaf);
    drop(spawner);
}
