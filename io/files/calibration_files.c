/* A model's calibration from files: a blind sample's probabilities, read as stored (float64
 * stays float64: calibration's bins must see 0.8 as 0.8), and its true labels, measured by the
 * engine's one calibration (hitl_calibration_compute). */
#include <stdlib.h>

#include "hitl_files.h"
#include "hitl_banned.h"

void hitl_calib_result_release(hitl_calib_result *r)
{
    if (!r) return;
    hitl_calibration_release(&r->cal);
    hitl_strings_free(r->classes, r->n_classes);
    r->classes = NULL;
    r->n_classes = 0;
}

/* The whole probability matrix (calibration samples are small) and its class names. */
static hitl_status load_probs(const char *path, const char *dset, double **x, size_t *n, size_t *c,
                              hitl_calib_result *out, hitl_error *err)
{
    hitl_matrix *m;
    hitl_status st = hitl_matrix_open(&m, path, dset, err);
    if (st != HITL_OK) return st;
    *n = hitl_matrix_rows(m);
    *c = hitl_matrix_cols(m);
    st = hitl_matrix_load_f64(m, x, err);
    if (st == HITL_OK) st = hitl_matrix_classes(m, &out->classes, &out->n_classes, err);
    hitl_matrix_close(m);
    return st;
}

hitl_status hitl_calibration_from_files(const hitl_calib_files *f, const hitl_calib_opts *o,
                                        hitl_calib_result *out, hitl_error *err)
{
    hitl_calib_result zero = {0};
    *out = zero;
    if (!f || !f->probs_path || !f->labels_path)
        return hitl_error_set(err, HITL_EINVAL, "no probabilities or labels given");
    const char *pname = f->probs_name ? f->probs_name : f->probs_path;
    const char *lname = f->labels_name ? f->labels_name : f->labels_path;
    double *probs = NULL;
    int32_t *labels = NULL;
    size_t n = 0, c = 0, n_labels = 0;
    hitl_status st = load_probs(f->probs_path, f->probs_dset, &probs, &n, &c, out, err);
    if (st == HITL_OK)
        st = hitl_labels_read(f->labels_path, f->labels_dset, &labels, &n_labels, err);
    if (st == HITL_OK && n_labels != n)
        st = hitl_error_set(err, HITL_ESHAPE, "'%s' has %zu rows but '%s' has %zu labels", pname, n,
                            lname, n_labels);
    for (size_t i = 0; st == HITL_OK && i < n_labels; i++)
        if ((size_t)labels[i] >= c)
            st = hitl_error_set(err, HITL_EDATA,
                                "'%s' row %zu: label %d is not a class (%zu classes in '%s')",
                                lname, i, labels[i], c, pname);
    if (st == HITL_OK) {
        st = hitl_calibration_compute(probs, labels, n, c, o, &out->cal, err);
        if (st == HITL_EINVAL) st = HITL_EDATA; /* no rows, one class: the data's fault */
        if (st != HITL_OK) hitl_error_prefix(err, "'%s'", pname);
    }
    if (st == HITL_OK && out->n_classes != c) { /* names that do not fit are not used */
        hitl_strings_free(out->classes, out->n_classes);
        out->classes = NULL;
        out->n_classes = 0;
    }
    free(probs);
    free(labels);
    if (st != HITL_OK) hitl_calib_result_release(out);
    return st;
}
