/* Rating matrices (item x annotator class indices) read whole into int8 through the numeric
 * matrix readers: any integer or float dataset, a block of rows at a time, every cell checked
 * (missing, a whole label, or an error naming its row and column). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_files.h"
#include "hitl_banned.h"

void hitl_rating_matrix_release(hitl_rating_matrix *r)
{
    if (!r) return;
    free(r->m);
    hitl_strings_free(r->classes, r->n_classes);
    memset(r, 0, sizeof(*r));
}

/* Converts cells [0, len) of rows starting at row0 into out; *max is the largest label. */
static hitl_status cells(const hitl_matrix *mx, const float *in, size_t len, size_t row0,
                         int8_t *out, int *max, hitl_error *err)
{
    size_t cols = hitl_matrix_cols(mx);
    for (size_t i = 0; i < len; i++) {
        float v = in[i];
        if (isnan(v) || v < 0) {
            out[i] = -1;
            continue;
        }
        if (v != floorf(v) || v > HITL_RATING_MATRIX_MAX_LABEL) {
            hitl_error_set(err, HITL_EDATA,
                           "'%s' row %zu, column %zu: %g is not a label (a whole number from 0 "
                           "to %d; negative or NaN for no rating)",
                           hitl_matrix_name(mx), row0 + i / cols, i % cols, (double)v,
                           HITL_RATING_MATRIX_MAX_LABEL);
            if (err) err->row = (int64_t)(row0 + i / cols);
            return HITL_EDATA;
        }
        out[i] = (int8_t)v;
        if (out[i] > *max) *max = out[i];
    }
    return HITL_OK;
}

hitl_status hitl_rating_matrix_read(const char *path, const char *dset, hitl_rating_matrix *out,
                                    hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output for the rating matrix given");
    memset(out, 0, sizeof(*out));
    hitl_matrix *mx;
    hitl_status st = hitl_matrix_open_numeric(&mx, path, dset, err);
    if (st != HITL_OK) return st;
    size_t n = hitl_matrix_rows(mx), a = hitl_matrix_cols(mx), block = hitl_block_rows(a);
    float *buf = NULL;
    if (n > SIZE_MAX / a) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': %zu x %zu cells do not fit in memory",
                            hitl_matrix_name(mx), n, a);
        goto done;
    }
    out->m = malloc(n ? n * a : 1);
    buf = malloc((block < n ? block : n ? n : 1) * a * sizeof(float));
    if (!out->m || !buf) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory for %zu x %zu cells",
                            hitl_matrix_name(mx), n, a);
        goto done;
    }
    int max = -1;
    for (size_t r = 0; st == HITL_OK && r < n; r += block) {
        size_t k = n - r < block ? n - r : block;
        st = hitl_matrix_read(mx, r, k, buf, err);
        if (st == HITL_OK) st = cells(mx, buf, k * a, r, out->m + r * a, &max, err);
    }
    if (st == HITL_OK) st = hitl_matrix_classes(mx, &out->classes, &out->n_classes, err);
    out->n_items = n;
    out->n_annotators = a;
    out->n_labels = (size_t)(max + 1);
done:
    free(buf);
    hitl_matrix_close(mx);
    if (st != HITL_OK) hitl_rating_matrix_release(out);
    return st;
}
