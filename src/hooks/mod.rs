//! Task hooks: instrumentation that costs nothing when it is off.
//!
//! [`Builder::hooks`](crate::Builder::hooks) gives a task a [`TaskHooks`] value, which is told
//! when the task is spawned, scheduled, polled, completed and freed. The hooks live in the task
//! itself, chosen by type: a task spawned without hooks has no hook field and runs no hook code
//! (`benches/instructions.sh` counts its instructions to check that).
//!
//! Each hook receives a [`TaskMeta`] (the task's [`Identity`](crate::identity::Identity), if it was spawned with one) and
//! the task's own [`State`](TaskHooks::State), which [`on_spawn`](TaskHooks::on_spawn) returns:
//! a per-task value (a span, a start time, a counter slot) that lives until
//! [`on_free`](TaskHooks::on_free) gets it back.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
//! use rawtask::hooks::{Polled, TaskHooks, TaskMeta};
//!
//! #[derive(Default)]
//! struct Counts { spawned: AtomicUsize, polls: AtomicUsize, freed: AtomicUsize }
//!
//! impl TaskHooks for Counts {
//!     type State = ();
//!     fn on_spawn(&self, _: TaskMeta<'_>) { self.spawned.fetch_add(1, Relaxed); }
//!     fn after_poll(&self, _: TaskMeta<'_>, _: &(), _: Polled) { self.polls.fetch_add(1, Relaxed); }
//!     fn on_free(&self, _: TaskMeta<'_>, _: ()) { self.freed.fetch_add(1, Relaxed); }
//! }
//!
//! static COUNTS: Counts = Counts {
//!     spawned: AtomicUsize::new(0), polls: AtomicUsize::new(0), freed: AtomicUsize::new(0),
//! };
//! // A `&'static` hooks value costs one pointer per task; `Arc<H>` works too.
//! let (runnable, task) = rawtask::Builder::new().hooks(&COUNTS).spawn(|()| async { 1 }, |_| {});
//! runnable.run();
//! assert_eq!(futures_lite::future::block_on(task), 1);
//! assert_eq!(COUNTS.spawned.load(Relaxed), 1);
//! assert_eq!(COUNTS.polls.load(Relaxed), 1);
//! assert_eq!(COUNTS.freed.load(Relaxed), 1);
//! ```

mod slot;
mod task_hooks;
#[cfg(feature = "tracing")]
mod tracing_hooks;

pub(crate) use self::slot::sealed;
pub use self::slot::{HookSlot, Hooked};
pub use self::task_hooks::{Polled, TaskHooks, TaskMeta};
#[cfg(feature = "tracing")]
pub use self::tracing_hooks::TracingHooks;
