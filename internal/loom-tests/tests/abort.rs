//! Aborting: `Task::abort` (the `Task` holder cancels and keeps the handle, then awaits it
//! through `Task::join`) and `AbortHandle::abort` (a counted reference that is not the `Task`
//! cancels: `StateCell::abort`, then drops the handle, possibly the last reference) racing
//! every other actor of the harness: run, schedule, `Runnable` drop, raw hand-off, the wakers
//! (and so the last waker), `Task` poll, drop, cancel and detach, and each other.
//!
//! Besides the harness's checks (one future drop, one data slot drop, no leak, the output
//! delivered at most once, rule 4 for the awaiting side), every abort that returns `true`
//! must end with the output undelivered (`Counters::aborts`) and, for `Task::abort`, with
//! `JoinError::Cancelled`.
#![cfg(loom)]

use loom_tests::{deep, race, Actor::*, Kind, Spawn};

const STASH: Spawn = Spawn::new(Kind::Stash1);

macro_rules! races {
    ($($(#[$shallow:ident])? $name:ident: $a:ident vs $b:ident $(, $how:expr)?;)*) => {$(
        #[test]
        fn $name() {
            #[allow(unused_mut, unused_assignments)]
            let mut how = STASH;
            $(how = $how;)?
            #[allow(unused_mut, unused_assignments)]
            let mut bound = deep();
            $(let _ = stringify!($shallow); bound = None;)?
            race(stringify!($name), $a, $b, how, bound);
        }
    )*};
}

races! {
    abort_vs_run: Abort vs Run;
    abort_vs_run_yield: Abort vs Run, Spawn::new(Kind::YieldOnce);
    abort_vs_run_panic_propagated: Abort vs Run, Spawn::new(Kind::Panic1).propagate();
    abort_vs_schedule: Abort vs Schedule;
    abort_vs_runnable_drop: Abort vs RunnableDrop;
    abort_vs_raw_handoff: Abort vs RawHandoff;
    abort_vs_wake_by_value: Abort vs WakeByValue;
    abort_vs_wake_by_ref: Abort vs WakeByRef;
    abort_vs_waker_clone_drop: Abort vs CloneDrop;
    abort_vs_abort_handle: Abort vs AbortHandle;

    abort_handle_vs_run: AbortHandle vs Run;
    abort_handle_vs_run_yield: AbortHandle vs Run, Spawn::new(Kind::YieldOnce);
    abort_handle_vs_run_ready: AbortHandle vs Run, Spawn::new(Kind::Ready);
    abort_handle_vs_schedule: AbortHandle vs Schedule;
    abort_handle_vs_runnable_drop: AbortHandle vs RunnableDrop;
    abort_handle_vs_raw_handoff: AbortHandle vs RawHandoff;
    abort_handle_vs_wake_by_value: AbortHandle vs WakeByValue;
    abort_handle_vs_wake_by_ref: AbortHandle vs WakeByRef;
    abort_handle_vs_waker_clone_drop: AbortHandle vs CloneDrop;
    abort_handle_vs_task_poll: AbortHandle vs TaskPoll;
    abort_handle_vs_task_drop: AbortHandle vs TaskDrop;
    abort_handle_vs_task_drop_ready: AbortHandle vs TaskDrop, Spawn::new(Kind::Ready);
    abort_handle_vs_task_cancel: AbortHandle vs TaskCancel;
    abort_handle_vs_task_detach: AbortHandle vs TaskDetach;
    abort_handle_vs_task_detach_ready: AbortHandle vs TaskDetach, Spawn::new(Kind::Ready);
    abort_handle_vs_abort_handle: AbortHandle vs AbortHandle;
}
