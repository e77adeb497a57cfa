//! A long-lived scope that spawns a million short children keeps its memory bounded: finished
//! children leave their parent's bookkeeping. (Alone in its binary: it reads the process-wide
//! heap counter.)

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use common::Queue;
use rawtask::scope::{ScopedSpawn, ScopedSpawner};

struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_million_short_children_keep_memory_bounded() {
    const CHILDREN: usize = if cfg!(miri) { 2_000 } else { 1_000_000 };
    const BATCH: usize = 100;
    let queue = Queue::new();
    let samples = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let signals = {
        let samples = samples.clone();
        ScopedSpawner::on_schedule(queue.schedule())
            .spawn_with_signal(
                move |children| async move {
                    for i in 0..CHILDREN {
                        children.spawn_future(async {}, || {}).unwrap();
                        if i % BATCH == BATCH - 1 {
                            // Let the batch run, then sample the heap.
                            YieldNow(false).await;
                            if i % (CHILDREN / 20) == BATCH - 1 {
                                samples.lock().unwrap().push(common::heap_bytes());
                            }
                        }
                    }
                },
                || {},
            )
            .unwrap()
    };
    queue.run_all();
    assert!(signals.done_receiver.is_done());
    let samples = samples.lock().unwrap();
    assert_eq!(samples.len(), 20);
    // The first sample is taken after the first batch; every later one must be within a few
    // KiB of it (a leak of even one byte per child would add a megabyte).
    let first = samples[0];
    let worst = samples.iter().map(|s| s - first).max().unwrap();
    assert!(
        worst < 16 * 1024,
        "heap grew by {worst} bytes over {CHILDREN} children: samples {samples:?}"
    );
}
