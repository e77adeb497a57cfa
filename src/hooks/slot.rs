//! Where a task keeps its hooks: nothing (`()`), or a [`Hooked`] value with the task's state.

use core::cell::UnsafeCell;
use core::fmt;
use core::task::Poll;

use super::task_hooks::{Polled, TaskHooks, TaskMeta};
use crate::abort::abort_on_panic;
use crate::identity::Identity;
use crate::schedule_info::ScheduleInfo;

/// The hooks a [`Builder`](crate::Builder) gives its tasks: `()` for none (the default, which
/// adds no field and no code to the task), or [`Hooked`], which
/// [`Builder::hooks`](crate::Builder::hooks) sets. Sealed: implemented by those two only.
pub trait HookSlot: sealed::Slot {}

impl HookSlot for () {}
impl<H: TaskHooks> HookSlot for Hooked<H> {}

/// A task's hooks and its hook state, as stored in the task (the slot type of a
/// [`Builder`](crate::Builder) after [`hooks`](crate::Builder::hooks)).
pub struct Hooked<H: TaskHooks> {
    hooks: H,
    /// Written once by `spawned` before the task is shared, taken once by `freed` when the
    /// task is owned alone; only read in between.
    state: UnsafeCell<Option<H::State>>,
}

impl<H: TaskHooks> Hooked<H> {
    pub(crate) fn new(hooks: H) -> Hooked<H> {
        Hooked {
            hooks,
            state: UnsafeCell::new(None),
        }
    }

    /// The state `on_spawn` returned (`None` only while the task is being built).
    fn state(&self) -> Option<&H::State> {
        // SAFETY: between `spawned` and `freed` the state is only read (see the field).
        unsafe { (*self.state.get()).as_ref() }
    }
}

impl<H: TaskHooks> fmt::Debug for Hooked<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooked")
            .field("hooks", &core::any::type_name::<H>())
            .finish_non_exhaustive()
    }
}

pub(crate) mod sealed {
    use super::*;

    /// The calls a task makes to its hook slot. Everything is `inline(always)` so that `()`
    /// leaves no trace.
    pub trait Slot {
        /// The task was built and its handles are about to be returned.
        ///
        /// # Safety
        /// Called once, before the task is reachable from anywhere else.
        unsafe fn spawned(&self, identity: Option<&Identity>);

        /// Polls with `poll`, between the poll hooks.
        fn around_poll<R>(
            &self,
            identity: Option<&Identity>,
            poll: impl FnOnce() -> Poll<R>,
        ) -> Poll<R>;

        /// The task is about to be handed to its schedule function.
        fn scheduled(&self, identity: Option<&Identity>, info: ScheduleInfo);

        /// The task is being freed.
        ///
        /// # Safety
        /// Called once, by the task's only owner, after which no other call is made.
        unsafe fn freed(&self, identity: Option<&Identity>);
    }

    impl Slot for () {
        #[inline(always)]
        unsafe fn spawned(&self, _: Option<&Identity>) {}

        #[inline(always)]
        fn around_poll<R>(&self, _: Option<&Identity>, poll: impl FnOnce() -> Poll<R>) -> Poll<R> {
            poll()
        }

        #[inline(always)]
        fn scheduled(&self, _: Option<&Identity>, _: ScheduleInfo) {}

        #[inline(always)]
        unsafe fn freed(&self, _: Option<&Identity>) {}
    }

    impl<H: TaskHooks> Slot for Hooked<H> {
        unsafe fn spawned(&self, identity: Option<&Identity>) {
            let state = abort_on_panic("rawtask: a task's on_spawn hook panicked", || {
                self.hooks.on_spawn(TaskMeta::new(identity))
            });
            // SAFETY: nobody else can reach the task yet (the caller's contract).
            unsafe { *self.state.get() = Some(state) };
        }

        fn around_poll<R>(
            &self,
            identity: Option<&Identity>,
            poll: impl FnOnce() -> Poll<R>,
        ) -> Poll<R> {
            let Some(state) = self.state() else {
                return poll();
            };
            let meta = TaskMeta::new(identity);
            self.hooks.before_poll(meta, state);

            /// Tells the hooks about a poll that unwinds.
            struct Unwind<'a, H: TaskHooks>(&'a H, TaskMeta<'a>, &'a H::State);
            impl<H: TaskHooks> Drop for Unwind<'_, H> {
                fn drop(&mut self) {
                    self.0.after_poll(self.1, self.2, Polled::Panicked);
                    self.0.on_complete(self.1, self.2);
                }
            }
            let unwind = Unwind(&self.hooks, meta, state);
            let result = poll();
            core::mem::forget(unwind);

            if result.is_ready() {
                self.hooks.after_poll(meta, state, Polled::Ready);
                self.hooks.on_complete(meta, state);
            } else {
                self.hooks.after_poll(meta, state, Polled::Pending);
            }
            result
        }

        fn scheduled(&self, identity: Option<&Identity>, info: ScheduleInfo) {
            if let Some(state) = self.state() {
                abort_on_panic("rawtask: a task's on_schedule hook panicked", || {
                    self.hooks.on_schedule(TaskMeta::new(identity), state, info)
                });
            }
        }

        unsafe fn freed(&self, identity: Option<&Identity>) {
            // SAFETY: the caller owns the task alone: nothing reads the state any more.
            if let Some(state) = unsafe { (*self.state.get()).take() } {
                abort_on_panic("rawtask: a task's on_free hook panicked", || {
                    self.hooks.on_free(TaskMeta::new(identity), state)
                });
            }
        }
    }
}
