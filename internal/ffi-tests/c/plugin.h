/*
 * The plugin interface shared by the Rust plugin (internal/ffi-tests/plugin, a cdylib) and the
 * C plugin (plugin.c): every function a host looks up with dlsym/libloading. Futures use the FFI future
 * ABI of rawtask.h (the same as async-ffi 0.5.1's).
 */
#ifndef RAWTASK_FFI_TESTS_PLUGIN_H
#define RAWTASK_FFI_TESTS_PLUGIN_H

#include "rawtask.h"

/* RAWTASK_FFI_ABI_VERSION of the plugin's build. */
typedef uint32_t (*plugin_abi_version_fn)(void);
/* A NUL-terminated name, for messages. */
typedef const char *(*plugin_name_fn)(void);
/* Ready at once with a + b. */
typedef RawtaskFfiFutureU64 (*plugin_add_fn)(uint64_t a, uint64_t b);
/* Ready with `value` about `delay_ms` ms after its first poll, woken by a timer thread that
 * received a clone of the first poll's waker. Increments *polls (atomically) on every poll;
 * the host keeps *polls alive until it drops the future. */
typedef RawtaskFfiFutureU64 (*plugin_sleep_fn)(uint64_t delay_ms, uint64_t value,
                                               uint64_t *polls);
/* Awaits the host's future `inner` (taking ownership of it) and returns its output + 1. */
typedef RawtaskFfiFutureU64 (*plugin_add_one_fn)(RawtaskFfiFutureU64 inner);
/* Panics on its first poll with the message "plugin panic: <code>" (the C plugin: returns
 * RAWTASK_FFI_POLL_PANICKED with a panic note carrying "c plugin panic: <code>"). */
typedef RawtaskFfiFutureU64 (*plugin_panic_fn)(uint64_t code);
/* C plugin only: returns the invalid tag 7 from its first poll. */
typedef RawtaskFfiFutureU64 (*plugin_bad_tag_fn)(void);

#endif
