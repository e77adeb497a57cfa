//! Raw rules 1 and 3 for an output with no destructor (`()`, a scoped leaf's): nobody needs to
//! read or drop it, so a completion that nobody will take it from releases the `Runnable`'s
//! reference in the completion step itself, and a `Task` detached or dropped after completion
//! marks the output taken and lets go of its handle in one step (`State::completed`,
//! `StateCell::detach` with `plain_output`). A panic payload has a destructor: it still takes
//! the two steps. Each model keeps a waker (another reference) alive across the step, released
//! on another thread, so loom tries the one-step path, the alone path and the other owner
//! freeing the task; loom's allocation tracker fails the model on a leaked task, and the
//! payload models count the payload's drops. (The awaiter side, a done receiver waiting for
//! such a completion, is `scope.rs`'s `leaf_*` models.)
#![cfg(loom)]

use loom::thread;
use loom_tests::{deep, get, model, Harness, Kind};
use rawtask::{Builder, Runnable, Task};

/// The task of a model: a `()` future ready at once, or (`panics`) one that panics on its
/// first poll (the harness's `Kind::Panic1`, whose payload counts its drops), the payload
/// stored as the output.
fn unit_task(h: &Harness, panics: bool) -> (Runnable, Task<()>) {
    if !panics {
        return rawtask::spawn(async {}, |_: Runnable| {});
    }
    let future = h.future(Kind::Panic1);
    Builder::new().propagate_panic(true).spawn(
        move |()| async move {
            drop(future.await);
        },
        |_: Runnable| {},
    )
}

/// A panicking model's payload was dropped exactly once.
fn check_payload(h: &Harness, panics: bool) {
    if panics {
        assert_eq!(
            get(&h.counters.panic_drops),
            1,
            "the payload was not dropped once"
        );
    }
}

/// A detached task completes while its only waker is dropped on another thread: the
/// completion finds the waker's reference and releases its own in the same step (or finds
/// itself alone); whichever goes last frees the task.
fn detached_completion_vs_waker_drop(name: &str, panics: bool) {
    model(name, deep(), move || {
        let h = Harness::new();
        let (r, t) = unit_task(&h, panics);
        let w = r.waker();
        t.detach();
        let dropper = thread::spawn(move || drop(w));
        r.run();
        dropper.join().unwrap();
        check_payload(&h, panics);
    });
}

/// The `Task` is detached while the runner completes the task on another thread and a waker
/// stays alive: after the completion, the detach marks the output taken and clears TASK in one
/// step; before it, the completion releases in one step. The waker frees the task last.
fn task_detach_vs_completion(name: &str, panics: bool) {
    model(name, deep(), move || {
        let h = Harness::new();
        let (r, t) = unit_task(&h, panics);
        let w = r.waker();
        let runner = thread::spawn(move || {
            r.run();
        });
        t.detach();
        runner.join().unwrap();
        drop(w);
        check_payload(&h, panics);
    });
}

#[test]
fn plain_output_detached_completion_vs_waker_drop() {
    detached_completion_vs_waker_drop("plain_output_detached_completion_vs_waker_drop", false);
}

#[test]
fn plain_output_task_detach_vs_completion() {
    task_detach_vs_completion("plain_output_task_detach_vs_completion", false);
}

/// The payload is not plain: the completion drops it before releasing, exactly once.
#[test]
fn plain_output_panic_detached_completion_vs_waker_drop() {
    detached_completion_vs_waker_drop("plain_output_panic_detached_completion_vs_waker_drop", true);
}

/// The payload is not plain: a detach after the completion moves it out and drops it.
#[test]
fn plain_output_panic_task_detach_vs_completion() {
    task_detach_vs_completion("plain_output_panic_task_detach_vs_completion", true);
}

/// The `Task` of a `()` task is dropped while the runner completes it and then drops the last
/// waker: the drop's step may find the references gone between its load and its
/// compare-exchange, and then frees the task itself (`Detach::Destroy`).
#[test]
fn plain_output_task_drop_vs_completion_and_waker_drop() {
    model(
        "plain_output_task_drop_vs_completion_and_waker_drop",
        deep(),
        || {
            let h = Harness::new();
            let (r, t) = unit_task(&h, false);
            let w = r.waker();
            let runner = thread::spawn(move || {
                r.run();
                drop(w);
            });
            drop(t);
            runner.join().unwrap();
        },
    );
}
