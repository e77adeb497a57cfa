//! The C view of the FFI future ABI: the raw poll result, the panic note, the constants and
//! the concrete future types that `include/rawtask.h` declares.
//!
//! Rust code rarely needs this module: [`FfiFuture`](super::FfiFuture) and friends use it
//! internally. It is public so that the C header can be generated from it and so that Rust
//! code talking to hand-written C (or testing the ABI) can name the raw types.
//!
//! A C plugin that returns a future and a C host that awaits one use nothing but these
//! declarations and their doc comments: see `internal/ffi-tests/c/` for both.
//!
//! ```
//! use rawtask::ffi::abi::{RawtaskFfiPoll, RAWTASK_FFI_POLL_READY};
//! use rawtask::ffi::FfiPoll;
//!
//! let raw = RawtaskFfiPoll::from(FfiPoll::Ready(5u64));
//! assert_eq!(raw.tag, RAWTASK_FFI_POLL_READY);
//! assert_eq!(raw.into_ffi_poll(), Ok(FfiPoll::Ready(5)));
//! ```

use core::ffi::{c_char, c_void};
use core::fmt;
use core::mem::{align_of, size_of, ManuallyDrop};

use super::{FfiContext, FfiPoll, FfiWakerBase};

/// The tag of a ready poll result: the payload holds the output.
///
/// ```
/// assert_eq!(rawtask::ffi::abi::RAWTASK_FFI_POLL_READY, 0);
/// ```
pub const RAWTASK_FFI_POLL_READY: u8 = 0;

/// The tag of a pending poll result: the future will wake the context's waker.
///
/// ```
/// assert_eq!(rawtask::ffi::abi::RAWTASK_FFI_POLL_PENDING, 1);
/// ```
pub const RAWTASK_FFI_POLL_PENDING: u8 = 1;

/// The tag of a poll result whose `poll` panicked. If the context's waker changed during the
/// call, it may be a [`RawtaskFfiPanicNote`] carrying the message.
///
/// ```
/// assert_eq!(rawtask::ffi::abi::RAWTASK_FFI_POLL_PANICKED, 2);
/// ```
pub const RAWTASK_FFI_POLL_PANICKED: u8 = 2;

/// The FFI future ABI version, [`ABI_VERSION`](super::ABI_VERSION) (async-ffi's): a plugin and
/// its host exchange futures only when theirs are equal.
///
/// ```
/// assert_eq!(rawtask::ffi::abi::RAWTASK_FFI_ABI_VERSION, rawtask::ffi::ABI_VERSION);
/// ```
pub const RAWTASK_FFI_ABI_VERSION: u32 = 2;

const _: () = assert!(RAWTASK_FFI_ABI_VERSION == super::ABI_VERSION);

/// The `magic` of a [`RawtaskFfiPanicNote`]: the bytes `rtpanic1` read as a big-endian
/// integer. A future version of the note gets a new magic.
///
/// ```
/// assert_eq!(rawtask::ffi::abi::RAWTASK_FFI_PANIC_NOTE_MAGIC.to_be_bytes(), *b"rtpanic1");
/// ```
pub const RAWTASK_FFI_PANIC_NOTE_MAGIC: u64 = 0x7274_7061_6e69_6331;

/// A poll result as it crosses the boundary: [`FfiPoll<T>`](FfiPoll)'s exact layout (a `u8`
/// tag, then a union that holds the output when the tag is [`RAWTASK_FFI_POLL_READY`]), but a
/// plain struct, so that any tag a foreign function returns is a valid value to inspect.
///
/// rawtask calls every `poll_fn` as a function returning this type.
///
/// ```
/// use rawtask::ffi::abi::{RawtaskFfiPoll, RawtaskFfiPollPayload};
///
/// // What a C function returning tag 7 gives: rejected, not transmuted.
/// let raw = RawtaskFfiPoll::<u32> { tag: 7, payload: RawtaskFfiPollPayload { empty: () } };
/// assert_eq!(raw.into_ffi_poll(), Err(7));
/// ```
#[repr(C)]
pub struct RawtaskFfiPoll<T> {
    /// [`RAWTASK_FFI_POLL_READY`], [`RAWTASK_FFI_POLL_PENDING`] or
    /// [`RAWTASK_FFI_POLL_PANICKED`]; any other value is invalid.
    pub tag: u8,
    /// The output, initialised only when `tag` is [`RAWTASK_FFI_POLL_READY`].
    pub payload: RawtaskFfiPollPayload<T>,
}

