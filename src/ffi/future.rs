//! The FFI future types and the conversion of Rust futures into them.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::abi::{
    RawtaskFfiFuturePtr, RawtaskFfiFutureU64, RawtaskFfiFutureVoid, RawtaskFfiPoll,
    RAWTASK_FFI_POLL_PANICKED, RAWTASK_FFI_POLL_PENDING, RAWTASK_FFI_POLL_READY,
};
use super::panic::{leave_note, payload_message, take_note};
use super::waker::with_ffi_waker;
use super::{FfiContext, FfiWakerBase, PollPanicked};
use crate::abort::abort_on_panic;

/// The message of a poll after a panic or an invalid tag.
const POLLED_AFTER_COMPLETION: &str =
    "rawtask::ffi: an FFI future was polled again after it panicked or returned an invalid tag";

/// The FFI-safe counterpart of `Pin<Box<dyn Future<Output = T> + 'a>>` (neither `Send` nor
/// `'static`): the base type of all four variants, which share its layout.
///
/// `repr(C)`: three pointers, `fut_ptr`, `poll_fn` and `drop_fn` (see the
/// [module docs](super#the-abi)). In C: `RawtaskFfiFutureU64` and the other C views of
/// [`abi`](super::abi).
///
/// ```
/// use rawtask::ffi::{FutureExt, LocalFfiFuture};
/// use std::rc::Rc;
///
/// let shared = Rc::new(5); // not Send
/// let future: LocalFfiFuture<i32> = async move { *shared + 1 }.into_local_ffi();
/// assert_eq!(futures_lite::future::block_on(future), 6);
/// ```
#[repr(C)]
#[cfg_attr(feature = "abi_stable", derive(abi_stable::StableAbi))]
pub struct LocalBorrowingFfiFuture<'a, T> {
    fut_ptr: *mut (),
    // abi_stable sees the poll function as async-ffi declares it, returning `FfiPoll<T>`:
    // `RawtaskFfiPoll<T>` is that enum's layout read as a plain struct (asserted in `abi`).
    #[cfg_attr(
        feature = "abi_stable",
        sabi(unsafe_change_type = unsafe extern "C" fn(
            *mut (),
            *mut FfiContext<'_>,
        ) -> super::FfiPoll<T>)
    )]
    poll_fn: unsafe extern "C" fn(
        fut_ptr: *mut (),
        context_ptr: *mut FfiContext<'_>,
    ) -> RawtaskFfiPoll<T>,
    drop_fn: unsafe extern "C" fn(fut_ptr: *mut ()),
    _marker: PhantomData<&'a ()>,
}

/// [`LocalBorrowingFfiFuture`] for `'static` futures: the FFI-safe
/// `Pin<Box<dyn Future<Output = T>>>`.
///
/// ```
/// use rawtask::ffi::{FutureExt, LocalFfiFuture};
/// let future: LocalFfiFuture<u8> = async { 1 }.into_local_ffi();
/// assert_eq!(futures_lite::future::block_on(future), 1);
/// ```
pub type LocalFfiFuture<T> = LocalBorrowingFfiFuture<'static, T>;

/// The FFI-safe counterpart of `Pin<Box<dyn Future<Output = T> + Send + 'a>>`: a
/// [`LocalBorrowingFfiFuture`] made from a `Send` future, and so `Send` itself.
///
/// ```
/// use rawtask::ffi::{BorrowingFfiFuture, FutureExt};
///
/// fn sum<'a>(numbers: &'a [u32]) -> BorrowingFfiFuture<'a, u32> {
///     async move { numbers.iter().sum() }.into_ffi()
/// }
/// let numbers = vec![1, 2, 3];
/// assert_eq!(futures_lite::future::block_on(sum(&numbers)), 6);
/// ```
#[repr(transparent)]
#[cfg_attr(feature = "abi_stable", derive(abi_stable::StableAbi))]
pub struct BorrowingFfiFuture<'a, T>(LocalBorrowingFfiFuture<'a, T>);

