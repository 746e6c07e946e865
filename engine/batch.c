/* Plans one annotation batch from every row's score: the K most uncertain rows not yet taken,
 * B rows drawn uniformly (seeded, Floyd's algorithm) from the rest, optional risk routing, and
 * the blind rows interleaved at their share of the batch so annotators cannot tell them apart. */
#include <math.h>
#include <stdlib.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

/* The pool every step reads: n rows' scores, predictions and top probabilities (pred, p1 and
 * taken may be NULL), all borrowed. */
typedef struct pool {
    const float *score;
    const int32_t *pred;
    const float *p1;
    const uint8_t *taken;
    size_t n;
} pool;

/* Whether row i is free to be queued: not taken, and scored. */
static int is_free(const pool *rows, size_t i)
{
    return !(rows->taken && rows->taken[i]) && !isnan(rows->score[i]);
}

/* The uncertain candidates, best first, into best[] (*best: caller frees) and marked in
 * is_top[n]: opts->chosen as given (checked), else the top-k of the free rows (or, routing
 * without a top-k, every free row above medium). HITL_EINVAL for a bad chosen row. */
static hitl_status uncertain_rows(const pool *rows, const hitl_batch_opts *opts, uint8_t *is_top,
                                  hitl_scored **best, size_t *n_top, hitl_error *err)
{
    hitl_topk top = {0};
    size_t k = opts->chosen ? 0 : opts->use_top_k ? opts->top_k : rows->n;
    hitl_status st = HITL_OK;
    *best = NULL;
    *n_top = 0;
    if (hitl_topk_init(&top, k) != HITL_OK) return HITL_ENOMEM;
    if (opts->chosen) { /* chosen elsewhere: take them as they come */
        if (!(*best = malloc((opts->n_chosen ? opts->n_chosen : 1) * sizeof(**best)))) {
            st = HITL_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < opts->n_chosen; i++) {
            int64_t row = opts->chosen[i];
            if (row < 0 || (size_t)row >= rows->n || !is_free(rows, (size_t)row) || is_top[row]) {
                st = hitl_error_set(err, HITL_EINVAL,
                                    "chosen row %lld is out of range, taken, "
                                    "unscored or repeated",
                                    (long long)row);
                goto done;
            }
            is_top[row] = 1;
            (*best)[i] = (hitl_scored){rows->score[row], rows->p1 ? rows->p1[row] : NAN,
                                       rows->pred ? rows->pred[row] : -1, row};
        }
        *n_top = opts->n_chosen;
    } else {
        for (size_t i = 0; i < rows->n; i++) {
            if (!is_free(rows, i)) continue;
            if (!opts->use_top_k && !(rows->score[i] > opts->medium)) continue;
            hitl_scored cand = {rows->score[i], rows->p1 ? rows->p1[i] : NAN,
                                rows->pred ? rows->pred[i] : -1, (int64_t)i};
            hitl_topk_offer(&top, &cand);
        }
        if (!(*best = malloc((top.n ? top.n : 1) * sizeof(**best)))) {
            st = HITL_ENOMEM;
            goto done;
        }
        *n_top = hitl_topk_drain(&top, *best);
    }
    for (size_t i = 0; i < *n_top; i++)
        is_top[(*best)[i].row] = 1;
done:
    hitl_topk_release(&top);
    return st;
}

/* min(blind, free rows outside the top) of those rows drawn uniformly (Floyd's algorithm, seeded)
 * into pick[] (*pick: caller frees), in row order. HITL_ENOMEM only (the caller says it). */
static hitl_status blind_rows(const pool *rows, const uint8_t *is_top, size_t blind, uint64_t seed,
                              int64_t **pick, size_t *n_blind)
{
    size_t n = rows->n, n_eligible = 0;
    int64_t *eligible = malloc((n ? n : 1) * sizeof(int64_t));
    uint8_t *drawn = NULL;
    *pick = NULL;
    *n_blind = 0;
    if (!eligible) return HITL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (is_free(rows, i) && !is_top[i]) eligible[n_eligible++] = (int64_t)i;
    size_t want = blind < n_eligible ? blind : n_eligible;
    *pick = malloc((want ? want : 1) * sizeof(int64_t));
    drawn = calloc(n_eligible ? n_eligible : 1, 1);
    if (!*pick || !drawn) {
        free(eligible);
        free(drawn);
        return HITL_ENOMEM;
    }
    hitl_rng rng;
    hitl_rng_seed(&rng, seed);
    for (size_t j = n_eligible - want; j < n_eligible; j++) {
        size_t t = (size_t)hitl_rng_below(&rng, j + 1);
        drawn[drawn[t] ? j : t] = 1;
    }
    for (size_t i = 0, b = 0; i < n_eligible; i++)
        if (drawn[i]) (*pick)[b++] = eligible[i];
    *n_blind = want;
    free(eligible);
    free(drawn);
    return HITL_OK;
}

hitl_route hitl_route_by_risk(double risk, double high, double medium)
{
    return risk > high ? HITL_ROUTE_REVIEW : risk > medium ? HITL_ROUTE_FLAG : HITL_ROUTE_NONE;
}

