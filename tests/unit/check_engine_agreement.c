/* Unit tests for inter-rater agreement: Krippendorff's, Fleiss', Gwet's and Cohen's published
 * examples to their printed digits, all three counting paths and the dense matrix entry against
 * plain-loop references on random tables, bootstrap reproducibility, and every error path with
 * its exact status. */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "testutil.h"

#define MISSING -1

/* Builds a table from a dense [n_items x n_ann] matrix of label indices (MISSING = no rating). */
static void from_matrix(hitl_ratings *r, const int *m, size_t n_items, size_t n_ann,
                        size_t n_labels, const double *values)
{
    int32_t *it = malloc(n_items * n_ann * sizeof(int32_t));
    int32_t *an = malloc(n_items * n_ann * sizeof(int32_t));
    int32_t *lb = malloc(n_items * n_ann * sizeof(int32_t));
    size_t n = 0;
    for (size_t u = 0; u < n_items; u++)
        for (size_t a = 0; a < n_ann; a++)
            if (m[u * n_ann + a] != MISSING) {
                it[n] = (int32_t)u;
                an[n] = (int32_t)a;
                lb[n] = m[u * n_ann + a];
                n++;
            }
    hitl_error err;
    hitl_status st = hitl_ratings_build(r, n_items, n_ann, n_labels, it, an, lb, n, values, &err);
    ck_assert_msg(st == HITL_OK, "%s", err.msg);
    free(it);
    free(an);
    free(lb);
}

/* Two raters' contingency table (rows: rater 0's label, columns: rater 1's) as items. */
static void from_table(hitl_ratings *r, const int *tab, size_t L)
{
    size_t n = 0;
    for (size_t k = 0; k < L * L; k++)
        n += (size_t)tab[k];
    int *m = malloc(n * 2 * sizeof(int));
    size_t u = 0;
    for (size_t i = 0; i < L; i++)
        for (size_t j = 0; j < L; j++)
            for (int k = 0; k < tab[i * L + j]; k++, u++) {
                m[u * 2] = (int)i;
                m[u * 2 + 1] = (int)j;
            }
    from_matrix(r, m, n, 2, L, NULL);
    free(m);
}

/* The three ways of counting (every test runs each that can take its table). */
static const hitl_agree_path paths[3] = {HITL_AGREE_HISTOGRAM, HITL_AGREE_DENSE, HITL_AGREE_SPARSE};
/* ... and a fourth way in: the same table as a dense int8 matrix */
#define N_WAYS     4
#define WAY_MATRIX 3

/* The table as a dense [n_items x n_annotators] int8 matrix, -1 where no rating (caller frees). */
static int8_t *to_int8(const hitl_ratings *r)
{
    int8_t *m = malloc(r->n_items * r->n_annotators + 1);
    memset(m, -1, r->n_items * r->n_annotators);
    for (size_t u = 0; u < r->n_items; u++)
        for (int64_t k = r->item_ptr[u]; k < r->item_ptr[u + 1]; k++)
            m[u * r->n_annotators + (size_t)r->annotator[k]] = (int8_t)r->label[k];
    return m;
}

/* Computes by way 0-2 (a forced path) or WAY_MATRIX (hitl_agreement_compute_matrix); returns 0
 * when the histogram path cannot take the table. */
static int compute(const hitl_ratings *r, hitl_level level, hitl_weights w, int way,
                   hitl_agreement *a)
{
    hitl_agreement_opts o = {.level = level, .weights = w};
    hitl_error err;
    hitl_status st;
    if (way == WAY_MATRIX) {
        int8_t *m = to_int8(r);
        hitl_ratings_matrix mx = {m, r->n_items, r->n_annotators, r->n_labels, r->value};
        st = hitl_agreement_compute_matrix(&mx, &o, a, &err);
        free(m);
    } else {
        o.path = paths[way];
        st = hitl_agreement_compute(r, &o, a, &err);
        if (st == HITL_EINVAL && o.path == HITL_AGREE_HISTOGRAM) return 0;
    }
    ck_assert_msg(st == HITL_OK, "%s", err.msg);
    return 1;
}

static const hitl_pair_agreement *find_pair(const hitl_agreement *a, int x, int y)
{
    for (size_t i = 0; i < a->n_pairs; i++)
        if (a->pairs[i].a == x && a->pairs[i].b == y) return &a->pairs[i];
    return NULL;
}

/* Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers
 * (A-D) x 12 units, values 1-5, with missing data; unit 12 has a single value and is not
 * pairable. Published: nominal .743, ordinal .815, interval .849, ratio .797. The full digits
 * are NLTK's AnnotationTask.alpha (nominal; interval_distance; ratio via a distance function)
 * and an independent coincidence-matrix script (ordinal). The same data is Gwet (2014),
 * Handbook of Inter-Rater Reliability, 4th ed., p. 120 (irrCAC's cac.raw4raters), where
 * gwet.ac1.raw gives pa = 0.8181818, pe = 0.1903212, AC1 = 0.77544 and fleiss.kappa.raw (the
 * Fleiss form with missing ratings, our scott_pi) gives 0.76117. */
static const int kripp[12 * 4] = {
    /* A  B  C  D */
    1,       1,       MISSING, 1,       /* unit 1 */
    2,       2,       3,       2,       /* 2 */
    3,       3,       3,       3,       /* 3 */
    3,       3,       3,       3,       /* 4 */
    2,       2,       2,       2,       /* 5 */
    1,       2,       3,       4,       /* 6 */
    4,       4,       4,       4,       /* 7 */
    1,       1,       2,       1,       /* 8 */
    2,       2,       2,       2,       /* 9 */
    MISSING, 5,       5,       5,       /* 10 */
    MISSING, MISSING, 1,       1,       /* 11 */
    MISSING, 3,       MISSING, MISSING, /* 12 */
};

static void kripp_table(hitl_ratings *r)
{
    int m[12 * 4];
    for (int i = 0; i < 48; i++)
        m[i] = kripp[i] == MISSING ? MISSING : kripp[i] - 1;
    static const double values[5] = {1, 2, 3, 4, 5};
    from_matrix(r, m, 12, 4, 5, values);
}

