/*
 * A host written in C against include/rawtask.h: loads a plugin (the Rust cdylib, or the C
 * plugin) with dlopen, and drives its futures with a waker of its own (a mutex, a condition
 * variable and counters). It checks that a pending future is woken rather than polled in a
 * loop, that every waker clone the plugin made is consumed exactly once, and reads the
 * message of a panic note.
 *
 * Usage: c-host PLUGIN.so. Prints "c-host: <plugin>: ok" and exits 0 on success.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin.h"

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "c-host: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

/* ----- the host's waker: one static object, clones are the same pointer ----- */

typedef struct HostWaker {
    RawtaskFfiWaker base; /* first: a pointer to HostWaker is a RawtaskFfiWaker pointer */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int woken;
    long clones, wakes, wake_by_refs, drops;
} HostWaker;

static HostWaker WAKER;

static const RawtaskFfiWaker *waker_clone(const RawtaskFfiWaker *w) {
    CHECK(w == &WAKER.base);
    pthread_mutex_lock(&WAKER.mutex);
    WAKER.clones++;
    pthread_mutex_unlock(&WAKER.mutex);
    return w;
}

static void waker_wake(const RawtaskFfiWaker *w) {
    CHECK(w == &WAKER.base);
    pthread_mutex_lock(&WAKER.mutex);
    WAKER.wakes++;
    WAKER.woken = 1;
    pthread_cond_broadcast(&WAKER.cond);
    pthread_mutex_unlock(&WAKER.mutex);
}

static void waker_wake_by_ref(const RawtaskFfiWaker *w) {
    CHECK(w == &WAKER.base);
    pthread_mutex_lock(&WAKER.mutex);
    WAKER.wake_by_refs++;
    WAKER.woken = 1;
    pthread_cond_broadcast(&WAKER.cond);
    pthread_mutex_unlock(&WAKER.mutex);
}

static void waker_drop(const RawtaskFfiWaker *w) {
    CHECK(w == &WAKER.base);
    pthread_mutex_lock(&WAKER.mutex);
    WAKER.drops++;
    pthread_mutex_unlock(&WAKER.mutex);
}

static const RawtaskFfiWakerVTable WAKER_VTABLE = {waker_clone, waker_wake, waker_wake_by_ref,
                                                   waker_drop};

/* Every clone the plugin made was consumed by wake or drop. */
static void check_clones_consumed(void) {
    pthread_mutex_lock(&WAKER.mutex);
    CHECK(WAKER.clones == WAKER.wakes + WAKER.drops);
    pthread_mutex_unlock(&WAKER.mutex);
}

/* Polls `future` until it is ready, sleeping on the waker (never spinning) while it is
 * pending. Returns the output and stores the number of polls. */
static uint64_t run(RawtaskFfiFutureU64 future, int *polls) {
    RawtaskFfiContext cx;
    cx.waker = &WAKER.base;
    *polls = 0;
    for (;;) {
        pthread_mutex_lock(&WAKER.mutex);
        WAKER.woken = 0; /* before the poll: a wake during the poll is not lost */
        pthread_mutex_unlock(&WAKER.mutex);
        RawtaskFfiPollU64 p = future.poll_fn(future.fut_ptr, &cx);
        (*polls)++;
        CHECK(cx.waker == &WAKER.base);
        if (p.tag == RAWTASK_FFI_POLL_READY) {
            return p.ready;
        }
        CHECK(p.tag == RAWTASK_FFI_POLL_PENDING);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 30;
        pthread_mutex_lock(&WAKER.mutex);
        while (!WAKER.woken) {
            int rc = pthread_cond_timedwait(&WAKER.cond, &WAKER.mutex, &deadline);
            CHECK(rc != ETIMEDOUT);
        }
        pthread_mutex_unlock(&WAKER.mutex);
    }
}

/* ----- a future written in C, handed to the plugin ----- */

typedef struct Delayed {
    int started;
    int done;
    pthread_t thread;
    const RawtaskFfiWaker *waker;
} Delayed;

static void *delayed_thread(void *arg) {
    Delayed *d = arg;
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    const RawtaskFfiWaker *waker = d->waker;
    __atomic_store_n(&d->done, 1, __ATOMIC_RELEASE);
    waker->vtable->wake(waker);
    return NULL;
}

static RawtaskFfiPollU64 delayed_poll(void *state, RawtaskFfiContext *cx) {
    Delayed *d = state;
    RawtaskFfiPollU64 p;
    memset(&p, 0, sizeof p);
    if (__atomic_load_n(&d->done, __ATOMIC_ACQUIRE)) {
        p.tag = RAWTASK_FFI_POLL_READY;
        p.ready = 41;
        return p;
    }
    if (!d->started) {
        d->started = 1;
        d->waker = cx->waker->vtable->clone(cx->waker);
        CHECK(pthread_create(&d->thread, NULL, delayed_thread, d) == 0);
    }
    p.tag = RAWTASK_FFI_POLL_PENDING;
    return p;
}

