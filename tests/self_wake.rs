//! Raw rule 17: a task that wakes itself by reference during its own poll, on the thread
//! polling it, is recorded in that thread and rescheduled by the poll's end, without an atomic
//! write to the state word. Every other wake takes the state word's path. These tests pin the
//! outcomes (how often a task is scheduled and polled) in the cases where the two paths meet:
//! nested runs, a panic in a nested run, a close during the poll, a wake from another thread
//! through the borrowed waker.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use common::{block_on, check_leaks, quietly, untracked, Counter, DropProbe, Queue};
use rawtask::Runnable;

thread_local! {
    static LOCAL: RefCell<VecDeque<Runnable>> = const { RefCell::new(VecDeque::new()) };
}
static LOCAL_SCHEDULES: AtomicUsize = AtomicUsize::new(0);

/// A schedule function without captured state (no hold, rule 6): the path where a yield
/// writes nothing to the state word at all.
fn local_schedule(runnable: Runnable) {
    LOCAL_SCHEDULES.fetch_add(1, SeqCst);
    LOCAL.with(|queue| queue.borrow_mut().push_back(runnable));
}

/// Pops the next runnable; an emptied queue gives its buffer back (for the leak check).
fn local_pop() -> Option<Runnable> {
    LOCAL.with(|queue| {
        let mut queue = queue.borrow_mut();
        let next = queue.pop_front();
        if queue.is_empty() {
            *queue = VecDeque::new();
        }
        next
    })
}

/// Wakes itself by reference `wakes` times in each of its first `yields` polls, then is ready.
struct Yields {
    yields: usize,
    wakes: usize,
    polls: Arc<AtomicUsize>,
}

impl Future for Yields {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let polls = self.polls.fetch_add(1, SeqCst) + 1;
        if self.yields == 0 {
            return Poll::Ready(polls);
        }
        self.yields -= 1;
        for _ in 0..self.wakes {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

fn yields(yields: usize, wakes: usize) -> (Yields, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    let future = Yields {
        yields,
        wakes,
        polls: polls.clone(),
    };
    (future, polls)
}

#[test]
fn yields_with_a_plain_schedule_fn_reschedule_once_each() {
    let _g = check_leaks();
    let before = LOCAL_SCHEDULES.load(SeqCst);
    let (future, polls) = yields(3, 1);
    let (runnable, task) = rawtask::spawn(future, local_schedule);
    let mut reruns = 0;
    assert!(runnable.run());
    while let Some(runnable) = local_pop() {
        reruns += 1;
        runnable.run();
    }
    assert_eq!(reruns, 3);
    assert_eq!(LOCAL_SCHEDULES.load(SeqCst) - before, 3);
    assert_eq!(block_on(task), 4);
    assert_eq!(polls.load(SeqCst), 4);
}

#[test]
fn yields_with_a_capturing_schedule_fn_reschedule_once_each() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (future, polls) = yields(3, 1);
    let (runnable, task) = rawtask::spawn(future, queue.schedule());
    assert!(runnable.run());
    assert_eq!(queue.run_all(), 3);
    assert_eq!(queue.scheduled(), 3);
    assert_eq!(block_on(task), 4);
    assert_eq!(polls.load(SeqCst), 4);
}

#[test]
fn a_yield_leaves_the_state_word_unmarked() {
    // The queued task reads "scheduled", not "scheduled, woken again": the wake went to the
    // thread, not to the word, so the next run starts with a load. (With the wake in the word,
    // a schedule function without a hold leaves NOTIFIED set for the next run to clear.)
    let _g = check_leaks();
    let (future, _polls) = yields(1, 1);
    let (runnable, task) = rawtask::spawn(future, local_schedule);
    assert!(runnable.run());
    let debug = format!("{task:?}");
    assert!(debug.contains("scheduled"), "{debug}");
    assert!(!debug.contains("woken again"), "{debug}");
    local_pop().unwrap().run();
    assert_eq!(block_on(task), 2);
}

#[test]
fn a_wake_from_outside_the_poll_still_marks_the_word() {
    // The control for the test above: a task woken through the state word by a
    // `Runnable::waker` while its `Runnable` is queued reads "woken again" (and the run that
    // follows absorbs the wake).
    let _g = check_leaks();
    let (future, _polls) = yields(0, 0);
    let (runnable, task) = rawtask::spawn(future, local_schedule);
    let waker = runnable.waker();
    runnable.schedule();
    waker.wake_by_ref();
    let debug = format!("{task:?}");
    assert!(debug.contains("woken again"), "{debug}");
    drop(waker);
    assert!(!local_pop().unwrap().run());
    assert!(local_pop().is_none());
    assert_eq!(block_on(task), 1);
}

#[test]
fn several_wakes_in_one_poll_schedule_once() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (future, polls) = yields(1, 5);
    let (runnable, task) = rawtask::spawn(future, queue.schedule());
    assert!(runnable.run());
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.run_all(), 1);
    assert_eq!(queue.scheduled(), 1);
    assert_eq!(block_on(task), 2);
    assert_eq!(polls.load(SeqCst), 2);
}

