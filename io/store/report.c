/* The QA report's numbers, gathered from the store in streaming passes (records, items, labels)
 * after the HDF5 export its notebook reads: what `hitl report` hands to notebooks-export as plain
 * structs, and what any other view of a store's quality (a web page) can show. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* Score histogram bins of the queue and of the pool. */
#define SCORE_BINS 30

/* The annotator's index in the throughput list (sorted by name), or SIZE_MAX. */
static size_t find_annotator(const hitl_report_data *d, const char *name)
{
    size_t lo = 0, hi = d->n_throughput;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(d->throughput[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->n_throughput && strcmp(d->throughput[lo].name, name) == 0 ? lo : SIZE_MAX;
}

/* Per record: the confusion of the model's class with the final label, the calibration on the
 * blind items and each annotator's agreement with the final label. */
static hitl_status scan_records(hitl_store *st, hitl_final_rule rule, hitl_report_data *d,
                                hitl_error *err)
{
    size_t c = d->settings.n_classes;
    hitl_records *rc;
    hitl_status s = hitl_records_open(st, rule, NULL, &rc, err);
    if (s != HITL_OK) return s;
    const hitl_record *r;
    while ((s = hitl_records_next(rc, &r, err)) == HITL_OK && r) {
        int known = r->pred >= 0 && (size_t)r->pred < c;
        if (known) d->confusion[(size_t)r->label * c + (size_t)r->pred]++;
        if (known && r->blind) hitl_reliability_add(&d->calibration, r->p1, r->pred == r->label);
        for (int32_t i = 0; i < r->n_labels; i++) {
            size_t k = find_annotator(d, r->annotators[i]);
            if (k == SIZE_MAX) continue;
            d->scored[k]++;
            d->agree[k] += r->votes[i] == r->label;
        }
    }
    hitl_records_close(rc);
    return s;
}

/* The queue's score range and uncertainty method, in a first pass over the items. */
typedef struct score_range {
    double lo, hi;
    char *method;
    size_t method_cap;
} score_range;

static int range_item(void *ctx, const hitl_item_brief *it)
{
    score_range *r = ctx;
    if (isfinite(it->score)) {
        if (it->score > r->hi) r->hi = it->score;
        if (it->score < r->lo) r->lo = it->score;
    }
    if (it->method && !r->method[0]) snprintf(r->method, r->method_cap, "%s", it->method);
    return 0;
}

static int fill_item(void *ctx, const hitl_item_brief *it)
{
    hitl_report_data *d = ctx;
    hitl_histogram_add(it->blind ? &d->scores_blind : &d->scores_uncertain, it->score);
    return 0;
}

/* The pool's scores with the queue's method, block by block. */
static hitl_status pool_scores(const hitl_report_opts *o, hitl_report_data *d, hitl_error *err)
{
    hitl_method m;
    if (hitl_method_parse(d->method, &m) != HITL_OK) m = HITL_METHOD_MARGIN;
    hitl_matrix *mx = NULL;
    hitl_status s = hitl_matrix_open(&mx, o->pool_path, o->pool_dset, err);
    if (s != HITL_OK) return s;
    size_t n = hitl_matrix_rows(mx), c = hitl_matrix_cols(mx);
    if (c != d->settings.n_classes) {
        s = hitl_error_set(err, HITL_ESHAPE, "'%s' has %zu classes, the project %zu",
                           hitl_matrix_name(mx), c, d->settings.n_classes);
        hitl_matrix_close(mx);
        return s;
    }
    size_t block = hitl_block_rows(c);
    float *x = malloc(block * c * sizeof(float)), *sc = malloc(block * sizeof(float));
    hitl_score_opts so = {.kind = HITL_INPUT_PROBS,
                          .methods = HITL_METHOD_BIT(m),
                          .renormalize = 1,
                          .normalize_entropy = o->normalize_entropy};
    hitl_score_out out = {0};
    out.scores[m] = sc;
    if (!x || !sc) s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t r0 = 0; s == HITL_OK && r0 < n; r0 += block) {
        size_t k = n - r0 < block ? n - r0 : block;
        if ((s = hitl_matrix_read(mx, r0, k, x, err)) != HITL_OK) break;
        if ((s = hitl_scores_compute(&so, x, k, c, (int64_t)r0, &out, NULL, err)) != HITL_OK) break;
        for (size_t i = 0; i < k; i++)
            hitl_histogram_add(&d->scores_pool, sc[i]);
    }
    free(x);
    free(sc);
    hitl_matrix_close(mx);
    return s;
}

/* Score histograms of the uncertain and blind items (and of the pool), over one range: from
 * min(0, lowest score) to the method's maximum (ln C for entropy, else 1) or the highest score. */
static hitl_status score_histograms(hitl_store *st, const hitl_report_opts *o, hitl_report_data *d,
                                    hitl_error *err)
{
    score_range r = {INFINITY, -INFINITY, d->method, sizeof(d->method)};
    hitl_status s = hitl_store_items_each(st, range_item, &r, err);
    if (s != HITL_OK) return s;
    double hi = strcmp(d->method, "entropy") == 0 ? log((double)d->settings.n_classes) : 1.0;
    if (r.hi > hi) hi = r.hi;
    double lo = r.lo < 0 ? r.lo : 0;
    if ((s = hitl_histogram_init(&d->scores_uncertain, lo, hi, SCORE_BINS, err)) != HITL_OK ||
        (s = hitl_histogram_init(&d->scores_blind, lo, hi, SCORE_BINS, err)) != HITL_OK ||
        (s = hitl_histogram_init(&d->scores_pool, lo, hi, SCORE_BINS, err)) != HITL_OK)
        return s;
    if ((s = hitl_store_items_each(st, fill_item, d, err)) != HITL_OK) return s;
    return o->pool_path ? pool_scores(o, d, err) : HITL_OK;
}

/* Agreement (nominal) over every label; when it cannot be computed, the reason in the note. */
static hitl_status label_agreement(hitl_store *st, const hitl_report_opts *o, hitl_report_data *d,
                                   hitl_error *err)
{
    hitl_ratings ratings = {0};
    hitl_status s =
        hitl_store_ratings_get(st, &ratings, &d->agreement_names, &d->n_agreement_names, err);
    if (s != HITL_OK) return s;
    hitl_agreement_opts ao = {.level = HITL_LEVEL_NOMINAL, .bootstrap = o->bootstrap};
    hitl_error aerr;
    hitl_error_clear(&aerr);
    if (hitl_agreement_compute(&ratings, &ao, &d->agreement, &aerr) == HITL_OK)
        d->has_agreement = 1;
    else
        snprintf(d->agreement_note, sizeof(d->agreement_note), "%s", aerr.msg);
    hitl_ratings_release(&ratings);
    return HITL_OK;
}

hitl_status hitl_report_gather(hitl_store *st, const hitl_report_opts *o, hitl_report_data *out,
                               hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!st || !o) return hitl_error_set(err, HITL_EINVAL, "no store or report options given");
    hitl_report_data *d = out;
    hitl_status s;
    if ((s = hitl_store_settings_get(st, &d->settings, err)) != HITL_OK) goto fail;
    if ((s = hitl_store_stats_get(st, &d->stats, err)) != HITL_OK) goto fail;
    size_t c = d->settings.n_classes;
    /* 1. the export a notebook's code cells read */
    if (o->export_path) {
        hitl_export_opts eo = {.format = HITL_EXPORT_HDF5,
                               .path = o->export_path,
                               .final = o->final,
                               .features_path = o->features_path,
                               .features_dset = o->features_dset,
                               .show_prediction = -1,
                               .actor = o->actor};
        if ((s = hitl_store_export(st, &eo, &d->exported, err)) != HITL_OK) goto fail;
    }
    /* 2. per record: confusion, calibration on blind items, agreement with the final label */
    s = hitl_store_throughput_get(st, &d->throughput, &d->n_throughput, err);
    if (s != HITL_OK) goto fail;
    d->confusion = calloc(c * c + 1, sizeof(int64_t));
    d->scored = calloc(d->n_throughput + 1, sizeof(int64_t));
    d->agree = calloc(d->n_throughput + 1, sizeof(int64_t));
    if (!d->confusion || !d->scored || !d->agree) {
        s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        goto fail;
    }
    s = hitl_reliability_init(&d->calibration, o->bins ? o->bins : HITL_CALIB_BINS, err);
    if (s != HITL_OK || (s = scan_records(st, o->final, d, err)) != HITL_OK) goto fail;
    /* 3. score histograms of the queue (and the pool) */
    if ((s = score_histograms(st, o, d, err)) != HITL_OK) goto fail;
    d->has_pool = o->pool_path != NULL;
    /* 4. agreement over every label */
    if ((s = label_agreement(st, o, d, err)) != HITL_OK) goto fail;
    /* 5. review health: the scorecard hitl health shows, with the same thresholds */
    if ((s = hitl_store_scorecard(st, NULL, &d->scorecard, err)) != HITL_OK) goto fail;
    return HITL_OK;
fail:
    hitl_report_data_release(out);
    return s;
}

void hitl_report_data_release(hitl_report_data *d)
{
    if (!d) return;
    hitl_scorecard_release(&d->scorecard);
    hitl_agreement_release(&d->agreement);
    hitl_strings_free(d->agreement_names, d->n_agreement_names);
    hitl_histogram_release(&d->scores_uncertain);
    hitl_histogram_release(&d->scores_blind);
    hitl_histogram_release(&d->scores_pool);
    hitl_reliability_release(&d->calibration);
    hitl_store_throughput_free(d->throughput, d->n_throughput);
    free(d->confusion);
    free(d->scored);
    free(d->agree);
    hitl_store_stats_release(&d->stats);
    hitl_store_settings_release(&d->settings);
    memset(d, 0, sizeof(*d));
}
