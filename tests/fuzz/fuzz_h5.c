/* libFuzzer harness for hitl's HDF5 readers: the pool matrix (hitl_matrix_open, reads by block,
 * class names), rating matrices (hitl_rating_matrix_read), the head (hitl_head_load), labels
 * (hitl_labels_read) and ids (hitl_ids_read_rows). Structure-aware: the input chooses the objects,
 * types, shapes, layouts, filters, values and `classes` attributes of a file that the harness
 * writes with the HDF5 API, so the mutations land on what hitl reads rather than on libhdf5's own
 * parser. With HITL_FUZZ_H5_RAW set, an input that starts with the HDF5 signature byte 0x89 is
 * instead the file itself; off by default, since libhdf5 hangs and leaks on corrupt files
 * (README.md). */
#include <hdf5.h>
#include <sanitizer/lsan_interface.h>

#include "fuzz_util.h"
#include "hitl_io.h"

#define MAX_WRITE   ((size_t)4096)    /* elements written per dataset; larger ones stay unwritten */
#define READ_FLOATS ((size_t)1 << 16) /* the block buffer of the matrix reads */

typedef struct src {
    const uint8_t *p;
    size_t n;
} src;

static unsigned take(src *s)
{
    if (!s->n) return 0;
    s->n--;
    return *s->p++;
}

/* Mostly small dimensions, sometimes the edges hitl checks. */
static hsize_t take_dim(src *s)
{
    static const hsize_t big[] = {16,
                                  100,
                                  1000,
                                  65536,
                                  (hsize_t)1 << 21,
                                  ((hsize_t)1 << 21) + 1,
                                  1000000,
                                  1000000000,
                                  (hsize_t)1 << 32,
                                  1000000000000ull,
                                  (hsize_t)1 << 40,
                                  (hsize_t)1 << 62};
    unsigned b = take(s);
    if (b < 208) return b % 9;
    return big[(b - 208) % (sizeof(big) / sizeof(big[0]))];
}

enum { N_TYPES = 20 };

/* The file type of index t (close it), or -1. */
static hid_t make_type(unsigned t, src *s)
{
    hid_t h = H5I_INVALID_HID;
    switch (t % N_TYPES) {
    case 0:
        return H5Tcopy(H5T_IEEE_F32LE);
    case 1:
        return H5Tcopy(H5T_IEEE_F64LE);
    case 2:
        return H5Tcopy(H5T_IEEE_F32BE);
    case 3:
        return H5Tcopy(H5T_IEEE_F64BE);
    case 4: /* float16, as h5py makes it */
        h = H5Tcopy(H5T_IEEE_F32LE);
        if (H5Tset_fields(h, 15, 10, 5, 0, 10) < 0 || H5Tset_size(h, 2) < 0 ||
            H5Tset_ebias(h, 15) < 0) {
            H5Tclose(h);
            return H5I_INVALID_HID;
        }
        return h;
    case 5:
        return H5Tcopy(H5T_STD_I8LE);
    case 6:
        return H5Tcopy(H5T_STD_U8LE);
    case 7:
        return H5Tcopy(H5T_STD_I16BE);
    case 8:
        return H5Tcopy(H5T_STD_I32LE);
    case 9:
        return H5Tcopy(H5T_STD_I64LE);
    case 10:
        return H5Tcopy(H5T_STD_U64LE);
    case 11: /* variable-length UTF-8, h5py's str */
        h = H5Tcopy(H5T_C_S1);
        H5Tset_size(h, H5T_VARIABLE);
        H5Tset_cset(h, H5T_CSET_UTF8);
        return h;
    case 12: /* numpy 'S<n>' */
    case 13: /* Fortran-style, space padded */
        h = H5Tcopy(H5T_C_S1);
        H5Tset_size(h, 1 + take(s) % 8);
        H5Tset_strpad(h, t % N_TYPES == 12 ? H5T_STR_NULLPAD : H5T_STR_SPACEPAD);
        return h;
    case 14:
        h = H5Tcreate(H5T_COMPOUND, 4);
        H5Tinsert(h, "f", 0, H5T_IEEE_F32LE);
        return h;
    case 15:
        return H5Tcopy(H5T_NATIVE_LDOUBLE);
    case 16: {
        h = H5Tenum_create(H5T_STD_I8LE);
        signed char v0 = 0, v1 = 1;
        H5Tenum_insert(h, "no", &v0);
        H5Tenum_insert(h, "yes", &v1);
        return h;
    }
    case 17:
        h = H5Tcreate(H5T_OPAQUE, 4);
        H5Tset_tag(h, "blob");
        return h;
    case 18:
        return H5Tvlen_create(H5T_IEEE_F32LE);
    default: {
        hsize_t two = 2;
        return H5Tarray_create2(H5T_IEEE_F32LE, 1, &two);
    }
    }
}

