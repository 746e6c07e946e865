/* Test helper for tests/interop/test_sim_notebook.py: writes the learning-curve notebook from
 * curves given as text on stdin (what `hitl simulate` would pass from its runs), so the Python
 * side can check the notebook against an HDF5 curves file it wrote with h5py.
 *
 *   hitl_test_sim_notebook OUT.ipynb CURVES_PATH [BASELINE|-] < spec
 *
 * spec: per series "series NAME SEEDS POINTS HAS_SECONDS", then POINTS labels, SEEDS x POINTS
 * accuracies and, when HAS_SECONDS is 1, SEEDS x POINTS seconds (strtod: "nan" allowed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_nbexport.h"

#define MAX_SERIES 16

static int read_values(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char tok[64];
        if (scanf("%63s", tok) != 1) return -1;
        char *end;
        v[i] = strtod(tok, &end);
        if (*end) return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s OUT.ipynb CURVES_PATH [BASELINE|-] < spec\n", argv[0]);
        return 2;
    }
    hitl_sim_series s[MAX_SERIES];
    char names[MAX_SERIES][64];
    size_t n = 0;
    char word[16];
    while (scanf("%15s", word) == 1) {
        int has_secs;
        if (strcmp(word, "series") != 0 || n == MAX_SERIES ||
            scanf("%63s %zu %zu %d", names[n], &s[n].seeds, &s[n].points, &has_secs) != 4) {
            fprintf(stderr, "bad spec near series %zu\n", n);
            return 2;
        }
        size_t p = s[n].points, k = s[n].seeds * p;
        double *x = malloc(p * sizeof(double)), *acc = malloc(k * sizeof(double));
        double *secs = has_secs ? malloc(k * sizeof(double)) : NULL;
        if (!x || !acc || (has_secs && !secs) || read_values(x, p) || read_values(acc, k) ||
            (secs && read_values(secs, k))) {
            fprintf(stderr, "bad values in series %s\n", names[n]);
            return 2;
        }
        s[n].name = names[n];
        s[n].labelled = x;
        s[n].accuracy = acc;
        s[n].seconds = secs;
        n++;
    }
    hitl_sim_report r = {0};
    r.title = "Learning curves: interop";
    r.generated_at = "2026-01-01T00:00:00Z";
    r.version = "test";
    r.command = "hitl simulate pool.h5 --labels labels --test test.h5 --out curves.h5";
    r.features = "pool.h5:features";
    r.labels = "pool.h5:labels";
    r.test = "test.h5";
    r.n_pool = 1000;
    r.n_test = 200;
    r.d = 16;
    r.n_classes = 4;
    r.seed_labels = 20;
    r.batch = 20;
    r.rounds = 4;
    r.baseline = argc == 4 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
    r.series = s;
    r.n_series = n;
    r.curves_path = argv[2];
    hitl_error err = {0};
    hitl_status st = hitl_sim_report_write(&r, argv[1], &err);
    for (size_t i = 0; i < n; i++) {
        free((void *)s[i].labelled);
        free((void *)s[i].accuracy);
        free((void *)s[i].seconds);
    }
    if (st != HITL_OK) {
        fprintf(stderr, "%s: %s\n", hitl_status_str(st), err.msg);
        return 1;
    }
    return 0;
}
