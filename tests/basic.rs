//! Basic life cycle: spawn, run, wake, run again, join.

mod common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use common::{block_on, check_leaks, counting_waker, poll_once, poll_with, Counter, Probe, Queue};
use rawtask::{Builder, Runnable};

#[test]
fn spawn_run_join() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 1 + 2 }, queue.schedule());
    assert!(
        !runnable.run(),
        "a future that completes is not rescheduled"
    );
    assert_eq!(block_on(task), 3);
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn future_is_not_polled_before_run() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.ready(7u32), queue.schedule());
    assert_eq!(probe.polls(), 0);
    assert_eq!(queue.scheduled(), 0, "spawning does not schedule");
    runnable.run();
    assert_eq!(probe.polls(), 1);
    assert_eq!(block_on(task), 7);
}

#[test]
fn pending_future_is_rescheduled_by_its_waker() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(String::from("done")), queue.schedule());

    assert!(!runnable.run());
    assert_eq!(probe.polls(), 1);
    assert_eq!(queue.scheduled(), 0, "not rescheduled until woken");

    probe.take_waker().unwrap().wake();
    assert_eq!(queue.scheduled(), 1);
    assert_eq!(probe.polls(), 1, "waking schedules, it does not poll");

    probe.complete();
    let runnable = queue.pop().unwrap();
    assert!(!runnable.run());
    assert_eq!(probe.polls(), 2);
    assert_eq!(probe.drops(), 1, "a completed future is dropped right away");
    assert_eq!(block_on(task), "done");
    assert!(queue.is_empty());
}

#[test]
fn runnable_schedule_calls_the_schedule_function() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 5u8 }, queue.schedule());
    runnable.schedule();
    assert_eq!(queue.scheduled(), 1);
    assert_eq!(queue.run_all(), 1);
    assert_eq!(block_on(task), 5);
}

#[test]
fn awaiting_the_task_before_it_runs() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, mut task) = rawtask::spawn(async { 11u64 }, queue.schedule());
    let (waker, wakes) = counting_waker();

    assert!(poll_with(&mut task, &waker).is_pending());
    assert_eq!(wakes.get(), 0);
    runnable.run();
    assert_eq!(wakes.get(), 1, "completion wakes the task's awaiter");
    assert_eq!(poll_with(&mut task, &waker), Poll::Ready(11));
}

#[test]
fn awaiter_is_replaced_by_a_later_poll() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, mut task) = rawtask::spawn(async { 1u8 }, queue.schedule());
    let (first, first_wakes) = counting_waker();
    let (second, second_wakes) = counting_waker();

    assert!(poll_with(&mut task, &first).is_pending());
    assert!(poll_with(&mut task, &second).is_pending());
    runnable.run();
    assert_eq!(first_wakes.get(), 0, "the replaced awaiter is not woken");
    assert_eq!(second_wakes.get(), 1);
    assert_eq!(poll_once(&mut task), Poll::Ready(1));
}

#[test]
fn future_with_many_steps() {
    let _g = check_leaks();
    let queue = Queue::new();
    let steps = common::N;
    let (runnable, task) = rawtask::spawn(
        async move {
            for _ in 0..steps {
                common::yield_now().await;
            }
            steps
        },
        queue.schedule(),
    );
    runnable.schedule();
    let mut runs = 0;
    while let Some(runnable) = queue.pop() {
        runnable.run();
        runs += 1;
    }
    assert_eq!(runs, steps + 1);
    assert_eq!(queue.scheduled(), steps + 1);
    assert_eq!(block_on(task), steps);
}

#[test]
fn many_tasks_on_one_queue() {
    let _g = check_leaks();
    let queue = Queue::new();
    let tasks: Vec<_> = (0..common::N)
        .map(|i| {
            let (runnable, task) = rawtask::spawn(
                async move {
                    common::yield_now().await;
                    i * 2
                },
                queue.schedule(),
            );
            runnable.schedule();
            task
        })
        .collect();
    queue.run_all();
    let sum: usize = tasks.into_iter().map(block_on).sum();
    assert_eq!(sum, (0..common::N).map(|i| i * 2).sum());
}

