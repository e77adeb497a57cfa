//! The single-threaded executor: a producer and a consumer task talking over a channel, a
//! `!Send` task, a task that yields, and a task woken from another thread.
//!
//! ```text
//! cargo run -p rawtask-executors --example single
//! ```

use std::rc::Rc;
use std::time::Duration;

use futures_lite::future::yield_now;
use rawtask_executors::single::Executor;

/// Runs the demo (also run by `tests/examples.rs`).
pub fn main() {
    let ex = Executor::new();
    let spawner = ex.spawner();

    let total = ex.block_on(async {
        // Two tasks that wake each other through a bounded channel.
        let (tx, rx) = flume::bounded::<u64>(4);
        let producer = spawner.spawn(async move {
            for i in 1..=100 {
                tx.send_async(i).await.unwrap();
            }
        });
        let consumer = spawner.spawn(async move {
            let mut sum = 0;
            while let Ok(i) = rx.recv_async().await {
                sum += i;
            }
            sum
        });

        // A task whose future is not `Send`: it stays on this thread.
        let shared = Rc::new(5u64);
        let local = ex.spawn_local(async move { *shared * 2 });

        // A task that yields to the others ten times.
        let yielder = spawner.spawn(async {
            for _ in 0..10 {
                yield_now().await;
            }
            1
        });

        // A task woken from another thread: the schedule function sends its runnable to
        // this thread's queue.
        let (wake_tx, wake_rx) = flume::bounded::<u64>(1);
        let from_thread = spawner.spawn(async move { wake_rx.recv_async().await.unwrap() });
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            wake_tx.send(1000).unwrap();
        });

        producer.await;
        let sum = consumer.await + local.await + yielder.await + from_thread.await;
        thread.join().unwrap();
        sum
    });

    assert_eq!(total, 5050 + 10 + 1 + 1000);
    println!("single: all tasks done, total = {total}");
    // Dropping the executor drops whatever is still queued: nothing here.
}
