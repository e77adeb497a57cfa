//! Cancellation tokens when the global heap fails: `CancellationToken::try_new`,
//! `try_child_token` and `try_on_cancel`, and the C functions `rawtask_token_new`, `_child` and
//! `_on_cancel`, for every k from 1 to the scenario's number of allocation requests + 1, with
//! the k-th request of the test thread refused: each call succeeds or returns its error
//! (`NO_MEMORY` for C), nothing aborts, every allocation is freed (the leak check), and every
//! callback is dropped exactly once and run at most once — run exactly when the scenario got
//! as far as the cancel.

mod common;

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use common::{check_leaks, refusing_kth_allocation, Counter, DropProbe};
use rawtask::capi::{
    rawtask_clear_last_error, rawtask_last_error_message, rawtask_token_cancel,
    rawtask_token_child, rawtask_token_free, rawtask_token_new, rawtask_token_on_cancel,
    RawtaskStatus, RawtaskToken,
};
use rawtask::{CancellationToken, TryAllocError};

/// Callbacks the scenarios register.
const CALLBACKS: usize = 4;

/// What happened to the scenario's callbacks.
#[derive(Default)]
struct Books {
    made: Counter,
    ran: Counter,
    dropped: Counter,
}

impl Books {
    /// A callback that counts its run and its drop.
    fn callback(&self) -> impl FnOnce() + Send + 'static {
        self.made.inc();
        let probe = DropProbe::new(&self.dropped);
        let ran = self.ran.clone();
        move || {
            let _probe = probe;
            ran.inc();
        }
    }
}

/// A tree (root, two children, a grandchild, a child of a cancelled token), callbacks on
/// three levels and one registered after the cancel; cancels the root. Stops at the first
/// error.
fn tree(books: &Books) -> Result<(), TryAllocError> {
    let root = CancellationToken::try_new()?;
    let a = root.try_child_token()?;
    let b = root.try_child_token()?;
    let aa = a.try_child_token()?;
    let _on_root = root.try_on_cancel(books.callback())?;
    let _on_aa = aa.try_on_cancel(books.callback())?;
    let _on_b = b.try_on_cancel(books.callback())?;
    // Leaves before the cancel: its parent's list shrinks again.
    drop(b.try_child_token()?);
    root.cancel();
    assert!([&root, &a, &b, &aa].iter().all(|t| t.cancelled()));
    assert_eq!(books.ran.get(), 3);
    // Already cancelled: runs at once, allocating nothing.
    let _late = aa.try_on_cancel(books.callback())?;
    assert!(a.try_child_token()?.cancelled());
    Ok(())
}

#[test]
fn a_token_tree_reports_every_refused_allocation() {
    let (ok, requests) = refusing_kth_allocation(usize::MAX, || {
        let _g = check_leaks();
        let books = Books::default();
        let ok = tree(&books).is_ok();
        drop(books);
        ok
    });
    assert!(ok);
    assert!(requests >= 6, "{requests} requests");
    let mut completed = 0;
    for k in 1..=requests + 1 {
        let _g = check_leaks();
        let books = Books::default();
        let (result, _) = refusing_kth_allocation(k, || tree(&books));
        match &result {
            Ok(()) => {
                completed += 1;
                assert_eq!(books.ran.get(), CALLBACKS, "k = {k}");
            }
            Err(error) => {
                assert!(k <= requests, "k = {k}: {error}");
                // Failed before the cancel (nothing ran), or after it.
                assert!(matches!(books.ran.get(), 0 | 3 | 4), "k = {k}");
                assert!(error
                    .to_string()
                    .starts_with("rawtask: could not allocate "));
            }
        }
        assert_eq!(
            books.dropped.get(),
            books.made.get(),
            "k = {k}: callbacks dropped"
        );
        assert!(books.ran.get() <= books.made.get(), "k = {k}");
        drop(books);
    }
    // The last run, and the runs whose refused request was the cancel's walk stack (the
    // walk goes on without it).
    assert!(completed >= 2, "{completed} runs completed");
}

#[test]
fn cancel_walks_a_tree_without_its_stack() {
    let _g = check_leaks();
    /// A tree of 17 tokens, each node `i` a child of node `i / 2`.
    fn tree() -> Vec<CancellationToken> {
        let mut nodes = vec![CancellationToken::new()];
        for i in 1..17 {
            let child = nodes[i / 2].child_token();
            nodes.push(child);
        }
        nodes
    }
    let ((), requests) = refusing_kth_allocation(usize::MAX, || tree()[0].cancel());
    assert!(requests >= 1, "the walk allocates its stack");
    // Each of the cancel's requests refused in turn: it never fails, never aborts.
    for k in 1..=requests + 1 {
        let nodes = tree();
        refusing_kth_allocation(k, || nodes[0].cancel());
        assert!(nodes.iter().all(CancellationToken::cancelled), "k = {k}");
    }
}

// ---------------------------------------------------------------------------------------
// Through the C ABI
// ---------------------------------------------------------------------------------------

