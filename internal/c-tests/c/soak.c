/*
 * Soak of the C ABI from C threads.
 *
 * THREADS pthreads share one run queue (the schedule callback's) and, at random (seeded, the
 * seed printed), spawn Rust tasks (fixture_spawn_counting: ready after a number of polls, never
 * waking itself), run, schedule or drop runnables, take wakers (rawtask_runnable_waker) into a
 * shared pool that any thread wakes by value or by reference, clones or drops, register
 * completion callbacks (rawtask_task_on_complete), poll, cancel, detach and free task handles,
 * and create, derive, cancel and free cancellation tokens with on_cancel callbacks. Handles live
 * in shared slots: a thread takes one out (atomic exchange) to own it, and other threads may use
 * a handle they only peeked at (cancel, output size), which must get a defined status whatever
 * the owner is doing to it.
 *
 * At the end every remaining handle is freed, the pool woken and the queue drained, and the
 * program checks: every completion callback and every token callback ran exactly once (a
 * context is freed by its one call: a second call is a use after free for valgrind), every
 * output received was the value its task was spawned for, and no future is left
 * (fixture_live_futures). Every task is run with a waker taken first and pooled, so pending
 * tasks make progress; pooled wakers are woken or dropped at random, and a detached task with a
 * completion callback whose last waker is dropped is cancelled (protocol rule 16).
 *
 * It runs about 2 seconds; RAWTASK_SOAK_SECS=N runs N seconds, RAWTASK_SOAK_SEED=S reruns the
 * same choices (the interleaving still varies).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "rawtask.h"

#define THREADS 4
#define TASK_SLOTS 64
#define TOKEN_SLOTS 32
#define POOL 256
#define MAGIC 0x50a6c0de

static atomic_int check_failures;
static uint64_t seed;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            if (atomic_fetch_add(&check_failures, 1) < 20) {                                \
                fprintf(stderr, "soak: FAILED %s (line %d, seed %" PRIu64 "): ", #cond,      \
                        __LINE__, seed);                                                    \
                fprintf(stderr, __VA_ARGS__);                                               \
                fputc('\n', stderr);                                                        \
            }                                                                               \
        }                                                                                   \
    } while (0)

/* xorshift64* */
static uint64_t next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}
static unsigned below(uint64_t *s, unsigned n) { return (unsigned)(next(s) % n); }

/* ----- counters ----- */

static atomic_long spawned, runs, runnables_dropped, wakes, received, cancelled_seen;
static atomic_long completions_registered, completions_called;
static atomic_long token_callbacks_registered, token_callbacks_called;
static atomic_long peeks;

/* ----- the run queue ----- */

typedef struct Node {
    RawtaskRunnable *runnable;
    struct Node *next;
} Node;

static struct {
    pthread_mutex_t lock;
    Node *head, *tail;
    long len;
} queue = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0};

static void schedule(void *context, RawtaskRunnable *runnable, uint32_t flags) {
    (void)context;
    (void)flags;
    Node *node = malloc(sizeof *node);
    node->runnable = runnable;
    node->next = NULL;
    pthread_mutex_lock(&queue.lock);
    if (queue.tail) {
        queue.tail->next = node;
    } else {
        queue.head = node;
    }
    queue.tail = node;
    queue.len++;
    pthread_mutex_unlock(&queue.lock);
}

static const RawtaskSchedule SCHEDULE = {schedule, NULL};

static RawtaskRunnable *pop(void) {
    pthread_mutex_lock(&queue.lock);
    Node *node = queue.head;
    if (node) {
        queue.head = node->next;
        if (!queue.head) {
            queue.tail = NULL;
        }
        queue.len--;
    }
    pthread_mutex_unlock(&queue.lock);
    if (!node) {
        return NULL;
    }
    RawtaskRunnable *runnable = node->runnable;
    free(node);
    return runnable;
}

/* ----- the waker pool ----- */

static struct {
    pthread_mutex_t lock;
    RawtaskWaker *wakers[POOL];
    int len;
} pool = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

