//! `rawtask::compat::async_task_ffi`: async-task-ffi 4.1.1's API over the crate root's raw
//! task. async-task-ffi's own suite runs against it in `.ci/peer-async-task-ffi.sh`; these tests
//! cover what that suite does not: the unconditional `data_mut` racing the `Task` on other
//! threads (the soundness claim miri checks), `Checked` off its home thread, the raw pointer
//! forms, and that a compat task is the crate root's task byte for byte.

mod common;

use std::cell::Cell;
use std::mem::size_of;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;

use common::{block_on, check_leaks, count_allocations, expect_panic, panic_message, Counter};
use common::{DropProbe, Probe};
use rawtask::compat::async_task_ffi::{self, Checked, Runnable, Task};

/// A schedule function that sends the runnable down a channel.
fn channel<D>() -> (
    impl Fn(Runnable<D>) + Send + Sync + 'static,
    mpsc::Receiver<Runnable<D>>,
)
where
    D: Send + Sync + 'static,
{
    let (s, r) = mpsc::channel();
    let s = std::sync::Mutex::new(s);
    (move |runnable| s.lock().unwrap().send(runnable).unwrap(), r)
}

#[test]
fn data_mut_while_the_task_is_awaited_on_another_thread() {
    let _g = check_leaks();
    let probe = Probe::new();
    let (schedule, queue) = channel::<u64>();
    let (mut runnable, task) = async_task_ffi::spawn_with(probe.future(9u8), schedule, 0u64);
    // The `Task` is polled on another thread, registering its waker, while the executor
    // writes the slot on this one: the `Task` never reads the slot, so nothing races.
    let awaiter = thread::spawn(move || block_on(task));
    for round in 1..=50 {
        *runnable.data_mut() += 1;
        assert_eq!(*runnable.data(), round);
        runnable.run();
        probe.waker().wake();
        runnable = queue.recv().unwrap();
    }
    probe.complete();
    runnable.run();
    assert_eq!(awaiter.join().unwrap(), 9);
}

#[test]
fn data_mut_in_the_schedule_function_of_a_waking_thread() {
    let _g = check_leaks();
    let scheduled = Arc::new(AtomicUsize::new(0));
    let seen = scheduled.clone();
    let (s, r) = mpsc::channel();
    let s = std::sync::Mutex::new(s);
    let schedule = move |mut runnable: Runnable<Vec<usize>>| {
        let n = seen.fetch_add(1, SeqCst);
        runnable.data_mut().push(n);
        s.lock().unwrap().send(runnable).unwrap();
    };
    let probe = Probe::new();
    let (runnable, task) = async_task_ffi::spawn_with(probe.future(()), schedule, Vec::new());
    runnable.schedule();
    r.recv().unwrap().run();
    // Wakes from two other threads: one schedule call each time the task is idle.
    for _ in 0..2 {
        let waker = probe.waker();
        thread::spawn(move || waker.wake()).join().unwrap();
        let runnable = r.recv().unwrap();
        assert_eq!(
            *runnable.data(),
            (0..scheduled.load(SeqCst)).collect::<Vec<_>>()
        );
        runnable.run();
    }
    probe.complete();
    probe.waker().wake();
    r.recv().unwrap().run();
    block_on(task);
    assert_eq!(scheduled.load(SeqCst), 4);
}

#[test]
fn the_data_is_dropped_once_with_the_task() {
    let _g = check_leaks();
    let drops = Counter::new();
    let (runnable, task) = async_task_ffi::spawn_with(async { 1 }, |_| {}, DropProbe::new(&drops));
    runnable.run();
    assert_eq!(drops.get(), 0, "the task still holds its data");
    assert_eq!(block_on(task), 1);
    assert_eq!(drops.get(), 1);

    let (runnable, task) = async_task_ffi::spawn_with(async { 2 }, |_| {}, DropProbe::new(&drops));
    drop(task); // cancels
    runnable.run();
    assert_eq!(drops.get(), 2);
}

#[test]
fn raw_pointers_are_plain_and_reach_the_slot() {
    let _g = check_leaks();
    let (runnable, task) = async_task_ffi::spawn_with(async { 5u16 }, |_| {}, 0xABCD_u32);
    let runnable_ptr: *mut () = runnable.into_raw();
    let task_ptr: *mut () = task.into_raw();
    assert_eq!(runnable_ptr, task_ptr, "both handles are the task pointer");
    // SAFETY: a `u32` slot lives at DATA_OFFSET from the task pointer.
    let slot = unsafe {
        *runnable_ptr
            .cast::<u8>()
            .add(rawtask::DATA_OFFSET)
            .cast::<u32>()
    };
    assert_eq!(slot, 0xABCD);
    // SAFETY: each pointer came from `into_raw` of its own handle type and returns once.
    let (runnable, task) = unsafe {
        (
            Runnable::<u32>::from_raw(runnable_ptr),
            Task::<u16>::from_raw(task_ptr),
        )
    };
    runnable.run();
    assert_eq!(block_on(task), 5);
}

