//! The home-thread scheduler (`rawtask::home`) with real threads: foreign wakes reach the
//! home thread with coalesced notifies and nothing lost; home-thread wakes never notify and
//! never recurse into `drain`; shutdown drops what is queued, once, on the home thread; wakes
//! after shutdown cancel their task without touching freed memory; the C entry points report
//! misuse.

mod common;

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::Instant;

use common::{block_on, check_leaks, spawn_tracked, wait_until, Counter, DEADLINE, N};
use rawtask::home::{Home, Reentered};

/// A notify function that counts its calls and unparks the home thread.
fn parking_notify(count: &Counter) -> impl Fn() + Send + Sync + 'static {
    let count = count.clone();
    let home = thread::current();
    move || {
        count.inc();
        home.unpark();
    }
}

/// Parks the home thread until notified; fails the test if no notify comes within the
/// deadline (a lost notify), rather than hanging. (`notify_pending` is true from the notify
/// on, so an unpark that came before the park is not needed.)
fn park_for_notify(home: &Home) {
    let start = Instant::now();
    while !home.notify_pending() {
        thread::park_timeout(DEADLINE);
        assert!(start.elapsed() < DEADLINE, "no notify came: a lost wake");
    }
}

/// Permits for a task's steps, handed out by other threads.
#[derive(Default)]
struct Gate {
    permits: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Gate {
    /// Waits for a permit and takes it.
    fn wait(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let gate = self.clone();
        poll_fn(move |cx| {
            *gate.waker.lock().unwrap() = Some(cx.waker().clone());
            let taken = gate
                .permits
                .fetch_update(SeqCst, SeqCst, |p| p.checked_sub(1))
                .is_ok();
            if taken {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// If the task registered a waker, adds a permit and wakes it. Returns whether it did.
    fn release(&self) -> bool {
        let Some(waker) = self.waker.lock().unwrap().take() else {
            return false;
        };
        self.permits.fetch_add(1, SeqCst);
        waker.wake();
        true
    }
}

#[test]
fn thousands_of_tasks_woken_from_several_threads() {
    let _g = check_leaks();
    const THREADS: usize = 4;
    const STEPS: usize = 3;
    let tasks = if cfg!(miri) { 8 } else { 4 * N };
    let notifies = Counter::new();
    let home = Home::new(parking_notify(&notifies));

    let mut handles = Vec::new();
    let mut gates = Vec::new();
    for i in 0..tasks {
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        let (runnable, task) = rawtask::spawn(
            async move {
                for _ in 0..STEPS {
                    g.wait().await;
                }
                i
            },
            home.schedule(),
        );
        runnable.schedule();
        handles.push(task);
        gates.push(gate);
    }
    // Each waker thread owns a share of the gates and releases each one STEPS times.
    let gates = Arc::new(gates);
    let wakers: Vec<_> = (0..THREADS)
        .map(|t| {
            let gates = gates.clone();
            spawn_tracked(move || {
                let mut released = vec![0; gates.len()];
                let mine: Vec<usize> = (t..gates.len()).step_by(THREADS).collect();
                wait_until("every gate released STEPS times", || {
                    for &i in &mine {
                        if released[i] < STEPS && gates[i].release() {
                            released[i] += 1;
                        }
                    }
                    mine.iter().all(|&i| released[i] == STEPS)
                });
            })
        })
        .collect();

    let mut drains = 0;
    while !handles.iter().all(|t| t.is_finished()) {
        let drained = home.drain(64).unwrap();
        drains += 1;
        if !drained.more && !handles.iter().all(|t| t.is_finished()) {
            park_for_notify(&home);
        }
    }
    for w in wakers {
        w.join().unwrap();
    }
    let outputs: Vec<usize> = handles.into_iter().map(block_on).collect();
    assert_eq!(
        outputs,
        (0..tasks).collect::<Vec<_>>(),
        "every output arrives"
    );
    assert!(notifies.get() >= 1);
    assert!(
        notifies.get() <= drains + 1,
        "notify coalesced: {} notifies for {drains} drains",
        notifies.get()
    );
    drop(gates);
    drop(home);
}

#[test]
fn many_foreign_wakes_while_the_loop_is_stuck_notify_once_and_never_block() {
    let _g = check_leaks();
    let notifies = Counter::new();
    let n = notifies.clone();
    let (schedule_tx, schedule_rx) = flume::bounded(1);
    let stuck = Arc::new(Barrier::new(2));
    let done = Arc::new(Barrier::new(2));
    let outputs = Arc::new(AtomicUsize::new(0));
    let loop_thread = {
        let (stuck, done, outputs) = (stuck.clone(), done.clone(), outputs.clone());
        spawn_tracked(move || {
            let home = Home::new(move || n.inc());
            schedule_tx.send(home.schedule()).unwrap();
            stuck.wait(); // the loop is busy elsewhere while the test wakes its tasks
            done.wait();
            let drained = home.drain(usize::MAX).unwrap();
            assert!(!drained.more);
            assert_eq!(outputs.load(SeqCst), N);
            drained.ran
        })
    };
    let schedule = schedule_rx.recv().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..N {
        let outputs = outputs.clone();
        let (runnable, task) = rawtask::spawn(
            async move {
                outputs.fetch_add(1, SeqCst);
            },
            schedule.clone(),
        );
        // The loop thread is alive and stuck: every schedule returns at once.
        runnable.schedule();
        tasks.push(task);
    }
    assert_eq!(notifies.get(), 1, "one notify for {N} wakes");
    stuck.wait();
    done.wait();
    assert_eq!(loop_thread.join().unwrap(), N);
    assert!(tasks.iter().all(|t| t.is_finished()));
    drop(tasks);
    drop(schedule);
}

#[test]
fn home_thread_wakes_neither_notify_nor_recurse() {
    let _g = check_leaks();
    let notifies = Counter::new();
    let home = Rc::new(Home::new(parking_notify(&notifies)));
    let depth = Rc::new(Cell::new(0));
    let max_depth = Rc::new(Cell::new(0));
    let refused = Rc::new(Cell::new(0));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (home2, depth, max_depth, refused) = (
            home.clone(),
            depth.clone(),
            max_depth.clone(),
            refused.clone(),
        );
        let (runnable, task) = rawtask::spawn_local(
            async move {
                for _ in 0..100 {
                    depth.set(depth.get() + 1);
                    max_depth.set(max_depth.get().max(depth.get()));
                    // Never do this; it is refused.
                    if home2.drain(1) == Err(Reentered) {
                        refused.set(refused.get() + 1);
                    }
                    depth.set(depth.get() - 1);
                    common::yield_now().await;
                }
            },
            home.schedule(),
        );
        runnable.schedule();
        tasks.push(task);
    }
    let mut drains = 0;
    while home.drain(7).unwrap().more {
        drains += 1;
    }
    assert!(drains > 100);
    assert!(tasks.iter().all(|t| t.is_finished()));
    // The ten schedules before the first drain (outside any drain) share one notify; the
    // self-wakes inside the drains need none.
    assert_eq!(
        notifies.get(),
        1,
        "home-thread wakes inside a drain never notify"
    );
    assert_eq!(max_depth.get(), 1, "a wake never recursed into drain");
    assert_eq!(refused.get(), 1000);
    drop(tasks);
}

#[test]
fn a_yielding_task_goes_behind_the_waiting_ones() {
    let _g = check_leaks();
    let home = Home::new(|| {});
    let log = Rc::new(RefCell::new(String::new()));
    let mut tasks = Vec::new();
    for name in ['a', 'b', 'c'] {
        let log = log.clone();
        let (runnable, task) = rawtask::spawn_local(
            async move {
                for _ in 0..3 {
                    log.borrow_mut().push(name);
                    common::yield_now().await;
                }
            },
            home.schedule(),
        );
        runnable.schedule();
        tasks.push(task);
    }
    let first = home.drain(4).unwrap();
    assert_eq!((first.ran, first.more), (4, true));
    while home.drain(100).unwrap().more {}
    assert_eq!(*log.borrow(), "abcabcabc");
    assert!(tasks.iter().all(|t| t.is_finished()));
}

#[test]
fn foreign_wakes_run_in_wake_order_before_local_ones() {
    let _g = check_leaks();
    let home = Home::new(|| {});
    let log = Arc::new(Mutex::new(Vec::new()));
    let spawn = |i: usize| {
        let log = log.clone();
        rawtask::spawn(async move { log.lock().unwrap().push(i) }, home.schedule())
    };
    let (local, local_task) = spawn(0);
    local.schedule();
    let foreign: Vec<_> = (1..=5).map(spawn).collect();
    let (runnables, tasks): (Vec<_>, Vec<_>) = foreign.into_iter().unzip();
    spawn_tracked(move || runnables.into_iter().for_each(|r| r.schedule()))
        .join()
        .unwrap();
    assert!(home.notify_pending());
    assert_eq!(home.drain(10).unwrap().ran, 6);
    // The local wake was queued first; the inbox is moved behind it, oldest wake first.
    assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    drop((local_task, tasks));
}

/// A future that records the thread it is dropped on.
struct RecordDrop {
    drops: Arc<Mutex<Vec<ThreadId>>>,
}

impl Future for RecordDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for RecordDrop {
    fn drop(&mut self) {
        self.drops.lock().unwrap().push(thread::current().id());
    }
}

#[test]
fn shutdown_drops_queued_runnables_once_on_the_home_thread() {
    let _g = check_leaks();
    let notifies = Counter::new();
    let home = Home::new(parking_notify(&notifies));
    let drops = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    let mut foreign = Vec::new();
    for i in 0..2 * N {
        let (runnable, task) = rawtask::spawn(
            RecordDrop {
                drops: drops.clone(),
            },
            home.schedule(),
        );
        if i % 2 == 0 {
            runnable.schedule();
        } else {
            foreign.push(runnable);
        }
        tasks.push(task);
    }
    spawn_tracked(move || foreign.into_iter().for_each(|r| r.schedule()))
        .join()
        .unwrap();
    // Coalesced per side: one from the home thread's wakes, one from the other thread's.
    assert_eq!(notifies.get(), 2);
    assert!(
        drops.lock().unwrap().is_empty(),
        "nothing dropped in a wake"
    );
    drop(home);
    let drops = drops.lock().unwrap();
    assert_eq!(drops.len(), 2 * N, "every future dropped exactly once");
    assert!(drops.iter().all(|&id| id == thread::current().id()));
    for task in tasks {
        assert_eq!(block_on(task.fallible()), None, "cancelled");
    }
}

#[test]
fn a_wake_after_shutdown_cancels_the_task_and_never_notifies() {
    let _g = check_leaks();
    let notifies = Counter::new();
    let home = Home::new(parking_notify(&notifies));
    let drops = Arc::new(Mutex::new(Vec::new()));
    let waker_slot = Arc::new(Mutex::new(None::<Waker>));
    let slot = waker_slot.clone();
    let d = drops.clone();
    let (runnable, task) = rawtask::spawn(
        async move {
            let _record = RecordDrop { drops: d };
            poll_fn(|cx| {
                *slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            })
            .await
        },
        home.schedule(),
    );
    runnable.schedule(); // outside a drain: one notify
    assert_eq!(home.drain(1).unwrap().ran, 1);
    let before = notifies.get();
    drop(home); // the task is pending, not queued: shutdown cannot reach it
    assert!(drops.lock().unwrap().is_empty());
    let waker = waker_slot.lock().unwrap().take().unwrap();
    let waker_thread = spawn_tracked(move || {
        waker.wake();
        thread::current().id()
    });
    let waker_id = waker_thread.join().unwrap();
    assert_eq!(
        *drops.lock().unwrap(),
        [waker_id],
        "dropped by the late wake"
    );
    assert_eq!(notifies.get(), before, "no notify after shutdown");
    assert_eq!(block_on(task.fallible()), None);
    // Later wakes of the closed task schedule nothing.
    assert_eq!(drops.lock().unwrap().len(), 1);
}

#[test]
fn a_late_foreign_wake_of_a_local_task_leaks_its_future_never_drops_it_off_home() {
    // No leak check: the local future is leaked on purpose (pinned forever).
    let home = Home::new(|| {});
    let dropped_on = Rc::new(RefCell::new(None::<ThreadId>));
    let waker_slot = Arc::new(Mutex::new(None::<Waker>));
    struct LocalProbe(Rc<RefCell<Option<ThreadId>>>);
    impl Drop for LocalProbe {
        fn drop(&mut self) {
            *self.0.borrow_mut() = Some(thread::current().id());
        }
    }
    let probe = LocalProbe(dropped_on.clone());
    let slot = waker_slot.clone();
    let (runnable, task) = rawtask::spawn_local(
        async move {
            let _probe = probe;
            poll_fn(|cx| {
                *slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            })
            .await
        },
        home.schedule(),
    );
    runnable.schedule();
    home.drain(1).unwrap();
    drop(home);
    let waker = waker_slot.lock().unwrap().take().unwrap();
    thread::spawn(move || waker.wake()).join().unwrap();
    assert_eq!(*dropped_on.borrow(), None, "never dropped off its thread");
    assert!(task.is_finished());
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn a_late_home_thread_wake_of_a_local_task_drops_it_there() {
    let _g = check_leaks();
    let home = Home::new(|| {});
    let drops = Arc::new(Mutex::new(Vec::new()));
    let d = drops.clone();
    let slot = Rc::new(RefCell::new(None::<Waker>));
    let s = slot.clone();
    let (runnable, task) = rawtask::spawn_local(
        async move {
            let _record = RecordDrop { drops: d };
            let _not_send = Rc::new(());
            poll_fn(|cx| {
                *s.borrow_mut() = Some(cx.waker().clone());
                Poll::<()>::Pending
            })
            .await
        },
        home.schedule(),
    );
    runnable.schedule();
    home.drain(1).unwrap();
    drop(home);
    let waker = slot.borrow_mut().take().unwrap();
    waker.wake();
    assert_eq!(*drops.lock().unwrap(), [thread::current().id()]);
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn a_panicking_task_leaves_the_home_usable() {
    let _g = check_leaks();
    let home = Home::new(|| {});
    let (bad, bad_task) = rawtask::spawn(async { panic!("boom") }, home.schedule());
    let (good, good_task) = rawtask::spawn(async { 5 }, home.schedule());
    bad.schedule();
    good.schedule();
    let payload = common::expect_panic(|| home.drain(10));
    assert_eq!(common::panic_message(&*payload), "boom");
    assert_eq!(home.len(), 1);
    assert_eq!(
        home.drain(10).unwrap().ran,
        1,
        "not refused: the flag was reset"
    );
    assert_eq!(block_on(good_task), 5);
    assert_eq!(block_on(bad_task.fallible()), None);
}

#[cfg(not(miri))]
mod capi {
    use super::*;
    use rawtask::capi::*;
    use std::ffi::c_void;
    use std::ptr;

    unsafe extern "C" fn count(context: *mut c_void) {
        // SAFETY: the tests pass a live `AtomicUsize`.
        unsafe { &*context.cast::<AtomicUsize>() }.fetch_add(1, SeqCst);
    }

    /// The registry of live homes is a static vector: let it allocate outside the leak check.
    fn warm_registry() {
        let home = rawtask_home_new(Some(count), ptr::null_mut());
        // SAFETY: live, on this thread.
        assert_eq!(unsafe { rawtask_home_free(home) }, RawtaskStatus::Ok);
    }

    #[test]
    fn c_calls_off_the_home_thread_and_misuse_get_statuses() {
        warm_registry();
        let _g = check_leaks();
        let count_box = Box::new(AtomicUsize::new(0));
        let context = (&*count_box as *const AtomicUsize).cast_mut().cast();
        assert!(rawtask_home_new(None, context).is_null());
        assert!(take_last_error().unwrap().to_string().contains("notify"));
        let home = rawtask_home_new(Some(count), context);
        let address = home as usize;
        let (runnable, task) = rawtask::spawn(async { 1 }, home_schedule(home).unwrap());
        // From another thread: refused, with a message.
        let (drain, free) = spawn_tracked(move || {
            let home = address as *mut RawtaskHome;
            let mut ran = 9;
            // SAFETY: checked pointers; `ran` is writable.
            let drain = unsafe { rawtask_home_drain(home, 1, &mut ran) };
            assert!(take_last_error()
                .unwrap()
                .to_string()
                .contains("not the home"));
            assert_eq!(ran, 0);
            // SAFETY: checked pointer.
            (drain, unsafe { rawtask_home_free(home) })
        })
        .join()
        .unwrap();
        assert_eq!(drain, RawtaskStatus::InvalidArgument);
        assert_eq!(free, RawtaskStatus::InvalidArgument);
        spawn_tracked(move || runnable.schedule()).join().unwrap();
        assert_eq!(count_box.load(SeqCst), 1);
        let mut ran = 0;
        // SAFETY: live home, on its thread.
        unsafe {
            assert_eq!(
                rawtask_home_drain(home, 0, &mut ran),
                RawtaskStatus::Pending
            );
            assert_eq!(ran, 0);
            assert_eq!(
                rawtask_home_drain(home, 5, ptr::null_mut()),
                RawtaskStatus::Ok
            );
            assert_eq!(
                rawtask_home_drain(ptr::null_mut(), 5, &mut ran),
                RawtaskStatus::InvalidArgument
            );
            assert_eq!(rawtask_home_free(home), RawtaskStatus::Ok);
            assert_eq!(rawtask_home_free(home), RawtaskStatus::InvalidHandle);
            assert_eq!(
                rawtask_home_drain(home, 5, &mut ran),
                RawtaskStatus::InvalidHandle
            );
            let forged = 0x1000 as *mut RawtaskHome;
            assert_eq!(
                rawtask_home_drain(forged, 5, &mut ran),
                RawtaskStatus::InvalidHandle
            );
        }
        assert_eq!(block_on(task), 1);
        clear_last_error();
    }

    #[test]
    fn c_drain_and_free_from_inside_a_task_are_busy() {
        warm_registry();
        let _g = check_leaks();
        let count_box = Box::new(AtomicUsize::new(0));
        let context = (&*count_box as *const AtomicUsize).cast_mut().cast();
        let home = rawtask_home_new(Some(count), context);
        let address = home as usize;
        let (runnable, task) = rawtask::spawn(
            async move {
                let home = address as *mut RawtaskHome;
                // SAFETY: checked pointers.
                unsafe {
                    (
                        rawtask_home_drain(home, 1, ptr::null_mut()),
                        rawtask_home_free(home),
                    )
                }
            },
            home_schedule(home).unwrap(),
        );
        runnable.schedule();
        // SAFETY: live home, on its thread.
        unsafe {
            assert_eq!(
                rawtask_home_drain(home, 1, ptr::null_mut()),
                RawtaskStatus::Ok
            );
            assert_eq!(rawtask_home_free(home), RawtaskStatus::Ok);
        }
        assert_eq!(block_on(task), (RawtaskStatus::Busy, RawtaskStatus::Busy));
        clear_last_error();
    }

    /// The C notify (called directly with its context, not through a closure) coalesces on
    /// the home thread as a Rust one does, and is never called once the home is freed.
    #[test]
    fn c_notify_gets_its_context_coalesced_and_never_after_free() {
        warm_registry();
        let _g = check_leaks();
        let count_box = Box::new(AtomicUsize::new(0));
        let context = (&*count_box as *const AtomicUsize).cast_mut().cast();
        let home = rawtask_home_new(Some(count), context);
        let spawn = || rawtask::spawn(async {}, home_schedule(home).unwrap());
        let (first, first_task) = spawn();
        let (second, second_task) = spawn();
        // Two spawns between drains: one notify.
        first.schedule();
        second.schedule();
        assert_eq!(count_box.load(SeqCst), 1);
        let mut ran = 0;
        // SAFETY: live home, on its thread; `ran` is writable.
        let status = unsafe { rawtask_home_drain(home, 8, &mut ran) };
        assert_eq!(status, RawtaskStatus::Ok);
        assert_eq!(ran, 2);
        // The drain answered it: the next spawn notifies again.
        let (third, third_task) = spawn();
        third.schedule();
        assert_eq!(count_box.load(SeqCst), 2);
        // A task left pending, woken after the free: cancelled, and no notify.
        let waker = Arc::new(Mutex::new(None::<Waker>));
        let slot = waker.clone();
        let (pending, pending_task) = rawtask::spawn(
            poll_fn(move |cx| {
                *slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }),
            home_schedule(home).unwrap(),
        );
        pending.schedule();
        // SAFETY: as above.
        unsafe {
            assert_eq!(rawtask_home_drain(home, 8, &mut ran), RawtaskStatus::Ok);
            assert_eq!(ran, 2);
            assert_eq!(rawtask_home_free(home), RawtaskStatus::Ok);
        }
        let late = waker.lock().unwrap().take().unwrap();
        spawn_tracked(move || late.wake()).join().unwrap();
        assert_eq!(count_box.load(SeqCst), 2);
        block_on(first_task);
        block_on(second_task);
        block_on(third_task);
        assert_eq!(block_on(pending_task.fallible()), None);
    }

    /// A task that panics inside `rawtask_home_drain` (which inlines the guard and the drain)
    /// gives `PANICKED` with the message, `*ran` 0, and a home that drains again.
    #[test]
    fn c_drain_reports_a_panicking_task_and_stays_usable() {
        warm_registry();
        let _g = check_leaks();
        let count_box = Box::new(AtomicUsize::new(0));
        let context = (&*count_box as *const AtomicUsize).cast_mut().cast();
        let home = rawtask_home_new(Some(count), context);
        let (bad, bad_task) =
            rawtask::spawn(async { panic!("boom") }, home_schedule(home).unwrap());
        let (good, good_task) = rawtask::spawn(async { 5 }, home_schedule(home).unwrap());
        bad.schedule();
        good.schedule();
        assert_eq!(count_box.load(SeqCst), 1);
        clear_last_error();
        let mut ran = 9;
        // SAFETY: live home, on its thread; `ran` is writable.
        unsafe {
            assert_eq!(
                rawtask_home_drain(home, 8, &mut ran),
                RawtaskStatus::Panicked
            );
            assert_eq!(ran, 0);
            assert!(take_last_error().unwrap().to_string().contains("boom"));
            assert_eq!(rawtask_home_drain(home, 8, &mut ran), RawtaskStatus::Ok);
            assert_eq!(ran, 1);
            assert_eq!(rawtask_home_free(home), RawtaskStatus::Ok);
        }
        assert_eq!(block_on(good_task), 5);
        assert_eq!(block_on(bad_task.fallible()), None);
    }
}

/// The schedule functions' references to the home (counted without atomics when made on the
/// home thread, merged into an atomic count at shutdown): dropped on the home thread or on
/// another one, before or after shutdown, made on either, the home's shared part is freed
/// exactly once (the leak check fails on a leak; Miri and valgrind on a double free or a use
/// after free).
#[test]
fn schedule_references_dropped_anywhere_free_the_home_once() {
    let _g = check_leaks();
    let home = Home::<()>::new(|| {});
    let dropped_remotely_before = home.schedule();
    let dropped_remotely_after = home.schedule();
    let dropped_here_after = home.schedule();
    let made_remotely = {
        let schedule = home.schedule();
        spawn_tracked(move || schedule.clone()).join().unwrap()
    };
    assert!(made_remotely.on_home_thread());
    spawn_tracked(move || drop(dropped_remotely_before))
        .join()
        .unwrap();
    // A task spawned here, whose last handle goes on another thread after shutdown.
    let (runnable, task) = rawtask::spawn(async { 5 }, home.schedule());
    runnable.schedule();
    assert_eq!(home.drain(8).unwrap().ran, 1);
    drop(home);
    let clone_after = dropped_here_after.clone(); // after shutdown: an ordinary count
    drop(dropped_here_after);
    spawn_tracked(move || {
        assert_eq!(block_on(task), 5);
        drop(dropped_remotely_after);
        drop(made_remotely);
    })
    .join()
    .unwrap();
    drop(clone_after);
}
