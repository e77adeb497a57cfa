//! Aborting the process, for the few situations where unwinding would leave a task half-updated
//! (a destructor or waker panicking in the middle of a state transition, a reference count
//! overflow).

/// Aborts the process after printing `message` (when `std` is available).
#[cold]
#[inline(never)]
pub(crate) fn abort(message: &str) -> ! {
    #[cfg(feature = "std")]
    {
        std::eprintln!("{message}");
        std::process::abort()
    }
    #[cfg(not(feature = "std"))]
    {
        // Without std there is no `abort`; a panic raised while another panic unwinds aborts.
        struct PanicOnDrop<'a>(&'a str);
        impl Drop for PanicOnDrop<'_> {
            fn drop(&mut self) {
                panic!("{}", self.0);
            }
        }
        let _bomb = PanicOnDrop(message);
        panic!("{message}");
    }
}

/// Runs `f`, aborting the process if it panics. Used around user code (destructors, wakers)
/// that runs while the task state is mid-transition.
#[inline(always)]
pub(crate) fn abort_on_panic<R>(what: &'static str, f: impl FnOnce() -> R) -> R {
    struct Bomb(&'static str);
    impl Drop for Bomb {
        // Inline, so that the bomb lives in the unwinding path alone: out of line, its message
        // was stored on the stack before every guarded call.
        #[inline]
        fn drop(&mut self) {
            abort(self.0);
        }
    }
    let bomb = Bomb(what);
    let result = f();
    core::mem::forget(bomb);
    result
}
