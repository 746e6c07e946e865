/* Inter-rater agreement over a ratings table: percent agreement, Cohen's kappa per pair, Fleiss,
 * Krippendorff's alpha (4 levels), Gwet's AC1, Scott's pi, per-label kappa, vs a final label and
 * bootstrap intervals, from exact integer counts gathered in one pass (see the notes below). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "ratings_impl.h"
#include "hitl_banned.h"

/* Definitions followed (the tests reproduce each source's worked example):
 * - Cohen's kappa: Cohen (1960), Educ. Psychol. Meas. 20:37-46; weighted: Cohen (1968), Psychol.
 *   Bull. 70:213-220, in the disagreement form 1 - sum v_ij n_ij / sum v_ij r_i c_j / n with
 *   v = [i != j], |i - j| or (i - j)^2 on label ranks (as scikit-learn's cohen_kappa_score).
 * - Krippendorff's alpha: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability",
 *   Annenberg School for Communication: the coincidence matrix o_ck = sum_u (number of ordered
 *   pairs (c, k) in unit u) / (m_u - 1) over units with m_u >= 2, n_c its margins, and the
 *   metrics nominal [c != k], ordinal (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2, interval
 *   (c - k)^2, ratio ((c - k) / (c + k))^2. The ordinal metric equals (M_k - M_c)^2 with
 *   M_c = sum_{g<c} n_g + n_c / 2, so the ordinal and interval levels need O(L), not O(L^2).
 * - Fleiss' kappa: Fleiss (1971), Psychol. Bull. 76:378-382, for a fixed number of ratings per
 *   item; per-category kappa kappa_j = 1 - sum_i n_ij (m - n_ij) / (N m (m - 1) p_j q_j) there,
 *   which is the label-vs-rest form used for per_label.
 * - Scott's pi: Scott (1955), Public Opinion Quarterly 19:321-325, for two raters; for many
 *   raters and missing ratings the Fleiss form of Gwet (2014), Handbook of Inter-Rater
 *   Reliability, 4th ed., ch. 5: pa over items with >= 2 ratings, pi_c the mean over rated items
 *   of r_ic / r_i, pe = sum pi_c^2. It equals Fleiss' kappa when every item has m ratings.
 * - Gwet's AC1: Gwet (2008), Br. J. Math. Stat. Psychol. 61:29-48, with missing ratings as in
 *   Gwet (2014): same pa and pi_c, pe = sum pi_c (1 - pi_c) / (q - 1), q = the table's labels.
 *
 * Three paths give the same numbers. HISTOGRAM (few annotators and labels, the usual case):
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
#define BOOT_SEED_MIX       0x9E3779B97F4A7C15ull

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

static void *alloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return malloc(n && size ? n * size : 1);
}

static void *zalloc_array(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

static int n_threads(int want)
{
    return want > 0 ? want : omp_get_max_threads();
}

/* ---- Cohen's kappa from sufficient statistics ---------------------------------------------
 * n co-rated items, eq of them equal, d1 = sum |i - j|, d2 = sum (i - j)^2 over them, and the
 * two raters' label counts ra, cb on those items. */
typedef struct pair_stats {
    int64_t n, eq, d1, d2;
} pair_stats;

static double kappa_from(const pair_stats *s, const int64_t *ra, const int64_t *cb, size_t L,
                         hitl_weights w)
{
    if (s->n <= 0) return NAN;
    double n = (double)s->n, obs, expd = 0;
    if (w == HITL_WEIGHTS_NONE) {
        obs = (double)(s->n - s->eq);
        double same = 0;
        for (size_t c = 0; c < L; c++)
            same += (double)ra[c] * (double)cb[c];
        expd = n - same / n;
    } else if (w == HITL_WEIGHTS_QUADRATIC) {
        obs = (double)s->d2;
        /* sum_ij r_i c_j (i - j)^2 / n, centred: n var_r + n var_c + n (mu_r - mu_c)^2 */
        double mr = 0, mc = 0, vr = 0, vc = 0;
        for (size_t c = 0; c < L; c++) {
            mr += (double)ra[c] * (double)c;
            mc += (double)cb[c] * (double)c;
        }
        mr /= n;
        mc /= n;
        for (size_t c = 0; c < L; c++) {
            vr += (double)ra[c] * ((double)c - mr) * ((double)c - mr);
            vc += (double)cb[c] * ((double)c - mc) * ((double)c - mc);
        }
        expd = vr + vc + n * (mr - mc) * (mr - mc);
    } else {
        obs = (double)s->d1;
        /* sum_i r_i sum_j c_j |i - j| with running prefix sums of c */
        double total_c = 0, total_s = 0, cum_c = 0, cum_s = 0, sum = 0;
        for (size_t j = 0; j < L; j++) {
            total_c += (double)cb[j];
            total_s += (double)cb[j] * (double)j;
        }
        for (size_t i = 0; i < L; i++) {
            cum_c += (double)cb[i];
            cum_s += (double)cb[i] * (double)i;
            if (!ra[i]) continue;
            double x = (double)i;
            double below = x * cum_c - cum_s, above = (total_s - cum_s) - x * (total_c - cum_c);
            sum += (double)ra[i] * (below + above);
        }
        expd = sum / n;
    }
    if (!(expd > 0)) return NAN;
    return 1.0 - obs / expd;
}

static void pair_result(hitl_pair_agreement *out, int32_t a, int32_t b, const pair_stats *s,
                        const int64_t *ra, const int64_t *cb, size_t L, hitl_weights w)
{
    out->a = a;
    out->b = b;
    out->n = s->n;
    out->agreement = s->n > 0 ? (double)s->eq / (double)s->n : NAN;
    out->kappa = kappa_from(s, ra, cb, L, w);
}

/* ---- the multiset measures from their sufficient statistics ------------------------------- */
typedef struct multiset_sums {
    double n1, n2;     /* rated and pairable items */
    double pa_sum;     /* sum over pairable items of agreeing pairs / all pairs */
    double *pi_num;    /* [L] sum over rated items of r_ic / r_i */
    double *pl;        /* [L] sum over pairable items of r_ic (m - r_ic) / (m (m - 1)) */
    double do_sum;     /* sum o_ck d_ck */
    double de_sum;     /* sum n_c n_k d_ck */
    double n_values;   /* pairable values n */
    size_t n_distinct; /* labels among the pairable values */
} multiset_sums;

