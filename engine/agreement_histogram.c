/* The HISTOGRAM path, for few annotators and labels: one pass over a ratings table counts how many
 * items show each configuration (and checks the table on the way); the few distinct
 * configurations, from a table or a matrix, then fill the pair table (agreement_pair_table.c). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

/* An item's ratings are one of (L + 1)^A configurations (each annotator: one of L labels, or
 * none). One pass over the table counts the configurations and checks the table on the way
 * (one read of it instead of two: every index is range-checked before it is used); the dense
 * table then follows from the few distinct configurations. */

size_t hitl__hist_size(size_t A, size_t L)
{
    size_t h = 1;
    for (size_t a = 0; a < A; a++) {
        if (h > HITL__HIST_MAX / (L + 1)) return 0;
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
int hitl__table_hist(const hitl_ratings *r, size_t H, int nt, uint32_t *scratch, int64_t *hist)
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

/* Spreads the counts of configurations [c0, c1) over tab (laid out as d's: d->M = A). */
static void hist_expand(const int64_t *hist, size_t c0, size_t c1, const hitl__pair_table *d,
                        int64_t *tab, hitl__shape *sh)
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
                base[hitl__pair_index(A, (size_t)la[i], (size_t)la[j]) * LL + (size_t)ln[i] * L +
                     (size_t)ln[j]] += cnt;
    }
}

/* hist_expand over every configuration into d->tab, the codes split between nt threads (each
 * into its own table, summed after). Returns 1 when out of memory. */
static int hist_expand_all(const int64_t *hist, size_t H, hitl__pair_table *d, hitl__shape *sh,
                           int nt)
{
    size_t per = d->cells + d->M + 1 + d->L;
    hitl__shape part[64];
    if (H < ((size_t)1 << 12)) nt = 1;
    if (nt > 64) nt = 64;
    int64_t *more = nt > 1 ? hitl__zalloc_array((size_t)(nt - 1) * per, sizeof(int64_t)) : NULL;
    if (nt > 1 && !more) return 1;
    size_t chunk = (H + (size_t)nt - 1) / (size_t)nt;
#pragma omp parallel num_threads(nt)
    for (size_t t = (size_t)omp_get_thread_num(); t < (size_t)nt;
         t += (size_t)omp_get_num_threads()) { /* any team size */
        size_t c0 = t * chunk, c1 = c0 + chunk;
        if (c1 > H) c1 = H;
        part[t] = (hitl__shape){.min_m = SIZE_MAX};
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

/* Every measure but vs_final and the intervals from the configuration counts hist[H]. */
hitl_status hitl__hist_measures(const int64_t *hist, size_t H, size_t n_items, size_t A, size_t L,
                                const double *value, const hitl_agreement_opts *o, int nt,
                                hitl_agreement *out, hitl_error *err)
{
    hitl__pair_table d = {.A = A, .L = L, .M = A, .P = A * (A - 1) / 2, .LL = L * L};
    d.cells = (A - 1) * d.P * d.LL;
    d.tab = hitl__zalloc_array(d.cells + A + 1 + L, sizeof(int64_t));
    if (!d.tab) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    hitl__shape sh = {.min_m = SIZE_MAX};
    if (hist_expand_all(hist, H, &d, &sh, nt)) {
        free(d.tab);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_status st = hitl__agreement_set_shape(out, n_items, A, L, sh.n_ratings, &sh, err);
    if (st == HITL_OK)
        st = hitl__pair_table_measures(value, o, &d, out, sh.min_m == sh.max_m && sh.min_m >= 2,
                                       err);
    free(d.tab);
    return st;
}
