//! Child tokens: cancellation flows from parents to every descendant and never back, and
//! dropped children leave their parent's list so a long-lived parent does not grow.

mod common;

use rawtask::CancellationToken;

/// Loop counts: small under Miri, which runs some thousand times slower.
const MANY: usize = if cfg!(miri) { 50 } else { 10_000 };

#[test]
fn cancelling_a_parent_cancels_every_descendant() {
    let _g = common::check_leaks();
    let root = CancellationToken::new();
    let a = root.child_token();
    let b = root.child_token();
    let a1 = a.child_token();
    let a2 = a.child_token();
    let a1x = a1.child_token();
    root.cancel();
    for token in [&a, &b, &a1, &a2, &a1x] {
        assert!(token.cancelled());
    }
}

#[test]
fn cancelling_a_child_reaches_neither_parent_nor_siblings() {
    let _g = common::check_leaks();
    let root = CancellationToken::new();
    let a = root.child_token();
    let b = root.child_token();
    let a1 = a.child_token();
    a.cancel();
    assert!(a.cancelled() && a1.cancelled());
    assert!(!root.cancelled());
    assert!(!b.cancelled());
    // The cancelled child left the tree alone: the root still cancels the others.
    root.cancel();
    assert!(b.cancelled());
}

#[test]
fn a_child_of_a_cancelled_token_is_born_cancelled() {
    let _g = common::check_leaks();
    let root = CancellationToken::new();
    root.cancel();
    let child = root.child_token();
    assert!(child.cancelled());
    assert!(child.child_token().cancelled());
}

#[test]
fn grandchildren_stay_reachable_when_the_middle_token_is_dropped() {
    let _g = common::check_leaks();
    let root = CancellationToken::new();
    let middle = root.child_token();
    let grandchild = middle.child_token();
    drop(middle);
    assert!(!grandchild.cancelled());
    root.cancel();
    assert!(grandchild.cancelled());
}

#[test]
fn a_deep_chain_is_cancelled_without_recursion() {
    let _g = common::check_leaks();
    let root = CancellationToken::new();
    let mut tokens = vec![root.child_token()];
    for _ in 0..2 * MANY {
        let next = tokens.last().unwrap().child_token();
        tokens.push(next);
    }
    root.cancel();
    assert!(tokens.last().unwrap().cancelled());
    // Dropping the chain from the root side: each node frees its parent, iteratively enough.
    while tokens.pop().is_some() {}
}

#[test]
fn dropping_a_deep_uncancelled_chain_frees_it() {
    let _g = common::check_leaks();
    let root = CancellationToken::new();
    let mut tokens = vec![root.child_token()];
    for _ in 0..MANY {
        let next = tokens.last().unwrap().child_token();
        tokens.push(next);
    }
    // Dropping root-side tokens first keeps the nodes in the tree (their children are alive);
    // dropping the leaf then unwinds the whole chain out of the root's list.
    for token in tokens.drain(..tokens.len() - 1) {
        drop(token);
    }
    drop(tokens);
    root.cancel();
}

#[test]
fn a_long_lived_parent_does_not_grow() {
    let root = CancellationToken::new();
    // Warm up: the parent's child list gets its capacity once.
    let warm: Vec<_> = (0..4).map(|_| root.child_token()).collect();
    drop(warm);
    let _g = common::check_leaks();
    for _ in 0..MANY {
        let child = root.child_token();
        let grandchild = child.child_token();
        let clone = child.clone();
        drop(child);
        drop(grandchild);
        drop(clone);
    }
    // Children dropped in any order.
    let children: Vec<_> = (0..4).map(|_| root.child_token()).collect();
    let mut children = children;
    children.swap(0, 3);
    drop(children);
    // `check_leaks` proves that everything allocated since it was created, including every
    // child node, has been freed: the parent holds nothing for dropped children.
}

#[test]
fn dropped_children_are_not_cancelled_later_and_leave_no_trace() {
    let _g = common::check_leaks();
    let root = CancellationToken::new();
    let keep = root.child_token();
    for _ in 0..100 {
        drop(root.child_token());
    }
    root.cancel();
    assert!(keep.cancelled());
}

#[test]
fn children_created_and_dropped_concurrently_with_cancel() {
    let _g = common::check_leaks();
    for _ in 0..if cfg!(miri) { 3 } else { 50 } {
        let root = CancellationToken::new();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let root = root.clone();
                common::spawn_tracked(move || {
                    let mut kept = Vec::new();
                    for i in 0..if cfg!(miri) { 10 } else { 200 } {
                        let child = root.child_token();
                        if i % 3 == 0 {
                            kept.push(child);
                        }
                    }
                    kept
                })
            })
            .collect();
        root.cancel();
        for thread in threads {
            let kept = thread.join().unwrap();
            assert!(kept.iter().all(CancellationToken::cancelled));
        }
        // A child created now is born cancelled.
        assert!(root.child_token().cancelled());
    }
}
