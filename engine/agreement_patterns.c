/* The items' label multisets ("patterns"), gathered in a hash table: the SPARSE path's multiset
 * measures, and what the bootstrap resamples (a resample only changes how often each occurs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

void hitl__patterns_release(hitl__patterns *pt)
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

static void sort_labels(int32_t *l, size_t m)
{
    if (m > 24) {
        qsort(l, m, sizeof(*l), hitl__cmp_int32);
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
    const hitl__pattern *a = pa, *b = pb;
    if (a->m != b->m) return a->m < b->m ? -1 : 1;
    for (int32_t i = 0; i < a->m; i++) {
        int32_t x = a->lp[i], y = b->lp[i];
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

/* Collects the label multiset of every rated item, in a canonical order (by size, then labels)
 * so that every sum over patterns is done in the same order whatever happened before. */
hitl_status hitl__patterns_build(const hitl_ratings *r, size_t max_m, const hitl_agreement_opts *o,
                                 hitl__patterns *pt, hitl_error *err)
{
    memset(pt, 0, sizeof(*pt));
    size_t cap = 1024;
    uint32_t *slots = NULL;
    int32_t *tmp = hitl__alloc_array(max_m ? max_m : 1, sizeof(int32_t));
    pt->v = hitl__alloc_array(cap, sizeof(hitl__pattern));
    pt->lab_cap = 4096;
    pt->lab = hitl__alloc_array(pt->lab_cap, sizeof(int32_t));
    size_t n_slots = 4096;
    slots = hitl__alloc_array(n_slots, sizeof(uint32_t));
    uint64_t *hashes = hitl__alloc_array(cap, sizeof(uint64_t));
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
            hitl__pattern *nv = realloc(pt->v, nc * sizeof(hitl__pattern));
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
        pt->v[pt->n] = (hitl__pattern){.m = (int32_t)m, .off = (int64_t)pt->lab_n, .count = 1};
        hashes[pt->n] = h;
        slots[k] = (uint32_t)pt->n;
        pt->lab_n += m;
        pt->n++;
        if (pt->n * 2 > n_slots) { /* grow and rehash */
            size_t ns = n_slots * 2;
            uint32_t *nsl = hitl__alloc_array(ns, sizeof(uint32_t));
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
    qsort(pt->v, pt->n, sizeof(hitl__pattern), cmp_pattern);

    /* distinct labels and the level's fixed per-pattern sums */
    pt->dlab = hitl__alloc_array(pt->lab_n, sizeof(int32_t));
    pt->dcnt = hitl__alloc_array(pt->lab_n, sizeof(int32_t));
    pt->cum = hitl__alloc_array(pt->n, sizeof(int64_t));
    if (!pt->dlab || !pt->dcnt || !pt->cum) goto nomem;
    int64_t dn = 0, cum = 0;
    for (size_t i = 0; i < pt->n; i++) {
        hitl__pattern *p = &pt->v[i];
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
    hitl__patterns_release(pt);
done:
    free(tmp);
    free(slots);
    free(hashes);
    return st;
}

/* The multiset measures when pattern i occurs w[i] times. scratch: 5 L doubles. */
void hitl__patterns_measures(const hitl__patterns *pt, const int64_t *w, const hitl_ratings *r,
                             hitl_level level, int balanced, double *scratch, double *coef,
                             double *per_label)
{
    size_t L = r->n_labels;
    double *pi_num = scratch, *pl = scratch + L, *nc = scratch + 2 * L, *x = scratch + 3 * L;
    memset(scratch, 0, 4 * L * sizeof(double));
    hitl__multiset_sums s = {.pi_num = pi_num, .pl = pl};
    for (size_t i = 0; i < pt->n; i++) {
        const hitl__pattern *p = &pt->v[i];
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
    s.de_sum = hitl__expected_disagreement(nc, L, level, r->value, x, &s.n_distinct);
    for (size_t c = 0; c < L; c++)
        s.n_values += nc[c];
    if (level == HITL_LEVEL_ORDINAL) /* the metric moves with the margins: one more pass */
        for (size_t i = 0; i < pt->n; i++) {
            const hitl__pattern *p = &pt->v[i];
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
    hitl__multiset_coefs(&s, L, balanced, coef, per_label);
}