static void deposit(RawtaskWaker *waker, uint64_t *rng) {
    pthread_mutex_lock(&pool.lock);
    RawtaskWaker *old = NULL;
    if (pool.len < POOL) {
        pool.wakers[pool.len++] = waker;
    } else {
        int i = (int)below(rng, POOL);
        old = pool.wakers[i];
        pool.wakers[i] = waker;
    }
    pthread_mutex_unlock(&pool.lock);
    if (old) {
        atomic_fetch_add(&wakes, 1);
        CHECK(rawtask_waker_wake(old) == RAWTASK_STATUS_OK, "wake");
    }
}

/* Takes a random waker out of the pool (NULL if empty). */
static RawtaskWaker *take_waker(uint64_t *rng) {
    pthread_mutex_lock(&pool.lock);
    RawtaskWaker *waker = NULL;
    if (pool.len > 0) {
        int i = (int)below(rng, (unsigned)pool.len);
        waker = pool.wakers[i];
        pool.wakers[i] = pool.wakers[--pool.len];
    }
    pthread_mutex_unlock(&pool.lock);
    return waker;
}

static void waker_op(uint64_t *rng) {
    RawtaskWaker *waker = take_waker(rng);
    if (!waker) {
        return;
    }
    atomic_fetch_add(&wakes, 1);
    switch (below(rng, 3)) {
    case 0:
        CHECK(rawtask_waker_wake(waker) == RAWTASK_STATUS_OK, "wake");
        break;
    case 1:
        /* Wake by reference and keep it. */
        CHECK(rawtask_waker_wake_by_ref(waker) == RAWTASK_STATUS_OK, "wake_by_ref");
        deposit(waker, rng);
        break;
    default: {
        /* A clone is kept; the original dropped without waking (the task stays wakeable). */
        RawtaskWaker *clone = rawtask_waker_clone(waker);
        CHECK(clone != NULL, "clone");
        CHECK(rawtask_waker_drop(waker) == RAWTASK_STATUS_OK, "drop");
        if (clone) {
            deposit(clone, rng);
        }
    }
    }
}

/* Runs a runnable with a waker taken first (see the top comment). */
static void run(RawtaskRunnable *runnable, uint64_t *rng) {
    RawtaskWaker *waker = rawtask_runnable_waker(runnable);
    CHECK(waker != NULL, "runnable_waker");
    atomic_fetch_add(&runs, 1);
    RawtaskStatus status = rawtask_runnable_run(runnable);
    CHECK(status == RAWTASK_STATUS_OK || status == RAWTASK_STATUS_RESCHEDULED, "run: %d",
          status);
    if (waker) {
        deposit(waker, rng);
    }
}

static void run_some(uint64_t *rng, int n) {
    for (int i = 0; i < n; i++) {
        RawtaskRunnable *runnable = pop();
        if (!runnable) {
            return;
        }
        run(runnable, rng);
    }
}

/* ----- task handles ----- */

/* A completion callback's context: freed by the one call. */
typedef struct {
    int magic;
} Completion;

static void on_complete(void *context, RawtaskTask task) {
    (void)task;
    Completion *c = context;
    CHECK(c->magic == MAGIC, "completion callback called twice (or with a bad context)");
    c->magic = 0;
    atomic_fetch_add(&completions_called, 1);
    free(c);
}

/* A slot holds a task handle and the value its output must be (its poll count). The lock
 * only makes taking or filling a slot one step; other threads peek at `id` without it. */
static struct {
    pthread_mutex_t lock;
    _Atomic uint64_t id;
    uint64_t expected;
} tasks[TASK_SLOTS];

static void put_task(int i, RawtaskTask task, uint64_t expected) {
    pthread_mutex_lock(&tasks[i].lock);
    int empty = atomic_load(&tasks[i].id) == 0;
    if (empty) {
        tasks[i].expected = expected;
        atomic_store(&tasks[i].id, task.id);
    }
    pthread_mutex_unlock(&tasks[i].lock);
    if (!empty) {
        /* Someone filled the slot meanwhile: give this one up. */
        CHECK(rawtask_task_free(task) == RAWTASK_STATUS_OK, "free");
    }
}

