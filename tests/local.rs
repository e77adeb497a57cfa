//! Local tasks (`spawn_local`, `spawn_local_with`, `Builder::spawn_local`): non-`Send`
//! futures that must be polled and dropped on the thread that spawned them, while their
//! `Runnable`s and wakers may travel.
//!
//! Running a local task's `Runnable` on another thread is a bug in the executor. rawtask
//! turns it into a panic with a clear message on that thread (never an abort), and since the
//! non-`Send` future cannot be dropped on the wrong thread either, it is leaked: its
//! destructor never runs. The task is closed, so its `Task` resolves as cancelled.
//!
//! The task's allocation is then never freed either: the future is pinned in it and its
//! destructor did not run, so `Pin`'s drop guarantee forbids reusing that memory
//! (`leaked_pinned_future_keeps_its_memory`). rawtask keeps such allocations reachable from a
//! static list, so the tasks of the wrong-thread tests are allocated untracked by the leak
//! check.

mod common;

use std::cell::RefCell;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Poll;
use std::thread::{self, ThreadId};

use common::{block_on, catch_quietly, check_leaks, panic_message, spawn_tracked, Queue};
use rawtask::Builder;

#[test]
fn local_task_runs_on_its_thread() {
    let _g = check_leaks();
    let queue = Queue::new();
    let shared = Rc::new(RefCell::new(Vec::new()));
    let s = shared.clone();
    let (runnable, task) = rawtask::spawn_local(
        async move {
            s.borrow_mut().push(1);
            common::yield_now().await;
            s.borrow_mut().push(2);
            s
        },
        queue.schedule(),
    );
    assert!(runnable.run());
    queue.run_all();
    let out = block_on(task);
    assert!(Rc::ptr_eq(&out, &shared));
    assert_eq!(*shared.borrow(), [1, 2]);
}

#[test]
fn spawn_local_with_data() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn_local_with(
        async { Rc::new(5u8) },
        queue.schedule(),
        String::from("local data"),
    );
    assert_eq!(runnable.data(), "local data");
    assert_eq!(task.metadata(), "local data");
    runnable.run();
    assert_eq!(*block_on(task), 5);
}

#[test]
fn builder_spawn_local_with_metadata() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = Builder::new().metadata(3usize).spawn_local(
        |m: &usize| {
            let n = Rc::new(*m);
            async move { *n + 1 }
        },
        queue.schedule(),
    );
    assert_eq!(*runnable.metadata(), 3);
    runnable.run();
    assert_eq!(block_on(task), 4);
}

#[test]
fn local_task_woken_from_another_thread() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (waker_tx, waker_rx) = flume::bounded(1);
    let mut first = true;
    let not_send = Rc::new(());
    let (runnable, task) = rawtask::spawn_local(
        poll_fn(move |cx| {
            let _keep = &not_send;
            if first {
                first = false;
                waker_tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            } else {
                Poll::Ready(thread::current().id())
            }
        }),
        queue.schedule(),
    );
    runnable.run();
    let waker = waker_rx.recv().unwrap();
    spawn_tracked(move || waker.wake()).join().unwrap();
    assert_eq!(queue.scheduled(), 1);
    queue.pop().unwrap().run();
    assert_eq!(block_on(task), thread::current().id());
}

#[test]
fn local_runnable_may_travel_and_come_back() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn_local(async { Rc::new(1) }, queue.schedule());
    let runnable = spawn_tracked(move || runnable).join().unwrap();
    runnable.run();
    assert_eq!(*block_on(task), 1);
}

/// Counts drops of [`NotSend`] values and remembers the thread that dropped the last one.
static NOT_SEND_DROPS: AtomicUsize = AtomicUsize::new(0);
static NOT_SEND_POLLS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static DROPPED_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A non-`Send` value that owns no heap memory (so leaking it leaks nothing else) and
/// records its drops.
struct NotSend(PhantomData<*const ()>);

impl Drop for NotSend {
    fn drop(&mut self) {
        NOT_SEND_DROPS.fetch_add(1, SeqCst);
        DROPPED_HERE.with(|d| d.set(d.get() + 1));
    }
}

/// A non-`Send` future that is pending forever and owns no heap memory.
fn pending_not_send() -> impl std::future::Future<Output = ()> + 'static {
    let value = NotSend(PhantomData);
    poll_fn(move |_| {
        let _keep = &value;
        NOT_SEND_POLLS.fetch_add(1, SeqCst);
        Poll::Pending
    })
}

