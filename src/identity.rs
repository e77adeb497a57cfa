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

use alloc::borrow::Cow;
use core::fmt;
use core::num::NonZeroU64;
use core::panic::Location;
use core::task::Waker;

/// A task id, unique among all identified tasks for the life of the process.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    /// The next id. 64 bits do not wrap in the life of a process.
    pub(crate) fn next() -> TaskId {
        use core::sync::atomic::{AtomicU64, Ordering};
        // Not in `crate::sync`: a plain counter that needs no model, and loom atomics cannot
        // live in a `static`.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        TaskId(NonZeroU64::new(id).expect("task ids do not wrap"))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What an identified task carries: its id, and its name and spawn location if requested.
pub struct Identity {
    id: TaskId,
    name: Option<Cow<'static, str>>,
    location: Option<&'static Location<'static>>,
}

impl Identity {
    pub(crate) fn new(
        name: Option<Cow<'static, str>>,
        location: Option<&'static Location<'static>>,
    ) -> Identity {
        Identity {
            id: TaskId::next(),
            name,
            location,
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned, if the spawner tracked it.
    pub fn location(&self) -> Option<&'static Location<'static>> {
        self.location
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Identity");
        s.field("id", &self.id.0);
        if let Some(name) = &self.name {
            s.field("name", name);
        }
        if let Some(location) = self.location {
            s.field("location", &format_args!("{location}"));
        }
        s.finish()
    }
}

/// The identity of the task that `waker` wakes, if it is a rawtask task's waker and the task
/// is identified.
pub fn of_waker(waker: &Waker) -> Option<&Identity> {
    crate::raw::header::identity_of_waker(waker)
}
