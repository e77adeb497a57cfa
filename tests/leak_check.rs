//! Self-tests of the support code in `common`: the leak check must catch leaks (on the
//! test thread and on tracked threads), must not report freed memory or allocations moved
//! between threads, and `count_allocations` must count.

mod common;

use std::thread;

use common::{check_leaks, count_allocations, expect_panic, panic_message, spawn_tracked};

#[test]
fn leak_on_the_test_thread_is_detected() {
    // The outer guard keeps the other tests of this file out until the leak is freed.
    let _outer = check_leaks();
    let mut leaked: *mut u64 = std::ptr::null_mut();
    let payload = expect_panic(|| {
        let guard = check_leaks();
        leaked = Box::into_raw(Box::new(7u64));
        drop(guard);
    });
    assert!(
        panic_message(&*payload).contains("leak check: 1 heap allocation"),
        "unexpected message: {:?}",
        panic_message(&*payload)
    );
    // Free it now so that the process (and Miri's leak detector) end clean.
    assert!(!leaked.is_null());
    // SAFETY: `leaked` came from `Box::into_raw` above and was not freed.
    drop(unsafe { Box::from_raw(leaked) });
}

#[test]
fn leak_on_a_tracked_thread_is_detected() {
    let _outer = check_leaks();
    let payload = expect_panic(|| {
        let guard = check_leaks();
        let leaked = spawn_tracked(|| common::SendPtr(Box::into_raw(Box::new([1u8; 24]))))
            .join()
            .unwrap();
        // Smuggle the pointer out through a thread-local so that it can be freed after the
        // guard panicked.
        LEAKED.with(|l| l.set(leaked.0));
        drop(guard);
    });
    assert!(panic_message(&*payload).contains("leak check"));
    let leaked = LEAKED.with(|l| l.replace(std::ptr::null_mut()));
    // SAFETY: allocated by `Box::into_raw` on the tracked thread and not freed.
    drop(unsafe { Box::from_raw(leaked) });
}

thread_local! {
    static LEAKED: std::cell::Cell<*mut [u8; 24]> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

#[test]
fn freed_memory_passes() {
    let _g = check_leaks();
    let mut v = Vec::new();
    for i in 0..common::N {
        v.push(Box::new(i));
    }
    v.shrink_to_fit();
    let s: String = (0..100)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    assert_eq!(s.len(), 100);
    drop(v);
}

#[test]
fn memory_moved_between_threads_passes() {
    let _g = check_leaks();
    let (tx, rx) = flume::unbounded::<Vec<u8>>();
    // Allocated on a tracked thread, freed on the test thread.
    let t = spawn_tracked(move || {
        for i in 0..10 {
            tx.send(vec![i; 100]).unwrap();
        }
    });
    let total: usize = rx.iter().map(|v| v.len()).sum();
    t.join().unwrap();
    assert_eq!(total, 1000);

    // Allocated on the test thread, freed on a tracked thread (inside a scope).
    let b = Box::new(5u32);
    // Scoped threads must be joined explicitly: `thread::scope` returns when their closures
    // have returned, which can be before the threads have exited and freed their handles.
    thread::scope(|s| {
        s.spawn(|| common::tracked(move || drop(b))).join().unwrap();
    });
}

#[test]
fn expected_panics_do_not_leak() {
    let _g = check_leaks();
    let payload = expect_panic(|| panic!("boom {}", 42));
    assert_eq!(panic_message(&*payload), "boom 42");
    let payload = spawn_tracked(|| expect_panic(|| panic!("{}", String::from("far"))))
        .join()
        .unwrap();
    assert_eq!(panic_message(&*payload), "far");
}

#[test]
fn allocations_are_counted() {
    let _g = check_leaks();
    let (b, n) = count_allocations(|| Box::new(1u64));
    assert_eq!(n, 1);
    let ((), n) = count_allocations(|| drop(b));
    assert_eq!(n, 0);
    let (v, n) = count_allocations(|| (vec![0u8; 10], String::from("x")));
    assert_eq!(n, 2);
    drop(v);
    let ((), n) = count_allocations(|| ());
    assert_eq!(n, 0);
}

#[test]
fn block_on_and_helpers_work() {
    let _g = check_leaks();
    assert_eq!(
        common::block_on(async {
            common::yield_now().await;
            5
        }),
        5
    );
    let (waker, wakes) = common::counting_waker();
    waker.wake_by_ref();
    let clone = waker.clone();
    clone.wake();
    assert_eq!(wakes.get(), 2);
}
