/* A model's calibration on a store's blind items with a final label: from the pool's rows when
 * the pool is given (every measure), else from the class and top probability the store kept at
 * queue time (the top-label measures only; the others need every class's probability). */
#include <math.h>
#include <stdlib.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* Without the pool: each item's row holds its stored top probability at its stored prediction
 * and the rest spread evenly, so the argmax and the confidence are the stored ones; the measures
 * of the top class (accuracy, ECE, MCE, top-label Brier, bins, per class, confusion) are then
 * exact, the others are withheld. */
static void stored_rows(const hitl_blind_sample *b, size_t c, double *dst)
{
    for (size_t i = 0; i < b->n; i++) {
        double p1 = b->p1[i];
        double rest = (1.0 - p1) / (double)(c - 1);
        if (rest >= p1 && b->pred[i] > 0) rest = nextafter(p1, 0.0); /* keep pred the argmax */
        for (size_t k = 0; k < c; k++)
            dst[i * c + k] = (int32_t)k == b->pred[i] ? p1 : rest;
    }
}

/* The sample's pool rows, as stored, from the pool's matrix. */
static hitl_status pool_rows(const hitl_blind_sample *b, const char *path, const char *dset,
                             const char *name, size_t c, double *dst, hitl_error *err)
{
    hitl_matrix *m;
    hitl_status st = hitl_matrix_open(&m, path, dset, err);
    if (st != HITL_OK) return st;
    if (hitl_matrix_cols(m) != c)
        st =
            hitl_error_set(err, HITL_ESHAPE, "'%s' has %zu columns but the project has %zu classes",
                           name, hitl_matrix_cols(m), c);
    if (st == HITL_OK) st = hitl_matrix_read_rows_f64(m, b->rows, b->n, dst, err);
    if (st == HITL_EDATA && err && err->row >= 0 && (size_t)err->row < b->n) {
        size_t i = (size_t)err->row;
        hitl_error_set(err, HITL_EDATA, "'%s': item '%s' is pool row %lld, outside its %zu rows",
                       name, b->pool_ids[i], (long long)b->rows[i], hitl_matrix_rows(m));
        err->row = (int64_t)i;
    }
    hitl_matrix_close(m);
    return st;
}

hitl_status hitl_store_calibration(hitl_store *st, const hitl_calib_files *pool,
                                   const hitl_calib_opts *o, hitl_calib_result *out,
                                   hitl_error *err)
{
    hitl_calib_result zero = {0};
    *out = zero;
    hitl_store_settings set = {0};
    hitl_blind_sample b = {0};
    double *probs = NULL;
    const char *name =
        pool && pool->probs_path ? (pool->probs_name ? pool->probs_name : pool->probs_path) : NULL;
    hitl_status s = hitl_store_settings_get(st, &set, err);
    if (s == HITL_OK) s = hitl_store_blind_sample(st, &b, err);
    size_t c = set.n_classes;
    if (s == HITL_OK && b.n == 0)
        s = hitl_error_set(err, HITL_EDATA,
                           "'%s': no blind item has a final label yet (%zu blind items without "
                           "a stored prediction)",
                           st->path, b.n_unscored);
    if (s == HITL_OK && !(probs = malloc(b.n * c * sizeof(double))))
        s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (s == HITL_OK && name)
        s = pool_rows(&b, pool->probs_path, pool->probs_dset, name, c, probs, err);
    else if (s == HITL_OK)
        stored_rows(&b, c, probs);
    if (s == HITL_OK) {
        hitl_calib_opts co = *o;
        out->top_only = name == NULL;
        if (out->top_only) co.fit_temperature = 0;
        s = hitl_calibration_compute(probs, b.label, b.n, c, &co, &out->cal, err);
        if (s == HITL_EDATA && err && err->row >= 0 && (size_t)err->row < b.n)
            hitl_error_prefix(err, "item '%s'", b.pool_ids[err->row]);
        if (s == HITL_EINVAL) s = HITL_EDATA;
    }
    if (s == HITL_OK) {
        if (out->top_only) out->cal.brier_multiclass = out->cal.nll = NAN;
        out->n_unscored = b.n_unscored;
        out->classes = set.classes; /* steals */
        out->n_classes = set.n_classes;
        set.classes = NULL;
        set.n_classes = 0;
    }
    free(probs);
    hitl_blind_sample_release(&b);
    hitl_store_settings_release(&set);
    if (s != HITL_OK) hitl_calib_result_release(out);
    return s;
}
