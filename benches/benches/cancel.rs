//! rawtask's `CancellationToken` and background `TaskHandle` against their peers, in the same
//! run: tokio-util 0.7's `CancellationToken` and ffi_helpers 0.3's `TaskHandle`.
//!
//! Groups (functions `rawtask` and the peer's name in each):
//!
//! - `token_is_cancelled`: checking an uncancelled child token;
//! - `token_cancel_1000_waiters`: `cancel()` on a token with 1,000 pending, registered
//!   `cancelled` futures (the futures are made and polled outside the timed part, and
//!   dropped outside it too);
//! - `token_child_create_drop`: creating a child of a long-lived parent and dropping it;
//! - `task_spawn_wait`: spawning a trivial background job and waiting for its result.
//!
//! These machines are noisy: read the ratios within a group, not absolute times.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

/// Number of waiting futures in `token_cancel_1000_waiters`.
const WAITERS: usize = 1000;

/// A waker that counts its wakes: the same cheap waker for every implementation.
struct CountingWake(AtomicUsize);

impl Wake for CountingWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Relaxed);
    }
}

fn counting_waker() -> Waker {
    Waker::from(Arc::new(CountingWake(AtomicUsize::new(0))))
}

/// Polls every future once; each must be pending (registered).
fn register<F: Future<Output = ()>>(futures: &mut [Pin<Box<F>>], waker: &Waker) {
    let mut cx = Context::from_waker(waker);
    for future in futures {
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
}

fn token_is_cancelled(c: &mut Criterion) {
    let mut group = c.benchmark_group("token_is_cancelled");
    {
        let parent = rawtask::CancellationToken::new();
        let token = parent.child_token();
        group.bench_function("rawtask", |b| b.iter(|| black_box(&token).is_cancelled()));
    }
    {
        let parent = tokio_util::sync::CancellationToken::new();
        let token = parent.child_token();
        group.bench_function("tokio-util", |b| {
            b.iter(|| black_box(&token).is_cancelled())
        });
    }
    group.finish();
}

fn token_cancel_1000_waiters(c: &mut Criterion) {
    let mut group = c.benchmark_group("token_cancel_1000_waiters");
    let waker = counting_waker();
    group.bench_function("rawtask", |b| {
        b.iter_batched(
            || {
                let token = rawtask::CancellationToken::new();
                let mut futures: Vec<_> = (0..WAITERS)
                    .map(|_| Box::pin(token.clone().wait_cancelled_owned()))
                    .collect();
                register(&mut futures, &waker);
                (token, futures)
            },
            |(token, futures)| {
                token.cancel();
                (token, futures)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("tokio-util", |b| {
        b.iter_batched(
            || {
                let token = tokio_util::sync::CancellationToken::new();
                let mut futures: Vec<_> = (0..WAITERS)
                    .map(|_| Box::pin(token.clone().cancelled_owned()))
                    .collect();
                register(&mut futures, &waker);
                (token, futures)
            },
            |(token, futures)| {
                token.cancel();
                (token, futures)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn token_child_create_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("token_child_create_drop");
    {
        let parent = rawtask::CancellationToken::new();
        group.bench_function("rawtask", |b| {
            b.iter(|| drop(black_box(parent.child_token())))
        });
    }
    {
        let parent = tokio_util::sync::CancellationToken::new();
        group.bench_function("tokio-util", |b| {
            b.iter(|| drop(black_box(parent.child_token())))
        });
    }
    group.finish();
}

/// The trivial job: returns a number.
#[derive(Clone, Copy)]
struct Trivial;

impl rawtask::background::Task for Trivial {
    type Output = u64;
    fn run(&self, _: &rawtask::CancellationToken) -> Result<u64, rawtask::background::Error> {
        Ok(black_box(42))
    }
}

impl ffi_helpers::Task for Trivial {
    type Output = u64;
    fn run(&self, _: &ffi_helpers::task::CancellationToken) -> Result<u64, anyhow::Error> {
        Ok(black_box(42))
    }
}

fn task_spawn_wait(c: &mut Criterion) {
    let mut group = c.benchmark_group("task_spawn_wait");
    group.bench_function("rawtask", |b| {
        b.iter(|| {
            rawtask::background::TaskHandle::spawn(Trivial)
                .wait()
                .unwrap()
        })
    });
    group.bench_function("ffi_helpers", |b| {
        b.iter(|| {
            ffi_helpers::task::TaskHandle::spawn(Trivial)
                .wait()
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = token_is_cancelled, token_cancel_1000_waiters, token_child_create_drop, task_spawn_wait
}
criterion_main!(benches);
