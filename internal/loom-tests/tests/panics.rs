//! A panicking future (`Kind::Panic1`: panics on its first poll), with and without
//! `Builder::propagate_panic`, racing every other actor. Without propagation the panic leaves
//! `Runnable::run` (the executor catches it) and the `Task` resolves as cancelled; with it,
//! `run` returns normally and the payload is stored as the output, re-raised to whoever awaits
//! the `Task`, and dropped exactly once by whoever ends up with it.
#![cfg(loom)]

use loom_tests::{deep, race, Actor::*, Kind, Spawn};

const PANIC: Spawn = Spawn::new(Kind::Panic1);
const PROPAGATE: Spawn = Spawn::new(Kind::Panic1).propagate();

macro_rules! races {
    ($($name:ident: $a:ident vs $b:ident, $how:expr;)*) => {$(
        #[test]
        fn $name() {
            race(stringify!($name), $a, $b, $how, deep());
        }
    )*};
}

races! {
    panicking_run_vs_schedule: Run vs Schedule, PANIC;
    panicking_run_vs_runnable_drop: Run vs RunnableDrop, PANIC;
    panicking_run_vs_raw_handoff: Run vs RawHandoff, PANIC;
    panicking_run_vs_wake_by_value: Run vs WakeByValue, PANIC;
    panicking_run_vs_wake_by_ref: Run vs WakeByRef, PANIC;
    panicking_run_vs_waker_clone_drop: Run vs CloneDrop, PANIC;
    panicking_run_vs_task_poll: Run vs TaskPoll, PANIC;
    panicking_run_vs_task_drop: Run vs TaskDrop, PANIC;
    panicking_run_vs_task_cancel: Run vs TaskCancel, PANIC;
    panicking_run_vs_task_detach: Run vs TaskDetach, PANIC;

    propagated_panic_run_vs_schedule: Run vs Schedule, PROPAGATE;
    propagated_panic_run_vs_runnable_drop: Run vs RunnableDrop, PROPAGATE;
    propagated_panic_run_vs_raw_handoff: Run vs RawHandoff, PROPAGATE;
    propagated_panic_run_vs_wake_by_value: Run vs WakeByValue, PROPAGATE;
    propagated_panic_run_vs_wake_by_ref: Run vs WakeByRef, PROPAGATE;
    propagated_panic_run_vs_waker_clone_drop: Run vs CloneDrop, PROPAGATE;
    propagated_panic_run_vs_task_poll: Run vs TaskPoll, PROPAGATE;
    propagated_panic_run_vs_task_drop: Run vs TaskDrop, PROPAGATE;
    propagated_panic_run_vs_task_cancel: Run vs TaskCancel, PROPAGATE;
    propagated_panic_run_vs_task_detach: Run vs TaskDetach, PROPAGATE;
}
