//! Meta-tests: the checks every model relies on really fire.
//!
//! - loom's allocation tracker reports a task allocation that outlives the execution
//!   (rawtask allocates tasks through `loom::alloc` under `cfg(loom)`, see `src/sync.rs`).
//!   loom 0.7.2 panics "Allocation leaked" and then aborts the process (its allocation records
//!   panic again while being dropped during the unwind), so `#[should_panic]` cannot observe it
//!   in-process: each leak test re-runs this test binary on one `child_*` model and expects
//!   the child to die with "Allocation leaked" on stderr.
//! - a harness `Flag` read that is not ordered after its write is a causality violation.
#![cfg(loom)]

use std::process::Command;
use std::sync::Arc;

use loom_tests::{loom, Flag};

/// Set in the environment of a child run, so the `child_*` models only plant their leak there
/// (a plain `--ignored` run passes them harmlessly).
const CHILD: &str = "LOOM_TESTS_LEAK_CHILD";

fn expect_child_failure(child: &str, message: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            child,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the planted leak in {child} went unnoticed:\n{stderr}"
    );
    assert!(
        stderr.contains(message),
        "{child} failed, but not with {message:?}:\n{stderr}"
    );
}

fn planting() -> bool {
    std::env::var_os(CHILD).is_some()
}

#[test]
fn leak_check_fires_on_forgotten_runnable() {
    expect_child_failure("child_forgotten_runnable", "Allocation leaked");
}

#[test]
fn leak_check_fires_on_forgotten_task() {
    expect_child_failure("child_forgotten_task", "Allocation leaked");
}

#[test]
fn leak_check_fires_on_forgotten_waker() {
    expect_child_failure("child_forgotten_waker", "Allocation leaked");
}

#[test]
#[ignore = "a planted leak, run in a child process by leak_check_fires_on_forgotten_runnable"]
fn child_forgotten_runnable() {
    if !planting() {
        return;
    }
    loom::model(|| {
        let (runnable, task) = rawtask::spawn(async {}, |_: rawtask::Runnable| {});
        std::mem::forget(runnable);
        drop(task);
    });
}

#[test]
#[ignore = "a planted leak, run in a child process by leak_check_fires_on_forgotten_task"]
fn child_forgotten_task() {
    if !planting() {
        return;
    }
    loom::model(|| {
        let (runnable, task) = rawtask::spawn(async { 1 }, |_: rawtask::Runnable| {});
        std::mem::forget(task);
        runnable.run();
    });
}

#[test]
#[ignore = "a planted leak, run in a child process by leak_check_fires_on_forgotten_waker"]
fn child_forgotten_waker() {
    if !planting() {
        return;
    }
    loom::model(|| {
        let (runnable, task) =
            rawtask::spawn(std::future::pending::<()>(), |_: rawtask::Runnable| {});
        std::mem::forget(runnable.waker());
        runnable.run();
        drop(task);
    });
}

/// The same shapes without the planted leak pass: the check fires on the leak, not on the
/// shape.
#[test]
fn leak_check_passes_without_the_leak() {
    loom::model(|| {
        let (runnable, task) = rawtask::spawn(async { 1 }, |_: rawtask::Runnable| {});
        let waker = runnable.waker();
        runnable.run();
        drop(waker);
        assert_eq!(loom::future::block_on(task), 1);
    });
}

#[test]
#[should_panic(expected = "Causality violation")]
fn causality_check_fires_on_unsynchronised_flag() {
    loom::model(|| {
        let flag = Arc::new(Flag::new());
        let f = flag.clone();
        let t = loom::thread::spawn(move || f.set());
        let _ = flag.get();
        t.join().unwrap();
    });
}
