/* The agreement entry points: check the options, choose how to count (histogram, pair table or
 * sparse; notes below), run that path, then the intervals. The coefficients' definitions and
 * sources are in agreement_coef.c. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

/* Three paths give the same numbers. HISTOGRAM (few annotators and labels, the usual case):
 * one pass counts how many items show each configuration (which annotator gave which label);
 * the pair tables follow from the few distinct configurations. DENSE (more of either): one pass
 * counts every co-rated pair into a table indexed by (ratings on the item, annotator pair,
 * label, label): one increment per pair, integer and cache-resident. Everything above follows
 * from that table. SPARSE (many annotators or labels): the items' label multisets ("patterns")
 * go into a hash table for the multiset measures, and the table is walked by annotator for the
 * pairs, with memory bounded by blocking. The bootstrap always resamples items through the
 * patterns: a resample only changes how often each pattern occurs.
 * A dense item x annotator matrix (hitl_agreement_compute_matrix) goes straight to the
 * histogram (agreement_matrix.c: look-up tables two columns at a time, or AVX-512 VBMI), with no
 * table built, so the usual shape (a few annotators, a few labels, a million items) costs about
 * one read of the matrix.
 * All counts are integers, so no result depends on the thread count. */

#define DEFAULT_DENSE_CELLS ((size_t)1 << 18)

static const char *const level_names[HITL_LEVEL_COUNT] = {"nominal", "ordinal", "interval",
                                                          "ratio"};
