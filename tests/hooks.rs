//! Task hooks: which hook runs when, with which identity and state, and that a task without
//! hooks carries nothing for them.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_lite::future::block_on;
use rawtask::hooks::{Polled, TaskHooks, TaskMeta};
use rawtask::{Builder, Runnable, ScheduleInfo};

/// Records every hook call as a line `"<task state> <event>"`.
#[derive(Default)]
struct Recorder {
    next: AtomicUsize,
    log: Mutex<Vec<String>>,
}

impl Recorder {
    fn push(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// The per-task state: a number the recorder hands out at spawn, and the name seen then.
struct Seen {
    n: usize,
    name: Option<String>,
}

impl TaskHooks for Recorder {
    type State = Seen;

    fn on_spawn(&self, task: TaskMeta<'_>) -> Seen {
        let n = self.next.fetch_add(1, SeqCst);
        self.push(format!("{n} spawn id={}", task.id().is_some()));
        Seen {
            n,
            name: task.name().map(str::to_owned),
        }
    }

    fn on_schedule(&self, _: TaskMeta<'_>, seen: &Seen, info: ScheduleInfo) {
        self.push(format!(
            "{} schedule running={}",
            seen.n, info.woken_while_running
        ));
    }

    fn before_poll(&self, task: TaskMeta<'_>, seen: &Seen) {
        assert_eq!(task.name(), seen.name.as_deref());
        self.push(format!("{} before", seen.n));
    }

    fn after_poll(&self, _: TaskMeta<'_>, seen: &Seen, polled: Polled) {
        self.push(format!("{} after {polled:?}", seen.n));
    }

    fn on_complete(&self, _: TaskMeta<'_>, seen: &Seen) {
        self.push(format!("{} complete", seen.n));
    }

    fn on_free(&self, _: TaskMeta<'_>, seen: Seen) {
        self.push(format!("{} free", seen.n));
    }
}

/// Pending once (after waking itself), then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(5)
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn hooks_see_each_step_in_order() {
    let recorder = Arc::new(Recorder::default());
    let queue = Arc::new(Mutex::new(Vec::<Runnable>::new()));
    let schedule = {
        let queue = queue.clone();
        move |runnable| queue.lock().unwrap().push(runnable)
    };
    let (runnable, task) = Builder::new()
        .name("yielder")
        .hooks(recorder.clone())
        .spawn(|()| YieldOnce(false), schedule);
    assert_eq!(recorder.take(), ["0 spawn id=true"]);

    runnable.schedule();
    loop {
        let next = queue.lock().unwrap().pop();
        match next {
            Some(runnable) => {
                runnable.run();
            }
            None => break,
        }
    }
    assert_eq!(
        recorder.take(),
        [
            "0 schedule running=false",
            "0 before",
            "0 after Pending",
            "0 schedule running=true",
            "0 before",
            "0 after Ready",
            "0 complete",
        ]
    );
    assert_eq!(block_on(task), 5);
    assert_eq!(recorder.take(), ["0 free"]);
}

#[test]
fn a_task_without_identity_is_told_apart_by_its_state() {
    let recorder = Arc::new(Recorder::default());
    let (r1, t1) = Builder::new()
        .hooks(recorder.clone())
        .spawn(|()| async {}, |_| {});
    let (r2, t2) = Builder::new()
        .hooks(recorder.clone())
        .spawn(|()| async {}, |_| {});
    r2.run();
    r1.run();
    drop(t1);
    drop(t2);
    assert_eq!(
        recorder.take(),
        [
            "0 spawn id=false",
            "1 spawn id=false",
            "1 before",
            "1 after Ready",
            "1 complete",
            "0 before",
            "0 after Ready",
            "0 complete",
            "0 free",
            "1 free",
        ]
    );
}

#[test]
fn a_cancelled_task_is_freed_without_completing() {
    let recorder = Arc::new(Recorder::default());
    let (runnable, task) = Builder::new()
        .hooks(recorder.clone())
        .spawn(|()| std::future::pending::<()>(), |_| {});
    let waker = runnable.waker();
    drop(task);
    drop(runnable);
    assert_eq!(recorder.take(), ["0 spawn id=false"]);
    drop(waker);
    assert_eq!(recorder.take(), ["0 free"]);
}

#[cfg(not(miri))] // miri does not catch the unwind cheaply; the path is the same
#[test]
fn a_panicking_poll_is_reported_then_unwinds() {
    let recorder = Arc::new(Recorder::default());
    let (runnable, task) = Builder::new()
        .propagate_panic(true)
        .hooks(recorder.clone())
        .spawn(|()| async { panic!("boom") }, |_| {});
    runnable.run();
    assert_eq!(
        recorder.take(),
        [
            "0 spawn id=false",
            "0 before",
            "0 after Panicked",
            "0 complete"
        ]
    );
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(task))).is_err());
    assert_eq!(recorder.take(), ["0 free"]);
}

#[test]
fn static_hooks_with_the_other_builder_options() {
    struct Count(AtomicUsize);
    impl TaskHooks for Count {
        type State = ();
        fn on_spawn(&self, _: TaskMeta<'_>) {
            self.0.fetch_add(1, SeqCst);
        }
        fn on_free(&self, _: TaskMeta<'_>, (): ()) {
            self.0.fetch_add(100, SeqCst);
        }
    }
    static COUNT: Count = Count(AtomicUsize::new(0));
    let (runnable, task) = Builder::new()
        .hooks(&COUNT)
        .metadata(3u8)
        .propagate_panic(true)
        .track_location()
        .spawn(
            |m| {
                let m = *m;
                async move { m }
            },
            |_| {},
        );
    assert_eq!(
        runnable.identity().unwrap().location().unwrap().file(),
        file!()
    );
    runnable.run();
    assert_eq!(block_on(task), 3);
    assert_eq!(COUNT.0.load(SeqCst), 101);
}

#[test]
fn spawn_local_and_try_spawn_call_the_hooks() {
    let recorder = Arc::new(Recorder::default());
    let rc = std::rc::Rc::new(1);
    let (runnable, task) = Builder::new()
        .hooks(recorder.clone())
        .spawn_local(move |()| async move { *rc }, |_| {});
    runnable.run();
    assert_eq!(block_on(task), 1);
    let (runnable, task) = Builder::new()
        .hooks(recorder.clone())
        .try_spawn(|()| async { 2 }, |_| {})
        .unwrap();
    runnable.run();
    assert_eq!(block_on(task), 2);
    let log = recorder.take();
    assert_eq!(
        log.iter().filter(|l| l.ends_with("spawn id=false")).count(),
        2
    );
    assert_eq!(log.iter().filter(|l| l.ends_with("free")).count(), 2);
}

/// The state is dropped exactly once, by `on_free`'s caller.
#[test]
fn the_state_is_dropped_once() {
    struct Drops(Arc<AtomicUsize>);
    impl Drop for Drops {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    struct Make(Arc<AtomicUsize>);
    impl TaskHooks for Make {
        type State = Drops;
        fn on_spawn(&self, _: TaskMeta<'_>) -> Drops {
            Drops(self.0.clone())
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (runnable, task) = Builder::new()
        .hooks(Make(drops.clone()))
        .spawn(|()| async {}, |_| {});
    runnable.run();
    assert_eq!(drops.load(SeqCst), 0);
    drop(task);
    assert_eq!(drops.load(SeqCst), 1);
}
