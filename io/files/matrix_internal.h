/* The hitl_matrix struct and the small vtable its two backends (HDF5, .npy) fill in; matrix.c
 * checks arguments and dispatches, so the backends see only valid, non-empty requests. */
#ifndef HITL_MATRIX_INTERNAL_H
#define HITL_MATRIX_INTERNAL_H

#include "hitl_files.h"

typedef struct hitl__matrix_ops {
    /* rows [row0, row0 + n) with n > 0, in range; dst holds n * cols floats */
    hitl_status (*read)(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err);
    /* the same rows as stored, widened to float64 (exact for every type read) */
    hitl_status (*read_f64)(hitl_matrix *m, size_t row0, size_t n, double *dst, hitl_error *err);
    /* may be NULL: no class names */
    hitl_status (*classes)(hitl_matrix *m, char ***names, size_t *n, hitl_error *err);
    /* releases impl; never fails */
    void (*close)(hitl_matrix *m);
    /* may be NULL: the two-step read of compressed chunks (hitl_matrix_fetch, _decode); a
     * backend that has them says per matrix whether they apply (splits) */
    int (*splits)(const hitl_matrix *m);
    hitl_status (*fetch)(hitl_matrix *m, size_t row0, size_t n, hitl_raw_chunks *raw,
                         hitl_error *err);
    hitl_status (*decode)(const hitl_matrix *m, hitl_raw_chunks *raw, size_t row0, size_t n,
                          float *dst, hitl_error *err);
} hitl__matrix_ops;

struct hitl_matrix {
    const hitl__matrix_ops *ops;
    size_t rows, cols;
    size_t chunk_rows; /* rows one chunk of the layout holds (HDF5 chunked); 0: no chunks */
    int concurrent;    /* reads may run on several threads at once (hitl_matrix_concurrent) */
    char *name;        /* "path" or "path:/dset" */
    void *impl;        /* the backend's state */
};

/* Backends: fill ops, rows, cols and impl of a zeroed *m whose name is set; on error leave
 * nothing to release (impl NULL). Errors are prefixed with m->name where they concern data.
 * With `integers`, integer element types are read too (converted to float32). */
hitl_status hitl__matrix_open_h5(hitl_matrix *m, const char *path, const char *dset, int integers,
                                 hitl_error *err);
hitl_status hitl__matrix_open_npy(hitl_matrix *m, const char *path, int integers, hitl_error *err);
/* The shards backend (matrix_shards.c): n_paths files as one matrix. */
hitl_status hitl__matrix_open_shards(hitl_matrix *m, const char *const *paths, size_t n_paths,
                                     const char *dset, hitl_error *err);

/* A .npy vector (rank 1, or one column) of any integer type, or floats holding whole numbers,
 * read whole and exactly into int64 (caller frees *out). HITL_ESHAPE for more columns,
 * HITL_EDATA naming the row of a value that is not a whole number or is past INT64_MAX. */
hitl_status hitl__npy_read_ints(const char *path, int64_t **out, size_t *n, hitl_error *err);

#endif /* HITL_MATRIX_INTERNAL_H */
