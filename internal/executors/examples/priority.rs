//! The priority executor: jobs run highest priority first, whatever order they were
//! spawned in, and a high-priority job woken later overtakes the queued ones.
//!
//! ```text
//! cargo run -p rawtask-executors --example priority
//! ```

use std::sync::{Arc, Mutex};

use rawtask_executors::priority::{Executor, Priority};

/// Runs the demo (also run by `tests/examples.rs`).
pub fn main() {
    let ex = Executor::new();
    let log = Arc::new(Mutex::new(Vec::new()));

    // An urgent job that waits for a signal before it can finish.
    let (signal_tx, signal_rx) = flume::bounded::<()>(1);
    let urgent = {
        let log = log.clone();
        ex.spawn(Priority(255), async move {
            log.lock().unwrap().push("urgent: waiting".to_string());
            signal_rx.recv_async().await.unwrap();
            log.lock().unwrap().push("urgent: done".to_string());
        })
    };

    // Jobs spawned in no particular order; the first background job sends the signal.
    for (name, priority) in [
        ("background", 1),
        ("normal", 100),
        ("high", 200),
        ("low", 10),
    ] {
        let log = log.clone();
        let signal_tx = signal_tx.clone();
        let task = ex.spawn(Priority(priority), async move {
            log.lock().unwrap().push(format!("{name} ({priority})"));
            if name == "background" {
                // Wakes the urgent task: it runs next, before anything else queued.
                signal_tx.send_async(()).await.unwrap();
            }
        });
        // The priority is in the task's data slot, readable from the `Task` too.
        assert_eq!(task.metadata().0, priority);
        task.detach();
    }
    let late_low = {
        let log = log.clone();
        ex.spawn(Priority(0), async move {
            log.lock().unwrap().push("lowest (0)".to_string())
        })
    };
    drop(signal_tx);

    ex.block_on(async {
        urgent.await;
        late_low.await;
    });

    let log = log.lock().unwrap();
    for line in log.iter() {
        println!("{line}");
    }
    let expected = [
        "urgent: waiting",
        "high (200)",
        "normal (100)",
        "low (10)",
        "background (1)",
        "urgent: done",
        "lowest (0)",
    ];
    assert_eq!(*log, expected);
}
