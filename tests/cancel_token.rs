//! `CancellationToken` basics: checking, cloning, `is_done`, the auto traits, and that a check
//! never allocates.

mod common;

use rawtask::cancel::{CancellationToken, Cancelled};

#[test]
fn a_new_token_is_not_cancelled() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    assert!(!token.cancelled());
    assert!(!token.is_cancelled());
    assert_eq!(token.is_done(), Ok(()));
    assert!(!CancellationToken::default().cancelled());
}

#[test]
fn cancel_is_seen_by_every_clone_and_is_idempotent() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let clones: Vec<_> = (0..10).map(|_| token.clone()).collect();
    clones[3].cancel();
    assert!(token.cancelled());
    assert!(clones.iter().all(CancellationToken::cancelled));
    token.cancel();
    token.cancel();
    assert_eq!(token.is_done(), Err(Cancelled));
}

#[test]
fn cancellation_survives_dropping_the_canceller() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let other = token.clone();
    other.cancel();
    drop(other);
    assert!(token.cancelled());
}

#[test]
fn checking_never_allocates() {
    let token = CancellationToken::new();
    let child = token.child_token();
    let (_, allocations) = common::count_allocations(|| {
        for _ in 0..common::N {
            assert!(!token.cancelled());
            assert!(!child.is_cancelled());
            assert!(child.is_done().is_ok());
        }
    });
    assert_eq!(allocations, 0);
    token.cancel(); // (a cancel that walks children may allocate its work list)
    let (_, allocations) = common::count_allocations(|| {
        for _ in 0..common::N {
            assert!(child.cancelled());
            assert!(token.is_done().is_err());
        }
    });
    assert_eq!(allocations, 0);
}

#[test]
fn a_token_is_one_allocation_and_clones_are_free() {
    let _g = common::check_leaks();
    let (token, allocations) = common::count_allocations(CancellationToken::new);
    assert_eq!(allocations, 1);
    let (clone, allocations) = common::count_allocations(|| token.clone());
    assert_eq!(allocations, 0);
    drop((token, clone));
}

#[test]
fn cancelled_displays_like_ffi_helpers() {
    assert_eq!(Cancelled.to_string(), "The task was cancelled");
    let error: Box<dyn std::error::Error + Send + Sync> = Cancelled.into();
    assert!(error.is::<Cancelled>());
}

#[test]
fn cancel_from_another_thread_is_seen() {
    let _g = common::check_leaks();
    let token = CancellationToken::new();
    let remote = token.clone();
    common::spawn_tracked(move || remote.cancel())
        .join()
        .unwrap();
    assert!(token.cancelled());
}

#[test]
fn writes_before_cancel_are_visible_after_seeing_it() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;

    let _g = common::check_leaks();
    for _ in 0..if cfg!(miri) { 5 } else { 100 } {
        let token = CancellationToken::new();
        let data = Arc::new(AtomicUsize::new(0));
        let (remote, written) = (token.clone(), data.clone());
        let writer = common::spawn_tracked(move || {
            written.store(42, Relaxed);
            remote.cancel();
        });
        common::wait_until("the writer's cancel", || token.cancelled());
        assert_eq!(data.load(Relaxed), 42);
        writer.join().unwrap();
    }
}

#[test]
fn auto_traits() {
    fn send_sync_clone<T: Send + Sync + Clone + Unpin + 'static>() {}
    send_sync_clone::<CancellationToken>();
    fn send_sync<T: Send + Sync>() {}
    send_sync::<rawtask::cancel::DropGuard>();
    send_sync::<rawtask::cancel::WaitForCancellationFutureOwned>();
    send_sync::<rawtask::cancel::WaitForCancellationFuture<'static>>();
    send_sync::<Cancelled>();
}

#[test]
fn debug_shows_the_state() {
    let token = CancellationToken::new();
    assert_eq!(
        format!("{token:?}"),
        "CancellationToken { is_cancelled: false }"
    );
    token.cancel();
    assert_eq!(
        format!("{token:?}"),
        "CancellationToken { is_cancelled: true }"
    );
}
