//! The tests' polling helpers (`common::wait_until`, `wait_for`): they return what the
//! awaited condition gives, look at least once, and fail with what they waited for instead of
//! hanging once their deadline has passed.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{check_leaks, expect_panic, panic_message, spawn_tracked, Counter};

#[test]
fn a_wait_returns_the_first_value_and_stops_attempting() {
    let _g = check_leaks();
    let attempts = Counter::new();
    let value = common::wait_for("the third attempt", || {
        attempts.inc();
        (attempts.get() == 3).then_some("third")
    });
    assert_eq!(value, "third");
    assert_eq!(attempts.get(), 3);
}

#[test]
fn a_zero_deadline_still_makes_one_attempt() {
    let _g = check_leaks();
    let attempts = Counter::new();
    let value = common::wait_for_within("one attempt", Duration::ZERO, || {
        attempts.inc();
        Some(7)
    });
    assert_eq!(value, 7);
    assert_eq!(attempts.get(), 1);
}

#[test]
fn a_wait_never_satisfied_fails_naming_what_it_waited_for() {
    let _g = check_leaks();
    let attempts = Counter::new();
    let payload = expect_panic(|| {
        common::wait_for_within("the moon", Duration::from_millis(10), || {
            attempts.inc();
            None::<()>
        })
    });
    assert_eq!(
        panic_message(&*payload),
        "timed out after 10ms waiting for the moon"
    );
    assert!(attempts.get() >= 1);
}

#[test]
fn wait_until_sees_what_another_thread_does() {
    let _g = check_leaks();
    let flag = Arc::new(AtomicBool::new(false));
    let setter = spawn_tracked({
        let flag = flag.clone();
        move || flag.store(true, SeqCst)
    });
    common::wait_until("the other thread's store", || flag.load(SeqCst));
    setter.join().unwrap();
}
