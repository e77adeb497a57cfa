//! Tasks whose output has no destructor (`()`, a scoped leaf's): the completion that nobody
//! will take the output from, and the `Task` detach or drop after completion, each let go of
//! their reference or handle in the same step as marking the output taken. These race that
//! step against the other owner's release on another thread; the leak check, miri (in the CI's
//! concurrency list: a use-after-free or double free of the task) and the sanitizers check
//! that exactly one side frees the task. A panic payload has a destructor and is dropped once.

mod common;

use std::sync::{Arc, Barrier};

use common::{block_on, check_leaks, quietly, spawn_tracked, Counter, DropProbe};
use rawtask::scope::{ForgettableSignalSender, ScopedSpawn, ScopedSpawner};
use rawtask::{Builder, Runnable};

/// Rounds per test: each is one race; miri runs this file under nine schedules (CI's
/// concurrency list), so a few rounds there.
const N: usize = if cfg!(miri) { 4 } else { 1000 };

/// Runs `here` on this thread and `there` on another, started together.
fn race(here: impl FnOnce(), there: impl FnOnce() + Send + 'static) {
    let start = Arc::new(Barrier::new(2));
    let other = {
        let start = start.clone();
        spawn_tracked(move || {
            start.wait();
            there();
        })
    };
    start.wait();
    here();
    other.join().unwrap();
}

/// A `()` task whose future panics with a payload that counts its drop.
fn panicking_task(drops: &Counter) -> (Runnable, rawtask::Task<()>) {
    let payload = DropProbe::new(drops);
    Builder::new().propagate_panic(true).spawn(
        move |()| async move { std::panic::panic_any(payload) },
        |_: Runnable| {},
    )
}

/// The task of a test: `()` at once, or (with `drops`) a panic with a counted payload.
fn task(drops: Option<&Counter>) -> (Runnable, rawtask::Task<()>) {
    match drops {
        None => rawtask::spawn(async {}, |_: Runnable| {}),
        Some(drops) => panicking_task(drops),
    }
}

/// Each round: a detached task completes while its last waker drops on another thread.
fn detached_completion_vs_last_waker_drop(drops: Option<&Counter>) {
    for round in 1..=N {
        let (runnable, task) = task(drops);
        let waker = runnable.waker();
        task.detach();
        race(
            || {
                quietly(|| runnable.run());
            },
            move || drop(waker),
        );
        if let Some(drops) = drops {
            assert_eq!(drops.get(), round, "the payload was not dropped once");
        }
    }
}

/// Each round: the `Task` is detached while the task completes on another thread, a waker
/// alive until both are done.
fn detach_vs_completion(drops: Option<&Counter>) {
    for round in 1..=N {
        let (runnable, task) = task(drops);
        let waker = runnable.waker();
        race(
            move || task.detach(),
            move || {
                quietly(|| runnable.run());
            },
        );
        drop(waker);
        if let Some(drops) = drops {
            assert_eq!(drops.get(), round, "the payload was not dropped once");
        }
    }
}

#[test]
fn a_detached_unit_task_completes_while_its_last_waker_drops() {
    let _g = check_leaks();
    detached_completion_vs_last_waker_drop(None);
}

#[test]
fn a_unit_task_is_detached_while_it_completes_and_a_waker_lives_on() {
    let _g = check_leaks();
    detach_vs_completion(None);
}

#[test]
fn a_detached_unit_task_that_panicked_drops_its_payload_once() {
    let _g = check_leaks();
    detached_completion_vs_last_waker_drop(Some(&Counter::new()));
}

#[test]
fn a_unit_task_that_panicked_and_is_detached_meanwhile_drops_its_payload_once() {
    let _g = check_leaks();
    detach_vs_completion(Some(&Counter::new()));
}

#[test]
fn a_unit_task_is_dropped_while_it_completes_and_its_last_waker_drops() {
    let _g = check_leaks();
    for _ in 0..N {
        let (runnable, task) = task(None);
        let waker = runnable.waker();
        race(
            move || drop(task),
            move || {
                runnable.run();
                drop(waker);
            },
        );
    }
}

/// The scoped leaf whose cancel sender is forgotten at once (the `Task` detached before the
/// run): its completion finds only the done receiver's reference and releases its own in the
/// completion step, while the receiver is awaited on another thread.
#[test]
fn a_leaf_forgotten_at_spawn_signals_done_to_a_receiver_on_another_thread() {
    let _g = check_leaks();
    let (sender, receiver) = flume::unbounded::<Runnable>();
    let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    for _ in 0..N {
        let signals = spawner.spawn_future_with_signal(async {}, || {}).unwrap();
        signals.cancel_sender.forget();
        let done = signals.done_receiver;
        let runnable = receiver.recv().unwrap();
        race(
            move || block_on(done),
            move || {
                runnable.run();
            },
        );
    }
}
