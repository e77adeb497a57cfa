/*
 * The misuse suite: every misuse of the C API that rawtask can detect gets a defined status
 * code and a last-error message, never a crash; and the edge cases of the task lifecycle
 * (cancel, free while running, poll after completion, panics) behave as the header says.
 * Run under valgrind it also shows that none of them leaks or touches freed memory.
 *
 * Each case is a function; CHECK records a failure and goes on.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "rawtask.h"

static int checks, failures;

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        checks++;                                                                           \
        if (!(cond)) {                                                                      \
            failures++;                                                                     \
            fprintf(stderr, "misuse: FAILED in %s (line %d): %s\n", current_case, __LINE__,  \
                    #cond);                                                                 \
        }                                                                                   \
    } while (0)

static const char *current_case = "";

/* The last error message, or "" if there is none; then clears it (copying only peeks), so
 * that every check sees the error of the call just made. */
static const char *last_error(void) {
    static char buf[512];
    int n = rawtask_last_error_message(buf, (int)sizeof buf); /* "" when there is no error */
    if (n < 0) strcpy(buf, "(message did not fit)");
    rawtask_clear_last_error();
    return buf;
}

static int error_mentions(const char *needle) {
    const char *message = last_error();
    int found = strstr(message, needle) != NULL;
    if (!found) fprintf(stderr, "misuse: last error \"%s\" lacks \"%s\"\n", message, needle);
    return found;
}

/* ----- a FIFO run queue for one thread ----- */

#define QUEUE_CAP 64

typedef struct {
    RawtaskRunnable *items[QUEUE_CAP];
    uint32_t flags[QUEUE_CAP];
    size_t head, len, pushes;
    /* For the re-entrancy case: a handle to poll and free from inside the callback. */
    RawtaskTask reenter;
    RawtaskStatus reenter_poll, reenter_free;
} Queue;

static void push(void *context, RawtaskRunnable *runnable, uint32_t flags) {
    Queue *q = context;
    if (q->len == QUEUE_CAP) abort();
    size_t at = (q->head + q->len++) % QUEUE_CAP;
    q->items[at] = runnable;
    q->flags[at] = flags;
    q->pushes++;
    if (q->reenter.id != 0) {
        uint64_t out;
        q->reenter_poll = rawtask_task_poll(q->reenter, &out, sizeof out);
        q->reenter_free = rawtask_task_free(q->reenter);
        q->reenter = RawtaskTask_NULL;
    }
}

static RawtaskRunnable *pop(Queue *q, uint32_t *flags) {
    if (q->len == 0) return NULL;
    RawtaskRunnable *r = q->items[q->head];
    if (flags) *flags = q->flags[q->head];
    q->head = (q->head + 1) % QUEUE_CAP;
    q->len--;
    return r;
}

/* Runs everything queued, including what gets queued meanwhile. */
static void run_all(Queue *q) {
    RawtaskRunnable *r;
    while ((r = pop(q, NULL)) != NULL) {
        RawtaskStatus s = rawtask_runnable_run(r);
        CHECK(s == RAWTASK_STATUS_OK || s == RAWTASK_STATUS_RESCHEDULED);
    }
}

static Queue queue;
static RawtaskSchedule sched(void) {
    RawtaskSchedule s = {.schedule = push, .context = &queue};
    return s;
}

/* ----- the cases ----- */

static void case_abi(void) {
    CHECK(RAWTASK_CHECK_ABI() == RAWTASK_STATUS_OK);
    CHECK(rawtask_abi_version() == RAWTASK_ABI_VERSION);
    CHECK(rawtask_data_offset() == RAWTASK_DATA_OFFSET);
    CHECK(rawtask_check_abi(RAWTASK_ABI_VERSION + 1, RAWTASK_DATA_OFFSET, sizeof(RawtaskSchedule),
                            sizeof(RawtaskTask)) == RAWTASK_STATUS_ABI_MISMATCH);
    CHECK(error_mentions("RAWTASK_ABI_VERSION"));
    CHECK(rawtask_check_abi(RAWTASK_ABI_VERSION, RAWTASK_DATA_OFFSET + 8, sizeof(RawtaskSchedule),
                            sizeof(RawtaskTask)) == RAWTASK_STATUS_ABI_MISMATCH);
    CHECK(error_mentions("RAWTASK_DATA_OFFSET"));
}

