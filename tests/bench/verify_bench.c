/* The audit verification benchmark (issue: verify 1,000,000 items and 2,000,000 labels in under
 * 10 s): builds a store through the library (N items queued in one batch, each labelled by two
 * annotators, a tenth of them disagreeing and adjudicated), unless the store exists, then times
 * hitl_audit_verify R times and prints JSON with each run's seconds and what it compared.
 * usage: hitl_verify_bench DB N [--repeats R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hitl_io.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const hitl_error *err)
{
    fprintf(stderr, "hitl_verify_bench: %s\n", err->msg);
    return 1;
}

/* N items, two labels each; every tenth item's second label differs and is adjudicated. */
static int build(const char *db, size_t n)
{
    char *classes[] = {"cat", "dog", "fox", "owl"};
    hitl_store_settings s;
    hitl_store_settings_default(&s);
    s.classes = classes;
    s.n_classes = 4;
    s.overlap = 2;
    s.lease_seconds = 600;
    s.show_prediction = HITL_SHOW_NEVER;
    s.min_justification = 10;
    hitl_error err;
    if (hitl_store_init(db, &s, "bench", &err) != HITL_OK) return fail(&err);
    hitl_store *st;
    if (hitl_store_open(&st, db, &err) != HITL_OK) return fail(&err);
    hitl_queue_row *rows = calloc(n, sizeof(*rows));
    char(*ids)[32] = calloc(n, 32);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], 32, "doc-%07zu", i);
        rows[i] = (hitl_queue_row){ids[i],
                                   (int64_t)i,
                                   i % 10 == 9 ? HITL_REASON_BLIND : HITL_REASON_UNCERTAIN,
                                   1.0f - (float)i / (float)n,
                                   (int32_t)(i % 4),
                                   0.5f,
                                   2,
                                   NULL,
                                   NULL};
    }
    hitl_queue_batch b = {"bench", "margin", "m1", "pool.h5:probs", 1, "bench", 0, NULL};
    size_t added;
    double t0 = now();
    if (hitl_store_enqueue(st, &b, rows, n, &added, &err) != HITL_OK) return fail(&err);
    fprintf(stderr, "queued %zu items in %.1f s\n", added, now() - t0);
    t0 = now();
    for (size_t i = 0; i < n; i++) {
        const char *a = classes[i % 4], *second = i % 10 == 3 ? classes[(i + 1) % 4] : a;
        if (hitl_store_label(st, ids[i], a, "ann", &err) != HITL_OK ||
            hitl_store_label(st, ids[i], second, "bob", &err) != HITL_OK)
            return fail(&err);
        if (second != a && hitl_store_adjudicate(st, ids[i], a, "qa", "the first label is right",
                                                 NULL, &err) != HITL_OK)
            return fail(&err);
        if (i % 100000 == 99999)
            fprintf(stderr, "labelled %zu items in %.0f s\n", i + 1, now() - t0);
    }
    hitl_store_close(st);
    free(rows);
    free(ids);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hitl_verify_bench DB N [--repeats R]\n");
        return 2;
    }
    const char *db = argv[1];
    size_t n = strtoull(argv[2], NULL, 10);
    int repeats = argc > 4 && strcmp(argv[3], "--repeats") == 0 ? atoi(argv[4]) : 3;
    if (access(db, F_OK) != 0 && build(db, n)) return 1;
    hitl_store *st;
    hitl_error err;
    if (hitl_store_open_read(&st, db, &err) != HITL_OK) return fail(&err);
    hitl_verify_report vr;
    printf("{\"db\": \"%s\", \"seconds\": [", db);
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        if (hitl_audit_verify(st, NULL, &vr, &err) != HITL_OK) return fail(&err);
        printf("%s%.3f", r ? ", " : "", now() - t0);
        fflush(stdout);
    }
    printf("], \"events\": %lld, \"items\": %lld, \"labels\": %lld, \"decisions\": %lld}\n",
           (long long)vr.events, (long long)vr.items, (long long)vr.labels,
           (long long)vr.decisions);
    hitl_store_close(st);
    return 0;
}