/// The payload of a [`RawtaskFfiPoll`]: the output of a ready future.
///
/// ```
/// use rawtask::ffi::abi::RawtaskFfiPollPayload;
/// use std::mem::ManuallyDrop;
/// let payload = RawtaskFfiPollPayload { ready: ManuallyDrop::new(3u8) };
/// // SAFETY: `ready` was just written.
/// assert_eq!(*unsafe { payload.ready }, 3);
/// ```
#[repr(C)]
pub union RawtaskFfiPollPayload<T> {
    /// The output (tag [`RAWTASK_FFI_POLL_READY`]).
    pub ready: ManuallyDrop<T>,
    /// Nothing (any other tag).
    pub empty: (),
}

impl<T> RawtaskFfiPoll<T> {
    /// A ready result.
    #[inline]
    pub(crate) fn ready(output: T) -> Self {
        RawtaskFfiPoll {
            tag: RAWTASK_FFI_POLL_READY,
            payload: RawtaskFfiPollPayload {
                ready: ManuallyDrop::new(output),
            },
        }
    }

    /// A result without payload.
    #[inline]
    pub(crate) fn empty(tag: u8) -> Self {
        RawtaskFfiPoll {
            tag,
            payload: RawtaskFfiPollPayload { empty: () },
        }
    }

    /// Checks the tag and converts into an [`FfiPoll`]; an invalid tag is returned as the
    /// error, and the payload is then not read (an output in it would be leaked).
    ///
    /// ```
    /// use rawtask::ffi::{abi::RawtaskFfiPoll, FfiPoll};
    /// assert_eq!(RawtaskFfiPoll::from(FfiPoll::<u8>::Pending).into_ffi_poll(), Ok(FfiPoll::Pending));
    /// ```
    pub fn into_ffi_poll(self) -> Result<FfiPoll<T>, u8> {
        match self.tag {
            RAWTASK_FFI_POLL_READY => {
                // SAFETY: a ready result holds the output, which we take over (the union never
                // drops it).
                Ok(FfiPoll::Ready(ManuallyDrop::into_inner(unsafe {
                    self.payload.ready
                })))
            }
            RAWTASK_FFI_POLL_PENDING => Ok(FfiPoll::Pending),
            RAWTASK_FFI_POLL_PANICKED => Ok(FfiPoll::Panicked),
            tag => Err(tag),
        }
    }
}

impl<T> From<FfiPoll<T>> for RawtaskFfiPoll<T> {
    /// The raw form of a poll result, as a poll function returns it.
    fn from(poll: FfiPoll<T>) -> Self {
        match poll {
            FfiPoll::Ready(output) => RawtaskFfiPoll::ready(output),
            FfiPoll::Pending => RawtaskFfiPoll::empty(RAWTASK_FFI_POLL_PENDING),
            FfiPoll::Panicked => RawtaskFfiPoll::empty(RAWTASK_FFI_POLL_PANICKED),
        }
    }
}

impl<T> fmt::Debug for RawtaskFfiPoll<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawtaskFfiPoll")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for RawtaskFfiPollPayload<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawtaskFfiPollPayload")
    }
}

// The layout promise, checked against the enum it mirrors.
const _: () = {
    assert!(size_of::<RawtaskFfiPoll<u64>>() == size_of::<FfiPoll<u64>>());
    assert!(size_of::<RawtaskFfiPoll<u8>>() == size_of::<FfiPoll<u8>>());
    assert!(size_of::<RawtaskFfiPoll<()>>() == size_of::<FfiPoll<()>>());
    assert!(size_of::<RawtaskFfiPoll<[u8; 3]>>() == size_of::<FfiPoll<[u8; 3]>>());
    assert!(align_of::<RawtaskFfiPoll<u64>>() == align_of::<FfiPoll<u64>>());
};