/// [`BorrowingFfiFuture`] for `'static` futures: the FFI-safe
/// `Pin<Box<dyn Future<Output = T> + Send>>`, what plugins usually return.
///
/// ```
/// use rawtask::ffi::{FfiFuture, FutureExt};
/// let future: FfiFuture<u8> = async { 2 }.into_ffi();
/// let handle = std::thread::spawn(move || futures_lite::future::block_on(future));
/// assert_eq!(handle.join().unwrap(), 2);
/// ```
pub type FfiFuture<T> = BorrowingFfiFuture<'static, T>;

// async-ffi's layout, three words, which the C views in `abi` mirror.
const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<FfiFuture<u64>>() == 3 * size_of::<usize>());
    assert!(size_of::<RawtaskFfiFutureU64>() == size_of::<FfiFuture<u64>>());
    assert!(align_of::<RawtaskFfiFutureU64>() == align_of::<FfiFuture<u64>>());
    assert!(size_of::<RawtaskFfiFuturePtr>() == size_of::<FfiFuture<*mut core::ffi::c_void>>());
    assert!(align_of::<RawtaskFfiFuturePtr>() == align_of::<FfiFuture<*mut core::ffi::c_void>>());
    assert!(size_of::<RawtaskFfiFutureVoid>() == size_of::<FfiFuture<()>>());
    assert!(align_of::<RawtaskFfiFutureVoid>() == align_of::<FfiFuture<()>>());
};

// SAFETY: a `BorrowingFfiFuture` is only ever made from a `Send` future (`new`), or received
// from foreign code that promised the same through the type of its function; its poll and
// drop functions may then run on any thread. It is not `Sync`: polling needs `&mut`.
unsafe impl<T> Send for BorrowingFfiFuture<'_, T> {}

impl<'a, T> LocalBorrowingFfiFuture<'a, T> {
    /// Boxes `future` (one allocation) behind the FFI poll and drop functions.
    ///
    /// The poll function catches panics (see the [module docs](super#panics)); the drop
    /// function drops the future.
    ///
    /// ```
    /// use rawtask::ffi::LocalBorrowingFfiFuture;
    /// let text = String::from("borrowed");
    /// let future = LocalBorrowingFfiFuture::new(async { text.len() });
    /// assert_eq!(futures_lite::future::block_on(future), 8);
    /// ```
    pub fn new<F: Future<Output = T> + 'a>(future: F) -> Self {
        LocalBorrowingFfiFuture {
            fut_ptr: Box::into_raw(Box::new(future)).cast(),
            poll_fn: poll_boxed::<F>,
            drop_fn: drop_boxed::<F>,
            _marker: PhantomData,
        }
    }

    /// Polls the future, returning a panic on its side as an error instead of raising it.
    ///
    /// `Future::poll` is this followed by [`PollPanicked::resume`] on error. After an error,
    /// the poll function is never called again: every later call returns an error. After
    /// `Ready`, a later call polls again, as async-ffi does (see the
    /// [module docs](super#polling-after-completion)).
    ///
    /// ```
    /// use rawtask::ffi::FutureExt;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut ok = async { 3 }.into_local_ffi();
    /// assert_eq!(ok.try_poll(&mut cx).unwrap(), Poll::Ready(3));
    /// // Polled after completion: the async block's own panic crosses.
    /// let err = ok.try_poll(&mut cx).unwrap_err();
    /// assert_eq!(err.message(), Some("`async fn` resumed after completion"));
    ///
    /// let mut bad = async { panic!("no") }.into_local_ffi();
    /// assert_eq!(bad.try_poll(&mut cx).unwrap_err().message(), Some("no"));
    /// assert!(bad.try_poll(&mut cx).is_err()); // fused after a panic
    /// ```
    #[inline]
    pub fn try_poll(&mut self, cx: &mut Context<'_>) -> Result<Poll<T>, PollPanicked> {
        let poll_fn = self.poll_fn;
        let fut_ptr = self.fut_ptr;
        let (raw, lent, now) = with_ffi_waker(cx.waker(), |waker| {
            // SAFETY: `with_ffi_waker` lends a valid FFI waker for the duration of the call.
            let mut ffi_cx = unsafe { FfiContext::from_raw(waker) };
            // SAFETY: `fut_ptr` and `poll_fn` belong together (`new`, or the foreign function
            // that returned this future by the ABI); `&mut self` rules out concurrent calls,
            // and `drop_fn` was not called yet.
            let raw = unsafe { poll_fn(fut_ptr, &mut ffi_cx) };
            (raw, waker, ffi_cx.raw_waker())
        });
        if raw.tag > RAWTASK_FFI_POLL_PENDING {
            // SAFETY: `now` is the context's waker after the call, `lent` before it.
            return Err(unsafe { self.failed(raw.tag, lent, now) });
        }
        Ok(if raw.tag == RAWTASK_FFI_POLL_READY {
            // SAFETY: a ready result holds the output, which we take over.
            Poll::Ready(ManuallyDrop::into_inner(unsafe { raw.payload.ready }))
        } else {
            Poll::Pending
        })
    }

    /// The poll function returned `Panicked` or an invalid tag: fuses the future and builds
    /// the error, taking the message out of a panic note if the poll function left one.
    ///
    /// # Safety
    /// `lent` is the waker the context held when `poll_fn` was called, `now` the one it held
    /// when it returned; a note in `now` was not released yet.
    #[cold]
    #[inline(never)]
    unsafe fn failed(
        &mut self,
        tag: u8,
        lent: *const FfiWakerBase,
        now: *const FfiWakerBase,
    ) -> PollPanicked {
        self.poll_fn = poll_completed::<T>;
        if tag == RAWTASK_FFI_POLL_PANICKED {
            // SAFETY: the context is gone but the note (heap memory owned by whoever made it)
            // is not released yet; by the ABI only a note replaces the context's waker.
            PollPanicked::new(unsafe { take_note(lent, now) })
        } else {
            PollPanicked::new(Some(std::format!(
                "rawtask::ffi: an FFI future's poll function returned the invalid tag {tag} \
                 (0 = Ready, 1 = Pending, 2 = Panicked); the result was rejected"
            )))
        }
    }
}

