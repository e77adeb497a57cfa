/*
 * A priority event loop in C driving 10,000 Rust tasks.
 *
 * The Rust fixtures (internal/c-tests/src/event_loop.rs) spawn pairs of tasks: a producer
 * that sleeps on a Rust timer thread, sends a value over a channel and yields; and a consumer that waits
 * for the value. Each task's data slot holds a priority that only the Rust side chooses. This
 * loop:
 *   - receives every runnable through its schedule callback (from its own thread, from inside
 *     rawtask_runnable_run, and from the timer thread), reading the priority and index
 *     straight from the data slot at RAWTASK_DATA_OFFSET, without a call;
 *   - runs the highest priority first (ties: lowest index first);
 *   - polls each task handle after its runnable ran, and checks every output: the value, the
 *     priority the Rust side used (which must match what C read from the slot), and that the
 *     first polls happened exactly in priority order.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "rawtask.h"

#define PAIRS 5000
#define TASKS (2 * PAIRS)

static int failures;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            if (failures++ < 20) {                                                          \
                fprintf(stderr, "event_loop: FAILED %s (line %d): ", #cond, __LINE__);      \
                fprintf(stderr, __VA_ARGS__);                                               \
                fputc('\n', stderr);                                                        \
            }                                                                               \
        }                                                                                   \
    } while (0)

/* ----- the run queue: a binary max-heap keyed by (priority, -index), behind a mutex ----- */

typedef struct {
    uint32_t priority;
    uint32_t index;
    uint32_t flags;
    RawtaskRunnable *runnable;
} Entry;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    Entry *heap;
    size_t len, cap;
    size_t pushes, yields;
} Queue;

static int before(const Entry *a, const Entry *b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    return a->index < b->index;
}

static void heap_push(Queue *q, Entry e) {
    if (q->len == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 1024;
        q->heap = realloc(q->heap, q->cap * sizeof(Entry));
        if (!q->heap) abort();
    }
    size_t i = q->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &q->heap[parent])) break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
}

static Entry heap_pop(Queue *q) {
    Entry top = q->heap[0];
    Entry last = q->heap[--q->len];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->len) break;
        if (child + 1 < q->len && before(&q->heap[child + 1], &q->heap[child])) child++;
        if (!before(&q->heap[child], &last)) break;
        q->heap[i] = q->heap[child];
        i = child;
    }
    if (q->len > 0) q->heap[i] = last;
    return top;
}

