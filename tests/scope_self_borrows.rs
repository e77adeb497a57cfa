//! `rawtask::scope`: a scoped task's future may hold a borrow of its own locals across an
//! `.await`, as ordinary async code does. The scope's wrappers must never take a shared
//! borrow of the whole task while that future is suspended: under Stacked Borrows (miri's
//! default model) that read would invalidate the future's borrow. These tests are meant for
//! miri; natively they check the outputs.

mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use common::scope::{spawner, yield_now};
use common::{check_leaks, Queue};
use rawtask::scope::ScopedSpawn;

/// Increments a local through a `&mut` held across two yields, then reports it.
async fn count_through_a_held_borrow(out: Arc<AtomicU32>) {
    let mut local = 0u32;
    let held = &mut local;
    yield_now().await;
    *held += 1;
    yield_now().await;
    *held += 1;
    out.store(local, SeqCst);
}

#[test]
fn a_leaf_with_signals() {
    let _g = check_leaks();
    let queue = Queue::new();
    let out = Arc::new(AtomicU32::new(0));
    let signals = spawner(&queue)
        .spawn_future_with_signal(count_through_a_held_borrow(out.clone()), || {})
        .unwrap();
    queue.run_all();
    assert_eq!(out.load(SeqCst), 2);
    drop(signals);
}

#[test]
fn a_leaf_without_signals() {
    let _g = check_leaks();
    let queue = Queue::new();
    let out = Arc::new(AtomicU32::new(0));
    spawner(&queue)
        .spawn_future(count_through_a_held_borrow(out.clone()), || {})
        .unwrap();
    queue.run_all();
    assert_eq!(out.load(SeqCst), 2);
}

#[test]
fn a_task_with_its_own_spawner() {
    let _g = check_leaks();
    let queue = Queue::new();
    let out = Arc::new(AtomicU32::new(0));
    let signals = spawner(&queue)
        .spawn_with_signal(
            {
                let out = out.clone();
                move |_children| count_through_a_held_borrow(out)
            },
            || {},
        )
        .unwrap();
    queue.run_all();
    assert_eq!(out.load(SeqCst), 2);
    drop(signals);
}
