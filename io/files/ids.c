/* Item ids of selected rows: a rank-1 integer or string dataset aligned with the pool, of which
 * only the k requested rows are read (one sorted point selection), since N may be 10^7. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5_util.h"
#include "hitl_banned.h"

typedef struct wanted {
    int64_t row;
    size_t idx; /* position in the caller's list */
} wanted;

static int cmp_wanted(const void *a, const void *b)
{
    const wanted *x = a, *y = b;
    return (x->row > y->row) - (x->row < y->row);
}

void hitl_ids_release(hitl_ids *ids)
{
    if (!ids) return;
    free(ids->ints);
    hitl_strings_free(ids->strs, ids->strs ? ids->n : 0);
    memset(ids, 0, sizeof(*ids));
}

/* Sorted, distinct rows in coords[0..*u); pos[i] is the place of the caller's i-th row. */
static hitl_status plan(const int64_t *rows, size_t k, hsize_t *coords, size_t *pos, size_t *u,
                        const char *name, hitl_error *err)
{
    wanted *w = malloc(k * sizeof(*w));
    if (!w) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", name);
    for (size_t i = 0; i < k; i++)
        w[i] = (wanted){rows[i], i};
    qsort(w, k, sizeof(*w), cmp_wanted);
    size_t n = 0;
    for (size_t i = 0; i < k; i++) {
        if (n == 0 || (int64_t)coords[n - 1] != w[i].row) coords[n++] = (hsize_t)w[i].row;
        pos[w[i].idx] = n - 1;
    }
    free(w);
    *u = n;
    return HITL_OK;
}

static hitl_status read_ints(hid_t dset, hid_t type, hid_t mspace, hid_t fspace, size_t u,
                             const size_t *pos, size_t k, hitl_ids *ids, const char *name,
                             hitl_error *err)
{
    int big_unsigned = H5Tget_sign(type) == H5T_SGN_NONE && H5Tget_size(type) >= 8;
    int64_t *buf = malloc(u * sizeof(*buf));
    ids->ints = malloc(k * sizeof(*ids->ints));
    hitl_status st = HITL_OK;
    if (!buf || !ids->ints) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", name);
        goto done;
    }
    /* uint64 is read as such so that values past INT64_MAX are caught, not clamped. */
    if (H5Dread(dset, big_unsigned ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, mspace, fspace,
                H5P_DEFAULT, buf) < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read ids", name);
        goto done;
    }
    for (size_t i = 0; i < u && big_unsigned; i++) {
        uint64_t v;
        memcpy(&v, &buf[i], sizeof(v));
        if (v > (uint64_t)INT64_MAX) {
            st = hitl_error_set(err, HITL_EDATA, "'%s': id %llu does not fit in int64", name,
                                (unsigned long long)v);
            goto done;
        }
    }
    for (size_t i = 0; i < k; i++)
        ids->ints[i] = buf[pos[i]];
done:
    free(buf);
    return st;
}

static hitl_status read_strs(hid_t dset, hid_t type, hid_t mspace, hid_t fspace, size_t u,
                             const size_t *pos, size_t k, hitl_ids *ids, const char *name,
                             hitl_error *err)
{
    char **tmp = calloc(u, sizeof(*tmp));
    ids->strs = calloc(k, sizeof(*ids->strs));
    hitl_status st = HITL_OK;
    if (!tmp || !ids->strs) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", name);
        goto done;
    }
    st = hitl__h5_read_strings(dset, 0, type, mspace, fspace, u, tmp, name, err);
    for (size_t i = 0; i < k && st == HITL_OK; i++) {
        size_t len = strlen(tmp[pos[i]]) + 1;
        ids->strs[i] = malloc(len);
        if (!ids->strs[i])
            st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", name);
        else
            memcpy(ids->strs[i], tmp[pos[i]], len);
    }
done:
    if (tmp) hitl_strings_free(tmp, u);
    return st;
}

