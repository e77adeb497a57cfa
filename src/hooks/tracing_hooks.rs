//! [`TracingHooks`]: the spans and events tokio-console reads, from rawtask tasks.

use tracing::Span;

use super::task_hooks::{Polled, TaskHooks, TaskMeta};
use crate::schedule_info::ScheduleInfo;

/// Hooks that trace a task the way tokio does, so that `console-subscriber` (tokio-console)
/// and other `tracing` subscribers see rawtask tasks as tasks (feature `tracing`).
///
/// - At spawn: a `runtime.spawn` span (target `tokio::task`, no parent) with the fields
///   `kind` (`"task"`), `task.name` (empty without a name), `task.id`, `loc.file`, `loc.line`
///   and `loc.col` (the last four only for tasks spawned with them: see
///   [`Builder::assign_id`](crate::Builder::assign_id) and
///   [`track_location`](crate::Builder::track_location)).
/// - Each poll enters that span, and leaves it when the poll returns (or unwinds).
/// - Each time the task goes to its schedule function: an event (target `tokio::task::waker`)
///   with `op = "waker.wake_by_ref"` and `task.id` = the span's id, as tokio's wakers send.
///   A wake while the task runs is sent inside the task's span, which console counts as a
///   self-wake.
///
/// rawtask's wakers are shared by every task and carry no per-task code, so waker clones and
/// drops are not reported, and a wake is reported when it schedules the task (a wake of a
/// task that is already scheduled adds nothing); the first `Runnable::schedule` counts as one.
/// The span is closed when the task is freed.
///
/// ```
/// let (runnable, task) = rawtask::Builder::new()
///     .name("fetch")
///     .track_location()
///     .hooks(rawtask::hooks::TracingHooks)
///     .spawn(|()| async { 1 }, |_| {});
/// runnable.run(); // polled inside the task's `runtime.spawn` span
/// assert_eq!(futures_lite::future::block_on(task), 1);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingHooks;

impl TaskHooks for TracingHooks {
    type State = Span;

    fn on_spawn(&self, task: TaskMeta<'_>) -> Span {
        let location = task.location();
        tracing::trace_span!(
            target: "tokio::task",
            parent: None,
            "runtime.spawn",
            kind = "task",
            task.name = task.name().unwrap_or_default(),
            task.id = task.id().map(|id| id.as_u64()),
            loc.file = location.map(|l| l.file()),
            loc.line = location.map(|l| l.line()),
            loc.col = location.map(|l| l.column()),
        )
    }

    fn on_schedule(&self, _: TaskMeta<'_>, span: &Span, info: ScheduleInfo) {
        let Some(id) = span.id() else { return };
        let event = || {
            tracing::trace!(
                target: "tokio::task::waker",
                op = "waker.wake_by_ref",
                task.id = id.into_u64(),
            )
        };
        if info.woken_while_running {
            span.in_scope(event);
        } else {
            event();
        }
    }

    fn before_poll(&self, _: TaskMeta<'_>, span: &Span) {
        span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
    }

    fn after_poll(&self, _: TaskMeta<'_>, span: &Span, _: Polled) {
        span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
    }
}
