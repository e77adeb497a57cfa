//! [`RawTask`]: the per-type functions of a task, which drive the protocol. This file runs the
//! task (poll, complete, pending, panic) and schedules it; `lifecycle` builds and frees it.

use core::alloc::Layout;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop};
use core::pin::Pin;
use core::ptr::{self, addr_of, NonNull};
use core::task::{Context, Poll};

use super::awaiter::wake_awaiter;
use super::cell::{StoredPanic, TaskCell};
use super::current::Current;
use super::extras::Extras;
use super::header::prefix;
use super::release::{release_closed_runnable, release_waker_ref};
use super::state::{Complete, State};
use super::vtable::TaskVTable;
use super::waker::{waker_from_ref, FFI_WAKER_VTABLE};
use crate::runnable::Runnable;
use crate::schedule::{sealed::Sealed, Schedule};
use crate::schedule_info::ScheduleInfo;

/// The per-type operations of a task, as associated functions on a marker type: future `F`,
/// output `T`, schedule function `S`, data slot `M` and extras `E`.
pub(crate) struct RawTask<F, T, S, M, E>(PhantomData<TaskCell<F, T, S, M, E>>);

impl<F, T, S, M, E> RawTask<F, T, S, M, E>
where
    F: Future<Output = T>,
    S: Schedule<M>,
    E: Extras,
{
    pub(super) const VTABLE: TaskVTable = TaskVTable {
        ffi_waker: FFI_WAKER_VTABLE,
        schedule: Self::schedule,
        schedule_holds: Self::SCHEDULE_HOLDS,
        run: Self::run,
        drop_future: Self::drop_future,
        read_output: Self::read_output,
        destroy: Self::destroy,
        layout: Layout::new::<TaskCell<F, T, S, M, E>>(),
        data_offset: crate::data_offset::<M>(),
        data_size: mem::size_of::<M>(),
        identity: Self::identity,
    };

    /// Whether a call of the schedule function must keep the task alive with a reference of
    /// its own (rule 6): it has captured state, which lives in the task, and is not plain data
    /// (which is copied out before the call instead).
    pub(crate) const SCHEDULE_HOLDS: bool =
        mem::size_of::<S>() > 0 && !<S as Sealed<M>>::PLAIN_DATA;

    #[inline(always)]
    pub(super) fn cell(ptr: NonNull<()>) -> *mut TaskCell<F, T, S, M, E> {
        ptr.cast::<TaskCell<F, T, S, M, E>>().as_ptr()
    }

    /// Passes a `Runnable` to the schedule function. The caller gives up one reference (and the
    /// SCHEDULED bit), which the `Runnable` takes over; with `held`, also the reference that
    /// keeps the schedule function alive during the call (`SCHEDULE_HOLDS`), which is released
    /// after it. Without `held`, that reference is added here when needed.
    pub(super) unsafe fn schedule(ptr: NonNull<()>, info: ScheduleInfo, held: bool) {
        debug_assert!(
            !held || Self::SCHEDULE_HOLDS,
            "a hold for a function that needs none"
        );
        let cell = Self::cell(ptr);
        // SAFETY: the caller's reference keeps the task alive.
        unsafe { &(*cell).extras }.scheduled(info);

        if <S as Sealed<M>>::PLAIN_DATA {
            // A schedule function that is plain data (the C API's callback and context) is
            // copied out before the call, so nothing needs the allocation during it (rule 6).
            // SAFETY: the caller's reference keeps the task alive for the read; `PLAIN_DATA`
            // says a bitwise copy is an equivalent value that owns nothing, and `ManuallyDrop`
            // keeps the copy from being dropped.
            let schedule = ManuallyDrop::new(unsafe { ptr::read(addr_of!((*cell).schedule)) });
            // SAFETY: the caller's reference and SCHEDULED bit become the `Runnable`'s.
            let runnable = unsafe { Runnable::<M>::from_raw(ptr) };
            schedule.schedule(runnable, info);
            return;
        }

        if !Self::SCHEDULE_HOLDS {
            // A zero-sized schedule function: nothing of the task is read during the call.
            // (A branch of its own: an `Option` of the hold below stayed on the stack, to be
            // checked after the call, even where it was always `None`.)
            // SAFETY: the caller's reference and SCHEDULED bit become the `Runnable`'s.
            let runnable = unsafe { Runnable::<M>::from_raw(ptr) };
            // SAFETY: the caller's reference keeps the task alive for the read.
            unsafe { (*addr_of!((*cell).schedule)).schedule(runnable, info) };
            return;
        }

        /// Keeps the task, and so the schedule function, alive during the call (rule 6).
        struct Hold(NonNull<()>);
        impl Drop for Hold {
            fn drop(&mut self) {
                // SAFETY: `Hold` owns the reference added below.
                unsafe { release_waker_ref(self.0) }
            }
        }
        if !held {
            // SAFETY: the caller's reference keeps the task alive while we add ours.
            unsafe { prefix(ptr) }.state.add_ref();
        }
        let _hold = Hold(ptr);

        // SAFETY: the caller's reference and SCHEDULED bit become the `Runnable`'s; `_hold`
        // (the caller's or ours) keeps `schedule` valid during the call.
        unsafe {
            let runnable = Runnable::<M>::from_raw(ptr);
            (*addr_of!((*cell).schedule)).schedule(runnable, info);
        }
    }

    /// Releases the `Runnable`'s reference after it is done with the task, freeing the task if
    /// that was the last owner. Whether the future still has to be dropped is read from the
    /// state, as `release_last` does: a task that is neither completed nor closed still holds
    /// its future, which can never be woken again once the task is unreferenced, so it is
    /// dropped here (rule 2). (The caller cannot know: once it cleared SCHEDULED, a waker may have
    /// scheduled and run the task to completion on another thread.)
    ///
    /// # Safety
    /// The caller owns the `Runnable`'s reference and gives it up.
    #[inline(always)]
    unsafe fn release_runnable(ptr: NonNull<()>) {
        // SAFETY: our reference keeps the task alive until `release_ref`.
        let new = unsafe { prefix(ptr) }.state.release_ref();
        // SAFETY: `new` is the state our release left.
        unsafe { Self::free_if_unreferenced(ptr, new) };
    }

    /// Frees the task if `new`, the state a `Runnable`'s release left, shows it unreferenced,
    /// dropping the future first if it was never completed.
    ///
    /// # Safety
    /// `new` is the state the caller's release of the `Runnable`'s reference left.
    #[inline(always)]
    unsafe fn free_if_unreferenced(ptr: NonNull<()>, new: State) {
        if new.is_unreferenced() {
            // SAFETY: no reference and no `Task` remain: we own the task; a task that is not
            // done has not had its future dropped.
            unsafe {
                if !new.is_done() {
                    Self::drop_future(ptr);
                }
                Self::destroy(ptr);
            }
        }
    }

    /// The end of a poll that leaves the task done or closed: takes the awaiter out (if `prev`,
    /// the state before the caller's transition, had one), releases the `Runnable`'s reference,
    /// and only then wakes the awaiter, so that a woken `Task` finds the reference gone.
    ///
    /// # Safety
    /// The caller owns the `Runnable`'s reference, gives it up, and the future is gone.
    #[inline(always)]
    unsafe fn release_and_notify(ptr: NonNull<()>, prev: State) {
        // SAFETY: our reference keeps the task alive until `release_runnable`.
        let header = unsafe { prefix(ptr) };
        let awaiter = if prev.has_awaiter() {
            header.take_awaiter(None)
        } else {
            None
        };
        // SAFETY: forwarded from the caller.
        unsafe { Self::release_runnable(ptr) };
        wake_awaiter(awaiter);
    }

    /// Runs a task that was closed before this poll: drops the future and lets the `Task`
    /// holder know.
    ///
    /// # Safety
    /// Called by `run` with the `Runnable`'s reference and SCHEDULED bit.
    #[cold]
    unsafe fn run_closed(ptr: NonNull<()>) {
        // SAFETY: a closed task's future is dropped by the `Runnable` that holds SCHEDULED
        // (rule 2); the task was never completed, since completion clears SCHEDULED.
        unsafe { Self::drop_future(ptr) };
        // SAFETY: our reference keeps the task alive.
        unsafe { release_closed_runnable(ptr) };
    }

    /// Polls the future once. Returns `true` if the task was woken while running and has been
    /// scheduled again.
    ///
    /// # Safety
    /// The caller gives up a `Runnable` (its reference and SCHEDULED bit).
    pub(super) unsafe fn run(ptr: NonNull<()>) -> bool {
        let cell = Self::cell(ptr);
        // SAFETY: the `Runnable`'s reference keeps the task alive throughout.
        let header = unsafe { prefix(ptr) };

        // SAFETY: as above.
        if !unsafe { &(*cell).extras }.is_home() {
            // Close the task as a dropped `Runnable` would (the future is leaked, not dropped,
            // on this thread), then report the misuse.
            // SAFETY: we own the `Runnable`.
            drop(unsafe { Runnable::<M>::from_raw(ptr) });
            panic!(
                "rawtask: a task created by spawn_local was run on a thread other than the one \
                 that spawned it; the task was cancelled and its future leaked"
            );
        }

        let state = match header.state.start_running() {
            Ok(state) => state,
            Err(_) => {
                // SAFETY: we hold the `Runnable`'s reference and SCHEDULED.
                unsafe { Self::run_closed(ptr) };
                return false;
            }
        };

        // The waker borrows the `Runnable`'s reference: building it costs nothing.
        // SAFETY: `ManuallyDrop` makes sure the borrowed reference is not released.
        let waker = ManuallyDrop::new(unsafe { waker_from_ref(ptr) });
        let cx = &mut Context::from_waker(&waker);

        // SAFETY: we hold SCHEDULED (the `Runnable`), which gives us the future; it is pinned inside the
        // allocation and never moved.
        // The hooks (none for most tasks) go around the poll, inside its panic handling.
        let poll = |cx: &mut Context<'_>| unsafe {
            (*cell).extras.around_poll(|| {
                (*cell).stage.with_mut(|stage| {
                    let future = Pin::new_unchecked(&mut *(*stage).future);
                    future.poll(cx)
                })
            })
        };

        // The task is this thread's current one while it polls: a wake of it by reference from
        // here is recorded in the thread instead of the state word (rule 17).
        let current = Current::enter(ptr);
        let result: Result<Poll<T>, StoredPanic> = if state.propagates_panic() {
            Self::poll_catching(poll, cx)
        } else {
            /// Closes the task if `poll` unwinds.
            struct Unwind(NonNull<()>, unsafe fn(NonNull<()>));
            impl Drop for Unwind {
                fn drop(&mut self) {
                    // SAFETY: only armed while we hold the `Runnable` (SCHEDULED and its reference).
                    unsafe { (self.1)(self.0) }
                }
            }
            let unwind = Unwind(ptr, Self::close_after_panic);
            let poll = poll(cx);
            mem::forget(unwind);
            Ok(poll)
        };
        let woken_here = current.exit();

        match result {
            Ok(Poll::Ready(output)) => {
                // SAFETY: we hold the `Runnable`.
                unsafe { Self::complete(ptr, Ok(output)) };
                false
            }
            #[cfg_attr(not(feature = "std"), allow(unreachable_patterns))]
            Err(panic) => {
                // SAFETY: we hold the `Runnable`.
                unsafe { Self::complete(ptr, Err(panic)) };
                false
            }
            // SAFETY: we hold the `Runnable`.
            Ok(Poll::Pending) => unsafe { Self::pending(ptr, woken_here) },
        }
    }

    /// Polls inside `catch_unwind`. Inlined into `run`: as a separate function it cost every
    /// poll a call and a second frame (callgrind, async-executor's `channels` benchmark with
    /// one codegen unit: 22 of the 1,632 instructions per message, the difference to
    /// async-task's 1,611).
    #[cfg(feature = "std")]
    #[inline]
    fn poll_catching(
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
        cx: &mut Context<'_>,
    ) -> Result<Poll<T>, StoredPanic> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll(cx)))
            .map_err(|payload| StoredPanic(std::boxed::Box::new(payload)))
    }

    #[cfg(not(feature = "std"))]
    #[inline(always)]
    fn poll_catching(
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
        cx: &mut Context<'_>,
    ) -> Result<Poll<T>, StoredPanic> {
        Ok(poll(cx))
    }

    /// The future finished: store the output (or the propagated panic) and tell the awaiter.
    ///
    /// # Safety
    /// Called by `run` while holding the `Runnable` (SCHEDULED and its reference).
    unsafe fn complete(ptr: NonNull<()>, output: Result<T, StoredPanic>) {
        let cell = Self::cell(ptr);
        // SAFETY: we hold the `Runnable`: the future is ours to drop.
        unsafe { Self::drop_future(ptr) };
        let panicked = output.is_err();
        // SAFETY: we hold the `Runnable` and the stage is now empty; the output is written before
        // COMPLETED is published.
        unsafe {
            (*cell).stage.with_mut(|stage| match output {
                Ok(value) => (*stage).output = ManuallyDrop::new(value),
                #[cfg(feature = "std")]
                Err(payload) => (*stage).panic = ManuallyDrop::new(payload),
                #[cfg(not(feature = "std"))]
                Err(never) => match never {},
            })
        };
        // SAFETY: our reference keeps the task alive.
        let header = unsafe { prefix(ptr) };
        match header.state.complete(panicked, !mem::needs_drop::<T>()) {
            Complete::Released => {
                // Our reference went with the transition: the `Task` handle takes the output
                // and frees the task, or another holder frees it with an output that needs no
                // drop; we must not touch it again.
            }
            Complete::Alone => {
                // Nothing else can reach the task (rules 1 and 12): drop the output nobody can
                // take, and free the task.
                // SAFETY: we own the task; the future is gone and the output stored.
                unsafe {
                    Self::drop_output(ptr, panicked);
                    Self::destroy(ptr);
                }
            }
            Complete::ClaimedAwaiter { drop_output } => {
                if drop_output {
                    // Nobody can take the output any more (rule 3).
                    // SAFETY: the output is stored and nobody else may read it.
                    unsafe { Self::drop_output(ptr, panicked) };
                }
                // The completion took NOTIFYING: the awaiter slot is ours until one last step
                // ends the notification and releases our reference together.
                // SAFETY: we hold NOTIFYING without REGISTERING: nobody else touches the slot.
                let awaiter = header.awaiter.with_mut(|slot| unsafe { (*slot).take() });
                let new = header.state.end_notify_and_release();
                // SAFETY: `new` is the state our release left.
                unsafe { Self::free_if_unreferenced(ptr, new) };
                wake_awaiter(awaiter);
            }
            Complete::Release { prev, drop_output } => {
                if drop_output {
                    // Nobody can take the output any more (rule 3).
                    // SAFETY: the output is stored and nobody else may read it.
                    unsafe { Self::drop_output(ptr, panicked) };
                }
                // SAFETY: we give up the `Runnable`'s reference; the future is gone.
                unsafe { Self::release_and_notify(ptr, prev) };
            }
        }
    }

    /// The future is pending: give up SCHEDULED, and either reschedule (woken during the poll),
    /// finish a cancellation that came in meanwhile, or release the `Runnable`'s reference.
    /// `woken_here`: the task woke itself on this thread during the poll (rule 17).
    ///
    /// # Safety
    /// Called by `run` while holding the `Runnable` (SCHEDULED and its reference).
    unsafe fn pending(ptr: NonNull<()>, woken_here: bool) -> bool {
        // SAFETY: our reference keeps the task alive.
        let header = unsafe { prefix(ptr) };
        let mut future_dropped = false;
        let prev = header.state.finish_pending(
            || {
                if !future_dropped {
                    // Closed during the poll: drop the future before clearing SCHEDULED, so
                    // that a waiting `cancel` resolves only afterwards (rule 4).
                    // SAFETY: we still hold SCHEDULED.
                    unsafe { Self::drop_future(ptr) };
                    future_dropped = true;
                }
            },
            Self::SCHEDULE_HOLDS,
            woken_here,
        );
        if prev.is_closed() {
            // SAFETY: we give up the `Runnable`'s reference; the future is gone.
            unsafe { Self::release_and_notify(ptr, prev) };
            false
        } else if prev.is_notified() {
            // Woken during the poll (rule 5): the `Runnable`'s reference goes to the new one;
            // `finish_pending` added the schedule call's hold if it needs one (rule 6).
            // SAFETY: we hold the reference (and the hold) and SCHEDULED is set.
            unsafe { Self::schedule(ptr, ScheduleInfo::new(true), Self::SCHEDULE_HOLDS) };
            true
        } else if prev.orphaned_at_pending() {
            // Only a `CallbackTask`'s watcher was left beside us: `finish_pending` closed the
            // task and dropped the future instead of releasing our reference (rule 16).
            // SAFETY: we give up the `Runnable`'s reference; the future is gone.
            unsafe { Self::release_and_notify(ptr, prev) };
            false
        } else {
            // `finish_pending` released our reference along with SCHEDULED. If that was the last
            // owner, the future can never be woken again and is ours to drop (rule 2); it is
            // still there, as nobody could run the task between the two.
            if prev.last_reference_without_task() {
                // SAFETY: we own the task, whose future is alive and not running.
                unsafe {
                    Self::drop_future(ptr);
                    Self::destroy(ptr);
                }
            }
            false
        }
    }

    /// `poll` unwound without panic propagation: drop the future, close the task, tell the
    /// awaiter, and release the `Runnable`'s reference, while the panic keeps unwinding.
    ///
    /// # Safety
    /// Called while holding the `Runnable` (SCHEDULED and its reference).
    #[cold]
    unsafe fn close_after_panic(ptr: NonNull<()>) {
        // SAFETY: we hold the `Runnable`.
        unsafe { Self::drop_future(ptr) };
        // SAFETY: our reference keeps the task alive.
        let header = unsafe { prefix(ptr) };
        let prev = header.state.close_after_panic();
        // SAFETY: we give up the `Runnable`'s reference; the future is gone.
        unsafe { Self::release_and_notify(ptr, prev) };
    }
}