impl<'a, T> BorrowingFfiFuture<'a, T> {
    /// Boxes a `Send` future (one allocation) behind the FFI poll and drop functions; see
    /// [`LocalBorrowingFfiFuture::new`].
    ///
    /// ```
    /// use rawtask::ffi::BorrowingFfiFuture;
    /// let n = 4;
    /// let future = BorrowingFfiFuture::new(async { n * n });
    /// assert_eq!(futures_lite::future::block_on(future), 16);
    /// ```
    pub fn new<F: Future<Output = T> + Send + 'a>(future: F) -> Self {
        BorrowingFfiFuture(LocalBorrowingFfiFuture::new(future))
    }

    /// Polls the future, returning a panic on its side as an error; see
    /// [`LocalBorrowingFfiFuture::try_poll`].
    ///
    /// ```
    /// use rawtask::ffi::FutureExt;
    /// use std::task::{Context, Poll, Waker};
    /// let mut f = async { 3 }.into_ffi();
    /// assert_eq!(f.try_poll(&mut Context::from_waker(Waker::noop())).unwrap(), Poll::Ready(3));
    /// ```
    #[inline]
    pub fn try_poll(&mut self, cx: &mut Context<'_>) -> Result<Poll<T>, PollPanicked> {
        self.0.try_poll(cx)
    }
}

impl<T> Future for LocalBorrowingFfiFuture<'_, T> {
    type Output = T;

    /// Polls the foreign future. A panic on its side is raised here as
    /// `FFI future panicked: <message>` when its message crossed (rawtask sends it), else as
    /// async-ffi's bare "FFI future panicked" (async-ffi and C usually send none); see
    /// [`PollPanicked::resume`].
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.try_poll(cx) {
            Ok(poll) => poll,
            Err(panicked) => panicked.resume(),
        }
    }
}

impl<T> Future for BorrowingFfiFuture<'_, T> {
    type Output = T;

    /// See [`LocalBorrowingFfiFuture`]'s `poll`.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for LocalBorrowingFfiFuture<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `drop_fn` belongs to `fut_ptr` and is called exactly once, here.
        unsafe { (self.drop_fn)(self.fut_ptr) }
    }
}

impl<T> fmt::Debug for LocalBorrowingFfiFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBorrowingFfiFuture")
            .field("fut_ptr", &self.fut_ptr)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for BorrowingFfiFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BorrowingFfiFuture").field(&self.0).finish()
    }
}

