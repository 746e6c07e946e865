/* Top-k selection in O(k) memory with a bounded min-heap, and threshold selection. The order is
 * total (score descending, then row ascending), so results never depend on block size, block
 * order or thread count. */
#include <math.h>
#include <stdlib.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

int hitl_scored_before(const hitl_scored *a, const hitl_scored *b)
{
    return a->score > b->score || (a->score == b->score && a->row < b->row);
}

hitl_status hitl_topk_init(hitl_topk *t, size_t k)
{
    t->k = k;
    t->n = 0;
    t->heap = NULL;
    if (k == 0) return HITL_OK;
    if (k > SIZE_MAX / sizeof(*t->heap)) return HITL_ENOMEM;
    t->heap = malloc(k * sizeof(*t->heap));
    return t->heap ? HITL_OK : HITL_ENOMEM;
}

void hitl_topk_release(hitl_topk *t)
{
    if (!t) return;
    free(t->heap);
    t->heap = NULL;
    t->n = t->k = 0;
}

/* Min-heap on "ranks before": the root is the row every newcomer must beat. */
static void sift_down(hitl_scored *h, size_t n, size_t i)
{
    hitl_scored x = h[i];
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l >= n) break;
        size_t r = l + 1;
        w = (r < n && hitl_scored_before(&h[l], &h[r])) ? r : l;
        if (!hitl_scored_before(&x, &h[w])) break;
        h[i] = h[w];
        i = w;
    }
    h[i] = x;
}

/* Moves heap entry i up to its place in the min-heap h (order: hitl_scored_before). */
static void sift_up(hitl_scored *h, size_t i)
{
    hitl_scored x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hitl_scored_before(&h[p], &x)) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

int hitl_topk_offer(hitl_topk *t, const hitl_scored *s)
{
    if (t->k == 0 || isnan(s->score)) return 0;
    if (t->n < t->k) {
        t->heap[t->n] = *s;
        sift_up(t->heap, t->n++);
        return 1;
    }
    if (!hitl_scored_before(s, &t->heap[0])) return 0;
    t->heap[0] = *s;
    sift_down(t->heap, t->n, 0);
    return 1;
}

void hitl_topk_offer_block(hitl_topk *t, const float *scores, const int32_t *pred, const float *p1,
                           size_t n, int64_t row0)
{
    if (t->k == 0) return;
    size_t i = 0;
    for (; i < n && t->n < t->k; i++) { /* filling */
        hitl_scored x = {scores[i], p1 ? p1[i] : NAN, pred ? pred[i] : -1, row0 + (int64_t)i};
        hitl_topk_offer(t, &x);
    }
    /* Full: most rows of a large pool never reach the root's score, so scan 64 at a time with a
     * vectorised test and look closer only where one does (NaN never does). */
    float bar = t->n ? t->heap[0].score : INFINITY;
    while (i < n) {
        size_t m = n - i < 64 ? n - i : 64;
        int any = 0;
#pragma omp simd reduction(| : any)
        for (size_t j = 0; j < m; j++)
            any |= scores[i + j] >= bar;
        for (size_t j = 0; any && j < m; j++) {
            if (!(scores[i + j] >= bar)) continue;
            hitl_scored x = {scores[i + j], p1 ? p1[i + j] : NAN, pred ? pred[i + j] : -1,
                             row0 + (int64_t)(i + j)};
            hitl_topk_offer(t, &x);
            bar = t->heap[0].score;
        }
        i += m;
    }
}

void hitl_topk_merge(hitl_topk *dst, const hitl_topk *src)
{
    for (size_t i = 0; i < src->n; i++)
        hitl_topk_offer(dst, &src->heap[i]);
}

size_t hitl_topk_drain(hitl_topk *t, hitl_scored *out)
{
    size_t n = t->n;
    /* Pop the worst to the back: out ends best first. */
    while (t->n > 0) {
        out[t->n - 1] = t->heap[0];
        t->heap[0] = t->heap[--t->n];
        sift_down(t->heap, t->n, 0);
    }
    return n;
}

size_t hitl_scored_merge_top(hitl_scored *into, size_t n_into, const hitl_scored *from,
                             size_t n_from, size_t k)
{
    /* how many of each the best k take, walking both lists from their best */
    size_t a = 0, b = 0;
    while (a + b < k && (a < n_into || b < n_from)) {
        if (b == n_from || (a < n_into && hitl_scored_before(&into[a], &from[b])))
            a++;
        else
            b++;
    }
    /* then fill from the back: `into`'s rows only move towards its end, so none is overwritten
     * before it is placed */
    size_t n = a + b;
    for (size_t o = n; o > 0; o--) {
        if (b == 0 || (a > 0 && !hitl_scored_before(&into[a - 1], &from[b - 1])))
            into[o - 1] = into[--a];
        else
            into[o - 1] = from[--b];
    }
    return n;
}

/* qsort order of scored rows: best first, as hitl_scored_before. */
static int cmp_scored(const void *pa, const void *pb)
{
    const hitl_scored *a = pa, *b = pb;
    if (hitl_scored_before(a, b)) return -1;
    if (hitl_scored_before(b, a)) return 1;
    return 0;
}

void hitl_scored_sort(hitl_scored *v, size_t n)
{
    if (n > 1) qsort(v, n, sizeof(*v), cmp_scored);
}

hitl_status hitl_select_above(hitl_scored_vec *vec, const float *scores, const int32_t *pred,
                              const float *p1, size_t n, int64_t row0, float threshold)
{
    for (size_t i = 0; i < n; i++) {
        if (!(scores[i] > threshold)) continue;
        if (vec->n == vec->cap) {
            size_t cap = vec->cap ? vec->cap * 2 : 1024;
            hitl_scored *v = realloc(vec->v, cap * sizeof(*v));
            if (!v) return HITL_ENOMEM;
            vec->v = v;
            vec->cap = cap;
        }
        hitl_scored x = {scores[i], p1 ? p1[i] : NAN, pred ? pred[i] : -1, row0 + (int64_t)i};
        vec->v[vec->n++] = x;
    }
    return HITL_OK;
}

void hitl_scored_vec_release(hitl_scored_vec *vec)
{
    if (!vec) return;
    free(vec->v);
    vec->v = NULL;
    vec->n = vec->cap = 0;
}
