//! The `tracing` feature: `TracingHooks` emits the spans and events tokio-console reads, with
//! tokio's names, fields and nesting. Checked with a subscriber that records everything.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_lite::future::block_on;
use rawtask::hooks::TracingHooks;
use rawtask::{Builder, Runnable};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span as created.
#[derive(Debug)]
struct SpanRecord {
    target: String,
    name: String,
    is_root: bool,
    fields: BTreeMap<String, String>,
}

/// What happened, in order: span ids are the subscriber's.
#[derive(Debug, PartialEq)]
enum Step {
    Enter(u64),
    Exit(u64),
    Close(u64),
    /// An event: its target, its fields, and the span entered on this thread when it came.
    Event(String, BTreeMap<String, String>, Option<u64>),
}

#[derive(Default)]
struct Record_ {
    spans: Mutex<BTreeMap<u64, SpanRecord>>,
    steps: Mutex<Vec<Step>>,
    next: AtomicU64,
}

thread_local! {
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

#[derive(Clone, Default)]
struct Recorder(Arc<Record_>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = BTreeMap::new();
        span.record(&mut Fields(&mut fields));
        self.0.spans.lock().unwrap().insert(
            id,
            SpanRecord {
                target: span.metadata().target().to_owned(),
                name: span.metadata().name().to_owned(),
                is_root: span.is_root(),
                fields,
            },
        );
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let current = ENTERED.with(|entered| entered.borrow().last().copied());
        self.0.steps.lock().unwrap().push(Step::Event(
            event.metadata().target().to_owned(),
            fields,
            current,
        ));
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|entered| entered.borrow_mut().push(span.into_u64()));
        self.0
            .steps
            .lock()
            .unwrap()
            .push(Step::Enter(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|entered| assert_eq!(entered.borrow_mut().pop(), Some(span.into_u64())));
        self.0
            .steps
            .lock()
            .unwrap()
            .push(Step::Exit(span.into_u64()));
    }

    fn try_close(&self, span: Id) -> bool {
        self.0
            .steps
            .lock()
            .unwrap()
            .push(Step::Close(span.into_u64()));
        true
    }
}

/// Pending once (after waking itself), then ready; emits an event of its own in each poll.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        tracing::info!(target: "user", "polled");
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(9)
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_task_is_a_runtime_spawn_span_entered_around_each_poll() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let queue = Arc::new(Mutex::new(Vec::<Runnable>::new()));
        let schedule = {
            let queue = queue.clone();
            move |runnable| queue.lock().unwrap().push(runnable)
        };
        let (runnable, task) = Builder::new()
            .name("yielder")
            .track_location()
            .hooks(TracingHooks)
            .spawn(|()| YieldOnce(false), schedule);
        let (line, id) = {
            let identity = runnable.identity().unwrap();
            (identity.location().unwrap().line(), identity.id().as_u64())
        };

        // The span, with tokio's target, name and fields.
        {
            let spans = recorder.0.spans.lock().unwrap();
            assert_eq!(spans.len(), 1);
            let span = &spans[&1];
            assert_eq!(span.target, "tokio::task");
            assert_eq!(span.name, "runtime.spawn");
            assert!(span.is_root, "a task span has no parent");
            assert_eq!(
                span.fields,
                fields(&[
                    ("kind", "task"),
                    ("task.name", "yielder"),
                    ("task.id", &id.to_string()),
                    ("loc.file", file!()),
                    ("loc.line", &line.to_string()),
                    ("loc.col", &span.fields["loc.col"]),
                ])
            );
        }

        runnable.schedule();
        loop {
            let next = queue.lock().unwrap().pop();
            match next {
                Some(runnable) => {
                    runnable.run();
                }
                None => break,
            }
        }
        assert_eq!(block_on(task), 9);

        let waker = |inside| {
            Step::Event(
                "tokio::task::waker".into(),
                fields(&[("op", "waker.wake_by_ref"), ("task.id", "1")]),
                inside,
            )
        };
        let polled = || Step::Event("user".into(), fields(&[("message", "polled")]), Some(1));
        assert_eq!(
            *recorder.0.steps.lock().unwrap(),
            [
                // `Runnable::schedule`: a wake from outside the task.
                waker(None),
                // The first poll, inside the task's span; its self-wake (scheduled once the poll is
                // over) is sent inside the span too.
                Step::Enter(1),
                polled(),
                Step::Exit(1),
                Step::Enter(1),
                waker(Some(1)),
                Step::Exit(1),
                Step::Enter(1),
                polled(),
                Step::Exit(1),
                // The task is freed when the `Task` is joined: the span closes.
                Step::Close(1),
            ]
        );
    });
}

#[test]
fn a_task_without_identity_has_only_kind_and_an_empty_name() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let (runnable, task) = Builder::new()
            .hooks(TracingHooks)
            .spawn(|()| async {}, |_| {});
        runnable.run();
        block_on(task);
    });
    let spans = recorder.0.spans.lock().unwrap();
    assert_eq!(
        spans[&1].fields,
        fields(&[("kind", "task"), ("task.name", "")])
    );
    assert_eq!(
        *recorder.0.steps.lock().unwrap(),
        [Step::Enter(1), Step::Exit(1), Step::Close(1)]
    );
}

/// Tasks spawned without `TracingHooks` send nothing, even with the feature on.
#[test]
fn tasks_without_the_hooks_are_not_traced() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let (runnable, task) = rawtask::spawn(async {}, |_| {});
        runnable.run();
        block_on(task);
    });
    assert!(recorder.0.spans.lock().unwrap().is_empty());
    assert!(recorder.0.steps.lock().unwrap().is_empty());
}