/* Writes `n` elements of `type` from the input to `obj` (a dataset, or an attribute). */
static void write_values(hid_t obj, int is_attr, hid_t type, size_t n, src *s)
{
    if (H5Tget_class(type) == H5T_VLEN) return; /* left unwritten */
    if (H5Tis_variable_str(type) > 0) {
        char **v = calloc(n ? n : 1, sizeof(*v));
        for (size_t i = 0; i < n; i++) {
            size_t len = take(s) % 8;
            v[i] = malloc(len + 1);
            for (size_t j = 0; j < len; j++)
                v[i][j] = (char)(take(s) | 1); /* no NUL inside */
            v[i][len] = '\0';
        }
        if (is_attr)
            H5Awrite(obj, type, v);
        else
            H5Dwrite(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return;
    }
    size_t size = H5Tget_size(type), bytes = n * size;
    uint8_t *buf = calloc(bytes ? bytes : 1, 1);
    for (size_t i = 0; i < bytes; i++)
        buf[i] = (uint8_t)take(s);
    if (is_attr)
        H5Awrite(obj, type, buf);
    else
        H5Dwrite(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    free(buf);
}

/* One object at `name`: a dataset of the input's type, rank, shape, layout, filters and values,
 * or a group, a dangling soft link, a soft link to /probs, or a named datatype. */
static void make_object(hid_t file, const char *name, src *s)
{
    unsigned kind = take(s) >> 5;
    if (kind == 4) {
        hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g >= 0) H5Gclose(g);
        return;
    }
    if (kind == 5 || kind == 6) {
        H5Lcreate_soft(kind == 5 ? "/nowhere" : "/probs", file, name, H5P_DEFAULT, H5P_DEFAULT);
        return;
    }
    hid_t type = make_type(take(s), s);
    if (type < 0) return;
    if (kind == 7) {
        H5Tcommit2(file, name, type, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Tclose(type);
        return;
    }
    unsigned r = take(s);
    int rank = (int)(r % 4), layout = (int)((r >> 2) & 7), write = (r >> 5) & 1,
        fill = (r >> 6) & 1;
    hsize_t dims[3], maxd[3], chunk[3];
    size_t count = 1;
    int overflow = 0;
    for (int i = 0; i < rank; i++) {
        dims[i] = take_dim(s);
        maxd[i] = layout == 7 || dims[i] == 0 ? H5S_UNLIMITED : dims[i];
        chunk[i] = 1 + take(s) % 8;
        if (maxd[i] != H5S_UNLIMITED && chunk[i] > dims[i]) chunk[i] = dims[i];
        if (dims[i] && count > SIZE_MAX / dims[i]) overflow = 1;
        count *= dims[i];
    }
    if (rank == 0) count = 1;
    hid_t space =
        rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, layout >= 3 ? maxd : NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (layout == 2 && rank > 0) H5Pset_layout(dcpl, H5D_COMPACT);
    if (layout >= 3 && rank > 0) {
        H5Pset_chunk(dcpl, rank, chunk);
        if (layout == 4 || layout == 5) {
            if (layout == 5) H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, 1 + take(s) % 9);
        }
        if (layout == 6) H5Pset_fletcher32(dcpl);
    }
    if (fill && H5Tget_class(type) != H5T_VLEN && H5Tis_variable_str(type) <= 0) {
        uint8_t v[16] = {0};
        for (size_t i = 0; i < sizeof(v) && i < H5Tget_size(type); i++)
            v[i] = (uint8_t)take(s);
        H5Pset_fill_value(dcpl, type, v);
    }
    hid_t d = space >= 0 ? H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)
                         : H5I_INVALID_HID;
    if (d >= 0 && write && !overflow && count <= MAX_WRITE) write_values(d, 0, type, count, s);
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    H5Tclose(type);
}

