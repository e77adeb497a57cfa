//! Every pair of actors racing on one task (see `Actor` in the harness): run, schedule from
//! another thread, `Runnable` drop, `into_raw`/`from_raw` hand-off, wake by value, wake by
//! reference, waker clone + drop, `Task` poll, `Task` drop, `Task::cancel`, `Task::detach`.
//!
//! The future is `Stash1` (pending once, leaving its waker with the executor, then ready)
//! unless the name says otherwise, and the schedule function is a `WithInfo` closure, so every
//! model also checks `woken_while_running` against `Runnable::run`'s return value.
#![cfg(loom)]

use loom_tests::{deep, race, Actor::*, Kind, Spawn};

const STASH: Spawn = Spawn::new(Kind::Stash1);

/// `name: A vs B [, spawn]` explores at preemption bound `deep()` (LOOM_MAX_PREEMPTIONS + 1);
/// `#[shallow] name: ...` at LOOM_MAX_PREEMPTIONS itself (the `Task`-poll pairs whose
/// `block_on` against an executor loop takes over a minute one level deeper; at bound 3
/// `run_vs_task_poll`, `raw_handoff_vs_task_poll` and `wake_by_value_vs_task_poll` took
/// 62-66 s each on a 2-core machine). Every `deep()` model must stay under a minute.
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
    run_vs_run: Run vs Run, Spawn::new(Kind::YieldOnce);
    run_vs_schedule: Run vs Schedule;
    run_vs_runnable_drop: Run vs RunnableDrop, Spawn::new(Kind::YieldOnce);
    run_vs_raw_handoff: Run vs RawHandoff, Spawn::new(Kind::YieldOnce);
    run_vs_wake_by_value: Run vs WakeByValue;
    run_vs_wake_by_ref: Run vs WakeByRef;
    run_vs_waker_clone_drop: Run vs CloneDrop;
    #[shallow] run_vs_task_poll: Run vs TaskPoll;
    run_vs_task_drop: Run vs TaskDrop;
    run_vs_task_cancel: Run vs TaskCancel;
    run_vs_task_detach: Run vs TaskDetach;

    schedule_vs_runnable_drop: Schedule vs RunnableDrop;
    schedule_vs_wake_by_value: Schedule vs WakeByValue;
    schedule_vs_wake_by_ref: Schedule vs WakeByRef;
    schedule_vs_waker_clone_drop: Schedule vs CloneDrop;
    #[shallow] schedule_vs_task_poll: Schedule vs TaskPoll;
    schedule_vs_task_drop: Schedule vs TaskDrop;
    schedule_vs_task_cancel: Schedule vs TaskCancel;
    schedule_vs_task_detach: Schedule vs TaskDetach;

    runnable_drop_vs_runnable_drop: RunnableDrop vs RunnableDrop, Spawn::new(Kind::YieldOnce);
    runnable_drop_vs_raw_handoff: RunnableDrop vs RawHandoff, Spawn::new(Kind::YieldOnce);
    runnable_drop_vs_wake_by_value: RunnableDrop vs WakeByValue;
    runnable_drop_vs_wake_by_ref: RunnableDrop vs WakeByRef;
    runnable_drop_vs_waker_clone_drop: RunnableDrop vs CloneDrop;
    runnable_drop_vs_task_poll: RunnableDrop vs TaskPoll;
    runnable_drop_vs_task_drop: RunnableDrop vs TaskDrop;
    runnable_drop_vs_task_cancel: RunnableDrop vs TaskCancel;
    runnable_drop_vs_task_detach: RunnableDrop vs TaskDetach;

    raw_handoff_vs_wake_by_value: RawHandoff vs WakeByValue;
    raw_handoff_vs_wake_by_ref: RawHandoff vs WakeByRef;
    raw_handoff_vs_waker_clone_drop: RawHandoff vs CloneDrop;
    #[shallow] raw_handoff_vs_task_poll: RawHandoff vs TaskPoll;
    raw_handoff_vs_task_drop: RawHandoff vs TaskDrop;
    raw_handoff_vs_task_cancel: RawHandoff vs TaskCancel;
    raw_handoff_vs_task_detach: RawHandoff vs TaskDetach;

    wake_by_value_vs_wake_by_value: WakeByValue vs WakeByValue;
    wake_by_value_vs_wake_by_ref: WakeByValue vs WakeByRef;
    wake_by_value_vs_waker_clone_drop: WakeByValue vs CloneDrop;
    #[shallow] wake_by_value_vs_task_poll: WakeByValue vs TaskPoll;
    wake_by_value_vs_task_drop: WakeByValue vs TaskDrop;
    wake_by_value_vs_task_cancel: WakeByValue vs TaskCancel;
    wake_by_value_vs_task_detach: WakeByValue vs TaskDetach;

    wake_by_ref_vs_wake_by_ref: WakeByRef vs WakeByRef;
    wake_by_ref_vs_waker_clone_drop: WakeByRef vs CloneDrop;
    #[shallow] wake_by_ref_vs_task_poll: WakeByRef vs TaskPoll;
    wake_by_ref_vs_task_drop: WakeByRef vs TaskDrop;
    wake_by_ref_vs_task_cancel: WakeByRef vs TaskCancel;
    wake_by_ref_vs_task_detach: WakeByRef vs TaskDetach;

    waker_clone_drop_vs_waker_clone_drop: CloneDrop vs CloneDrop;
    #[shallow] waker_clone_drop_vs_task_poll: CloneDrop vs TaskPoll;
    waker_clone_drop_vs_task_drop: CloneDrop vs TaskDrop;
    waker_clone_drop_vs_task_cancel: CloneDrop vs TaskCancel;
    waker_clone_drop_vs_task_detach: CloneDrop vs TaskDetach;
}
