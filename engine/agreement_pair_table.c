/* The DENSE path: one pass over the ratings table counts every co-rated pair into a table indexed
 * by (ratings on the item, annotator pair, label, label); the histogram path fills the same table
 * from its configurations. Every measure but the bootstrap follows from that table. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

void hitl__pair_table_count(const hitl_ratings *r, hitl__pair_table *d, int nt)
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
                int64_t *pa = base + hitl__pair_index(A, a, a + 1) * LL + row;
                for (int64_t j = i + 1; j < e; j++)
                    pa[(size_t)(ann[j] - (int32_t)a - 1) * LL + (size_t)lab[j]]++;
            }
        }
    }
    for (int t = 1; t < nt; t++)
        for (size_t k = 0; k < per; k++)
            all[k] += all[(size_t)t * per + k];
}

hitl_status hitl__pair_table_measures(const double *value, const hitl_agreement_opts *o,
                                      const hitl__pair_table *d, hitl_agreement *out, int balanced,
                                      hitl_error *err)
{
    size_t L = d->L, LL = d->LL, P = d->P, A = d->A, M = d->M;
    const int64_t *tab = d->tab, *items_m = d->tab + d->cells, *single = items_m + M + 1;
    int64_t *conf = hitl__zalloc_array(LL, sizeof(int64_t)),
            *ra = hitl__zalloc_array(2 * L, sizeof(int64_t));
    int64_t *om = hitl__zalloc_array(LL, sizeof(int64_t));
    double *buf = hitl__zalloc_array(5 * L + LL, sizeof(double));
    out->pairs = hitl__zalloc_array(P, sizeof(hitl_pair_agreement));
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
            size_t p = hitl__pair_index(A, a, b);
            memset(conf, 0, LL * sizeof(int64_t));
            for (size_t m = 2; m <= M; m++) {
                const int64_t *t = tab + ((m - 2) * P + p) * LL;
                for (size_t k = 0; k < LL; k++)
                    conf[k] += t[k];
            }
            hitl__pair_stats s = {0};
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
                hitl__pair_result(&out->pairs[np++], (int32_t)a, (int32_t)b, &s, ra, cb, L,
                                  o->weights);
        }
    out->n_pairs = np;

    /* multiset sums: O_m = sum_p (T + T') counts ordered pairs in items with m ratings */
    double *pi_num = buf, *pl = buf + L, *nc = buf + 2 * L, *x = buf + 3 * L, *o_ck = buf + 5 * L;
    hitl__multiset_sums s = {.pi_num = pi_num, .pl = pl};
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
    s.de_sum = hitl__expected_disagreement(nc, L, o->level, value, x, &s.n_distinct);
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
    hitl__multiset_coefs(&s, L, balanced, out->coef, out->per_label);
    free(conf);
    free(ra);
    free(om);
    free(buf);
    return HITL_OK;
}
