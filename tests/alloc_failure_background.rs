//! Background jobs when the global heap fails: `TaskHandle::try_spawn_on`, for every k from 1
//! to its number of allocation requests + 1, with the k-th request of the test thread refused
//! (the job's token, then its task): it returns its error or a handle, nothing aborts, nothing
//! leaks, and the job is dropped exactly once — run exactly when the spawn succeeded.

mod common;

use std::sync::{Arc, Mutex};

use common::{check_leaks, refusing_kth_allocation, Counter, DropProbe};
use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
use rawtask::Runnable;

/// A job that counts its runs and its drops (of the last clone).
#[derive(Clone)]
struct Job {
    _probe: Arc<DropProbe>,
    ran: Counter,
}

impl Task for Job {
    type Output = u8;
    fn run(&self, _: &CancellationToken) -> Result<u8, Error> {
        self.ran.inc();
        Ok(9)
    }
}

/// Spawns and runs one job with the k-th request refused; returns the requests the spawn
/// made and whether it succeeded.
fn spawn(k: usize) -> (usize, bool) {
    let _g = check_leaks();
    let (made, dropped, ran) = (Counter::new(), Counter::new(), Counter::new());
    // Room reserved up front: scheduling allocates nothing.
    let queue = Arc::new(Mutex::new(Vec::<Runnable>::with_capacity(1)));
    let schedule = {
        let queue = queue.clone();
        move |runnable| queue.lock().unwrap().push(runnable)
    };
    made.inc();
    let job = Job {
        _probe: Arc::new(DropProbe::new(&dropped)),
        ran: ran.clone(),
    };
    let (handle, requests) = refusing_kth_allocation(k, || TaskHandle::try_spawn_on(job, schedule));
    let spawned = handle.is_ok();
    match handle {
        Ok(handle) => {
            let runnable = queue.lock().unwrap().pop().unwrap();
            runnable.run();
            assert_eq!(handle.wait().unwrap(), 9);
            assert_eq!(ran.get(), 1);
        }
        Err(error) => {
            assert!(error.to_string().contains("could not allocate"), "{error}");
            assert!(queue.lock().unwrap().is_empty());
            assert_eq!(ran.get(), 0, "k = {k}: a refused job never runs");
        }
    }
    assert_eq!(dropped.get(), made.get(), "k = {k}: the job dropped once");
    (requests, spawned)
}

#[test]
fn try_spawn_on_reports_a_refused_token_or_task() {
    let (requests, spawned) = spawn(usize::MAX);
    assert!(spawned);
    assert!(requests >= 2, "the token and the task: {requests}");
    for k in 1..=requests + 1 {
        let (_, spawned) = spawn(k);
        assert_eq!(spawned, k > requests, "k = {k}");
    }
}
