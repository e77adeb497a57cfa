/*
 * Cancellation tokens from C: a tree of tokens with callbacks, cancelled from another pthread;
 * every callback must run exactly once (and free its heap context: valgrind checks that none
 * leaks and none is freed twice). Then the misuse cases: null and stale handles, null
 * pointers, double free, callbacks that free their own token or register more callbacks.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "rawtask.h"

static int checks, failures;

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        checks++;                                                                           \
        if (!(cond)) {                                                                      \
            failures++;                                                                     \
            fprintf(stderr, "tokens: FAILED (line %d): %s\n", __LINE__, #cond);             \
        }                                                                                   \
    } while (0)

/* Per-token call counts: [0] not cancelled, [1] cancelled. */
typedef struct {
    int calls[2];
} Counts;

/* A heap context per registration: the callback counts, then frees it. */
typedef struct {
    Counts *counts;
} Registration;

static void on_cancel(void *context, bool cancelled) {
    Registration *r = context;
    r->counts->calls[cancelled ? 1 : 0]++;
    free(r);
}

static RawtaskStatus register_counting(RawtaskToken token, Counts *counts) {
    Registration *r = malloc(sizeof *r);
    if (!r) abort();
    r->counts = counts;
    RawtaskStatus status = rawtask_token_on_cancel(token, on_cancel, r);
    if (status != RAWTASK_STATUS_OK) free(r); /* never called: the context is still ours */
    return status;
}

#define CHILDREN 3
#define GRANDCHILDREN 2
#define TOKENS (1 + CHILDREN + CHILDREN * GRANDCHILDREN)

static void *cancel_thread(void *arg) {
    RawtaskToken *root = arg;
    RawtaskStatus *status = malloc(sizeof *status);
    *status = rawtask_token_cancel(*root);
    return status;
}

static void case_tree_cancelled_from_another_thread(void) {
    RawtaskToken tokens[TOKENS];
    Counts counts[TOKENS] = {{{0, 0}}};
    int n = 0;
    CHECK(rawtask_token_new(&tokens[n++]) == RAWTASK_STATUS_OK);
    for (int c = 0; c < CHILDREN; c++) {
        int child = n;
        CHECK(rawtask_token_child(tokens[0], &tokens[n++]) == RAWTASK_STATUS_OK);
        for (int g = 0; g < GRANDCHILDREN; g++)
            CHECK(rawtask_token_child(tokens[child], &tokens[n++]) == RAWTASK_STATUS_OK);
    }
    CHECK(n == TOKENS);
    /* Two callbacks on every token. */
    for (int i = 0; i < TOKENS; i++) {
        CHECK(register_counting(tokens[i], &counts[i]) == RAWTASK_STATUS_OK);
        CHECK(register_counting(tokens[i], &counts[i]) == RAWTASK_STATUS_OK);
    }
    /* Cancelling one child reaches only its subtree. */
    CHECK(rawtask_token_cancel(tokens[1]) == RAWTASK_STATUS_OK);
    bool cancelled = true;
    CHECK(rawtask_token_is_cancelled(tokens[0], &cancelled) == RAWTASK_STATUS_OK && !cancelled);
    for (int i = 1; i <= GRANDCHILDREN + 1; i++) CHECK(counts[i].calls[1] == 2);

    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, cancel_thread, &tokens[0]) == 0);
    void *result;
    CHECK(pthread_join(thread, &result) == 0);
    CHECK(*(RawtaskStatus *)result == RAWTASK_STATUS_OK);
    free(result);
    for (int i = 0; i < TOKENS; i++) {
        CHECK(counts[i].calls[0] == 0);
        CHECK(counts[i].calls[1] == 2);
        CHECK(rawtask_token_is_cancelled(tokens[i], &cancelled) == RAWTASK_STATUS_OK && cancelled);
    }
    /* Registering on a cancelled token calls at once, on this thread. */
    CHECK(register_counting(tokens[TOKENS - 1], &counts[TOKENS - 1]) == RAWTASK_STATUS_OK);
    CHECK(counts[TOKENS - 1].calls[1] == 3);
    /* Freeing after the cancel calls nothing more. */
    for (int i = 0; i < TOKENS; i++) CHECK(rawtask_token_free(tokens[i]) == RAWTASK_STATUS_OK);
    for (int i = 0; i < TOKENS - 1; i++) CHECK(counts[i].calls[0] == 0 && counts[i].calls[1] == 2);
}

