/*
 * A C event loop drives Rust tasks through rawtask's home-thread scheduler.
 *
 * The loop thread creates a home whose notify callback writes a byte to a pipe, spawns
 * TASKS Rust tasks onto it (internal/c-tests/src/home.rs), and lets WAKERS Rust threads wake them
 * STEPS times each. The loop drains the home, and sleeps in poll(2) on the pipe whenever the
 * home reports nothing left to run. It checks that every output arrives, that notifies were
 * coalesced (at most one per drain, plus one), that calls from another thread are refused, and
 * that freeing the home with tasks still queued cancels them (their futures are dropped).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fixtures.h"
#include "rawtask.h"

#define TASKS 1000
#define STEPS 2
#define WAKERS 4
#define QUEUED 10

static int failures;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            if (failures++ < 20) {                                                          \
                fprintf(stderr, "home: FAILED %s (line %d): ", #cond, __LINE__);            \
                fprintf(stderr, __VA_ARGS__);                                               \
                fputc('\n', stderr);                                                        \
            }                                                                               \
        }                                                                                   \
    } while (0)

typedef struct {
    int pipe[2];
    atomic_size_t notifies;
} Loop;

/* The notify callback: runs on a waker thread; must not block. The pipe is non-blocking, and
 * a full pipe already means the loop will wake. */
static void notify(void *context) {
    Loop *loop = context;
    atomic_fetch_add(&loop->notifies, 1);
    char byte = 1;
    ssize_t written = write(loop->pipe[1], &byte, 1);
    (void)written;
}

static void empty_pipe(Loop *loop) {
    char buf[64];
    while (read(loop->pipe[0], buf, sizeof buf) > 0) {
    }
}

/* Calls from a thread that is not the home's are refused. */
static void *other_thread(void *home) {
    size_t ran = 99;
    RawtaskStatus *status = malloc(2 * sizeof *status);
    status[0] = rawtask_home_drain(home, 1, &ran);
    status[1] = rawtask_home_free(home);
    if (ran != 0) {
        status[0] = RAWTASK_STATUS_OK;
    }
    return status;
}

int main(void) {
    Loop loop;
    atomic_init(&loop.notifies, 0);
    if (pipe(loop.pipe) != 0) {
        perror("pipe");
        return 1;
    }
    fcntl(loop.pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(loop.pipe[1], F_SETFL, O_NONBLOCK);

    CHECK(rawtask_home_new(NULL, &loop) == NULL, "a NULL notify is refused");
    RawtaskHome *home = rawtask_home_new(notify, &loop);
    CHECK(home != NULL, "rawtask_home_new");

    static RawtaskTask tasks[TASKS];
    for (uint64_t i = 0; i < TASKS; i++) {
        CHECK(fixture_home_spawn(home, i, STEPS, &tasks[i]) == RAWTASK_STATUS_OK, "spawn %d",
              (int)i);
    }
    /* Scheduled on the home thread outside a drain: queued locally, one coalesced notify for
     * them all (so a loop that spawns from its own callbacks drains them). */
    CHECK(atomic_load(&loop.notifies) == 1, "home-thread wakes: %zu notifies",
          atomic_load(&loop.notifies));

    pthread_t other;
    pthread_create(&other, NULL, other_thread, home);
    RawtaskStatus *refused;
    pthread_join(other, (void **)&refused);
    CHECK(refused[0] == RAWTASK_STATUS_INVALID_ARGUMENT, "drain off the home thread: %d",
          refused[0]);
    CHECK(refused[1] == RAWTASK_STATUS_INVALID_ARGUMENT, "free off the home thread: %d",
          refused[1]);
    free(refused);

    fixture_home_start_wakers(WAKERS);
    size_t drains = 0, ran_total = 0;
    while (fixture_home_completed() < TASKS) {
        size_t ran = 0;
        RawtaskStatus status = rawtask_home_drain(home, 64, &ran);
        drains++;
        ran_total += ran;
        CHECK(status == RAWTASK_STATUS_OK || status == RAWTASK_STATUS_PENDING, "drain: %d",
              status);
        if (status == RAWTASK_STATUS_PENDING || fixture_home_completed() == TASKS) {
            continue; /* re-arm: more to run now */
        }
        struct pollfd fd = {.fd = loop.pipe[0], .events = POLLIN};
        int ready = poll(&fd, 1, 600 * 1000);
        if (ready == 0) {
            CHECK(0, "no notify within the deadline: a lost wake (%zu of %d done)",
                  fixture_home_completed(), TASKS);
            break;
        }
        empty_pipe(&loop);
    }
    fixture_home_join_wakers();

    size_t notifies = atomic_load(&loop.notifies);
    CHECK(notifies >= 1, "no notify at all");
    CHECK(notifies <= drains + 1, "notify not coalesced: %zu notifies, %zu drains", notifies,
          drains);
    /* Each task ran at least once; a permit that arrives during a poll lets it take more than
     * one step in that poll, so the total may be below TASKS * (STEPS + 1). */
    CHECK(ran_total >= (size_t)TASKS, "ran %zu", ran_total);

    for (uint64_t i = 0; i < TASKS; i++) {
        uint64_t out = 0;
        RawtaskStatus status = rawtask_task_poll(tasks[i], &out, sizeof out);
        CHECK(status == RAWTASK_STATUS_READY && out == 2 * i, "task %d: status %d out %d",
              (int)i, status, (int)out);
        CHECK(rawtask_task_free(tasks[i]) == RAWTASK_STATUS_OK, "free task %d", (int)i);
    }

    /* Shutdown with runnables still queued: they are dropped on this thread, cancelling
     * their tasks. */
    RawtaskTask queued[QUEUED];
    for (uint64_t i = 0; i < QUEUED; i++) {
        CHECK(fixture_home_spawn(home, i, 1, &queued[i]) == RAWTASK_STATUS_OK, "spawn");
    }
    CHECK(fixture_live_futures() == QUEUED, "live futures: %d", (int)fixture_live_futures());
    CHECK(rawtask_home_free(home) == RAWTASK_STATUS_OK, "rawtask_home_free");
    CHECK(fixture_live_futures() == 0, "queued futures dropped by free: %d live",
          (int)fixture_live_futures());
    for (int i = 0; i < QUEUED; i++) {
        uint64_t out = 0;
        CHECK(rawtask_task_poll(queued[i], &out, sizeof out) == RAWTASK_STATUS_CANCELLED,
              "queued task %d cancelled", i);
        rawtask_task_free(queued[i]);
    }
    CHECK(rawtask_home_free(home) == RAWTASK_STATUS_INVALID_HANDLE, "double free detected");
    rawtask_clear_last_error();
    close(loop.pipe[0]);
    close(loop.pipe[1]);

    if (failures) {
        fprintf(stderr, "home: %d failures\n", failures);
        return 1;
    }
    printf("home: ok (%d tasks, %zu drains, %zu notifies)\n", TASKS, drains, notifies);
    return 0;
}