START_TEST(test_krippendorff_2011_example)
{
    static const double want[HITL_LEVEL_COUNT] = {0.743421052631579, 0.8153875037548814,
                                                  0.8491071428571428, 0.797402774711612};
    static const double printed[HITL_LEVEL_COUNT] = {0.743, 0.815, 0.849, 0.797};
    hitl_ratings r;
    kripp_table(&r);
    for (int lv = 0; lv < HITL_LEVEL_COUNT; lv++)
        for (int path = 0; path < N_WAYS; path++) {
            hitl_agreement a;
            ck_assert(compute(&r, (hitl_level)lv, HITL_WEIGHTS_NONE, path, &a));
            double alpha = a.coef[HITL_COEF_ALPHA];
            ck_assert_msg(fabs(alpha - want[lv]) < 1e-12, "%s path %d: %.15f",
                          hitl_level_name((hitl_level)lv), path, alpha);
            ck_assert_double_eq_tol(round(alpha * 1000) / 1000, printed[lv], 1e-12);
            ck_assert_uint_eq(a.n_items, 12);
            ck_assert_uint_eq(a.n_rated, 12);
            ck_assert_uint_eq(a.n_pairable, 11);
            ck_assert_uint_eq(a.n_ratings, 41);
            ck_assert_uint_eq(a.min_ratings, 1);
            ck_assert_uint_eq(a.max_ratings, 4);
            /* Gwet (2014) p. 120 via irrCAC */
            ck_assert_double_eq_tol(a.coef[HITL_COEF_PERCENT], 0.8181818, 1e-7);
            ck_assert_double_eq_tol(a.coef[HITL_COEF_AC1], 0.77544, 1e-5);
            ck_assert_double_eq_tol(a.coef[HITL_COEF_SCOTT], 0.76117, 1e-5);
            /* ratings per item differ: no Fleiss' kappa */
            ck_assert(isnan(a.coef[HITL_COEF_FLEISS]));
            hitl_agreement_release(&a);
        }
    hitl_ratings_release(&r);
}
END_TEST

/* Gwet (2014), Handbook, ch. 2: two abstractors classify 100 pregnancies (Ectopic, AIU, NIU);
 * irrCAC's cont3x3abstractors, whose vignette prints Cohen 0.7964094, Scott 0.7962397,
 * AC1 0.8493305, Krippendorff 0.7972585, percent agreement 0.89. */
START_TEST(test_gwet_abstractors)
{
    static const int tab[9] = {13, 0, 0, 0, 20, 7, 0, 4, 56};
    hitl_ratings r;
    from_table(&r, tab, 3);
    for (int path = 0; path < N_WAYS; path++) {
        hitl_agreement a;
        ck_assert(compute(&r, HITL_LEVEL_NOMINAL, HITL_WEIGHTS_NONE, path, &a));
        ck_assert_uint_eq(a.n_pairs, 1);
        ck_assert_int_eq(a.pairs[0].n, 100);
        ck_assert_double_eq_tol(a.pairs[0].agreement, 0.89, 1e-12);
        ck_assert_double_eq_tol(a.pairs[0].kappa, 0.7964094, 1e-7);
        ck_assert_double_eq_tol(a.coef[HITL_COEF_SCOTT], 0.7962397, 1e-7);
        ck_assert_double_eq_tol(a.coef[HITL_COEF_AC1], 0.8493305, 1e-7);
        ck_assert_double_eq_tol(a.coef[HITL_COEF_ALPHA], 0.7972585, 1e-7);
        ck_assert_double_eq_tol(a.coef[HITL_COEF_PERCENT], 0.89, 1e-12);
        /* two ratings on every item: Fleiss' kappa is defined and is Scott's pi */
        ck_assert_double_eq_tol(a.coef[HITL_COEF_FLEISS], 0.7962397, 1e-7);
        hitl_agreement_release(&a);
    }
    hitl_ratings_release(&r);
}
END_TEST

/* Fleiss (1971), Psychol. Bull. 76:378-382, Table 1: 6 psychiatrists diagnose 30 patients into
 * 5 categories. Published: kappa = .430 and per category .245, .245, .520, .471, .566. The
 * table is statsmodels' `diagnoses` (whose test pins R irr's 0.4302445). */
static const int fleiss_diag[30 * 6] = {
    4, 4, 4, 4, 4, 4, 2, 2, 2, 5, 5, 5, 2, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 2, 2, 2, 4, 4, 4,
    1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 5, 5, 1, 1, 3, 3, 3, 4, 1, 1, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5,
    1, 4, 4, 4, 4, 4, 1, 2, 4, 4, 4, 4, 2, 2, 2, 3, 3, 3, 1, 4, 4, 4, 4, 4, 2, 2, 4, 4, 4, 5,
    3, 3, 3, 3, 3, 5, 1, 1, 1, 4, 5, 5, 1, 1, 1, 1, 1, 2, 2, 2, 4, 4, 4, 4, 1, 3, 3, 5, 5, 5,
    5, 5, 5, 5, 5, 5, 2, 4, 4, 4, 4, 4, 2, 2, 4, 5, 5, 5, 1, 1, 4, 4, 4, 4, 1, 4, 4, 4, 4, 5,
    2, 2, 2, 2, 2, 4, 1, 1, 1, 1, 5, 5, 2, 2, 4, 4, 4, 4, 1, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5,
};

START_TEST(test_fleiss_1971_example)
{
    int m[30 * 6];
    for (int i = 0; i < 180; i++)
        m[i] = fleiss_diag[i] - 1;
    hitl_ratings r;
    from_matrix(&r, m, 30, 6, 5, NULL);
    static const double per_cat[5] = {0.245, 0.245, 0.520, 0.471, 0.566};
    for (int path = 0; path < N_WAYS; path++) {
        hitl_agreement a;
        ck_assert(compute(&r, HITL_LEVEL_NOMINAL, HITL_WEIGHTS_NONE, path, &a));
        ck_assert_double_eq_tol(a.coef[HITL_COEF_FLEISS], 0.4302445, 1e-7);
        ck_assert_double_eq_tol(round(a.coef[HITL_COEF_FLEISS] * 1000) / 1000, 0.430, 1e-12);
        for (int c = 0; c < 5; c++)
            ck_assert_msg(fabs(round(a.per_label[c] * 1000) / 1000 - per_cat[c]) < 1e-12,
                          "category %d: %.6f", c + 1, a.per_label[c]);
        ck_assert_uint_eq(a.min_ratings, 6);
        ck_assert_uint_eq(a.max_ratings, 6);
        ck_assert_uint_eq(a.n_pairs, 15);
        hitl_agreement_release(&a);
        /* on the same resamples, Fleiss' interval is Scott's (they coincide here) */
        hitl_agreement_opts bo = {
            .bootstrap = 200, .seed = 1, .path = path < 3 ? paths[path] : HITL_AGREE_AUTO};
        ck_assert_int_eq(hitl_agreement_compute(&r, &bo, &a, NULL), HITL_OK);
        ck_assert_double_eq(a.ci[HITL_COEF_FLEISS].lo, a.ci[HITL_COEF_SCOTT].lo);
        ck_assert_double_eq(a.ci[HITL_COEF_FLEISS].hi, a.ci[HITL_COEF_SCOTT].hi);
        ck_assert(a.ci[HITL_COEF_FLEISS].lo < 0.4302445 && 0.4302445 < a.ci[HITL_COEF_FLEISS].hi);
        hitl_agreement_release(&a);
    }
    hitl_ratings_release(&r);
}
END_TEST

