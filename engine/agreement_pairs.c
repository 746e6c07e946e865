/* Cohen's kappa counts without a dense table: the SPARSE path walks the ratings table by
 * annotator, pairs (a, b > a) counted one block of b at a time so memory stays bounded, and each
 * annotator against the final label. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "ratings_impl.h"
#include "hitl_banned.h"

/* ---- pairs by annotator ------------------------------------------------------------------
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

hitl_status hitl__sparse_pairs(const hitl_ratings *r, const hitl_agreement_opts *o, size_t budget,
                               int nt, hitl_agreement *out, hitl_error *err)
{
    size_t A = r->n_annotators, L = r->n_labels;
    size_t per = 4 + 2 * L; /* n, eq, d1, d2, ra[L], cb[L] */
    size_t block = budget / per;
    if (block < 1) block = 1;
    if (block > A) block = A;
    hitl__by_annotator ix;
    int64_t *acc = hitl__zalloc_array((size_t)nt * block, per * sizeof(int64_t));
    int32_t *touched = hitl__alloc_array((size_t)nt * block, sizeof(int32_t));
    pair_vec *vecs = hitl__zalloc_array((size_t)nt, sizeof(pair_vec));
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
        qsort(touch, n_touch, sizeof(int32_t), hitl__cmp_int32);
        for (size_t i = 0; i < n_touch; i++) {
            int64_t *c = my + (size_t)touch[i] * per;
            hitl__pair_stats s = {c[0], c[1], c[2], c[3]};
            hitl_pair_agreement p;
            hitl__pair_result(&p, (int32_t)a, (int32_t)(b0 + (size_t)touch[i]), &s, c + 4,
                              c + 4 + L, L, o->weights);
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
    out->pairs = hitl__zalloc_array(total, sizeof(hitl_pair_agreement));
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
hitl_status hitl__versus_final(const hitl_ratings *r, const hitl_agreement_opts *o,
                               hitl_agreement *out, hitl_error *err)
{
    size_t A = r->n_annotators, L = r->n_labels, per = 4 + 2 * L;
    int64_t *acc = hitl__zalloc_array(A, per * sizeof(int64_t));
    out->vs_final = hitl__zalloc_array(A, sizeof(hitl_pair_agreement));
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
        hitl__pair_stats s = {c[0], c[1], c[2], c[3]};
        hitl__pair_result(&out->vs_final[a], (int32_t)a, -1, &s, c + 4, c + 4 + L, L, o->weights);
    }
    free(acc);
    return HITL_OK;
}
