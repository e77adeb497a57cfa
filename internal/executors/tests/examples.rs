//! Runs each example's `main`, so that the examples keep compiling and stay correct (each
//! checks its own results with assertions).

#[path = "../examples/single.rs"]
mod single_example;

#[path = "../examples/multi.rs"]
mod multi_example;

#[path = "../examples/priority.rs"]
mod priority_example;

#[test]
fn single() {
    single_example::main();
}

#[test]
#[cfg_attr(
    miri,
    ignore = "the example's fixed workload (8191-task tree, 10,000 ping-pongs, 10,000 yields) would take about an hour under Miri (from multi.rs's per-task cost); multi.rs runs the same paths at Miri-sized counts"
)]
fn multi() {
    multi_example::main();
}

#[test]
fn priority() {
    priority_example::main();
}
