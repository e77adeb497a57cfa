/*
 * A C event loop that runs Rust tasks, highest priority first.
 *
 * Build and run it from the repository root with:
 *
 *     bash examples/c/build.sh
 *
 * The Rust side (examples/c/src/lib.rs) spawns jobs whose schedule function is this
 * program's `schedule` callback. Whenever a job is woken (here, or on the Rust helper thread
 * that finishes its delay), rawtask hands its runnable to the callback, which queues it; the
 * loop below takes the highest-priority runnable, runs it, and polls the job's task handle
 * for its result. The priority, id and name come straight from the task's data slot, at
 * RAWTASK_DATA_OFFSET bytes from the runnable pointer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example.h"
#include "rawtask.h"

/* ----- the run queue: runnables sorted by priority, guarded by a mutex ----- */

#define MAX_QUEUED 64

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    RawtaskRunnable *items[MAX_QUEUED]; /* sorted: highest priority last */
    size_t len;
} RunQueue;

static const ExampleJob *job_of(const RawtaskRunnable *runnable) {
    return (const ExampleJob *)((const char *)runnable + RAWTASK_DATA_OFFSET);
}

/* rawtask calls this whenever a task must run: on any thread, so it locks. */
static void schedule(void *context, RawtaskRunnable *runnable, uint32_t flags) {
    RunQueue *queue = context;
    (void)flags; /* RAWTASK_SCHEDULE_WOKEN_WHILE_RUNNING: the task yielded */
    pthread_mutex_lock(&queue->lock);
    if (queue->len == MAX_QUEUED) abort();
    size_t i = queue->len++;
    while (i > 0 && job_of(queue->items[i - 1])->priority > job_of(runnable)->priority) {
        queue->items[i] = queue->items[i - 1];
        i--;
    }
    queue->items[i] = runnable;
    pthread_cond_signal(&queue->ready);
    pthread_mutex_unlock(&queue->lock);
}

static RawtaskRunnable *next_runnable(RunQueue *queue) {
    pthread_mutex_lock(&queue->lock);
    while (queue->len == 0) pthread_cond_wait(&queue->ready, &queue->lock);
    RawtaskRunnable *runnable = queue->items[--queue->len];
    pthread_mutex_unlock(&queue->lock);
    return runnable;
}

static void die(const char *what) {
    char message[256] = "(no message)";
    rawtask_last_error_message(message, (int)sizeof message);
    fprintf(stderr, "executor: %s failed: %s\n", what, message);
    exit(1);
}

int main(void) {
    if (RAWTASK_CHECK_ABI() != RAWTASK_STATUS_OK) die("RAWTASK_CHECK_ABI");

    static RunQueue queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0};
    RawtaskSchedule sched = {.schedule = schedule, .context = &queue};

    struct {
        const char *name;
        uint32_t priority, delay_ms;
    } jobs[] = {
        {"backup", 1, 30}, {"render", 5, 10}, {"email", 3, 0},
        {"index", 2, 20},  {"alert", 9, 0},   {"compress", 4, 10},
    };
    enum { JOBS = sizeof jobs / sizeof jobs[0] };
    RawtaskTask tasks[JOBS];

    for (uint32_t id = 0; id < JOBS; id++) {
        RawtaskRunnable *runnable;
        if (example_spawn_job(sched, id, jobs[id].name, jobs[id].priority, jobs[id].delay_ms,
                              &runnable, &tasks[id]) != RAWTASK_STATUS_OK)
            die("example_spawn_job");
        /* Queue the first run through the callback, like any later wake-up. */
        if (rawtask_runnable_schedule(runnable) != RAWTASK_STATUS_OK) die("schedule");
    }

    size_t finished = 0;
    while (finished < JOBS) {
        RawtaskRunnable *runnable = next_runnable(&queue);
        const ExampleJob *job = job_of(runnable);
        uint32_t id = job->id; /* read before the run: the runnable is consumed by it */
        printf("run  %-8s (priority %u)\n", job->name, job->priority);
        RawtaskStatus status = rawtask_runnable_run(runnable);
        if (status != RAWTASK_STATUS_OK && status != RAWTASK_STATUS_RESCHEDULED) die("run");

        uint64_t result;
        status = rawtask_task_poll(tasks[id], &result, sizeof result);
        if (status == RAWTASK_STATUS_PENDING) continue; /* waiting: it will be scheduled again */
        if (status != RAWTASK_STATUS_READY) die("poll");
        printf("done %-8s -> %llu\n", jobs[id].name, (unsigned long long)result);
        if (result != 1000ull * jobs[id].delay_ms + jobs[id].priority) {
            fprintf(stderr, "executor: wrong result for %s\n", jobs[id].name);
            return 1;
        }
        if (rawtask_task_free(tasks[id]) != RAWTASK_STATUS_OK) die("free");
        finished++;
    }
    printf("executor: ok: %zu jobs finished\n", finished);
    return 0;
}