/* The queue into entry[n_top + n_blind]: a blind row next whenever the blind share so far falls
 * behind n_blind / total, the uncertain rows routed by opts (a "proceed" row is left out).
 * Returns the entries written; counts them into *counts. */
static size_t interleave(const pool *rows, const hitl_batch_opts *opts, const hitl_scored *best,
                         size_t n_top, const int64_t *pick, size_t n_blind, hitl_batch_entry *entry,
                         hitl_batch_counts *counts)
{
    size_t total = n_top + n_blind, n_entries = 0, ui = 0, bi = 0;
    int overlap = opts->overlap > 0 ? opts->overlap : 1;
    for (size_t t = 0; t < total; t++) {
        int blind = bi < n_blind && (ui >= n_top || (bi + 1) * total <= (t + 1) * n_blind);
        hitl_batch_entry *next = &entry[n_entries];
        if (blind) {
            int64_t row = pick[bi++];
            *next = (hitl_batch_entry){.row = row,
                                       .score = rows->score[row],
                                       .pred = rows->pred ? rows->pred[row] : -1,
                                       .p1 = rows->p1 ? rows->p1[row] : NAN,
                                       .blind = 1,
                                       .route = HITL_ROUTE_NONE,
                                       .required = overlap};
            counts->blind++;
        } else {
            const hitl_scored *cand = &best[ui++];
            hitl_route route = HITL_ROUTE_NONE;
            int required = overlap;
            if (opts->route) {
                route = hitl_route_by_risk(cand->score, opts->high, opts->medium);
                if (route == HITL_ROUTE_REVIEW) {
                    counts->review++;
                } else if (route == HITL_ROUTE_FLAG) {
                    required = 1;
                    counts->flag++;
                } else {
                    counts->proceed++;
                    required = 0;
                }
            }
            *next = (hitl_batch_entry){.row = cand->row,
                                       .score = cand->score,
                                       .pred = cand->pred,
                                       .p1 = cand->p1,
                                       .proceed = required == 0,
                                       .route = route,
                                       .required = required};
            counts->uncertain += required > 0;
        }
        n_entries++;
    }
    return n_entries;
}

/* Routing without top_k: the free scored rows at or below medium that neither the uncertain
 * rows nor the blind sample took proceed; written to entry[] in row order (NULL: counted
 * only). Returns their count. */
static size_t proceed_rows(const pool *rows, const hitl_batch_opts *opts, const uint8_t *is_top,
                           const int64_t *pick, size_t n_blind, hitl_batch_entry *entry)
{
    size_t k = 0, b = 0;
    for (size_t i = 0; i < rows->n; i++) {
        while (b < n_blind && pick[b] < (int64_t)i) /* pick[] is in row order */
            b++;
        if (!is_free(rows, i) || is_top[i] || (b < n_blind && pick[b] == (int64_t)i) ||
            rows->score[i] > opts->medium)
            continue;
        if (entry)
            entry[k] = (hitl_batch_entry){.row = (int64_t)i,
                                          .score = rows->score[i],
                                          .pred = rows->pred ? rows->pred[i] : -1,
                                          .p1 = rows->p1 ? rows->p1[i] : NAN,
                                          .proceed = 1,
                                          .route = HITL_ROUTE_NONE,
                                          .required = 0};
        k++;
    }
    return k;
}

hitl_status hitl_batch_plan(const float *score, const int32_t *pred, const float *p1,
                            const uint8_t *taken, size_t n, const hitl_batch_opts *opts,
                            hitl_batch_entry **out, size_t *n_out, hitl_batch_counts *counts,
                            hitl_error *err)
{
    *out = NULL;
    *n_out = 0;
    *counts = (hitl_batch_counts){0};
    if (opts->route && !(opts->medium <= opts->high))
        return hitl_error_set(err, HITL_EINVAL, "routing needs medium <= high");
    pool rows = {score, pred, p1, taken, n};
    hitl_scored *best = NULL;
    int64_t *pick = NULL;
    hitl_batch_entry *entry = NULL;
    size_t n_top = 0, n_blind = 0;
    uint8_t *is_top = calloc(n ? n : 1, 1);
    hitl_status st = is_top ? uncertain_rows(&rows, opts, is_top, &best, &n_top, err) : HITL_ENOMEM;
    if (st == HITL_OK) st = blind_rows(&rows, is_top, opts->blind, opts->seed, &pick, &n_blind);
    int rest = st == HITL_OK && opts->route && !opts->use_top_k && !opts->chosen;
    size_t n_rest = rest ? proceed_rows(&rows, opts, is_top, pick, n_blind, NULL) : 0;
    size_t cap = n_top + n_blind + n_rest;
    if (st == HITL_OK && !(entry = calloc(cap ? cap : 1, sizeof(*entry)))) st = HITL_ENOMEM;
    if (st == HITL_OK) {
        *n_out = interleave(&rows, opts, best, n_top, pick, n_blind, entry, counts);
        if (rest) *n_out += proceed_rows(&rows, opts, is_top, pick, n_blind, entry + *n_out);
        counts->proceed += n_rest;
        *out = entry;
    } else {
        free(entry);
    }
    if (st == HITL_ENOMEM)
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory planning a batch over %zu rows", n);
    free(best);
    free(pick);
    free(is_top);
    return st;
}
