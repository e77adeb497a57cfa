//! FFI-safe futures: a superset of [async-ffi 0.5.1](https://docs.rs/async-ffi/0.5.1) with the
//! same `repr(C)` layout, so that futures cross a dynamic-library or C boundary in both
//! directions — between two copies of rawtask, between rawtask and async-ffi, and between
//! either and C — without relying on Rust's unstable ABI.
//!
//! ```
//! use rawtask::ffi::{FfiFuture, FutureExt};
//!
//! // The plugin side (usually in a `cdylib`): any `Send + 'static` future becomes an `FfiFuture`.
//! extern "C" fn work(arg: u32) -> FfiFuture<u32> {
//!     async move { arg * 2 }.into_ffi()
//! }
//!
//! // The host side: an `FfiFuture` is a `Future`.
//! assert_eq!(futures_lite::future::block_on(work(21)), 42);
//! ```
//!
//! Switching from async-ffi means changing `async_ffi::` to `rawtask::ffi::`: the names,
//! signatures and the `#[async_ffi]` attribute (feature `macros`) are the same. What differs:
//!
//! | | async-ffi 0.5.1 | `rawtask::ffi` |
//! |---|---|---|
//! | cloning the waker of a rawtask task inside an FFI future | allocates a box | one reference count increment: the task pointer *is* the FFI waker |
//! | cloning any other waker | one allocation | one allocation |
//! | a panic in `poll` | `Panicked`, the awaiting side panics with "FFI future panicked" | the same, and the original message crosses too: `FFI future panicked: <message>` (see [Panics](#panics)) |
//! | polling again after `Panicked` | calls the poll function again | never calls it again: a panic with a clear message |
//! | a poll function returning a tag other than 0, 1, 2 | undefined behaviour (transmuted) | rejected: the awaiting side panics with a clear message |
//! | a panic in `drop` or in a waker function | abort | abort, with a message on stderr naming what panicked |
//!
//! # The ABI
//!
//! Every type below is `repr(C)` and is laid out exactly as async-ffi 0.5.1 lays it out;
//! [`ABI_VERSION`] is async-ffi's (2). In C the types are declared in `include/rawtask.h` under
//! the names in brackets; C has no generics, so the header declares the future and poll types
//! for three outputs (`uint64_t`: `RawtaskFfiFutureU64`, `void *`: `RawtaskFfiFuturePtr`, none:
//! `RawtaskFfiFutureVoid`), and C code declares others the same way (see [`abi`]).
//!
//! ```text
//! FfiFuture<T>            [RawtaskFfiFutureU64]  3 pointers, the same for all four Rust variants
//!   fut_ptr   *mut ()                            the future's state, owned by the FfiFuture
//!   poll_fn   extern "C" fn(fut_ptr, *mut FfiContext) -> FfiPoll<T>
//!   drop_fn   extern "C" fn(fut_ptr)             frees fut_ptr; called exactly once
//!
//! FfiPoll<T>              [RawtaskFfiPollU64]    repr(C, u8) tagged union
//!   tag       u8                                 0 Ready, 1 Pending, 2 Panicked
//!   payload   union { T ready }                  initialised only when tag == 0
//!
//! FfiContext<'a>          [RawtaskFfiContext]    1 pointer, borrowed for one call of poll_fn
//!   waker     *const FfiWakerBase
//!
//! FfiWakerBase            [RawtaskFfiWaker]      the first field of every FFI waker
//!   vtable    *const FfiWakerVTable
//!
//! FfiWakerVTable          [RawtaskFfiWakerVTable] 4 pointers
//!   clone       extern "C" fn(*const FfiWakerBase) -> *const FfiWakerBase
//!   wake        extern "C" fn(*const FfiWakerBase)
//!   wake_by_ref extern "C" fn(*const FfiWakerBase)
//!   drop        extern "C" fn(*const FfiWakerBase)
//! ```
//!
//! # Ownership: who frees what
//!
//! - **The future.** Whoever holds the `FfiFuture` value owns `fut_ptr` and calls `drop_fn`
//!   exactly once (the Rust types do it in `Drop`); `drop_fn` frees everything `fut_ptr` owns,
//!   with the allocator of the library that made the future. `poll_fn` is called with the
//!   same `fut_ptr`, never concurrently with itself or with `drop_fn`, from any thread for a
//!   `FfiFuture`/`BorrowingFfiFuture`, only from the creating thread for the `Local` variants.
//! - **The context.** The caller of `poll_fn` owns the `FfiContext` and the waker it points to;
//!   both are borrowed for the duration of the call only. The poll function must not call `wake`
//!   or `drop` on that waker (rawtask aborts with a message if it does), and must not write to
//!   the context, with one exception: rawtask's panic note, below.
//! - **Wakers.** `clone` returns a new *owned* waker; every owned waker must be consumed exactly
//!   once, by `wake` or `drop`, from any thread. `wake_by_ref` may be called on any live waker.
//!   A waker that a rawtask task lends is the task pointer itself: `clone` increments the
//!   task's reference count and returns the same pointer, `wake`/`drop` release that reference.
//!   A Rust waker of anything else is lent as a small struct on the caller's stack, and `clone`
//!   makes one heap allocation, which `wake`/`drop` free. The `RawtaskWaker *` of the C API
//!   ([`rawtask_runnable_waker`](crate::capi::rawtask_runnable_waker)) is the task pointer too,
//!   so a C executor can lend it as a context's waker as it is.
//!
//! # Panics
//!
//! Unwinding across `extern "C"` is not allowed, so every function rawtask puts in the ABI
//! catches panics:
//!
//! - A panic in the future's `poll` is caught; `poll_fn` returns `Panicked`, and the awaiting
//!   side raises a panic with async-ffi's message followed by the original one:
//!   `FFI future panicked: <message>` (the payload is that text, a `String`). When no message
//!   crossed (the future was made by async-ffi or by C), the panic is async-ffi's own: the
//!   `&'static str` "FFI future panicked". Code written for async-ffi that matches on its
//!   message keeps working. [`LocalBorrowingFfiFuture::try_poll`] returns the panic as a
//!   [`PollPanicked`] instead, whose [`message`](PollPanicked::message) is the original one.
//! - A panic in `drop_fn` or in a waker function aborts the process, after printing which
//!   function panicked to stderr. A panic while dropping a panic payload is caught (and the
//!   payload of that panic dropped the same way, or leaked if it panics again).
//!
//! The message crosses through a **panic note**, a rawtask extension that needs no change to
//! async-ffi's layout. When a rawtask `poll_fn` catches a panic, it allocates a
//! [`RawtaskFfiPanicNote`](abi::RawtaskFfiPanicNote), whose first field is an FFI waker that
//! forwards to the context's waker, and stores the note's address in the context's `waker`
//! field before returning `Panicked`. After a `Panicked` result, the awaiting side compares the
//! context's waker with the waker it passed in: if it changed and the new one carries the note
//! magic and points back to the original, it copies the message and calls the note's `release`
//! function, which frees the note with the allocator that made it. A host that does not know
//! about notes (async-ffi, or a C host that ignores them) sees a valid waker in its context
//! either way; the note is then leaked — a few dozen bytes plus the message, once per panic
//! that crosses into such a host. This is why a foreign poll function must not write to the
//! context: rawtask would take any other change for a note.
//!
//! # Polling after completion
//!
//! Polling a future again after it returned `Ready` is a logic error, but never undefined
//! behaviour here:
//!
//! - A future made by [`FutureExt::into_ffi`] (or the `new` functions) polls its Rust future
//!   again, as async-ffi's does: safe Rust cannot make that undefined, and a panic it causes
//!   crosses like any other. An `async` block panics, so the awaiting side raises "FFI future
//!   panicked: `async fn` resumed after completion" (rawtask) or "FFI future panicked"
//!   (async-ffi). Neither side keeps a "done" flag, which keeps a poll as cheap as
//!   async-ffi's.
//! - After `Panicked` or an invalid tag, an `FfiFuture` never calls its `poll_fn` again: a
//!   later poll panics with "FFI future panicked: rawtask::ffi: an FFI future was polled again
//!   after it panicked or returned an invalid tag". The future is still dropped by `drop_fn`
//!   when the `FfiFuture` is dropped.
//!
//! # Invalid tags
//!
//! The result of a foreign `poll_fn` is read as a raw tag and a payload
//! ([`RawtaskFfiPoll`](abi::RawtaskFfiPoll)), never transmuted to the Rust enum. A tag other than
//! 0, 1 or 2 makes the awaiting side panic with "FFI future panicked: " and a message naming
//! the tag; the payload is not read, and the future is not polled again.
//!
//! # `abi_stable`
//!
//! With the feature `abi_stable` (off by default), the types that async-ffi's feature of the
//! same name covers derive [`abi_stable::StableAbi`](https://docs.rs/abi_stable/0.11) (0.11):
//! [`LocalBorrowingFfiFuture`] and [`BorrowingFfiFuture`] (so also [`FfiFuture`] and
//! [`LocalFfiFuture`]), [`FfiContext`], [`FfiPoll`], [`FfiWakerBase`] and [`FfiWakerVTable`].
//! As in async-ffi, abi_stable sees the future's `poll_fn` as returning [`FfiPoll<T>`]
//! (rawtask declares it as returning [`RawtaskFfiPoll<T>`](abi::RawtaskFfiPoll), the same
//! layout). abi_stable's checker also compares the crate a type comes from, so it accepts
//! rawtask's types against rawtask's (of a compatible version), not against async-ffi's, even
//! though the memory layouts are the same.
//!
//! ```
//! # #[cfg(feature = "abi_stable")] {
//! use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
//! use abi_stable::StableAbi;
//!
//! let layout = <rawtask::ffi::FfiFuture<u32> as StableAbi>::LAYOUT;
//! assert!(check_layout_compatibility(layout, layout).is_ok());
//! # }
//! ```
//!
//! # Costs
//!
//! Converting a future (`into_ffi`) boxes it, once, as async-ffi does. Polling lends the
//! caller's waker without allocating. Inside the future, a waker clone costs a reference count
//! increment when the awaiting side is a rawtask task (through any number of FFI layers, in the
//! same copy of rawtask or in another one), and one allocation otherwise.

