//! Scopes when the global heap fails: `ScopedSpawner::try_on_schedule` and the `try_spawn*`
//! functions, for every k from 1 to the scenario's number of allocation requests + 1, with the
//! k-th request of the test thread refused. The scenario is a root with several children (unit
//! and output children, one with signals cancelled before it runs, one that panics, a nested
//! scope three levels deep); each `try_` call succeeds or returns an out-of-memory
//! `SpawnError`, nothing aborts, every allocation is freed (the leak check), every future,
//! `fun` closure and done function is dropped exactly once, and a done function runs exactly
//! when its spawn succeeded.
//!
//! The tasks run on the test thread (so their own `try_` calls count too), from a queue with
//! room reserved beforehand. Not counted: the unwinding of the panicking child (std allocates
//! its exception object infallibly), during which refusing is paused.

mod common;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use common::{
    catch_quietly, check_leaks, panic_message, pause_refusing, poll_once, refusing_kth_allocation,
    resume_refusing, Counter, DropProbe,
};
use rawtask::scope::{
    ForgettableSignalSender, ScopeExecutor, ScopedJoinHandle, ScopedSpawner, SpawnError,
};
use rawtask::Runnable;

/// A FIFO of runnables whose room is reserved up front: scheduling never allocates.
#[derive(Clone)]
struct Fifo(Arc<Mutex<VecDeque<Runnable>>>);

const ROOM: usize = 64;

impl Fifo {
    fn new() -> Fifo {
        Fifo(Arc::new(Mutex::new(VecDeque::with_capacity(ROOM))))
    }

    fn schedule(&self) -> impl Fn(Runnable) + Clone + Send + Sync + 'static {
        let fifo = self.clone();
        move |runnable| {
            let mut items = fifo.0.lock().unwrap();
            // Growing would allocate (and could be refused, aborting): the scenario stays small.
            assert!(items.len() < ROOM, "the queue is full");
            items.push_back(runnable);
        }
    }

    fn pop(&self) -> Option<Runnable> {
        self.0.lock().unwrap().pop_front()
    }

    /// Runs everything scheduled, including what running schedules; returns the panics.
    fn run(&self) -> Vec<String> {
        let mut panics = Vec::new();
        while let Some(runnable) = self.pop() {
            if let Err(payload) = catch_quietly(|| runnable.run()) {
                panics.push(panic_message(&*payload));
            }
            // Set by the panicking child, for its unwinding.
            resume_refusing();
        }
        panics
    }
}

/// What happened to the scenario's futures, `fun` closures and done functions.
#[derive(Default)]
struct Books {
    /// Futures and `fun` closures.
    made: Counter,
    dropped: Counter,
    dones_made: Counter,
    dones_dropped: Counter,
    dones_ran: Counter,
    /// Done functions handed to a `try_` call that succeeded.
    dones_accepted: Counter,
    /// `try_` calls that returned an error (all of them out of memory).
    refused: Counter,
}

impl Books {
    /// A probe for a future or closure to own.
    fn probe(&self) -> DropProbe {
        self.made.inc();
        DropProbe::new(&self.dropped)
    }

    /// A future that completes at once with `output`.
    fn ready<T: Send + 'static>(&self, output: T) -> impl Future<Output = T> + Send + 'static {
        let probe = self.probe();
        async move {
            let _probe = probe;
            output
        }
    }

    /// A done function that counts its run and its drop.
    fn done(&self) -> impl FnOnce() + Send + 'static {
        self.dones_made.inc();
        let probe = DropProbe::new(&self.dones_dropped);
        let ran = self.dones_ran.clone();
        move || {
            let _probe = probe;
            ran.inc();
        }
    }

    /// Books a `try_` call's result: an accepted done function, or a refusal that must be an
    /// out-of-memory error. Returns the value, if any.
    fn book<T>(&self, result: Result<T, SpawnError>, with_done: bool) -> Option<T> {
        match result {
            Ok(value) => {
                if with_done {
                    self.dones_accepted.inc();
                }
                Some(value)
            }
            Err(error) => {
                assert!(error.is_out_of_memory(), "{error}");
                assert!(!error.is_shutdown() && !error.is_scope_closed());
                assert!(error
                    .to_string()
                    .starts_with("rawtask: could not allocate "));
                self.refused.inc();
                None
            }
        }
    }

    /// The counters a task needs, `'static`.
    fn share(self: &Arc<Self>) -> Arc<Self> {
        self.clone()
    }
}

/// The outputs the scenario's handles resolve to.
struct Handles {
    leaf: ScopedJoinHandle<u32>,
    nested: ScopedJoinHandle<u32>,
}

