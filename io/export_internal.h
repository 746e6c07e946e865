/* Internal to io/: the record writers behind hitl_store_export (HDF5, JSONL, CSV) and the Label
 * Studio task writer. Each writer is opened on a path, fed records in order, then closed; a
 * failed export closes with ok = 0 and the driver removes the file. */
#ifndef HITL_EXPORT_INTERNAL_H
#define HITL_EXPORT_INTERNAL_H

#include "store_internal.h"

typedef struct hitl__writer hitl__writer;

typedef struct hitl__writer_ops {
    hitl_status (*add)(hitl__writer *w, const hitl_record *r, hitl_error *err);
    /* Flushes and closes (ok = 1) or just releases (ok = 0); always frees w. */
    hitl_status (*close)(hitl__writer *w, int ok, hitl_error *err);
} hitl__writer_ops;

struct hitl__writer {
    const hitl__writer_ops *ops;
};

/* What every writer is told at open; all borrowed for the writer's life. */
typedef struct hitl__export_ctx {
    const char *path; /* the file to write */
    const char *name; /* the name the user gave, for messages */
    char *const *classes;
    size_t n_classes;
    hitl_final_rule final;
    const char *store_path;
    hitl_matrix *features; /* hdf5 only, may be NULL */
} hitl__export_ctx;

hitl_status hitl__writer_h5_open(const hitl__export_ctx *ctx, hitl__writer **out, hitl_error *err);
hitl_status hitl__writer_jsonl_open(const hitl__export_ctx *ctx, hitl__writer **out,
                                    hitl_error *err);
hitl_status hitl__writer_csv_open(const hitl__export_ctx *ctx, hitl__writer **out, hitl_error *err);

/* Writes the Label Studio tasks of the items still open for labelling, in queue order, inside
 * the caller's read transaction. *n counts them. */
hitl_status hitl__labelstudio_write(hitl_store *st, const hitl__export_ctx *ctx,
                                    const hitl_export_opts *o, int64_t *n, hitl_error *err);

/* ---- reading Label Studio exports -------------------------------------------------------- */

/* One annotation as read from any of the three forms; every pointer borrowed for the call. */
typedef struct hitl__ls_annotation {
    int64_t task;           /* 0-based task (JSON) or record (CSV) index */
    const char *where;      /* "task 3" or "line 7 (record 3)", for messages */
    const char *hitl_id;    /* data.hitl_id, NULL when the task has none */
    const char *annotator;  /* email, user id as text, or "unknown" */
    const char *choice;     /* the single choice for from_name, NULL when none */
    int cancelled;          /* was_cancelled (or the older "skipped") */
    const char *annotation; /* the annotation's id as text, NULL when none */
    const char *created_at; /* as Label Studio wrote it, NULL when none */
    double lead_time;       /* seconds, NaN when none */
} hitl__ls_annotation;

typedef hitl_status (*hitl__ls_fn)(void *ctx, const hitl__ls_annotation *a, hitl_error *err);

/* Reads `path` (JSON, JSON_MIN or CSV, told apart by content) and calls fn for every annotation
 * in file order; stops at fn's first error. *form is "json", "json-min" or "csv"; *tasks counts
 * tasks (records). HITL_EDATA naming the task for malformed input: truncated or bad JSON, a
 * task without "data", more than one choice for from_name, a CSV without the hitl_id or
 * from_name column. */
hitl_status hitl__labelstudio_read(const char *path, const char *from_name, const char *to_name,
                                   hitl__ls_fn fn, void *ctx, const char **form, int64_t *tasks,
                                   hitl_error *err);

#endif /* HITL_EXPORT_INTERNAL_H */