static const char *const weights_names[HITL_WEIGHTS_COUNT] = {"none", "linear", "quadratic"};
static const char *const coef_names[HITL_COEF_COUNT] = {
    "percent_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "scott_pi"};

const char *hitl_level_name(hitl_level l)
{
    return (unsigned)l < HITL_LEVEL_COUNT ? level_names[l] : "unknown";
}

const char *hitl_weights_name(hitl_weights w)
{
    return (unsigned)w < HITL_WEIGHTS_COUNT ? weights_names[w] : "unknown";
}

const char *hitl_coef_name(hitl_coef c)
{
    return (unsigned)c < HITL_COEF_COUNT ? coef_names[c] : "unknown";
}

hitl_status hitl_level_parse(const char *name, hitl_level *out)
{
    for (int i = 0; name && i < HITL_LEVEL_COUNT; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (hitl_level)i;
            return HITL_OK;
        }
    return HITL_EINVAL;
}

hitl_status hitl_weights_parse(const char *name, hitl_weights *out)
{
    for (int i = 0; name && i < HITL_WEIGHTS_COUNT; i++)
        if (strcmp(name, weights_names[i]) == 0) {
            *out = (hitl_weights)i;
            return HITL_OK;
        }
    return HITL_EINVAL;
}

void hitl_agreement_release(hitl_agreement *a)
{
    if (!a) return;
    free(a->per_label);
    free(a->pairs);
    free(a->vs_final);
    memset(a, 0, sizeof(*a));
}

static int n_threads(int want)
{
    return want > 0 ? want : omp_get_max_threads();
}

/* ---- entry points --------------------------------------------------------------------------- */
static hitl_status check_opts(size_t n_items, size_t A, size_t L, const double *value,
                              const hitl_agreement_opts *o, hitl_error *err)
{
    if ((unsigned)o->level >= HITL_LEVEL_COUNT || (unsigned)o->weights >= HITL_WEIGHTS_COUNT ||
        (unsigned)o->path > HITL_AGREE_SPARSE)
        return hitl_error_set(err, HITL_EINVAL, "unknown level, weights or path");
    if (n_items > INT32_MAX || A > INT32_MAX || L > INT32_MAX)
        return hitl_error_set(err, HITL_EINVAL, "table too large");
    if ((o->level == HITL_LEVEL_INTERVAL || o->level == HITL_LEVEL_RATIO) && !value)
        return hitl_error_set(err, HITL_EINVAL, "the %s level needs numeric label values",
                              hitl_level_name(o->level));
    for (size_t c = 0; value && c < L; c++) {
        if (!isfinite(value[c]))
            return hitl_error_set(err, HITL_EINVAL, "label %zu has a non-finite value", c);
        if (o->level == HITL_LEVEL_RATIO && value[c] < 0)
            return hitl_error_set(err, HITL_EDATA, "the ratio level needs values >= 0, got %g",
                                  value[c]);
    }
    if (o->final_label)
        for (size_t u = 0; u < n_items; u++)
            if (o->final_label[u] < -1 || o->final_label[u] >= (int64_t)L) {
                hitl_error_set(err, HITL_EINVAL, "item %zu: final label %d out of range", u,
                               o->final_label[u]);
                if (err) err->row = (int64_t)u;
                return HITL_EINVAL;
            }
    if (A < 2)
        return hitl_error_set(err, HITL_EDATA, "only one annotator: agreement needs at least two");
    return HITL_OK;
}

/* The counts' shape into *out, with per_label allocated and no intervals yet. */
hitl_status hitl__agreement_set_shape(hitl_agreement *out, size_t n_items, size_t A, size_t L,
                                      size_t n_ratings, const hitl__shape *sh, hitl_error *err)
{
    if (sh->n_pairable == 0)
        return hitl_error_set(err, HITL_EDATA,
                              "no item has two ratings: agreement needs items rated twice");
    out->n_items = n_items;
    out->n_annotators = A;
    out->n_labels = L;
    out->n_ratings = n_ratings;
    out->n_rated = sh->n_rated;
    out->n_pairable = sh->n_pairable;
    out->min_ratings = sh->min_m;
    out->max_ratings = sh->max_m;
    for (int c = 0; c < HITL_COEF_COUNT; c++)
        out->ci[c].lo = out->ci[c].hi = NAN;
    out->per_label = hitl__zalloc_array(L, sizeof(double));
    if (!out->per_label) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return HITL_OK;
}

hitl_status hitl_agreement_compute(const hitl_ratings *r, const hitl_agreement_opts *opts,
                                   hitl_agreement *out, hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    if (!opts || !r) return hitl_error_set(err, HITL_EINVAL, "no ratings or options given");
    const hitl_agreement_opts *o = opts;
    if (!r->item_ptr) return hitl_error_set(err, HITL_EINVAL, "ratings table without arrays");
    hitl_status st = check_opts(r->n_items, r->n_annotators, r->n_labels, r->value, o, err);
    if (st != HITL_OK) return st;

    int nt = n_threads(o->threads);
    size_t budget = o->max_cells ? o->max_cells : DEFAULT_DENSE_CELLS;
    size_t A = r->n_annotators, L = r->n_labels, H = hitl__hist_size(A, L);
    size_t P = A * (A - 1) / 2, LL = L * L;
    hitl_agree_path path = o->path;
    if (path == HITL_AGREE_AUTO && H) path = HITL_AGREE_HISTOGRAM;
    if (path == HITL_AGREE_HISTOGRAM && !H)
        return hitl_error_set(err, HITL_EINVAL,
                              "the histogram path needs (labels + 1)^annotators <= %zu",
                              HITL__HIST_MAX);
    hitl__shape sh = {.min_m = SIZE_MAX};
    hitl__pair_table d = {.A = A, .L = L, .P = P, .LL = LL};
    hitl__patterns pt = {0};

    if (path == HITL_AGREE_HISTOGRAM) {
        uint32_t *scratch = hitl__zalloc_array((size_t)nt * H, sizeof(uint32_t));
        int64_t *hist = hitl__zalloc_array(H, sizeof(int64_t));
        int bad = scratch && hist ? hitl__table_hist(r, H, nt, scratch, hist) : 0;
        free(scratch);
        if (!scratch || !hist)
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        else if (bad && (st = hitl_ratings_check(r, err)) == HITL_OK)
            st = hitl_error_set(err, HITL_EINTERNAL, "table check disagrees");
        else if (!bad)
            st = hitl__hist_measures(hist, H, r->n_items, A, L, r->value, o, nt, out, err);
        free(hist);
        if (st != HITL_OK) goto fail;
        sh.min_m = out->min_ratings;
        sh.max_m = out->max_ratings;
    } else {
        if ((st = hitl_ratings_check(r, err)) != HITL_OK) goto fail;
        for (size_t u = 0; u < r->n_items; u++) {
            size_t m = (size_t)(r->item_ptr[u + 1] - r->item_ptr[u]);
            if (!m) continue;
            sh.n_rated++;
            sh.n_pairable += m >= 2;
            if (m < sh.min_m) sh.min_m = m;
            if (m > sh.max_m) sh.max_m = m;
        }
        /* the dense table: (max m - 1) * pairs * L^2 counters per thread */
        double cells = sh.max_m >= 2 ? (double)(sh.max_m - 1) * (double)P * (double)LL : 0;
        int fits = sh.max_m >= 2 && cells <= (double)budget;
        if (path == HITL_AGREE_AUTO) path = fits ? HITL_AGREE_DENSE : HITL_AGREE_SPARSE;
        if (path == HITL_AGREE_DENSE && !fits) {
            st = hitl_error_set(err, HITL_EINVAL, "the dense path needs %.0f counters, over %zu",
                                cells, budget);
            goto fail;
        }
        if ((st = hitl__agreement_set_shape(out, r->n_items, A, L, r->n_ratings, &sh, err)) !=
            HITL_OK)
            goto fail;
    }
    int balanced = sh.min_m == sh.max_m && sh.min_m >= 2;

    if (path == HITL_AGREE_DENSE) {
        d.M = sh.max_m;
        d.cells = (sh.max_m - 1) * P * LL;
        size_t per = d.cells + (d.M + 1) + L;
        d.tab = hitl__zalloc_array((size_t)nt * per, sizeof(int64_t));
        if (!d.tab) {
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            goto fail;
        }
        hitl__pair_table_count(r, &d, nt);
        st = hitl__pair_table_measures(r->value, o, &d, out, balanced, err);
        free(d.tab);
        if (st != HITL_OK) goto fail;
    } else if (path == HITL_AGREE_SPARSE) {
        if ((st = hitl__sparse_pairs(r, o, budget, nt, out, err)) != HITL_OK) goto fail;
        if ((st = hitl__patterns_build(r, sh.max_m, o, &pt, err)) != HITL_OK) goto fail;
        double *scratch = hitl__zalloc_array(5 * L, sizeof(double));
        int64_t *w = hitl__zalloc_array(pt.n, sizeof(int64_t));
        if (!scratch || !w) {
            free(scratch);
            free(w);
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < pt.n; i++)
            w[i] = pt.v[i].count;
        hitl__patterns_measures(&pt, w, r, o->level, balanced, scratch, out->coef, out->per_label);
        free(w);
        free(scratch);
    }
    if (o->final_label && (st = hitl__versus_final(r, o, out, err)) != HITL_OK) goto fail;
    if (o->bootstrap) {
        if (!pt.n && (st = hitl__patterns_build(r, sh.max_m, o, &pt, err)) != HITL_OK) goto fail;
        if ((st = hitl__bootstrap(r, o, &pt, balanced, nt, out, err)) != HITL_OK) goto fail;
    }
    hitl__patterns_release(&pt);
    return HITL_OK;
fail:
    hitl__patterns_release(&pt);
    hitl_agreement_release(out);
    return st;
}

hitl_status hitl_agreement_compute_matrix(const hitl_ratings_matrix *m,
                                          const hitl_agreement_opts *opts, hitl_agreement *out,
                                          hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    if (!opts || !m || (!m->m && m->n_items && m->n_annotators))
        return hitl_error_set(err, HITL_EINVAL, "no ratings matrix or options given");
    size_t A = m->n_annotators, L = m->n_labels, H = hitl__hist_size(A, L);
    int direct = H && L >= 1 && L <= 127 && A <= 16 && !opts->final_label && !opts->bootstrap &&
                 (opts->path == HITL_AGREE_AUTO || opts->path == HITL_AGREE_HISTOGRAM);
    if (direct) {
        hitl_status st = check_opts(m->n_items, A, L, m->value, opts, err);
        if (st != HITL_OK) return st;
        int nt = n_threads(opts->threads);
        int64_t *hist = hitl__zalloc_array(H, sizeof(int64_t));
        int bad = hist ? hitl__matrix_hist(m, H, nt, opts->portable, hist) : -1;
        if (bad < 0) st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        if (!bad) st = hitl__hist_measures(hist, H, m->n_items, A, L, m->value, opts, nt, out, err);
        free(hist);
        if (st != HITL_OK) hitl_agreement_release(out);
        if (bad <= 0) return st;
        /* a label out of range: the table's build below names it */
    }
    hitl_ratings r;
    hitl_status st = hitl_ratings_from_matrix(&r, m, err);
    if (st != HITL_OK) return st;
    st = hitl_agreement_compute(&r, opts, out, err);
    hitl_ratings_release(&r);
    return st;
}
