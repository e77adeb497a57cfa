//! [`FfiPoll`], the FFI-safe `Poll`, and [`PollPanicked`].

use core::fmt;
use core::task::Poll;
use std::string::{String, ToString};

/// The FFI-safe counterpart of [`Poll`], plus `Panicked` for a `poll` that panicked.
///
/// `repr(C, u8)`: a `u8` tag (`Ready` = 0, `Pending` = 1, `Panicked` = 2) followed by a union
/// holding the output for `Ready`. rawtask never transmutes a foreign poll result into this
/// enum: it reads the raw tag first ([`RawtaskFfiPoll`](super::abi::RawtaskFfiPoll)), so a tag
/// outside `0..=2` from C is rejected instead of being undefined behaviour.
///
/// ```
/// use rawtask::ffi::FfiPoll;
/// use std::task::Poll;
///
/// let p: FfiPoll<u8> = Poll::Ready(7).into();
/// assert_eq!(p, FfiPoll::Ready(7));
/// assert_eq!(p.try_into_poll().unwrap(), Poll::Ready(7));
/// assert!(FfiPoll::<u8>::Panicked.try_into_poll().is_err());
/// ```
#[repr(C, u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "abi_stable", derive(abi_stable::StableAbi))]
pub enum FfiPoll<T> {
    /// The future finished with this output.
    Ready(T),
    /// The future is not finished; it will wake the context's waker when it can progress.
    Pending,
    /// The future's `poll` panicked (the panic was caught at the FFI boundary).
    Panicked,
}

impl<T> FfiPoll<T> {
    /// Converts a [`Poll`] (never `Panicked`).
    ///
    /// ```
    /// use rawtask::ffi::FfiPoll;
    /// assert_eq!(FfiPoll::from_poll(std::task::Poll::<u8>::Pending), FfiPoll::Pending);
    /// ```
    pub fn from_poll(poll: Poll<T>) -> Self {
        match poll {
            Poll::Ready(output) => FfiPoll::Ready(output),
            Poll::Pending => FfiPoll::Pending,
        }
    }

    /// Converts back into a [`Poll`]; `Panicked` becomes an error (without a message: the
    /// message travels in the context, see the [module docs](super#panics)).
    ///
    /// ```
    /// use rawtask::ffi::FfiPoll;
    /// assert_eq!(FfiPoll::Ready(1).try_into_poll().unwrap(), std::task::Poll::Ready(1));
    /// ```
    pub fn try_into_poll(self) -> Result<Poll<T>, PollPanicked> {
        match self {
            FfiPoll::Ready(output) => Ok(Poll::Ready(output)),
            FfiPoll::Pending => Ok(Poll::Pending),
            FfiPoll::Panicked => Err(PollPanicked::new(None)),
        }
    }
}

impl<T> From<Poll<T>> for FfiPoll<T> {
    /// See [`FfiPoll::from_poll`].
    fn from(poll: Poll<T>) -> Self {
        FfiPoll::from_poll(poll)
    }
}

impl<T> TryFrom<FfiPoll<T>> for Poll<T> {
    type Error = PollPanicked;

    /// See [`FfiPoll::try_into_poll`].
    fn try_from(poll: FfiPoll<T>) -> Result<Self, PollPanicked> {
        poll.try_into_poll()
    }
}

/// The error of an FFI future whose `poll` panicked, with the panic's message when it crossed
/// the boundary (see the [module docs](super#panics)).
///
/// ```
/// use rawtask::ffi::FutureExt;
/// use std::task::{Context, Waker};
///
/// let mut future = async { panic!("out of cheese") }.into_ffi();
/// let err = future.try_poll(&mut Context::from_waker(Waker::noop())).unwrap_err();
/// assert_eq!(err.message(), Some("out of cheese"));
/// assert_eq!(err.to_string(), "FFI future panicked: out of cheese");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollPanicked {
    message: Option<String>,
}

impl PollPanicked {
    pub(crate) fn new(message: Option<String>) -> PollPanicked {
        PollPanicked { message }
    }

    /// The panic message, if the future's side sent one (rawtask does; async-ffi and most C
    /// code do not).
    ///
    /// ```
    /// use rawtask::ffi::FfiPoll;
    /// let err = FfiPoll::<()>::Panicked.try_into_poll().unwrap_err();
    /// assert_eq!(err.message(), None);
    /// ```
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Raises the panic on this side, with the message async-ffi raises: "FFI future
    /// panicked", followed by `: ` and the original message when one crossed. A message that
    /// already starts with "FFI future panicked" (a panic re-raised by an inner FFI layer) is
    /// raised as it is, so a panic crossing several layers carries the prefix once.
    ///
    /// The payload is the [`Display`](fmt::Display) text: a `String` when a message crossed,
    /// else the `&'static str` "FFI future panicked", exactly as async-ffi raises it.
    ///
    /// ```
    /// use rawtask::ffi::FutureExt;
    /// use std::task::{Context, Waker};
    ///
    /// let mut future = async { panic!("out of cheese") }.into_ffi();
    /// let err = future.try_poll(&mut Context::from_waker(Waker::noop())).unwrap_err();
    /// let payload = std::panic::catch_unwind(|| err.resume()).unwrap_err();
    /// assert_eq!(
    ///     payload.downcast_ref::<String>().unwrap(),
    ///     "FFI future panicked: out of cheese"
    /// );
    /// ```
    #[cold]
    #[track_caller]
    pub fn resume(self) -> ! {
        match self.message {
            // The prefix keeps async-ffi's message (callers match on it); the rest is what
            // async-ffi loses.
            Some(_) => std::panic::panic_any(self.to_string()),
            None => std::panic::panic_any(PANICKED),
        }
    }
}

/// async-ffi's message for a panic that crossed; rawtask appends the original message.
const PANICKED: &str = "FFI future panicked";

impl fmt::Display for PollPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            // Re-raised by an inner FFI layer already: one prefix is enough.
            Some(message) if message.starts_with(PANICKED) => f.write_str(message),
            Some(message) => write!(f, "{PANICKED}: {message}"),
            None => f.write_str(PANICKED),
        }
    }
}

impl std::error::Error for PollPanicked {}
