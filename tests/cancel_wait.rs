//! Waiting for a cancellation: the `wait_cancelled` futures (every waiter woken, cancel-safe),
//! `run_until_cancelled`, and the blocking waits.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{counting_waker, poll_with};
use rawtask::CancellationToken;

#[test]
fn every_waiter_is_woken_once() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let (waker, wakes) = counting_waker();
    let mut futures: Vec<_> = (0..common::N).map(|_| token.wait_cancelled()).collect();
    for future in &mut futures {
        assert!(poll_with(future, &waker).is_pending());
    }
    assert_eq!(wakes.get(), 0);
    token.cancel();
    assert_eq!(wakes.get(), common::N);
    for future in &mut futures {
        assert!(poll_with(future, &waker).is_ready());
    }
    token.cancel();
    assert_eq!(wakes.get(), common::N);
}

#[test]
fn waiters_on_descendants_are_woken_by_an_ancestor() {
    let _g = common::check_leaks();
    let root = CancellationToken::new();
    let child = root.child_token();
    let grandchild = child.child_token();
    let (waker, wakes) = counting_waker();
    let mut futures = [
        root.wait_cancelled(),
        child.wait_cancelled(),
        grandchild.wait_cancelled(),
        grandchild.wait_cancelled(),
    ];
    for future in &mut futures {
        assert!(poll_with(future, &waker).is_pending());
    }
    child.cancel();
    assert_eq!(wakes.get(), 3);
    assert!(poll_with(&mut futures[0], &waker).is_pending());
    root.cancel();
    assert_eq!(wakes.get(), 4);
    for future in &mut futures {
        assert!(poll_with(future, &waker).is_ready());
    }
}

#[test]
fn a_dropped_waiter_is_not_woken() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let (kept_waker, kept) = counting_waker();
    let (dropped_waker, dropped) = counting_waker();
    let mut keep = token.wait_cancelled();
    let mut gone = token.wait_cancelled();
    assert!(poll_with(&mut gone, &dropped_waker).is_pending());
    assert!(poll_with(&mut keep, &kept_waker).is_pending());
    drop(gone);
    token.cancel();
    assert_eq!((kept.get(), dropped.get()), (1, 0));
}

#[test]
fn the_latest_waker_is_the_one_woken() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let (first, first_wakes) = counting_waker();
    let (second, second_wakes) = counting_waker();
    let mut future = token.wait_cancelled();
    assert!(poll_with(&mut future, &first).is_pending());
    assert!(poll_with(&mut future, &second).is_pending());
    token.cancel();
    assert_eq!((first_wakes.get(), second_wakes.get()), (0, 1));
}

#[test]
fn waiters_coming_and_going_do_not_grow_the_token() {
    let token = CancellationToken::new();
    let (waker, _) = counting_waker();
    // Warm up the waiter slab's capacity.
    {
        let mut a = token.wait_cancelled();
        let mut b = token.wait_cancelled();
        assert!(poll_with(&mut a, &waker).is_pending());
        assert!(poll_with(&mut b, &waker).is_pending());
    }
    let _g = common::check_leaks();
    let mut long_lived = token.wait_cancelled();
    assert!(poll_with(&mut long_lived, &waker).is_pending());
    for _ in 0..common::N {
        let mut future = token.wait_cancelled();
        assert!(poll_with(&mut future, &waker).is_pending());
    }
    drop(long_lived);
}

#[test]
fn already_cancelled_is_ready_at_once() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    token.cancel();
    let (waker, wakes) = counting_waker();
    let mut future = token.wait_cancelled();
    assert!(poll_with(&mut future, &waker).is_ready());
    let mut owned = token.clone().wait_cancelled_owned();
    assert!(poll_with(&mut owned, &waker).is_ready());
    assert_eq!(wakes.get(), 0);
}

