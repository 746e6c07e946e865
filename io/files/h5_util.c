/* HDF5 plumbing shared by the io readers and writers: a silent error stack whose innermost
 * description becomes the hitl_error message, opening with errno-quality messages, and string
 * arrays in both of h5py's layouts (variable-length str lists, fixed-length numpy 'S'). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5_util.h"
#include "hitl_banned.h"

void hitl__h5_quiet(void)
{
    static _Thread_local int quiet;
    if (quiet) return;
    /* Before the library starts: HDF5 1.10 crashes in its exit handler when an H5Fclose has
     * failed (a full disk), after hitl has already reported the error and removed the file.
     * Every file hitl writes is closed explicitly, so the handler has nothing left to do. */
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* Let HDF5 keep one closed file's metadata cache (H5C_t, 516 KiB, cleared at every open) on
     * its free list for the next open: its default 64 KiB per list returns it to malloc, and
     * the next file faults in fresh pages (shards: 130 per file). HDF5's other limits as they
     * are. */
    H5set_free_list_limits(2 << 20, 1 << 20, 4 << 20, 256 << 10, 16 << 20, 1 << 20);
    quiet = 1;
}

/* Parallel HDF5 (HITL_MPI): while on, files open and are created through MPI-IO on
 * MPI_COMM_WORLD, and every rank must make the same HDF5 calls on them. */
static int collective;

void hitl__h5_set_collective(int on)
{
    collective = on;
}

int hitl__h5_collective(void)
{
    return collective;
}

/* The MPI-IO driver on fapl while collective is on; 0 on success. */
static int set_driver(hid_t fapl)
{
#ifdef HITL_MPI
    if (collective) return H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) < 0 ? -1 : 0;
#endif
    return 0;
}

typedef struct walk_state {
    char desc[1024];
    hid_t min_num;
    int have;
} walk_state;

/* Walked upward, the first record is the innermost, where the failure was detected. */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    walk_state *w = data;
    if (w->have) return 0;
    if (e->desc && e->desc[0]) {
        snprintf(w->desc, sizeof(w->desc), "%s", e->desc);
        w->have = 1;
    } else if (w->min_num < 0) {
        w->min_num = e->min_num;
    }
    return 0;
}

/* HDF5's file drivers describe a failed system call at length ("file write failed: time = ...,
 * filename = ..., errno = 28, error message = 'No space left on device', buf = ..."): keep what
 * failed and the system's message. */
static void system_error(char *s)
{
    static const char key[] = "error message = '";
    char *m = strstr(s, key), *colon = strchr(s, ':');
    if (!m || !colon || colon > m) return;
    m += sizeof(key) - 1;
    char *end = strchr(m, '\'');
    if (!end) return;
    size_t n = (size_t)(end - m);
    memmove(colon + 2, m, n);
    colon[1] = ' ';
    colon[2 + n] = '\0';
}

/* One line, no trailing period or blanks. */
static void tidy(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '.' || s[len - 1] == ' '))
        s[--len] = '\0';
}

hitl_status hitl__h5_error(hitl_error *err, hitl_status st, const char *fmt, ...)
{
    walk_state w = {.min_num = -1};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
    /* H5Eget_msg() would clear the stack, so it runs after the walk. */
    if (!w.have && w.min_num >= 0) {
        H5E_type_t type;
        if (H5Eget_msg(w.min_num, &type, w.desc, sizeof(w.desc)) > 0) w.have = 1;
    }
    H5Eclear2(H5E_DEFAULT);
    if (!w.have) snprintf(w.desc, sizeof(w.desc), "unknown HDF5 error");
    system_error(w.desc);
    tidy(w.desc);
    if (!err) return st;

    char prefix[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    return hitl_error_set(err, st, "%s: %s", prefix, w.desc);
}

const char *hitl__h5_slash(const char *dset)
{
    return dset && dset[0] == '/' ? "" : "/";
}

static hitl_status check_readable(const char *path, hitl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    close(fd);
    if (e) return hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(e));
    return HITL_OK;
}

/* Lock files, but carry on where the file system has no locks (NFS, Lustre) instead of failing
 * with "unable to lock file". HDF5_USE_FILE_LOCKING still overrides. */
static void lock_best_effort(hid_t fapl)
{
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 1, 1);
#else
    (void)fapl;
#endif
}