/// How a rawtask future hands its panic message to the awaiting side (see the
/// [module docs](super#panics)): an FFI waker that a panicking poll function stores in the
/// context (`cx->waker = &note->waker`) before returning [`RAWTASK_FFI_POLL_PANICKED`].
///
/// To read it, the awaiting side, after a `Panicked` result, checks that the context's waker
/// differs from the waker `w` it passed in, that `magic` is [`RAWTASK_FFI_PANIC_NOTE_MAGIC`]
/// and that `original == w`; it may then read `message`, and must then call
/// `note->release(note)` once and stop using the note (restoring `cx->waker = w` if it keeps
/// the context). A host that never looks leaks the note, which stays a valid waker that
/// forwards `clone` and `wake_by_ref` to `original`, so the context remains usable.
///
/// Only rawtask writes notes; a foreign poll function must leave the context alone.
///
/// ```
/// use rawtask::ffi::{abi::RawtaskFfiPanicNote, FutureExt};
/// use std::task::{Context, Waker};
/// // Rust code never touches notes: `try_poll` (or awaiting) reads them.
/// let mut f = async { panic!("the message") }.into_ffi();
/// let err = f.try_poll(&mut Context::from_waker(Waker::noop())).unwrap_err();
/// assert_eq!(err.message(), Some("the message"));
/// # let _ = std::mem::size_of::<RawtaskFfiPanicNote>();
/// ```
#[repr(C)]
pub struct RawtaskFfiPanicNote {
    /// The note is an FFI waker: its vtable forwards `clone` and `wake_by_ref` to `original`
    /// (`wake` and `drop` abort: the context's waker is only ever borrowed).
    pub waker: FfiWakerBase,
    /// [`RAWTASK_FFI_PANIC_NOTE_MAGIC`].
    pub magic: u64,
    /// The waker the context held before the note replaced it.
    pub original: *const FfiWakerBase,
    /// The panic message: UTF-8, `message_len` bytes, followed by a NUL (not counted).
    pub message: *const c_char,
    /// The length of `message` in bytes, without the NUL.
    pub message_len: usize,
    /// Frees the note (and its message) with the allocator of the library that made it.
    pub release: unsafe extern "C" fn(note: *mut RawtaskFfiPanicNote),
}

impl fmt::Debug for RawtaskFfiPanicNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawtaskFfiPanicNote")
            .field("magic", &self.magic)
            .field("original", &self.original)
            .field("message_len", &self.message_len)
            .finish_non_exhaustive()
    }
}

// ----- the C view of three common instances -----
//
// C has no generics: the header declares one future type and one poll type per output type.
// These are those declarations for outputs `uint64_t`, `void *` and none (Rust's `()`); for
// another output `T`, C declares `struct { uint8_t tag; T ready; }` and a future whose
// `poll_fn` returns it, in the same way. Rust code uses `FfiFuture<T>` itself, whose layout
// these mirror exactly (checked at compile time below, and by the C tests at run time).

/// The C view of [`FfiPoll<u64>`](FfiPoll): what the `poll_fn` of a
/// [`RawtaskFfiFutureU64`] returns.
///
/// ```
/// use rawtask::ffi::abi::{RawtaskFfiPollU64, RAWTASK_FFI_POLL_READY};
/// let ready = RawtaskFfiPollU64 { tag: RAWTASK_FFI_POLL_READY, ready: 42 };
/// assert_eq!(std::mem::size_of_val(&ready), 16);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawtaskFfiPollU64 {
    /// [`RAWTASK_FFI_POLL_READY`], [`RAWTASK_FFI_POLL_PENDING`] or
    /// [`RAWTASK_FFI_POLL_PANICKED`]; any other value is rejected.
    pub tag: u8,
    /// The output, meaningful only when `tag` is [`RAWTASK_FFI_POLL_READY`].
    pub ready: u64,
}