hitl_status hitl_ids_read_rows(const char *path, const char *dset, size_t n_rows,
                               const int64_t *rows, size_t k, hitl_ids *ids, hitl_error *err)
{
    if (!ids) return hitl_error_set(err, HITL_EINVAL, "no ids given");
    memset(ids, 0, sizeof(*ids));
    if (!path || !dset) return hitl_error_set(err, HITL_EINVAL, "no ids file or dataset given");
    if (k > 0 && !rows) return hitl_error_set(err, HITL_EINVAL, "no rows given");
    for (size_t i = 0; i < k; i++)
        if (rows[i] < 0 || (uint64_t)rows[i] >= n_rows)
            return hitl_error_set(err, HITL_EINVAL, "row %lld out of range (%zu rows)",
                                  (long long)rows[i], n_rows);

    char name[1024];
    snprintf(name, sizeof(name), "%s:%s%s", path, hitl__h5_slash(dset), dset);
    hid_t file = H5I_INVALID_HID, d = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t *coords = NULL;
    size_t *pos = NULL;
    hitl_status st = hitl__h5_open_file(path, &file, err);
    if (st != HITL_OK) return st;
    if ((st = hitl__h5_open_dataset(file, path, dset, H5P_DEFAULT, &d, err)) != HITL_OK) goto done;

    type = H5Dget_type(d);
    fspace = H5Dget_space(d);
    int rank = fspace >= 0 ? H5Sget_simple_extent_ndims(fspace) : -1;
    if (type < 0 || rank < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read the type or shape", name);
        goto done;
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_INTEGER && cls != H5T_STRING) {
        char tn[32];
        hitl__h5_type_name(type, tn, sizeof(tn));
        st = hitl_error_set(err, HITL_ETYPE,
                            "'%s': unsupported type %s (need integer or string "
                            "ids)",
                            name, tn);
        goto done;
    }
    ids->is_string = cls == H5T_STRING;
    if (rank != 1) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': expected a rank-1 dataset, got rank %d", name,
                            rank);
        goto done;
    }
    hsize_t len;
    H5Sget_simple_extent_dims(fspace, &len, NULL);
    if (len != (hsize_t)n_rows) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': %llu ids for %zu rows", name,
                            (unsigned long long)len, n_rows);
        goto done;
    }
    if (k == 0) goto done;

    size_t u = 0;
    coords = malloc(k * sizeof(*coords));
    pos = malloc(k * sizeof(*pos));
    if (!coords || !pos) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", name);
        goto done;
    }
    if ((st = plan(rows, k, coords, pos, &u, name, err)) != HITL_OK) goto done;
    hsize_t mdim = u;
    mspace = H5Screate_simple(1, &mdim, NULL);
    if (mspace < 0 || H5Sselect_elements(fspace, H5S_SELECT_SET, u, coords) < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot select rows", name);
        goto done;
    }
    ids->n = k; /* so that a failed read releases whatever it got */
    st = ids->is_string ? read_strs(d, type, mspace, fspace, u, pos, k, ids, name, err)
                        : read_ints(d, type, mspace, fspace, u, pos, k, ids, name, err);
done:
    free(coords);
    free(pos);
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (type >= 0) H5Tclose(type);
    if (d >= 0) H5Dclose(d);
    if (file >= 0) H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    if (st != HITL_OK) hitl_ids_release(ids);
    return st;
}

hitl_status hitl_ids_read_shard_rows(const char *const *paths, const size_t *shard_rows,
                                     size_t n_shards, const char *dset, const int64_t *rows,
                                     size_t k, hitl_ids *ids, hitl_error *err)
{
    memset(ids, 0, sizeof(*ids));
    int64_t *local = malloc((k ? k : 1) * sizeof(int64_t));
    size_t *where = malloc((k ? k : 1) * sizeof(size_t));
    ids->ints = calloc(k ? k : 1, sizeof(int64_t));
    ids->strs = calloc(k ? k : 1, sizeof(char *));
    ids->n = k;
    hitl_status st = local && where && ids->ints && ids->strs
                         ? HITL_OK
                         : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    size_t first = 0;
    int typed = 0; /* the first shard read set is_string */
    for (size_t i = 0; st == HITL_OK && i < n_shards; first += shard_rows[i++]) {
        size_t m = 0;
        for (size_t j = 0; j < k; j++)
            if (rows[j] >= (int64_t)first && rows[j] < (int64_t)(first + shard_rows[i])) {
                local[m] = rows[j] - (int64_t)first;
                where[m++] = j;
            }
        if (m == 0) continue;
        hitl_ids part;
        if ((st = hitl_ids_read_rows(paths[i], dset, shard_rows[i], local, m, &part, err)) !=
            HITL_OK)
            break;
        if (!typed) ids->is_string = part.is_string;
        typed = 1;
        if (part.is_string != ids->is_string) {
            st = hitl_error_set(err, HITL_ETYPE, "'%s': ids '%s' are %s, the other shards' not",
                                paths[i], dset, part.is_string ? "strings" : "integers");
        }
        for (size_t q = 0; st == HITL_OK && q < m; q++) {
            if (part.is_string) {
                ids->strs[where[q]] = part.strs[q];
                part.strs[q] = NULL;
            } else {
                ids->ints[where[q]] = part.ints[q];
            }
        }
        hitl_ids_release(&part);
    }
    free(local);
    free(where);
    if (st == HITL_OK && !ids->is_string) {
        free(ids->strs);
        ids->strs = NULL;
    } else if (st == HITL_OK) {
        free(ids->ints);
        ids->ints = NULL;
    } else {
        free(ids->ints);
        hitl_strings_free(ids->strs, k);
        memset(ids, 0, sizeof(*ids));
    }
    return st;
}
