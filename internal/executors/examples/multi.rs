//! The multi-threaded work-stealing executor: a tree of tasks spawned from tasks, pairs of
//! tasks playing ping-pong across workers, and tasks that yield.
//!
//! ```text
//! cargo run --release -p rawtask-executors --example multi
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use futures_lite::future::yield_now;
use rawtask_executors::multi::{Executor, Handle};

/// Spawns two children down to `depth`, awaits them, and counts the tasks in the tree.
fn tree(handle: Handle, depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let left = handle.spawn(tree(handle.clone(), depth - 1));
        let right = handle.spawn(tree(handle.clone(), depth - 1));
        1 + left.await + right.await
    })
}

/// Runs the demo (also run by `tests/examples.rs`).
pub fn main() {
    let ex = Executor::new(4);
    let handle = ex.handle();
    let start = Instant::now();

    // Children spawned from a task go to its worker's LIFO slot; idle workers steal them.
    let tasks = ex.block_on(ex.spawn(tree(handle.clone(), 12)));
    assert_eq!(tasks, (1 << 13) - 1);

    // 50 pairs of tasks, each pair sending a counter back and forth 200 times.
    let pairs: Vec<_> = (0..50)
        .map(|_| {
            let (ping_tx, ping_rx) = flume::bounded::<u32>(1);
            let (pong_tx, pong_rx) = flume::bounded::<u32>(1);
            let ping = ex.spawn(async move {
                let mut n = 0;
                for _ in 0..200 {
                    ping_tx.send_async(n).await.unwrap();
                    n = pong_rx.recv_async().await.unwrap();
                }
                n
            });
            let pong = ex.spawn(async move {
                while let Ok(n) = ping_rx.recv_async().await {
                    pong_tx.send_async(n + 1).await.unwrap();
                }
            });
            (ping, pong)
        })
        .collect();
    for (ping, pong) in pairs {
        assert_eq!(ex.block_on(ping), 200);
        ex.block_on(pong);
    }

    // Yielding tasks go to the back of their worker's queue, so all of them make progress.
    let yielders: Vec<_> = (0..100u64)
        .map(|i| {
            ex.spawn(async move {
                for _ in 0..100 {
                    yield_now().await;
                }
                i
            })
        })
        .collect();
    let sum: u64 = yielders.into_iter().map(|t| ex.block_on(t)).sum();
    assert_eq!(sum, 4950);

    println!(
        "multi: {tasks}-task tree, 50 × 200 ping-pongs and 100 × 100 yields on {} workers in {:.1?}",
        ex.threads(),
        start.elapsed()
    );
    // Dropping the executor stops and joins the workers.
}