static void case_null_runnables_and_wakers(void) {
    CHECK(rawtask_runnable_run(NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("rawtask_runnable_run: `runnable` is null"));
    CHECK(rawtask_runnable_schedule(NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("null"));
    CHECK(rawtask_runnable_drop(NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("null"));
    CHECK(rawtask_runnable_waker(NULL) == NULL);
    CHECK(error_mentions("null"));
    CHECK(rawtask_runnable_data(NULL) == NULL);
    CHECK(error_mentions("null"));
    CHECK(rawtask_runnable_data_size(NULL) == 0);
    CHECK(error_mentions("null"));
    CHECK(rawtask_waker_wake(NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_waker_wake_by_ref(NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_waker_clone(NULL) == NULL);
    CHECK(rawtask_waker_drop(NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("rawtask_waker_drop: `waker` is null"));
}

static void case_null_task_handles(void) {
    uint64_t out;
    size_t size;
    void *data;
    RawtaskTask null = RawtaskTask_NULL;
    CHECK(rawtask_task_poll(null, &out, sizeof out) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("`task` is null"));
    CHECK(rawtask_task_cancel(null) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_task_detach(null) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_task_free(null) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_task_output_size(null, &size) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_task_data(null, &data) == RAWTASK_STATUS_INVALID_ARGUMENT);

    /* Null out-pointers on a live handle. */
    RawtaskRunnable *r;
    RawtaskTask t;
    CHECK(fixture_spawn_value(sched(), 1, 2, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_output_size(t, NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("`size` is null"));
    CHECK(rawtask_task_data(t, NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_drop(r) == RAWTASK_STATUS_OK);
}

static void case_null_schedule_callback(void) {
    RawtaskRunnable *r = (RawtaskRunnable *)&queue; /* must stay untouched */
    RawtaskTask t = {.id = 12345};
    RawtaskSchedule none = {.schedule = NULL, .context = NULL};
    CHECK(fixture_spawn_value(none, 0, 0, &r, &t) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("the schedule callback is null"));
    CHECK(r == (RawtaskRunnable *)&queue && t.id == 12345);
}

static void case_last_error_buffers(void) {
    char buf[64];
    uint16_t wide[64];
    rawtask_clear_last_error();
    CHECK(rawtask_last_error_length() == 0);
    /* No error: 0, and a usable buffer still receives a NUL terminator. */
    memset(buf, 'x', sizeof buf);
    CHECK(rawtask_last_error_message(buf, (int)sizeof buf) == 0);
    CHECK(buf[0] == '\0' && buf[1] == 'x');
    wide[0] = 'x';
    CHECK(rawtask_last_error_message_utf16(wide, 64) == 0);
    CHECK(wide[0] == 0);
    CHECK(rawtask_last_error_message(NULL, 64) == 0);

    CHECK(rawtask_runnable_run(NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    const char *expected = "rawtask_runnable_run: `runnable` is null";
    int length = rawtask_last_error_length();
    CHECK(length == (int)strlen(expected) + 1);
    /* Null buffer, zero and negative lengths: -1, and the message is kept. */
    CHECK(rawtask_last_error_message(NULL, 64) == -1);
    CHECK(rawtask_last_error_message(buf, 0) == -1);
    CHECK(rawtask_last_error_message(buf, -5) == -1);
    CHECK(rawtask_last_error_length() == length);
    /* Too small: a NUL-terminated prefix, -1, and the message is kept. */
    memset(buf, 'x', sizeof buf);
    CHECK(rawtask_last_error_message(buf, 8) == -1);
    CHECK(buf[7] == '\0' && strncmp(buf, expected, 7) == 0 && buf[8] == 'x');
    CHECK(rawtask_last_error_length() == length);
    /* UTF-16: too small, then big enough. */
    CHECK(rawtask_last_error_length_utf16() == length);
    CHECK(rawtask_last_error_message_utf16(wide, 4) == -1);
    CHECK(wide[3] == 0 && wide[0] == 'r');
    CHECK(rawtask_last_error_message_utf16(NULL, 4) == -1);
    CHECK(rawtask_last_error_length() == length);
    /* Exactly big enough: copied, and the error kept (reading peeks) until cleared. */
    CHECK(rawtask_last_error_message(buf, length) == length);
    CHECK(strcmp(buf, expected) == 0);
    CHECK(rawtask_last_error_length() == length);
    CHECK(rawtask_last_error_message_utf16(wide, 64) == length);
    CHECK(rawtask_last_error_length() == length);
    rawtask_clear_last_error();
    CHECK(rawtask_last_error_length() == 0);
}

static void case_data_slot(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    CHECK(fixture_spawn_value(sched(), 0xC0FFEE, 5, &r, &t) == RAWTASK_STATUS_OK);
    char *slot = (char *)r + RAWTASK_DATA_OFFSET;
    CHECK(*(uint64_t *)slot == 0xC0FFEE);
    CHECK(rawtask_runnable_data(r) == slot);
    CHECK(rawtask_runnable_data_size(r) == sizeof(uint64_t));
    void *from_task = NULL;
    CHECK(rawtask_task_data(t, &from_task) == RAWTASK_STATUS_OK && from_task == slot);
    size_t size = 0;
    CHECK(rawtask_task_output_size(t, &size) == RAWTASK_STATUS_OK && size == sizeof(uint64_t));
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_poll_arguments(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out = 0;
    CHECK(fixture_spawn_value(sched(), 0, 42, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_poll(t, &out, 4) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("`out_size` is 4 but the task's output takes 8 bytes"));
    CHECK(rawtask_task_poll(t, NULL, sizeof out) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(error_mentions("`out` is null"));
    /* The failed polls did nothing: the output is still there. */
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_READY && out == 42);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_poll_after_completion(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out = 0;
    CHECK(fixture_spawn_value(sched(), 0, 9, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_PENDING);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_READY && out == 9);
    out = 0;
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_OUTPUT_TAKEN && out == 0);
    CHECK(error_mentions("already taken"));
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_OUTPUT_TAKEN);
    CHECK(rawtask_task_cancel(t) == RAWTASK_STATUS_OK); /* nothing left to cancel */
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_double_free_and_use_after_free(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out;
    CHECK(fixture_spawn_value(sched(), 0, 1, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(error_mentions("not live"));
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_task_cancel(t) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_task_detach(t) == RAWTASK_STATUS_INVALID_HANDLE);
    size_t size;
    CHECK(rawtask_task_output_size(t, &size) == RAWTASK_STATUS_INVALID_HANDLE);

    /* Detach ends the handle too. */
    CHECK(fixture_spawn_value(sched(), 0, 1, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_detach(t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_task_detach(t) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK); /* the detached task still runs */

    /* Forged handles. */
    RawtaskTask forged[] = {{.id = 1}, {.id = 0xFFFFFFFFFFFFFFFFull}, {.id = 0x123456789ull}};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        CHECK(rawtask_task_free(forged[i]) == RAWTASK_STATUS_INVALID_HANDLE);
    }
}

static void case_stale_handle_after_reuse(void) {
    RawtaskRunnable *ra, *rb;
    RawtaskTask a, b;
    uint64_t out;
    CHECK(fixture_spawn_value(sched(), 0, 1, &ra, &a) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_drop(ra) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_free(a) == RAWTASK_STATUS_OK);
    CHECK(fixture_spawn_value(sched(), 0, 2, &rb, &b) == RAWTASK_STATUS_OK);
    CHECK(a.id != b.id);
    CHECK(rawtask_task_poll(a, &out, sizeof out) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_task_free(a) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_runnable_run(rb) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_poll(b, &out, sizeof out) == RAWTASK_STATUS_READY && out == 2);
    CHECK(rawtask_task_free(b) == RAWTASK_STATUS_OK);
}

/* Frees the task handle it is given while that task's future is running: from inside the
 * poll, or from another thread while the poll waits for it. */
typedef struct {
    RawtaskTask task;
    RawtaskStatus status;
    int64_t live_during;
} FreeWhileRunning;

static void free_from_inside(void *context) {
    FreeWhileRunning *f = context;
    f->live_during = fixture_live_futures();
    f->status = rawtask_task_free(f->task);
}

static void *free_thread(void *context) {
    free_from_inside(context);
    return NULL;
}

static void free_from_another_thread(void *context) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, free_thread, context) != 0) abort();
    pthread_join(thread, NULL);
}

static void case_free_running_task(void) {
    int64_t live = fixture_live_futures();
    void (*frees[])(void *) = {free_from_inside, free_from_another_thread};
    for (int how = 0; how < 2; how++) {
        for (int ready = 0; ready <= 1; ready++) {
            FreeWhileRunning f = {RawtaskTask_NULL, RAWTASK_STATUS_PANICKED, 0};
            RawtaskRunnable *r;
            CHECK(fixture_spawn_calls_back(sched(), frees[how], &f, ready, &r, &f.task) ==
                  RAWTASK_STATUS_OK);
            CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK);
            /* The free succeeded while the future was running... */
            CHECK(f.status == RAWTASK_STATUS_OK);
            CHECK(f.live_during == live + 1);
            /* ...cancelled the task, and the future was dropped when its poll returned (the
             * output, if it completed anyway, was dropped too). */
            CHECK(fixture_live_futures() == live);
            CHECK(queue.len == 0);
            uint64_t out;
            CHECK(rawtask_task_poll(f.task, &out, sizeof out) == RAWTASK_STATUS_INVALID_HANDLE);
        }
    }
}

static void case_cancel_scheduled_task(void) {
    int64_t live = fixture_live_futures();
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out;
    CHECK(fixture_spawn_pending(sched(), 0, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_cancel(t) == RAWTASK_STATUS_OK);
    /* The runnable still holds the future: not finished until it is dropped. */
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_PENDING);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK); /* drops instead of polling */
    CHECK(fixture_live_futures() == live);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_CANCELLED);
    CHECK(error_mentions("cancelled"));
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_CANCELLED);
    CHECK(rawtask_task_cancel(t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_cancel_idle_task(void) {
    int64_t live = fixture_live_futures();
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out;
    CHECK(fixture_spawn_pending(sched(), 0, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK); /* now idle */
    CHECK(queue.len == 0);
    CHECK(rawtask_task_cancel(t) == RAWTASK_STATUS_OK);
    /* Cancelling an idle task hands it to the executor one last time, to drop the future. */
    CHECK(queue.len == 1);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_PENDING);
    run_all(&queue);
    CHECK(fixture_live_futures() == live);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_CANCELLED);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_cancel_after_completion(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out = 0;
    CHECK(fixture_spawn_value(sched(), 0, 11, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_cancel(t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_READY && out == 11);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_reentrant_use_from_the_schedule_callback(void) {
    int64_t live = fixture_live_futures();
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out;
    CHECK(fixture_spawn_pending(sched(), 0, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK); /* idle */
    /* Cancelling calls the callback, which polls and frees the handle being cancelled. */
    queue.reenter = t;
    CHECK(rawtask_task_cancel(t) == RAWTASK_STATUS_OK);
    CHECK(queue.reenter_poll == RAWTASK_STATUS_BUSY);
    CHECK(queue.reenter_free == RAWTASK_STATUS_OK); /* deferred to the end of the cancel */
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_INVALID_HANDLE);
    run_all(&queue);
    CHECK(fixture_live_futures() == live);
}

static void case_drop_runnable(void) {
    int64_t live = fixture_live_futures();
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out;
    CHECK(fixture_spawn_value(sched(), 0, 3, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(fixture_live_futures() == live + 1);
    CHECK(rawtask_runnable_drop(r) == RAWTASK_STATUS_OK);
    CHECK(fixture_live_futures() == live);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_CANCELLED);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_panic_propagated(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out = 0;
    CHECK(fixture_spawn_panicking(sched(), true, &r, &t) == RAWTASK_STATUS_OK);
    /* The panic is stored as the task's output: the run itself succeeds. */
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_PANICKED);
    CHECK(error_mentions("fixture: boom"));
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_OUTPUT_TAKEN);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_panic_not_propagated(void) {
    int64_t live = fixture_live_futures();
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out = 0;
    CHECK(fixture_spawn_panicking(sched(), false, &r, &t) == RAWTASK_STATUS_OK);
    /* The panic leaves the run, which catches it at the boundary; the task is cancelled. */
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_PANICKED);
    CHECK(error_mentions("fixture: boom"));
    CHECK(fixture_live_futures() == live);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_CANCELLED);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_panicking_rust_schedule_function(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out;
    CHECK(fixture_spawn_with_panicking_schedule(&r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_schedule(r) == RAWTASK_STATUS_PANICKED);
    CHECK(error_mentions("the schedule function panicked"));
    /* The runnable was dropped while the panic unwound: the task is cancelled. */
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_CANCELLED);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_yield(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out = 0;
    uint32_t flags = 0;
    CHECK(fixture_spawn_yielding(sched(), &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_RESCHEDULED);
    r = pop(&queue, &flags);
    CHECK(r != NULL && (flags & RAWTASK_SCHEDULE_WOKEN_WHILE_RUNNING));
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_READY && out == 2);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
}

static void case_wakers(void) {
    RawtaskRunnable *r;
    RawtaskTask t;
    uint64_t out = 0;
    uint32_t flags = 1;
    CHECK(fixture_spawn_counting(sched(), 3, &r, &t) == RAWTASK_STATUS_OK);
    RawtaskWaker *w = rawtask_runnable_waker(r);
    CHECK(w != NULL);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK); /* poll 1: pending, idle */
    CHECK(queue.len == 0);
    CHECK(rawtask_waker_wake_by_ref(w) == RAWTASK_STATUS_OK);
    CHECK(queue.len == 1);
    CHECK(rawtask_waker_wake_by_ref(w) == RAWTASK_STATUS_OK); /* already scheduled: no-op */
    CHECK(queue.len == 1);
    r = pop(&queue, &flags);
    CHECK(flags == 0);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK); /* poll 2 */
    RawtaskWaker *w2 = rawtask_waker_clone(w);
    CHECK(w2 == w); /* the same task pointer, one more reference */
    CHECK(rawtask_waker_wake(w2) == RAWTASK_STATUS_OK); /* consumes w2 */
    run_all(&queue); /* poll 3: ready */
    CHECK(rawtask_task_poll(t, &out, sizeof out) == RAWTASK_STATUS_READY && out == 3);
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);
    /* The waker outlives the handle; waking a finished task does nothing. */
    CHECK(rawtask_waker_wake_by_ref(w) == RAWTASK_STATUS_OK);
    CHECK(queue.len == 0);
    CHECK(rawtask_waker_drop(w) == RAWTASK_STATUS_OK); /* the last reference: frees the task */
}

static void case_last_waker_of_a_freed_task(void) {
    int64_t live = fixture_live_futures();
    RawtaskRunnable *r;
    RawtaskTask t;
    CHECK(fixture_spawn_counting(sched(), 100, &r, &t) == RAWTASK_STATUS_OK);
    RawtaskWaker *w = rawtask_runnable_waker(r);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK); /* idle, the waker holds it */
    CHECK(rawtask_task_free(t) == RAWTASK_STATUS_OK);   /* cancels: one last run queued */
    run_all(&queue);
    CHECK(fixture_live_futures() == live);
    CHECK(rawtask_waker_wake(w) == RAWTASK_STATUS_OK); /* closed: nothing to do; frees it */
    CHECK(queue.len == 0);
}

static void case_detach(void) {
    int64_t live = fixture_live_futures();
    RawtaskRunnable *r;
    RawtaskTask t;
    CHECK(fixture_spawn_value(sched(), 0, 4, &r, &t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_task_detach(t) == RAWTASK_STATUS_OK);
    CHECK(rawtask_runnable_run(r) == RAWTASK_STATUS_OK); /* completes; the output is dropped */
    CHECK(fixture_live_futures() == live);
}

#define CASE(f)                                                                             \
    do {                                                                                    \
        current_case = #f;                                                                  \
        int before = failures;                                                              \
        f();                                                                                \
        CHECK(queue.len == 0);                                                              \
        printf("%s %s\n", failures == before ? "ok  " : "FAIL", #f);                        \
        cases++;                                                                            \
    } while (0)

int main(void) {
    int cases = 0;
    CASE(case_abi);
    CASE(case_null_runnables_and_wakers);
    CASE(case_null_task_handles);
    CASE(case_null_schedule_callback);
    CASE(case_last_error_buffers);
    CASE(case_data_slot);
    CASE(case_poll_arguments);
    CASE(case_poll_after_completion);
    CASE(case_double_free_and_use_after_free);
    CASE(case_stale_handle_after_reuse);
    CASE(case_free_running_task);
    CASE(case_cancel_scheduled_task);
    CASE(case_cancel_idle_task);
    CASE(case_cancel_after_completion);
    CASE(case_reentrant_use_from_the_schedule_callback);
    CASE(case_drop_runnable);
    CASE(case_panic_propagated);
    CASE(case_panic_not_propagated);
    CASE(case_panicking_rust_schedule_function);
    CASE(case_yield);
    CASE(case_wakers);
    CASE(case_last_waker_of_a_freed_task);
    CASE(case_detach);
    current_case = "end";
    CHECK(fixture_live_futures() == 0);
    if (failures) {
        fprintf(stderr, "misuse: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("misuse: ok: %d cases, %d checks\n", cases, checks);
    return 0;
}