static RawtaskTask take_task(int i, uint64_t *expected) {
    pthread_mutex_lock(&tasks[i].lock);
    RawtaskTask task = {atomic_exchange(&tasks[i].id, 0)};
    *expected = tasks[i].expected;
    pthread_mutex_unlock(&tasks[i].lock);
    return task;
}

static void register_completion(RawtaskTask task) {
    Completion *c = malloc(sizeof *c);
    c->magic = MAGIC;
    RawtaskStatus status = rawtask_task_on_complete(task, on_complete, c);
    if (status == RAWTASK_STATUS_OK) {
        atomic_fetch_add(&completions_registered, 1);
    } else {
        CHECK(status == RAWTASK_STATUS_ALREADY_REGISTERED || status == RAWTASK_STATUS_BUSY,
              "on_complete: %d", status);
        rawtask_clear_last_error();
        free(c);
    }
}

static void spawn(int slot, uint64_t *rng) {
    uint64_t polls = 1 + below(rng, 4);
    RawtaskRunnable *runnable = NULL;
    RawtaskTask task = {0};
    CHECK(fixture_spawn_counting(SCHEDULE, polls, &runnable, &task) == RAWTASK_STATUS_OK,
          "spawn");
    atomic_fetch_add(&spawned, 1);
    if (below(rng, 3) == 0) {
        register_completion(task);
    }
    switch (below(rng, 8)) {
    case 0:
        atomic_fetch_add(&runnables_dropped, 1);
        CHECK(rawtask_runnable_drop(runnable) == RAWTASK_STATUS_OK, "runnable_drop");
        break;
    case 1:
    case 2:
        run(runnable, rng);
        break;
    default:
        CHECK(rawtask_runnable_schedule(runnable) == RAWTASK_STATUS_OK, "schedule");
    }
    put_task(slot, task, polls);
}

static void task_op(uint64_t *rng) {
    int slot = (int)below(rng, TASK_SLOTS);
    if (below(rng, 6) == 0) {
        /* Use a handle someone else may own (and free) right now. */
        RawtaskTask peeked = {atomic_load(&tasks[slot].id)};
        if (peeked.id == 0) {
            return;
        }
        atomic_fetch_add(&peeks, 1);
        RawtaskStatus status;
        if (below(rng, 2)) {
            status = rawtask_task_cancel(peeked);
        } else {
            size_t size = 0;
            status = rawtask_task_output_size(peeked, &size);
            CHECK(status != RAWTASK_STATUS_OK || size == sizeof(uint64_t), "size %zu", size);
        }
        CHECK(status == RAWTASK_STATUS_OK || status == RAWTASK_STATUS_INVALID_HANDLE ||
                  status == RAWTASK_STATUS_BUSY,
              "a peeked handle: %d", status);
        rawtask_clear_last_error();
        return;
    }
    uint64_t expected = 0;
    RawtaskTask task = take_task(slot, &expected);
    if (task.id == 0) {
        spawn(slot, rng);
        return;
    }
    RawtaskStatus status;
    uint64_t out = 0;
    switch (below(rng, 10)) {
    case 0:
        CHECK(rawtask_task_detach(task) == RAWTASK_STATUS_OK, "detach");
        return;
    case 1:
        CHECK(rawtask_task_free(task) == RAWTASK_STATUS_OK, "free");
        return;
    case 2:
        status = rawtask_task_cancel(task);
        CHECK(status == RAWTASK_STATUS_OK || status == RAWTASK_STATUS_BUSY, "cancel: %d",
              status);
        break;
    case 3:
        register_completion(task);
        break;
    default:
        status = rawtask_task_poll(task, &out, sizeof out);
        if (status == RAWTASK_STATUS_READY) {
            CHECK(out == expected, "output %" PRIu64 ", expected %" PRIu64, out, expected);
            atomic_fetch_add(&received, 1);
            CHECK(rawtask_task_poll(task, &out, sizeof out) == RAWTASK_STATUS_OUTPUT_TAKEN,
                  "a second poll");
            rawtask_clear_last_error();
            CHECK(rawtask_task_free(task) == RAWTASK_STATUS_OK, "free");
            return;
        }
        if (status == RAWTASK_STATUS_CANCELLED) {
            atomic_fetch_add(&cancelled_seen, 1);
            rawtask_clear_last_error();
            CHECK(rawtask_task_free(task) == RAWTASK_STATUS_OK, "free");
            return;
        }
        CHECK(status == RAWTASK_STATUS_PENDING || status == RAWTASK_STATUS_BUSY, "poll: %d",
              status);
        rawtask_clear_last_error();
    }
    put_task(slot, task, expected);
}