/// The nested child's future: a leaf, an output leaf and a grandchild with a spawner of its
/// own (which spawns one more leaf); returns how many of its three `try_` calls succeeded.
async fn nested<E: ScopeExecutor>(children: ScopedSpawner<E>, books: Arc<Books>) -> u32 {
    let mut accepted = 0;
    let leaf = children.try_spawn_future(books.ready(()), books.done());
    accepted += u32::from(books.book(leaf, true).is_some());
    let output = children.try_spawn_future_output(books.ready(1u8));
    if let Some(handle) = books.book(output, false) {
        accepted += 1;
        handle.detach();
    }
    let (fun_probe, inner) = (books.probe(), books.share());
    let grandchild = children.try_spawn(
        move |grand: ScopedSpawner<E>| {
            let _fun_probe = fun_probe;
            let future = inner.ready(());
            let books = inner.clone();
            async move {
                future.await;
                let leaf = grand.try_spawn_future(books.ready(()), books.done());
                books.book(leaf, true);
            }
        },
        books.done(),
    );
    accepted += u32::from(books.book(grandchild, true).is_some());
    accepted
}

/// The scenario's spawns from the root, on `fifo`; stops at the first refused root call (the
/// children already spawned still run).
fn spawn_all(fifo: &Fifo, books: &Arc<Books>) -> Option<Handles> {
    let root = books.book(ScopedSpawner::try_on_schedule(fifo.schedule()), false)?;

    books.book(root.try_spawn_future(books.ready(()), books.done()), true)?;

    // Cancelled before it runs: its future is dropped unpolled, its done still runs.
    let pending = books.probe();
    let signals = books.book(
        root.try_spawn_future_with_signal(
            async move {
                let _pending = pending;
                std::future::pending::<()>().await
            },
            books.done(),
        ),
        true,
    )?;
    drop(signals.cancel_sender);

    let leaf = books.book(root.try_spawn_future_output(books.ready(7u32)), false)?;

    let panics = books.probe();
    books.book(
        root.try_spawn_future(
            async move {
                let _panics = panics;
                // Unwinding allocates (std's exception object), infallibly.
                pause_refusing();
                panic!("the child panics");
            },
            books.done(),
        ),
        true,
    )?;

    let (fun_probe, inner) = (books.probe(), books.share());
    let nested = books.book(
        root.try_spawn_output(move |children| {
            let _fun_probe = fun_probe;
            nested(children, inner)
        }),
        false,
    )?;

    let signals = books.book(
        root.try_spawn_with_signal(|_| books.ready(()), books.done()),
        true,
    )?;
    signals.cancel_sender.forget();
    Some(Handles { leaf, nested })
}

/// Runs the scenario with the k-th request refused (`usize::MAX`: none); returns the number
/// of requests it made and whether it spawned everything.
fn run(k: usize) -> (usize, bool) {
    let _g = check_leaks();
    let books = Arc::new(Books::default());
    let fifo = Fifo::new();
    let ((handles, panics), requests) = refusing_kth_allocation(k, || {
        let handles = spawn_all(&fifo, &books);
        (handles, fifo.run())
    });
    let complete = handles.is_some();
    if let Some(handles) = handles {
        assert!(handles.leaf.is_finished() && handles.nested.is_finished());
        // Finished: a poll resolves them (without `block_on`'s thread-local cache, a leak).
        let Handles {
            mut leaf,
            mut nested,
        } = handles;
        assert_eq!(poll_once(&mut leaf), Poll::Ready(Some(7)));
        let Poll::Ready(accepted) = poll_once(&mut nested) else {
            panic!("k = {k}: the nested child is finished");
        };
        assert!(accepted.is_some_and(|n| n <= 3), "k = {k}: {accepted:?}");
        assert_eq!(panics, ["the child panics"], "k = {k}");
    } else {
        assert!(books.refused.get() >= 1, "k = {k}");
    }
    assert!(panics.len() <= 1, "k = {k}: {panics:?}");
    assert!(fifo.pop().is_none());
    drop(fifo);
    assert_eq!(
        books.dropped.get(),
        books.made.get(),
        "k = {k}: futures dropped"
    );
    assert_eq!(
        books.dones_dropped.get(),
        books.dones_made.get(),
        "k = {k}: done functions dropped"
    );
    assert_eq!(
        books.dones_ran.get(),
        books.dones_accepted.get(),
        "k = {k}: done functions run"
    );
    let refused = books.refused.get();
    if k == usize::MAX || k > requests {
        assert_eq!(refused, 0, "k = {k}: nothing refused, no error");
    }
    drop(books);
    (requests, complete && refused == 0)
}

#[test]
fn a_scope_reports_every_refused_allocation() {
    let (requests, complete) = run(usize::MAX);
    assert!(complete);
    // The root's registry and token; per child at least its task; links, cells, tokens.
    assert!(requests >= 15, "{requests} requests");
    let mut refused_runs = 0;
    for k in 1..=requests + 1 {
        let (_, complete) = run(k);
        refused_runs += usize::from(!complete);
    }
    eprintln!("{requests} requests, {refused_runs} refusals reported");
    // Each refused request is reported, but for one with a fallback: the stack of the cancel
    // walk when the nested scope closes (the walk goes on without it).
    assert!(
        requests - refused_runs <= 1,
        "{refused_runs} of {requests} reported"
    );
}
