//! `rawtask::scope`: the termination order of structured scopes, on every path.

mod common;

use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use common::{catch_quietly, check_leaks, panic_message, Queue};
use rawtask::scope::{
    ForgettableSignalSender, OnSchedule, RawScopedSpawn, RemoteScope, ScopeExecutor, ScopedSpawn,
    ScopedSpawner,
};
use rawtask::CancellationToken;

/// A shared, ordered record of what happened.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }
    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    /// A value that records `event` when dropped (put it inside a future to see the drop).
    fn on_drop(&self, event: &str) -> OnDrop {
        OnDrop(self.clone(), event.to_owned())
    }
    /// A done function that records `event`.
    fn done(&self, event: &str) -> impl FnOnce() + Send + 'static {
        let (log, event) = (self.clone(), event.to_owned());
        move || log.push(event)
    }
}

struct OnDrop(Log, String);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.push(std::mem::take(&mut self.1));
    }
}

fn spawner(
    queue: &Queue,
) -> ScopedSpawner<OnSchedule<impl Fn(rawtask::Runnable) + Clone + Send + Sync + 'static>> {
    ScopedSpawner::on_schedule(queue.schedule())
}

/// Completes after being polled once (returns `Pending` once and wakes itself).
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// Spawns, from a parent's spawner, a child that never completes; its future's drop and its
/// done function are logged as "child future dropped" and "child done".
fn spawn_pending_child<E: ScopeExecutor>(children: &ScopedSpawner<E>, log: &Log) {
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
fn spawn_family<E: ScopeExecutor>(
    spawner: &ScopedSpawner<E>,
    log: &Log,
    complete: bool,
) -> rawtask::scope::RemoteParentSignals {
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

const ORDER: [&str; 4] = [
    "parent future dropped",
    "child future dropped",
    "child done",
    "parent done",
];

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
fn a_task_cancelled_before_its_first_poll_is_never_polled() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let log = log.clone();
                async move { log.push("polled") }
            },
            log.done("done"),
        )
        .unwrap();
    drop(signals.cancel_sender);
    queue.run_all();
    assert_eq!(log.events(), ["done"]);
}

#[test]
fn a_forgotten_cancel_sender_lets_the_task_finish() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let log = log.clone();
                async move {
                    yield_now().await;
                    log.push("finished")
                }
            },
            log.done("done"),
        )
        .unwrap();
    signals.cancel_sender.forget();
    queue.run_all();
    assert_eq!(log.events(), ["finished", "done"]);
}

#[test]
fn a_panicking_future_terminates_in_order_then_resumes_the_panic() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = {
        let (l1, l2) = (log.clone(), log.clone());
        spawner(&queue)
            .spawn_with_signal(
                move |children| async move {
                    let _guard = l1.on_drop("parent future dropped");
                    spawn_pending_child(&children, &l1);
                    panic!("the parent's future panics");
                },
                l2.done("parent done"),
            )
            .unwrap()
    };
    let mut panics = Vec::new();
    while let Some(runnable) = queue.pop() {
        if let Err(payload) = catch_quietly(|| runnable.run()) {
            panics.push(panic_message(&*payload));
            // The panic reaches the executor only once the task has terminated.
            assert_eq!(log.events(), ORDER);
            assert!(signals.done_receiver.is_done());
        }
    }
    assert_eq!(panics, ["the parent's future panics"]);
    assert_eq!(log.events(), ORDER);
}

#[test]
fn a_panicking_done_function_still_sends_the_done_signal() {
    let _g = check_leaks();
    let queue = Queue::new();
    let signals = spawner(&queue)
        .spawn_future_with_signal(async {}, || panic!("done panics"))
        .unwrap();
    let runnable = queue.pop().unwrap();
    let payload = catch_quietly(|| runnable.run()).unwrap_err();
    assert_eq!(panic_message(&*payload), "done panics");
    assert!(signals.done_receiver.is_done());
    assert!(queue.is_empty());
}

#[test]
fn a_task_dropped_by_the_executor_terminates_when_its_last_child_does() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = {
        let (l1, l2) = (log.clone(), log.clone());
        spawner(&queue)
            .spawn_with_signal(
                move |children| async move {
                    let _guard = l1.on_drop("parent future dropped");
                    spawn_pending_child(&children, &l1);
                    yield_now().await; // puts the parent back in the queue, after the child
                    pending::<()>().await
                },
                l2.done("parent done"),
            )
            .unwrap()
    };
    queue.pop().unwrap().run(); // the parent: spawns the child, yields
    let child = queue.pop().unwrap();
    let parent = queue.pop().unwrap();
    assert!(queue.is_empty());

    drop(parent); // the executor drops the parent without finishing it
    assert_eq!(log.events(), ["parent future dropped"]);
    assert!(!signals.done_receiver.is_done(), "the child is still alive");

    child.run(); // cancelled by the parent's drop: terminates, and finishes the parent
    assert_eq!(log.events(), ORDER);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn a_task_dropped_before_its_first_run_terminates_at_once() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let guard = log.on_drop("future dropped");
                let log = log.clone();
                async move {
                    let _guard = guard;
                    log.push("polled")
                }
            },
            log.done("done"),
        )
        .unwrap();
    drop(queue.pop().unwrap());
    assert_eq!(log.events(), ["future dropped", "done"]);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn an_executor_shut_down_with_a_whole_tree_finishes_every_scope() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawn_family(&spawner(&queue), &log, false);
    queue.pop().unwrap().run(); // the parent spawns the child
                                // Shut down: drop every queued runnable (the child) — and the parent, which is parked:
                                // cancelling it reschedules it, and the executor drops that too.
    while let Some(runnable) = queue.pop() {
        drop(runnable);
    }
    drop(signals.cancel_sender);
    while let Some(runnable) = queue.pop() {
        drop(runnable);
    }
    assert_eq!(
        log.events(),
        [
            "child future dropped",
            "child done",
            "parent future dropped",
            "parent done"
        ]
    );
    assert!(signals.done_receiver.is_done());
}

