/*
 * Completion callbacks and non-plain outputs from C threads.
 *
 * A pool of WORKERS pthreads runs Rust tasks (a mutex + condition variable queue fed by the
 * schedule callback). The main thread spawns TASKS tasks whose output is text (a RawtaskBuffer)
 * or, for every tenth, an error (RAWTASK_STATUS_FAILED), and registers a completion callback on
 * each handle, racing the workers that finish them. Some handles are detached or freed right
 * after registration. The callback runs on the worker that finished the task (or on the main
 * thread if it already had), polls the handle, checks the text or the error, frees the buffer
 * and the handle, and counts. The program checks that every callback ran exactly once, that no
 * future is left, and that misuse (a second registration, a null callback) is refused.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "rawtask.h"

#define TASKS 2000
#define WORKERS 3
#define YIELDS 2

static int failures;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            if (atomic_fetch_add(&check_failures, 1) < 20) {                                \
                fprintf(stderr, "completion: FAILED %s (line %d): ", #cond, __LINE__);      \
                fprintf(stderr, __VA_ARGS__);                                               \
                fputc('\n', stderr);                                                        \
            }                                                                               \
        }                                                                                   \
    } while (0)

static atomic_int check_failures;

/* ----- the worker pool: a FIFO of runnables ----- */

typedef struct Node {
    RawtaskRunnable *runnable;
    struct Node *next;
} Node;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    Node *head, *tail;
    int stop;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

/* The schedule callback: any thread, never blocks for long, never runs the task. */
static void schedule(void *context, RawtaskRunnable *runnable, uint32_t flags) {
    (void)context;
    (void)flags;
    Node *node = malloc(sizeof *node);
    node->runnable = runnable;
    node->next = NULL;
    pthread_mutex_lock(&pool.lock);
    if (pool.tail) {
        pool.tail->next = node;
    } else {
        pool.head = node;
    }
    pool.tail = node;
    pthread_cond_signal(&pool.ready);
    pthread_mutex_unlock(&pool.lock);
}

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (!pool.head && !pool.stop) {
            pthread_cond_wait(&pool.ready, &pool.lock);
        }
        Node *node = pool.head;
        if (!node) {
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        pool.head = node->next;
        if (!pool.head) {
            pool.tail = NULL;
        }
        pthread_mutex_unlock(&pool.lock);
        RawtaskStatus status = rawtask_runnable_run(node->runnable);
        CHECK(status == RAWTASK_STATUS_OK || status == RAWTASK_STATUS_RESCHEDULED, "run: %d",
              status);
        free(node);
    }
}

/* ----- completions ----- */

enum Fate { KEEP, DETACH, FREE };

typedef struct {
    uint64_t index;
    enum Fate fate;
} Pending;

static atomic_int calls[TASKS];
static atomic_int done;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;

static void on_complete(void *context, RawtaskTask task) {
    Pending *p = context;
    atomic_fetch_add(&calls[p->index], 1);
    RawtaskBuffer text = {0};
    RawtaskStatus status = rawtask_task_poll(task, &text, sizeof text);
    if (p->fate != KEEP) {
        /* The handle is given up by the main thread, before or after the task finished: the
         * callback runs once either way, with a stale id if the handle is gone by then. */
        CHECK(status == RAWTASK_STATUS_INVALID_HANDLE || status == RAWTASK_STATUS_READY ||
                  status == RAWTASK_STATUS_FAILED,
              "task %d (given up): %d", (int)p->index, status);
        if (status == RAWTASK_STATUS_READY) {
            CHECK(rawtask_buffer_free(&text) == RAWTASK_STATUS_OK, "buffer free");
        }
    } else if (p->index % 10 == 0) {
        CHECK(status == RAWTASK_STATUS_FAILED, "task %d: %d", (int)p->index, status);
        char message[64];
        char expected[64];
        snprintf(expected, sizeof expected, "task %d failed", (int)p->index);
        int length = rawtask_last_error_message(message, sizeof message);
        CHECK(length > 0 && strcmp(message, expected) == 0, "task %d: message '%s'",
              (int)p->index, length > 0 ? message : "");
        CHECK(text.data == NULL, "task %d: a failed poll wrote the buffer", (int)p->index);
    } else {
        char expected[64];
        snprintf(expected, sizeof expected, "task %d", (int)p->index);
        CHECK(status == RAWTASK_STATUS_READY, "task %d: %d", (int)p->index, status);
        CHECK(text.len == strlen(expected) && memcmp(text.data, expected, text.len) == 0 &&
                  text.data[text.len] == 0,
              "task %d: text", (int)p->index);
        CHECK(rawtask_buffer_free(&text) == RAWTASK_STATUS_OK, "buffer free");
        CHECK(text.data == NULL, "a freed buffer is emptied");
        CHECK(rawtask_buffer_free(&text) == RAWTASK_STATUS_OK, "second free of the variable");
    }
    if (p->fate == KEEP) {
        CHECK(rawtask_task_free(task) == RAWTASK_STATUS_OK, "free in the callback");
    }
    rawtask_clear_last_error();
    free(p);
    pthread_mutex_lock(&done_lock);
    if (atomic_fetch_add(&done, 1) + 1 == TASKS) {
        pthread_cond_signal(&all_done);
    }
    pthread_mutex_unlock(&done_lock);
}