/* File access for every open and create: closing the file closes whatever is still open in it,
 * locks where the file system has them, and, where `parallel` and collective mode is on, the
 * MPI-IO driver. */
static hid_t new_fapl(int parallel)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    lock_best_effort(fapl);
    if (!parallel || set_driver(fapl) == 0) return fapl;
    H5Pclose(fapl);
    return H5I_INVALID_HID;
}

/* Files opened to read keep a 32 KiB metadata cache, not HDF5's 2 MiB that grows. hitl reads
 * one dataset front to back, so the cache needs the object header and the path down the chunk
 * index, not the whole index. HDF5 sizes the cache by the nodes' size on disk, while a
 * decoded version-1 B-tree node of chunk keys takes several times that in memory: h5py's
 * chunks=True file of 10M x 10 floats (5,120 chunks) faulted in 1.2 MiB of decoded index that
 * no read came back to (+300 page faults with one thread, +350 with two; no change in time). */
static herr_t small_metadata_cache(hid_t fapl)
{
    H5AC_cache_config_t mdc = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};
    if (H5Pget_mdc_config(fapl, &mdc) < 0) return -1;
    mdc.set_initial_size = 1;
    mdc.initial_size = mdc.max_size = 32 << 10;
    mdc.min_size = 16 << 10;
    mdc.incr_mode = H5C_incr__off;
    mdc.flash_incr_mode = H5C_flash_incr__off;
    mdc.decr_mode = H5C_decr__off;
    return H5Pset_mdc_config(fapl, &mdc);
}