/* Cohen's kappa, unweighted and Cicchetti-Allison (linear) weighted: the SAS/STAT PROC FREQ
 * agreement example printed in statsmodels' tests (table [[0,4,1],[0,8,0],[0,1,5]]): simple
 * kappa 0.4842, weighted kappa 0.4701. Quadratic (Fleiss-Cohen) weights: 0.4501608, from
 * scikit-learn's cohen_kappa_score. */
START_TEST(test_cohen_sas_example)
{
    static const int tab[9] = {0, 4, 1, 0, 8, 0, 0, 1, 5};
    hitl_ratings r;
    from_table(&r, tab, 3);
    static const double want[3] = {0.4842, 0.4701, 0.4501608};
    static const double tol[3] = {5e-5, 5e-5, 1e-7};
    for (int w = 0; w < 3; w++)
        for (int path = 0; path < N_WAYS; path++) {
            hitl_agreement a;
            ck_assert(compute(&r, HITL_LEVEL_NOMINAL, (hitl_weights)w, path, &a));
            ck_assert_uint_eq(a.n_pairs, 1);
            ck_assert_double_eq_tol(a.pairs[0].kappa, want[w], tol[w]);
            ck_assert_double_eq_tol(a.pairs[0].agreement, 13.0 / 19.0, 1e-12);
            hitl_agreement_release(&a);
        }
    hitl_ratings_release(&r);
}
END_TEST

/* R package irr (Gamer et al.), data set `anxiety`, raters 2 and 3 (20 subjects, scores 1-6 of
 * which 5 is never used): kappa2() prints unweighted -0.006289308, "equal" (linear) weights
 * 0.1459075, "squared" 0.2520325 (pinned in statsmodels' tests). Weights are on label ranks. */
START_TEST(test_cohen_irr_anxiety)
{
    static const int r2[20] = {3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4};
    static const int r3[20] = {2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2};
    static const int rank[7] = {-1, 0, 1, 2, 3, -1, 4}; /* scores 1,2,3,4,6 -> ranks */
    int m[40];
    for (int u = 0; u < 20; u++) {
        m[u * 2] = rank[r2[u]];
        m[u * 2 + 1] = rank[r3[u]];
    }
    hitl_ratings r;
    from_matrix(&r, m, 20, 2, 5, NULL);
    static const double want[3] = {-0.006289308, 0.1459075, 0.2520325};
    for (int w = 0; w < 3; w++) {
        hitl_agreement a;
        compute(&r, HITL_LEVEL_NOMINAL, (hitl_weights)w, 0, &a);
        ck_assert_double_eq_tol(a.pairs[0].kappa, want[w], 1e-7);
        hitl_agreement_release(&a);
    }
    hitl_ratings_release(&r);
}
END_TEST

/* Percent agreement by hand: items {a,a,a} (3/3 pairs agree), {a,b} (0/1), {a,a,b} (1/3),
 * {b} (not pairable): (1 + 0 + 1/3) / 3 = 4/9. */
START_TEST(test_percent_agreement_by_hand)
{
    int m[4 * 3] = {0, 0, 0, 0, 1, MISSING, 0, 0, 1, MISSING, 1, MISSING};
    hitl_ratings r;
    from_matrix(&r, m, 4, 3, 2, NULL);
    hitl_agreement a;
    compute(&r, HITL_LEVEL_NOMINAL, HITL_WEIGHTS_NONE, 0, &a);
    ck_assert_double_eq_tol(a.coef[HITL_COEF_PERCENT], 4.0 / 9.0, 1e-15);
    ck_assert_uint_eq(a.n_pairable, 3);
    /* pairs: (0,1) on items 0,1,2: labels (0,0) (0,1) (0,0): 2 of 3 agree */
    const hitl_pair_agreement *p = find_pair(&a, 0, 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->n, 3);
    ck_assert_double_eq_tol(p->agreement, 2.0 / 3.0, 1e-15);
    /* rater 0 only ever says 0: expected disagreement from its margin alone */
    hitl_agreement_release(&a);
    hitl_ratings_release(&r);
}
END_TEST

/* ---- plain-loop references of the definitions, for random tables ---------------------------
 * Krippendorff's alpha straight from the paper: the coincidence matrix, then the metric with
 * the ordinal sum written out, O(L^2) and O(L^3). */
static double ref_alpha(const int *m, size_t n_items, size_t n_ann, size_t L, const double *v,
                        hitl_level level)
{
    double *o = calloc(L * L, sizeof(double)), *nc = calloc(L, sizeof(double));
    for (size_t u = 0; u < n_items; u++) {
        int mu = 0;
        for (size_t a = 0; a < n_ann; a++)
            mu += m[u * n_ann + a] != MISSING;
        if (mu < 2) continue;
        for (size_t a = 0; a < n_ann; a++)
            for (size_t b = 0; b < n_ann; b++) {
                int x = m[u * n_ann + a], y = m[u * n_ann + b];
                if (a == b || x == MISSING || y == MISSING) continue;
                o[(size_t)x * L + (size_t)y] += 1.0 / (mu - 1);
            }
    }
    double n = 0;
    for (size_t c = 0; c < L; c++) {
        for (size_t k = 0; k < L; k++)
            nc[c] += o[c * L + k];
        n += nc[c];
    }
    double dobs = 0, dexp = 0;
    for (size_t c = 0; c < L; c++)
        for (size_t k = 0; k < L; k++) {
            double d = 0;
            if (level == HITL_LEVEL_NOMINAL) {
                d = c != k;
            } else if (level == HITL_LEVEL_ORDINAL) {
                size_t lo = c < k ? c : k, hi = c < k ? k : c;
                double s = 0;
                for (size_t g = lo; g <= hi; g++)
                    s += nc[g];
                s -= (nc[c] + nc[k]) / 2;
                d = c == k ? 0 : s * s;
            } else if (level == HITL_LEVEL_INTERVAL) {
                d = (v[c] - v[k]) * (v[c] - v[k]);
            } else {
                d = v[c] + v[k] == 0 ? 0 : pow((v[c] - v[k]) / (v[c] + v[k]), 2);
            }
            dobs += o[c * L + k] * d;
            dexp += nc[c] * nc[k] * d;
        }
    free(o);
    free(nc);
    return 1 - (n - 1) * dobs / dexp;
}