static int DELAYED_DROPS;

static void delayed_drop(void *state) {
    Delayed *d = state;
    if (d->started) {
        pthread_join(d->thread, NULL);
    }
    free(d);
    DELAYED_DROPS++;
}

static RawtaskFfiFutureU64 delayed_future(void) {
    Delayed *d = calloc(1, sizeof *d);
    CHECK(d != NULL);
    RawtaskFfiFutureU64 f = {d, delayed_poll, delayed_drop};
    return f;
}

static void *lookup(void *lib, const char *name) {
    void *sym = dlsym(lib, name);
    if (sym == NULL) {
        fprintf(stderr, "c-host: %s: %s\n", name, dlerror());
        exit(1);
    }
    return sym;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    WAKER.base.vtable = &WAKER_VTABLE;
    pthread_mutex_init(&WAKER.mutex, NULL);
    pthread_cond_init(&WAKER.cond, NULL);

    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "c-host: dlopen: %s\n", dlerror());
        return 1;
    }
    /* Function pointers from dlsym, through a union to stay within ISO C. */
    union {
        void *obj;
        plugin_abi_version_fn abi_version;
        plugin_name_fn name;
        plugin_add_fn add;
        plugin_sleep_fn sleep;
        plugin_add_one_fn add_one;
        plugin_panic_fn panic;
    } u;
    u.obj = lookup(lib, "plugin_abi_version");
    CHECK(u.abi_version() == RAWTASK_FFI_ABI_VERSION);
    u.obj = lookup(lib, "plugin_name");
    const char *name = u.name();
    int is_c = strcmp(name, "c-plugin") == 0;
    int polls;

    /* Ready at once. */
    u.obj = lookup(lib, "plugin_add");
    RawtaskFfiFutureU64 add = u.add(2, 3);
    CHECK(run(add, &polls) == 5);
    CHECK(polls == 1);
    add.drop_fn(add.fut_ptr);

    /* Pending, then woken by the plugin's timer thread: exactly two polls, one wake. */
    u.obj = lookup(lib, "plugin_sleep");
    uint64_t plugin_polls = 0;
    long wakes_before = WAKER.wakes;
    RawtaskFfiFutureU64 sleep = u.sleep(30, 7, &plugin_polls);
    CHECK(run(sleep, &polls) == 7);
    CHECK(polls == 2);
    CHECK(__atomic_load_n(&plugin_polls, __ATOMIC_SEQ_CST) == 2);
    CHECK(WAKER.wakes == wakes_before + 1);
    sleep.drop_fn(sleep.fut_ptr);
    check_clones_consumed();

    /* A C future awaited inside the plugin's future. */
    u.obj = lookup(lib, "plugin_add_one");
    RawtaskFfiFutureU64 add_one = u.add_one(delayed_future());
    CHECK(run(add_one, &polls) == 42);
    CHECK(polls == 2);
    add_one.drop_fn(add_one.fut_ptr);
    CHECK(DELAYED_DROPS == 1);
    check_clones_consumed();

    /* A panic: the message arrives in a panic note that replaced the context's waker. */
    u.obj = lookup(lib, "plugin_panic");
    RawtaskFfiFutureU64 panicking = u.panic(9);
    RawtaskFfiContext cx;
    cx.waker = &WAKER.base;
    RawtaskFfiPollU64 p = panicking.poll_fn(panicking.fut_ptr, &cx);
    CHECK(p.tag == RAWTASK_FFI_POLL_PANICKED);
    CHECK(cx.waker != &WAKER.base);
    RawtaskFfiPanicNote *note = (RawtaskFfiPanicNote *)cx.waker;
    CHECK(note->magic == RAWTASK_FFI_PANIC_NOTE_MAGIC);
    CHECK(note->original == &WAKER.base);
    const char *expected = is_c ? "c plugin panic: 9" : "plugin panic: 9";
    CHECK(note->message_len == strlen(expected));
    CHECK(memcmp(note->message, expected, note->message_len) == 0);
    CHECK(note->message[note->message_len] == '\0');
    note->release(note);
    cx.waker = &WAKER.base;
    if (!is_c) {
        /* Polled again, rawtask's future polls the panicked async block again, whose panic
         * crosses too. */
        p = panicking.poll_fn(panicking.fut_ptr, &cx);
        CHECK(p.tag == RAWTASK_FFI_POLL_PANICKED);
        note = (RawtaskFfiPanicNote *)cx.waker;
        CHECK(note->magic == RAWTASK_FFI_PANIC_NOTE_MAGIC);
        CHECK(strstr(note->message, "resumed after panicking") != NULL);
        note->release(note);
        cx.waker = &WAKER.base;
    }
    panicking.drop_fn(panicking.fut_ptr);
    check_clones_consumed();

    printf("c-host: %s: ok (%ld clones, %ld wakes, %ld wake_by_refs, %ld drops)\n", name,
           WAKER.clones, WAKER.wakes, WAKER.wake_by_refs, WAKER.drops);
    dlclose(lib);
    return 0;
}
