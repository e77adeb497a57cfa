//! `#[async_ffi]` moves the arguments into the future and drops them exactly when and in the
//! order an `async fn` with the same signature drops them: compared side by side, for a future
//! dropped before its first poll, one dropped while suspended, and one run to completion.

// Tests may use newer Rust than the crate's MSRV (1.70); see the README.
#![allow(clippy::incompatible_msrv)]

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use rawtask::ffi::async_ffi;

type Log = Rc<RefCell<Vec<String>>>;

/// Logs its name when dropped.
struct D(&'static str, Log);

impl Drop for D {
    fn drop(&mut self) {
        self.1.borrow_mut().push(format!("drop {}", self.0));
    }
}

/// Pending once, then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

macro_rules! pair {
    ($native:ident, $ffi:ident, ($($params:tt)*) $body:block) => {
        #[allow(unused_variables, clippy::unused_async, clippy::toplevel_ref_arg)]
        async fn $native($($params)*) -> usize $body

        #[async_ffi(?Send)]
        #[allow(unused_variables)]
        async fn $ffi($($params)*) -> usize $body
    };
}

pair!(native, ffi, (a: D, (b, _): (D, D), _: D, mut c: D, ref d: D, log: Log) {
    let local = D("local", log.clone());
    log.borrow_mut().push("body start".into());
    YieldOnce(false).await;
    c.0 = "c'";
    log.borrow_mut().push(format!("body end {}", d.0));
    // A temporary in the tail expression.
    D("temp", log.clone()).0.len() + local.0.len()
});

fn args(log: &Log) -> (D, (D, D), D, D, D, Log) {
    (
        D("a", log.clone()),
        (D("b", log.clone()), D("b_", log.clone())),
        D("_", log.clone()),
        D("c", log.clone()),
        D("d", log.clone()),
        log.clone(),
    )
}

/// Runs `make`'s future with `polls` polls (or to completion with `None`), then drops it, and
/// returns the log.
fn scenario<F: Future<Output = usize>>(
    make: impl FnOnce(&Log) -> F,
    polls: Option<usize>,
) -> Vec<String> {
    let log: Log = Rc::default();
    let future = make(&log);
    log.borrow_mut().push("made".into());
    let mut future = Box::pin(future);
    let mut cx = Context::from_waker(Waker::noop());
    match polls {
        Some(n) => {
            for _ in 0..n {
                assert!(future.as_mut().poll(&mut cx).is_pending());
            }
        }
        None => loop {
            if let Poll::Ready(n) = future.as_mut().poll(&mut cx) {
                log.borrow_mut().push(format!("ready {n}"));
                break;
            }
        },
    }
    drop(future);
    log.borrow_mut().push("dropped".into());
    let out = log.borrow().clone();
    out
}

#[test]
fn dropped_before_the_first_poll() {
    let native = scenario(
        |log| {
            let (a, b, u, c, d, l) = args(log);
            native(a, b, u, c, d, l)
        },
        Some(0),
    );
    let ffi = scenario(
        |log| {
            let (a, b, u, c, d, l) = args(log);
            ffi(a, b, u, c, d, l)
        },
        Some(0),
    );
    assert_eq!(ffi, native);
    // The arguments live in the future until it is dropped.
    assert_eq!(
        native.first().map(String::as_str),
        Some("made"),
        "{native:?}"
    );
    assert_eq!(
        native.last().map(String::as_str),
        Some("dropped"),
        "{native:?}"
    );
    assert_eq!(native.len(), 8, "{native:?}");
}

#[test]
fn dropped_while_suspended() {
    let native = scenario(
        |log| {
            let (a, b, u, c, d, l) = args(log);
            native(a, b, u, c, d, l)
        },
        Some(1),
    );
    let ffi = scenario(
        |log| {
            let (a, b, u, c, d, l) = args(log);
            ffi(a, b, u, c, d, l)
        },
        Some(1),
    );
    assert_eq!(ffi, native);
}

#[test]
fn run_to_completion() {
    let native = scenario(
        |log| {
            let (a, b, u, c, d, l) = args(log);
            native(a, b, u, c, d, l)
        },
        None,
    );
    let ffi = scenario(
        |log| {
            let (a, b, u, c, d, l) = args(log);
            ffi(a, b, u, c, d, l)
        },
        None,
    );
    assert_eq!(ffi, native);
    assert!(native.contains(&"drop c'".to_string()), "{native:?}");
}

// The other forms compile and run.

#[async_ffi]
async fn sendable(x: u32) -> u32 {
    x + 1
}

#[async_ffi('fut)]
async fn borrowing(x: &'fut str, y: &'fut str) -> usize {
    x.len() + y.len()
}

#[async_ffi('fut, ?Send)]
async fn both<'a: 'fut>(x: &'a Rc<u32>) -> u32 {
    **x
}

#[async_ffi(crate = ::rawtask)]
async fn question_mark(s: String) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n * 2)
}

#[async_ffi]
async fn unit() {}

/// An exported `async extern "C"` function, declared again below as a foreign function.
#[async_ffi]
#[no_mangle]
pub async extern "C" fn rawtask_macros_test_export(x: u64) -> u64 {
    x * 3
}

#[async_ffi]
async fn early_return(x: u32) -> u32 {
    if x > 10 {
        return 10;
    }
    x
}

#[async_ffi]
async fn generic<T: Send + 'static + std::fmt::Display>(x: T) -> String {
    x.to_string()
}

mod declared {
    use rawtask::ffi::async_ffi;
    extern "C" {
        #[async_ffi]
        pub async fn rawtask_macros_test_export(x: u64) -> u64;
    }
}

#[test]
fn every_form_works() {
    use futures_lite::future::block_on;
    let future: rawtask::ffi::FfiFuture<u32> = sendable(1);
    drop(future);
    assert_eq!(block_on(sendable(1)), 2);
    assert_eq!(block_on(borrowing("ab", "c")), 3);
    assert_eq!(block_on(both(&Rc::new(7))), 7);
    assert_eq!(block_on(question_mark("21".into())), Ok(42));
    assert!(block_on(question_mark("x".into())).is_err());
    block_on(unit());
    assert_eq!(block_on(rawtask_macros_test_export(5)), 15);
    // SAFETY: the declaration matches the definition above, exported from this test binary.
    let declared = unsafe { declared::rawtask_macros_test_export(2) };
    assert_eq!(block_on(declared), 6);
    assert_eq!(block_on(early_return(50)), 10);
    assert_eq!(block_on(generic(5u8)), "5");
}