/* Cohen's kappa with agreement weights over the confusion matrix (the textbook form). */
static double ref_kappa(const int *m, size_t n_items, size_t n_ann, size_t L, size_t a, size_t b,
                        hitl_weights w, int64_t *n_out)
{
    double *t = calloc(L * L, sizeof(double)), *ra = calloc(L, sizeof(double));
    double *cb = calloc(L, sizeof(double)), n = 0;
    for (size_t u = 0; u < n_items; u++) {
        int x = m[u * n_ann + a], y = m[u * n_ann + b];
        if (x == MISSING || y == MISSING) continue;
        t[(size_t)x * L + (size_t)y]++;
        ra[x]++;
        cb[y]++;
        n++;
    }
    double po = 0, pe = 0;
    for (size_t i = 0; i < L; i++)
        for (size_t j = 0; j < L; j++) {
            double d = fabs((double)i - (double)j) / (double)(L - 1);
            double wt = w == HITL_WEIGHTS_NONE     ? i == j
                        : w == HITL_WEIGHTS_LINEAR ? 1 - d
                                                   : 1 - d * d;
            po += wt * t[i * L + j] / n;
            pe += wt * ra[i] * cb[j] / (n * n);
        }
    free(t);
    free(ra);
    free(cb);
    *n_out = (int64_t)n;
    return (po - pe) / (1 - pe);
}

static int *random_matrix(tu_rng *g, size_t n_items, size_t n_ann, size_t L, double missing)
{
    int *m = malloc(n_items * n_ann * sizeof(int));
    for (size_t u = 0; u < n_items; u++) {
        int truth = (int)(tu_rng_u64(g) % L);
        for (size_t a = 0; a < n_ann; a++) {
            double x = tu_rng_uniform(g);
            m[u * n_ann + a] = tu_rng_uniform(g) < missing ? MISSING
                               : x < 0.6                   ? truth
                                                           : (int)(tu_rng_u64(g) % L);
        }
    }
    return m;
}

START_TEST(test_random_tables_against_references)
{
    tu_rng g;
    tu_rng_seed(&g, 77);
    static const size_t shapes[][3] = {{200, 5, 4}, {300, 3, 7}, {150, 12, 3}, {400, 2, 5}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        size_t n_items = shapes[s][0], n_ann = shapes[s][1], L = shapes[s][2];
        int *m = random_matrix(&g, n_items, n_ann, L, 0.3);
        double *v = malloc(L * sizeof(double));
        for (size_t c = 0; c < L; c++)
            v[c] = (c ? v[c - 1] : 0.5) + 0.25 + 2 * tu_rng_uniform(&g); /* increasing, > 0 */
        hitl_ratings r;
        from_matrix(&r, m, n_items, n_ann, L, v);
        for (int lv = 0; lv < HITL_LEVEL_COUNT; lv++) {
            double want = ref_alpha(m, n_items, n_ann, L, v, (hitl_level)lv);
            for (int w = 0; w < HITL_WEIGHTS_COUNT; w++)
                for (int path = 0; path < N_WAYS; path++) {
                    hitl_agreement a;
                    if (!compute(&r, (hitl_level)lv, (hitl_weights)w, path, &a)) {
                        ck_assert_int_eq(s, 2); /* 4^12 configurations: too many */
                        continue;
                    }
                    ck_assert_msg(fabs(a.coef[HITL_COEF_ALPHA] - want) < 1e-12,
                                  "shape %zu level %d path %d: %.15f vs %.15f", s, lv, path,
                                  a.coef[HITL_COEF_ALPHA], want);
                    ck_assert_uint_eq(a.n_pairs, n_ann * (n_ann - 1) / 2);
                    for (size_t i = 0; i < a.n_pairs; i++) {
                        int64_t n;
                        double k = ref_kappa(m, n_items, n_ann, L, (size_t)a.pairs[i].a,
                                             (size_t)a.pairs[i].b, (hitl_weights)w, &n);
                        ck_assert_int_eq(a.pairs[i].n, n);
                        ck_assert_msg(fabs(a.pairs[i].kappa - k) < 1e-12, "kappa %.15f vs %.15f",
                                      a.pairs[i].kappa, k);
                    }
                    hitl_agreement_release(&a);
                }
        }
        /* the paths agree on every other measure too (the sparse one in blocks of 3 pairs) */
        hitl_agreement d, sp;
        compute(&r, HITL_LEVEL_NOMINAL, HITL_WEIGHTS_NONE, 1, &d); /* dense */
        hitl_agreement_opts bo = {.path = HITL_AGREE_SPARSE, .max_cells = 3 * (4 + 2 * L)};
        ck_assert_int_eq(hitl_agreement_compute(&r, &bo, &sp, NULL), HITL_OK);
        ck_assert_uint_eq(d.n_pairs, sp.n_pairs);
        ck_assert_mem_eq(d.pairs, sp.pairs, d.n_pairs * sizeof(hitl_pair_agreement));
        for (int c = 0; c < HITL_COEF_COUNT; c++)
            ck_assert(fabs(d.coef[c] - sp.coef[c]) < 1e-12 ||
                      (isnan(d.coef[c]) && isnan(sp.coef[c])));
        for (size_t c = 0; c < L; c++)
            ck_assert(fabs(d.per_label[c] - sp.per_label[c]) < 1e-12);
        hitl_agreement_release(&d);
        hitl_agreement_release(&sp);
        hitl_ratings_release(&r);
        free(m);
        free(v);
    }
}
END_TEST

/* Results never depend on the thread count: the counts are integers. */
START_TEST(test_threads_do_not_change_results)
{
    tu_rng g;
    tu_rng_seed(&g, 5);
    int *m = random_matrix(&g, 5000, 5, 4, 0.2);
    hitl_ratings r;
    from_matrix(&r, m, 5000, 5, 4, NULL);
    for (int path = 0; path < 3; path++) {
        hitl_agreement a1, a2;
        hitl_agreement_opts o = {.threads = 1, .bootstrap = 50, .seed = 9, .path = paths[path]};
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a1, NULL), HITL_OK);
        o.threads = 3;
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a2, NULL), HITL_OK);
        ck_assert_mem_eq(a1.coef, a2.coef, sizeof(a1.coef));
        ck_assert_mem_eq(a1.ci, a2.ci, sizeof(a1.ci));
        ck_assert_uint_eq(a1.n_pairs, a2.n_pairs);
        ck_assert_uint_eq(a1.bootstrap, 50);
        ck_assert_mem_eq(a1.pairs, a2.pairs, a1.n_pairs * sizeof(hitl_pair_agreement));
        hitl_agreement_release(&a1);
        hitl_agreement_release(&a2);
    }
    hitl_ratings_release(&r);
    free(m);
}
END_TEST