static void never(void *context, RawtaskTask task) {
    (void)task;
    CHECK(0, "a refused callback ran (context %p)", context);
}

int main(void) {
    pthread_t workers[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        pthread_create(&workers[i], NULL, worker, NULL);
    }
    RawtaskSchedule sched = {.schedule = schedule, .context = NULL};

    for (uint64_t i = 0; i < TASKS; i++) {
        RawtaskRunnable *runnable;
        RawtaskTask task;
        CHECK(fixture_spawn_text(sched, i, YIELDS, &runnable, &task) == RAWTASK_STATUS_OK,
              "spawn %d", (int)i);
        Pending *p = malloc(sizeof *p);
        p->index = i;
        /* A copy: once the callback is registered and the task scheduled, a worker may run the
         * callback, which frees `p`. */
        enum Fate fate = i % 7 == 3 ? DETACH : i % 7 == 5 ? FREE : KEEP;
        p->fate = fate;
        int race = i % 2;
        if (race) {
            /* Registered while a worker may be finishing the task. */
            CHECK(rawtask_runnable_schedule(runnable) == RAWTASK_STATUS_OK, "schedule");
        }
        CHECK(rawtask_task_on_complete(task, on_complete, p) == RAWTASK_STATUS_OK, "register");
        if (!race) {
            if (i % 100 == 0) {
                /* Misuse, while nothing else uses the handle (the task is not scheduled). */
                CHECK(rawtask_task_on_complete(task, never, NULL) ==
                          RAWTASK_STATUS_ALREADY_REGISTERED,
                      "second registration");
                CHECK(rawtask_task_on_complete(task, NULL, NULL) ==
                          RAWTASK_STATUS_INVALID_ARGUMENT,
                      "null callback");
                rawtask_clear_last_error();
            }
            CHECK(rawtask_runnable_schedule(runnable) == RAWTASK_STATUS_OK, "schedule");
        }
        if (fate == DETACH) {
            /* Only KEEP handles are freed by their callback: this one is still ours. */
            CHECK(rawtask_task_detach(task) == RAWTASK_STATUS_OK, "detach");
        } else if (fate == FREE) {
            CHECK(rawtask_task_free(task) == RAWTASK_STATUS_OK, "free");
        }
    }

    pthread_mutex_lock(&done_lock);
    while (atomic_load(&done) < TASKS) {
        pthread_cond_wait(&all_done, &done_lock);
    }
    pthread_mutex_unlock(&done_lock);

    pthread_mutex_lock(&pool.lock);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.ready);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(workers[i], NULL);
    }

    for (int i = 0; i < TASKS; i++) {
        CHECK(atomic_load(&calls[i]) == 1, "task %d: %d calls", i, atomic_load(&calls[i]));
    }
    CHECK(fixture_live_futures() == 0, "live futures: %d", (int)fixture_live_futures());
    failures = atomic_load(&check_failures);
    if (failures) {
        fprintf(stderr, "completion: %d checks failed\n", failures);
        return 1;
    }
    printf("completion: %d tasks on %d C threads, every callback ran once\n", TASKS, WORKERS);
    printf("completion: ok\n");
    return 0;
}