/* ----- tokens ----- */

typedef struct {
    int magic;
} TokenCallback;

static void on_cancel(void *context, bool cancelled) {
    (void)cancelled;
    TokenCallback *c = context;
    CHECK(c->magic == MAGIC, "token callback called twice (or with a bad context)");
    c->magic = 0;
    atomic_fetch_add(&token_callbacks_called, 1);
    free(c);
}

static _Atomic uint64_t tokens[TOKEN_SLOTS];

static void put_token(int slot, RawtaskToken token) {
    uint64_t none = 0;
    if (!atomic_compare_exchange_strong(&tokens[slot], &none, token.id)) {
        CHECK(rawtask_token_free(token) == RAWTASK_STATUS_OK, "token free");
    }
}

static void token_op(uint64_t *rng) {
    int slot = (int)below(rng, TOKEN_SLOTS);
    if (below(rng, 3) == 0) {
        /* Cancel or derive from a handle someone else may own (and free) right now. */
        RawtaskToken peeked = {atomic_load(&tokens[slot])};
        if (peeked.id == 0) {
            return;
        }
        RawtaskStatus status;
        RawtaskToken child = {0};
        if (below(rng, 3) == 0) {
            status = rawtask_token_cancel(peeked);
        } else {
            status = rawtask_token_child(peeked, &child);
        }
        CHECK(status == RAWTASK_STATUS_OK || status == RAWTASK_STATUS_INVALID_HANDLE ||
                  status == RAWTASK_STATUS_BUSY,
              "a peeked token: %d", status);
        rawtask_clear_last_error();
        if (child.id != 0) {
            put_token((int)below(rng, TOKEN_SLOTS), child);
        }
        return;
    }
    RawtaskToken token = {atomic_exchange(&tokens[slot], 0)};
    if (token.id == 0) {
        CHECK(rawtask_token_new(&token) == RAWTASK_STATUS_OK, "token_new");
        put_token(slot, token);
        return;
    }
    RawtaskStatus status;
    switch (below(rng, 5)) {
    case 0:
        CHECK(rawtask_token_free(token) == RAWTASK_STATUS_OK, "token free");
        return;
    case 1:
        status = rawtask_token_cancel(token);
        CHECK(status == RAWTASK_STATUS_OK || status == RAWTASK_STATUS_BUSY, "token cancel: %d",
              status);
        rawtask_clear_last_error();
        break;
    default: {
        TokenCallback *c = malloc(sizeof *c);
        c->magic = MAGIC;
        status = rawtask_token_on_cancel(token, on_cancel, c);
        if (status == RAWTASK_STATUS_OK) {
            atomic_fetch_add(&token_callbacks_registered, 1);
        } else {
            CHECK(status == RAWTASK_STATUS_BUSY, "on_cancel: %d", status);
            rawtask_clear_last_error();
            free(c);
        }
    }
    }
    put_token(slot, token);
}

/* ----- the threads ----- */

static atomic_int stop;