/* Called from inside a parallel region, the engine's team has one thread (nested parallelism
 * is off): every chunk must still be counted, the same numbers as outside. */
START_TEST(test_called_from_a_parallel_region)
{
    tu_rng g;
    tu_rng_seed(&g, 12);
    size_t n = 40000, A = 5, L = 4;
    int *m = random_matrix(&g, n, A, L, 0.2);
    int8_t *m8 = malloc(n * A);
    for (size_t k = 0; k < n * A; k++)
        m8[k] = (int8_t)m[k];
    hitl_ratings r;
    from_matrix(&r, m, n, A, L, NULL);
    hitl_ratings_matrix mx = {m8, n, A, L, NULL};
    hitl_agreement want;
    hitl_agreement_opts o = {.threads = 2};
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &want, NULL), HITL_OK);
    ck_assert_uint_eq(want.n_ratings, r.n_ratings);
    int ok[4] = {0, 0, 0, 0};
#pragma omp parallel num_threads(2)
    {
        int t = omp_get_thread_num();
        for (int way = 0; way < 2; way++) { /* the table's histogram, then the matrix */
            hitl_agreement got;
            hitl_status st = way ? hitl_agreement_compute_matrix(&mx, &o, &got, NULL)
                                 : hitl_agreement_compute(&r, &o, &got, NULL);
            ok[2 * t + way] =
                st == HITL_OK && got.n_ratings == want.n_ratings && got.n_pairs == want.n_pairs &&
                memcmp(got.coef, want.coef, sizeof(want.coef)) == 0 &&
                memcmp(got.pairs, want.pairs, want.n_pairs * sizeof(hitl_pair_agreement)) == 0;
            hitl_agreement_release(&got);
        }
    }
    for (int k = 0; k < 4; k++)
        ck_assert_msg(ok[k], "thread %d, %s", k / 2, k % 2 ? "matrix" : "table");
    hitl_agreement_release(&want);
    hitl_ratings_release(&r);
    free(m);
    free(m8);
}
END_TEST

/* Bootstrap: the same seed gives the same intervals, another seed others; the 95% interval of
 * every coefficient brackets the estimate on a large table, and its width shrinks like 1/sqrt(n)
 * (4x the items: about half the width). */
START_TEST(test_bootstrap_intervals)
{
    tu_rng g;
    tu_rng_seed(&g, 3);
    int *m = random_matrix(&g, 8000, 4, 3, 0.25);
    double width[2];
    for (int size = 0; size < 2; size++) {
        size_t n = size ? 8000 : 2000;
        hitl_ratings r;
        from_matrix(&r, m, n, 4, 3, NULL);
        hitl_agreement a, b, c;
        hitl_agreement_opts o = {.bootstrap = 400, .seed = 42};
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, NULL), HITL_OK);
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &b, NULL), HITL_OK);
        o.seed = 43;
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &c, NULL), HITL_OK);
        ck_assert_uint_eq(a.bootstrap, 400);
        ck_assert_mem_eq(a.ci, b.ci, sizeof(a.ci));
        ck_assert(a.ci[HITL_COEF_ALPHA].lo != c.ci[HITL_COEF_ALPHA].lo);
        for (int k = 0; k < HITL_COEF_COUNT; k++) {
            if (k == HITL_COEF_FLEISS) {
                ck_assert(isnan(a.ci[k].lo)); /* ratings per item differ */
                continue;
            }
            ck_assert_msg(a.ci[k].lo < a.coef[k] && a.coef[k] < a.ci[k].hi, "%s: %g in [%g, %g]",
                          hitl_coef_name((hitl_coef)k), a.coef[k], a.ci[k].lo, a.ci[k].hi);
        }
        width[size] = a.ci[HITL_COEF_ALPHA].hi - a.ci[HITL_COEF_ALPHA].lo;
        hitl_agreement_release(&a);
        hitl_agreement_release(&b);
        hitl_agreement_release(&c);
        hitl_ratings_release(&r);
    }
    double ratio = width[0] / width[1];
    ck_assert_msg(ratio > 1.6 && ratio < 2.5, "width ratio %g", ratio);
    free(m);
}
END_TEST

/* Each annotator against the final label, by hand: annotator 0 matches the final label on 2 of
 * 3 items, annotator 1 on 3 of 3 (kappa 1); item 3 has no final label and does not count. */
START_TEST(test_versus_final)
{
    int m[4 * 2] = {0, 0, 1, 1, 0, 1, 1, 1};
    int32_t final[4] = {0, 1, 1, -1};
    hitl_ratings r;
    from_matrix(&r, m, 4, 2, 2, NULL);
    hitl_agreement a;
    hitl_agreement_opts o = {.final_label = final};
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, NULL), HITL_OK);
    ck_assert_ptr_nonnull(a.vs_final);
    ck_assert_int_eq(a.vs_final[0].n, 3);
    ck_assert_double_eq_tol(a.vs_final[0].agreement, 2.0 / 3.0, 1e-15);
    /* annotator 0: (0,0) (1,1) (0,1): po 2/3, pe = (2*1 + 1*2)/9 = 4/9, kappa = 2/5 */
    ck_assert_double_eq_tol(a.vs_final[0].kappa, 0.4, 1e-15);
    ck_assert_int_eq(a.vs_final[1].n, 3);
    ck_assert_double_eq_tol(a.vs_final[1].kappa, 1.0, 1e-15);
    ck_assert_int_eq(a.vs_final[1].b, -1);
    hitl_agreement_release(&a);
    hitl_ratings_release(&r);
}
END_TEST

/* ---- limits --------------------------------------------------------------------------------- */

/* Everyone always gives the same label: agreement is 1, but every chance-corrected measure is
 * undefined (no variation): NaN, never a made-up number. */
