#ifndef RAWTASK_C_TESTS_BACKGROUND_H
#define RAWTASK_C_TESTS_BACKGROUND_H

/* The functions internal/c-tests/src/background.rs generates with rawtask's export_task! and
 * export_error_handling_functions! macros. cbindgen cannot see functions made by macros, so
 * these declarations are written by hand, from the table in export_task!'s documentation. */

#include <stdint.h>

#include "rawtask.h" /* RAWTASK_BACKGROUND_READY, _PENDING, _ERROR: prime_count_try_poll's statuses */

/* The job: counts the primes below `limit` (0 is an error; UINT64_MAX runs until cancelled). */
typedef struct PrimeCount {
    uint64_t limit;
} PrimeCount;

/* Opaque: a rawtask::background::TaskHandle<uint64_t>. */
typedef struct PrimeCountHandle PrimeCountHandle;

PrimeCountHandle *prime_count_spawn(const PrimeCount *task);
uint64_t *prime_count_poll(PrimeCountHandle *handle);
int prime_count_try_poll(PrimeCountHandle *handle, uint64_t **result);
uint64_t *prime_count_wait(PrimeCountHandle *handle);
void prime_count_cancel(PrimeCountHandle *handle);
int prime_count_cancelled(PrimeCountHandle *handle);
void prime_count_handle_destroy(PrimeCountHandle *handle);
void prime_count_result_destroy(uint64_t *result);

/* ffi_helpers' error-handling names. */
int last_error_length(void);
int last_error_length_utf16(void);
int error_message_utf8(char *buf, int length);
int error_message_utf16(uint16_t *buf, int length);
void clear_last_error(void);

#endif