/// The C view of [`FfiFuture<u64>`](super::FfiFuture) (any of the four variants): a future whose
/// output is a `uint64_t`. Rust declares functions with `FfiFuture<u64>`, C with this.
///
/// The FFI future ABI (async-ffi 0.5.1's, `RAWTASK_FFI_ABI_VERSION`), for every output type:
///
/// - Ownership: whoever holds the struct owns `fut_ptr`; it calls `drop_fn(fut_ptr)` exactly
///   once, which frees the future with the allocator of the library that made it. A future
///   is moved by copying the struct and forgetting the original.
/// - Polling: `poll_fn(fut_ptr, cx)`, never concurrently with itself or `drop_fn`. It returns
///   a tag (`RAWTASK_FFI_POLL_READY`, `_PENDING` or `_PANICKED`) and, for READY, the output,
///   which the caller now owns. Pending: the future has arranged for `cx`'s waker (or a clone)
///   to be woken. Do not poll again after READY or PANICKED (rawtask's awaiting side never
///   calls `poll_fn` again after PANICKED): a future made by rawtask then polls its Rust future
///   again, which for an `async` block panics and so returns PANICKED with a note; other
///   implementations may do anything.
/// - The context (`RawtaskFfiContext`) and its waker are the caller's, lent for the call: the
///   future may call `wake_by_ref` and `clone` on that waker, never `wake` or `drop`, and must
///   not write to the context, except a rawtask future leaving a `RawtaskFfiPanicNote`.
/// - Wakers: a waker is a `RawtaskFfiWaker *` whose first field points to its vtable. `clone`
///   returns a new owned waker; each owned waker is consumed exactly once, by `wake` or
///   `drop`, on any thread. A rawtask task lends its task pointer as its waker (clone = a
///   reference count increment, no allocation).
/// - Nothing may unwind across these functions (no C++ exceptions, no `longjmp`).
///
/// ```
/// use rawtask::ffi::{abi::RawtaskFfiFutureU64, FfiFuture};
/// assert_eq!(std::mem::size_of::<RawtaskFfiFutureU64>(), std::mem::size_of::<FfiFuture<u64>>());
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawtaskFfiFutureU64 {
    /// The future's state, owned by whoever holds this struct; passed to `poll_fn` and
    /// `drop_fn`.
    pub fut_ptr: *mut c_void,
    /// Polls the future once with a borrowed context (see [`FfiContext`]). Never called
    /// concurrently with itself or with `drop_fn`, nor after `drop_fn`.
    pub poll_fn:
        unsafe extern "C" fn(fut_ptr: *mut c_void, cx: *mut FfiContext<'_>) -> RawtaskFfiPollU64,
    /// Frees the future's state, with the allocator of the library that made it. Called
    /// exactly once.
    pub drop_fn: unsafe extern "C" fn(fut_ptr: *mut c_void),
}

const _: () = {
    assert!(size_of::<RawtaskFfiPollU64>() == size_of::<FfiPoll<u64>>());
    assert!(align_of::<RawtaskFfiPollU64>() == align_of::<FfiPoll<u64>>());
};

// The field offsets, on compilers that have `offset_of!` (the layout is the same on all).
#[cfg(rawtask_offset_of)]
const _: () = {
    assert!(core::mem::offset_of!(RawtaskFfiFutureU64, fut_ptr) == 0);
    assert!(core::mem::offset_of!(RawtaskFfiFutureU64, poll_fn) == size_of::<usize>());
    assert!(core::mem::offset_of!(RawtaskFfiFutureU64, drop_fn) == 2 * size_of::<usize>());
};

/// The C view of [`FfiPoll<*mut c_void>`](FfiPoll): what the `poll_fn` of a
/// [`RawtaskFfiFuturePtr`] returns.
///
/// ```
/// use rawtask::ffi::abi::{RawtaskFfiPollPtr, RAWTASK_FFI_POLL_PENDING};
/// let pending = RawtaskFfiPollPtr { tag: RAWTASK_FFI_POLL_PENDING, ready: std::ptr::null_mut() };
/// assert_eq!(pending.tag, 1);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawtaskFfiPollPtr {
    /// [`RAWTASK_FFI_POLL_READY`], [`RAWTASK_FFI_POLL_PENDING`] or
    /// [`RAWTASK_FFI_POLL_PANICKED`]; any other value is rejected.
    pub tag: u8,
    /// The output, meaningful only when `tag` is [`RAWTASK_FFI_POLL_READY`].
    pub ready: *mut c_void,
}