START_TEST(test_no_variation_is_undefined)
{
    int m[3 * 2] = {0, 0, 0, 0, 0, 0};
    hitl_ratings r;
    from_matrix(&r, m, 3, 2, 2, NULL);
    for (int path = 0; path < N_WAYS; path++) {
        hitl_agreement a;
        compute(&r, HITL_LEVEL_NOMINAL, HITL_WEIGHTS_NONE, path, &a);
        ck_assert_double_eq(a.coef[HITL_COEF_PERCENT], 1.0);
        ck_assert(isnan(a.coef[HITL_COEF_ALPHA]));
        ck_assert(isnan(a.coef[HITL_COEF_SCOTT]));
        ck_assert(isnan(a.pairs[0].kappa));
        ck_assert_double_eq(a.pairs[0].agreement, 1.0);
        /* AC1 stays defined: pe = sum pi (1 - pi) / (q - 1) = 0 */
        ck_assert_double_eq(a.coef[HITL_COEF_AC1], 1.0);
        ck_assert(isnan(a.per_label[0]) && isnan(a.per_label[1]));
        hitl_agreement_release(&a);
    }
    hitl_ratings_release(&r);
}
END_TEST

/* Many annotators, each on a few items (crowd data): 400 annotators, 3 ratings per item. The
 * dense table would need 399 * 79800 * 16 cells, so the sparse path runs; pairs that never met
 * are not listed. Checked against the reference on every listed pair. */
START_TEST(test_many_annotators)
{
    size_t n_items = 3000, A = 400, L = 4;
    int *m = malloc(n_items * A * sizeof(int));
    tu_rng g;
    tu_rng_seed(&g, 8);
    for (size_t i = 0; i < n_items * A; i++)
        m[i] = MISSING;
    for (size_t u = 0; u < n_items; u++) {
        int truth = (int)(tu_rng_u64(&g) % L);
        for (int k = 0; k < 3; k++) {
            size_t a;
            do
                a = tu_rng_u64(&g) % A;
            while (m[u * A + a] != MISSING);
            m[u * A + a] = tu_rng_uniform(&g) < 0.7 ? truth : (int)(tu_rng_u64(&g) % L);
        }
    }
    hitl_ratings r;
    from_matrix(&r, m, n_items, A, L, NULL);
    hitl_agreement a;
    compute(&r, HITL_LEVEL_NOMINAL, HITL_WEIGHTS_QUADRATIC, 2, &a); /* sparse */
    ck_assert_double_eq_tol(a.coef[HITL_COEF_ALPHA],
                            ref_alpha(m, n_items, A, L, NULL, HITL_LEVEL_NOMINAL), 1e-12);
    ck_assert_double_eq(a.coef[HITL_COEF_FLEISS], a.coef[HITL_COEF_SCOTT]);
    unsigned char *seen = calloc(A * A, 1);
    size_t met = 0;
    for (size_t u = 0; u < n_items; u++)
        for (size_t x = 0; x < A; x++)
            for (size_t y = x + 1; m[u * A + x] != MISSING && y < A; y++)
                if (m[u * A + y] != MISSING && !seen[x * A + y]) {
                    seen[x * A + y] = 1;
                    met++;
                }
    free(seen);
    ck_assert_uint_eq(a.n_pairs, met);
    for (size_t i = 0; i < a.n_pairs; i += 97) {
        int64_t n;
        double k = ref_kappa(m, n_items, A, L, (size_t)a.pairs[i].a, (size_t)a.pairs[i].b,
                             HITL_WEIGHTS_QUADRATIC, &n);
        ck_assert_int_eq(a.pairs[i].n, n);
        ck_assert(fabs(a.pairs[i].kappa - k) < 1e-12 || (isnan(k) && isnan(a.pairs[i].kappa)));
        if (i)
            ck_assert(a.pairs[i - 1].a < a.pairs[i].a ||
                      (a.pairs[i - 1].a == a.pairs[i].a && a.pairs[i - 1].b < a.pairs[i].b));
    }
    hitl_agreement_release(&a);
    hitl_ratings_release(&r);
    free(m);
}
END_TEST

START_TEST(test_names_round_trip)
{
    for (int i = 0; i < HITL_LEVEL_COUNT; i++) {
        hitl_level l;
        ck_assert_int_eq(hitl_level_parse(hitl_level_name((hitl_level)i), &l), HITL_OK);
        ck_assert_int_eq(l, i);
    }
    for (int i = 0; i < HITL_WEIGHTS_COUNT; i++) {
        hitl_weights w;
        ck_assert_int_eq(hitl_weights_parse(hitl_weights_name((hitl_weights)i), &w), HITL_OK);
        ck_assert_int_eq(w, i);
    }
    hitl_level l;
    ck_assert_int_eq(hitl_level_parse("cardinal", &l), HITL_EINVAL);
    ck_assert_str_eq(hitl_coef_name(HITL_COEF_ALPHA), "krippendorff_alpha");
    ck_assert_str_eq(hitl_coef_name(HITL_COEF_COUNT), "unknown");
}
END_TEST

/* ---- errors --------------------------------------------------------------------------------- */
START_TEST(test_errors)
{
    hitl_error err;
    hitl_ratings r;
    hitl_agreement a;
    hitl_agreement_opts o = {0};
    /* one annotator */
    int one[3] = {0, 1, 0};
    from_matrix(&r, one, 3, 1, 2, NULL);
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EDATA);
    ck_assert_str_eq(err.msg, "only one annotator: agreement needs at least two");
    hitl_ratings_release(&r);
    /* nobody rated the same item */
    int apart[4] = {0, MISSING, MISSING, 1};
    from_matrix(&r, apart, 2, 2, 2, NULL);
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EDATA);
    hitl_ratings_release(&r);
    /* interval without values; ratio with a negative value */
    int two[4] = {0, 1, 1, 1};
    from_matrix(&r, two, 2, 2, 2, NULL);
    o.level = HITL_LEVEL_INTERVAL;
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EINVAL);
    hitl_ratings_release(&r);
    static const double neg[2] = {-1, 2};
    from_matrix(&r, two, 2, 2, 2, neg);
    o.level = HITL_LEVEL_RATIO;
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EDATA);
    o.level = HITL_LEVEL_INTERVAL;
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_OK);
    hitl_agreement_release(&a);
    /* final label out of range; bad enum */
    int32_t final[2] = {0, 2};
    o = (hitl_agreement_opts){.final_label = final};
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EINVAL);
    ck_assert_int_eq(err.row, 1);
    o = (hitl_agreement_opts){.level = HITL_LEVEL_COUNT};
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_agreement_compute(&r, NULL, &a, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_agreement_compute(NULL, &o, &a, &err), HITL_EINVAL);
    /* malformed tables, through each path's own check */
    for (int path = 0; path < 3; path++) {
        o = (hitl_agreement_opts){.path = paths[path]};
        r.label[1] = 7;
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EINVAL);
        ck_assert_int_eq(err.row, 1);
        r.label[1] = 1;
        r.annotator[1] = 0; /* item 0 rated twice by annotator 0 */
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EDATA);
        r.annotator[1] = 1;
        r.item_ptr[1] = 3; /* past item 1's end */
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EINVAL);
        r.item_ptr[1] = 2;
        r.annotator[1] = 0;
        r.annotator[0] = 1; /* annotators out of order */
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EINVAL);
        ck_assert_str_eq(err.msg, "item 0: annotators not in order");
        r.annotator[0] = 0;
        r.annotator[1] = 1;
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_OK);
        hitl_agreement_release(&a);
    }
    /* a forced path that cannot take the table */
    o = (hitl_agreement_opts){.path = HITL_AGREE_DENSE, .max_cells = 1};
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EINVAL);
    o = (hitl_agreement_opts){.path = 7};
    ck_assert_int_eq(hitl_agreement_compute(&r, &o, &a, &err), HITL_EINVAL);
    hitl_agreement_release(NULL);
    hitl_ratings_release(&r);
    hitl_ratings_release(NULL);
}
END_TEST

