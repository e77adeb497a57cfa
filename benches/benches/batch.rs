//! Batch spawning (`rawtask::spawn_many`) against a loop of single spawns, in the same run.
//!
//! Both functions of the group `spawn_1000` spawn 1,000 trivial tasks onto a schedule function
//! that pushes onto a `Mutex<VecDeque>` queue (the shape of a simple executor's global queue),
//! then run them all and join them:
//!
//! - `loop`: `rawtask::spawn` + `Runnable::schedule` per task (one lock per task);
//! - `spawn_many`: one `spawn_many` call, then one lock to enqueue the whole batch.
//!
//! Read the ratio, not absolute times: this machine is noisy.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rawtask::{Runnable, Task};
use rawtask_benches::poll_ready;

const TASKS: usize = 1000;

type Queue = Arc<Mutex<VecDeque<Runnable>>>;

fn run_all(queue: &Queue) {
    loop {
        let next = queue.lock().unwrap().pop_front();
        match next {
            Some(runnable) => {
                runnable.run();
            }
            None => break,
        }
    }
}

fn spawn_1000(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_1000");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(TASKS as u64));
    let queue: Queue = Arc::new(Mutex::new(VecDeque::with_capacity(TASKS)));
    let schedule = {
        let queue = queue.clone();
        move |runnable| queue.lock().unwrap().push_back(runnable)
    };

    let mut tasks: Vec<Task<usize>> = Vec::with_capacity(TASKS);
    group.bench_function("loop", |b| {
        b.iter(|| {
            for i in 0..TASKS {
                let (runnable, task) = rawtask::spawn(async move { i }, schedule.clone());
                runnable.schedule();
                tasks.push(task);
            }
            run_all(&queue);
            tasks.drain(..).map(poll_ready).sum::<usize>()
        })
    });

    let mut runnables: Vec<Runnable> = Vec::with_capacity(TASKS);
    group.bench_function("spawn_many", |b| {
        b.iter(|| {
            rawtask::spawn_many(
                (0..TASKS).map(|i| async move { i }),
                &schedule,
                &mut runnables,
                &mut tasks,
            );
            queue.lock().unwrap().extend(runnables.drain(..));
            run_all(&queue);
            tasks.drain(..).map(poll_ready).sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, spawn_1000);
criterion_main!(benches);
