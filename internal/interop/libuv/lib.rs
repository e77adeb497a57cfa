//! Nothing but a home for `tests/uv_loop.rs`, which compiles `uv_driver.c` (a libuv event loop
//! driving Rust tasks through rawtask's C API) against the bridge's static library and the
//! system's libuv, and runs it. See the README's "Foreign event loops".