/* Every output of the two entries matches exactly (the counts are the same integers). */
static void assert_same(const hitl_agreement *x, const hitl_agreement *y, size_t L)
{
    ck_assert_uint_eq(x->n_items, y->n_items);
    ck_assert_uint_eq(x->n_ratings, y->n_ratings);
    ck_assert_uint_eq(x->n_rated, y->n_rated);
    ck_assert_uint_eq(x->n_pairable, y->n_pairable);
    ck_assert_uint_eq(x->min_ratings, y->min_ratings);
    ck_assert_uint_eq(x->max_ratings, y->max_ratings);
    for (int c = 0; c < HITL_COEF_COUNT; c++)
        ck_assert_msg(x->coef[c] == y->coef[c] || (isnan(x->coef[c]) && isnan(y->coef[c])),
                      "coef %d: %.17g vs %.17g", c, x->coef[c], y->coef[c]);
    for (size_t c = 0; c < L; c++)
        ck_assert(x->per_label[c] == y->per_label[c] ||
                  (isnan(x->per_label[c]) && isnan(y->per_label[c])));
    ck_assert_uint_eq(x->n_pairs, y->n_pairs);
    ck_assert_mem_eq(x->pairs, y->pairs, x->n_pairs * sizeof(hitl_pair_agreement));
}

/* The dense matrix entry against the table on random matrices, by the portable loop and by the
 * AVX-512 VBMI one where the CPU has it: every width from 2 to 16 annotators (odd ones end in a
 * one-column look-up, or pair a register with itself), row counts that are not a multiple of 64,
 * over 65,535 rows on one thread (the 16-bit bins are emptied), several threads, any negative
 * value as no rating, and shapes past the histogram (17 annotators) that go through a table. */
START_TEST(test_matrix_entry_against_table)
{
    tu_rng g;
    tu_rng_seed(&g, 41);
    static const size_t shapes[][4] = {
        /* items, annotators, labels, threads */
        {3, 2, 2, 0},     {4099, 2, 9, 0},   {4101, 3, 5, 2},  {5003, 4, 4, 0}, {20001, 5, 5, 2},
        {6007, 6, 3, 0},  {7001, 7, 3, 1},   {3001, 8, 2, 0},  {3001, 9, 2, 2}, {2003, 11, 1, 0},
        {1009, 16, 1, 2}, {140001, 5, 5, 1}, {3001, 17, 1, 0}, {500, 3, 127, 0}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        size_t n = shapes[s][0], A = shapes[s][1], L = shapes[s][2];
        int *m = random_matrix(&g, n, A, L, 0.25);
        int8_t *m8 = malloc(n * A);
        for (size_t k = 0; k < n * A; k++) /* any negative value is no rating */
            m8[k] = m[k] == MISSING ? (int8_t)(-1 - (int)(tu_rng_u64(&g) % 128)) : (int8_t)m[k];
        hitl_ratings r;
        from_matrix(&r, m, n, A, L, NULL);
        hitl_agreement want, got;
        hitl_agreement_opts o = {.threads = (int)shapes[s][3]};
        hitl_error err;
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &want, NULL), HITL_OK);
        hitl_ratings_matrix mx = {m8, n, A, L, NULL};
        for (int portable = 0; portable < 2; portable++) { /* AVX-512 VBMI where there */
            o.portable = portable;
            ck_assert_msg(hitl_agreement_compute_matrix(&mx, &o, &got, &err) == HITL_OK, "%s",
                          err.msg);
            assert_same(&want, &got, L);
            hitl_agreement_release(&got);
        }
        /* the matrix's own table is the same table */
        hitl_ratings r2;
        ck_assert_int_eq(hitl_ratings_from_matrix(&r2, &mx, NULL), HITL_OK);
        ck_assert_uint_eq(r2.n_ratings, r.n_ratings);
        ck_assert_mem_eq(r2.item_ptr, r.item_ptr, (n + 1) * sizeof(int64_t));
        ck_assert_mem_eq(r2.annotator, r.annotator, r.n_ratings * sizeof(int32_t));
        ck_assert_mem_eq(r2.label, r.label, r.n_ratings * sizeof(int32_t));
        hitl_ratings_release(&r2);
        /* with final labels and a bootstrap it builds that table: the same numbers again */
        int32_t *final = malloc(n * sizeof(int32_t));
        for (size_t u = 0; u < n; u++)
            final[u] = (int32_t)(u % (L + 1)) - 1;
        o.final_label = final;
        o.bootstrap = 20;
        o.seed = 3;
        hitl_agreement_release(&want);
        ck_assert_int_eq(hitl_agreement_compute(&r, &o, &want, NULL), HITL_OK);
        ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, &o, &got, NULL), HITL_OK);
        assert_same(&want, &got, L);
        ck_assert_mem_eq(want.ci, got.ci, sizeof(want.ci));
        ck_assert_mem_eq(want.vs_final, got.vs_final, A * sizeof(hitl_pair_agreement));
        hitl_agreement_release(&want);
        hitl_agreement_release(&got);
        free(final);
        hitl_ratings_release(&r);
        free(m);
        free(m8);
    }
}
END_TEST

/* The matrix entry's refusals: a label past n_labels (at any position of a row, with its item
 * named), more than 127 labels, no matrix, one annotator, no item rated twice. */
