//! Opt-in task identity: a process-unique id, a name and the spawn location.
//!
//! A task spawned with [`Builder::name`](crate::Builder::name),
//! [`Builder::track_location`](crate::Builder::track_location) or
//! [`Builder::assign_id`](crate::Builder::assign_id) carries an [`Identity`], readable from its
//! [`Runnable`](crate::Runnable::identity), its [`Task`](crate::Task::identity) and its
//! wakers ([`of_waker`]). Tasks spawned otherwise carry none and pay nothing for it.
//!
//! ```
//! let (runnable, task) = rawtask::Builder::new()
//!     .name("fetch")
//!     .track_location()
//!     .spawn(|()| async {}, |_| {});
//! let identity = runnable.identity().unwrap();
//! assert_eq!(identity.name(), Some("fetch"));
//! assert_eq!(identity.location().unwrap().file(), file!());
//! assert_eq!(rawtask::identity::of_waker(&runnable.waker()).unwrap().id(), identity.id());
//! assert_eq!(task.identity().unwrap().id(), identity.id());
//! # drop(runnable); drop(task);
//! ```

pub(crate) mod task_identity;

use core::task::Waker;

pub use self::task_identity::{Identity, TaskId};

/// The identity of the task that `waker` wakes, if it is a rawtask task's waker and the task
/// is identified.
///
/// Recognising rawtask's wakers needs `Waker::data` (Rust 1.83): built with an older compiler,
/// this always returns `None`.
pub fn of_waker(waker: &Waker) -> Option<&Identity> {
    crate::raw::waker::identity_of_waker(waker)
}