/* The schedule callback: called by rawtask on whatever thread wakes a task. */
static void schedule(void *context, RawtaskRunnable *runnable, uint32_t flags) {
    Queue *q = context;
    /* The data slot, read directly: no call into Rust. */
    const EventTaskData *data = (const EventTaskData *)((const char *)runnable + RAWTASK_DATA_OFFSET);
    Entry e = {data->priority, data->index, flags, runnable};
    pthread_mutex_lock(&q->lock);
    heap_push(q, e);
    q->pushes++;
    if (flags & RAWTASK_SCHEDULE_WOKEN_WHILE_RUNNING) q->yields++;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

static void print_last_error(const char *what) {
    char buf[256];
    if (rawtask_last_error_message(buf, (int)sizeof buf) < 0) strcpy(buf, "(no message)");
    fprintf(stderr, "event_loop: %s: %s\n", what, buf);
}

typedef struct {
    uint32_t slot_priority; /* what C read from the data slot at spawn */
    int done;
} TaskInfo;

static TaskInfo info[TASKS];
static RawtaskTask tasks[TASKS];
static uint32_t first_poll_rank[TASKS];

int main(void) {
    if (RAWTASK_CHECK_ABI() != RAWTASK_STATUS_OK) {
        print_last_error("RAWTASK_CHECK_ABI");
        return 1;
    }

    Queue q;
    memset(&q, 0, sizeof q);
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.nonempty, NULL);
    RawtaskSchedule sched = {.schedule = schedule, .context = &q};

    /* Spawn everything and queue every runnable before running any, so that the first polls
     * must follow priority order exactly. */
    for (uint32_t pair = 0; pair < PAIRS; pair++) {
        RawtaskRunnable *runnables[2];
        if (fixture_event_spawn_pair(sched, pair, runnables, &tasks[2 * pair]) != RAWTASK_STATUS_OK) {
            print_last_error("fixture_event_spawn_pair");
            return 1;
        }
        for (int k = 0; k < 2; k++) {
            uint32_t index = 2 * pair + (uint32_t)k;
            RawtaskRunnable *r = runnables[k];
            /* The slot pointer C computes equals the one rawtask reports, and has our size. */
            char *slot = (char *)r + RAWTASK_DATA_OFFSET;
            CHECK(rawtask_runnable_data(r) == slot, "task %u: slot pointer mismatch", index);
            CHECK(rawtask_runnable_data_size(r) == sizeof(EventTaskData), "task %u: slot size %zu",
                  index, rawtask_runnable_data_size(r));
            const EventTaskData *data = (const EventTaskData *)slot;
            CHECK(data->index == index, "task %u: slot index %u", index, data->index);
            info[index].slot_priority = data->priority;
            size_t output_size = 0;
            CHECK(rawtask_task_output_size(tasks[index], &output_size) == RAWTASK_STATUS_OK &&
                      output_size == sizeof(EventTaskOutput),
                  "task %u: output size %zu", index, output_size);
            CHECK(rawtask_runnable_schedule(r) == RAWTASK_STATUS_OK, "task %u: schedule", index);
        }
    }
    CHECK(q.len == TASKS, "queued %zu runnables, expected %d", q.len, TASKS);

    size_t runs = 0, rescheduled = 0, completed = 0;
    uint32_t priorities_seen[16] = {0};
    while (completed < TASKS && failures == 0) {
        pthread_mutex_lock(&q.lock);
        while (q.len == 0) pthread_cond_wait(&q.nonempty, &q.lock);
        Entry e = heap_pop(&q);
        pthread_mutex_unlock(&q.lock);

        /* The runnable is consumed by the run: everything needed from it was read before. */
        RawtaskStatus status = rawtask_runnable_run(e.runnable);
        runs++;
        if (status == RAWTASK_STATUS_RESCHEDULED) {
            rescheduled++;
        } else if (status != RAWTASK_STATUS_OK) {
            print_last_error("rawtask_runnable_run");
            CHECK(0, "task %u: run returned %d", e.index, (int)status);
            break;
        }

        EventTaskOutput out;
        status = rawtask_task_poll(tasks[e.index], &out, sizeof out);
        if (status == RAWTASK_STATUS_PENDING) continue;
        if (status != RAWTASK_STATUS_READY) {
            print_last_error("rawtask_task_poll");
            CHECK(0, "task %u: poll returned %d", e.index, (int)status);
            break;
        }
        uint32_t i = e.index;
        CHECK(!info[i].done, "task %u completed twice", i);
        info[i].done = 1;
        completed++;
        uint64_t expected = (i % 2 == 0) ? 3 * (uint64_t)i + 1 : 7 * (uint64_t)(i - 1) + i;
        CHECK(out.index == i, "task %u: output index %u", i, out.index);
        CHECK(out.value == expected, "task %u: value %llu, expected %llu", i,
              (unsigned long long)out.value, (unsigned long long)expected);
        CHECK(out.priority == info[i].slot_priority,
              "task %u: Rust used priority %u, the slot said %u", i, out.priority,
              info[i].slot_priority);
        CHECK(out.first_poll_seq < TASKS, "task %u: first poll rank %u", i, out.first_poll_seq);
        CHECK(out.polls >= 1, "task %u: %u polls", i, out.polls);
        first_poll_rank[i] = out.first_poll_seq;
        priorities_seen[out.priority & 15]++;
        CHECK(rawtask_task_free(tasks[i]) == RAWTASK_STATUS_OK, "task %u: free", i);
        /* A second free is detected, not a crash. */
        CHECK(rawtask_task_free(tasks[i]) == RAWTASK_STATUS_INVALID_HANDLE, "task %u: double free",
              i);
    }
    fixture_timers_shutdown();

    /* The first polls happened in (priority descending, index ascending) order: walk the
     * tasks by first-poll rank and check the order never goes backwards. */
    static uint32_t by_rank[TASKS];
    for (uint32_t i = 0; i < TASKS; i++) by_rank[i] = TASKS;
    for (uint32_t i = 0; i < TASKS && failures == 0; i++) {
        CHECK(by_rank[first_poll_rank[i]] == TASKS, "rank %u given twice", first_poll_rank[i]);
        by_rank[first_poll_rank[i]] = i;
    }
    for (uint32_t rank = 1; rank < TASKS && failures == 0; rank++) {
        uint32_t a = by_rank[rank - 1], b = by_rank[rank];
        int ordered = info[a].slot_priority > info[b].slot_priority ||
                      (info[a].slot_priority == info[b].slot_priority && a < b);
        CHECK(ordered, "first polls out of order at rank %u: task %u (priority %u) before task %u "
                       "(priority %u)", rank, a, info[a].slot_priority, b, info[b].slot_priority);
    }
    int distinct = 0;
    for (int p = 0; p < 16; p++) distinct += priorities_seen[p] > 0;
    CHECK(distinct == 16, "only %d distinct priorities", distinct);
    /* Every producer yields once; a timer firing while its task runs adds a few more. */
    CHECK(rescheduled >= PAIRS, "%zu runs reported RESCHEDULED, expected at least one per "
          "producer (%d)", rescheduled, PAIRS);
    CHECK(q.yields == rescheduled, "%zu schedules had WOKEN_WHILE_RUNNING, %zu runs reported "
          "RESCHEDULED", q.yields, rescheduled);
    CHECK(fixture_live_futures() == 0, "%lld futures still alive", (long long)fixture_live_futures());
    CHECK(q.len == 0, "%zu runnables left in the queue", q.len);

    free(q.heap);
    pthread_mutex_destroy(&q.lock);
    pthread_cond_destroy(&q.nonempty);
    if (failures) {
        fprintf(stderr, "event_loop: %d checks failed\n", failures);
        return 1;
    }
    printf("event_loop: ok: %d tasks, %zu runs (%zu rescheduled), %zu schedules, 16 priorities, "
           "first polls in priority order\n",
           TASKS, runs, rescheduled, q.pushes);
    return 0;
}