#[test]
fn a_compat_task_is_the_crate_roots_task() {
    assert_eq!(
        size_of::<Runnable<u64>>(),
        size_of::<rawtask::Runnable<u64>>()
    );
    assert_eq!(
        size_of::<Task<String>>(),
        size_of::<rawtask::Task<String>>()
    );
    assert_eq!(size_of::<Option<Runnable>>(), size_of::<usize>());
    // The same allocation, of the same size, as the crate root's `spawn_with`.
    let (_, compat) = count_allocations(|| {
        let (runnable, task) = async_task_ffi::spawn_with(async { 1u8 }, |_| {}, 7u64);
        runnable.run();
        block_on(task)
    });
    let (_, root) = count_allocations(|| {
        let (runnable, task) = rawtask::spawn_with(async { 1u8 }, |_| {}, 7u64);
        runnable.run();
        block_on(task)
    });
    assert_eq!(compat, root);
    let (handles, spawned) =
        count_allocations(|| async_task_ffi::spawn_with(async { 1u8 }, |_| {}, 7u64));
    assert_eq!(spawned, 1, "one allocation per task");
    drop(handles);
}

#[test]
fn debug_needs_no_debug_data() {
    struct Opaque;
    let (runnable, task) = async_task_ffi::spawn_with(async {}, |_| {}, Opaque);
    let text = format!("{runnable:?} {task:?}");
    assert!(text.starts_with("Runnable {"), "{text}");
    assert!(text.contains("Task {"), "{text}");
    drop(runnable);
    drop(task);
}

#[test]
fn cancel_and_detach() {
    let _g = check_leaks();
    let (runnable, task) = async_task_ffi::spawn(async { 3 }, |_| {});
    runnable.run();
    assert_eq!(block_on(task.cancel()), Some(3));

    let ran = Counter::new();
    let r = ran.clone();
    let (runnable, task) = async_task_ffi::spawn(async move { r.inc() }, |_| {});
    task.detach();
    runnable.run();
    assert_eq!(ran.get(), 1);
}

#[test]
fn checked_data_on_its_home_thread() {
    let _g = check_leaks();
    let shared = Rc::new(Cell::new(0));
    let (s, r) = mpsc::channel();
    let s = std::sync::Mutex::new(s);
    let schedule = move |mut runnable: Runnable<Checked<Rc<Cell<i32>>>>| {
        let next = runnable.data().get() + 1;
        runnable.data_mut().set(next);
        s.lock().unwrap().send(runnable).unwrap();
    };
    let (runnable, task) = async_task_ffi::spawn_local_with(async { 4 }, schedule, shared.clone());
    runnable.schedule();
    let runnable = r.recv().unwrap();
    assert_eq!(shared.get(), 1);
    let copy: Checked<Rc<Cell<i32>>> = runnable.data().clone();
    assert_eq!(format!("{copy:?}"), "Cell { value: 1 }");
    runnable.run();
    assert_eq!(block_on(task), 4);
    assert_eq!(
        Rc::strong_count(&shared),
        2,
        "the task's data is dropped, the copy is not"
    );
    drop(copy);
    assert_eq!(Rc::strong_count(&shared), 1);
}

#[test]
fn checked_data_panics_on_a_foreign_thread_and_leaks_there() {
    let drops = Counter::new();
    let (runnable, task) =
        async_task_ffi::spawn_local_with(async {}, |_| {}, Rc::new(DropProbe::new(&drops)));
    let copy = Checked::clone(runnable.data());
    thread::spawn(move || {
        let message = panic_message(&*expect_panic(|| {
            let _ = &**runnable.data();
        }));
        assert!(message.contains("did not spawn the task"), "{message}");
        // The copy goes away here, off its home thread: its contents are leaked, not dropped.
        drop(copy);
        // Running the local task here panics (it is cancelled; its future is not dropped).
        expect_panic(|| runnable.run());
    })
    .join()
    .unwrap();
    assert_eq!(drops.get(), 0, "nothing was dropped on the foreign thread");
    drop(task);
}

#[test]
fn unchecked_spawn_with_borrowed_data() {
    let _g = check_leaks();
    let label = String::from("borrowed");
    // SAFETY: the task runs and is joined on this thread before `label` goes away.
    let (mut runnable, task) =
        unsafe { async_task_ffi::spawn_unchecked_with(async { 8 }, |_| {}, label.as_str()) };
    *runnable.data_mut() = &label[..3];
    assert_eq!(*runnable.data(), "bor");
    runnable.run();
    assert_eq!(block_on(task), 8);
}
