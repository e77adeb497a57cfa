/*
 * A libuv event loop driving thousands of Rust tasks through rawtask's C API.
 *
 * The loop thread is a uv loop. Rust tasks are spawned onto a loop scheduler
 * (internal/interop/bridge: rawtask_home_new with uv_async_send as its notify; the async's callback
 * drains it), and use timers (Rust's worker thread), channels (between two tasks of the loop,
 * and fed from another thread), yields, and wakes from uv timers on the loop thread; some are
 * cancelled by uv timers; some run on the bridge's worker thread instead of the loop ("offload"),
 * so they finish there. Each task is awaited as a "future" of the loop: a completion callback
 * registered with rawtask_task_on_complete resolves it, marshalled to the loop thread if it ever
 * runs elsewhere. Every output is checked, every task must resolve exactly once, and the loop
 * ends clean: every handle closed, uv_loop_close returns 0, no Rust future alive.
 *
 *   uv_driver [TASKS]             the test (default 4000, or INTEROP_UV_TASKS)
 *   uv_driver bench N YIELDS      N tasks of YIELDS yields each, driven by libuv
 *   uv_driver bench-plain N YIELDS  the same tasks driven by a plain C loop (a mutex-protected
 *                                 FIFO fed by a RawtaskSchedule callback, as
 *                                 internal/c-tests/c/event_loop.c)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "interop_bridge.h"
#include "rawtask.h"

static int failures;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            if (failures++ < 20) {                                                          \
                fprintf(stderr, "uv_driver: FAILED %s (line %d): ", #cond, __LINE__);       \
                fprintf(stderr, __VA_ARGS__);                                               \
                fputc('\n', stderr);                                                        \
            }                                                                               \
        }                                                                                   \
    } while (0)

static void print_last_error(const char *what) {
    char buf[256];
    if (rawtask_last_error_message(buf, (int)sizeof buf) < 0) strcpy(buf, "(no message)");
    fprintf(stderr, "uv_driver: %s: %s\n", what, buf);
}

/* ----- the loop: a uv_async_t that drains the Rust tasks, and one for marshalled completions */

enum Kind { SLEEP, YIELDS, CHANNEL, PIPELINE, SIGNAL, CANCEL, OFFLOAD, KINDS };
static const char *kind_names[KINDS] = {"sleep",  "yields", "channel", "pipeline",
                                        "signal", "cancel", "offload"};

typedef struct Future Future;
/* What a resolved future calls: the outcome of the task. */
typedef void (*Then)(Future *f, RawtaskStatus status, uint64_t value);

struct Future {
    RawtaskTask task;
    enum Kind kind;
    uint32_t index;
    uint64_t expected;
    int resolved;
    Then then;
    uv_timer_t timer; /* for SIGNAL (fires the signal) and CANCEL (cancels the task) */
    int timer_used;
    InteropSignal *signal;
    Future *next_marshalled;
};

typedef struct {
    uv_loop_t loop;
    uv_async_t drain_async;    /* notify: wakes the loop to drain the Rust tasks */
    uv_async_t marshal_async;  /* completions that ran off the loop thread */
    uv_timer_t watchdog;
    uv_thread_t thread;
    RawtaskHome *tasks;
    uv_mutex_t marshal_lock;
    Future *marshalled;
    size_t expected, resolved, closing, drains, batches_pending, marshal_count, off_thread;
    size_t per_kind[KINDS];
    int finished;
} Driver;

static Driver driver;

/* The benchmark's tasks resolve through bench_complete, which counts them here. */
static size_t bench_done;
static uint64_t bench_sum;

static void notify(void *context) {
    /* Any thread, with the scheduler's lock held: only wake the loop. */
    uv_async_send((uv_async_t *)context);
}

static void on_closed(uv_handle_t *handle) {
    (void)handle;
    driver.closing--;
}

static void close_handle(uv_handle_t *handle) {
    driver.closing++;
    uv_close(handle, on_closed);
}

/* Everything resolved: free the scheduler (never inside a drain) and close every handle. */
static void finish(void) {
    if (driver.finished || driver.resolved + bench_done < driver.expected) return;
    driver.finished = 1;
    CHECK(rawtask_home_free(driver.tasks) == RAWTASK_STATUS_OK, "rawtask_home_free");
    driver.tasks = NULL;
    close_handle((uv_handle_t *)&driver.drain_async);
    close_handle((uv_handle_t *)&driver.marshal_async);
    close_handle((uv_handle_t *)&driver.watchdog);
}