hitl_status hitl__h5_open_file(const char *path, hid_t *file, hitl_error *err)
{
    hitl__h5_quiet();
    *file = H5I_INVALID_HID;
    if (!path || !path[0]) return hitl_error_set(err, HITL_EINVAL, "no file name given");
    hitl_status st = check_readable(path, err);
    if (st != HITL_OK) return st;
    if (H5Fis_hdf5(path) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return hitl_error_set(err, HITL_EIO, "cannot open '%s': not an HDF5 file", path);
    }
    hid_t fapl = new_fapl(1);
    if (fapl < 0) return hitl__h5_error(err, HITL_ENOMEM, "cannot open '%s'", path);
    if (small_metadata_cache(fapl) < 0) {
        H5Pclose(fapl);
        return hitl__h5_error(err, HITL_EIO, "cannot open '%s'", path);
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    /* Read the error stack before any other call clears it. */
    st = f < 0 ? hitl__h5_error(err, HITL_EIO, "cannot open '%s'", path) : HITL_OK;
    H5Pclose(fapl);
    *file = f;
    return st;
}

hitl_status hitl__h5_create_file(const char *path, hid_t *file, hitl_error *err)
{
    hitl__h5_quiet();
    *file = H5I_INVALID_HID;
    if (!path || !path[0]) return hitl_error_set(err, HITL_EINVAL, "no file name given");
    /* Try the path ourselves first: errno says more than HDF5's stack. */
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return hitl_error_set(err, HITL_EIO, "cannot create '%s': %s", path, strerror(errno));
    close(fd);
    hid_t fapl = new_fapl(1);
    if (fapl < 0) return hitl__h5_error(err, HITL_ENOMEM, "cannot create '%s'", path);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hitl_status st = f < 0 ? hitl__h5_error(err, HITL_EIO, "cannot create '%s'", path) : HITL_OK;
    H5Pclose(fapl);
    *file = f;
    return st;
}

hitl_status hitl__h5_open_file_rw(const char *path, hid_t *file, hitl_error *err)
{
    hitl__h5_quiet();
    *file = H5I_INVALID_HID;
    hitl_status st = check_readable(path, err);
    if (st != HITL_OK) return st;
    hid_t fapl = new_fapl(0);
    if (fapl < 0) return hitl__h5_error(err, HITL_ENOMEM, "cannot open '%s'", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    st = f < 0 ? hitl__h5_error(err, HITL_EIO, "cannot write '%s'", path) : HITL_OK;
    H5Pclose(fapl);
    *file = f;
    return st;
}

/* 1 when every link on the way to `name` exists and resolves, 0 when one does not. */
static int path_exists(hid_t file, const char *name)
{
    if (strcmp(name, "/") == 0) return 1;
    size_t len = strlen(name);
    char *prefix = malloc(len + 1);
    if (!prefix) return 1; /* let the caller report HDF5's own error */
    htri_t exists = 1;
    /* H5Lexists() wants every intermediate link to exist, so walk the path down. */
    for (size_t i = 1; i <= len && exists > 0; i++) {
        if (i < len && name[i] != '/') continue;
        if (name[i - 1] == '/') continue;
        memcpy(prefix, name, i);
        prefix[i] = '\0';
        exists = H5Lexists(file, prefix, H5P_DEFAULT);
    }
    free(prefix);
    if (exists > 0) exists = H5Oexists_by_name(file, name, H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    return exists > 0;
}

hitl_status hitl__h5_open_dataset(hid_t file, const char *path, const char *dset, hid_t dapl,
                                  hid_t *out, hitl_error *err)
{
    hitl__h5_quiet();
    *out = H5I_INVALID_HID;
    if (!dset || !dset[0])
        return hitl_error_set(err, HITL_EINVAL, "'%s': no dataset name given", path);
    const char *sl = hitl__h5_slash(dset);
    hid_t d = H5Dopen2(file, dset, dapl);
    if (d >= 0) {
        *out = d;
        return HITL_OK;
    }

    /* Say why: nothing at that path, something that is not a dataset, or an HDF5 failure. */
    hitl_error h5err;
    hitl__h5_error(&h5err, HITL_EIO, "'%s': cannot open dataset '%s%s'", path, sl, dset);
    if (!path_exists(file, dset))
        return hitl_error_set(err, HITL_ENOTFOUND, "'%s': no dataset '%s%s'", path, sl, dset);
    hid_t o = H5Oopen(file, dset, H5P_DEFAULT);
    H5I_type_t t = o >= 0 ? H5Iget_type(o) : H5I_BADID;
    if (o >= 0) H5Oclose(o);
    H5Eclear2(H5E_DEFAULT);
    if (t == H5I_GROUP)
        return hitl_error_set(err, HITL_ENOTFOUND, "'%s': '%s%s' is a group, not a dataset", path,
                              sl, dset);
    if (t == H5I_DATATYPE)
        return hitl_error_set(err, HITL_ENOTFOUND, "'%s': '%s%s' is a named type, not a dataset",
                              path, sl, dset);
    if (err) *err = h5err;
    return HITL_EIO;
}

hitl_status hitl__h5_check_written(hid_t dset, const char *name, hitl_error *err)
{
    hid_t dcpl = H5Dget_create_plist(dset), space = H5Dget_space(dset);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK], need = 1, have = 0;
    hitl_status st = HITL_OK;
    if (rank < 0 || layout == H5D_LAYOUT_ERROR) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read the storage layout", name);
        goto done;
    }
    hssize_t npoints = H5Sget_simple_extent_npoints(space);
    if (npoints == 0 || layout == H5D_COMPACT || layout == H5D_VIRTUAL ||
        H5Pget_external_count(dcpl) > 0)
        goto done;
    if (layout == H5D_CONTIGUOUS) {
        H5D_space_status_t status;
        if (H5Dget_space_status(dset, &status) < 0) {
            st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read the storage status", name);
        } else if (status != H5D_SPACE_STATUS_ALLOCATED) {
            st = hitl_error_set(err, HITL_EDATA,
                                "'%s': its values were never written (the file holds only the "
                                "shape)",
                                name);
        }
        goto done;
    }
    /* chunked: every chunk the extent spans must be in the file */
    H5Sget_simple_extent_dims(space, dims, NULL);
    if (H5Pget_chunk(dcpl, rank, chunk) != rank) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read the chunk shape", name);
        goto done;
    }
    for (int i = 0; i < rank; i++) {
        hsize_t per = chunk[i] ? dims[i] / chunk[i] + (dims[i] % chunk[i] != 0) : 0;
        need = per && need > UINT64_MAX / per ? UINT64_MAX : need * per;
    }
    if (H5Dget_num_chunks(dset, space, &have) < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot count the chunks", name);
    } else if (have < need) {
        st = hitl_error_set(err, HITL_EDATA,
                            "'%s': only %llu of its %llu chunks were written (the rest would be "
                            "fill values)",
                            name, (unsigned long long)have, (unsigned long long)need);
    }
done:
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Eclear2(H5E_DEFAULT);
    return st;
}