mod future;
mod panic;
mod poll;
mod waker;

pub mod abi;

pub use self::future::{
    BorrowingFfiFuture, FfiFuture, FutureExt, LocalBorrowingFfiFuture, LocalFfiFuture,
};
pub use self::poll::{FfiPoll, PollPanicked};
pub use self::waker::{ContextExt, FfiContext};
pub use crate::raw::ffi_waker::{FfiWakerBase, FfiWakerVTable};

/// Turns an `async fn` into a function returning an [`FfiFuture`] (async-ffi's attribute).
///
/// `#[async_ffi]` returns [`FfiFuture<T>`], `#[async_ffi(?Send)]` [`LocalFfiFuture<T>`],
/// `#[async_ffi('a)]` [`BorrowingFfiFuture<'a, T>`] and `#[async_ffi('a, ?Send)]`
/// [`LocalBorrowingFfiFuture<'a, T>`]. The arguments are moved into the future and dropped in
/// the order an `async fn` drops them. Methods with a `self` receiver are rejected.
///
/// ```
/// use rawtask::ffi::async_ffi;
///
/// #[async_ffi]
/// #[no_mangle]
/// pub async extern "C" fn add(a: u32, b: u32) -> u32 {
///     a + b
/// }
///
/// assert_eq!(futures_lite::future::block_on(add(1, 2)), 3);
/// ```
#[cfg(feature = "macros")]
pub use rawtask_macros::async_ffi;

/// The version of the FFI future ABI: async-ffi 0.5.1's, whose layout rawtask shares.
///
/// Two libraries can exchange futures when their `ABI_VERSION`s are equal; a plugin system
/// usually exports a function returning it and checks it before anything else.
///
/// ```
/// assert_eq!(rawtask::ffi::ABI_VERSION, 2);
/// ```
pub const ABI_VERSION: u32 = 2;
