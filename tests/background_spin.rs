//! ffi_helpers 0.3's `Spin` example (the docs of its `task` module,
//! <https://docs.rs/ffi_helpers/0.3/ffi_helpers/task/index.html>), as written there
//! apart from the crate path: `ffi_helpers::task` / `ffi_helpers::Task` become
//! `rawtask::background`, `ffi_helpers::error_handling` becomes `rawtask::capi`. The error
//! type is `anyhow::Error`, imported as ffi_helpers' docs import it. One addition: the job's
//! loop has a deadline, so that a lost cancel fails the test instead of hanging it.
#![allow(missing_docs, unused_variables)] // the example's `pub struct Spin` and `num_spins`

mod common;

use anyhow::Error;
use rawtask::background::CancellationToken;
use rawtask::background::Task;
use rawtask::capi::*;
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Spin;

impl Task for Spin {
    type Output = usize;

    fn run(&self, cancel_tok: &CancellationToken) -> Result<Self::Output, Error> {
        let mut spins = 0;
        let started = Instant::now();

        while !cancel_tok.cancelled() {
            // A cancel that never arrives fails the test (the job's panic is its error)
            // instead of hanging it.
            assert!(
                started.elapsed() < common::DEADLINE,
                "timed out after {:?} waiting for the cancel signal",
                common::DEADLINE
            );
            thread::sleep(Duration::from_millis(10));
            spins += 1;
        }

        Ok(spins)
    }
}

// Generate the various `extern "C"` utility functions for working with the
// `Spin` task. The `spawn` function will be called `spin_spawn`, and so on.
rawtask::export_task! {
    Task: Spin;
    spawn: spin_spawn;
    wait: spin_wait;
    poll: spin_poll;
    cancel: spin_cancel;
    cancelled: spin_cancelled;
    handle_destroy: spin_handle_destroy;
    result_destroy: spin_result_destroy;
}

#[test]
fn the_seed_spin_example() {
    // create our `Spin` task
    let s = Spin;

    // SAFETY: `s` outlives the call to `spin_spawn`, and the handle and result are used only
    // until they are freed.
    unsafe {
        // spawn the task in the background and get a handle to it
        let handle = spin_spawn(&s);
        assert_eq!(
            spin_cancelled(handle),
            0,
            "The spin shouldn't have been cancelled yet"
        );

        // poll the task. The result can vary depending on the outcome:
        // - If the task completed, get a pointer to the `Output`
        // - If it completed with an error, return `null` and update the
        //   LAST_ERROR appropriately
        // - Return `null` and *don't* set LAST_ERROR if the task isn't done
        clear_last_error();
        let ret = spin_poll(handle);
        assert_eq!(
            last_error_length(),
            0,
            "There shouldn't have been any errors"
        );
        assert!(ret.is_null(), "The task should still be running");

        // tell the task to stop spinning by sending the cancel signal
        spin_cancel(handle);

        // wait for the task to finish and retrieve a pointer to its result
        // Note: this will automatically free the handle, so we don't need
        //       to manually call `spin_handle_destroy()`.
        let got = spin_wait(handle);

        assert_eq!(
            last_error_length(),
            0,
            "There shouldn't have been any errors"
        );
        assert!(!got.is_null(), "Oops!");

        let num_spins: usize = *got;

        // don't forget the result is heap allocated so we need to free it
        spin_result_destroy(got);
    }
}

/// The same handle, destroyed instead of waited for: the job is cancelled.
#[test]
fn destroying_the_handle_cancels_the_spin() {
    let s = Spin;
    // SAFETY: the handle is freed once.
    unsafe {
        let handle = spin_spawn(&s);
        spin_handle_destroy(handle);
    }
}