void hitl__h5_type_name(hid_t type, char *buf, size_t cap)
{
    size_t bits = H5Tget_size(type) * 8;
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(buf, cap, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
        break;
    case H5T_FLOAT:
        snprintf(buf, cap, "float%zu", bits);
        break;
    case H5T_STRING:
        snprintf(buf, cap, "string");
        break;
    case H5T_BITFIELD:
        snprintf(buf, cap, "bitfield");
        break;
    case H5T_OPAQUE:
        snprintf(buf, cap, "opaque");
        break;
    case H5T_COMPOUND:
        snprintf(buf, cap, "compound");
        break;
    case H5T_REFERENCE:
        snprintf(buf, cap, "reference");
        break;
    case H5T_ENUM:
        snprintf(buf, cap, "enum");
        break;
    case H5T_VLEN:
        snprintf(buf, cap, "variable-length sequence");
        break;
    case H5T_ARRAY:
        snprintf(buf, cap, "array");
        break;
    default:
        snprintf(buf, cap, "unknown");
        break;
    }
    H5Eclear2(H5E_DEFAULT);
}

static char *dup_n(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void free_n(char **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(out[i]);
        out[i] = NULL;
    }
}

static herr_t read_into(hid_t obj, int is_attr, hid_t mtype, hid_t mspace, hid_t fspace, void *buf)
{
    if (is_attr) return H5Aread(obj, mtype, buf);
    return H5Dread(obj, mtype, mspace, fspace, H5P_DEFAULT, buf);
}

static hitl_status read_vlen(hid_t obj, int is_attr, hid_t mtype, hid_t mspace, hid_t fspace,
                             size_t n, char **out, const char *where, hitl_error *err)
{
    char **tmp = calloc(n, sizeof(*tmp));
    if (!tmp) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", where);
    hitl_status st = HITL_OK;
    if (H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
        read_into(obj, is_attr, mtype, mspace, fspace, tmp) < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read strings", where);
    }
    for (size_t i = 0; i < n && st == HITL_OK; i++) {
        const char *s = tmp[i] ? tmp[i] : "";
        out[i] = dup_n(s, strlen(s));
        if (!out[i]) st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", where);
    }
    /* The buffer is calloc'ed, so strings the read never filled are NULL and free fine. */
    hsize_t dim = n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    if (space >= 0) {
        H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, tmp);
        H5Sclose(space);
    }
    H5Eclear2(H5E_DEFAULT);
    free(tmp);
    if (st != HITL_OK) free_n(out, n);
    return st;
}

static hitl_status read_fixed(hid_t obj, int is_attr, hid_t ftype, hid_t mtype, hid_t mspace,
                              hid_t fspace, size_t n, char **out, const char *where,
                              hitl_error *err)
{
    size_t size = H5Tget_size(ftype);
    if (size == 0 || n > SIZE_MAX / size)
        return hitl_error_set(err, HITL_EDATA, "'%s': bad string size %zu", where, size);
    char *buf = malloc(n * size);
    if (!buf) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", where);
    hitl_status st = HITL_OK;
    /* Null-padded memory strings of the same width: HDF5 never truncates a full-width name and
     * strips space padding itself. */
    if (H5Tset_size(mtype, size) < 0 || H5Tset_strpad(mtype, H5T_STR_NULLPAD) < 0 ||
        read_into(obj, is_attr, mtype, mspace, fspace, buf) < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read strings", where);
    }
    for (size_t i = 0; i < n && st == HITL_OK; i++) {
        const char *s = buf + i * size;
        out[i] = dup_n(s, strnlen(s, size));
        if (!out[i]) st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", where);
    }
    free(buf);
    if (st != HITL_OK) free_n(out, n);
    return st;
}

hitl_status hitl__h5_read_strings(hid_t obj, int is_attr, hid_t ftype, hid_t mspace, hid_t fspace,
                                  size_t n, char **out, const char *where, hitl_error *err)
{
    if (n == 0) return HITL_OK;
    htri_t vl = H5Tis_variable_str(ftype);
    H5T_cset_t cset = H5Tget_cset(ftype);
    hid_t mtype = H5Tcopy(H5T_C_S1);
    /* HDF5 does not convert between ASCII and UTF-8, so read in the file's character set. */
    if (vl < 0 || cset < 0 || mtype < 0 || H5Tset_cset(mtype, cset) < 0) {
        if (mtype >= 0) H5Tclose(mtype);
        return hitl__h5_error(err, HITL_EIO, "'%s': cannot read strings", where);
    }
    hitl_status st =
        vl ? read_vlen(obj, is_attr, mtype, mspace, fspace, n, out, where, err)
           : read_fixed(obj, is_attr, ftype, mtype, mspace, fspace, n, out, where, err);
    H5Tclose(mtype);
    return st;
}

