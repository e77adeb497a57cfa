//! The blocking pool: threads are reused across jobs, and it grows so that blocking jobs can
//! run side by side.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::thread::ThreadId;

use rawtask::background::{CancellationToken, Error, Task, TaskHandle};

#[derive(Clone)]
struct WhichThread;

impl Task for WhichThread {
    type Output = ThreadId;
    fn run(&self, _: &CancellationToken) -> Result<ThreadId, Error> {
        Ok(std::thread::current().id())
    }
}

#[test]
#[cfg_attr(miri, ignore = "under Miri each job has a thread of its own")]
fn sequential_jobs_reuse_threads() {
    let ids: HashSet<_> = (0..200)
        .map(|_| TaskHandle::spawn(WhichThread).wait().unwrap())
        .collect();
    assert!(!ids.contains(&std::thread::current().id()));
    // `blocking_jobs_run_side_by_side` may have left 32 idle threads, any of which may take a
    // job; still, nowhere near one thread per job.
    assert!(
        ids.len() <= 48,
        "{} threads for 200 sequential jobs",
        ids.len()
    );
}

#[test]
#[cfg_attr(miri, ignore = "under Miri each job has a thread of its own")]
fn pool_threads_are_named() {
    #[derive(Clone)]
    struct Name;
    impl Task for Name {
        type Output = String;
        fn run(&self, _: &CancellationToken) -> Result<String, Error> {
            Ok(std::thread::current().name().unwrap_or("").to_owned())
        }
    }
    let name = TaskHandle::spawn(Name).wait().unwrap();
    assert!(name.starts_with("rawtask-blocking-"), "{name}");
}

#[test]
fn blocking_jobs_run_side_by_side() {
    #[derive(Clone)]
    struct Meet(Arc<Barrier>);
    impl Task for Meet {
        type Output = ();
        fn run(&self, _: &CancellationToken) -> Result<(), Error> {
            self.0.wait();
            Ok(())
        }
    }
    // Every job waits for all the others: this only finishes if the pool runs them all at once.
    let jobs = if cfg!(miri) { 3 } else { 32 };
    let barrier = Arc::new(Barrier::new(jobs));
    let handles: Vec<_> = (0..jobs)
        .map(|_| TaskHandle::spawn(Meet(barrier.clone())))
        .collect();
    for handle in handles {
        handle.wait().unwrap();
    }
}