static void finish(const multiset_sums *s, size_t L, int balanced, double *coef, double *per_label)
{
    double pa = s->n2 > 0 ? s->pa_sum / s->n2 : NAN;
    double pe_scott = 0, pe_ac1 = 0;
    for (size_t c = 0; c < L; c++) {
        double p = s->pi_num[c] / s->n1;
        pe_scott += p * p;
        pe_ac1 += p * (1 - p);
    }
    coef[HITL_COEF_PERCENT] = pa;
    coef[HITL_COEF_SCOTT] = 1 - pe_scott > 1e-15 ? (pa - pe_scott) / (1 - pe_scott) : NAN;
    coef[HITL_COEF_FLEISS] = balanced ? coef[HITL_COEF_SCOTT] : NAN;
    pe_ac1 = L >= 2 ? pe_ac1 / (double)(L - 1) : NAN;
    coef[HITL_COEF_AC1] = L >= 2 ? (pa - pe_ac1) / (1 - pe_ac1) : NAN;
    coef[HITL_COEF_ALPHA] = s->n_values >= 2 && s->n_distinct >= 2 && s->de_sum > 0
                                ? 1 - (s->n_values - 1) * s->do_sum / s->de_sum
                                : NAN;
    for (size_t c = 0; per_label && c < L; c++) {
        double p = s->pi_num[c] / s->n1, q = 1 - p;
        double pac = 1 - 2 * s->pl[c] / s->n2, pec = p * p + q * q;
        per_label[c] = p > 0 && q > 0 && s->n2 > 0 ? (pac - pec) / (1 - pec) : NAN;
    }
}

/* Expected disagreement sum_ck n_c n_k d_ck from the pairable margins nc[L] (label order), and
 * the per-label coordinate x[L] with which d_ck = (x_c - x_k)^2 at the ordinal and interval
 * levels. */
static double expected_disagreement(const double *nc, size_t L, hitl_level level,
                                    const double *value, double *x, size_t *n_distinct)
{
    double n = 0, sq = 0;
    size_t distinct = 0;
    for (size_t c = 0; c < L; c++) {
        n += nc[c];
        sq += nc[c] * nc[c];
        distinct += nc[c] > 0;
    }
    *n_distinct = distinct;
    if (level == HITL_LEVEL_NOMINAL) return n * n - sq;
    if (level == HITL_LEVEL_RATIO) {
        double de = 0;
        for (size_t c = 0; c < L; c++) {
            if (nc[c] == 0) continue;
            for (size_t k = c + 1; k < L; k++) {
                if (nc[k] == 0) continue;
                double s = value[c] + value[k];
                double d = s != 0 ? (value[c] - value[k]) / s : 0;
                de += 2 * nc[c] * nc[k] * d * d;
            }
        }
        return de;
    }
    double cum = 0, mean = 0, de = 0;
    for (size_t c = 0; c < L; c++) {
        if (level == HITL_LEVEL_ORDINAL) {
            x[c] = cum + nc[c] / 2;
            cum += nc[c];
        } else {
            x[c] = value[c];
        }
        mean += nc[c] * x[c];
    }
    mean = n > 0 ? mean / n : 0;
    for (size_t c = 0; c < L; c++)
        de += nc[c] * (x[c] - mean) * (x[c] - mean);
    return 2 * n * de;
}

/* ---- the fast path: one dense count table -------------------------------------------------
 * tab[((m - 2) P + p) L^2 + i L + j] counts items with m ratings in which the pair p = (a < b)
 * gave labels (i, j). items_m[m] counts items with m ratings, single[c] items rated once. */
typedef struct dense {
    size_t A, L, M, P, LL, cells;
    int64_t *tab, *items_m, *single;
} dense;

static size_t pair_index(size_t A, size_t a, size_t b)
{
    return a * (2 * A - a - 1) / 2 + (b - a - 1);
}

static void dense_pass(const hitl_ratings *r, dense *d, int nt)
{
    const int64_t *ptr = r->item_ptr;
    const int32_t *ann = r->annotator, *lab = r->label;
    size_t A = d->A, L = d->L, LL = d->LL, P = d->P, M = d->M;
    size_t per = d->cells + (M + 1) + L;
    int64_t *all = d->tab; /* nt consecutive blocks of `per` counters */
#pragma omp parallel num_threads(nt)
    {
        int64_t *tab = all + (size_t)omp_get_thread_num() * per;
        int64_t *items_m = tab + d->cells, *single = items_m + M + 1;
#pragma omp for schedule(static)
        for (size_t u = 0; u < r->n_items; u++) {
            int64_t s = ptr[u], e = ptr[u + 1], m = e - s;
            if (m <= 1) {
                if (m == 1) single[lab[s]]++;
                continue;
            }
            items_m[m]++;
            int64_t *base = tab + (size_t)(m - 2) * P * LL;
            for (int64_t i = s; i < e; i++) {
                if (i + 1 == e) break;
                size_t a = (size_t)ann[i], row = (size_t)lab[i] * L;
                /* the tables of pairs (a, b > a) follow each other from (a, a + 1) */
                int64_t *pa = base + pair_index(A, a, a + 1) * LL + row;
                for (int64_t j = i + 1; j < e; j++)
                    pa[(size_t)(ann[j] - (int32_t)a - 1) * LL + (size_t)lab[j]]++;
            }
        }
    }
    for (int t = 1; t < nt; t++)
        for (size_t k = 0; k < per; k++)
            all[k] += all[(size_t)t * per + k];
}

/* ---- the histogram path: few annotators and labels -----------------------------------------
 * An item's ratings are one of (L + 1)^A configurations (each annotator: one of L labels, or
 * none). One pass over the table counts the configurations and checks the table on the way
 * (one read of it instead of two: every index is range-checked before it is used); the dense
 * table then follows from the few distinct configurations. */
#define HIST_MAX ((size_t)1 << 16)

static size_t hist_size(size_t A, size_t L)
{
    size_t h = 1;
    for (size_t a = 0; a < A; a++) {
        if (h > HIST_MAX / (L + 1)) return 0;
        h *= L + 1;
    }
    return h;
}

/* Counts the configurations of items [u0, u1) into h; 1 when the table is malformed there. Every
 * index is range-checked before it is used; a valid item has strictly increasing annotators, so
 * its code (sum of (l + 1)(L + 1)^a) is below H. */
