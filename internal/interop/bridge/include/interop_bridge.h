/*
 * The C declarations of rawtask-interop-bridge (internal/interop/bridge/src): spawn functions
 * for Rust tasks whose output is a uint64_t, onto a home-thread scheduler (rawtask_home_new, in
 * rawtask.h) that a foreign event loop drains on its own thread, and a batching completion
 * callback. Include after rawtask.h.
 *
 * Thread rules: the spawn functions on the home's (the loop's) thread; see rawtask.h for
 * rawtask_home_*.
 */
#ifndef INTEROP_BRIDGE_H
#define INTEROP_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "rawtask.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct InteropSignal InteropSignal;
typedef struct InteropCompletions InteropCompletions;

typedef struct InteropCompletion {
    uint64_t id;    /* the freed handle's id */
    int32_t status; /* RAWTASK_STATUS_READY, _CANCELLED or _PANICKED */
    uint64_t value; /* the output if READY */
} InteropCompletion;

/* Spawns: each returns a handle whose output is a uint64_t, or {0} with the last error set. */
RawtaskTask interop_spawn_sleep_then_value(RawtaskHome *lp, uint32_t ms, uint64_t value);
RawtaskTask interop_spawn_yields(RawtaskHome *lp, uint32_t n);
RawtaskTask interop_spawn_channel_sum(RawtaskHome *lp, uint32_t n, uint64_t seed);
RawtaskTask interop_spawn_pipeline(RawtaskHome *lp, uint32_t n, uint64_t seed);
RawtaskTask interop_spawn_wait_signal(RawtaskHome *lp, InteropSignal **out_signal);
RawtaskStatus interop_signal_fire(InteropSignal *signal, uint64_t value);
RawtaskTask interop_spawn_pending(RawtaskHome *lp);
/* A task that runs on the bridge's worker thread (not on a loop) and returns
 * n * seed + n * (n - 1) / 2: it finishes, and its completion callback runs, on that thread.
 * Callable from any thread. */
RawtaskTask interop_spawn_offload(uint32_t n, uint64_t seed);
/* interop_spawn_yields for a plain C loop: spawned with a C schedule callback; *out_runnable
 * gets the runnable, not scheduled yet. */
RawtaskTask interop_spawn_yields_c(RawtaskSchedule schedule, uint32_t n,
                                   RawtaskRunnable **out_runnable);
int64_t interop_live_futures(void);
void interop_shutdown(void);

/* Batched completions. */
InteropCompletions *interop_completions_new(void);
RawtaskStatus interop_completions_watch(const InteropCompletions *list, RawtaskTask task);
size_t interop_completions_collect(const InteropCompletions *list, InteropCompletion *out,
                                   size_t cap);
void interop_completions_free(const InteropCompletions *list);

#ifdef __cplusplus
}
#endif

#endif