/* A `classes` attribute on `obj`: strings (either layout), numbers; null, scalar, rank 1 or 2. */
static void make_classes(hid_t obj, src *s)
{
    unsigned t = take(s), sp = take(s);
    static const unsigned types[] = {11, 11, 12, 13, 8, 0, 18, 14};
    hid_t type = make_type(types[t % 8], s);
    if (type < 0) return;
    hsize_t dims[2] = {sp >> 3 & 15, 1 + (sp >> 7)};
    hid_t space = (sp & 7) == 0   ? H5Screate(H5S_NULL)
                  : (sp & 7) == 1 ? H5Screate(H5S_SCALAR)
                  : (sp & 7) == 2 ? H5Screate_simple(2, dims, NULL)
                                  : H5Screate_simple(1, dims, NULL);
    hid_t a = space >= 0 ? H5Acreate2(obj, "classes", type, space, H5P_DEFAULT, H5P_DEFAULT)
                         : H5I_INVALID_HID;
    if (a >= 0 && (sp & 7) != 0) {
        hssize_t n = H5Sget_simple_extent_npoints(space);
        write_values(a, 1, type, n > 0 ? (size_t)n : 0, s);
    }
    if (a >= 0) H5Aclose(a);
    if (space >= 0) H5Sclose(space);
    H5Tclose(type);
}

/* The file the input describes, written at `path`; 0 when HDF5 cannot create it. */
static int write_file(const char *path, src *s)
{
    unsigned what = take(s);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (what & 0x80) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file < 0) return 0;
    static const char *const names[] = {"probs", "W", "b", "labels", "ids"};
    for (int i = 0; i < 5; i++)
        if (what & (1u << i)) make_object(file, names[i], s);
    if (what & 0x20) make_classes(file, s);
    if (what & 0x40) {
        hid_t d = H5Oopen(file, "probs", H5P_DEFAULT);
        if (d >= 0) {
            make_classes(d, s);
            H5Oclose(d);
        }
    }
    H5Fclose(file);
    return 1;
}

static void check_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!names[i] || strlen(names[i]) == (size_t)-1) __builtin_trap();
    hitl_strings_free(names, n);
}

/* The pool matrix `dset`: its shape, a few blocks from each end, an out-of-range read and its
 * class names. Returns its rows (0 when it does not open). */
static size_t read_matrix(const char *path, const char *dset, float *buf)
{
    hitl_matrix *m = NULL;
    hitl_error err;
    if (hitl_matrix_open(&m, path, dset, &err) != HITL_OK) {
        if (m || !err.msg[0]) __builtin_trap();
        return 0;
    }
    size_t rows = hitl_matrix_rows(m), cols = hitl_matrix_cols(m);
    if (cols == 0 || cols > HITL_MATRIX_MAX_COLS) __builtin_trap();
    size_t block = cols < READ_FLOATS ? READ_FLOATS / cols : 1;
    if (cols <= READ_FLOATS) { /* a wider row does not fit the harness's buffer */
        for (size_t r = 0, i = 0; r < rows && i < 4; r += block, i++) {
            size_t n = rows - r < block ? rows - r : block;
            if (hitl_matrix_read(m, r, n, buf, &err) != HITL_OK) break;
        }
        if (rows > 0) hitl_matrix_read(m, rows - 1, 1, buf, &err);
    }
    if (hitl_matrix_read(m, rows, 1, buf, &err) != HITL_EINVAL) __builtin_trap();
    char **names = NULL;
    size_t n_names = 0;
    if (hitl_matrix_classes(m, &names, &n_names, &err) == HITL_OK) check_names(names, n_names);
    hitl_matrix_close(m);
    return rows;
}

