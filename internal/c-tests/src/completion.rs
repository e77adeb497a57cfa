//! Fixtures for `c/completion.c`: tasks whose outputs are not plain data (text, a
//! `Result`), finished on C threads and waited for with completion callbacks.

use std::future::poll_fn;
use std::task::Poll;

use rawtask::capi::{Error, Failure, RawtaskRunnable, RawtaskSchedule, RawtaskStatus, RawtaskTask};
use rawtask::Builder;

use crate::{spawn_for_c, Tracked};

/// Spawns a task that yields `yields` times, then returns the text `"task <index>"` (a
/// `String`, which C receives as a `RawtaskBuffer`) — or, if `index` is a multiple of 10, fails
/// with the error `"task <index> failed"` (C sees `RAWTASK_STATUS_FAILED`).
///
/// # Safety
/// The out-parameters are null or writable; `schedule` follows `RawtaskSchedule`'s contract.
#[no_mangle]
pub unsafe extern "C" fn fixture_spawn_text(
    schedule: RawtaskSchedule,
    index: u64,
    yields: u32,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    rawtask::capi::guard(|| -> Result<RawtaskStatus, Failure> {
        let future = Tracked::new(async move {
            let mut left = yields;
            poll_fn(|cx| {
                if left == 0 {
                    return Poll::Ready(());
                }
                left -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            })
            .await;
            if index % 10 == 0 {
                Err(Error::msg(format!("task {index} failed")))
            } else {
                Ok(format!("task {index}"))
            }
        });
        // SAFETY: forwarded from the caller.
        unsafe {
            spawn_for_c(
                Builder::new(),
                move |_| future,
                schedule,
                out_runnable,
                out_task,
            )
        }
    })
}
