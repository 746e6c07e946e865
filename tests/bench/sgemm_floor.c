/* hitl_sgemm_floor N D C [--block-rows B]: OpenBLAS cblas_sgemm on the head path's shapes, all in
 * memory: logits[B, C] = X[B, D] W[D, C] for every block of an [N, D] matrix, the ceiling the
 * benchmark compares `hitl score --features --head` with. Prints seconds and GFLOP/s as JSON. */
#include <cblas.h>
#include <stdint.h>
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

/* Fills v with uniform floats in [-1, 1) from a fixed xorshift stream (no libc rand). */
static void fill(float *v, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = (float)((double)(s >> 40) / (double)(1ull << 23)) - 1.0f;
    }
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v <= 0) return -1;
    *out = (size_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    size_t dims[3], nd = 0, block = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--block-rows") == 0 && i + 1 < argc) {
            if (parse_size(argv[++i], &block)) nd = 9;
        } else if (nd < 3 && parse_size(argv[i], &dims[nd]) == 0) {
            nd++;
        } else {
            nd = 9;
        }
    }
    if (nd != 3) {
        fprintf(stderr, "usage: hitl_sgemm_floor N D C [--block-rows B]\n");
        return 2;
    }
    size_t n = dims[0], d = dims[1], c = dims[2];
    if (block == 0) block = hitl_block_rows(d);
    if (block > n) block = n;

    float *x = malloc(n * d * sizeof *x), *w = malloc(d * c * sizeof *w);
    float *b = malloc(c * sizeof *b), *out = malloc(block * c * sizeof *out);
    if (!x || !w || !b || !out) {
        fprintf(stderr, "hitl_sgemm_floor: out of memory\n");
        return 1;
    }
    fill(x, n * d, 1);
    fill(w, d * c, 2);
    fill(b, c, 3);

    /* Warm-up block (thread pool start, page faults on `out`), then the timed pass. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)block, (int)c, (int)d, 1.0f, x,
                (int)d, w, (int)c, 0.0f, out, (int)c);
    double t0 = now_seconds();
    for (size_t r = 0; r < n; r += block) {
        size_t m = n - r < block ? n - r : block;
        /* beta = 1 over a bias-filled block: the same work as X W + b. */
        for (size_t i = 0; i < m; i++)
            memcpy(out + i * c, b, c * sizeof *b);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)c, (int)d, 1.0f,
                    x + r * d, (int)d, w, (int)c, 1.0f, out, (int)c);
    }
    double elapsed = now_seconds() - t0;
    double flops = 2.0 * (double)n * (double)d * (double)c;
    printf("{\"rows\": %zu, \"d\": %zu, \"c\": %zu, \"block_rows\": %zu, \"seconds\": %.6f, "
           "\"gflops\": %.2f, \"openblas_threads\": %d}\n",
           n, d, c, block, elapsed, flops / elapsed * 1e-9, openblas_get_num_threads());
    free(x);
    free(w);
    free(b);
    free(out);
    return 0;
}
