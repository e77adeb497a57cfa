//! Meta-tests: the checks every model relies on really fire.
//!
//! - loom's allocation tracker reports a task allocation that outlives the execution
//!   (rawtask allocates tasks through `loom::alloc` under `cfg(loom)`, see `src/sync.rs`);
//! - a harness `Flag` read that is not ordered after its write is a causality violation.
#![cfg(loom)]

use std::sync::Arc;

use loom_tests::{loom, Flag};

#[test]
#[should_panic(expected = "Allocation leaked")]
fn leak_check_fires_on_forgotten_runnable() {
    loom::model(|| {
        let (runnable, task) = rawtask::spawn(async {}, |_: rawtask::Runnable| {});
        std::mem::forget(runnable);
        drop(task);
    });
}

#[test]
#[should_panic(expected = "Allocation leaked")]
fn leak_check_fires_on_forgotten_task() {
    loom::model(|| {
        let (runnable, task) = rawtask::spawn(async { 1 }, |_: rawtask::Runnable| {});
        std::mem::forget(task);
        runnable.run();
    });
}

#[test]
#[should_panic(expected = "Allocation leaked")]
fn leak_check_fires_on_forgotten_waker() {
    loom::model(|| {
        let (runnable, task) =
            rawtask::spawn(std::future::pending::<()>(), |_: rawtask::Runnable| {});
        std::mem::forget(runnable.waker());
        runnable.run();
        drop(task);
    });
}

#[test]
fn leak_check_passes_on_a_clean_task() {
    loom::model(|| {
        let (runnable, task) = rawtask::spawn(async { 1 }, |_: rawtask::Runnable| {});
        runnable.run();
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
