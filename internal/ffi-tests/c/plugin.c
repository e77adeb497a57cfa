/*
 * A plugin written in C against include/rawtask.h: the same functions as the Rust plugin
 * (plugin.h), built as a shared library and loaded by the Rust host (C -> Rust) and the C
 * host. It links nothing from rawtask: the header's types and their documented ownership
 * rules are the whole contract.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin.h"

#define EXPORT __attribute__((visibility("default")))

static void die(const char *what) {
    fprintf(stderr, "c-plugin: %s\n", what);
    abort();
}

static void *xmalloc(size_t size) {
    void *p = malloc(size);
    if (p == NULL) {
        die("out of memory");
    }
    return p;
}

static RawtaskFfiPollU64 poll_ready(uint64_t value) {
    RawtaskFfiPollU64 p;
    memset(&p, 0, sizeof p);
    p.tag = RAWTASK_FFI_POLL_READY;
    p.ready = value;
    return p;
}

static RawtaskFfiPollU64 poll_tag(uint8_t tag) {
    RawtaskFfiPollU64 p;
    memset(&p, 0, sizeof p);
    p.tag = tag;
    return p;
}

static void free_state(void *state) {
    free(state);
}

EXPORT uint32_t plugin_abi_version(void) {
    return RAWTASK_FFI_ABI_VERSION;
}

EXPORT const char *plugin_name(void) {
    return "c-plugin";
}

/* ----- plugin_add: ready at once ----- */

static RawtaskFfiPollU64 add_poll(void *state, RawtaskFfiContext *cx) {
    (void)cx;
    return poll_ready(*(uint64_t *)state);
}

EXPORT RawtaskFfiFutureU64 plugin_add(uint64_t a, uint64_t b) {
    uint64_t *sum = xmalloc(sizeof *sum);
    *sum = a + b;
    RawtaskFfiFutureU64 future = {sum, add_poll, free_state};
    return future;
}

/* ----- plugin_sleep: a timer thread wakes a clone of the first poll's waker ----- */

typedef struct Sleep {
    uint64_t delay_ms;
    uint64_t value;
    uint64_t *polls;
    int done; /* accessed with __atomic builtins */
    int started;
    pthread_t thread;
    const RawtaskFfiWaker *waker; /* an owned clone, consumed by the timer thread */
} Sleep;

static void *sleep_thread(void *arg) {
    Sleep *s = arg;
    struct timespec ts = {(time_t)(s->delay_ms / 1000), (long)(s->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    const RawtaskFfiWaker *waker = s->waker;
    s->waker = NULL;
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    waker->vtable->wake(waker); /* consumes the clone */
    return NULL;
}

static RawtaskFfiPollU64 sleep_poll(void *state, RawtaskFfiContext *cx) {
    Sleep *s = state;
    if (s->polls != NULL) {
        __atomic_fetch_add(s->polls, 1, __ATOMIC_SEQ_CST);
    }
    if (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
        return poll_ready(s->value);
    }
    if (!s->started) {
        s->started = 1;
        s->waker = cx->waker->vtable->clone(cx->waker);
        if (pthread_create(&s->thread, NULL, sleep_thread, s) != 0) {
            die("pthread_create failed");
        }
    }
    return poll_tag(RAWTASK_FFI_POLL_PENDING);
}

static void sleep_drop(void *state) {
    Sleep *s = state;
    if (s->started) {
        pthread_join(s->thread, NULL);
    }
    free(s);
}

EXPORT RawtaskFfiFutureU64 plugin_sleep(uint64_t delay_ms, uint64_t value, uint64_t *polls) {
    Sleep *s = xmalloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->delay_ms = delay_ms;
    s->value = value;
    s->polls = polls;
    RawtaskFfiFutureU64 future = {s, sleep_poll, sleep_drop};
    return future;
}

/* ----- plugin_add_one: awaits the host's future ----- */

typedef struct AddOne {
    RawtaskFfiFutureU64 inner;
} AddOne;

static RawtaskFfiPollU64 add_one_poll(void *state, RawtaskFfiContext *cx) {
    AddOne *a = state;
    /* The host's context goes straight through: the inner future wakes the host's task. */
    RawtaskFfiPollU64 p = a->inner.poll_fn(a->inner.fut_ptr, cx);
    switch (p.tag) {
    case RAWTASK_FFI_POLL_READY:
        return poll_ready(p.ready + 1);
    case RAWTASK_FFI_POLL_PENDING:
        return p;
    default:
        /* Panicked (a panic note the inner future left in cx, if any, reaches the host as
         * ours) or invalid: report a panic. */
        return poll_tag(RAWTASK_FFI_POLL_PANICKED);
    }
}

static void add_one_drop(void *state) {
    AddOne *a = state;
    a->inner.drop_fn(a->inner.fut_ptr);
    free(a);
}

EXPORT RawtaskFfiFutureU64 plugin_add_one(RawtaskFfiFutureU64 inner) {
    AddOne *a = xmalloc(sizeof *a);
    a->inner = inner;
    RawtaskFfiFutureU64 future = {a, add_one_poll, add_one_drop};
    return future;
}

/* ----- plugin_panic: a panic with a message, as a panic note ----- */

static const RawtaskFfiWaker *note_clone(const RawtaskFfiWaker *w) {
    const RawtaskFfiPanicNote *note = (const RawtaskFfiPanicNote *)w;
    return note->original->vtable->clone(note->original);
}

static void note_wake_by_ref(const RawtaskFfiWaker *w) {
    const RawtaskFfiPanicNote *note = (const RawtaskFfiPanicNote *)w;
    note->original->vtable->wake_by_ref(note->original);
}

static void note_consumed(const RawtaskFfiWaker *w) {
    (void)w;
    die("wake or drop called on a borrowed context waker");
}

static const RawtaskFfiWakerVTable NOTE_VTABLE = {note_clone, note_consumed, note_wake_by_ref,
                                                  note_consumed};

static void note_release(RawtaskFfiPanicNote *note) {
    free((void *)note->message);
    free(note);
}

static RawtaskFfiPollU64 panic_poll(void *state, RawtaskFfiContext *cx) {
    uint64_t code = *(uint64_t *)state;
    char *message = xmalloc(64);
    int len = snprintf(message, 64, "c plugin panic: %llu", (unsigned long long)code);
    RawtaskFfiPanicNote *note = xmalloc(sizeof *note);
    note->waker.vtable = &NOTE_VTABLE;
    note->magic = RAWTASK_FFI_PANIC_NOTE_MAGIC;
    note->original = cx->waker;
    note->message = message;
    note->message_len = (size_t)len;
    note->release = note_release;
    cx->waker = &note->waker;
    return poll_tag(RAWTASK_FFI_POLL_PANICKED);
}

EXPORT RawtaskFfiFutureU64 plugin_panic(uint64_t code) {
    uint64_t *state = xmalloc(sizeof *state);
    *state = code;
    RawtaskFfiFutureU64 future = {state, panic_poll, free_state};
    return future;
}

/* ----- plugin_bad_tag: breaks the ABI on purpose ----- */

static RawtaskFfiPollU64 bad_tag_poll(void *state, RawtaskFfiContext *cx) {
    (void)state;
    (void)cx;
    return poll_tag(7);
}

EXPORT RawtaskFfiFutureU64 plugin_bad_tag(void) {
    RawtaskFfiFutureU64 future = {xmalloc(1), bad_tag_poll, free_state};
    return future;
}