START_TEST(test_matrix_errors)
{
    hitl_error err;
    hitl_agreement a;
    hitl_agreement_opts o = {0};
    hitl_ratings r;
    int8_t m[6 * 5];
    for (size_t col = 0; col < 5; col++) {
        for (size_t k = 0; k < 30; k++)
            m[k] = (int8_t)(k % 3);
        m[4 * 5 + col] = 3; /* item 4 */
        hitl_ratings_matrix mx = {m, 6, 5, 3, NULL};
        o.portable = !o.portable; /* both loops, in turn */
        ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, &o, &a, &err), HITL_EINVAL);
        ck_assert_int_eq(err.row, 4);
        char want[96];
        snprintf(want, sizeof(want), "item 4, annotator %zu: label 3 out of range (3 labels)", col);
        ck_assert_str_eq(err.msg, want);
        m[4 * 5 + col] = 127;
        ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, &o, &a, &err), HITL_EINVAL);
        ck_assert_int_eq(hitl_ratings_from_matrix(&r, &mx, &err), HITL_EINVAL);
        ck_assert_int_eq(err.row, 4);
        ck_assert_ptr_null(r.item_ptr);
    }
    /* a bad label past the 64-row groups, then in one; 2^16 configurations too (16 x 1 label) */
    static const size_t wa[2] = {7, 16}, wl[2] = {3, 1};
    int8_t wide[70 * 16];
    for (int s = 0; s < 2; s++)
        for (int portable = 0; portable < 2; portable++) {
            size_t A = wa[s], L = wl[s];
            for (size_t k = 0; k < 70 * A; k++)
                wide[k] = (int8_t)(k % 3 == 0 ? -1 : (int)(k % L));
            hitl_ratings_matrix w = {wide, 70, A, L, NULL};
            o.portable = portable;
            wide[69 * A + A - 1] = (int8_t)L;
            ck_assert_int_eq(hitl_agreement_compute_matrix(&w, &o, &a, &err), HITL_EINVAL);
            ck_assert_int_eq(err.row, 69);
            wide[69 * A + A - 1] = 0;
            wide[3 * A + 1] = 100; /* now the only one */
            ck_assert_int_eq(hitl_agreement_compute_matrix(&w, &o, &a, &err), HITL_EINVAL);
            ck_assert_int_eq(err.row, 3);
        }
    o.portable = 0;
    for (size_t k = 0; k < 30; k++)
        m[k] = (int8_t)(k % 3);
    hitl_ratings_matrix mx = {m, 6, 5, 128, NULL};
    ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, &o, &a, &err), HITL_EINVAL);
    ck_assert_str_eq(err.msg, "an int8 matrix holds at most 127 labels, not 128");
    mx = (hitl_ratings_matrix){NULL, 6, 5, 3, NULL};
    ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, &o, &a, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_agreement_compute_matrix(NULL, &o, &a, &err), HITL_EINVAL);
    mx = (hitl_ratings_matrix){m, 6, 5, 3, NULL};
    ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, NULL, &a, &err), HITL_EINVAL);
    mx = (hitl_ratings_matrix){m, 30, 1, 3, NULL};
    ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, &o, &a, &err), HITL_EDATA);
    ck_assert_str_eq(err.msg, "only one annotator: agreement needs at least two");
    int8_t apart[4] = {0, -1, -1, 1};
    mx = (hitl_ratings_matrix){apart, 2, 2, 2, NULL};
    ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, &o, &a, &err), HITL_EDATA);
    ck_assert_str_eq(err.msg, "no item has two ratings: agreement needs items rated twice");
    o.level = HITL_LEVEL_INTERVAL; /* no values */
    mx = (hitl_ratings_matrix){m, 6, 5, 3, NULL};
    ck_assert_int_eq(hitl_agreement_compute_matrix(&mx, &o, &a, &err), HITL_EINVAL);
}
END_TEST

START_TEST(test_build_errors)
{
    hitl_error err;
    hitl_ratings r;
    int32_t it[3] = {0, 1, 0}, an[3] = {0, 1, 0}, lb[3] = {0, 1, 1};
    /* annotator 0 rates item 0 twice: the second triplet is named */
    ck_assert_int_eq(hitl_ratings_build(&r, 2, 2, 2, it, an, lb, 3, NULL, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 2);
    ck_assert_str_eq(err.msg, "annotator 0 rated item 0 twice");
    an[2] = 2;
    ck_assert_int_eq(hitl_ratings_build(&r, 2, 2, 2, it, an, lb, 3, NULL, &err), HITL_EINVAL);
    ck_assert_int_eq(err.row, 2);
    an[2] = 1;
    lb[0] = -1;
    ck_assert_int_eq(hitl_ratings_build(&r, 2, 2, 2, it, an, lb, 3, NULL, &err), HITL_EINVAL);
    lb[0] = 0;
    static const double bad[2] = {1, NAN};
    ck_assert_int_eq(hitl_ratings_build(&r, 2, 2, 2, it, an, lb, 3, bad, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_ratings_build(NULL, 2, 2, 2, it, an, lb, 3, NULL, &err), HITL_EINVAL);
    /* a good build: CSR by item, annotators ascending within an item */
    int32_t it2[4] = {1, 0, 1, 0}, an2[4] = {1, 1, 0, 0}, lb2[4] = {0, 1, 1, 0};
    ck_assert_int_eq(hitl_ratings_build(&r, 3, 2, 2, it2, an2, lb2, 4, NULL, &err), HITL_OK);
    ck_assert_int_eq(r.item_ptr[0], 0);
    ck_assert_int_eq(r.item_ptr[1], 2);
    ck_assert_int_eq(r.item_ptr[2], 4);
    ck_assert_int_eq(r.item_ptr[3], 4); /* item 2 has no rating */
    int32_t want_a[4] = {0, 1, 0, 1}, want_l[4] = {0, 1, 1, 0};
    ck_assert_mem_eq(r.annotator, want_a, sizeof(want_a));
    ck_assert_mem_eq(r.label, want_l, sizeof(want_l));
    ck_assert_int_eq(hitl_ratings_check(&r, &err), HITL_OK);
    hitl_ratings_release(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine_agreement");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_krippendorff_2011_example);
    tcase_add_test(core, test_gwet_abstractors);
    tcase_add_test(core, test_fleiss_1971_example);
    tcase_add_test(core, test_cohen_sas_example);
    tcase_add_test(core, test_cohen_irr_anxiety);
    tcase_add_test(core, test_percent_agreement_by_hand);
    tcase_add_test(core, test_random_tables_against_references);
    tcase_add_test(core, test_threads_do_not_change_results);
    tcase_add_test(core, test_called_from_a_parallel_region);
    tcase_add_test(core, test_bootstrap_intervals);
    tcase_add_test(core, test_versus_final);
    tcase_add_test(core, test_matrix_entry_against_table);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_no_variation_is_undefined);
    tcase_add_test(limits, test_many_annotators);
    tcase_add_test(limits, test_names_round_trip);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_errors);
    tcase_add_test(errors, test_build_errors);
    tcase_add_test(errors, test_matrix_errors);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