#[test]
fn output_types() {
    let _g = check_leaks();
    let queue = Queue::new();

    let (r, t) = rawtask::spawn(async {}, queue.schedule());
    r.run();
    block_on(t);

    let (r, t) = rawtask::spawn(async { vec![1u8, 2, 3] }, queue.schedule());
    r.run();
    assert_eq!(block_on(t), [1, 2, 3]);

    let (r, t) = rawtask::spawn(
        async { Box::new(9u16) as Box<dyn std::any::Any + Send> },
        queue.schedule(),
    );
    r.run();
    assert_eq!(block_on(t).downcast_ref::<u16>(), Some(&9));

    #[derive(Debug, PartialEq)]
    #[repr(align(64))]
    struct Aligned(u8);
    let (r, t) = rawtask::spawn(async { Aligned(3) }, queue.schedule());
    r.run();
    let out = block_on(t);
    assert_eq!(out, Aligned(3));
    assert_eq!(&out as *const Aligned as usize % 64, 0);
}

#[test]
fn hand_written_future() {
    struct CountDown(u32);
    impl Future for CountDown {
        type Output = &'static str;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            if self.0 == 0 {
                Poll::Ready("liftoff")
            } else {
                self.0 -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(CountDown(3), queue.schedule());
    assert!(runnable.run(), "woken while running");
    while let Some(r) = queue.pop() {
        r.run();
    }
    assert_eq!(queue.scheduled(), 3);
    assert_eq!(block_on(task), "liftoff");
}

#[test]
fn builder_spawn_passes_the_metadata_to_the_constructor() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = Builder::new().metadata(21u32).spawn(
        |m: &u32| {
            let m = *m;
            async move { m * 2 }
        },
        queue.schedule(),
    );
    runnable.run();
    assert_eq!(block_on(task), 42);
}

#[test]
fn builder_default_is_new() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = Builder::new().spawn(|()| async { 'x' }, queue.schedule());
    runnable.run();
    assert_eq!(block_on(task), 'x');
}

#[test]
fn spawn_unchecked_may_borrow() {
    let _g = check_leaks();
    let queue = Queue::new();
    let mut log = Vec::new();
    {
        let log = &mut log;
        // SAFETY: the future borrows `log`, which outlives the task (it is run and awaited
        // inside this block); everything stays on this thread.
        let (runnable, task) = unsafe {
            rawtask::spawn_unchecked(
                async move {
                    log.push("polled");
                    log.len()
                },
                queue.schedule(),
            )
        };
        runnable.run();
        assert_eq!(block_on(task), 1);
    }
    assert_eq!(log, ["polled"]);
}

#[test]
fn spawn_unchecked_with_a_non_send_schedule_function() {
    let _g = check_leaks();
    let scheduled = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = scheduled.clone();
    // SAFETY: the schedule function is not Send or Sync, so every waker is used and dropped
    // on this thread.
    let (runnable, task) = unsafe {
        rawtask::spawn_unchecked(
            async {
                common::yield_now().await;
                "ok"
            },
            move |r: Runnable| sink.borrow_mut().push(r),
        )
    };
    assert!(runnable.run());
    let r = scheduled.borrow_mut().pop().unwrap();
    assert!(!r.run());
    assert_eq!(block_on(task), "ok");
}

#[test]
fn waker_from_runnable_schedules_an_idle_task() {
    let _g = check_leaks();
    let queue = Queue::new();
    let polled = Counter::new();
    let p = polled.clone();
    let (runnable, task) = rawtask::spawn(
        poll_fn(move |_| {
            p.inc();
            if p.get() < 2 {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }),
        queue.schedule(),
    );
    let waker = runnable.waker();
    runnable.run();
    assert_eq!(queue.scheduled(), 0);
    waker.wake();
    assert_eq!(queue.scheduled(), 1);
    queue.pop().unwrap().run();
    assert_eq!(polled.get(), 2);
    block_on(task);
}

#[test]
fn debug_formatting() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    let text = format!("{runnable:?} {task:?}");
    assert!(text.contains("Runnable"), "{text}");
    assert!(text.contains("Task"), "{text}");
    runnable.run();
    let fallible = task.fallible();
    assert!(format!("{fallible:?}").contains("Task"));
    assert_eq!(block_on(fallible), Some(()));
}

#[test]
fn state_shared_with_the_future() {
    let _g = check_leaks();
    let queue = Queue::new();
    let shared = Arc::new(Mutex::new(0));
    let s = shared.clone();
    let (runnable, task) = rawtask::spawn(
        async move {
            *s.lock().unwrap() += 1;
            common::yield_now().await;
            *s.lock().unwrap() += 1;
        },
        queue.schedule(),
    );
    runnable.run();
    assert_eq!(*shared.lock().unwrap(), 1);
    queue.run_all();
    assert_eq!(*shared.lock().unwrap(), 2);
    block_on(task);
    assert_eq!(Arc::strong_count(&shared), 1, "the future was dropped");
}