#[test]
fn a_wake_before_ready_is_dropped_with_the_poll() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(
        std::future::poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Ready(7)
        }),
        queue.schedule(),
    );
    assert!(!runnable.run());
    assert_eq!(queue.scheduled(), 0);
    assert_eq!(block_on(task), 7);
}

/// The outer task's poll runs `inner` (a task of another kind of executor nested in it), with
/// the outer task waking itself before and/or after, as `before` and `after` say.
fn outer_running(
    inner: Runnable,
    before: bool,
    after: bool,
) -> impl Future<Output = ()> + Send + 'static {
    let mut inner = Some(inner);
    std::future::poll_fn(move |cx| match inner.take() {
        Some(runnable) => {
            if before {
                cx.waker().wake_by_ref();
            }
            runnable.run();
            if after {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        }
        None => Poll::Ready(()),
    })
}

#[test]
fn a_nested_run_keeps_the_outer_tasks_wake() {
    let _g = check_leaks();
    for (before, after) in [(true, false), (false, true), (true, true)] {
        let outer_queue = Queue::new();
        let inner_queue = Queue::new();
        let (inner_future, inner_polls) = yields(1, 1);
        let (inner_runnable, inner_task) = rawtask::spawn(inner_future, inner_queue.schedule());
        let (runnable, task) = rawtask::spawn(
            outer_running(inner_runnable, before, after),
            outer_queue.schedule(),
        );
        assert!(runnable.run());
        assert_eq!(outer_queue.scheduled(), 1, "before {before}, after {after}");
        assert_eq!(inner_queue.scheduled(), 1, "before {before}, after {after}");
        assert_eq!(outer_queue.run_all(), 1);
        assert_eq!(inner_queue.run_all(), 1);
        block_on(task);
        assert_eq!(block_on(inner_task), 2);
        assert_eq!(inner_polls.load(SeqCst), 2);
    }
}

#[test]
fn a_nested_tasks_wake_does_not_reschedule_the_outer_task() {
    // The inner task wakes itself; the outer one does not wake at all: only the inner one is
    // scheduled again, and the outer one stays idle until its own waker is used.
    let _g = check_leaks();
    let outer_queue = Queue::new();
    let inner_queue = Queue::new();
    let (inner_future, _) = yields(1, 1);
    let (inner_runnable, inner_task) = rawtask::spawn(inner_future, inner_queue.schedule());
    let (runnable, task) = rawtask::spawn(
        outer_running(inner_runnable, false, false),
        outer_queue.schedule(),
    );
    let waker = runnable.waker();
    assert!(!runnable.run());
    assert_eq!(outer_queue.scheduled(), 0);
    assert_eq!(inner_queue.scheduled(), 1);
    inner_queue.run_all();
    waker.wake();
    assert_eq!(outer_queue.run_all(), 1);
    block_on(task);
    assert_eq!(block_on(inner_task), 2);
}

#[test]
fn a_nested_task_waking_the_outer_one_goes_through_the_word() {
    // The inner task's poll wakes the outer task (not the one polled there): the wake takes
    // the state word's path, which marks the running outer task, and its poll's end schedules
    // it once.
    let _g = check_leaks();
    let outer_queue = Queue::new();
    let inner_queue = Queue::new();
    let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let inner_slot = slot.clone();
    let (inner_runnable, inner_task) = rawtask::spawn(
        async move {
            let waker = inner_slot.lock().unwrap().take().unwrap();
            waker.wake_by_ref();
        },
        inner_queue.schedule(),
    );
    let mut inner = Some(inner_runnable);
    let (runnable, task) = rawtask::spawn(
        std::future::poll_fn(move |cx| match inner.take() {
            Some(runnable) => {
                *slot.lock().unwrap() = Some(cx.waker().clone());
                runnable.run();
                Poll::Pending
            }
            None => Poll::Ready(()),
        }),
        outer_queue.schedule(),
    );
    assert!(runnable.run());
    assert_eq!(outer_queue.scheduled(), 1);
    assert_eq!(outer_queue.run_all(), 1);
    block_on(task);
    block_on(inner_task);
}

