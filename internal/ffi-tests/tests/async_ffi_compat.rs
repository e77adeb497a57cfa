//! rawtask::ffi and async-ffi 0.5.1 exchange futures through the C ABI, in both directions.
//!
//! Each "plugin" function below is defined with one crate's types and called through an
//! `extern "C"` declaration (`link_name`) written with the other crate's types, exactly what
//! happens when a host and a plugin built against different crates meet at a library
//! boundary. Every future is awaited with wakers of both kinds: inside a rawtask task (the
//! task pointer is the FFI waker) and with `futures_lite::future::block_on` (a foreign Rust
//! waker, lent on the stack and boxed when cloned); both pending (woken from another thread)
//! and ready; with outputs of several shapes, which checks the return ABI of the poll
//! function (`FfiPoll<T>` against rawtask's raw tag and payload).
//!
//! Not under Miri: Miri's ABI check is nominal (two distinct `repr(C)` types of identical
//! layout are "incompatible" to it), so it rejects what this test shows to work.
#![cfg(not(miri))]
#![allow(improper_ctypes_definitions, improper_ctypes)]
// The "plugin" functions take ownership of a leaked box through a pointer, as C would.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod common;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{drop_counter, run_task, DropCount, Timer};
use futures_lite::future::block_on;

const TICK: Duration = Duration::from_millis(5);

/// An output with padding between its fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mixed {
    a: u8,
    b: f64,
}

/// An output of two floats (returned in SSE registers by value on x86_64).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    a: f32,
    b: f32,
}

/// An output too big for registers (returned through memory).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Big([u64; 8]);

const MIXED: Mixed = Mixed { a: 7, b: 2.5 };
const PAIR: Pair = Pair { a: 1.5, b: -3.0 };
const BIG: Big = Big([1, 2, 3, 4, 5, 6, 7, 8]);

/// A plugin function: defined with `$def`'s types, declared for the caller with `$decl`'s.
macro_rules! plugin {
    ($(fn $name:ident / $caller:ident ($($arg:ident: $def_ty:ty => $decl_ty:ty),*) -> $def_out:ty => $decl_out:ty $body:block)*) => {
        $(
            #[doc = concat!("The plugin side of `", stringify!($caller), "`.")]
            #[no_mangle]
            pub extern "C" fn $name($($arg: $def_ty),*) -> $def_out $body
        )*
        extern "C" {
            $(
                #[link_name = stringify!($name)]
                fn $caller($($arg: $decl_ty),*) -> $decl_out;
            )*
        }
    };
}

// async-ffi plugins, awaited by rawtask.
plugin! {
    fn af_u8 / af_u8_rt(x: u8 => u8) -> async_ffi::FfiFuture<u8> => rawtask::ffi::FfiFuture<u8> {
        use async_ffi::FutureExt;
        async move { x }.into_ffi()
    }
    fn af_timer / af_timer_rt(x: u64 => u64) -> async_ffi::FfiFuture<u64> => rawtask::ffi::FfiFuture<u64> {
        use async_ffi::FutureExt;
        async move { Timer::new(x, TICK).await }.into_ffi()
    }
    fn af_mixed / af_mixed_rt() -> async_ffi::FfiFuture<Mixed> => rawtask::ffi::FfiFuture<Mixed> {
        use async_ffi::FutureExt;
        async move { Timer::new(MIXED, TICK).await }.into_ffi()
    }
    fn af_pair / af_pair_rt() -> async_ffi::FfiFuture<Pair> => rawtask::ffi::FfiFuture<Pair> {
        use async_ffi::FutureExt;
        async move { PAIR }.into_ffi()
    }
    fn af_big / af_big_rt() -> async_ffi::FfiFuture<Big> => rawtask::ffi::FfiFuture<Big> {
        use async_ffi::FutureExt;
        async move { Timer::new(BIG, TICK).await }.into_ffi()
    }
    fn af_string / af_string_rt(n: u64 => u64) -> async_ffi::FfiFuture<String> => rawtask::ffi::FfiFuture<String> {
        use async_ffi::FutureExt;
        async move { Timer::new(format!("af {n}"), TICK).await }.into_ffi()
    }
    fn af_unit / af_unit_rt(drop: *mut DropCount => *mut DropCount) -> async_ffi::LocalFfiFuture<()> => rawtask::ffi::LocalFfiFuture<()> {
        use async_ffi::FutureExt;
        // SAFETY: the caller passes a leaked box.
        let token = unsafe { Box::from_raw(drop) };
        async move { let _token = token; }.into_local_ffi()
    }
    fn af_panic / af_panic_rt() -> async_ffi::FfiFuture<u64> => rawtask::ffi::FfiFuture<u64> {
        use async_ffi::FutureExt;
        async move { panic!("async-ffi side") }.into_ffi()
    }
    fn af_add_one / af_add_one_rt(inner: async_ffi::FfiFuture<u64> => rawtask::ffi::FfiFuture<u64>) -> async_ffi::FfiFuture<u64> => rawtask::ffi::FfiFuture<u64> {
        use async_ffi::FutureExt;
        async move { inner.await + 1 }.into_ffi()
    }
}