/// Resets the statics above (the tests using them are serialised by their leak-check guard).
fn statics_reset() {
    NOT_SEND_DROPS.store(0, SeqCst);
    NOT_SEND_POLLS.store(0, SeqCst);
}

/// A local task (and the queue its schedule function holds) allocated untracked: see the
/// module documentation.
fn untracked_local_task() -> (Queue, (rawtask::Runnable, rawtask::Task<()>)) {
    common::untracked(|| {
        let queue = Queue::new();
        let spawned = rawtask::spawn_local(pending_not_send(), queue.schedule());
        (queue, spawned)
    })
}

#[test]
fn running_a_local_task_on_another_thread_panics_and_leaks_the_future() {
    let _g = check_leaks();
    statics_reset();
    let (queue, (runnable, task)) = untracked_local_task();

    let result = spawn_tracked(move || catch_quietly(move || runnable.run()))
        .join()
        .expect("the wrong thread must get a panic it can catch, not an abort");
    let payload = result.expect_err("running a local task on another thread must panic");
    let message = panic_message(&*payload);
    assert!(
        message.contains("spawn_local") || message.contains("thread"),
        "the message should explain the mistake, got {message:?}"
    );
    assert_eq!(
        NOT_SEND_POLLS.load(SeqCst),
        0,
        "the future was not polled on the wrong thread"
    );
    assert_eq!(
        NOT_SEND_DROPS.load(SeqCst),
        0,
        "the non-Send future must not be dropped on the wrong thread (it is leaked)"
    );

    // The task is closed: its handle resolves as cancelled, on the spawning thread.
    assert!(task.is_finished());
    // Freeing the task records its pinned allocation in rawtask's keep-forever list, which
    // may allocate: untracked, like the task itself.
    assert_eq!(common::untracked(|| block_on(task.fallible())), None);
    assert_eq!(
        NOT_SEND_DROPS.load(SeqCst),
        0,
        "leaked, not dropped later either"
    );
    assert_eq!(queue.scheduled(), 0);
}

/// The current thread's id is cached per thread: a thread that has already run a local task of
/// its own (so its cache is filled) must still refuse one spawned elsewhere.
#[test]
fn a_thread_that_ran_its_own_local_task_still_refuses_a_foreign_one() {
    let _g = check_leaks();
    statics_reset();
    let (_queue, (runnable, task)) = untracked_local_task();

    let result = spawn_tracked(move || {
        let own = Queue::new();
        let (mine, my_task) = rawtask::spawn_local(async { Rc::new(1u8) }, own.schedule());
        mine.run();
        assert_eq!(*block_on(my_task), 1);
        catch_quietly(move || runnable.run())
    })
    .join()
    .expect("no abort");
    assert!(result.is_err(), "the foreign local task must not run here");
    assert_eq!(NOT_SEND_POLLS.load(SeqCst), 0);
    assert!(task.is_finished());
    assert_eq!(common::untracked(|| block_on(task.fallible())), None);
    assert_eq!(NOT_SEND_DROPS.load(SeqCst), 0);
}

#[test]
fn awaiting_a_local_task_that_ran_on_the_wrong_thread_panics() {
    let _g = check_leaks();
    statics_reset();
    let (_queue, (runnable, task)) = untracked_local_task();
    let result = spawn_tracked(move || catch_quietly(move || runnable.run()))
        .join()
        .unwrap();
    assert!(result.is_err());
    common::untracked(|| common::expect_panic(move || block_on(task)));
    assert_eq!(NOT_SEND_DROPS.load(SeqCst), 0);
}