static void *thread_main(void *arg) {
    uint64_t rng = seed ^ (0x9E3779B97F4A7C15ULL * ((uintptr_t)arg + 1));
    rng |= 1;
    while (!atomic_load(&stop)) {
        pthread_mutex_lock(&queue.lock);
        long len = queue.len;
        pthread_mutex_unlock(&queue.lock);
        if (len > 512) {
            run_some(&rng, 64);
            continue;
        }
        switch (below(&rng, 10)) {
        case 0:
        case 1:
        case 2:
            run_some(&rng, 4);
            break;
        case 3: {
            RawtaskRunnable *runnable = pop();
            if (runnable) {
                atomic_fetch_add(&runnables_dropped, 1);
                CHECK(rawtask_runnable_drop(runnable) == RAWTASK_STATUS_OK, "runnable_drop");
            }
            break;
        }
        case 4:
        case 5:
            waker_op(&rng);
            break;
        case 6:
        case 7:
        case 8:
            task_op(&rng);
            break;
        default:
            token_op(&rng);
        }
    }
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Wakes every pooled waker and runs the queue until both are empty. */
static void drain(uint64_t *rng) {
    for (;;) {
        RawtaskWaker *waker = take_waker(rng);
        RawtaskRunnable *runnable = pop();
        if (!waker && !runnable) {
            return;
        }
        if (waker) {
            CHECK(rawtask_waker_wake(waker) == RAWTASK_STATUS_OK, "wake");
        }
        if (runnable) {
            /* With a waker taken, as always, so that the task makes progress. The tasks finish
             * after a few polls, so this ends. */
            run(runnable, rng);
        }
    }
}

int main(void) {
    CHECK(RAWTASK_CHECK_ABI() == RAWTASK_STATUS_OK, "abi");
    for (int i = 0; i < TASK_SLOTS; i++) {
        pthread_mutex_init(&tasks[i].lock, NULL);
    }
    const char *s = getenv("RAWTASK_SOAK_SEED");
    seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)now() * 1000003u);
    const char *secs_env = getenv("RAWTASK_SOAK_SECS");
    double secs = secs_env ? atof(secs_env) : 2.0;
    printf("soak: seed %" PRIu64 " (rerun with RAWTASK_SOAK_SEED=%" PRIu64 "), %.1f s\n", seed,
           seed, secs);
    fflush(stdout);

    pthread_t threads[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) {
        pthread_create(&threads[i], NULL, thread_main, (void *)i);
    }
    struct timespec pause = {0, 10 * 1000 * 1000};
    double end = now() + secs;
    while (now() < end) {
        nanosleep(&pause, NULL);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }

    /* The end: let the tasks still held finish, then free every handle. */
    uint64_t rng = seed | 1;
    drain(&rng);
    for (int i = 0; i < TASK_SLOTS; i++) {
        uint64_t expected = 0;
        RawtaskTask task = take_task(i, &expected);
        if (task.id) {
            uint64_t out = 0;
            RawtaskStatus status = rawtask_task_poll(task, &out, sizeof out);
            if (status == RAWTASK_STATUS_READY) {
                CHECK(out == expected, "output %" PRIu64, out);
                atomic_fetch_add(&received, 1);
            }
            rawtask_clear_last_error();
            CHECK(rawtask_task_free(task) == RAWTASK_STATUS_OK, "free");
        }
    }
    drain(&rng);
    for (int i = 0; i < TOKEN_SLOTS; i++) {
        RawtaskToken token = {atomic_exchange(&tokens[i], 0)};
        if (token.id) {
            CHECK(rawtask_token_free(token) == RAWTASK_STATUS_OK, "token free");
        }
    }
    drain(&rng);

    CHECK(completions_called == completions_registered,
          "%ld completion callbacks of %ld registered", completions_called,
          completions_registered);
    CHECK(token_callbacks_called == token_callbacks_registered,
          "%ld token callbacks of %ld registered", token_callbacks_called,
          token_callbacks_registered);
    CHECK(fixture_live_futures() == 0, "%" PRId64 " futures left", fixture_live_futures());
    printf("soak: %ld tasks, %ld runs, %ld runnables dropped, %ld wakes, %ld outputs received, "
           "%ld cancellations seen, %ld peeks, %ld completion callbacks, %ld token callbacks\n",
           spawned, runs, runnables_dropped, wakes, received, cancelled_seen, peeks,
           completions_called, token_callbacks_called);
    if (check_failures) {
        fprintf(stderr, "soak: %d check(s) failed (seed %" PRIu64 ")\n", check_failures, seed);
        return 1;
    }
    printf("soak: ok\n");
    return 0;
}