hitl_status hitl__h5_attr_strings(hid_t obj, const char *attr, const char *where, char ***names,
                                  size_t *n, int *found, hitl_error *err)
{
    hitl__h5_quiet();
    *names = NULL;
    *n = 0;
    if (found) *found = 0;
    htri_t ex = H5Aexists(obj, attr);
    if (ex < 0)
        return hitl__h5_error(err, HITL_EIO, "'%s': cannot read attribute '%s'", where, attr);
    if (ex == 0) return HITL_OK;

    hitl_status st = HITL_OK;
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t space = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    char **v = NULL;
    size_t count = 0;
    if (type < 0 || space < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read attribute '%s'", where, attr);
        goto done;
    }
    if (H5Tget_class(type) != H5T_STRING) {
        char tn[32];
        hitl__h5_type_name(type, tn, sizeof(tn));
        st = hitl_error_set(err, HITL_ETYPE, "'%s': attribute '%s' has type %s, expected strings",
                            where, attr, tn);
        goto done;
    }
    H5S_class_t sc = H5Sget_simple_extent_type(space);
    int rank = H5Sget_simple_extent_ndims(space);
    if (sc == H5S_NULL) {
        count = 0;
    } else if (rank == 0) {
        count = 1;
    } else if (rank == 1) {
        hsize_t dim;
        H5Sget_simple_extent_dims(space, &dim, NULL);
        count = (size_t)dim;
    } else {
        st = hitl_error_set(err, HITL_ESHAPE,
                            "'%s': attribute '%s' must be a list of names, got "
                            "rank %d",
                            where, attr, rank);
        goto done;
    }
    if (count > 0) {
        v = calloc(count, sizeof(*v));
        if (!v) {
            st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", where);
            goto done;
        }
        char what[320];
        snprintf(what, sizeof(what), "%s' attribute '%s", where, attr);
        st = hitl__h5_read_strings(a, 1, type, H5S_ALL, H5S_ALL, count, v, what, err);
        if (st != HITL_OK) {
            free(v);
            v = NULL;
            goto done;
        }
    }
    if (rank == 0 && count == 1 && strchr(v[0], ',')) { /* one comma-joined string: "a,b,c" */
        size_t parts = 1;
        for (const char *p = v[0]; *p; p++)
            parts += *p == ',';
        char **split = calloc(parts, sizeof(*split));
        const char *p = v[0];
        for (size_t i = 0; split && i < parts; i++) {
            size_t len = strcspn(p, ",");
            if (!(split[i] = strndup(p, len))) {
                hitl_strings_free(split, i);
                split = NULL;
                break;
            }
            p += len + (p[len] == ',');
        }
        hitl_strings_free(v, 1);
        if (!split) {
            st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", where);
            goto done;
        }
        v = split;
        count = parts;
    }
    *names = v;
    *n = count;
    if (found) *found = 1;
done:
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (a >= 0) H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
    return st;
}

hitl_status hitl__h5_write(hid_t loc, const char *path, const char *name, hid_t ftype, hid_t mtype,
                           int rank, const hsize_t *dims, const void *v, hitl_error *err)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = space >= 0
                  ? H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                  : H5I_INVALID_HID;
    hitl_status st = HITL_OK;
    if (d < 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s': dataset '%s'", path, name);
    if (d >= 0) H5Dclose(d);
    if (space >= 0) H5Sclose(space);
    return st;
}

hitl_status hitl__h5_write_strings_attr(hid_t obj, const char *path, const char *attr,
                                        char *const *v, size_t n, hitl_error *err)
{
    hsize_t dim = n;
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t a = H5I_INVALID_HID;
    hitl_status st = HITL_OK;
    if (type < 0 || space < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5T_CSET_UTF8) < 0 ||
        (a = H5Acreate2(obj, attr, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, type, v) < 0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s': attribute '%s'", path, attr);
    if (a >= 0) H5Aclose(a);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return st;
}