static void read_all(const char *path, src *s)
{
    static float *buf;
    if (!buf) buf = malloc(READ_FLOATS * sizeof(float));
    hitl_error err;
    size_t rows = read_matrix(path, "probs", buf);
    read_matrix(path, "/W", buf);

    hitl_head h;
    if (hitl_head_load(&h, path, &err) == HITL_OK) {
        if (!h.w || !h.b || h.d == 0 || h.c == 0 || (h.n_classes && h.n_classes != h.c))
            __builtin_trap();
        volatile float sink = h.w[h.d * h.c - 1] + h.b[h.c - 1];
        (void)sink;
        check_names(h.classes, h.n_classes);
        h.classes = NULL;
        h.n_classes = 0;
        hitl_head_release(&h);
    }

    /* rating matrices: the numeric reader on any dataset, every cell -1 or below n_labels */
    static const char *const rating_dsets[] = {"probs", "labels"};
    for (size_t d = 0; d < 2; d++) {
        hitl_rating_matrix rm;
        if (hitl_rating_matrix_read(path, rating_dsets[d], &rm, &err) != HITL_OK) continue;
        for (size_t i = 0; i < rm.n_items * rm.n_annotators; i++)
            if (rm.m[i] < -1 || (rm.m[i] >= 0 && (size_t)rm.m[i] >= rm.n_labels)) __builtin_trap();
        check_names(rm.classes, rm.n_classes);
        rm.classes = NULL;
        rm.n_classes = 0;
        hitl_rating_matrix_release(&rm);
    }

    int32_t *labels = NULL;
    size_t n = 0;
    if (hitl_labels_read(path, "labels", &labels, &n, &err) == HITL_OK) {
        for (size_t i = 0; i < n; i++)
            if (labels[i] < 0) __builtin_trap();
        free(labels);
    }

    /* ids of up to 8 rows of the pool (or of a length the input gives), some out of range */
    size_t n_rows = rows ? rows : take(s) % 16, k = take(s) % 9;
    int64_t want[8];
    for (size_t i = 0; i < k; i++) {
        unsigned b = take(s);
        want[i] = b == 255 ? -1 : b == 254 ? (int64_t)n_rows : (int64_t)(b % (n_rows ? n_rows : 1));
    }
    hitl_ids ids;
    if (hitl_ids_read_rows(path, "ids", n_rows, want, k, &ids, &err) == HITL_OK) {
        if (ids.n != k) __builtin_trap();
        for (size_t i = 0; i < k && ids.is_string; i++)
            if (!ids.strs[i] || strlen(ids.strs[i]) == (size_t)-1) __builtin_trap();
        hitl_ids_release(&ids);
    }
}

/* Open HDF5 identifiers by kind: every reader must give back each one it opened (a leaked id
 * holds its memory where LeakSanitizer sees it as reachable). */
static const H5I_type_t id_kinds[] = {H5I_FILE,    H5I_GROUP, H5I_DATATYPE,   H5I_DATASPACE,
                                      H5I_DATASET, H5I_ATTR,  H5I_GENPROP_LST};
#define N_KINDS (sizeof(id_kinds) / sizeof(id_kinds[0]))

static void count_ids(hsize_t *n)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (H5Inmembers(id_kinds[i], &n[i]) < 0) n[i] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int raw = -1;
    static hsize_t ids_before[N_KINDS];
    if (raw < 0) {
        H5open();
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        raw = getenv("HITL_FUZZ_H5_RAW") != NULL;
        count_ids(ids_before);
    }
    if (size < 1 || (data[0] == 0x89 && !raw)) return 0;
    src s = {data, size};
    const char *path;
    if (data[0] == 0x89) { /* the file itself */
        path = fuzz_tmpfile(data, size, ".h5");
        s.n = 0;
    } else {
        path = fuzz_tmpfile(NULL, 0, ".h5");
        if (!path || !write_file(path, &s)) return 0;
    }
    if (!path) return 0;
    /* libhdf5 1.10 leaks metadata cache entries when it fails to parse a corrupt file (see
     * README.md): leaks are checked on the files this harness writes, not on raw ones */
    if (data[0] == 0x89) __lsan_disable();
    read_all(path, &s);
    if (data[0] == 0x89) __lsan_enable();
    H5Eclear2(H5E_DEFAULT);
    hsize_t ids_after[N_KINDS];
    count_ids(ids_after);
    for (size_t i = 0; i < N_KINDS; i++)
        if (ids_after[i] != ids_before[i]) {
            fprintf(stderr, "fuzz_h5: %llu open HDF5 ids of kind %d, %llu before\n",
                    (unsigned long long)ids_after[i], (int)id_kinds[i],
                    (unsigned long long)ids_before[i]);
            __builtin_trap();
        }
    return 0;
}
