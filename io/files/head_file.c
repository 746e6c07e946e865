/* Linear head files: /W float32 [D, C], /b float32 [C] and an optional `classes` string-array
 * attribute on the root group, loaded whole (heads are small) and saved in the same layout. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5_util.h"
#include "hitl_banned.h"

/* Opens `path:/name`, a float32/float64 dataset of rank `want`, and reads its dims. */
static hitl_status open_float(hid_t file, const char *path, const char *name, int want,
                              hsize_t *dims, hid_t *out, hitl_error *err)
{
    hid_t d;
    hitl_status st = hitl__h5_open_dataset(file, path, name, H5P_DEFAULT, &d, err);
    if (st != HITL_OK) return st;
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    if (type < 0 || rank < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s:%s': cannot read the type or shape", path, name);
    } else if (H5Tget_class(type) != H5T_FLOAT || (size != 4 && size != 8)) {
        char tn[32];
        hitl__h5_type_name(type, tn, sizeof(tn));
        st = hitl_error_set(err, HITL_ETYPE,
                            "'%s:%s': unsupported type %s (need float32 or "
                            "float64)",
                            path, name, tn);
    } else if (rank != want) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s:%s': expected rank %d, got rank %d", path, name,
                            want, rank);
    } else {
        H5Sget_simple_extent_dims(space, dims, NULL);
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (st != HITL_OK) {
        H5Dclose(d);
        return st;
    }
    *out = d;
    return HITL_OK;
}

static hitl_status read_floats(hid_t d, size_t count, float **out, const char *path,
                               const char *name, hitl_error *err)
{
    *out = malloc(count * sizeof(float));
    if (!*out) return hitl_error_set(err, HITL_ENOMEM, "'%s:%s': out of memory", path, name);
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        return hitl__h5_error(err, HITL_EIO, "'%s:%s': cannot read", path, name);
    return HITL_OK;
}

void hitl_head_release(hitl_head *h)
{
    if (!h) return;
    free(h->w);
    free(h->b);
    hitl_strings_free(h->classes, h->n_classes);
    memset(h, 0, sizeof(*h));
}

hitl_status hitl_head_load(hitl_head *h, const char *path, hitl_error *err)
{
    if (!h) return hitl_error_set(err, HITL_EINVAL, "no head given");
    memset(h, 0, sizeof(*h));
    hid_t file, w = H5I_INVALID_HID, b = H5I_INVALID_HID;
    hitl_status st = hitl__h5_open_file(path, &file, err);
    if (st != HITL_OK) return st;

    hsize_t wd[2], bd[1];
    if ((st = open_float(file, path, "/W", 2, wd, &w, err)) != HITL_OK) goto done;
    if (wd[0] == 0 || wd[1] == 0) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s:/W': empty weight matrix (%llu, %llu)", path,
                            (unsigned long long)wd[0], (unsigned long long)wd[1]);
        goto done;
    }
    /* D and C are the columns of the features and of the logits: the pool's limit holds */
    if (wd[0] > HITL_MATRIX_MAX_COLS || wd[1] > HITL_MATRIX_MAX_COLS) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s:/W': shape (%llu, %llu) is too large", path,
                            (unsigned long long)wd[0], (unsigned long long)wd[1]);
        goto done;
    }
    if ((st = open_float(file, path, "/b", 1, bd, &b, err)) != HITL_OK) goto done;
    if (bd[0] != wd[1]) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s:/b': %llu entries for the %llu columns of /W",
                            path, (unsigned long long)bd[0], (unsigned long long)wd[1]);
        goto done;
    }
    /* loaded whole: a shape whose values are not in the file allocates nothing */
    char wname[1024], bname[1024];
    snprintf(wname, sizeof(wname), "%s:/W", path);
    snprintf(bname, sizeof(bname), "%s:/b", path);
    if ((st = hitl__h5_check_written(w, wname, err)) != HITL_OK ||
        (st = hitl__h5_check_written(b, bname, err)) != HITL_OK)
        goto done;
    h->d = (size_t)wd[0];
    h->c = (size_t)wd[1];
    if ((st = read_floats(w, h->d * h->c, &h->w, path, "/W", err)) != HITL_OK) goto done;
    if ((st = read_floats(b, h->c, &h->b, path, "/b", err)) != HITL_OK) goto done;

    st = hitl__h5_attr_strings(file, "classes", path, &h->classes, &h->n_classes, NULL, err);
    if (st == HITL_OK && h->n_classes != 0 && h->n_classes != h->c)
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': %zu class names for the %zu columns of /W",
                            path, h->n_classes, h->c);
done:
    if (b >= 0) H5Dclose(b);
    if (w >= 0) H5Dclose(w);
    H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    if (st != HITL_OK) hitl_head_release(h);
    return st;
}

hitl_status hitl_head_save(const char *path, const float *w, const float *b, size_t d, size_t c,
                           char *const *classes, hitl_error *err)
{
    if (!path || !w || !b) return hitl_error_set(err, HITL_EINVAL, "no head file, W or b given");
    if (d == 0 || c == 0)
        return hitl_error_set(err, HITL_EINVAL, "empty weight matrix (%zu, %zu)", d, c);
    for (size_t i = 0; classes && i < c; i++)
        if (!classes[i]) return hitl_error_set(err, HITL_EINVAL, "class name %zu missing", i);

    hid_t file;
    hitl_status st = hitl__h5_create_file(path, &file, err);
    if (st != HITL_OK) return st;
    hsize_t wd[2] = {d, c}, bd[1] = {c};
    st = hitl__h5_write(file, path, "/W", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, wd, w, err);
    if (st == HITL_OK)
        st = hitl__h5_write(file, path, "/b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, bd, b, err);
    if (st == HITL_OK && classes)
        st = hitl__h5_write_strings_attr(file, path, "classes", classes, c, err);
    if (H5Fclose(file) < 0 && st == HITL_OK)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", path);
    H5Eclear2(H5E_DEFAULT);
    if (st != HITL_OK) unlink(path); /* no half-written head left behind */
    return st;
}
