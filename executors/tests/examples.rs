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
fn multi() {
    multi_example::main();
}

#[test]
fn priority() {
    priority_example::main();
}