/* Resolves a future on the loop thread: polls the finished task once, frees it, calls `then`. */
static void resolve(Future *f) {
    uint64_t value = 0;
    RawtaskStatus status = rawtask_task_poll(f->task, &value, sizeof value);
    CHECK(rawtask_task_free(f->task) == RAWTASK_STATUS_OK, "task %u: free", f->index);
    CHECK(!f->resolved, "task %u resolved twice", f->index);
    f->resolved = 1;
    driver.resolved++;
    f->then(f, status, value);
}

/* The completion callback: exactly once per task, on the thread that finished it. */
static void on_complete(void *context, RawtaskTask task) {
    Future *f = context;
    CHECK(task.id == f->task.id, "task %u: callback for another handle", f->index);
    uv_thread_t self = uv_thread_self();
    if (uv_thread_equal(&self, &driver.thread)) {
        resolve(f);
        return;
    }
    /* Off the loop thread: hand it to the loop. */
    uv_mutex_lock(&driver.marshal_lock);
    f->next_marshalled = driver.marshalled;
    driver.marshalled = f;
    driver.off_thread++;
    uv_mutex_unlock(&driver.marshal_lock);
    uv_async_send(&driver.marshal_async);
}

static void on_marshal(uv_async_t *handle) {
    (void)handle;
    uv_mutex_lock(&driver.marshal_lock);
    Future *list = driver.marshalled;
    driver.marshalled = NULL;
    uv_mutex_unlock(&driver.marshal_lock);
    for (; list; list = list->next_marshalled) {
        driver.marshal_count++;
        resolve(list);
    }
    finish();
}

static void on_drain(uv_async_t *handle) {
    size_t ran = 0;
    RawtaskStatus status = rawtask_home_drain(driver.tasks, 1024, &ran);
    driver.drains++;
    if (status == RAWTASK_STATUS_PENDING) {
        /* More queued: come back after the loop's other callbacks had their turn. */
        driver.batches_pending++;
        uv_async_send(handle);
    } else if (status != RAWTASK_STATUS_OK) {
        print_last_error("rawtask_home_drain");
        CHECK(0, "drain returned %d", (int)status);
    }
    finish();
}

static void on_watchdog(uv_timer_t *timer) {
    (void)timer;
    fprintf(stderr, "uv_driver: watchdog: %zu of %zu tasks resolved; stopping the loop\n",
            driver.resolved, driver.expected);
    failures++;
    uv_stop(&driver.loop);
}

/* ----- the tasks ----- */

static void then_check(Future *f, RawtaskStatus status, uint64_t value) {
    if (f->kind == CANCEL) {
        CHECK(status == RAWTASK_STATUS_CANCELLED, "task %u (cancel): status %d", f->index,
              (int)status);
    } else {
        CHECK(status == RAWTASK_STATUS_READY, "task %u (%s): status %d", f->index,
              kind_names[f->kind], (int)status);
        CHECK(value == f->expected, "task %u (%s): value %llu, expected %llu", f->index,
              kind_names[f->kind], (unsigned long long)value, (unsigned long long)f->expected);
    }
    driver.per_kind[f->kind]++;
    if (f->timer_used) close_handle((uv_handle_t *)&f->timer);
}

static void on_signal_timer(uv_timer_t *timer) {
    Future *f = timer->data;
    CHECK(interop_signal_fire(f->signal, f->index) == RAWTASK_STATUS_OK, "task %u: fire",
          f->index);
    f->signal = NULL;
}

static void on_cancel_timer(uv_timer_t *timer) {
    Future *f = timer->data;
    CHECK(rawtask_task_cancel(f->task) == RAWTASK_STATUS_OK, "task %u: cancel", f->index);
}

static uint64_t sum_from(uint64_t n, uint64_t seed) { return n * seed + n * (n - 1) / 2; }

