/* HDF5 helpers shared inside io/: quiet error stacks turned into hitl_error messages, file and
 * dataset opening with useful messages, type names and string arrays (attributes or datasets). */
#ifndef HITL_H5_UTIL_H
#define HITL_H5_UTIL_H

#include <hdf5.h>

#include "hitl_files.h"

/* Turns HDF5's own printing of error stacks off for the calling thread (HDF5 keeps one default
 * stack per thread). Idempotent and cheap: every io entry point that touches HDF5 calls it. */
void hitl__h5_quiet(void);

/* Fills `err` (may be NULL) with `st` and "<formatted prefix>: <the innermost useful description
 * on the HDF5 error stack>", then clears the stack. Returns `st`. */
hitl_status hitl__h5_error(hitl_error *err, hitl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "/" when `dset` lacks a leading slash, else "": print a dataset as "%s%s", slash, dset. */
const char *hitl__h5_slash(const char *dset);

/* Opens an existing file read-only into *file (close with H5Fclose(); open objects close with
 * it). Checks first that `path` exists, is readable and is an HDF5 file, so a missing file reads
 * "cannot open 'x': No such file or directory". Errors: HITL_EIO. */
hitl_status hitl__h5_open_file(const char *path, hid_t *file, hitl_error *err);
/* Creates (truncates) `path` for writing into *file, readable by HDF5 1.8 and later. */
hitl_status hitl__h5_create_file(const char *path, hid_t *file, hitl_error *err);
/* Opens an existing file for writing (the serial driver whatever the collective mode). */
hitl_status hitl__h5_open_file_rw(const char *path, hid_t *file, hitl_error *err);
/* With HITL_MPI: while `on`, the two calls above open and create files through MPI-IO on
 * MPI_COMM_WORLD (parallel HDF5), so every rank must make the same calls; without, no effect.
 * Set by the score pass around its opens only, on one thread. */
void hitl__h5_set_collective(int on);
/* 1 while collective mode is on (always 0 without HITL_MPI). */
int hitl__h5_collective(void);

/* Opens dataset `dset` of `file` (read from `path`, for messages) into *out. `dapl` may be
 * H5P_DEFAULT. HITL_ENOTFOUND "'path': no dataset '/x'" when there is no such object or it is
 * not a dataset; HITL_EIO when HDF5 fails. */
hitl_status hitl__h5_open_dataset(hid_t file, const char *path, const char *dset, hid_t dapl,
                                  hid_t *out, hitl_error *err);

/* HITL_OK when every value of dataset `dset` (`name`, for messages) was written to the file:
 * contiguous storage allocated, every chunk of a chunked dataset present (compact and external
 * storage always hold their values). HITL_EDATA otherwise: a dataset that only claims a shape
 * (HDF5 returns fill values for it) is refused before anything its shape implies is allocated,
 * so a small file cannot stand for a huge one. Datasets with no values pass. */
hitl_status hitl__h5_check_written(hid_t dset, const char *name, hitl_error *err);

/* A short name for a file type: "int64", "uint8", "float32", "string", "compound", ... */
void hitl__h5_type_name(hid_t type, char *buf, size_t cap);

/* Reads `n` strings of string type `ftype` (variable or fixed length, any padding) from the
 * attribute `obj` (is_attr) or from the selection `fspace` of dataset `obj` into `mspace` (n
 * elements). out[0..n) receive heap copies (caller frees each; on error none is left). `where`
 * names the object in messages. */
hitl_status hitl__h5_read_strings(hid_t obj, int is_attr, hid_t ftype, hid_t mspace, hid_t fspace,
                                  size_t n, char **out, const char *where, hitl_error *err);

/* Reads the string-array attribute `attr` of `obj` into *names / *n (caller owns; release with
 * hitl_strings_free()). When `obj` has no such attribute: HITL_OK, *names NULL, *n 0 and
 * *found 0 (found may be NULL). A scalar string counts as one name, or as several when it
 * holds commas ("cat,dog,owl"). */
hitl_status hitl__h5_attr_strings(hid_t obj, const char *attr, const char *where, char ***names,
                                  size_t *n, int *found, hitl_error *err);

/* Creates dataset `name` in `loc` (of the file `path`, for messages) with file type `ftype`,
 * and writes `v` (memory type `mtype`, `rank` dims) whole. HITL_EIO naming the dataset. */
hitl_status hitl__h5_write(hid_t loc, const char *path, const char *name, hid_t ftype, hid_t mtype,
                           int rank, const hsize_t *dims, const void *v, hitl_error *err);
/* Writes `n` strings as a variable-length UTF-8 string-array attribute (h5py reads str). */
hitl_status hitl__h5_write_strings_attr(hid_t obj, const char *path, const char *attr,
                                        char *const *v, size_t n, hitl_error *err);

#endif /* HITL_H5_UTIL_H */