static void case_free_before_cancel(void) {
    RawtaskToken parent, child;
    Counts counts = {{0, 0}};
    CHECK(rawtask_token_new(&parent) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_child(parent, &child) == RAWTASK_STATUS_OK);
    CHECK(register_counting(child, &counts) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_free(child) == RAWTASK_STATUS_OK);
    CHECK(counts.calls[0] == 1 && counts.calls[1] == 0); /* called at the free: not cancelled */
    CHECK(rawtask_token_cancel(parent) == RAWTASK_STATUS_OK);
    CHECK(counts.calls[0] == 1 && counts.calls[1] == 0);
    CHECK(rawtask_token_free(parent) == RAWTASK_STATUS_OK);
}

static void case_misuse(void) {
    RawtaskToken token, stale;
    Counts counts = {{0, 0}};
    bool flag;
    CHECK(rawtask_token_new(NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_token_new(&stale) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_free(stale) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_free(stale) == RAWTASK_STATUS_INVALID_HANDLE); /* double free */
    CHECK(rawtask_token_cancel(stale) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_token_is_cancelled(stale, &flag) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(register_counting(stale, &counts) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_token_child(stale, &token) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_token_cancel(RawtaskToken_NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_token_free(RawtaskToken_NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    RawtaskToken forged = {UINT64_MAX};
    CHECK(rawtask_token_free(forged) == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(rawtask_token_new(&token) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_child(token, NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_token_is_cancelled(token, NULL) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_token_on_cancel(token, NULL, &counts) == RAWTASK_STATUS_INVALID_ARGUMENT);
    CHECK(rawtask_token_free(token) == RAWTASK_STATUS_OK);
    CHECK(counts.calls[0] == 0 && counts.calls[1] == 0);
}

/* Re-entrant callbacks: one frees its own token handle, one registers another callback. */
typedef struct {
    RawtaskToken token;
    Counts counts;
    RawtaskStatus free_status, register_status;
} Reentrant;

static void free_own_token(void *context, bool cancelled) {
    Reentrant *r = context;
    r->counts.calls[cancelled ? 1 : 0]++;
    r->free_status = rawtask_token_free(r->token);
}

static void register_more(void *context, bool cancelled) {
    Reentrant *r = context;
    r->counts.calls[cancelled ? 1 : 0]++;
    r->register_status = register_counting(r->token, &r->counts);
}

static void case_reentrant_callbacks(void) {
    Reentrant r = {RawtaskToken_NULL, {{0, 0}}, RAWTASK_STATUS_OK, RAWTASK_STATUS_OK};
    CHECK(rawtask_token_new(&r.token) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_on_cancel(r.token, register_more, &r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_on_cancel(r.token, free_own_token, &r) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_cancel(r.token) == RAWTASK_STATUS_OK);
    CHECK(r.free_status == RAWTASK_STATUS_OK);
    /* Either order: registered before the free (called at once), or after (rejected). */
    CHECK(r.register_status == RAWTASK_STATUS_OK ||
          r.register_status == RAWTASK_STATUS_INVALID_HANDLE);
    CHECK(r.counts.calls[0] == 0);
    CHECK(r.counts.calls[1] == (r.register_status == RAWTASK_STATUS_OK ? 3 : 2));
    CHECK(rawtask_token_free(r.token) == RAWTASK_STATUS_INVALID_HANDLE);

    /* Called at the free (not cancelled), and frees the handle again: already freed. */
    Reentrant s = {RawtaskToken_NULL, {{0, 0}}, RAWTASK_STATUS_OK, RAWTASK_STATUS_OK};
    CHECK(rawtask_token_new(&s.token) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_on_cancel(s.token, free_own_token, &s) == RAWTASK_STATUS_OK);
    CHECK(rawtask_token_free(s.token) == RAWTASK_STATUS_OK);
    CHECK(s.counts.calls[0] == 1 && s.counts.calls[1] == 0);
    CHECK(s.free_status == RAWTASK_STATUS_INVALID_HANDLE);
}

int main(void) {
    case_tree_cancelled_from_another_thread();
    case_free_before_cancel();
    case_misuse();
    case_reentrant_callbacks();
    if (failures) {
        fprintf(stderr, "tokens: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("tokens: ok (%d checks)\n", checks);
    return 0;
}