// rawtask plugins, awaited by async-ffi.
plugin! {
    fn rt_u8 / rt_u8_af(x: u8 => u8) -> rawtask::ffi::FfiFuture<u8> => async_ffi::FfiFuture<u8> {
        use rawtask::ffi::FutureExt;
        async move { x }.into_ffi()
    }
    fn rt_timer / rt_timer_af(x: u64 => u64) -> rawtask::ffi::FfiFuture<u64> => async_ffi::FfiFuture<u64> {
        use rawtask::ffi::FutureExt;
        async move { Timer::new(x, TICK).await }.into_ffi()
    }
    fn rt_mixed / rt_mixed_af() -> rawtask::ffi::FfiFuture<Mixed> => async_ffi::FfiFuture<Mixed> {
        use rawtask::ffi::FutureExt;
        async move { Timer::new(MIXED, TICK).await }.into_ffi()
    }
    fn rt_pair / rt_pair_af() -> rawtask::ffi::FfiFuture<Pair> => async_ffi::FfiFuture<Pair> {
        use rawtask::ffi::FutureExt;
        async move { PAIR }.into_ffi()
    }
    fn rt_big / rt_big_af() -> rawtask::ffi::FfiFuture<Big> => async_ffi::FfiFuture<Big> {
        use rawtask::ffi::FutureExt;
        async move { Timer::new(BIG, TICK).await }.into_ffi()
    }
    fn rt_string / rt_string_af(n: u64 => u64) -> rawtask::ffi::FfiFuture<String> => async_ffi::FfiFuture<String> {
        use rawtask::ffi::FutureExt;
        async move { Timer::new(format!("rt {n}"), TICK).await }.into_ffi()
    }
    fn rt_unit / rt_unit_af(drop: *mut DropCount => *mut DropCount) -> rawtask::ffi::LocalFfiFuture<()> => async_ffi::LocalFfiFuture<()> {
        use rawtask::ffi::FutureExt;
        // SAFETY: the caller passes a leaked box.
        let token = unsafe { Box::from_raw(drop) };
        async move { let _token = token; }.into_local_ffi()
    }
    fn rt_panic / rt_panic_af() -> rawtask::ffi::FfiFuture<u64> => async_ffi::FfiFuture<u64> {
        use rawtask::ffi::FutureExt;
        async move { panic!("rawtask side") }.into_ffi()
    }
    fn rt_add_one / rt_add_one_af(inner: rawtask::ffi::FfiFuture<u64> => async_ffi::FfiFuture<u64>) -> rawtask::ffi::FfiFuture<u64> => async_ffi::FfiFuture<u64> {
        use rawtask::ffi::FutureExt;
        async move { inner.await + 1 }.into_ffi()
    }
}

