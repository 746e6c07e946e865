/* hitl_read_floor FILE... DSET [--block-rows N]: the benchmark's read floor. Reads every row of a
 * matrix through the same io reader and block size as `hitl score`, computing nothing, and prints
 * the elapsed seconds: with a features dataset it is "the time to read X once". Several files are
 * shards of one pool, opened as `hitl score FILE...` opens them (hitl_matrix_open_shards). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hitl_io.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage(void)
{
    fprintf(stderr, "usage: hitl_read_floor FILE... DSET [--block-rows N]\n"
                    "  DSET '-' opens FILE as .npy; several files are shards of one pool\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *paths[64], *dset = NULL;
    size_t npos = 0, block = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--block-rows") == 0 && i + 1 < argc) {
            char *end;
            long long v = strtoll(argv[++i], &end, 10);
            if (*end || v <= 0) return usage();
            block = (size_t)v;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (npos < sizeof(paths) / sizeof(*paths)) {
            paths[npos++] = argv[i];
        } else {
            return usage();
        }
    }
    if (npos < 2) return usage();
    dset = paths[--npos]; /* the last positional names the dataset */
    if (strcmp(dset, "-") == 0) dset = NULL;

    double t0 = now_seconds();
    hitl_error err;
    hitl_error_clear(&err);
    hitl_matrix *m = NULL;
    if (hitl_matrix_open_shards(&m, paths, npos, dset, &err) != HITL_OK) {
        fprintf(stderr, "hitl_read_floor: %s\n", err.msg);
        return err.status == HITL_EIO ? 1 : 3;
    }
    size_t rows = hitl_matrix_rows(m), cols = hitl_matrix_cols(m);
    if (block == 0) block = hitl_block_rows(cols);
    if (block > rows && rows > 0) block = rows;
    float *buf = malloc(block * cols * sizeof *buf);
    if (!buf) {
        fprintf(stderr, "hitl_read_floor: out of memory for %zu x %zu floats\n", block, cols);
        hitl_matrix_close(m);
        return 1;
    }
    /* One reused buffer, the same hyperslab blocks as the score pass; nothing else touched. */
    for (size_t r = 0; r < rows; r += block) {
        size_t n = rows - r < block ? rows - r : block;
        if (hitl_matrix_read(m, r, n, buf, &err) != HITL_OK) {
            fprintf(stderr, "hitl_read_floor: %s\n", err.msg);
            free(buf);
            hitl_matrix_close(m);
            return 3;
        }
    }
    hitl_matrix_close(m);
    double elapsed = now_seconds() - t0;
    free(buf);
    printf("{\"rows\": %zu, \"cols\": %zu, \"block_rows\": %zu, \"seconds\": %.6f}\n", rows, cols,
           block, elapsed);
    return 0;
}