static void spawn(Future *f, uint32_t i) {
    RawtaskHome *lp = driver.tasks;
    f->index = i;
    f->kind = (enum Kind)(i % KINDS);
    f->then = then_check;
    switch (f->kind) {
    case SLEEP:
        f->expected = 3 * (uint64_t)i;
        f->task = interop_spawn_sleep_then_value(lp, 1 + i % 5, f->expected);
        break;
    case YIELDS:
        f->expected = i % 7;
        f->task = interop_spawn_yields(lp, i % 7);
        break;
    case CHANNEL:
        f->expected = sum_from(1 + i % 4, i);
        f->task = interop_spawn_channel_sum(lp, 1 + i % 4, i);
        break;
    case PIPELINE:
        f->expected = sum_from(1 + i % 5, 2 * (uint64_t)i);
        f->task = interop_spawn_pipeline(lp, 1 + i % 5, 2 * (uint64_t)i);
        break;
    case SIGNAL:
        f->expected = (uint64_t)i + 1;
        f->task = interop_spawn_wait_signal(lp, &f->signal);
        break;
    case CANCEL:
        f->task = interop_spawn_pending(lp);
        break;
    case OFFLOAD:
        /* Runs on the bridge's worker thread: it finishes there, so its completion is
         * marshalled back to the loop (on_complete -> marshal_async). */
        f->expected = sum_from(1 + i % 3, 5 * (uint64_t)i);
        f->task = interop_spawn_offload(1 + i % 3, 5 * (uint64_t)i);
        break;
    default:
        abort();
    }
    if (f->task.id == 0) {
        print_last_error("spawn");
        CHECK(0, "task %u: spawn failed", i);
        return;
    }
    if (f->kind == SIGNAL || f->kind == CANCEL) {
        uv_timer_init(&driver.loop, &f->timer);
        f->timer.data = f;
        f->timer_used = 1;
        uv_timer_start(&f->timer, f->kind == SIGNAL ? on_signal_timer : on_cancel_timer,
                       1 + i % 4, 0);
    }
    RawtaskStatus status = rawtask_task_on_complete(f->task, on_complete, f);
    CHECK(status == RAWTASK_STATUS_OK, "task %u: on_complete returned %d", i, (int)status);
}

static int init_driver(size_t expected) {
    memset(&driver, 0, sizeof driver);
    driver.expected = expected;
    driver.thread = uv_thread_self();
    if (uv_loop_init(&driver.loop) != 0) return -1;
    uv_mutex_init(&driver.marshal_lock);
    uv_async_init(&driver.loop, &driver.drain_async, on_drain);
    uv_async_init(&driver.loop, &driver.marshal_async, on_marshal);
    driver.tasks = rawtask_home_new(notify, &driver.drain_async);
    uv_timer_init(&driver.loop, &driver.watchdog);
    uv_timer_start(&driver.watchdog, on_watchdog, 300000, 0);
    uv_unref((uv_handle_t *)&driver.watchdog); /* it never keeps the loop alive */
    return driver.tasks ? 0 : -1;
}

static void close_left(uv_handle_t *handle, void *arg) {
    (void)arg;
    if (!uv_is_closing(handle)) close_handle(handle);
}

/* Runs the loop to the end and checks the clean exit. */
static void run_and_close(void) {
    uv_run(&driver.loop, UV_RUN_DEFAULT);
    if (!driver.finished) {
        /* The watchdog stopped it: close what is left so the loop can be closed anyway. */
        if (driver.tasks) rawtask_home_free(driver.tasks);
        driver.tasks = NULL;
        uv_walk(&driver.loop, close_left, NULL);
        uv_run(&driver.loop, UV_RUN_DEFAULT);
    }
    CHECK(driver.closing == 0, "%zu handles still closing", driver.closing);
    int closed = uv_loop_close(&driver.loop);
    CHECK(closed == 0, "uv_loop_close returned %d (%s)", closed, uv_strerror(closed));
    uv_mutex_destroy(&driver.marshal_lock);
    interop_shutdown();
    CHECK(interop_live_futures() == 0, "%lld Rust futures still alive",
          (long long)interop_live_futures());
}

static int run_test(uint32_t tasks) {
    if (init_driver(tasks) != 0) {
        fprintf(stderr, "uv_driver: setting up the loop failed\n");
        return 1;
    }
    Future *futures = calloc(tasks, sizeof *futures);
    if (!futures) abort();
    for (uint32_t i = 0; i < tasks && failures == 0; i++) spawn(&futures[i], i);
    run_and_close();
    for (uint32_t i = 0; i < tasks; i++) {
        if (!futures[i].resolved && failures++ < 20)
            fprintf(stderr, "uv_driver: task %u (%s) was lost\n", i, kind_names[futures[i].kind]);
    }
    free(futures);
    /* Offloaded tasks finish on the worker thread; one registered before it finished must have
     * come back through the marshalling path (one finished already completes at registration,
     * on the loop thread: at least one of thousands does not). */
    if (driver.per_kind[OFFLOAD] >= 16)
        CHECK(driver.marshal_count > 0 && driver.marshal_count == driver.off_thread,
              "%zu of %zu offloaded completions marshalled, %zu off the loop thread",
              driver.marshal_count, driver.per_kind[OFFLOAD], driver.off_thread);
    if (failures) {
        fprintf(stderr, "uv_driver: %d checks failed\n", failures);
        return 1;
    }
    printf("uv_driver: ok: %u tasks resolved (", tasks);
    for (int k = 0; k < KINDS; k++) printf("%s%s %zu", k ? ", " : "", kind_names[k], driver.per_kind[k]);
    printf("); %zu drains (%zu re-armed), %zu completions marshalled from other threads; "
           "uv_loop_close 0\n",
           driver.drains, driver.batches_pending, driver.marshal_count);
    return 0;
}

