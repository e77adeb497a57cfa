//! [`SharedRef`]: how a task's [`HomeSchedule`](super::HomeSchedule) holds the home's shared
//! part alive — biased reference counting, so that spawning and freeing a task on the home
//! thread costs no atomic operation.
//!
//! - A reference made **on the home thread** before shutdown is *local*: it is counted in
//!   `Local::refs`, a plain integer only that thread touches. All local references together
//!   hold one strong count of the `Arc` (the *group* count, taken by `Home::new`).
//! - A reference made **on another thread**, or after shutdown, is an ordinary `Arc` strong
//!   count.
//! - A local reference dropped on the home thread before shutdown decrements `Local::refs`.
//!   Dropped **anywhere else** (another thread, or after shutdown), it decrements
//!   `Shared::remote` instead, which then goes below zero (wrapping).
//! - Shutdown *merges*, on the home thread: it adds `Local::refs` (every local reference not
//!   dropped on the home thread, including those dropped remotely) to `remote`. From then on
//!   `remote` counts the local references still alive, so it can reach zero only after the
//!   merge; whoever brings it to zero — the merge itself, or the last remote drop — releases
//!   the group count. Before the merge its value is zero or "negative", so a remote drop
//!   (which subtracts one) can never land on zero there.

use core::fmt;
use core::ptr::NonNull;

use super::shared::Shared;
use crate::sync::atomic::Ordering;
use crate::sync::Arc;

/// One reference to a home's shared part (see the module docs).
pub(super) struct SharedRef<M> {
    shared: NonNull<Shared<M>>,
    /// Counted in `Local::refs` (or, after the merge, in `Shared::remote`), not in the `Arc`.
    local: bool,
}

// SAFETY: a `SharedRef` is an `Arc<Shared<M>>` with a cheaper count: sending or sharing it is
// sound exactly when sending or sharing that `Arc` is, i.e. when `Shared<M>` is `Send + Sync`
// (`M: Send + Sync`). A local reference only touches `Local` on the home thread (checked).
unsafe impl<M: Send + Sync> Send for SharedRef<M> {}
// SAFETY: as above; `&SharedRef` gives only `&Shared`.
unsafe impl<M: Send + Sync> Sync for SharedRef<M> {}

impl<M> SharedRef<M> {
    /// A new reference to the part `home` holds.
    pub(super) fn new(home: &Arc<Shared<M>>) -> SharedRef<M> {
        // `Arc::as_ptr`, not a reference: the pointer must keep the provenance of the whole
        // allocation, counts included, for `Arc::increment_strong_count` (Miri checks).
        let shared = NonNull::new(Arc::as_ptr(home).cast_mut()).expect("an Arc is never null");
        // SAFETY: `home` holds it alive during the call.
        unsafe { Self::acquire(shared) }
    }

    /// Counts one more reference to `shared`: local on the home thread before the merge, an
    /// `Arc` strong count otherwise.
    ///
    /// # Safety
    /// `shared` is alive during the call (the caller holds a reference).
    #[inline]
    unsafe fn acquire(shared: NonNull<Shared<M>>) -> SharedRef<M> {
        // SAFETY: alive (the caller's promise).
        let part = unsafe { shared.as_ref() };
        if count_local(part, |refs| *refs += 1) {
            return SharedRef {
                shared,
                local: true,
            };
        }
        // SAFETY: the pointer came from an `Arc` that is alive (the caller's reference, or the
        // group count behind it).
        unsafe { Arc::increment_strong_count(shared.as_ptr().cast_const()) };
        SharedRef {
            shared,
            local: false,
        }
    }

    /// The shared part.
    #[inline]
    pub(super) fn get(&self) -> &Shared<M> {
        // SAFETY: this reference holds it alive.
        unsafe { self.shared.as_ref() }
    }

    /// An owned `Arc` strong count of the shared part (one atomic increment), for a caller
    /// that must keep it alive past the point where this reference may be freed.
    pub(super) fn to_arc(&self) -> Arc<Shared<M>> {
        let ptr = self.shared.as_ptr().cast_const();
        // SAFETY: alive (this reference); the new count is handed to `from_raw` at once.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }
}

/// Applies `change` to `Local::refs` if the caller is on the home thread and the count has
/// not been merged yet; returns whether it did (else the caller counts atomically).
#[inline]
fn count_local<M>(part: &Shared<M>, change: impl FnOnce(&mut usize)) -> bool {
    if !part.on_home() {
        return false;
    }
    // SAFETY: on the home thread (checked); counting runs no user code.
    unsafe {
        part.with_local(|local| {
            if local.merged {
                return false;
            }
            change(&mut local.refs);
            true
        })
    }
}

/// The merge of shutdown (module docs), on the home thread, once: every later local drop goes
/// to `remote`, and the group count is released when no local reference is left.
///
/// # Safety
/// On the home thread, once, by the `Home` that took the group count, after which it takes no
/// more local references (`Local::merged` is set here).
pub(super) unsafe fn merge<M>(home: &Arc<Shared<M>>) {
    // SAFETY: on the home thread (the caller's promise); no user code runs inside.
    let refs = unsafe {
        home.with_local(|local| {
            local.merged = true;
            local.refs
        })
    };
    // AcqRel: acquires the remote drops before it (their uses of the part happen before a
    // release here), and releases ours to the last remote drop.
    let previous = home.remote.fetch_add(refs, Ordering::AcqRel);
    if previous.wrapping_add(refs) == 0 {
        // SAFETY: no local reference is left: the group count is ours to release (the
        // `Home`'s own count keeps the part alive through this call).
        unsafe { Arc::decrement_strong_count(Arc::as_ptr(home)) };
    }
}

impl<M> Clone for SharedRef<M> {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: `self` holds the part alive.
        unsafe { Self::acquire(self.shared) }
    }
}

impl<M> Drop for SharedRef<M> {
    #[inline]
    fn drop(&mut self) {
        let ptr = self.shared.as_ptr().cast_const();
        if !self.local {
            // SAFETY: this reference owns one strong count.
            unsafe { Arc::decrement_strong_count(ptr) };
            return;
        }
        let part = self.get();
        if count_local(part, |refs| *refs -= 1) {
            return;
        }
        // A remote drop (module docs). AcqRel: releases our uses of the part to whoever
        // releases the group count, and acquires everyone's if that is us.
        if part.remote.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: merged, and we were the last local reference: the group count is ours.
            unsafe { Arc::decrement_strong_count(ptr) };
        }
    }
}

impl<M> fmt::Debug for SharedRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRef")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}
