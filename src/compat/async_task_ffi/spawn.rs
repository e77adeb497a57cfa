//! async-task-ffi's spawn functions, over the crate root's.

use core::future::Future;

#[cfg(feature = "std")]
use super::Checked;
use super::{Runnable, Task};

/// The crate root's schedule function for one of this module's: the same call, with the
/// `Runnable` rewrapped (a closure of the same size as `schedule`, zero-sized for a
/// zero-sized one).
#[inline(always)]
fn rewrap<D, S: Fn(Runnable<D>)>(schedule: S) -> impl Fn(crate::Runnable<D>) {
    move |runnable| schedule(Runnable::new(runnable))
}

/// Creates a new task from a `Send` future (async-task-ffi's `spawn`).
///
/// ```
/// use rawtask::compat::async_task_ffi;
///
/// let (s, r) = flume::unbounded();
/// let (runnable, task) = async_task_ffi::spawn(async { 1 + 2 }, move |runnable| s.send(runnable).unwrap());
/// runnable.schedule();
/// r.recv().unwrap().run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
pub fn spawn<F, S>(future: F, schedule: S) -> (Runnable, Task<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Fn(Runnable) + Send + Sync + 'static,
{
    spawn_with(future, schedule, ())
}

/// Creates a new task with data attached (async-task-ffi's `spawn_with`). The data sits in
/// the task's slot, at [`DATA_OFFSET`](crate::DATA_OFFSET) from the task pointer for any `D`
/// aligned to at most a pointer.
///
/// ```
/// use rawtask::compat::async_task_ffi::{self, Runnable};
///
/// let (s, r) = flume::unbounded();
/// let schedule = move |runnable: Runnable<&'static str>| {
///     println!("{}", runnable.data());
///     s.send(runnable).unwrap();
/// };
/// let (runnable, task) = async_task_ffi::spawn_with(async {}, schedule, "scheduled");
/// runnable.schedule();
/// r.recv().unwrap().run();
/// futures_lite::future::block_on(task);
/// ```
pub fn spawn_with<F, S, D>(future: F, schedule: S, data: D) -> (Runnable<D>, Task<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Fn(Runnable<D>) + Send + Sync + 'static,
    D: Send + 'static,
{
    let (runnable, task) = crate::spawn_with(future, rewrap(schedule), data);
    (Runnable::new(runnable), Task::new(task))
}

/// Creates a new task from a future that is not `Send` (async-task-ffi's `spawn_local`): it
/// must be run on the thread that spawned it. See [`crate::spawn_local`] for what happens
/// elsewhere (a panic, never an abort).
///
/// ```
/// use std::rc::Rc;
/// let value = Rc::new(3);
/// let (runnable, task) = rawtask::compat::async_task_ffi::spawn_local(async move { *value }, |_| {});
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
#[cfg(feature = "std")]
pub fn spawn_local<F, S>(future: F, schedule: S) -> (Runnable, Task<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Fn(Runnable) + Send + Sync + 'static,
{
    let (runnable, task) = crate::spawn_local(future, rewrap(schedule));
    (Runnable::new(runnable), Task::new(task))
}

/// Creates a local task with data that need not be `Send` (async-task-ffi's
/// `spawn_local_with`): the data is wrapped in a [`Checked`], usable only on the spawning
/// thread.
///
/// ```
/// use std::cell::Cell;
/// let (runnable, task) = rawtask::compat::async_task_ffi::spawn_local_with(async { 1 }, |_| {}, Cell::new(10));
/// runnable.data().set(11); // through `Checked`'s `Deref`, on the spawning thread
/// assert_eq!(runnable.data().get(), 11);
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 1);
/// ```
#[cfg(feature = "std")]
pub fn spawn_local_with<F, S, D>(
    future: F,
    schedule: S,
    data: D,
) -> (Runnable<Checked<D>>, Task<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Fn(Runnable<Checked<D>>) + Send + Sync + 'static,
    D: 'static,
{
    let (runnable, task) = crate::spawn_local_with(future, rewrap(schedule), Checked::new(data));
    (Runnable::new(runnable), Task::new(task))
}

/// Creates a new task without `Send`, `Sync` or `'static` bounds (async-task-ffi's
/// `spawn_unchecked`).
///
/// # Safety
/// The contract of [`crate::spawn_unchecked`]: a future that is not `Send` must be run and
/// dropped on the spawning thread, a schedule function that is not `Send + Sync` must only be
/// woken there, and anything borrowed must outlive the `Runnable` and every waker.
///
/// ```
/// let text = String::from("xyz");
/// // SAFETY: the task finishes before `text` goes away, on this thread.
/// let (runnable, task) = unsafe { rawtask::compat::async_task_ffi::spawn_unchecked(async { text.len() }, |_| {}) };
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
pub unsafe fn spawn_unchecked<F, S>(future: F, schedule: S) -> (Runnable, Task<F::Output>)
where
    F: Future,
    S: Fn(Runnable),
{
    // SAFETY: forwarded from the caller.
    unsafe { spawn_unchecked_with(future, schedule, ()) }
}

/// Creates a new task with data attached and without `Send`, `Sync` or `'static` bounds
/// (async-task-ffi's `spawn_unchecked_with`).
///
/// # Safety
/// The contract of [`spawn_unchecked`]; in addition, data that is not `Send` must be used and
/// dropped on the spawning thread, and data that is not `'static` must outlive the `Runnable`
/// and every waker.
///
/// ```
/// let limit = 3;
/// // SAFETY: everything runs and ends on this thread, before `limit` goes away.
/// let (mut runnable, task) = unsafe {
///     rawtask::compat::async_task_ffi::spawn_unchecked_with(async { 4 }, |_| {}, &limit)
/// };
/// assert_eq!(**runnable.data_mut(), 3);
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 4);
/// ```
pub unsafe fn spawn_unchecked_with<F, S, D>(
    future: F,
    schedule: S,
    data: D,
) -> (Runnable<D>, Task<F::Output>)
where
    F: Future,
    S: Fn(Runnable<D>),
{
    // SAFETY: forwarded from the caller.
    let (runnable, task) = unsafe { crate::spawn_unchecked_with(future, rewrap(schedule), data) };
    (Runnable::new(runnable), Task::new(task))
}