/* ----- the benchmark: libuv vs a plain C loop, same tasks ----- */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_complete(void *context, RawtaskTask task) {
    (void)context;
    uint64_t value = 0;
    if (rawtask_task_poll(task, &value, sizeof value) == RAWTASK_STATUS_READY) bench_sum += value;
    rawtask_task_free(task);
    bench_done++;
}

static int run_bench_uv(uint32_t n, uint32_t yields) {
    if (init_driver(n) != 0) return 1;
    double start = now_seconds();
    for (uint32_t i = 0; i < n; i++) {
        RawtaskTask t = interop_spawn_yields(driver.tasks, yields);
        if (rawtask_task_on_complete(t, bench_complete, NULL) != RAWTASK_STATUS_OK) abort();
    }
    run_and_close();
    double elapsed = now_seconds() - start;
    CHECK(bench_sum == (uint64_t)n * yields, "sum %llu", (unsigned long long)bench_sum);
    printf("bench libuv: %u tasks x %u yields in %.3f s (%.1f ns/task)\n", n, yields, elapsed,
           elapsed * 1e9 / n);
    return failures != 0;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    RawtaskRunnable **items;
    size_t head, len, cap;
} Fifo;

static void fifo_schedule(void *context, RawtaskRunnable *runnable, uint32_t flags) {
    (void)flags;
    Fifo *q = context;
    pthread_mutex_lock(&q->lock);
    if (q->len == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 1024;
        RawtaskRunnable **items = malloc(cap * sizeof *items);
        if (!items) abort();
        for (size_t i = 0; i < q->len; i++) items[i] = q->items[(q->head + i) % q->cap];
        free(q->items);
        q->items = items, q->cap = cap, q->head = 0;
    }
    q->items[(q->head + q->len++) % q->cap] = runnable;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

static int run_bench_plain(uint32_t n, uint32_t yields) {
    Fifo q;
    memset(&q, 0, sizeof q);
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.nonempty, NULL);
    RawtaskSchedule sched = {.schedule = fifo_schedule, .context = &q};
    double start = now_seconds();
    for (uint32_t i = 0; i < n; i++) {
        RawtaskRunnable *r = NULL;
        RawtaskTask t = interop_spawn_yields_c(sched, yields, &r);
        if (rawtask_task_on_complete(t, bench_complete, NULL) != RAWTASK_STATUS_OK) abort();
        rawtask_runnable_schedule(r);
    }
    while (bench_done < n) {
        pthread_mutex_lock(&q.lock);
        while (q.len == 0) pthread_cond_wait(&q.nonempty, &q.lock);
        RawtaskRunnable *r = q.items[q.head];
        q.head = (q.head + 1) % q.cap, q.len--;
        pthread_mutex_unlock(&q.lock);
        rawtask_runnable_run(r);
    }
    double elapsed = now_seconds() - start;
    free(q.items);
    pthread_mutex_destroy(&q.lock);
    pthread_cond_destroy(&q.nonempty);
    interop_shutdown();
    CHECK(bench_sum == (uint64_t)n * yields, "sum %llu", (unsigned long long)bench_sum);
    CHECK(interop_live_futures() == 0, "futures alive");
    printf("bench plain: %u tasks x %u yields in %.3f s (%.1f ns/task)\n", n, yields, elapsed,
           elapsed * 1e9 / n);
    return failures != 0;
}

int main(int argc, char **argv) {
    if (RAWTASK_CHECK_ABI() != RAWTASK_STATUS_OK) {
        print_last_error("RAWTASK_CHECK_ABI");
        return 1;
    }
    if (argc >= 2 && (strcmp(argv[1], "bench") == 0 || strcmp(argv[1], "bench-plain") == 0)) {
        uint32_t n = argc >= 3 ? (uint32_t)strtoul(argv[2], NULL, 10) : 1000000;
        uint32_t yields = argc >= 4 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1;
        return strcmp(argv[1], "bench") == 0 ? run_bench_uv(n, yields) : run_bench_plain(n, yields);
    }
    const char *env = getenv("INTEROP_UV_TASKS");
    uint32_t tasks = argc >= 2 ? (uint32_t)strtoul(argv[1], NULL, 10)
                     : env     ? (uint32_t)strtoul(env, NULL, 10)
                               : 4000;
    return run_test(tasks);
}
