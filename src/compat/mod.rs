//! Other crates' APIs, exactly, over rawtask's raw task.
//!
//! The crate root is a superset of async-task 4.7.1. Where another crate's API conflicts with
//! async-task's at some name (a different type for the same function), it lives here, in a
//! module named after that crate, so that switching is one `use` line:
//!
//! - [`async_task_ffi`]: async-task-ffi 4.1.1.

pub mod async_task_ffi;
