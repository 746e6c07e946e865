/* Times k-center greedy in-process for tests/bench/bench_simulate.py: loads a float32 matrix
 * [N, D] from a .npy file, then picks K rows with hitl_kcenter_greedy R times and prints JSON
 * with each run's seconds and the picks (so the script can check them against numpy's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hitl_io.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hitl_kcenter_bench FILE.npy K [--repeats R]\n");
        return 2;
    }
    size_t k = strtoull(argv[2], NULL, 10);
    int repeats = argc > 4 && strcmp(argv[3], "--repeats") == 0 ? atoi(argv[4]) : 3;
    hitl_error err;
    hitl_matrix *m;
    float *x;
    if (hitl_matrix_open(&m, argv[1], NULL, &err) != HITL_OK ||
        hitl_matrix_load(m, &x, &err) != HITL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t n = hitl_matrix_rows(m), d = hitl_matrix_cols(m), got = 0;
    hitl_matrix_close(m);
    int64_t *out = malloc(k * sizeof(int64_t));
    printf("{\"n\": %zu, \"d\": %zu, \"k\": %zu, \"seconds\": [", n, d, k);
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        if (hitl_kcenter_greedy(x, n, d, k, NULL, out, NULL, &got, &err) != HITL_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("%s%.6f", r ? ", " : "", now() - t0);
    }
    printf("], \"picks\": [");
    for (size_t i = 0; i < got; i++)
        printf("%s%lld", i ? ", " : "", (long long)out[i]);
    printf("]}\n");
    free(out);
    free(x);
    return 0;
}
