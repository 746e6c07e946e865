/* Class labels (and row numbers): a rank-1 integer HDF5 dataset read whole as int64 (so that any
 * integer type converts, and values past int32 are caught rather than wrapped), or a .npy
 * vector read exactly by the .npy backend. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "h5_util.h"
#include "matrix_internal.h"
#include "hitl_banned.h"

/* buf[0..count) (uint64 in int64's bits when big_unsigned) into int32 class indices. */
static hitl_status narrow(const char *name, const int64_t *buf, size_t count, int big_unsigned,
                          int32_t *outv, hitl_error *err)
{
    for (size_t i = 0; i < count; i++) {
        uint64_t u = (uint64_t)buf[i];
        if ((big_unsigned && u > INT32_MAX) ||
            (!big_unsigned && (buf[i] < 0 || buf[i] > INT32_MAX))) {
            hitl_error_set(
                err, HITL_EDATA, "'%s' row %zu: label %lld is not a class index", name, i,
                big_unsigned ? (long long)(u > INT64_MAX ? -1 : (int64_t)u) : (long long)buf[i]);
            if (err) err->row = (int64_t)i;
            return HITL_EDATA;
        }
        outv[i] = (int32_t)buf[i];
    }
    return HITL_OK;
}

static hitl_status read_npy(const char *path, int32_t **labels, size_t *n, hitl_error *err)
{
    int64_t *buf;
    size_t count;
    hitl_status st = hitl__npy_read_ints(path, &buf, &count, err);
    if (st != HITL_OK) return st;
    int32_t *outv = malloc((count ? count : 1) * sizeof(int32_t));
    st = outv ? narrow(path, buf, count, 0, outv, err)
              : hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    free(buf);
    if (st != HITL_OK) {
        free(outv);
        return st;
    }
    *labels = outv;
    *n = count;
    return HITL_OK;
}

hitl_status hitl_labels_read(const char *path, const char *dset, int32_t **labels, size_t *n,
                             hitl_error *err)
{
    if (!labels || !n) return hitl_error_set(err, HITL_EINVAL, "no output for labels given");
    *labels = NULL;
    *n = 0;
    if (!path || (dset && !dset[0]))
        return hitl_error_set(err, HITL_EINVAL, "no labels file or dataset given");
    if (!dset) return read_npy(path, labels, n, err);
    char name[1024];
    snprintf(name, sizeof(name), "%s:%s%s", path, hitl__h5_slash(dset), dset);
    hid_t file = H5I_INVALID_HID, d = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID;
    int64_t *buf = NULL;
    int32_t *outv = NULL;
    hitl_status st = hitl__h5_open_file(path, &file, err);
    if (st != HITL_OK) return st;
    if ((st = hitl__h5_open_dataset(file, path, dset, H5P_DEFAULT, &d, err)) != HITL_OK) goto done;
    type = H5Dget_type(d);
    space = H5Dget_space(d);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (type < 0 || rank < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read the type or shape", name);
        goto done;
    }
    if (H5Tget_class(type) != H5T_INTEGER) {
        char tn[32];
        hitl__h5_type_name(type, tn, sizeof(tn));
        st = hitl_error_set(err, HITL_ETYPE, "'%s': unsupported type %s (need integer labels)",
                            name, tn);
        goto done;
    }
    if (rank != 1) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': expected a rank-1 dataset, got rank %d", name,
                            rank);
        goto done;
    }
    hsize_t len;
    H5Sget_simple_extent_dims(space, &len, NULL);
    if (len > (hsize_t)(SIZE_MAX / sizeof(int64_t))) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': too many labels", name);
        goto done;
    }
    size_t count = (size_t)len;
    /* read whole: a length whose values are not in the file allocates nothing */
    if ((st = hitl__h5_check_written(d, name, err)) != HITL_OK) goto done;
    int big_unsigned = H5Tget_sign(type) == H5T_SGN_NONE && H5Tget_size(type) >= 8;
    buf = malloc((count ? count : 1) * sizeof(int64_t));
    outv = malloc((count ? count : 1) * sizeof(int32_t));
    if (!buf || !outv) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", name);
        goto done;
    }
    if (count && H5Dread(d, big_unsigned ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, H5S_ALL, H5S_ALL,
                         H5P_DEFAULT, buf) < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read labels", name);
        goto done;
    }
    if ((st = narrow(name, buf, count, big_unsigned, outv, err)) != HITL_OK) goto done;
    *labels = outv;
    outv = NULL;
    *n = count;
done:
    free(buf);
    free(outv);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (d >= 0) H5Dclose(d);
    if (file >= 0) H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    return st;
}