#[test]
fn dropping_a_local_runnable_on_another_thread_does_not_drop_the_future() {
    let _g = check_leaks();
    statics_reset();
    let (queue, (runnable, task)) = untracked_local_task();
    // Whether this panics is rawtask's choice; it must not abort, and must not drop the
    // non-Send future on this thread.
    let _ = spawn_tracked(move || catch_quietly(move || drop(runnable)))
        .join()
        .expect("no abort");
    assert_eq!(NOT_SEND_DROPS.load(SeqCst), 0);
    assert_eq!(NOT_SEND_POLLS.load(SeqCst), 0);
    common::untracked(|| drop(task));
    assert_eq!(NOT_SEND_DROPS.load(SeqCst), 0);
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn cancelled_local_task_drops_its_future_on_the_spawning_thread() {
    let _g = check_leaks();
    statics_reset();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn_local(pending_not_send(), queue.schedule());
    runnable.run();
    // Drop the Task while the task is idle: it is scheduled one final time, and this
    // thread's executor drops the future.
    drop(task);
    assert_eq!(queue.scheduled(), 1);
    let before = DROPPED_HERE.with(|d| d.get());
    queue.pop().unwrap().run();
    assert_eq!(NOT_SEND_DROPS.load(SeqCst), 1);
    assert_eq!(
        DROPPED_HERE.with(|d| d.get()),
        before + 1,
        "dropped on this thread"
    );
}

#[test]
fn detached_local_task_whose_last_waker_dies_elsewhere() {
    let _g = check_leaks();
    statics_reset();
    let queue = Queue::new();
    let (waker_tx, waker_rx) = flume::bounded(1);
    let (runnable, task) = rawtask::spawn_local(
        async move {
            let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
            waker_tx.send(waker).unwrap();
            pending_not_send().await
        },
        queue.schedule(),
    );
    task.detach();
    runnable.run();
    let waker = waker_rx.recv().unwrap();
    // The last waker is dropped on another thread: the task is scheduled one final time
    // (the schedule function runs there), but the future is not dropped there.
    spawn_tracked(move || drop(waker)).join().unwrap();
    assert_eq!(NOT_SEND_DROPS.load(SeqCst), 0);
    assert_eq!(queue.scheduled(), 1);
    let before = DROPPED_HERE.with(|d| d.get());
    queue.pop().unwrap().run();
    assert_eq!(NOT_SEND_DROPS.load(SeqCst), 1);
    assert_eq!(DROPPED_HERE.with(|d| d.get()), before + 1);
}

#[test]
fn local_task_ids_are_per_thread() {
    // Spawning a local task on one thread and running it on that same thread works on
    // any thread, not only the main one.
    let _g = check_leaks();
    let ids: Vec<ThreadId> = (0..3)
        .map(|_| {
            spawn_tracked(|| {
                let queue = Queue::new();
                let (runnable, task) = rawtask::spawn_local(
                    async { Rc::new(thread::current().id()) },
                    queue.schedule(),
                );
                runnable.run();
                *block_on(task)
            })
            .join()
            .unwrap()
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
}

thread_local! {
    /// Addresses registered by pinned futures on this thread (an intrusive-list pattern that
    /// `Pin`'s drop guarantee allows).
    static REGISTRY: RefCell<Vec<*const u64>> = const { RefCell::new(Vec::new()) };
}

/// A `!Unpin`, non-`Send` future that registers its own address when first polled and
/// unregisters it when dropped.
struct Registered {
    value: u64,
    registered: bool,
    _pin: std::marker::PhantomPinned,
    _not_send: PhantomData<*const ()>,
}

impl std::future::Future for Registered {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.registered {
            this.registered = true;
            REGISTRY.with(|r| r.borrow_mut().push(&this.value));
        }
        Poll::Pending
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if self.registered {
            let me = &self.value as *const u64;
            REGISTRY.with(|r| r.borrow_mut().retain(|&p| p != me));
        }
    }
}

/// Regression test (found by review): the leaked future of a local task run on the wrong
/// thread used to have its memory freed, leaving the registry with a dangling pointer (miri
/// reported the use after free).
#[test]
fn leaked_pinned_future_keeps_its_memory() {
    let _g = check_leaks();
    let (queue, (runnable, task)) = common::untracked(|| {
        let queue = Queue::new();
        let spawned = rawtask::spawn_local(
            Registered {
                value: 42,
                registered: false,
                _pin: std::marker::PhantomPinned,
                _not_send: PhantomData,
            },
            queue.schedule(),
        );
        (queue, spawned)
    });
    runnable.run(); // on the home thread: the pinned future registers its address
    common::untracked(|| drop(task)); // idle: scheduled one final time to drop the future
    let runnable = queue.pop().expect("the final run was scheduled");
    // Untracked thread: freeing the task there records its allocation in rawtask's
    // keep-forever list.
    let result = thread::spawn(move || catch_quietly(move || runnable.run()))
        .join()
        .unwrap();
    assert!(result.is_err(), "the wrong thread gets a panic");
    REGISTRY.with(|r| {
        let registered = r.borrow();
        assert_eq!(registered.len(), 1, "the future was leaked, not dropped");
        // SAFETY: `Pin`'s drop guarantee: the memory of a future that was not dropped is
        // still valid.
        assert_eq!(unsafe { *registered[0] }, 42);
    });
    REGISTRY.with(|r| *r.borrow_mut() = Vec::new());
}
