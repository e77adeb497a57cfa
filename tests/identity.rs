//! Opt-in task identity: ids, names and spawn locations, from every handle and from wakers.

mod common;

use std::task::Waker;

use common::check_leaks;
use rawtask::identity::{of_waker, TaskId};
use rawtask::Builder;

#[test]
fn ids_are_unique_and_increasing() {
    let _g = check_leaks();
    let ids: Vec<TaskId> = (0..100)
        .map(|_| {
            let (runnable, _task) = Builder::new().assign_id().spawn(|()| async {}, |_| {});
            runnable.identity().unwrap().id()
        })
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(ids[0].as_u64() > 0);
}

#[test]
fn ids_are_unique_across_threads() {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                (0..500)
                    .map(|_| {
                        let (runnable, _task) =
                            Builder::new().assign_id().spawn(|()| async {}, |_| {});
                        runnable.identity().unwrap().id()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<TaskId> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n);
}

#[test]
fn name_and_location_from_runnable_task_and_waker() {
    let _g = check_leaks();
    let name = String::from("owned name");
    let line = line!() + 4; // the line of `.spawn(`
    let (runnable, task) = Builder::new()
        .name(name)
        .track_location()
        .spawn(|()| async {}, |_| {});
    let waker = runnable.waker();
    for identity in [
        runnable.identity().unwrap(),
        task.identity().unwrap(),
        of_waker(&waker).unwrap(),
    ] {
        assert_eq!(identity.name(), Some("owned name"));
        let location = identity.location().unwrap();
        assert_eq!((location.file(), location.line()), (file!(), line));
    }
    assert_eq!(
        runnable.identity().unwrap().id(),
        of_waker(&waker).unwrap().id()
    );
    runnable.run();
    // The identity outlives the future: a completed task still has it.
    assert!(task.identity().is_some());
    common::block_on(task);
    assert!(of_waker(&waker).is_some());
}

#[test]
fn unidentified_tasks_and_foreign_wakers_have_none() {
    let _g = check_leaks();
    let (runnable, task) = rawtask::spawn(async {}, |_| {});
    assert!(runnable.identity().is_none());
    assert!(task.identity().is_none());
    assert!(of_waker(&runnable.waker()).is_none());
    assert!(of_waker(Waker::noop()).is_none());
    let (runnable, _task) = Builder::new().metadata(1u8).spawn(|_| async {}, |_| {});
    assert!(runnable.identity().is_none());
}

#[test]
fn debug_shows_the_identity() {
    let _g = check_leaks();
    let (runnable, task) = Builder::new().name("shown").spawn(|()| async {}, |_| {});
    let id = runnable.identity().unwrap().id();
    let expected = format!(r#"identity: Identity {{ id: {id}, name: "shown" }}, state: scheduled"#);
    assert!(format!("{runnable:?}").contains(&expected), "{runnable:?}");
    assert!(format!("{task:?}").contains(&expected), "{task:?}");
}

#[test]
fn local_tasks_can_be_identified() {
    let _g = check_leaks();
    let (runnable, task) = Builder::new()
        .name("local")
        .spawn_local(|()| async { std::rc::Rc::new(1) }, |_| {});
    assert_eq!(runnable.identity().unwrap().name(), Some("local"));
    runnable.run();
    assert_eq!(*common::block_on(task), 1);
}
