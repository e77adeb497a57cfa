/* Background jobs from C: the functions export_task! generates for a prime-counting job.
 * Spawns a job and polls it until done, cancels a job that would run forever, collects a
 * failing job's error with try_poll, and reads every error through the buffer functions,
 * including their guards (null buffer, negative length, a buffer too small). The buffer
 * functions peek, as ffi_helpers' do: the error stays until clear_last_error(). Null
 * arguments behave as ffi_helpers' null_pointer_check!: the last error is set and the
 * function returns NULL, 0 or nothing. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "background.h"

_Static_assert(sizeof(PrimeCount) == 8, "PrimeCount is one uint64_t");

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "background.c:%d: check failed: %s\n", __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static void nap(void) {
    struct timespec t = {0, 100 * 1000}; /* 0.1 ms */
    nanosleep(&t, NULL);
}

/* The last error as a string (malloc'd, NULL if none), read with the buffer API, then
 * cleared. */
static char *take_error(void) {
    int length = last_error_length();
    if (length == 0) {
        return NULL;
    }
    CHECK(length > 0);
    char *buf = malloc((size_t)length);
    CHECK(error_message_utf8(buf, length) == length);
    CHECK(last_error_length() == length); /* reading peeks: the error is still there */
    clear_last_error();
    CHECK(last_error_length() == 0);
    return buf;
}

static void expect_error(const char *expected) {
    char *message = take_error();
    CHECK(message != NULL);
    if (message != NULL) {
        if (strcmp(message, expected) != 0) {
            fprintf(stderr, "expected error \"%s\", got \"%s\"\n", expected, message);
            failures++;
        }
        free(message);
    }
}

/* Spawn, poll until done (NULL + no error = still running), free. */
static void poll_until_done(void) {
    PrimeCount job = {200000};
    PrimeCountHandle *handle = prime_count_spawn(&job);
    CHECK(handle != NULL);
    CHECK(prime_count_cancelled(handle) == 0);
    uint64_t *result = NULL;
    long polls = 0;
    for (;;) {
        clear_last_error();
        result = prime_count_poll(handle);
        if (result != NULL) {
            break;
        }
        CHECK(last_error_length() == 0);
        polls++;
        nap();
    }
    CHECK(*result == 17984); /* primes below 200,000 */
    prime_count_result_destroy(result);
    printf("background: counted %d primes after %ld pending polls\n", 17984, polls);

    /* The result is taken: the next poll is NULL with a distinct error. */
    clear_last_error();
    CHECK(prime_count_poll(handle) == NULL);
    expect_error("the task's result has already been taken");
    prime_count_handle_destroy(handle);
}

/* Cancel a job that would never finish, then wait for it. */
static void cancel_forever(void) {
    PrimeCount job = {UINT64_MAX};
    PrimeCountHandle *handle = prime_count_spawn(&job);
    uint64_t *result = (uint64_t *)1;
    CHECK(prime_count_try_poll(handle, &result) == RAWTASK_BACKGROUND_PENDING);
    CHECK(result == NULL);
    CHECK(prime_count_cancelled(handle) == 0);
    prime_count_cancel(handle);
    CHECK(prime_count_cancelled(handle) == 1);
    clear_last_error();
    CHECK(prime_count_wait(handle) == NULL); /* frees the handle */
    expect_error("The task was cancelled");

    /* Destroying a running handle cancels its job too. */
    PrimeCountHandle *other = prime_count_spawn(&job);
    prime_count_handle_destroy(other);
}

/* A failing job, collected with try_poll; the error buffer's guards. */
static void failing_job_and_buffer_guards(void) {
    PrimeCount job = {0};
    PrimeCountHandle *handle = prime_count_spawn(&job);
    uint64_t *result = NULL;
    int status;
    while ((status = prime_count_try_poll(handle, &result)) == RAWTASK_BACKGROUND_PENDING) {
        nap();
    }
    CHECK(status == RAWTASK_BACKGROUND_ERROR);
    CHECK(result == NULL);

    const char *expected = "prime_count: the limit must be positive";
    int length = last_error_length();
    CHECK(length == (int)strlen(expected) + 1);
    CHECK(last_error_length_utf16() == length); /* ASCII: as many UTF-16 units as bytes */

    /* Guards: a null buffer, a negative or zero length, a buffer too small. None clobbers the
     * error; the small buffer receives a NUL-terminated prefix. */
    char small[6];
    CHECK(error_message_utf8(NULL, length) == -1);
    CHECK(error_message_utf8(small, -5) == -1);
    CHECK(error_message_utf8(small, 0) == -1);
    CHECK(error_message_utf8(small, (int)sizeof small) == -1);
    CHECK(strcmp(small, "prime") == 0);
    CHECK(last_error_length() == length);

    uint16_t wide[64];
    CHECK(error_message_utf16(wide, 64) == length);
    CHECK(wide[0] == 'p' && wide[length - 1] == 0);
    /* A successful copy peeks too: the error stays until cleared. */
    CHECK(error_message_utf8(small, (int)sizeof small) == -1);
    CHECK(last_error_length() == length);
    expect_error(expected); /* reads, then clears */
    prime_count_handle_destroy(handle);

    /* No error: 0, and a usable buffer still receives a NUL terminator. */
    CHECK(last_error_length() == 0);
    memset(small, 'x', sizeof small);
    CHECK(error_message_utf8(small, (int)sizeof small) == 0);
    CHECK(small[0] == '\0' && small[1] == 'x');
    wide[0] = 'x';
    wide[1] = 'x';
    CHECK(error_message_utf16(wide, 64) == 0);
    CHECK(wide[0] == 0 && wide[1] == 'x');

    /* Null arguments are errors, not crashes: the last error is set, and the function returns
     * NULL, 0 or nothing, as ffi_helpers' null_pointer_check! does. */
    CHECK(prime_count_spawn(NULL) == NULL);
    expect_error("a null pointer was passed as `task`");
    CHECK(prime_count_poll(NULL) == NULL);
    expect_error("a null pointer was passed as `handle`");
    CHECK(prime_count_wait(NULL) == NULL);
    expect_error("a null pointer was passed as `handle`");
    CHECK(prime_count_try_poll(NULL, &result) == RAWTASK_BACKGROUND_ERROR);
    expect_error("a null pointer was passed as `handle`");
    CHECK(prime_count_cancelled(NULL) == 0);
    expect_error("a null pointer was passed as `handle`");
    prime_count_cancel(NULL);
    expect_error("a null pointer was passed as `handle`");
    prime_count_handle_destroy(NULL);
    expect_error("a null pointer was passed as `handle`");
    prime_count_result_destroy(NULL);
    expect_error("a null pointer was passed as `result`");
}

int main(void) {
    poll_until_done();
    cancel_forever();
    failing_job_and_buffer_guards();
    if (failures != 0) {
        fprintf(stderr, "background: %d check(s) failed\n", failures);
        return 1;
    }
    printf("background: ok\n");
    return 0;
}