static int hist_items(const hitl_ratings *r, size_t u0, size_t u1, const uint32_t *pw, uint32_t *h)
{
    const int64_t *ptr = r->item_ptr, N = (int64_t)r->n_ratings;
    const int32_t *ann = r->annotator, *lab = r->label;
    uint32_t A = (uint32_t)r->n_annotators, L = (uint32_t)r->n_labels;
    for (size_t u = u0; u < u1; u++) {
        int64_t s = ptr[u], e = ptr[u + 1];
        if (__builtin_expect(s < 0 || s > e || e > N, 0)) return 1;
        uint32_t code = 0;
        int64_t prev = -1;
        for (int64_t k = s; k < e; k++) {
            uint32_t a = (uint32_t)ann[k], l = (uint32_t)lab[k];
            if (__builtin_expect(a >= A || l >= L || (int64_t)a <= prev, 0)) return 1;
            prev = a;
            code += (l + 1) * pw[a];
        }
        h[code]++;
    }
    return 0;
}

/* Counts configurations into hist[H] (per-thread scratch: nt * H zeroed uint32). Returns 1
 * when the table is malformed (the caller runs hitl_ratings_check for the message). */
static int hist_pass(const hitl_ratings *r, size_t H, int nt, uint32_t *scratch, int64_t *hist)
{
    uint32_t A = (uint32_t)r->n_annotators, L = (uint32_t)r->n_labels, pw[17];
    pw[0] = 1;
    for (uint32_t a = 1; a <= A; a++)
        pw[a] = pw[a - 1] * (L + 1);
    if (r->item_ptr[0] != 0 || r->item_ptr[r->n_items] != (int64_t)r->n_ratings) return 1;
    memset(hist, 0, H * sizeof(int64_t));
    if (r->n_ratings == 0) {
        hist[0] = (int64_t)r->n_items;
        return 0;
    }
    size_t n = r->n_items, chunk = (n + (size_t)nt - 1) / (size_t)nt;
    int bad = 0;
#pragma omp parallel num_threads(nt) reduction(| : bad)
    /* chunk t into scratch t, whatever the team's size (a nested call gets a team of one) */
    for (size_t t = (size_t)omp_get_thread_num(); t < (size_t)nt;
         t += (size_t)omp_get_num_threads()) {
        size_t u0 = t * chunk, u1 = u0 + chunk;
        if (u1 > n) u1 = n;
        if (u0 < u1) bad |= hist_items(r, u0, u1, pw, scratch + t * H);
    }
    for (size_t c = 0; c < H; c++)
        for (int t = 0; t < nt; t++)
            hist[c] += scratch[(size_t)t * H + c];
    return bad;
}

typedef struct shape {
    size_t n_rated, n_pairable, min_m, max_m, n_ratings;
} shape;

/* Spreads the counts of configurations [c0, c1) over tab (laid out as d's: d->M = A). */
static void hist_expand(const int64_t *hist, size_t c0, size_t c1, const dense *d, int64_t *tab,
                        shape *sh)
{
    size_t A = d->A, L = d->L, B = L + 1, LL = d->LL, P = d->P;
    int64_t *items_m = tab + d->cells, *single = items_m + d->M + 1;
    int32_t la[16], ln[16];
    size_t digit[16], start = c0 ? c0 : 1; /* code 0: no rating */
    for (size_t a = 0, x = start; a < A; a++, x /= B)
        digit[a] = x % B;
    for (size_t code = start; code < c1; code++) {
        if (code > start) /* the next code's digits, as an odometer steps: no divisions */
            for (size_t a = 0; a < A && ++digit[a] == B; a++)
                digit[a] = 0;
        int64_t cnt = hist[code];
        if (!cnt) continue;
        size_t m = 0;
        for (size_t a = 0; a < A; a++)
            if (digit[a]) {
                la[m] = (int32_t)a;
                ln[m++] = (int32_t)digit[a] - 1;
            }
        sh->n_rated += (size_t)cnt;
        sh->n_ratings += m * (size_t)cnt;
        if (m < sh->min_m) sh->min_m = m;
        if (m > sh->max_m) sh->max_m = m;
        if (m == 1) {
            single[ln[0]] += cnt;
            continue;
        }
        sh->n_pairable += (size_t)cnt;
        items_m[m] += cnt;
        int64_t *base = tab + (m - 2) * P * LL;
        for (size_t i = 0; i < m; i++)
            for (size_t j = i + 1; j < m; j++)
                base[pair_index(A, (size_t)la[i], (size_t)la[j]) * LL + (size_t)ln[i] * L +
                     (size_t)ln[j]] += cnt;
    }
}

/* hist_expand over every configuration into d->tab, the codes split between nt threads (each
 * into its own table, summed after). Returns 1 when out of memory. */
static int hist_expand_all(const int64_t *hist, size_t H, dense *d, shape *sh, int nt)
{
    size_t per = d->cells + d->M + 1 + d->L;
    shape part[64];
    if (H < ((size_t)1 << 12)) nt = 1;
    if (nt > 64) nt = 64;
    int64_t *more = nt > 1 ? zalloc_array((size_t)(nt - 1) * per, sizeof(int64_t)) : NULL;
    if (nt > 1 && !more) return 1;
    size_t chunk = (H + (size_t)nt - 1) / (size_t)nt;
#pragma omp parallel num_threads(nt)
    for (size_t t = (size_t)omp_get_thread_num(); t < (size_t)nt;
         t += (size_t)omp_get_num_threads()) { /* any team size */
        size_t c0 = t * chunk, c1 = c0 + chunk;
        if (c1 > H) c1 = H;
        part[t] = (shape){.min_m = SIZE_MAX};
        if (c0 < c1) hist_expand(hist, c0, c1, d, t ? more + (t - 1) * per : d->tab, &part[t]);
    }
    for (int t = 0; t < nt; t++) {
        if (t > 0)
            for (size_t k = 0; k < per; k++)
                d->tab[k] += more[(size_t)(t - 1) * per + k];
        sh->n_rated += part[t].n_rated;
        sh->n_pairable += part[t].n_pairable;
        sh->n_ratings += part[t].n_ratings;
        if (part[t].min_m < sh->min_m) sh->min_m = part[t].min_m;
        if (part[t].max_m > sh->max_m) sh->max_m = part[t].max_m;
    }
    free(more);
    return 0;
}