/// The C view of [`FfiFuture<*mut c_void>`](super::FfiFuture): a future whose output is a pointer
/// (whose ownership the two sides agree on).
///
/// ```
/// use rawtask::ffi::{abi::RawtaskFfiFuturePtr, FfiFuture};
/// use std::ffi::c_void;
/// assert_eq!(std::mem::size_of::<RawtaskFfiFuturePtr>(), std::mem::size_of::<FfiFuture<*mut c_void>>());
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawtaskFfiFuturePtr {
    /// The future's state, owned by whoever holds this struct; passed to `poll_fn` and
    /// `drop_fn`.
    pub fut_ptr: *mut c_void,
    /// Polls the future once with a borrowed context (see [`FfiContext`]). Never called
    /// concurrently with itself or with `drop_fn`, nor after `drop_fn`.
    pub poll_fn:
        unsafe extern "C" fn(fut_ptr: *mut c_void, cx: *mut FfiContext<'_>) -> RawtaskFfiPollPtr,
    /// Frees the future's state, with the allocator of the library that made it. Called
    /// exactly once.
    pub drop_fn: unsafe extern "C" fn(fut_ptr: *mut c_void),
}

const _: () = {
    assert!(size_of::<RawtaskFfiPollPtr>() == size_of::<FfiPoll<*mut c_void>>());
    assert!(align_of::<RawtaskFfiPollPtr>() == align_of::<FfiPoll<*mut c_void>>());
};

// The field offsets, on compilers that have `offset_of!` (the layout is the same on all).
#[cfg(rawtask_offset_of)]
const _: () = {
    assert!(core::mem::offset_of!(RawtaskFfiFuturePtr, fut_ptr) == 0);
    assert!(core::mem::offset_of!(RawtaskFfiFuturePtr, poll_fn) == size_of::<usize>());
    assert!(core::mem::offset_of!(RawtaskFfiFuturePtr, drop_fn) == 2 * size_of::<usize>());
};

/// The C view of [`FfiPoll<()>`](FfiPoll): a tag alone, what the `poll_fn` of a
/// [`RawtaskFfiFutureVoid`] returns.
///
/// ```
/// use rawtask::ffi::abi::RawtaskFfiPollVoid;
/// assert_eq!(std::mem::size_of::<RawtaskFfiPollVoid>(), 1);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawtaskFfiPollVoid {
    /// [`RAWTASK_FFI_POLL_READY`], [`RAWTASK_FFI_POLL_PENDING`] or
    /// [`RAWTASK_FFI_POLL_PANICKED`]; any other value is rejected.
    pub tag: u8,
}

/// The C view of [`FfiFuture<()>`](super::FfiFuture): a future without output.
///
/// ```
/// use rawtask::ffi::{abi::RawtaskFfiFutureVoid, FfiFuture};
/// assert_eq!(std::mem::size_of::<RawtaskFfiFutureVoid>(), std::mem::size_of::<FfiFuture<()>>());
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawtaskFfiFutureVoid {
    /// The future's state, owned by whoever holds this struct; passed to `poll_fn` and
    /// `drop_fn`.
    pub fut_ptr: *mut c_void,
    /// Polls the future once with a borrowed context (see [`FfiContext`]). Never called
    /// concurrently with itself or with `drop_fn`, nor after `drop_fn`.
    pub poll_fn:
        unsafe extern "C" fn(fut_ptr: *mut c_void, cx: *mut FfiContext<'_>) -> RawtaskFfiPollVoid,
    /// Frees the future's state, with the allocator of the library that made it. Called
    /// exactly once.
    pub drop_fn: unsafe extern "C" fn(fut_ptr: *mut c_void),
}

const _: () = {
    assert!(size_of::<RawtaskFfiPollVoid>() == size_of::<FfiPoll<()>>());
    assert!(align_of::<RawtaskFfiPollVoid>() == align_of::<FfiPoll<()>>());
};

// The field offsets, on compilers that have `offset_of!` (the layout is the same on all).
#[cfg(rawtask_offset_of)]
const _: () = {
    assert!(core::mem::offset_of!(RawtaskFfiFutureVoid, fut_ptr) == 0);
    assert!(core::mem::offset_of!(RawtaskFfiFutureVoid, poll_fn) == size_of::<usize>());
    assert!(core::mem::offset_of!(RawtaskFfiFutureVoid, drop_fn) == 2 * size_of::<usize>());
};
