/* libFuzzer harness for the IDX reader (io/idx.c): the input is a whole IDX file, plain or
 * gzipped; a file that reads must have a consistent shape and, when plain, exactly its size. */
#include "fuzz_util.h"
#include "hitl_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile(data, size, ".idx");
    if (!path) return 0;
    hitl_idx x;
    hitl_error err;
    if (hitl_idx_read(path, &x, &err) != HITL_OK) {
        if (x.values || x.rows || x.rank) __builtin_trap(); /* released on failure */
        return 0;
    }
    if (x.rank < 1 || x.rank > HITL_IDX_MAX_RANK || !x.values || !x.type) __builtin_trap();
    size_t rows = x.dims[0], cols = 1;
    for (int i = 1; i < x.rank; i++)
        cols *= x.dims[i];
    if (rows != x.rows || cols != x.cols) __builtin_trap();
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz) { /* a plain file holds the header and every value, nothing more */
        size_t elem = data[2] == 0x0B                      ? 2
                      : data[2] == 0x0C || data[2] == 0x0D ? 4
                      : data[2] == 0x0E                    ? 8
                                                           : 1;
        if (rows * cols > size || 4 + 4 * (size_t)x.rank + rows * cols * elem != size)
            __builtin_trap();
    }
    volatile float sink = 0;
    for (size_t i = 0; i < rows * cols; i++)
        sink += x.values[i];
    (void)sink;
    hitl_idx_release(&x);
    return 0;
}