static hitl_status dense_finish(const double *value, const hitl_agreement_opts *o, const dense *d,
                                hitl_agreement *out, int balanced, hitl_error *err)
{
    size_t L = d->L, LL = d->LL, P = d->P, A = d->A, M = d->M;
    const int64_t *tab = d->tab, *items_m = d->tab + d->cells, *single = items_m + M + 1;
    int64_t *conf = zalloc_array(LL, sizeof(int64_t)), *ra = zalloc_array(2 * L, sizeof(int64_t));
    int64_t *om = zalloc_array(LL, sizeof(int64_t));
    double *buf = zalloc_array(5 * L + LL, sizeof(double));
    out->pairs = zalloc_array(P, sizeof(hitl_pair_agreement));
    if (!conf || !ra || !om || !buf || !out->pairs) {
        free(conf);
        free(ra);
        free(om);
        free(buf);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    int64_t *cb = ra + L;
    size_t np = 0;
    for (size_t a = 0; a < A; a++)
        for (size_t b = a + 1; b < A; b++) {
            size_t p = pair_index(A, a, b);
            memset(conf, 0, LL * sizeof(int64_t));
            for (size_t m = 2; m <= M; m++) {
                const int64_t *t = tab + ((m - 2) * P + p) * LL;
                for (size_t k = 0; k < LL; k++)
                    conf[k] += t[k];
            }
            pair_stats s = {0};
            memset(ra, 0, 2 * L * sizeof(int64_t));
            for (size_t i = 0; i < L; i++)
                for (size_t j = 0; j < L; j++) {
                    int64_t v = conf[i * L + j];
                    int64_t dd = (int64_t)i - (int64_t)j;
                    s.n += v;
                    s.eq += i == j ? v : 0;
                    s.d1 += v * (dd < 0 ? -dd : dd);
                    s.d2 += v * dd * dd;
                    ra[i] += v;
                    cb[j] += v;
                }
            if (s.n > 0)
                pair_result(&out->pairs[np++], (int32_t)a, (int32_t)b, &s, ra, cb, L, o->weights);
        }
    out->n_pairs = np;

    /* multiset sums: O_m = sum_p (T + T') counts ordered pairs in items with m ratings */
    double *pi_num = buf, *pl = buf + L, *nc = buf + 2 * L, *x = buf + 3 * L, *o_ck = buf + 5 * L;
    multiset_sums s = {.pi_num = pi_num, .pl = pl};
    for (size_t c = 0; c < L; c++) {
        pi_num[c] = (double)single[c];
        s.n1 += (double)single[c];
    }
    for (size_t m = 2; m <= M; m++) {
        if (!items_m[m]) continue;
        double dm = (double)m;
        s.n1 += (double)items_m[m];
        s.n2 += (double)items_m[m];
        memset(om, 0, LL * sizeof(int64_t));
        for (size_t p = 0; p < P; p++) {
            const int64_t *t = tab + ((m - 2) * P + p) * LL;
            for (size_t i = 0; i < L; i++)
                for (size_t j = 0; j < L; j++) {
                    om[i * L + j] += t[i * L + j];
                    om[j * L + i] += t[i * L + j];
                }
        }
        for (size_t c = 0; c < L; c++) {
            int64_t row = 0;
            for (size_t k = 0; k < L; k++)
                row += om[c * L + k];
            int64_t tot = row / (int64_t)(m - 1); /* sum of r_uc over these items */
            int64_t agree = om[c * L + c];        /* sum of r_uc (r_uc - 1) */
            s.pa_sum += (double)agree / (dm * (dm - 1));
            pi_num[c] += (double)tot / dm;
            pl[c] += (double)(tot * (int64_t)m - agree - tot) / (dm * (dm - 1));
            nc[c] += (double)tot;
            for (size_t k = 0; k < L; k++)
                o_ck[c * L + k] += (double)om[c * L + k] / (dm - 1);
        }
    }
    s.de_sum = expected_disagreement(nc, L, o->level, value, x, &s.n_distinct);
    for (size_t c = 0; c < L; c++) {
        s.n_values += nc[c];
        for (size_t k = 0; k < L; k++) {
            double dd;
            if (c == k) continue;
            if (o->level == HITL_LEVEL_NOMINAL) {
                dd = 1;
            } else if (o->level == HITL_LEVEL_RATIO) {
                double sum = value[c] + value[k];
                dd = sum != 0 ? (value[c] - value[k]) / sum : 0;
                dd *= dd;
            } else {
                dd = (x[c] - x[k]) * (x[c] - x[k]);
            }
            s.do_sum += o_ck[c * L + k] * dd;
        }
    }
    finish(&s, L, balanced, out->coef, out->per_label);
    free(conf);
    free(ra);
    free(om);
    free(buf);
    return HITL_OK;
}

/* ---- the sparse path, part 1: label multisets ("patterns") -------------------------------- */
typedef struct pattern {
    int32_t m;
    int32_t n_distinct;
    int64_t off;  /* sorted labels at lab[off .. off + m) */
    int64_t doff; /* distinct labels at dlab/dcnt[doff .. doff + n_distinct) */
    int64_t count;
    const int32_t *lp; /* = lab + off, set once the pool stops moving (for sorting) */
    double agree;      /* sum r_c (r_c - 1) / (m (m - 1)) */
    double do_fixed;   /* D_o contribution at nominal, interval or ratio level */
} pattern;

typedef struct patterns {
    size_t n, cap;
    pattern *v;
    int32_t *lab;
    size_t lab_n, lab_cap;
    int32_t *dlab, *dcnt;
    int64_t *cum; /* cumulative counts, for drawing an item uniformly */
} patterns;

static void patterns_release(patterns *pt)
{
    free(pt->v);
    free(pt->lab);
    free(pt->dlab);
    free(pt->dcnt);
    free(pt->cum);
    memset(pt, 0, sizeof(*pt));
}

static uint64_t hash_labels(const int32_t *l, size_t m)
{
    uint64_t h = (uint64_t)m * 0xD6E8FEB86659FD93ull;
    for (size_t i = 0; i < m; i++) {
        h = (h ^ (uint64_t)(uint32_t)l[i]) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void sort_labels(int32_t *l, size_t m)
{
    if (m > 24) {
        qsort(l, m, sizeof(*l), cmp_i32);
        return;
    }
    for (size_t i = 1; i < m; i++) {
        int32_t v = l[i];
        size_t j = i;
        while (j > 0 && l[j - 1] > v) {
            l[j] = l[j - 1];
            j--;
        }
        l[j] = v;
    }
}

static int cmp_pattern(const void *pa, const void *pb)
{
    const pattern *a = pa, *b = pb;
    if (a->m != b->m) return a->m < b->m ? -1 : 1;
    for (int32_t i = 0; i < a->m; i++) {
        int32_t x = a->lp[i], y = b->lp[i];
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

/* Collects the label multiset of every rated item, in a canonical order (by size, then labels)
 * so that every sum over patterns is done in the same order whatever happened before. */
static hitl_status patterns_build(const hitl_ratings *r, size_t max_m, const hitl_agreement_opts *o,
                                  patterns *pt, hitl_error *err)
{
    memset(pt, 0, sizeof(*pt));
    size_t cap = 1024;
    uint32_t *slots = NULL;
    int32_t *tmp = alloc_array(max_m ? max_m : 1, sizeof(int32_t));
    pt->v = alloc_array(cap, sizeof(pattern));
    pt->lab_cap = 4096;
    pt->lab = alloc_array(pt->lab_cap, sizeof(int32_t));
    size_t n_slots = 4096;
    slots = alloc_array(n_slots, sizeof(uint32_t));
    uint64_t *hashes = alloc_array(cap, sizeof(uint64_t));
    hitl_status st = HITL_OK;
    if (!tmp || !pt->v || !pt->lab || !slots || !hashes) goto nomem;
    memset(slots, 0xff, n_slots * sizeof(uint32_t));
    pt->cap = cap;
    for (size_t u = 0; u < r->n_items; u++) {
        int64_t s = r->item_ptr[u];
        size_t m = (size_t)(r->item_ptr[u + 1] - s);
        if (m == 0) continue;
        memcpy(tmp, r->label + s, m * sizeof(int32_t));
        sort_labels(tmp, m);
        uint64_t h = hash_labels(tmp, m);
        size_t k = (size_t)h & (n_slots - 1);
        for (;;) {
            uint32_t id = slots[k];
            if (id == UINT32_MAX) break;
            if (hashes[id] == h && (size_t)pt->v[id].m == m &&
                memcmp(pt->lab + pt->v[id].off, tmp, m * sizeof(int32_t)) == 0)
                break;
            k = (k + 1) & (n_slots - 1);
        }
        if (slots[k] != UINT32_MAX) {
            pt->v[slots[k]].count++;
            continue;
        }
        if (pt->n >= UINT32_MAX - 1) goto nomem;
        if (pt->n == pt->cap) {
            size_t nc = pt->cap * 2;
            pattern *nv = realloc(pt->v, nc * sizeof(pattern));
            if (nv) pt->v = nv;
            uint64_t *nh = realloc(hashes, nc * sizeof(uint64_t));
            if (nh) hashes = nh;
            if (!nv || !nh) goto nomem;
            pt->cap = nc;
        }
        while (pt->lab_n + m > pt->lab_cap) {
            int32_t *nl = realloc(pt->lab, pt->lab_cap * 2 * sizeof(int32_t));
            if (!nl) goto nomem;
            pt->lab = nl;
            pt->lab_cap *= 2;
        }
        memcpy(pt->lab + pt->lab_n, tmp, m * sizeof(int32_t));
        pt->v[pt->n] = (pattern){.m = (int32_t)m, .off = (int64_t)pt->lab_n, .count = 1};
        hashes[pt->n] = h;
        slots[k] = (uint32_t)pt->n;
        pt->lab_n += m;
        pt->n++;
        if (pt->n * 2 > n_slots) { /* grow and rehash */
            size_t ns = n_slots * 2;
            uint32_t *nsl = alloc_array(ns, sizeof(uint32_t));
            if (!nsl) goto nomem;
            memset(nsl, 0xff, ns * sizeof(uint32_t));
            for (size_t id = 0; id < pt->n; id++) {
                size_t j = (size_t)hashes[id] & (ns - 1);
                while (nsl[j] != UINT32_MAX)
                    j = (j + 1) & (ns - 1);
                nsl[j] = (uint32_t)id;
            }
            free(slots);
            slots = nsl;
            n_slots = ns;
        }
    }
    for (size_t i = 0; i < pt->n; i++)
        pt->v[i].lp = pt->lab + pt->v[i].off;
    qsort(pt->v, pt->n, sizeof(pattern), cmp_pattern);

    /* distinct labels and the level's fixed per-pattern sums */
    pt->dlab = alloc_array(pt->lab_n, sizeof(int32_t));
    pt->dcnt = alloc_array(pt->lab_n, sizeof(int32_t));
    pt->cum = alloc_array(pt->n, sizeof(int64_t));
    if (!pt->dlab || !pt->dcnt || !pt->cum) goto nomem;
    int64_t dn = 0, cum = 0;
    for (size_t i = 0; i < pt->n; i++) {
        pattern *p = &pt->v[i];
        const int32_t *l = pt->lab + p->off;
        p->doff = dn;
        for (int32_t j = 0; j < p->m; j++) {
            if (j > 0 && l[j] == l[j - 1]) {
                pt->dcnt[dn - 1]++;
            } else {
                pt->dlab[dn] = l[j];
                pt->dcnt[dn++] = 1;
            }
        }
        p->n_distinct = (int32_t)(dn - p->doff);
        cum += p->count;
        pt->cum[i] = cum;
        if (p->m < 2) continue;
        double m = p->m, agree = 0, fixed = 0;
        const int32_t *dl = pt->dlab + p->doff, *dc = pt->dcnt + p->doff;
        for (int32_t j = 0; j < p->n_distinct; j++)
            agree += (double)dc[j] * (dc[j] - 1);
        p->agree = agree / (m * (m - 1));
        if (o->level == HITL_LEVEL_NOMINAL) {
            fixed = m - agree / (m - 1);
        } else if (o->level == HITL_LEVEL_INTERVAL) {
            double mean = 0, ss = 0;
            for (int32_t j = 0; j < p->n_distinct; j++)
                mean += dc[j] * r->value[dl[j]];
            mean /= m;
            for (int32_t j = 0; j < p->n_distinct; j++)
                ss += dc[j] * (r->value[dl[j]] - mean) * (r->value[dl[j]] - mean);
            fixed = 2 * m * ss / (m - 1);
        } else if (o->level == HITL_LEVEL_RATIO) {
            for (int32_t j = 0; j < p->n_distinct; j++)
                for (int32_t k = j + 1; k < p->n_distinct; k++) {
                    double a = r->value[dl[j]], b = r->value[dl[k]];
                    double d = a + b != 0 ? (a - b) / (a + b) : 0;
                    fixed += 2.0 * dc[j] * dc[k] * d * d;
                }
            fixed /= m - 1;
        }
        p->do_fixed = fixed;
    }
    goto done;
nomem:
    st = hitl_error_set(err, HITL_ENOMEM, "out of memory for the rating patterns");
    patterns_release(pt);
done:
    free(tmp);
    free(slots);
    free(hashes);
    return st;
}

/* The multiset measures when pattern i occurs w[i] times. scratch: 5 L doubles. */
static void pattern_stats(const patterns *pt, const int64_t *w, const hitl_ratings *r,
                          hitl_level level, int balanced, double *scratch, double *coef,
                          double *per_label)
{
    size_t L = r->n_labels;
    double *pi_num = scratch, *pl = scratch + L, *nc = scratch + 2 * L, *x = scratch + 3 * L;
    memset(scratch, 0, 4 * L * sizeof(double));
    multiset_sums s = {.pi_num = pi_num, .pl = pl};
    for (size_t i = 0; i < pt->n; i++) {
        const pattern *p = &pt->v[i];
        if (!w[i]) continue;
        double cnt = (double)w[i], m = p->m;
        const int32_t *dl = pt->dlab + p->doff, *dc = pt->dcnt + p->doff;
        s.n1 += cnt;
        for (int32_t j = 0; j < p->n_distinct; j++)
            pi_num[dl[j]] += cnt * dc[j] / m;
        if (p->m < 2) continue;
        s.n2 += cnt;
        s.pa_sum += cnt * p->agree;
        for (int32_t j = 0; j < p->n_distinct; j++) {
            nc[dl[j]] += cnt * dc[j];
            pl[dl[j]] += cnt * dc[j] * (m - dc[j]) / (m * (m - 1));
        }
        if (level != HITL_LEVEL_ORDINAL) s.do_sum += cnt * p->do_fixed;
    }
    s.de_sum = expected_disagreement(nc, L, level, r->value, x, &s.n_distinct);
    for (size_t c = 0; c < L; c++)
        s.n_values += nc[c];
    if (level == HITL_LEVEL_ORDINAL) /* the metric moves with the margins: one more pass */
        for (size_t i = 0; i < pt->n; i++) {
            const pattern *p = &pt->v[i];
            if (!w[i] || p->m < 2) continue;
            const int32_t *dl = pt->dlab + p->doff, *dc = pt->dcnt + p->doff;
            double m = p->m, mean = 0, ss = 0;
            for (int32_t j = 0; j < p->n_distinct; j++)
                mean += dc[j] * x[dl[j]];
            mean /= m;
            for (int32_t j = 0; j < p->n_distinct; j++)
                ss += dc[j] * (x[dl[j]] - mean) * (x[dl[j]] - mean);
            s.do_sum += (double)w[i] * 2 * m * ss / (m - 1);
        }
    finish(&s, L, balanced, coef, per_label);
}

/* ---- the sparse path, part 2: pairs by annotator ------------------------------------------
 * For annotator a, walk a's ratings (by item); the item's later ratings are the annotators
 * b > a. Pair counters live for one block of b at a time. */
typedef struct pair_vec {
    hitl_pair_agreement *v;
    size_t n, cap;
} pair_vec;

static int pair_push(pair_vec *pv, const hitl_pair_agreement *p)
{
    if (pv->n == pv->cap) {
        size_t nc = pv->cap ? pv->cap * 2 : 64;
        hitl_pair_agreement *nv = realloc(pv->v, nc * sizeof(*nv));
        if (!nv) return -1;
        pv->v = nv;
        pv->cap = nc;
    }
    pv->v[pv->n++] = *p;
    return 0;
}

static int cmp_pair(const void *x, const void *y)
{
    const hitl_pair_agreement *a = x, *b = y;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

static hitl_status sparse_pairs(const hitl_ratings *r, const hitl_agreement_opts *o, size_t budget,
                                int nt, hitl_agreement *out, hitl_error *err)
{
    size_t A = r->n_annotators, L = r->n_labels;
    size_t per = 4 + 2 * L; /* n, eq, d1, d2, ra[L], cb[L] */
    size_t block = budget / per;
    if (block < 1) block = 1;
    if (block > A) block = A;
    hitl__by_annotator ix;
    int64_t *acc = zalloc_array((size_t)nt * block, per * sizeof(int64_t));
    int32_t *touched = alloc_array((size_t)nt * block, sizeof(int32_t));
    pair_vec *vecs = zalloc_array((size_t)nt, sizeof(pair_vec));
    hitl_status st = hitl__by_annotator_build(r, &ix, err);
    int failed = 0;
    if (st != HITL_OK) goto done;
    if (!acc || !touched || !vecs) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for the annotator pairs");
        goto done;
    }
    const int64_t *ann_ptr = ix.ann_ptr, *by_ann = ix.by_ann;
    const int32_t *item_of = ix.item_of;
    size_t blocks_per = (A + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t task = 0; task < A * blocks_per; task++) {
        size_t a = task / blocks_per, b0 = (task % blocks_per) * block, b1 = b0 + block;
        if (b1 > A) b1 = A;
        if (b1 <= a + 1) continue;
        if (b0 <= a) b0 = a + 1;
        int t = omp_get_thread_num();
        int64_t *my = acc + (size_t)t * block * per;
        int32_t *touch = touched + (size_t)t * block;
        size_t n_touch = 0;
        for (int64_t q = ann_ptr[a]; q < ann_ptr[a + 1]; q++) {
            int64_t k = by_ann[q], end = r->item_ptr[item_of[k] + 1];
            int32_t la = r->label[k];
            for (int64_t j = k + 1; j < end; j++) {
                size_t b = (size_t)r->annotator[j];
                if (b < b0) continue;
                if (b >= b1) break;
                int64_t *c = my + (b - b0) * per;
                if (c[0] == 0) touch[n_touch++] = (int32_t)(b - b0);
                int32_t lb = r->label[j];
                int64_t d = (int64_t)la - lb;
                c[0]++;
                c[1] += la == lb;
                c[2] += d < 0 ? -d : d;
                c[3] += d * d;
                c[4 + la]++;
                c[4 + L + (size_t)lb]++;
            }
        }
        qsort(touch, n_touch, sizeof(int32_t), cmp_i32);
        for (size_t i = 0; i < n_touch; i++) {
            int64_t *c = my + (size_t)touch[i] * per;
            pair_stats s = {c[0], c[1], c[2], c[3]};
            hitl_pair_agreement p;
            pair_result(&p, (int32_t)a, (int32_t)(b0 + (size_t)touch[i]), &s, c + 4, c + 4 + L, L,
                        o->weights);
            if (pair_push(&vecs[t], &p)) {
#pragma omp atomic write
                failed = 1;
            }
            memset(c, 0, per * sizeof(int64_t));
        }
    }
    if (failed) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for the annotator pairs");
        goto done;
    }
    size_t total = 0;
    for (int t = 0; t < nt; t++)
        total += vecs[t].n;
    out->pairs = zalloc_array(total, sizeof(hitl_pair_agreement));
    if (!out->pairs) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for the annotator pairs");
        goto done;
    }
    for (int t = 0; t < nt; t++) {
        if (vecs[t].n) memcpy(out->pairs + out->n_pairs, vecs[t].v, vecs[t].n * sizeof(*vecs->v));
        out->n_pairs += vecs[t].n;
    }
    qsort(out->pairs, out->n_pairs, sizeof(hitl_pair_agreement), cmp_pair);
done:
    for (int t = 0; vecs && t < nt; t++)
        free(vecs[t].v);
    free(vecs);
    hitl__by_annotator_release(&ix);
    free(acc);
    free(touched);
    return st;
}

/* ---- each annotator against the final label ------------------------------------------------ */
static hitl_status versus_final(const hitl_ratings *r, const hitl_agreement_opts *o,
                                hitl_agreement *out, hitl_error *err)
{
    size_t A = r->n_annotators, L = r->n_labels, per = 4 + 2 * L;
    int64_t *acc = zalloc_array(A, per * sizeof(int64_t));
    out->vs_final = zalloc_array(A, sizeof(hitl_pair_agreement));
    if (!acc || !out->vs_final) {
        free(acc);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    for (size_t u = 0; u < r->n_items; u++) {
        int32_t f = o->final_label[u];
        if (f < 0) continue;
        for (int64_t k = r->item_ptr[u]; k < r->item_ptr[u + 1]; k++) {
            int64_t *c = acc + (size_t)r->annotator[k] * per;
            int32_t la = r->label[k];
            int64_t d = (int64_t)la - f;
            c[0]++;
            c[1] += la == f;
            c[2] += d < 0 ? -d : d;
            c[3] += d * d;
            c[4 + la]++;
            c[4 + L + (size_t)f]++;
        }
    }
    for (size_t a = 0; a < A; a++) {
        int64_t *c = acc + a * per;
        pair_stats s = {c[0], c[1], c[2], c[3]};
        pair_result(&out->vs_final[a], (int32_t)a, -1, &s, c + 4, c + 4 + L, L, o->weights);
    }
    free(acc);
    return HITL_OK;
}

/* ---- bootstrap ------------------------------------------------------------------------------ */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default ("linear", type 7) quantile of sorted v[0..n) */
static double quantile(const double *v, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

/* Walker's alias table (Vose's construction) in integers: drawing bucket j uniformly from P,
 * then x uniformly from [0, n1), and taking j when x < thr[j], else alias[j], picks pattern i
 * with probability exactly count_i / n1, in O(1). (count_i P units over P buckets of n1.) */
static int alias_build(const patterns *pt, int64_t n1, int64_t *thr, uint32_t *alias)
{
    size_t P = pt->n, ns = 0, nl = 0;
    uint32_t *small = alloc_array(P, sizeof(uint32_t)), *large = alloc_array(P, sizeof(uint32_t));
    if (!small || !large) {
        free(small);
        free(large);
        return -1;
    }
    for (size_t i = 0; i < P; i++) {
        thr[i] = pt->v[i].count * (int64_t)P; /* < 2^31 * 2^32 */
        alias[i] = (uint32_t)i;
        if (thr[i] < n1)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        alias[s] = l; /* bucket s: thr[s] units of s, the rest of l */
        thr[l] -= n1 - thr[s];
        if (thr[l] < n1) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl)
        thr[large[--nl]] = n1;
    while (ns)
        thr[small[--ns]] = n1; /* only from rounding: none with integer weights */
    free(small);
    free(large);
    return 0;
}

static hitl_status bootstrap(const hitl_ratings *r, const hitl_agreement_opts *o,
                             const patterns *pt, int balanced, int nt, hitl_agreement *out,
                             hitl_error *err)
{
    size_t B = o->bootstrap, P = pt->n, L = r->n_labels;
    int64_t n1 = P ? pt->cum[P - 1] : 0;
    double *reps = alloc_array(B, HITL_COEF_COUNT * sizeof(double));
    int64_t *w = zalloc_array((size_t)nt * P, sizeof(int64_t));
    double *scratch = zalloc_array((size_t)nt * 5 * L, sizeof(double));
    double *col = alloc_array(B, sizeof(double));
    int64_t *thr = alloc_array(P, sizeof(int64_t));
    uint32_t *alias = alloc_array(P, sizeof(uint32_t));
    if (!reps || !w || !scratch || !col || !thr || !alias || alias_build(pt, n1, thr, alias)) {
        free(reps);
        free(w);
        free(scratch);
        free(col);
        free(thr);
        free(alias);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu bootstrap resamples", B);
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t b = 0; b < B; b++) {
        int t = omp_get_thread_num();
        int64_t *wt = w + (size_t)t * P;
        memset(wt, 0, P * sizeof(int64_t));
        hitl_rng rng;
        hitl_rng_seed(&rng, o->seed ^ ((uint64_t)(b + 1) * BOOT_SEED_MIX));
        for (int64_t i = 0; i < n1; i++) {
            size_t j = (size_t)hitl_rng_below(&rng, P);
            int64_t x = (int64_t)hitl_rng_below(&rng, (uint64_t)n1);
            wt[x < thr[j] ? j : alias[j]]++;
        }
        pattern_stats(pt, wt, r, o->level, balanced, scratch + (size_t)t * 5 * L,
                      reps + b * HITL_COEF_COUNT, NULL);
    }
    for (int c = 0; c < HITL_COEF_COUNT; c++) {
        size_t k = 0;
        for (size_t b = 0; b < B; b++) {
            double v = reps[b * HITL_COEF_COUNT + c];
            if (isfinite(v)) col[k++] = v;
        }
        if (k < 2) {
            out->ci[c].lo = out->ci[c].hi = NAN;
            continue;
        }
        qsort(col, k, sizeof(double), cmp_double);
        out->ci[c].lo = quantile(col, k, 0.025);
        out->ci[c].hi = quantile(col, k, 0.975);
    }
    out->bootstrap = B;
    free(reps);
    free(w);
    free(scratch);
    free(col);
    free(thr);
    free(alias);
    return HITL_OK;
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
static hitl_status set_shape(hitl_agreement *out, size_t n_items, size_t A, size_t L,
                             size_t n_ratings, const shape *sh, hitl_error *err)
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
    out->per_label = zalloc_array(L, sizeof(double));
    if (!out->per_label) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return HITL_OK;
}

/* Every measure but vs_final and the intervals from the configuration counts hist[H]. */
static hitl_status from_hist(const int64_t *hist, size_t H, size_t n_items, size_t A, size_t L,
                             const double *value, const hitl_agreement_opts *o, int nt,
                             hitl_agreement *out, hitl_error *err)
{
    dense d = {.A = A, .L = L, .M = A, .P = A * (A - 1) / 2, .LL = L * L};
    d.cells = (A - 1) * d.P * d.LL;
    d.tab = zalloc_array(d.cells + A + 1 + L, sizeof(int64_t));
    if (!d.tab) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    shape sh = {.min_m = SIZE_MAX};
    if (hist_expand_all(hist, H, &d, &sh, nt)) {
        free(d.tab);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_status st = set_shape(out, n_items, A, L, sh.n_ratings, &sh, err);
    if (st == HITL_OK)
        st = dense_finish(value, o, &d, out, sh.min_m == sh.max_m && sh.min_m >= 2, err);
    free(d.tab);
    return st;
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
    size_t A = r->n_annotators, L = r->n_labels, H = hist_size(A, L);
    size_t P = A * (A - 1) / 2, LL = L * L;
    hitl_agree_path path = o->path;
    if (path == HITL_AGREE_AUTO && H) path = HITL_AGREE_HISTOGRAM;
    if (path == HITL_AGREE_HISTOGRAM && !H)
        return hitl_error_set(err, HITL_EINVAL,
                              "the histogram path needs (labels + 1)^annotators <= %zu", HIST_MAX);
    shape sh = {.min_m = SIZE_MAX};
    dense d = {.A = A, .L = L, .P = P, .LL = LL};
    patterns pt = {0};

    if (path == HITL_AGREE_HISTOGRAM) {
        uint32_t *scratch = zalloc_array((size_t)nt * H, sizeof(uint32_t));
        int64_t *hist = zalloc_array(H, sizeof(int64_t));
        int bad = scratch && hist ? hist_pass(r, H, nt, scratch, hist) : 0;
        free(scratch);
        if (!scratch || !hist)
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        else if (bad && (st = hitl_ratings_check(r, err)) == HITL_OK)
            st = hitl_error_set(err, HITL_EINTERNAL, "table check disagrees");
        else if (!bad)
            st = from_hist(hist, H, r->n_items, A, L, r->value, o, nt, out, err);
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
        if ((st = set_shape(out, r->n_items, A, L, r->n_ratings, &sh, err)) != HITL_OK) goto fail;
    }
    int balanced = sh.min_m == sh.max_m && sh.min_m >= 2;

    if (path == HITL_AGREE_DENSE) {
        d.M = sh.max_m;
        d.cells = (sh.max_m - 1) * P * LL;
        size_t per = d.cells + (d.M + 1) + L;
        d.tab = zalloc_array((size_t)nt * per, sizeof(int64_t));
        if (!d.tab) {
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            goto fail;
        }
        dense_pass(r, &d, nt);
        st = dense_finish(r->value, o, &d, out, balanced, err);
        free(d.tab);
        if (st != HITL_OK) goto fail;
    } else if (path == HITL_AGREE_SPARSE) {
        if ((st = sparse_pairs(r, o, budget, nt, out, err)) != HITL_OK) goto fail;
        if ((st = patterns_build(r, sh.max_m, o, &pt, err)) != HITL_OK) goto fail;
        double *scratch = zalloc_array(5 * L, sizeof(double));
        int64_t *w = zalloc_array(pt.n, sizeof(int64_t));
        if (!scratch || !w) {
            free(scratch);
            free(w);
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < pt.n; i++)
            w[i] = pt.v[i].count;
        pattern_stats(&pt, w, r, o->level, balanced, scratch, out->coef, out->per_label);
        free(w);
        free(scratch);
    }
    if (o->final_label && (st = versus_final(r, o, out, err)) != HITL_OK) goto fail;
    if (o->bootstrap) {
        if (!pt.n && (st = patterns_build(r, sh.max_m, o, &pt, err)) != HITL_OK) goto fail;
        if ((st = bootstrap(r, o, &pt, balanced, nt, out, err)) != HITL_OK) goto fail;
    }
    patterns_release(&pt);
    return HITL_OK;
fail:
    patterns_release(&pt);
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
    size_t A = m->n_annotators, L = m->n_labels, H = hist_size(A, L);
    int direct = H && L >= 1 && L <= 127 && A <= 16 && !opts->final_label && !opts->bootstrap &&
                 (opts->path == HITL_AGREE_AUTO || opts->path == HITL_AGREE_HISTOGRAM);
    if (direct) {
        hitl_status st = check_opts(m->n_items, A, L, m->value, opts, err);
        if (st != HITL_OK) return st;
        int nt = n_threads(opts->threads);
        int64_t *hist = zalloc_array(H, sizeof(int64_t));
        int bad = hist ? hitl__matrix_hist(m, H, nt, opts->portable, hist) : -1;
        if (bad < 0) st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        if (!bad) st = from_hist(hist, H, m->n_items, A, L, m->value, opts, nt, out, err);
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