/// Converts futures into FFI futures (async-ffi's extension trait, implemented for every
/// future).
///
/// ```
/// use rawtask::ffi::FutureExt;
/// let future = async { "converted" }.into_ffi();
/// assert_eq!(futures_lite::future::block_on(future), "converted");
/// ```
pub trait FutureExt: Future + Sized {
    /// Converts a `Send` future into a [`BorrowingFfiFuture`] (an [`FfiFuture`] when it is
    /// `'static`).
    ///
    /// ```
    /// use rawtask::ffi::{FfiFuture, FutureExt};
    /// let future: FfiFuture<u8> = async { 9 }.into_ffi();
    /// assert_eq!(futures_lite::future::block_on(future), 9);
    /// ```
    fn into_ffi<'a>(self) -> BorrowingFfiFuture<'a, Self::Output>
    where
        Self: Send + 'a,
    {
        BorrowingFfiFuture::new(self)
    }

    /// Converts any future into a [`LocalBorrowingFfiFuture`] (a [`LocalFfiFuture`] when it is
    /// `'static`).
    ///
    /// ```
    /// use rawtask::ffi::{FutureExt, LocalFfiFuture};
    /// let cell = std::rc::Rc::new(std::cell::Cell::new(0));
    /// let future: LocalFfiFuture<()> = { let c = cell.clone(); async move { c.set(1) } }.into_local_ffi();
    /// futures_lite::future::block_on(future);
    /// assert_eq!(cell.get(), 1);
    /// ```
    fn into_local_ffi<'a>(self) -> LocalBorrowingFfiFuture<'a, Self::Output>
    where
        Self: 'a,
    {
        LocalBorrowingFfiFuture::new(self)
    }
}

impl<F> FutureExt for F where F: Future + Sized {}

// ----- the poll and drop functions of rawtask's own FFI futures -----

/// The poll function of a future boxed by `new`: `fut_ptr` is a `Box<F>`.
///
/// Like async-ffi's, it does not fuse: called again after `Ready` (or a panic), it polls the
/// future again, and whatever that does is caught (an `async` block panics: "`async fn`
/// resumed after completion"). Keeping no "done" flag keeps the poll as cheap as async-ffi's.
unsafe extern "C" fn poll_boxed<F: Future>(
    fut_ptr: *mut (),
    cx: *mut FfiContext<'_>,
) -> RawtaskFfiPoll<F::Output> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `fut_ptr` is the live box made by `new` (the ABI: `drop_fn` was not called,
        // and calls never overlap, so this is the only reference); the future is never moved
        // out of it, so it may be pinned.
        let future = unsafe { Pin::new_unchecked(&mut *fut_ptr.cast::<F>()) };
        // SAFETY: the caller lends a live context for the call.
        unsafe { (*cx).with_context(|cx| future.poll(cx)) }
    }));
    match result {
        Ok(Poll::Ready(output)) => RawtaskFfiPoll::ready(output),
        Ok(Poll::Pending) => RawtaskFfiPoll::empty(RAWTASK_FFI_POLL_PENDING),
        Err(payload) => {
            let message = payload_message(&*payload);
            crate::panic::drop_payload(payload);
            // SAFETY: the caller's context is live.
            unsafe { leave_note(cx, &message) };
            RawtaskFfiPoll::empty(RAWTASK_FFI_POLL_PANICKED)
        }
    }
}

/// The drop function of a future boxed by `new`.
unsafe extern "C" fn drop_boxed<F>(fut_ptr: *mut ()) {
    abort_on_panic(
        "rawtask::ffi: an FFI future's destructor panicked (in its drop_fn)",
        || {
            // SAFETY: `fut_ptr` is the box made by `new`, released once (the ABI).
            drop(unsafe { Box::from_raw(fut_ptr.cast::<F>()) })
        },
    )
}

/// The poll function an `FfiFuture` switches to once its own returned `Panicked` or an invalid
/// tag: the future is never polled again.
unsafe extern "C" fn poll_completed<T>(_: *mut (), cx: *mut FfiContext<'_>) -> RawtaskFfiPoll<T> {
    // SAFETY: the caller's context is live.
    unsafe { leave_note(cx, POLLED_AFTER_COMPLETION) };
    RawtaskFfiPoll::empty(RAWTASK_FFI_POLL_PANICKED)
}
