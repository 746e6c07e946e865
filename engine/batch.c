/* Plans one annotation batch from every row's score: the K most uncertain rows not yet taken,
 * B rows drawn uniformly (seeded, Floyd's algorithm) from the rest, optional risk routing, and
 * the blind rows interleaved at their share of the batch so annotators cannot tell them apart. */
#include <math.h>
#include <stdlib.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

hitl_status hitl_batch_plan(const float *score, const int32_t *pred, const float *p1,
                            const uint8_t *taken, size_t n, const hitl_batch_opts *o,
                            hitl_batch_entry **out, size_t *n_out, hitl_batch_counts *counts,
                            hitl_error *err)
{
    *out = NULL;
    *n_out = 0;
    *counts = (hitl_batch_counts){0};
    if (o->route && !(o->medium <= o->high))
        return hitl_error_set(err, HITL_EINVAL, "routing needs medium <= high");
    hitl_status s = HITL_OK;
    hitl_scored *best = NULL;
    int64_t *eligible = NULL, *pick = NULL;
    uint8_t *chosen = NULL, *is_top = calloc(n ? n : 1, 1);
    hitl_batch_entry *rows = NULL;
    hitl_topk top = {0};
    size_t k = o->chosen ? 0 : o->use_top_k ? o->top_k : n;
    if (!is_top || hitl_topk_init(&top, k) != HITL_OK) goto nomem;

    /* the uncertain candidates: the top-k of the free rows (or, routing without a top-k,
     * every free row above medium), best first */
    size_t n_top;
    if (o->chosen) { /* chosen elsewhere: take them as they come */
        n_top = o->n_chosen;
        if (!(best = malloc((n_top ? n_top : 1) * sizeof(*best)))) goto nomem;
        for (size_t i = 0; i < n_top; i++) {
            int64_t r = o->chosen[i];
            if (r < 0 || (size_t)r >= n || (taken && taken[r]) || isnan(score[r]) || is_top[r]) {
                s = hitl_error_set(err, HITL_EINVAL,
                                   "chosen row %lld is out of range, taken, "
                                   "unscored or repeated",
                                   (long long)r);
                goto done;
            }
            is_top[r] = 1;
            best[i] = (hitl_scored){score[r], p1 ? p1[r] : NAN, pred ? pred[r] : -1, r};
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if ((taken && taken[i]) || isnan(score[i])) continue;
            if (!o->use_top_k && !(score[i] > o->medium)) continue;
            hitl_scored x = {score[i], p1 ? p1[i] : NAN, pred ? pred[i] : -1, (int64_t)i};
            hitl_topk_offer(&top, &x);
        }
        n_top = top.n;
        if (!(best = malloc((n_top ? n_top : 1) * sizeof(*best)))) goto nomem;
        hitl_topk_drain(&top, best);
    }
    for (size_t i = 0; i < n_top; i++)
        is_top[best[i].row] = 1;

    /* the blind sample, in row order */
    size_t n_eligible = 0;
    if (!(eligible = malloc((n ? n : 1) * sizeof(int64_t)))) goto nomem;
    for (size_t i = 0; i < n; i++)
        if (!(taken && taken[i]) && !is_top[i] && !isnan(score[i]))
            eligible[n_eligible++] = (int64_t)i;
    size_t n_blind = o->blind < n_eligible ? o->blind : n_eligible;
    pick = malloc((n_blind ? n_blind : 1) * sizeof(int64_t));
    chosen = calloc(n_eligible ? n_eligible : 1, 1);
    if (!pick || !chosen) goto nomem;
    hitl_rng rng;
    hitl_rng_seed(&rng, o->seed);
    for (size_t j = n_eligible - n_blind; j < n_eligible; j++) {
        size_t t = (size_t)hitl_rng_below(&rng, j + 1);
        chosen[chosen[t] ? j : t] = 1;
    }
    for (size_t i = 0, b = 0; i < n_eligible; i++)
        if (chosen[i]) pick[b++] = eligible[i];

    size_t total = n_top + n_blind, nr = 0, ui = 0, bi = 0;
    if (!(rows = calloc(total ? total : 1, sizeof(*rows)))) goto nomem;
    int overlap = o->overlap > 0 ? o->overlap : 1;
    for (size_t t = 0; t < total; t++) {
        /* a blind row next whenever the blind share so far falls behind B / total */
        int blind = bi < n_blind && (ui >= n_top || (bi + 1) * total <= (t + 1) * n_blind);
        hitl_batch_entry *r = &rows[nr];
        if (blind) {
            int64_t row = pick[bi++];
            *r = (hitl_batch_entry){
                row,    score[row], pred ? pred[row] : -1, p1 ? p1[row] : NAN, 1, HITL_ROUTE_NONE,
                overlap};
            counts->blind++;
        } else {
            const hitl_scored *x = &best[ui++];
            hitl_route route = HITL_ROUTE_NONE;
            int required = overlap;
            if (o->route) {
                if (x->score > o->high) {
                    route = HITL_ROUTE_REVIEW;
                    counts->review++;
                } else if (x->score > o->medium) {
                    route = HITL_ROUTE_FLAG;
                    required = 1;
                    counts->flag++;
                } else {
                    counts->proceed++;
                    continue;
                }
            }
            *r = (hitl_batch_entry){x->row, x->score, x->pred, x->p1, 0, route, required};
            counts->uncertain++;
        }
        nr++;
    }
    *out = rows;
    *n_out = nr;
    rows = NULL;
    goto done;
nomem:
    s = hitl_error_set(err, HITL_ENOMEM, "out of memory planning a batch over %zu rows", n);
done:
    hitl_topk_release(&top);
    free(best);
    free(eligible);
    free(pick);
    free(chosen);
    free(is_top);
    free(rows);
    return s;
}
