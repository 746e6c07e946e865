/* Internal to io/files: the writers behind hitl_record_writer (HDF5, JSONL, CSV, Label Studio
 * tasks). Each fills an ops table; export.c opens the one a format names and dispatches to it. */
#ifndef HITL_EXPORT_INTERNAL_H
#define HITL_EXPORT_INTERNAL_H

#include "hitl_files.h"

typedef struct hitl__writer_ops {
    /* records (hdf5, jsonl, csv) or tasks (label-studio): the other is NULL */
    hitl_status (*add)(hitl_record_writer *w, const hitl_record *r, hitl_error *err);
    hitl_status (*add_task)(hitl_record_writer *w, const hitl_ls_task *t, hitl_error *err);
    /* Flushes and closes (ok = 1) or just releases (ok = 0); always frees w. */
    hitl_status (*close)(hitl_record_writer *w, int ok, hitl_error *err);
} hitl__writer_ops;

/* The first member of every writer's own struct. */
struct hitl_record_writer {
    const hitl__writer_ops *ops;
};

hitl_status hitl__writer_h5_open(const hitl_record_file *f, hitl_record_writer **out,
                                 hitl_error *err);
hitl_status hitl__writer_jsonl_open(const hitl_record_file *f, hitl_record_writer **out,
                                    hitl_error *err);
hitl_status hitl__writer_csv_open(const hitl_record_file *f, hitl_record_writer **out,
                                  hitl_error *err);
hitl_status hitl__writer_ls_open(const hitl_record_file *f, hitl_record_writer **out,
                                 hitl_error *err);

#endif /* HITL_EXPORT_INTERNAL_H */
