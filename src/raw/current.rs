//! The task this thread is polling, so that the task's own wake during its poll (a yield)
//! writes nothing to the state word (raw rule 17).
//!
//! `run` makes its task current for the length of the poll ([`Current::enter`]). A wake by
//! reference that finds its task current on the calling thread only sets the low bit of the
//! thread's word ([`wake_current`]); the end of the poll reads and clears it
//! ([`Current::exit`]) and counts it as NOTIFIED. Every other wake (from another thread, of
//! another task, by value, or outside a poll) is the state word's read-modify-write, as before.
//!
//! Nothing is lost by keeping the mark in the thread: a wake during the poll only ever asks
//! the poll's end to schedule the task again, and the poll's end runs on this thread. Nothing
//! needs publishing either: the waker's memory is this thread's own.
//!
//! Without `std` there is no thread-local storage, and no task is ever current.

use core::ptr::NonNull;

#[cfg(all(feature = "std", not(loom)))]
std::thread_local! {
    /// The address of the task being polled on this thread (0: none), with the low bit set
    /// once it has woken itself. Task pointers are word-aligned, so the bit is free.
    static CURRENT: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

// Loom runs every model thread on one OS thread: its own thread-locals keep one value per
// model thread.
#[cfg(all(feature = "std", loom))]
loom::thread_local! {
    static CURRENT: core::cell::Cell<usize> = core::cell::Cell::new(0);
}

/// The low bit of the word: the current task woke itself.
#[cfg(feature = "std")]
const WOKEN: usize = 1;

/// The mark of a poll in progress: restores the thread's previous current task when the poll
/// ends, or when it unwinds (a run nested in another task's poll, e.g. a `block_on` inside a
/// future, gives the outer task back its mark).
#[must_use]
pub(crate) struct Current {
    #[cfg(feature = "std")]
    outer: usize,
}

impl Current {
    /// Makes `ptr` this thread's current task until [`exit`](Self::exit).
    #[inline(always)]
    pub(crate) fn enter(ptr: NonNull<()>) -> Current {
        #[cfg(feature = "std")]
        {
            let outer = CURRENT.with(|word| word.replace(ptr.as_ptr() as usize));
            Current { outer }
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = ptr;
            Current {}
        }
    }

    /// Ends the poll: whether the task woke itself on this thread during it.
    #[inline(always)]
    pub(crate) fn exit(self) -> bool {
        #[cfg(feature = "std")]
        {
            let this = core::mem::ManuallyDrop::new(self);
            CURRENT.with(|word| word.replace(this.outer)) & WOKEN != 0
        }
        #[cfg(not(feature = "std"))]
        {
            false
        }
    }
}

#[cfg(feature = "std")]
impl Drop for Current {
    /// The poll unwound: the mark goes with it.
    fn drop(&mut self) {
        let outer = self.outer;
        CURRENT.with(|word| word.set(outer));
    }
}

/// A wake by reference of the task behind `data`: `true` if that task is being polled on this
/// thread, in which case the wake is recorded for the poll's end and nothing else is to be done.
#[inline(always)]
pub(crate) fn wake_current(data: *const ()) -> bool {
    #[cfg(feature = "std")]
    {
        CURRENT.with(|word| {
            // Compared without the bit: a second wake in the same poll is recorded again.
            let current = word.get() & !WOKEN;
            let hit = current == data as usize;
            if hit {
                word.set(current | WOKEN);
            }
            hit
        })
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = data;
        false
    }
}