#[test]
fn a_panic_in_a_nested_run_leaves_no_mark_behind() {
    // The inner task wakes itself, then panics (no propagation: its run unwinds into the outer
    // poll, which catches it). Its mark must go with the unwinding: the outer task, which does
    // not wake itself, is not scheduled again.
    let _g = check_leaks();
    let outer_queue = Queue::new();
    let inner_queue = Queue::new();
    let (inner_runnable, inner_task) = rawtask::spawn(
        std::future::poll_fn(|cx| -> Poll<()> {
            cx.waker().wake_by_ref();
            panic!("inner task panics after waking itself");
        }),
        inner_queue.schedule(),
    );
    let mut inner = Some(inner_runnable);
    let (runnable, task) = rawtask::spawn(
        std::future::poll_fn(move |_cx| {
            if let Some(runnable) = inner.take() {
                let unwound = quietly(|| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runnable.run()))
                });
                assert!(unwound.is_err());
            }
            Poll::<()>::Pending
        }),
        outer_queue.schedule(),
    );
    let waker = runnable.waker();
    assert!(!runnable.run());
    assert_eq!(outer_queue.scheduled(), 0);
    assert_eq!(inner_queue.scheduled(), 0);
    assert!(inner_task.is_finished());
    assert_eq!(block_on(inner_task.cancel()), None);
    // The outer task is idle and wakeable as before.
    waker.wake();
    assert_eq!(outer_queue.scheduled(), 1);
    drop(outer_queue.pop());
    drop(task);
}

#[test]
fn an_abort_during_the_poll_wins_over_the_tasks_own_wake() {
    // The poll aborts its own task, then wakes itself: the poll's end finds the task closed,
    // drops the future and does not schedule it again.
    let _g = check_leaks();
    let queue = Queue::new();
    let drops = Counter::new();
    let handle: Arc<Mutex<Option<rawtask::AbortHandle>>> = Arc::new(Mutex::new(None));
    let in_poll = handle.clone();
    let probe = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(
        std::future::poll_fn(move |cx| {
            let _keep = &probe;
            assert!(in_poll.lock().unwrap().as_ref().unwrap().abort());
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        }),
        queue.schedule(),
    );
    *handle.lock().unwrap() = Some(task.abort_handle());
    assert!(!runnable.run());
    assert_eq!(drops.get(), 1);
    assert_eq!(queue.scheduled(), 0);
    assert!(task.is_finished());
    assert_eq!(block_on(task.cancel()), None);
    drop(handle);
}

#[test]
fn a_wake_through_the_borrowed_waker_on_another_thread_is_counted() {
    // The poll lends its own waker to a scoped thread, which wakes it there while the poll
    // waits: that thread's wake goes through the state word, and the task polls again once.
    let _g = check_leaks();
    let queue = Queue::new();
    let (future, polls) = yields(1, 0);
    let mut future = Box::pin(future);
    let (runnable, task) = rawtask::spawn(
        std::future::poll_fn(move |cx| {
            let waker = cx.waker();
            // Spawning a thread allocates for the runtime (not for the task): untracked.
            untracked(|| {
                std::thread::scope(|scope| {
                    scope.spawn(|| waker.wake_by_ref());
                })
            });
            future.as_mut().poll(cx)
        }),
        queue.schedule(),
    );
    assert!(runnable.run());
    assert_eq!(queue.run_all(), 1);
    assert_eq!(queue.scheduled(), 1);
    assert_eq!(block_on(task), 2);
    assert_eq!(polls.load(SeqCst), 2);
}

#[test]
fn yields_of_a_local_task_reschedule_once_each() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (future, polls) = yields(2, 1);
    let (runnable, task) = rawtask::spawn_local(future, queue.schedule());
    assert!(runnable.run());
    assert_eq!(queue.run_all(), 2);
    assert_eq!(queue.scheduled(), 2);
    assert_eq!(block_on(task), 3);
    assert_eq!(polls.load(SeqCst), 3);
}
