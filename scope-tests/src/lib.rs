//! Tests of `rawtask::scope` over executors other than rawtask's own (`tests/`).
