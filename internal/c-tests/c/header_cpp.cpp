// include/rawtask.h compiled as C++11 (internal/c-tests/tests/header.rs, with -pedantic
// -Werror):
// the header sets cpp_compat, so it must be valid C++, RawtaskTask_NULL included (cbindgen
// writes it as a C compound literal; the header's trailer redefines it for C++).

#define RAWTASK_DECLARE_FFI_HELPERS_NAMES
#include "rawtask.h"

static_assert(RawtaskTask_NULL.id == 0, "RawtaskTask_NULL is the null handle");

int main() {
    RawtaskTask task = RawtaskTask_NULL;
    RawtaskStatus (*free_task)(RawtaskTask) = rawtask_task_free;
    int (*length)(void) = last_error_length;
    (void)free_task;
    (void)length;
    return static_cast<int>(task.id);
}