#[test]
fn owned_futures_are_static_and_woken() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let future = token.clone().wait_cancelled_owned();
    let waiter = common::spawn_tracked(move || common::block_on(future));
    token.cancel();
    waiter.join().unwrap();
}

#[test]
fn many_threads_waiting_all_wake() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let token = token.clone();
            common::spawn_tracked(move || {
                if i % 2 == 0 {
                    common::block_on(token.wait_cancelled());
                } else {
                    token.wait_blocking();
                }
                assert!(token.cancelled());
            })
        })
        .collect();
    token.cancel();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn a_panicking_waker_does_not_stop_the_others() {
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Bomb;
    impl Wake for Bomb {
        fn wake(self: Arc<Self>) {
            panic!("waker bomb");
        }
    }

    let root = CancellationToken::new();
    let child = root.child_token();
    let bomb = Waker::from(Arc::new(Bomb));
    let (waker, wakes) = counting_waker();
    let mut first = root.wait_cancelled();
    let mut exploding = root.wait_cancelled();
    let mut last = root.wait_cancelled();
    let mut in_child = child.wait_cancelled();
    assert!(poll_with(&mut first, &waker).is_pending());
    assert!(poll_with(&mut exploding, &bomb).is_pending());
    assert!(poll_with(&mut last, &waker).is_pending());
    assert!(poll_with(&mut in_child, &waker).is_pending());
    let payload = common::expect_panic(|| root.cancel());
    assert_eq!(common::panic_message(&*payload), "waker bomb");
    assert_eq!(wakes.get(), 3);
    assert!(child.cancelled());
}

#[test]
fn run_until_cancelled_returns_the_output() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    assert_eq!(
        common::block_on(token.run_until_cancelled(async { 7 })),
        Some(7)
    );
    assert_eq!(
        common::block_on(token.clone().run_until_cancelled_owned(async { 8 })),
        Some(8)
    );
}

#[test]
fn run_until_cancelled_stops_and_drops_the_future() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let probe = common::Probe::new();
    let (waker, wakes) = counting_waker();
    {
        let mut run = pin!(token.run_until_cancelled(probe.future(())));
        assert!(run
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker))
            .is_pending());
        assert_eq!(probe.polls(), 1);
        token.cancel();
        assert_eq!(wakes.get(), 1);
        assert_eq!(
            run.as_mut()
                .poll(&mut std::task::Context::from_waker(&waker)),
            Poll::Ready(None)
        );
        // No further poll of the inner future once cancelled.
        assert_eq!(probe.polls(), 1);
    }
    assert_eq!(probe.drops(), 1);
}

#[test]
fn run_until_cancelled_on_a_cancelled_token_never_polls() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    token.cancel();
    let probe = common::Probe::new();
    assert_eq!(
        common::block_on(token.run_until_cancelled(probe.ready(1))),
        None
    );
    assert_eq!(probe.polls(), 0);
    assert_eq!(probe.drops(), 1);
}

#[test]
fn run_until_cancelled_wakes_on_the_inner_future_too() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let probe = common::Probe::new();
    let (waker, _) = counting_waker();
    let mut run = pin!(token.run_until_cancelled(probe.future(5)));
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(run.as_mut().poll(&mut cx).is_pending());
    probe.complete();
    probe.waker().wake();
    assert_eq!(run.as_mut().poll(&mut cx), Poll::Ready(Some(5)));
}

#[test]
fn wait_timeout_times_out_then_sees_the_cancel() {
    let token = CancellationToken::new();
    let start = Instant::now();
    assert!(!token.wait_timeout(Duration::from_millis(20)));
    assert!(start.elapsed() >= Duration::from_millis(20));
    let remote = token.clone();
    let waiter = std::thread::spawn(move || remote.wait_timeout(Duration::from_secs(600)));
    token.cancel();
    assert!(waiter.join().unwrap());
    assert!(token.wait_timeout(Duration::ZERO));
    // A huge timeout does not overflow.
    assert!(token.wait_timeout(Duration::MAX));
}