/// Awaits `make()`'s future inside a rawtask task and with `block_on`: the same output both
/// ways. Returns it.
fn with_both_wakers<F, T>(make: impl Fn() -> F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + PartialEq + std::fmt::Debug + 'static,
{
    let (in_task, _runs) = run_task(make());
    let in_block_on = block_on(make());
    assert_eq!(in_task, in_block_on);
    in_task
}

#[test]
fn async_ffi_futures_awaited_by_rawtask() {
    // SAFETY: every call below: the declarations match the definitions' ABI, which is the
    // point of the test.
    unsafe {
        assert_eq!(with_both_wakers(|| af_u8_rt(3)), 3);
        assert_eq!(with_both_wakers(|| af_timer_rt(4)), 4);
        assert_eq!(with_both_wakers(|| af_mixed_rt()), MIXED);
        assert_eq!(with_both_wakers(|| af_pair_rt()), PAIR);
        assert_eq!(with_both_wakers(|| af_big_rt()), BIG);
        assert_eq!(with_both_wakers(|| af_string_rt(5)), "af 5");
        let (drops, token) = drop_counter();
        block_on(af_unit_rt(Box::into_raw(Box::new(token))));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn rawtask_futures_awaited_by_async_ffi() {
    // SAFETY: as above.
    unsafe {
        assert_eq!(with_both_wakers(|| rt_u8_af(3)), 3);
        assert_eq!(with_both_wakers(|| rt_timer_af(4)), 4);
        assert_eq!(with_both_wakers(|| rt_mixed_af()), MIXED);
        assert_eq!(with_both_wakers(|| rt_pair_af()), PAIR);
        assert_eq!(with_both_wakers(|| rt_big_af()), BIG);
        assert_eq!(with_both_wakers(|| rt_string_af(5)), "rt 5");
        let (drops, token) = drop_counter();
        block_on(rt_unit_af(Box::into_raw(Box::new(token))));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn futures_nest_both_ways() {
    // SAFETY: as above.
    unsafe {
        // rawtask (host) awaits async-ffi, which awaits rawtask, which awaits a timer.
        let value = with_both_wakers(|| {
            use rawtask::ffi::FutureExt as _;
            af_add_one_rt(async { Timer::new(10u64, TICK).await }.into_ffi())
        });
        assert_eq!(value, 11);
        // async-ffi (host) awaits rawtask, which awaits async-ffi, which awaits a timer.
        let value = with_both_wakers(|| {
            use async_ffi::FutureExt as _;
            rt_add_one_af(async { Timer::new(20u64, TICK).await }.into_ffi())
        });
        assert_eq!(value, 21);
        // Three boundaries: rawtask → async-ffi → rawtask → async-ffi.
        let value = with_both_wakers(|| af_add_one_rt(rt_add_one_af(af_timer(30)).into_ffi_af()));
        assert_eq!(value, 32);
    }
}

/// A rawtask future that is awaited as an async-ffi future needs a conversion in this test
/// only, because both types live in one crate here.
trait IntoAsyncFfi {
    fn into_ffi_af(self) -> rawtask::ffi::FfiFuture<u64>;
}

impl IntoAsyncFfi for async_ffi::FfiFuture<u64> {
    fn into_ffi_af(self) -> rawtask::ffi::FfiFuture<u64> {
        // SAFETY: the two types have the same layout (the claim under test), and ownership
        // of the future moves with the bits.
        unsafe {
            std::mem::transmute::<async_ffi::FfiFuture<u64>, rawtask::ffi::FfiFuture<u64>>(self)
        }
    }
}

#[test]
fn panics_cross_both_ways() {
    // async-ffi sends no message: rawtask raises async-ffi's own.
    // SAFETY: as above.
    let payload = std::panic::catch_unwind(|| block_on(unsafe { af_panic_rt() })).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"FFI future panicked"));
    // SAFETY: as above.
    let future = unsafe { af_panic_rt() };
    let payload = std::panic::catch_unwind(|| run_task(future)).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"FFI future panicked"));

    // async-ffi ignores rawtask's note (which it leaks) and raises its own message.
    // SAFETY: as above.
    let payload = std::panic::catch_unwind(|| block_on(unsafe { rt_panic_af() })).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"FFI future panicked"));

    // rawtask → async-ffi → rawtask: the inner message cannot cross async-ffi.
    // SAFETY: as above.
    let payload = std::panic::catch_unwind(|| {
        use rawtask::ffi::FutureExt as _;
        // SAFETY: as above.
        block_on(unsafe { af_add_one_rt(async { panic!("inner") }.into_ffi()) })
    })
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"FFI future panicked"));
}

#[test]
fn the_layouts_match() {
    use std::mem::{align_of, size_of};
    assert_eq!(
        size_of::<rawtask::ffi::FfiFuture<u64>>(),
        size_of::<async_ffi::FfiFuture<u64>>()
    );
    assert_eq!(
        size_of::<rawtask::ffi::LocalBorrowingFfiFuture<'_, Big>>(),
        size_of::<async_ffi::LocalBorrowingFfiFuture<'_, Big>>()
    );
    assert_eq!(
        size_of::<rawtask::ffi::FfiContext<'_>>(),
        size_of::<async_ffi::FfiContext<'_>>()
    );
    assert_eq!(
        size_of::<rawtask::ffi::FfiPoll<Mixed>>(),
        size_of::<async_ffi::FfiPoll<Mixed>>()
    );
    assert_eq!(
        align_of::<rawtask::ffi::FfiPoll<Mixed>>(),
        align_of::<async_ffi::FfiPoll<Mixed>>()
    );
    assert_eq!(rawtask::ffi::ABI_VERSION, async_ffi::ABI_VERSION);
    // The enum's tags.
    for (ours, theirs) in [
        (
            rawtask::ffi::FfiPoll::Ready(9u8),
            async_ffi::FfiPoll::Ready(9u8),
        ),
        (rawtask::ffi::FfiPoll::Pending, async_ffi::FfiPoll::Pending),
        (
            rawtask::ffi::FfiPoll::Panicked,
            async_ffi::FfiPoll::Panicked,
        ),
    ] {
        // SAFETY: both start with an initialised `u8` tag.
        let (ours, theirs) = unsafe {
            (
                *(&ours as *const rawtask::ffi::FfiPoll<u8>).cast::<u8>(),
                *(&theirs as *const async_ffi::FfiPoll<u8>).cast::<u8>(),
            )
        };
        assert_eq!(ours, theirs);
    }
}
