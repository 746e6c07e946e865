/* Times the agreement engine in-process for tests/bench/bench_agreement.py: loads a dense int8
 * ratings matrix [N, A] (-1 = missing) written by numpy, then runs Krippendorff's alpha + every
 * pairwise Cohen kappa R times and prints JSON: on the ratings table built from the matrix's
 * triplets (the build timed apart), or with --input matrix on the matrix itself, as numpy's
 * runners get it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hitl_engine.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(
            stderr,
            "usage: hitl_agreement_bench FILE N A L [--repeats R] [--threads T] "
            "[--level nominal|ordinal|interval|ratio] [--input table|matrix] [--portable 0|1]\n");
        return 2;
    }
    size_t n = strtoull(argv[2], NULL, 10), A = strtoull(argv[3], NULL, 10);
    size_t L = strtoull(argv[4], NULL, 10);
    int repeats = 5, threads = 0;
    hitl_level level = HITL_LEVEL_NOMINAL;
    int on_matrix = 0, portable = 0;
    for (int i = 5; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--repeats") == 0)
            repeats = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--level") == 0 && hitl_level_parse(argv[i + 1], &level))
            return 2;
        else if (strcmp(argv[i], "--input") == 0)
            on_matrix = strcmp(argv[i + 1], "matrix") == 0;
        else if (strcmp(argv[i], "--portable") == 0)
            portable = atoi(argv[i + 1]);
    }
    signed char *m = malloc(n * A);
    FILE *f = fopen(argv[1], "rb");
    if (!m || !f || fread(m, 1, n * A, f) != n * A) {
        fprintf(stderr, "cannot read %zu x %zu int8 from %s\n", n, A, argv[1]);
        return 1;
    }
    fclose(f);
    int32_t *it = malloc(n * A * sizeof(int32_t)), *an = malloc(n * A * sizeof(int32_t));
    int32_t *lb = malloc(n * A * sizeof(int32_t));
    double *values = malloc(L * sizeof(double));
    for (size_t c = 0; c < L; c++)
        values[c] = (double)c + 1;
    size_t k = 0;
    for (size_t u = 0; u < n; u++)
        for (size_t a = 0; a < A; a++)
            if (m[u * A + a] >= 0) {
                it[k] = (int32_t)u;
                an[k] = (int32_t)a;
                lb[k++] = m[u * A + a];
            }
    hitl_ratings r;
    hitl_error err;
    double t0 = now();
    if (hitl_ratings_build(&r, n, A, L, it, an, lb, k, values, &err) != HITL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double build = now() - t0;
    hitl_agreement_opts o = {.level = level, .threads = threads, .portable = portable};
    hitl_agreement res = {0};
    printf("{\"n_ratings\": %zu, \"build_s\": %.6f, \"compute_s\": [", k, build);
    for (int i = -1; i < repeats; i++) { /* one untimed warm-up, as numpy's runners get */
        hitl_agreement_release(&res);
        t0 = now();
        hitl_ratings_matrix mx = {(const int8_t *)m, n, A, L, values};
        hitl_status st = on_matrix ? hitl_agreement_compute_matrix(&mx, &o, &res, &err)
                                   : hitl_agreement_compute(&r, &o, &res, &err);
        if (st != HITL_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (i >= 0) printf("%s%.6f", i ? ", " : "", now() - t0);
    }
    printf("], \"alpha\": %.17g, \"pairs\": [", res.coef[HITL_COEF_ALPHA]);
    for (size_t i = 0; i < res.n_pairs; i++)
        printf("%s[%d, %d, %lld, %.17g]", i ? ", " : "", res.pairs[i].a, res.pairs[i].b,
               (long long)res.pairs[i].n, res.pairs[i].kappa);
    printf("]}\n");
    hitl_agreement_release(&res);
    hitl_ratings_release(&r);
    free(m);
    free(it);
    free(an);
    free(lb);
    free(values);
    return 0;
}
