//! async-task 4.7.1's crate root, served by rawtask: every item async-task exports at its root
//! (`spawn`, `spawn_local`, `spawn_unchecked`, `Builder`, `Runnable`, `Schedule`,
//! `ScheduleInfo`, `WithInfo`, `Task`, `FallibleTask`) is rawtask's item of the same name.
//! rawtask's additions come along; a glob re-export cannot shadow anything async-task has.
#![no_std]

pub use rawtask::*;