#[test]
fn cancelling_a_tasks_token_terminates_it_in_order() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let token = Arc::new(Mutex::new(None::<CancellationToken>));
    let signals = {
        let (l1, l2, token) = (log.clone(), log.clone(), token.clone());
        spawner(&queue)
            .spawn_with_signal(
                move |children| {
                    *token.lock().unwrap() = Some(children.token().clone());
                    async move {
                        let _guard = l1.on_drop("parent future dropped");
                        spawn_pending_child(&children, &l1);
                        pending::<()>().await
                    }
                },
                l2.done("parent done"),
            )
            .unwrap()
    };
    signals.cancel_sender.forget();
    queue.run_all();
    let token = token.lock().unwrap().take().unwrap();
    token.cancel();
    queue.run_all();
    assert_eq!(log.events(), ORDER);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn a_child_given_its_scopes_token_stops_with_the_scope() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = {
        let log = log.clone();
        spawner(&queue)
            .spawn_with_signal(
                move |children| async move {
                    // The child runs blocking work on a thread, bounded by the parent's
                    // token; its done function joins the thread.
                    let token = children.token().clone();
                    let worker = common::spawn_tracked({
                        let log = log.clone();
                        move || {
                            // Blocks (rather than yields) between looks, as real blocking
                            // work checking its token would.
                            common::wait_until("the scope's token to be cancelled", || {
                                token.wait_timeout(std::time::Duration::from_millis(1))
                            });
                            log.push("worker saw the scope's token cancelled");
                        }
                    });
                    children
                        .spawn_future(pending(), {
                            let log = log.clone();
                            move || {
                                worker.join().unwrap();
                                log.push("child done");
                            }
                        })
                        .unwrap();
                    pending::<()>().await
                },
                || {},
            )
            .unwrap()
    };
    queue.run_all();
    signals.cancel_sender.child_token().unwrap().cancel();
    queue.run_all();
    assert!(signals.done_receiver.is_done());
    assert_eq!(
        log.events(),
        ["worker saw the scope's token cancelled", "child done"]
    );
    drop(signals.cancel_sender);
}

#[test]
fn cancelling_the_root_token_terminates_every_top_level_task() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let root = spawner(&queue);
    for name in ["a", "b", "c"] {
        root.spawn_future(pending(), log.done(name)).unwrap();
    }
    queue.run_all();
    assert!(log.events().is_empty());
    root.token().cancel();
    queue.run_all();
    let mut events = log.events();
    events.sort();
    assert_eq!(events, ["a", "b", "c"]);
}

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

#[test]
fn a_pending_future_task_is_cancelled_by_its_sender() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let guard = log.on_drop("future dropped");
                async move {
                    let _guard = guard;
                    pending::<()>().await
                }
            },
            log.done("done"),
        )
        .unwrap();
    queue.run_all();
    assert!(log.events().is_empty());
    drop(signals.cancel_sender);
    assert_eq!(queue.len(), 1, "the cancel woke the task");
    queue.run_all();
    assert_eq!(log.events(), ["future dropped", "done"]);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn a_panicking_future_task_sends_its_done_signal_then_resumes_the_panic() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let guard = log.on_drop("future dropped");
                async move {
                    let _guard = guard;
                    yield_now().await;
                    panic!("the future panics")
                }
            },
            log.done("done"),
        )
        .unwrap();
    queue.pop().unwrap().run();
    let payload = catch_quietly(|| queue.pop().unwrap().run()).unwrap_err();
    assert_eq!(panic_message(&*payload), "the future panics");
    assert_eq!(log.events(), ["future dropped", "done"]);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn a_future_task_with_a_panicking_done_dropped_by_the_executor() {
    let _g = check_leaks();
    let queue = Queue::new();
    let signals = spawner(&queue)
        .spawn_future_with_signal(pending(), || panic!("done panics"))
        .unwrap();
    let runnable = queue.pop().unwrap();
    // The panic is reported by the hook but not resumed out of the task's destructor (which
    // would abort the process).
    common::quietly(|| drop(runnable));
    assert!(signals.done_receiver.is_done());
}

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

#[test]
fn dropping_a_done_receiver_does_not_cancel_the_child() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let log = log.clone();
                async move {
                    yield_now().await;
                    log.push("finished");
                }
            },
            log.done("done"),
        )
        .unwrap();
    signals.cancel_sender.forget();
    drop(signals.done_receiver);
    queue.run_all();
    assert_eq!(log.events(), ["finished", "done"]);
}

/// A waker whose clones are counted by its `Arc`.
struct CountedWaker;

impl std::task::Wake for CountedWaker {
    fn wake(self: Arc<Self>) {}
}

/// Completes once `ready` is set; pending (registering nothing) before.
struct WhenSet(Arc<std::sync::atomic::AtomicBool>);

impl Future for WhenSet {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
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
    ready: &std::sync::atomic::AtomicBool,
) -> (usize, usize) {
    let counted = Arc::new(CountedWaker);
    let waker = std::task::Waker::from(counted.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(task.as_mut().poll(&mut cx).is_pending());
    let pending = Arc::strong_count(&counted);
    ready.store(true, std::sync::atomic::Ordering::SeqCst);
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
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
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
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
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