/// `[calls with cancelled = false, calls with cancelled = true]`.
#[derive(Default)]
struct Calls([AtomicUsize; 2]);

unsafe extern "C" fn count(context: *mut c_void, cancelled: bool) {
    // SAFETY: the test passes a live `Calls`.
    let calls = unsafe { &*context.cast::<Calls>() };
    calls.0[usize::from(cancelled)].fetch_add(1, SeqCst);
}

/// The C scenario: a token, a child, a callback on each, cancel, free. Returns the first
/// status that is not `OK`, with the handles made so far freed.
fn c_tree(calls: &Calls) -> RawtaskStatus {
    let context = (calls as *const Calls).cast_mut().cast::<c_void>();
    // An array, not a `Vec`: the test's own allocations would be refused too.
    let mut made = [RawtaskToken::NULL; 2];
    let status = (|| {
        let mut root = RawtaskToken::NULL;
        // SAFETY: `root` is writable.
        let status = unsafe { rawtask_token_new(&mut root) };
        if status != RawtaskStatus::Ok {
            assert!(root.is_null(), "no handle on failure");
            return status;
        }
        made[0] = root;
        let mut child = RawtaskToken::NULL;
        // SAFETY: `child` is writable.
        let status = unsafe { rawtask_token_child(root, &mut child) };
        if status != RawtaskStatus::Ok {
            assert!(child.is_null(), "no handle on failure");
            return status;
        }
        made[1] = child;
        for token in [root, child] {
            // SAFETY: `count` may be called once with `context`, from any thread.
            let status = unsafe { rawtask_token_on_cancel(token, Some(count), context) };
            if status != RawtaskStatus::Ok {
                return status;
            }
        }
        rawtask_token_cancel(root)
    })();
    for token in made.into_iter().filter(|token| !token.is_null()) {
        assert_eq!(rawtask_token_free(token), RawtaskStatus::Ok);
    }
    status
}

/// The last error's message, cleared.
fn take_message() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is writable for its length.
    let written = unsafe { rawtask_last_error_message(buffer.as_mut_ptr().cast(), 256) };
    rawtask_clear_last_error();
    let len = usize::try_from(written).unwrap_or(0).min(256);
    String::from_utf8_lossy(&buffer[..len])
        .trim_end_matches('\0')
        .to_owned()
}

#[test]
fn c_tokens_return_no_memory() {
    // The handle table keeps what it grew to, and the last error its slot: grow both first.
    let calls = Calls::default();
    for _ in 0..2 {
        assert_eq!(c_tree(&calls), RawtaskStatus::Ok);
    }
    let _ = rawtask_token_free(RawtaskToken::NULL);
    rawtask_clear_last_error();
    let (status, requests) = refusing_kth_allocation(usize::MAX, || {
        let _g = check_leaks();
        let calls = Calls::default();
        c_tree(&calls)
    });
    assert_eq!(status, RawtaskStatus::Ok);
    let mut refused = 0;
    for k in 1..=requests + 1 {
        let _g = check_leaks();
        let calls = Calls::default();
        let (status, _) = refusing_kth_allocation(k, || c_tree(&calls));
        let [uncancelled, cancelled] = [0, 1].map(|i| calls.0[i].load(SeqCst));
        match status {
            RawtaskStatus::Ok => assert_eq!((uncancelled, cancelled), (0, 2), "k = {k}"),
            RawtaskStatus::NoMemory => {
                refused += 1;
                let message = take_message();
                assert!(
                    message.starts_with("rawtask: could not allocate "),
                    "k = {k}: {message:?}"
                );
                // Registered callbacks were called once each, as the handles were freed.
                assert_eq!(cancelled, 0, "k = {k}");
                assert!(uncancelled <= 1, "k = {k}");
            }
            other => panic!("k = {k}: {other:?}"),
        }
    }
    assert!(
        refused >= 3,
        "{refused} of {requests} requests refused as NO_MEMORY"
    );
}

/// A wait future whose first pending poll cannot store its waker (the heap refuses the slot)
/// stays pending and wakes itself instead of aborting; the next poll registers, and a cancel
/// then wakes it and makes it ready.
#[test]
fn a_wait_that_cannot_store_its_waker_asks_to_be_polled_again() {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    let _g = check_leaks();
    let wakes = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let token = CancellationToken::new();
    let mut wait = Box::pin(token.wait_cancelled());

    // The first request of the poll is the list's slot: refused.
    let (first, requests) = refusing_kth_allocation(1, || wait.as_mut().poll(&mut cx));
    assert!(first.is_pending());
    assert!(requests >= 1, "the poll asked for the slot");
    assert_eq!(
        wakes.0.load(SeqCst),
        1,
        "a refused registration wakes the task"
    );

    assert!(wait.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        wakes.0.load(SeqCst),
        1,
        "a stored registration does not wake"
    );
    token.cancel();
    assert_eq!(wakes.0.load(SeqCst), 2, "the cancel wakes the stored waker");
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
}
