//! Drop guards: cancel on drop, unless disarmed.

mod common;

use rawtask::CancellationToken;

#[test]
fn dropping_the_guard_cancels() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let child = token.child_token();
    let guard = token.clone().drop_guard();
    assert!(!token.cancelled());
    drop(guard);
    assert!(token.cancelled() && child.cancelled());
}

#[test]
fn a_disarmed_guard_does_not_cancel() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let back = token.clone().drop_guard().disarm();
    assert!(!token.cancelled());
    back.cancel();
    assert!(token.cancelled());
}

#[test]
fn guard_refs() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let same = token.drop_guard_ref().disarm();
    assert!(!same.cancelled());
    {
        let _guard = token.drop_guard_ref();
    }
    assert!(token.cancelled());
}

#[test]
fn a_guard_cancels_during_a_panic() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let guarded = token.clone();
    common::expect_panic(move || {
        let _guard = guarded.drop_guard();
        panic!("unwinding");
    });
    assert!(token.cancelled());
}

#[test]
fn a_guard_wakes_waiters_on_another_thread() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let child = token.child_token();
    let waiter = common::spawn_tracked(move || common::block_on(child.wait_cancelled_owned()));
    let guard = token.drop_guard();
    drop(guard);
    waiter.join().unwrap();
}

#[test]
fn debug() {
    let token = CancellationToken::new();
    let guard = token.clone().drop_guard();
    assert!(format!("{guard:?}").starts_with("DropGuard"));
    assert!(format!("{:?}", token.drop_guard_ref()).starts_with("DropGuardRef"));
    let _ = guard.disarm();
}
