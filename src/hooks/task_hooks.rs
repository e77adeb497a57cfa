//! [`TaskHooks`]: what a task tells its instrumentation, and [`TaskMeta`], what it tells it about.

use core::panic::Location;

use crate::identity::{Identity, TaskId};
use crate::schedule_info::ScheduleInfo;

/// Which task a hook is called for: its [`Identity`], if it was spawned with one
/// ([`Builder::assign_id`](crate::Builder::assign_id), [`name`](crate::Builder::name) or
/// [`track_location`](crate::Builder::track_location)). A task without an identity is still
/// told apart by its hook [`State`](TaskHooks::State), which is its own.
#[derive(Clone, Copy, Debug)]
pub struct TaskMeta<'a> {
    identity: Option<&'a Identity>,
}

impl<'a> TaskMeta<'a> {
    pub(crate) fn new(identity: Option<&'a Identity>) -> TaskMeta<'a> {
        TaskMeta { identity }
    }

    /// The task's identity, if it has one.
    pub fn identity(&self) -> Option<&'a Identity> {
        self.identity
    }

    /// The task's id, if it has an identity.
    pub fn id(&self) -> Option<TaskId> {
        self.identity.map(Identity::id)
    }

    /// The task's name, if it was given one.
    pub fn name(&self) -> Option<&'a str> {
        self.identity.and_then(Identity::name)
    }

    /// Where the task was spawned, if the spawner tracked it.
    pub fn location(&self) -> Option<&'static Location<'static>> {
        self.identity.and_then(Identity::location)
    }
}

/// How one poll of a task's future ended, as [`TaskHooks::after_poll`] is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    /// The future is pending.
    Pending,
    /// The future finished with its output.
    Ready,
    /// The future (or `before_poll`) panicked; the panic goes on unwinding after the hook.
    Panicked,
}

/// Instrumentation called at each step of a task's life. Every method but
/// [`on_spawn`](Self::on_spawn) does nothing by default.
///
/// For one task, the calls come in this order: `on_spawn`; then any number of `on_schedule`
/// and of `before_poll`/`after_poll` pairs (`on_schedule` may run on another thread during a
/// poll: a wake while running); `on_complete` once if the future finishes (returns `Ready` or
/// panics; not if the task is cancelled); and `on_free` once, when the last handle or waker is
/// dropped (on whichever thread drops it).
///
/// A panic in `before_poll` or `after_poll` is a panic of the poll (caught with
/// `propagate_panic(true)`, otherwise it closes the task and unwinds out of `run`). A panic in
/// any other hook aborts the process, as a panicking destructor does: those run in the middle
/// of a state transition, or in a waker called from C.
///
/// ```
/// use std::sync::Mutex;
/// use rawtask::hooks::{Polled, TaskHooks, TaskMeta};
///
/// /// Records each task's polls, keyed by the task's name.
/// struct Log(Mutex<Vec<String>>);
///
/// impl TaskHooks for Log {
///     type State = String;
///     fn on_spawn(&self, task: TaskMeta<'_>) -> String {
///         task.name().unwrap_or("unnamed").to_owned()
///     }
///     fn after_poll(&self, _: TaskMeta<'_>, name: &String, polled: Polled) {
///         self.0.lock().unwrap().push(format!("{name}: {polled:?}"));
///     }
/// }
///
/// let log = std::sync::Arc::new(Log(Mutex::new(Vec::new())));
/// let (runnable, _task) = rawtask::Builder::new()
///     .name("fetch")
///     .hooks(log.clone())
///     .spawn(|()| async {}, |_| {});
/// runnable.run();
/// assert_eq!(*log.0.lock().unwrap(), ["fetch: Ready"]);
/// ```
pub trait TaskHooks {
    /// What the hooks keep in each task, from `on_spawn` to `on_free` (`()` for nothing).
    type State;

    /// The task was spawned (its handles are not yet returned); returns its state.
    fn on_spawn(&self, task: TaskMeta<'_>) -> Self::State;

    /// The task was handed to its schedule function: spawned and scheduled, woken, or woken
    /// while running (`info.woken_while_running`). Runs before the schedule function.
    fn on_schedule(&self, task: TaskMeta<'_>, state: &Self::State, info: ScheduleInfo) {
        let _ = (task, state, info);
    }

    /// The future is about to be polled, on the thread that polls it.
    fn before_poll(&self, task: TaskMeta<'_>, state: &Self::State) {
        let _ = (task, state);
    }

    /// The future was polled (also called when it panicked, before the panic goes on).
    fn after_poll(&self, task: TaskMeta<'_>, state: &Self::State, polled: Polled) {
        let _ = (task, state, polled);
    }

    /// The future finished: it returned `Ready` or panicked. Called right after `after_poll`.
    fn on_complete(&self, task: TaskMeta<'_>, state: &Self::State) {
        let _ = (task, state);
    }

    /// The last handle or waker was dropped and the task is being freed: the state comes back.
    fn on_free(&self, task: TaskMeta<'_>, state: Self::State) {
        let _ = (task, state);
    }
}

/// Hooks shared by reference (a `static`, for one pointer per task).
impl<H: TaskHooks + ?Sized> TaskHooks for &H {
    type State = H::State;
    fn on_spawn(&self, task: TaskMeta<'_>) -> Self::State {
        (**self).on_spawn(task)
    }
    fn on_schedule(&self, task: TaskMeta<'_>, state: &Self::State, info: ScheduleInfo) {
        (**self).on_schedule(task, state, info)
    }
    fn before_poll(&self, task: TaskMeta<'_>, state: &Self::State) {
        (**self).before_poll(task, state)
    }
    fn after_poll(&self, task: TaskMeta<'_>, state: &Self::State, polled: Polled) {
        (**self).after_poll(task, state, polled)
    }
    fn on_complete(&self, task: TaskMeta<'_>, state: &Self::State) {
        (**self).on_complete(task, state)
    }
    fn on_free(&self, task: TaskMeta<'_>, state: Self::State) {
        (**self).on_free(task, state)
    }
}

/// Hooks shared by reference count (one clone per task).
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
impl<H: TaskHooks + ?Sized> TaskHooks for alloc::sync::Arc<H> {
    type State = H::State;
    fn on_spawn(&self, task: TaskMeta<'_>) -> Self::State {
        (**self).on_spawn(task)
    }
    fn on_schedule(&self, task: TaskMeta<'_>, state: &Self::State, info: ScheduleInfo) {
        (**self).on_schedule(task, state, info)
    }
    fn before_poll(&self, task: TaskMeta<'_>, state: &Self::State) {
        (**self).before_poll(task, state)
    }
    fn after_poll(&self, task: TaskMeta<'_>, state: &Self::State, polled: Polled) {
        (**self).after_poll(task, state, polled)
    }
    fn on_complete(&self, task: TaskMeta<'_>, state: &Self::State) {
        (**self).on_complete(task, state)
    }
    fn on_free(&self, task: TaskMeta<'_>, state: Self::State) {
        (**self).on_free(task, state)
    }
}
