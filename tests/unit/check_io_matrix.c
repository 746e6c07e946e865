/* Check tests for the hitl_matrix readers (HDF5 and .npy) and the io string helpers. Fixtures are
 * made here: HDF5 files through the C API, .npy files byte by byte. */
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hitl_io.h"
#include "testutil.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

static char *tmp(const char *name)
{
    return strdup(tu_tmp_path(name));
}

static double *random_values(size_t n, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    double *v = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        v[i] = tu_rng_uniform(&r) * 20.0 - 10.0;
    return v;
}

/* Writes `dset` (intermediate groups created) of file type `ftype` and shape dims[rank] into
 * `path`, chunked by chunk[rank] when given, from `data` (memory type `mtype`, may be NULL). */
static void h5_put(const char *path, int create, const char *dset, hid_t ftype, int rank,
                   const hsize_t *dims, const hsize_t *chunk, hid_t mtype, const void *data)
{
    hid_t f = create ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                     : H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) ck_assert(H5Pset_chunk(dcpl, rank, chunk) >= 0);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(f, dset, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    ck_assert(d >= 0);
    if (data) ck_assert(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
}

static void h5_matrix(const char *path, const char *dset, hid_t ftype, size_t n, size_t c,
                      const hsize_t *chunk, const double *vals)
{
    hsize_t dims[2] = {n, c};
    h5_put(path, 1, dset, ftype, 2, dims, chunk, H5T_NATIVE_DOUBLE, (n > 0 && c > 0) ? vals : NULL);
}

/* A string-array attribute: variable-length UTF-8 (h5py's list of str) or fixed-length ASCII
 * of width `fixed` (numpy 'S'), on `obj` ("/" or a dataset). */
static void h5_names(const char *path, const char *obj, const char *const *names, size_t n,
                     size_t fixed)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    ck_assert(o >= 0);
    hsize_t dim = n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t type = H5Tcopy(H5T_C_S1);
    if (fixed) {
        H5Tset_size(type, fixed);
        H5Tset_strpad(type, H5T_STR_NULLPAD);
        char *buf = calloc(n, fixed);
        for (size_t i = 0; i < n; i++)
            memcpy(buf + i * fixed, names[i], strnlen(names[i], fixed));
        hid_t a = H5Acreate2(o, "classes", type, space, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Awrite(a, type, buf) >= 0);
        H5Aclose(a);
        free(buf);
    } else {
        H5Tset_size(type, H5T_VARIABLE);
        H5Tset_cset(type, H5T_CSET_UTF8);
        hid_t a = H5Acreate2(o, "classes", type, space, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Awrite(a, type, names) >= 0);
        H5Aclose(a);
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Oclose(o);
    H5Fclose(f);
}

static void put_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    if (len) ck_assert_uint_eq(fwrite(bytes, 1, len, fp), len);
    fclose(fp);
}

/* A .npy file of version major.0 with header dict `dict` (padded as numpy does) and `len` bytes
 * of data. Returns the file's size. */
static size_t npy_put(const char *path, int major, const char *dict, const void *data, size_t len)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hl = dl + 1;
    hl += (64 - (pre + hl) % 64) % 64;
    size_t total = pre + hl + len;
    unsigned char *b = malloc(total);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        b[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', hl - dl - 1);
    b[pre + hl - 1] = '\n';
    if (len) memcpy(b + pre + hl, data, len);
    put_bytes(path, b, total);
    free(b);
    return total;
}

/* .npy of n x c values as '<f4' or '<f8'. */
static void npy_matrix(const char *path, int major, int f8, size_t n, size_t c, const double *vals)
{
    char dict[160];
    snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
             f8 ? "<f8" : "<f4", n, c);
    size_t len = n * c * (f8 ? 8 : 4);
    unsigned char *data = malloc(len ? len : 1);
    for (size_t i = 0; i < n * c; i++) {
        if (f8) {
            memcpy(data + 8 * i, &vals[i], 8);
        } else {
            float x = (float)vals[i];
            memcpy(data + 4 * i, &x, 4);
        }
    }
    npy_put(path, major, dict, data, len);
    free(data);
}

/* ---- assertions ---------------------------------------------------------------------------- */

static void check_style(const char *msg)
{
    size_t len = strlen(msg);
    ck_assert_msg(len > 0, "empty message");
    ck_assert_msg(!strchr(msg, '\n'), "message spans lines: %s", msg);
    ck_assert_msg(msg[len - 1] != '.', "message ends with a period: %s", msg);
    ck_assert_msg(!(msg[0] >= 'A' && msg[0] <= 'Z'), "message is capitalised: %s", msg);
}

static void expect_open_fail(const char *path, const char *dset, hitl_status want, const char *sub)
{
    hitl_matrix *m = (hitl_matrix *)&m;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status st = hitl_matrix_open(&m, path, dset, &err);
    ck_assert_msg(st == want, "got %s, want %s: %s", hitl_status_str(st), hitl_status_str(want),
                  err.msg);
    ck_assert_int_eq(err.status, want);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, sub) != NULL, "message '%s' lacks '%s'", err.msg, sub);
    check_style(err.msg);
    /* NULL err is allowed and gives the same status. */
    ck_assert_int_eq(hitl_matrix_open(&m, path, dset, NULL), want);
}

static hitl_matrix *open_ok(const char *path, const char *dset)
{
    hitl_matrix *m = NULL;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status st = hitl_matrix_open(&m, path, dset, &err);
    ck_assert_msg(st == HITL_OK, "open %s: %s", path, err.msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Reads the whole matrix in blocks of `block` rows and checks every value. */
static void check_blocks(hitl_matrix *m, const double *vals, size_t n, size_t c, size_t block)
{
    ck_assert_uint_eq(hitl_matrix_rows(m), n);
    ck_assert_uint_eq(hitl_matrix_cols(m), c);
    float *buf = malloc(block * c * sizeof(float));
    for (size_t r = 0; r < n; r += block) {
        size_t k = n - r < block ? n - r : block;
        memset(buf, 0xff, block * c * sizeof(float));
        hitl_error err;
        hitl_status st = hitl_matrix_read(m, r, k, buf, &err);
        ck_assert_msg(st == HITL_OK, "read [%zu, %zu): %s", r, r + k, err.msg);
        /* one assertion per block: Check's assertions are too slow for a million values */
        size_t bad = k * c;
        for (size_t i = 0; i < k * c && bad == k * c; i++)
            if (buf[i] != (float)vals[r * c + i]) bad = i;
        ck_assert_msg(bad == k * c, "row %zu col %zu: %g != %g", r + bad / c, bad % c,
                      bad < k * c ? (double)buf[bad] : 0.0,
                      bad < k * c ? (double)(float)vals[r * c + bad] : 0.0);
    }
    free(buf);
}

/* A list of `k` rows of an n-row matrix as a caller gives them: runs of neighbours, repeats of
 * rows already listed and rows anywhere, in any order. */
static int64_t *random_rows(tu_rng *r, size_t n, size_t k)
{
    int64_t *rows = malloc((k ? k : 1) * sizeof(int64_t));
    for (size_t i = 0; i < k; i++) {
        uint64_t u = tu_rng_u64(r);
        if (i > 0 && u % 3 == 0 && rows[i - 1] + 1 < (int64_t)n)
            rows[i] = rows[i - 1] + 1;
        else if (i > 0 && u % 3 == 1)
            rows[i] = rows[(u >> 8) % i];
        else
            rows[i] = (int64_t)((u >> 8) % n);
    }
    return rows;
}

/* Reads rows[0, k) with hitl_matrix_read_rows and checks each against the same row of `all`
 * [n, c] (the matrix read whole). */
static void check_rows(hitl_matrix *m, const float *all, size_t c, const int64_t *rows, size_t k)
{
    float *dst = malloc((k ? k : 1) * c * sizeof(float));
    memset(dst, 0xff, (k ? k : 1) * c * sizeof(float));
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status st = hitl_matrix_read_rows(m, rows, k, dst, &err);
    ck_assert_msg(st == HITL_OK, "read %zu rows: %s", k, err.msg);
    size_t bad = k;
    for (size_t i = 0; i < k && bad == k; i++)
        if (memcmp(dst + i * c, all + (size_t)rows[i] * c, c * sizeof(float)) != 0) bad = i;
    ck_assert_msg(bad == k, "entry %zu (row %lld) differs from the whole read", bad,
                  bad < k ? (long long)rows[bad] : -1LL);
    free(dst);
}

/* The matrix read whole, with hitl_matrix_read. */
static float *read_all(hitl_matrix *m)
{
    size_t n = hitl_matrix_rows(m), c = hitl_matrix_cols(m);
    float *all = malloc((n ? n : 1) * c * sizeof(float));
    hitl_error err;
    ck_assert_int_eq(hitl_matrix_read(m, 0, n, all, &err), HITL_OK);
    return all;
}

/* ---- core ---------------------------------------------------------------------------------- */

START_TEST(test_h5_float32_contiguous)
{
    char *p = tmp("f32c.h5");
    size_t n = 1000, c = 5;
    double *v = random_values(n * c, 1);
    h5_matrix(p, "/probs", H5T_IEEE_F32LE, n, c, NULL, v);
    hitl_matrix *m = open_ok(p, "/probs");
    ck_assert_str_eq(hitl_matrix_name(m), tu_tmp_path("f32c.h5:/probs"));
    check_blocks(m, v, n, c, 7);
    check_blocks(m, v, n, c, 1000);
    check_blocks(m, v, n, c, hitl_block_rows(c));
    hitl_matrix_close(m);
    unlink(p);
    free(v);
    free(p);
}
END_TEST

START_TEST(test_h5_float32_chunked)
{
    char *p = tmp("f32k.h5");
    size_t n = 1000, c = 5;
    double *v = random_values(n * c, 2);
    hsize_t chunk[2] = {7, 5};
    h5_matrix(p, "grp/probs", H5T_IEEE_F32LE, n, c, chunk, v);
    hitl_matrix *m = open_ok(p, "grp/probs"); /* no leading slash */
    ck_assert_str_eq(hitl_matrix_name(m), tu_tmp_path("f32k.h5:/grp/probs"));
    check_blocks(m, v, n, c, 13);
    check_blocks(m, v, n, c, 333);
    hitl_matrix_close(m);
    unlink(p);
    free(v);
    free(p);
}
END_TEST

START_TEST(test_h5_float64)
{
    char *p = tmp("f64.h5");
    size_t n = 1000, c = 5;
    double *v = random_values(n * c, 3);
    h5_matrix(p, "/x", H5T_IEEE_F64LE, n, c, NULL, v);
    hitl_matrix *m = open_ok(p, "/x");
    check_blocks(m, v, n, c, 64);
    check_blocks(m, v, n, c, 1000);
    hitl_matrix_close(m);

    /* chunked across columns too */
    hsize_t chunk[2] = {7, 2};
    h5_matrix(p, "/x", H5T_IEEE_F64LE, n, c, chunk, v);
    m = open_ok(p, "/x");
    check_blocks(m, v, n, c, 9);
    hitl_matrix_close(m);
    unlink(p);
    free(v);
    free(p);
}
END_TEST

/* hitl_matrix_read_f64: float64 files come back exactly as stored (0.8 stays 0.8, where float32
 * would round it up to 0.800000012), float32 and integer files widen exactly; in blocks, and
 * through the .npy scratch (integers) and the in-place widening (float32). */
static void check_f64(hitl_matrix *m, const double *want, size_t n, size_t c, size_t block)
{
    double *buf = malloc(block * c * sizeof(double));
    for (size_t r = 0; r < n; r += block) {
        size_t k = n - r < block ? n - r : block;
        hitl_error err;
        ck_assert_msg(hitl_matrix_read_f64(m, r, k, buf, &err) == HITL_OK, "%s", err.msg);
        size_t bad = k * c;
        for (size_t i = 0; i < k * c && bad == k * c; i++)
            if (buf[i] != want[r * c + i]) bad = i;
        ck_assert_msg(bad == k * c, "row %zu col %zu: %.17g != %.17g", r + bad / c, bad % c,
                      bad < k * c ? buf[bad] : 0.0, bad < k * c ? want[r * c + bad] : 0.0);
    }
    free(buf);
}

START_TEST(test_read_f64_as_stored)
{
    char *h = tmp("f64exact.h5"), *p = tmp("f64exact.npy");
    size_t n = 301, c = 3;
    double *v = random_values(n * c, 8), *v32 = malloc(n * c * sizeof(double));
    v[0] = 0.8;
    v[1] = 0.2;
    for (size_t i = 0; i < n * c; i++)
        v32[i] = (double)(float)v[i];
    ck_assert(v32[0] > 0.8);
    h5_matrix(h, "/x64", H5T_IEEE_F64LE, n, c, NULL, v);
    hitl_matrix *m = open_ok(h, "/x64");
    check_f64(m, v, n, c, 64);
    check_f64(m, v, n, c, n);
    check_blocks(m, v, n, c, 50); /* hitl_matrix_read still rounds to float32 */
    /* whole and by listed rows, as stored too: 0.8 stays 0.8 */
    double *all = NULL, *got = malloc(5 * c * sizeof(double));
    ck_assert_int_eq(hitl_matrix_load_f64(m, &all, NULL), HITL_OK);
    ck_assert_int_eq(memcmp(all, v, n * c * sizeof(double)), 0);
    int64_t listed[5] = {300, 0, 17, 0, 299};
    ck_assert_int_eq(hitl_matrix_read_rows_f64(m, listed, 5, got, NULL), HITL_OK);
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(memcmp(got + i * c, v + (size_t)listed[i] * c, c * sizeof(double)), 0);
    ck_assert_double_eq(got[c], 0.8);
    listed[2] = (int64_t)n;
    hitl_error rerr;
    ck_assert_int_eq(hitl_matrix_read_rows_f64(m, listed, 5, got, &rerr), HITL_EDATA);
    ck_assert_int_eq(rerr.row, 2);
    free(all);
    free(got);
    hitl_matrix_close(m);
    h5_matrix(h, "/x32", H5T_IEEE_F32LE, n, c, NULL, v);
    m = open_ok(h, "/x32");
    check_f64(m, v32, n, c, 7);
    hitl_matrix_close(m);
    for (int f8 = 0; f8 <= 1; f8++) {
        npy_matrix(p, 1, f8, n, c, v);
        m = open_ok(p, NULL);
        check_f64(m, f8 ? v : v32, n, c, 10);
        check_f64(m, f8 ? v : v32, n, c, n);
        hitl_matrix_close(m);
    }
    /* integers (numeric matrices): through the scratch */
    int32_t ints[6] = {-3, 0, 7, 1 << 30, 5, 2};
    double want[6] = {-3, 0, 7, 1 << 30, 5, 2};
    npy_put(p, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", ints,
            sizeof(ints));
    ck_assert_int_eq(hitl_matrix_open_numeric(&m, p, NULL, NULL), HITL_OK);
    check_f64(m, want, 3, 2, 2);
    hitl_matrix_close(m);
    /* the same argument checks as hitl_matrix_read */
    hitl_error err;
    double out[6];
    ck_assert_int_eq(hitl_matrix_read_f64(NULL, 0, 1, out, &err), HITL_EINVAL);
    npy_matrix(p, 1, 1, n, c, v);
    m = open_ok(p, NULL);
    ck_assert_int_eq(hitl_matrix_read_f64(m, n, 1, out, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    ck_assert_int_eq(hitl_matrix_read_f64(m, 0, 1, NULL, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_matrix_read_f64(m, n, 0, NULL, &err), HITL_OK);
    hitl_matrix_close(m);
    unlink(h);
    unlink(p);
    free(v);
    free(v32);
    free(h);
    free(p);
}
END_TEST

START_TEST(test_h5_big_endian_file)
{
    /* HDF5 converts byte order itself: a big-endian dataset is fine. */
    char *p = tmp("f32be.h5");
    size_t n = 100, c = 3;
    double *v = random_values(n * c, 4);
    h5_matrix(p, "/x", H5T_IEEE_F32BE, n, c, NULL, v);
    hitl_matrix *m = open_ok(p, "/x");
    check_blocks(m, v, n, c, 11);
    hitl_matrix_close(m);
    unlink(p);
    free(v);
    free(p);
}
END_TEST

START_TEST(test_npy_versions_match_h5)
{
    char *h = tmp("same.h5"), *p = tmp("same.npy");
    size_t n = 257, c = 4;
    double *v = random_values(n * c, 5);
    h5_matrix(h, "/probs", H5T_IEEE_F32LE, n, c, NULL, v);
    hitl_matrix *mh = open_ok(h, "/probs");
    float *a = malloc(n * c * sizeof(float)), *b = malloc(n * c * sizeof(float));
    ck_assert_int_eq(hitl_matrix_read(mh, 0, n, a, NULL), HITL_OK);
    hitl_matrix_close(mh);

    for (int major = 1; major <= 3; major++) {
        for (int f8 = 0; f8 <= 1; f8++) {
            npy_matrix(p, major, f8, n, c, v);
            hitl_matrix *m = open_ok(p, NULL);
            ck_assert_str_eq(hitl_matrix_name(m), p);
            check_blocks(m, v, n, c, 10);
            check_blocks(m, v, n, c, n);
            memset(b, 0, n * c * sizeof(float));
            ck_assert_int_eq(hitl_matrix_read(m, 0, n, b, NULL), HITL_OK);
            ck_assert(memcmp(a, b, n * c * sizeof(float)) == 0);
            char **names = (char **)&names;
            size_t nn = 99;
            ck_assert_int_eq(hitl_matrix_classes(m, &names, &nn, NULL), HITL_OK);
            ck_assert_ptr_null(names);
            ck_assert_uint_eq(nn, 0);
            hitl_matrix_close(m);
        }
    }
    /* The .npy suffix wins over a dataset name. */
    hitl_matrix *m = open_ok(p, "/ignored");
    ck_assert_str_eq(hitl_matrix_name(m), p);
    hitl_matrix_close(m);
    unlink(h);
    unlink(p);
    free(a);
    free(b);
    free(v);
    free(h);
    free(p);
}
END_TEST

START_TEST(test_npy_header_variants)
{
    /* Key order, double quotes, no trailing comma, Python 2 longs, '=' and bare little-endian
     * descr: all as older numpy versions wrote them. */
    static const char *dicts[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
        "{'shape': (3, 2), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3L, 2L)}",
        "{'descr':'=f4','fortran_order':False,'shape':(3,2,)}",
        "{'descr': 'f4', 'fortran_order': False, 'shape': (3, 2)}",
    };
    char *p = tmp("variants.npy");
    float data[6] = {1, 2, 3, 4, 5, 6}, out[6];
    for (size_t i = 0; i < sizeof(dicts) / sizeof(dicts[0]); i++) {
        npy_put(p, 1, dicts[i], data, sizeof(data));
        hitl_matrix *m = open_ok(p, NULL);
        ck_assert_uint_eq(hitl_matrix_rows(m), 3);
        ck_assert_uint_eq(hitl_matrix_cols(m), 2);
        ck_assert_int_eq(hitl_matrix_read(m, 1, 2, out, NULL), HITL_OK);
        ck_assert(memcmp(out, data + 2, 4 * sizeof(float)) == 0);
        hitl_matrix_close(m);
    }
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_classes)
{
    char *p = tmp("classes.h5");
    double v[6] = {0.1, 0.9, 0.5, 0.5, 0.3, 0.7};
    h5_matrix(p, "/probs", H5T_IEEE_F32LE, 3, 2, NULL, v);
    hsize_t dims[2] = {3, 2};
    h5_put(p, 0, "/other", H5T_IEEE_F32LE, 2, dims, NULL, H5T_NATIVE_DOUBLE, v);

    char **names = (char **)&names;
    size_t n = 99;
    hitl_matrix *m = open_ok(p, "/probs");
    ck_assert_int_eq(hitl_matrix_classes(m, &names, &n, NULL), HITL_OK);
    ck_assert_ptr_null(names);
    ck_assert_uint_eq(n, 0);
    hitl_matrix_close(m);

    /* root: fixed-length, one name exactly as wide as the type */
    static const char *root[] = {"neg", "positive"};
    h5_names(p, "/", root, 2, 8);
    /* dataset: variable-length UTF-8 wins over root */
    static const char *mine[] = {"cat", "d\xc3\xb6g"};
    h5_names(p, "/probs", mine, 2, 0);

    m = open_ok(p, "/probs");
    ck_assert_int_eq(hitl_matrix_classes(m, &names, &n, NULL), HITL_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(names[0], "cat");
    ck_assert_str_eq(names[1], "d\xc3\xb6g");
    hitl_strings_free(names, n);
    hitl_matrix_close(m);

    m = open_ok(p, "/other");
    ck_assert_int_eq(hitl_matrix_classes(m, &names, &n, NULL), HITL_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(names[0], "neg");
    ck_assert_str_eq(names[1], "positive");
    hitl_strings_free(names, n);
    hitl_matrix_close(m);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_strings_split)
{
    char **v = NULL;
    size_t n = 0;
    ck_assert_int_eq(hitl_strings_split("cat,dog,bird", &v, &n, NULL), HITL_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(v[0], "cat");
    ck_assert_str_eq(v[1], "dog");
    ck_assert_str_eq(v[2], "bird");
    hitl_strings_free(v, n);
    ck_assert_int_eq(hitl_strings_split(" a , b\t", &v, &n, NULL), HITL_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0], "a");
    ck_assert_str_eq(v[1], "b");
    hitl_strings_free(v, n);
    ck_assert_int_eq(hitl_strings_split("solo", &v, &n, NULL), HITL_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0], "solo");
    hitl_strings_free(v, n);
    hitl_strings_free(NULL, 3);
}
END_TEST

START_TEST(test_block_rows)
{
    ck_assert_uint_eq(hitl_block_rows(10), HITL_BLOCK_BYTES / 40);
    ck_assert_uint_eq(hitl_block_rows(1), HITL_BLOCK_BYTES / 4);
    ck_assert_uint_eq(hitl_block_rows(0), 1);
    ck_assert_uint_eq(hitl_block_rows(HITL_BLOCK_BYTES), 1);
    ck_assert_uint_eq(hitl_block_rows(SIZE_MAX), 1);
    ck_assert(hitl_block_rows(1000) * 1000 * sizeof(float) <= HITL_BLOCK_BYTES);
}
END_TEST

START_TEST(test_read_rows)
{
    /* random row lists (repeats, runs, any order) give the rows of the whole matrix: HDF5
     * contiguous and chunked, float32 and float64, and .npy of both */
    char *p = tmp("rows.h5"), *q = tmp("rows.npy");
    size_t n = 500, c = 7;
    double *v = random_values(n * c, 11);
    hsize_t chunk[2] = {13, 3};
    tu_rng r;
    tu_rng_seed(&r, 12);
    for (int f = 0; f < 4; f++) {
        if (f < 3)
            h5_matrix(p, "/x", f == 2 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, n, c, f ? chunk : NULL, v);
        else
            npy_matrix(q, 1, 0, n, c, v);
        hitl_matrix *m = open_ok(f < 3 ? p : q, f < 3 ? "/x" : NULL);
        float *all = read_all(m);
        for (int t = 0; t < 40; t++) {
            size_t k = t == 0 ? 0 : t == 1 ? 1 : tu_rng_u64(&r) % 700;
            int64_t *rows = random_rows(&r, n, k);
            check_rows(m, all, c, rows, k);
            free(rows);
        }
        int64_t *rows = malloc(n * sizeof(int64_t)); /* every row, last first */
        for (size_t i = 0; i < n; i++)
            rows[i] = (int64_t)(n - 1 - i);
        check_rows(m, all, c, rows, n);
        free(rows);
        free(all);
        hitl_matrix_close(m);
    }
    npy_matrix(q, 1, 1, n, c, v); /* '<f8' */
    hitl_matrix *m = open_ok(q, NULL);
    float *all = read_all(m);
    int64_t *rows = random_rows(&r, n, 300);
    check_rows(m, all, c, rows, 300);
    free(rows);
    free(all);
    hitl_matrix_close(m);
    unlink(p);
    unlink(q);
    free(v);
    free(p);
    free(q);
}
END_TEST

START_TEST(test_shards_reopen)
{
    /* HDF5 shards are closed once checked and reopened as reads reach them: rows read in
     * blocks across the boundaries and in random order (back and forth between shards) are the
     * rows of the files; a shard rewritten with another shape in between, or removed, fails the
     * read that reaches it, named, and the shards read before still read. */
    const size_t rows[4] = {5, 0, 9, 4}, c = 3, n = 18;
    char *path[4];
    const char *paths[4];
    double *v = random_values(n * c, 21);
    hsize_t chunk[2] = {2, 3};
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof(name), i == 3 ? "shard%d.npy" : "shard%d.h5", i);
        path[i] = tmp(name);
        paths[i] = path[i];
        if (i == 3)
            npy_matrix(path[i], 1, 0, rows[i], c, v + at * c);
        else
            h5_matrix(path[i], "/p", H5T_IEEE_F32LE, rows[i], c, i == 2 ? chunk : NULL, v + at * c);
        at += rows[i];
    }
    hitl_matrix *m = NULL;
    hitl_error err;
    hitl_error_clear(&err);
    ck_assert_msg(hitl_matrix_open_shards(&m, paths, 4, "/p", &err) == HITL_OK, "%s", err.msg);
    ck_assert_int_eq(hitl_matrix_concurrent(m), 0);
    for (size_t block = 1; block <= n; block += 3)
        check_blocks(m, v, n, c, block);
    float *all = read_all(m);
    tu_rng r;
    tu_rng_seed(&r, 22);
    for (int t = 0; t < 20; t++) {
        int64_t *list = random_rows(&r, n, 30);
        check_rows(m, all, c, list, 30);
        free(list);
    }
    free(all);

    float buf[3 * 18];
    ck_assert_int_eq(hitl_matrix_read(m, 0, 1, buf, &err), HITL_OK); /* the first shard open */
    h5_matrix(path[2], "/p", H5T_IEEE_F32LE, 8, c, NULL, v);         /* 9 rows before */
    hitl_error_clear(&err);
    ck_assert_int_eq(hitl_matrix_read(m, 6, 2, buf, &err), HITL_EDATA);
    ck_assert_msg(strstr(err.msg, "shard2.h5") && strstr(err.msg, "changed while it was read"),
                  "%s", err.msg);
    check_style(err.msg);
    unlink(path[2]);
    hitl_error_clear(&err);
    ck_assert_int_ne(hitl_matrix_read(m, 5, 1, buf, &err), HITL_OK);
    ck_assert_msg(strstr(err.msg, "shard2.h5") != NULL, "%s", err.msg);
    hitl_error_clear(&err);
    ck_assert_msg(hitl_matrix_read(m, 0, 5, buf, &err) == HITL_OK, "%s", err.msg);
    for (size_t i = 0; i < 5 * c; i++)
        ck_assert_float_eq(buf[i], (float)v[i]);
    hitl_matrix_close(m);
    for (int i = 0; i < 4; i++) {
        unlink(path[i]);
        free(path[i]);
    }
    free(v);
}
END_TEST

/* ---- rating matrices ------------------------------------------------------------------------
 * The same 4 x 3 labels in every .npy integer and float dtype (missing: -1 where signed, NaN
 * where float, none where unsigned), an HDF5 int16 dataset with class names, and the cells that
 * are refused, named by row and column. */
static const int rm_vals[12] = {0, 2, -1, 1, 1, 1, -1, -1, 5, 3, 0, 2};

static void rm_expect(const hitl_rating_matrix *r, int has_missing)
{
    ck_assert_uint_eq(r->n_items, 4);
    ck_assert_uint_eq(r->n_annotators, 3);
    ck_assert_uint_eq(r->n_labels, has_missing ? 6 : 8); /* unsigned: 7 stands for missing */
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(r->m[i], has_missing || rm_vals[i] >= 0 ? rm_vals[i] : 7);
}

START_TEST(test_rating_matrix)
{
    char *p = tmp("ratings.npy");
    static const char *const codes[] = {"|i1", "|u1", "<i2", "<u2", "<i4",
                                        "<u4", "<i8", "<u8", "<f4", "<f8"};
    static const size_t sizes[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
    for (size_t t = 0; t < sizeof(codes) / sizeof(codes[0]); t++) {
        unsigned char data[12 * 8];
        int is_signed = codes[t][1] == 'i', is_float = codes[t][1] == 'f';
        for (int i = 0; i < 12; i++) {
            int v = rm_vals[i] >= 0 || is_signed ? rm_vals[i] : 7; /* unsigned: no missing */
            unsigned char *d = data + (size_t)i * sizes[t];
            if (is_float && sizes[t] == 4) {
                float f = rm_vals[i] < 0 ? NAN : (float)v;
                memcpy(d, &f, 4);
            } else if (is_float) {
                double f = rm_vals[i] < 0 ? -3.5 : v; /* any negative: no rating */
                memcpy(d, &f, 8);
            } else {
                int64_t w = v; /* little-endian host: the low bytes */
                memcpy(d, &w, sizes[t]);
            }
        }
        char dict[128];
        snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': (4, 3), }",
                 codes[t]);
        npy_put(p, 1, dict, data, 12 * sizes[t]);
        hitl_rating_matrix r;
        hitl_error err;
        ck_assert_msg(hitl_rating_matrix_read(p, NULL, &r, &err) == HITL_OK, "%s: %s", codes[t],
                      err.msg);
        rm_expect(&r, is_signed || is_float);
        ck_assert_ptr_null(r.classes);
        hitl_rating_matrix_release(&r);
    }
    /* the float readers still refuse integers */
    npy_put(p, 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (4, 3), }", rm_vals, 12);
    expect_open_fail(p, NULL, HITL_ETYPE, "unsupported dtype '|i1' (need float32 or float64)");
    unlink(p);

    /* HDF5 int16 with class names on the dataset */
    char *h = tmp("ratings.h5");
    int16_t v16[12];
    for (int i = 0; i < 12; i++)
        v16[i] = (int16_t)rm_vals[i];
    hsize_t dims[2] = {4, 3};
    h5_put(h, 1, "/crowd/labels", H5T_STD_I16LE, 2, dims, NULL, H5T_NATIVE_INT16, v16);
    static const char *const names[6] = {"cat", "dog", "owl", "fox", "elk", "emu"};
    h5_names(h, "/crowd/labels", names, 6, 0);
    hitl_rating_matrix r;
    ck_assert_int_eq(hitl_rating_matrix_read(h, "crowd/labels", &r, NULL), HITL_OK);
    rm_expect(&r, 1);
    ck_assert_uint_eq(r.n_classes, 6);
    ck_assert_str_eq(r.classes[5], "emu");
    hitl_rating_matrix_release(&r);

    /* refusals: a label above 126, a fraction, a type that is neither */
    hitl_error err;
    char want[600];
    v16[7] = 127;
    h5_put(h, 1, "/labels", H5T_STD_I16LE, 2, dims, NULL, H5T_NATIVE_INT16, v16);
    ck_assert_int_eq(hitl_rating_matrix_read(h, "/labels", &r, &err), HITL_EDATA);
    snprintf(want, sizeof(want),
             "'%s:/labels' row 2, column 1: 127 is not a label (a whole number from 0 to 126; "
             "negative or NaN for no rating)",
             h);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(err.row, 2);
    ck_assert_ptr_null(r.m);
    double half[12] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1.5, 2};
    npy_put(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3), }", half, 96);
    ck_assert_int_eq(hitl_rating_matrix_read(p, NULL, &r, &err), HITL_EDATA);
    ck_assert(strstr(err.msg, "row 3, column 1: 1.5 is not a label") != NULL);
    npy_put(p, 1, "{'descr': '>i4', 'fortran_order': False, 'shape': (4, 3), }", half, 48);
    ck_assert_int_eq(hitl_rating_matrix_read(p, NULL, &r, &err), HITL_ETYPE);
    ck_assert(strstr(err.msg, "big-endian dtype '>i4'") != NULL);
    npy_put(p, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (4, 3), }", half, 24);
    ck_assert_int_eq(hitl_rating_matrix_read(p, NULL, &r, &err), HITL_ETYPE);
    ck_assert(strstr(err.msg, "unsupported dtype '<f2' (need integers, float32 or float64)"));
    ck_assert_int_eq(hitl_rating_matrix_read("/nonexistent/x.npy", NULL, &r, &err), HITL_EIO);
    ck_assert_int_eq(hitl_rating_matrix_read(h, "/nope", &r, &err), HITL_ENOTFOUND);
    unlink(p);
    unlink(h);
    free(p);
    free(h);
}
END_TEST

/* ---- limits -------------------------------------------------------------------------------- */

START_TEST(test_empty_and_single)
{
    char *p = tmp("empty.h5"), *q = tmp("empty.npy");
    double v[3] = {1, 2, 3};
    h5_matrix(p, "/x", H5T_IEEE_F32LE, 0, 3, NULL, v);
    hitl_matrix *m = open_ok(p, "/x");
    ck_assert_uint_eq(hitl_matrix_rows(m), 0);
    ck_assert_uint_eq(hitl_matrix_cols(m), 3);
    ck_assert_int_eq(hitl_matrix_read(m, 0, 0, NULL, NULL), HITL_OK);
    hitl_matrix_close(m);

    npy_put(q, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", NULL, 0);
    m = open_ok(q, NULL);
    ck_assert_uint_eq(hitl_matrix_rows(m), 0);
    hitl_matrix_close(m);

    /* one row, one column; fortran order is the same bytes when a dimension is 1 */
    h5_matrix(p, "/x", H5T_IEEE_F64LE, 1, 1, NULL, v);
    m = open_ok(p, "/x");
    check_blocks(m, v, 1, 1, 1);
    hitl_matrix_close(m);
    npy_put(q, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 1), }", v, sizeof(v));
    m = open_ok(q, NULL);
    check_blocks(m, v, 3, 1, 2);
    hitl_matrix_close(m);
    hitl_matrix_close(NULL);
    ck_assert_uint_eq(hitl_matrix_rows(NULL), 0);
    unlink(p);
    unlink(q);
    free(p);
    free(q);
}
END_TEST

START_TEST(test_wide_float64_scratch)
{
    /* Rows wider than the float64 scratch allows several at once: the read loops over it. */
    char *p = tmp("wide.h5"), *q = tmp("wide.npy");
    size_t n = 12, c = 50000;
    double *v = random_values(n * c, 6);
    h5_matrix(p, "/x", H5T_IEEE_F64LE, n, c, NULL, v);
    hitl_matrix *m = open_ok(p, "/x");
    check_blocks(m, v, n, c, 12);
    check_blocks(m, v, n, c, 5);
    hitl_matrix_close(m);
    npy_matrix(q, 1, 1, n, c, v);
    m = open_ok(q, NULL);
    check_blocks(m, v, n, c, 12);
    check_blocks(m, v, n, c, 7);
    hitl_matrix_close(m);
    unlink(p);
    unlink(q);
    free(v);
    free(p);
    free(q);
}
END_TEST

START_TEST(test_read_range)
{
    char *p = tmp("range.npy");
    double v[20];
    for (int i = 0; i < 20; i++)
        v[i] = i;
    npy_matrix(p, 1, 0, 10, 2, v);
    hitl_matrix *m = open_ok(p, NULL);
    float out[20];
    hitl_error err;
    ck_assert_int_eq(hitl_matrix_read(m, 9, 1, out, &err), HITL_OK);
    ck_assert_float_eq(out[1], 19.0f);
    ck_assert_int_eq(hitl_matrix_read(m, 10, 0, out, &err), HITL_OK);
    ck_assert_int_eq(hitl_matrix_read(m, 9, 2, out, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    ck_assert_int_eq(hitl_matrix_read(m, 11, 0, out, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_matrix_read(m, SIZE_MAX, 2, out, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_matrix_read(m, 0, 1, NULL, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_matrix_read(NULL, 0, 1, out, &err), HITL_EINVAL);
    hitl_matrix_close(m);
    unlink(p);
    free(p);
}
END_TEST

/* Mutated headers and truncations of a valid file must fail cleanly or read within bounds. */
START_TEST(test_npy_mutations)
{
    char *p = tmp("fuzz.npy");
    float data[12];
    for (int i = 0; i < 12; i++)
        data[i] = (float)i;
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", data,
            sizeof(data));
    FILE *fp = fopen(p, "rb");
    unsigned char good[256];
    size_t len = fread(good, 1, sizeof(good), fp);
    fclose(fp);
    ck_assert_uint_eq(len % 64, sizeof(data) % 64);
    size_t hdr = len - sizeof(data);

    static const char alphabet[] = "{}()[],:' \"0123456789<>=|fiuTrueFalsL\n\x93\x00\xff";
    tu_rng r;
    tu_rng_seed(&r, 7);
    unsigned char buf[256];
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, good, len);
        size_t cut = len;
        int edits = 1 + (int)(tu_rng_u64(&r) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = tu_rng_u64(&r) % hdr;
            buf[at] = (unsigned char)alphabet[tu_rng_u64(&r) % (sizeof(alphabet) - 1)];
        }
        if (tu_rng_u64(&r) % 8 == 0) cut = tu_rng_u64(&r) % len;
        put_bytes(p, buf, cut);
        hitl_matrix *m = NULL;
        hitl_error err;
        hitl_status st = hitl_matrix_open(&m, p, NULL, &err);
        if (st != HITL_OK) {
            ck_assert_ptr_null(m);
            ck_assert(st == HITL_EDATA || st == HITL_ETYPE || st == HITL_ESHAPE);
            check_style(err.msg);
            continue;
        }
        size_t rows = hitl_matrix_rows(m), cols = hitl_matrix_cols(m);
        ck_assert(rows * cols * 4 <= cut);
        float *out = malloc((rows * cols + 1) * sizeof(float));
        ck_assert_int_eq(hitl_matrix_read(m, 0, rows, out, NULL), HITL_OK);
        free(out);
        hitl_matrix_close(m);
    }
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_read_rows_blocks)
{
    /* rows so wide that a default block holds two (and no gap is read): runs of neighbours are
     * cut at the block; then rows for which a gap of two unlisted rows is read and three not */
    char *p = tmp("rows-wide.npy");
    size_t n = 5, c = HITL_BLOCK_BYTES / (2 * sizeof(float));
    ck_assert_uint_eq(hitl_block_rows(c), 2);
    double *v = random_values(n * c, 13);
    npy_matrix(p, 1, 0, n, c, v);
    free(v);
    hitl_matrix *m = open_ok(p, NULL);
    float *all = read_all(m);
    static const int64_t lists[][7] = {
        {0, 1, 2, 3, 4, 0, 0}, {4, 3, 2, 1, 0, 0, 4}, {2, 2, 2, 3, 3, 1, 1}, {4, 4, 4, 4, 4, 4, 4}};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        check_rows(m, all, c, lists[i], 7);
    free(all);
    hitl_matrix_close(m);

    n = 12;
    c = ((size_t)1 << 20) / (2 * sizeof(float)); /* 1 MiB: two rows */
    ck_assert_uint_eq(hitl_block_rows(c), HITL_BLOCK_BYTES / (c * sizeof(float)));
    v = random_values(n * c, 16);
    npy_matrix(p, 1, 0, n, c, v);
    free(v);
    m = open_ok(p, NULL);
    all = read_all(m);
    static const int64_t gaps[][6] = {
        {0, 3, 6, 9, 11, 11}, {11, 8, 4, 1, 0, 5}, {10, 0, 0, 4, 7, 7}};
    for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++)
        check_rows(m, all, c, gaps[i], 6);
    free(all);
    hitl_matrix_close(m);
    unlink(p);
    free(p);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------------- */

START_TEST(test_err_missing_file)
{
    expect_open_fail("no-such-file.h5", "/probs", HITL_EIO,
                     "cannot open 'no-such-file.h5': No such file or directory");
    expect_open_fail("no-such-file.npy", NULL, HITL_EIO,
                     "cannot open 'no-such-file.npy': No such file or directory");
    expect_open_fail(".", "/probs", HITL_EIO, "Is a directory");
    expect_open_fail("", "/probs", HITL_EINVAL, "no file name");
    expect_open_fail("x.h5", "", HITL_EINVAL, "no dataset name");
    ck_assert_int_eq(hitl_matrix_open(NULL, "x.h5", "/p", NULL), HITL_EINVAL);
}
END_TEST

START_TEST(test_err_not_hdf5)
{
    char *p = tmp("text.h5");
    put_bytes(p, "hello, world\n", 13);
    expect_open_fail(p, "/probs", HITL_EIO, "not an HDF5 file");
    put_bytes(p, "", 0);
    expect_open_fail(p, "/probs", HITL_EIO, "not an HDF5 file");
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_corrupt_h5)
{
    char *p = tmp("corrupt.h5");
    size_t n = 200, c = 4;
    double *v = random_values(n * c, 8);
    hsize_t dims[2] = {n, c}, chunk[2] = {50, 4};
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_deflate(dcpl, 6);
    hid_t d = H5Dcreate2(f, "/x", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    haddr_t addr;
    hsize_t size, off[2];
    unsigned mask;
    ck_assert(H5Dget_chunk_info(d, space, 1, off, &mask, &addr, &size) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);

    /* a deflated chunk whose bytes are zeroed: opens, then fails to read that chunk's rows */
    FILE *fp = fopen(p, "r+b");
    fseek(fp, (long)addr, SEEK_SET);
    for (hsize_t i = 0; i < size; i++)
        fputc(0, fp);
    fclose(fp);
    hitl_matrix *m = open_ok(p, "/x");
    float *buf = malloc(n * c * sizeof(float));
    hitl_error err;
    ck_assert_int_eq(hitl_matrix_read(m, 0, 50, buf, &err), HITL_OK);
    ck_assert_int_eq(hitl_matrix_read(m, 40, 20, buf, &err), HITL_EIO);
    ck_assert_msg(strstr(err.msg, "x': cannot read rows [40, 60): ") != NULL, "%s", err.msg);
    check_style(err.msg);
    hitl_matrix_close(m);

    /* a truncated file */
    fp = fopen(p, "r+b");
    ck_assert_int_eq(ftruncate(fileno(fp), 1000), 0);
    fclose(fp);
    expect_open_fail(p, "/x", HITL_EIO, "truncated file");
    free(buf);
    free(v);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_no_dataset)
{
    char *p = tmp("nodset.h5");
    double v[4] = {0};
    h5_matrix(p, "/grp/probs", H5T_IEEE_F32LE, 2, 2, NULL, v);
    char want[600];
    snprintf(want, sizeof(want), "'%s': no dataset '/probs'", p);
    expect_open_fail(p, "/probs", HITL_ENOTFOUND, want);
    expect_open_fail(p, "probs", HITL_ENOTFOUND, "no dataset '/probs'");
    expect_open_fail(p, "/a/b/c", HITL_ENOTFOUND, "no dataset '/a/b/c'");
    expect_open_fail(p, "/grp/probs/deeper", HITL_ENOTFOUND, "no dataset '/grp/probs/deeper'");
    expect_open_fail(p, "/grp", HITL_ENOTFOUND, "'/grp' is a group, not a dataset");
    expect_open_fail(p, "/", HITL_ENOTFOUND, "is a group");
    expect_open_fail(p, NULL, HITL_EINVAL, "an HDF5 file needs a dataset name");
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_rank)
{
    char *p = tmp("rank.h5");
    double v[24] = {0};
    hsize_t d1[1] = {24}, d3[3] = {2, 3, 4};
    h5_put(p, 1, "/r1", H5T_IEEE_F32LE, 1, d1, NULL, H5T_NATIVE_DOUBLE, v);
    h5_put(p, 0, "/r3", H5T_IEEE_F32LE, 3, d3, NULL, H5T_NATIVE_DOUBLE, v);
    h5_put(p, 0, "/r0", H5T_IEEE_F32LE, 0, NULL, NULL, H5T_NATIVE_DOUBLE, v);
    hsize_t dz[2] = {5, 0};
    h5_put(p, 0, "/cols0", H5T_IEEE_F32LE, 2, dz, NULL, H5T_NATIVE_DOUBLE, NULL);
    char want[600];
    snprintf(want, sizeof(want), "'%s:/r1': expected a rank-2 matrix, got rank 1", p);
    expect_open_fail(p, "/r1", HITL_ESHAPE, want);
    expect_open_fail(p, "/r3", HITL_ESHAPE, "expected a rank-2 matrix, got rank 3");
    expect_open_fail(p, "/r0", HITL_ESHAPE, "got rank 0");
    expect_open_fail(p, "/cols0", HITL_ESHAPE, "no columns");
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_type)
{
    char *p = tmp("type.h5");
    double v[4] = {1, 2, 3, 4};
    h5_matrix(p, "/i32", H5T_STD_I32LE, 2, 2, NULL, v);
    hsize_t d[2] = {2, 2};
    h5_put(p, 0, "/i64", H5T_STD_I64LE, 2, d, NULL, H5T_NATIVE_DOUBLE, v);
    h5_put(p, 0, "/u8", H5T_STD_U8LE, 2, d, NULL, H5T_NATIVE_DOUBLE, v);
    char want[600];
    snprintf(want, sizeof(want), "'%s:/i64': unsupported type int64 (need float32 or float64)", p);
    expect_open_fail(p, "/i64", HITL_ETYPE, want);
    expect_open_fail(p, "/i32", HITL_ETYPE, "unsupported type int32");
    expect_open_fail(p, "/u8", HITL_ETYPE, "unsupported type uint8");
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_npy_type)
{
    char *p = tmp("type.npy");
    char want[600];
    float data[6] = {0};
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", data, 24);
    snprintf(want, sizeof(want),
             "'%s': fortran order is not supported (save with np.ascontiguousarray)", p);
    expect_open_fail(p, NULL, HITL_ETYPE, want);
    npy_put(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }", data, 24);
    expect_open_fail(p, NULL, HITL_ETYPE, "big-endian dtype '>f4' is not supported");
    npy_put(p, 2, "{'descr': '>f8', 'fortran_order': False, 'shape': (3, 1), }", data, 24);
    expect_open_fail(p, NULL, HITL_ETYPE, "big-endian dtype '>f8'");
    npy_put(p, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1), }", data, 24);
    expect_open_fail(p, NULL, HITL_ETYPE, "unsupported dtype '<i8' (need float32 or float64)");
    npy_put(p, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", data, 24);
    expect_open_fail(p, NULL, HITL_ETYPE, "unsupported dtype '<i4'");
    npy_put(p, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (3, 4), }", data, 24);
    expect_open_fail(p, NULL, HITL_ETYPE, "unsupported dtype '<f2'");
    npy_put(p, 1, "{'descr': '|f4', 'fortran_order': False, 'shape': (3, 2), }", data, 24);
    expect_open_fail(p, NULL, HITL_ETYPE, "unsupported dtype '|f4'");
    npy_put(p, 1,
            "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, "
            "'shape': (3,), }",
            data, 24);
    expect_open_fail(p, NULL, HITL_ETYPE, "structured dtypes are not supported");
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_npy_shape)
{
    char *p = tmp("shape.npy");
    float data[6] = {0};
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", data, 24);
    expect_open_fail(p, NULL, HITL_ESHAPE, "expected a rank-2 matrix, got rank 1");
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", data, 24);
    expect_open_fail(p, NULL, HITL_ESHAPE, "got rank 3");
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", data, 4);
    expect_open_fail(p, NULL, HITL_ESHAPE, "got rank 0");
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 0), }", NULL, 0);
    expect_open_fail(p, NULL, HITL_ESHAPE, "no columns");
    /* absurd: overflows the byte count, or any 64-bit integer */
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
            data, 24);
    expect_open_fail(p, NULL, HITL_ESHAPE, "too large");
    npy_put(p, 1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, "
            "18446744073709551615), }",
            data, 24);
    expect_open_fail(p, NULL, HITL_ESHAPE, "too large");
    npy_put(p, 1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, "
            "1), }",
            data, 24);
    expect_open_fail(p, NULL, HITL_ESHAPE, "too large");
    /* fuzz_npy: no rows, so no data to bound cols; cols * 8 wrapped to 0 (division by zero) */
    npy_put(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2305843009213693952), }",
            NULL, 0);
    expect_open_fail(p, NULL, HITL_ESHAPE, "too large");
    /* fuzz_npy: the same, cols * 8 wrapped to a huge float64 scratch allocation */
    npy_put(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2202393686278988685), }",
            NULL, 0);
    expect_open_fail(p, NULL, HITL_ESHAPE, "too large");
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_npy_truncated)
{
    char *p = tmp("trunc.npy");
    float data[6] = {0};
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", data, 20);
    expect_open_fail(p, NULL, HITL_EDATA, "truncated");
    expect_open_fail(p, NULL, HITL_EDATA, "needs 24 bytes of data, the file has 20");
    npy_put(p, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 1000), }", data, 24);
    expect_open_fail(p, NULL, HITL_EDATA, "truncated");
    /* header length past the end of the file */
    unsigned char b[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0x00, '{'};
    put_bytes(p, b, 11);
    expect_open_fail(p, NULL, HITL_EDATA, "truncated .npy header");
    put_bytes(p, b, 9);
    expect_open_fail(p, NULL, HITL_EDATA, "too short");
    b[6] = 2;
    put_bytes(p, b, 11);
    expect_open_fail(p, NULL, HITL_EDATA, "truncated .npy header");
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_npy_garbage)
{
    char *p = tmp("garbage.npy");
    float data[6] = {0};
    put_bytes(p, "this is not a numpy file at all", 31);
    expect_open_fail(p, NULL, HITL_EDATA, "not a .npy file (bad magic)");
    static const char *bad[] = {
        "",
        "garbage",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3, 2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)} trailing",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3 2)}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'extra': 1}",
        "{'descr': '<f4\\n', 'fortran_order': False, 'shape': (3, 2)}",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (3, 2)}",
        "{'descr': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'fortran_order': False}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (3, 2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
        "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1)}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        npy_put(p, 1, bad[i], data, sizeof(data));
        expect_open_fail(p, NULL, HITL_EDATA, "bad .npy header");
    }
    /* a header with a NUL inside */
    size_t n = npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}", data,
                       sizeof(data));
    FILE *fp = fopen(p, "r+b");
    fseek(fp, 20, SEEK_SET);
    fputc(0, fp);
    fclose(fp);
    (void)n;
    expect_open_fail(p, NULL, HITL_EDATA, "bad .npy header");
    /* unknown versions */
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}", data, 24);
    fp = fopen(p, "r+b");
    fseek(fp, 6, SEEK_SET);
    fputc(9, fp);
    fclose(fp);
    expect_open_fail(p, NULL, HITL_EDATA, "unsupported .npy version 9.0");
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_strings)
{
    char **v = (char **)&v;
    size_t n = 9;
    hitl_error err;
    static const char *bad[] = {"", "a,,b", ",a", "a,", " , x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(hitl_strings_split(bad[i], &v, &n, &err), HITL_EINVAL);
        ck_assert_ptr_null(v);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "empty name"));
        check_style(err.msg);
    }
    ck_assert_int_eq(hitl_strings_split(NULL, &v, &n, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_strings_split("a", NULL, &n, &err), HITL_EINVAL);
}
END_TEST

START_TEST(test_err_read_rows)
{
    /* an entry outside the matrix, anywhere in the list: HITL_EDATA naming it, nothing read */
    char *p = tmp("rows-err.npy");
    size_t n = 50, c = 3;
    double *v = random_values(n * c, 14);
    npy_matrix(p, 1, 0, n, c, v);
    free(v);
    hitl_matrix *m = open_ok(p, NULL);
    static const int64_t bad[] = {-1, 50, 51, INT64_MAX, INT64_MIN};
    tu_rng r;
    tu_rng_seed(&r, 15);
    float dst[20 * 3], before[20 * 3];
    hitl_error err;
    for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
        int64_t *rows = random_rows(&r, n, 20);
        size_t at = tu_rng_u64(&r) % 20;
        rows[at] = bad[b];
        memset(dst, 0x7f, sizeof(dst));
        memset(before, 0x7f, sizeof(before));
        hitl_error_clear(&err);
        ck_assert_int_eq(hitl_matrix_read_rows(m, rows, 20, dst, &err), HITL_EDATA);
        ck_assert_int_eq(err.row, (int64_t)at);
        char want[96];
        snprintf(want, sizeof(want), "entry %zu of the row list is row %lld, outside its 50 rows",
                 at, (long long)bad[b]);
        ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, "rows-err.npy"));
        ck_assert_int_eq(memcmp(dst, before, sizeof(dst)), 0); /* nothing read */
        ck_assert_int_eq(hitl_matrix_read_rows(m, rows, 20, dst, NULL), HITL_EDATA);
        free(rows);
    }
    int64_t one = 0;
    ck_assert_int_eq(hitl_matrix_read_rows(NULL, &one, 1, dst, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_matrix_read_rows(m, NULL, 1, dst, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_matrix_read_rows(m, &one, 1, NULL, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_matrix_read_rows(m, NULL, 0, NULL, &err), HITL_OK);
    hitl_matrix_close(m);
    unlink(p);
    free(p);
}
END_TEST

/* ---- resource bounds ----------------------------------------------------------------------- */

#ifdef TU_ASAN
/* ASan's shadow memory needs terabytes of address space, so no RLIMIT_AS under it: its own
 * allocation cap makes a giant malloc fail (return NULL) instead. */
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=2048";
}
#endif

static const char *claim_dset; /* the dataset capped_open() opens (NULL: a .npy file) */

static hitl_status open_claim(const char *path, hitl_error *err)
{
    hitl_matrix *m = NULL;
    hitl_status st = hitl_matrix_open(&m, path, claim_dset, err);
    hitl_matrix_close(m);
    return st;
}

/* A float32 dataset of shape dims[rank], chunked by chunk[rank], of which only the first
 * chunk is written when `first` (zeros), else nothing: a file of a few KB claiming any shape. */
static void h5_claim(const char *path, const char *dset, int rank, const hsize_t *dims,
                     const hsize_t *chunk, int first)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) {
        ck_assert(H5Pset_chunk(dcpl, rank, chunk) >= 0);
        ck_assert(H5Pset_deflate(dcpl, 1) >= 0);
    }
    hid_t d = H5Dcreate2(f, dset, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert(d >= 0);
    if (first) {
        hsize_t start[2] = {0, 0}, n = chunk[0] * (rank > 1 ? chunk[1] : 1);
        float *zeros = calloc(n, sizeof(float));
        hid_t mspace = H5Screate_simple(1, &n, NULL);
        ck_assert(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, chunk, NULL) >= 0);
        ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, mspace, space, H5P_DEFAULT, zeros) >= 0);
        H5Sclose(mspace);
        free(zeros);
    }
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
}

START_TEST(test_limits_huge_claims)
{
    /* Headers that claim huge shapes are refused before anything their shape implies is
     * allocated, each with its reason. */
    char *p = tmp("claim.npy"), *q = tmp("claim.h5");
    float few[10] = {0};
    claim_dset = NULL;
    npy_put(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 10), }", few,
            sizeof(few));
    ck_assert_int_eq(tu_capped(open_claim, p, "truncated"), HITL_EDATA);
    npy_put(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3000000), }", NULL, 0);
    ck_assert_int_eq(tu_capped(open_claim, p, "columns"), HITL_ESHAPE);

    claim_dset = "/x";
    hsize_t rows[2] = {1000000000000ull, 10}, rchunk[2] = {1024, 10};
    h5_claim(q, "/x", 2, rows, rchunk, 0); /* 10^12 rows, no chunk written */
    ck_assert_int_eq(tu_capped(open_claim, q, "chunks were written"), HITL_EDATA);
    h5_claim(q, "/x", 2, rows, rchunk, 1); /* one chunk of them written */
    ck_assert_int_eq(tu_capped(open_claim, q, "only 1 of"), HITL_EDATA);
    hsize_t wide[2] = {10, 1000000000}, wchunk[2] = {1, 1024};
    h5_claim(q, "/x", 2, wide, wchunk, 0); /* C = 10^9 */
    ck_assert_int_eq(tu_capped(open_claim, q, "columns"), HITL_ESHAPE);
    hsize_t small[2] = {1000, 10};
    h5_claim(q, "/x", 2, small, NULL, 0); /* contiguous, never written */
    ck_assert_int_eq(tu_capped(open_claim, q, "never written"), HITL_EDATA);

    /* the widest row allowed still opens (written: a few compressed chunks of zeros) */
    hsize_t edge[2] = {1, HITL_MATRIX_MAX_COLS}, echunk[2] = {1, HITL_MATRIX_MAX_COLS / 4};
    h5_claim(q, "/x", 2, edge, echunk, 1);
    ck_assert_int_eq(tu_capped(open_claim, q, "chunks"), HITL_EDATA); /* 1 of 4 chunks */
    echunk[1] = HITL_MATRIX_MAX_COLS;
    h5_claim(q, "/x", 2, edge, echunk, 1);
    ck_assert_int_eq(tu_capped(open_claim, q, ""), HITL_OK);
    edge[1]++;
    h5_claim(q, "/x", 2, edge, echunk, 1);
    ck_assert_int_eq(tu_capped(open_claim, q, "columns"), HITL_ESHAPE);
    unlink(p);
    unlink(q);
    free(p);
    free(q);
}
END_TEST

static Suite *io_matrix_suite(void)
{
    Suite *s = suite_create("io_matrix");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_h5_float32_contiguous);
    tcase_add_test(core, test_h5_float32_chunked);
    tcase_add_test(core, test_h5_float64);
    tcase_add_test(core, test_h5_big_endian_file);
    tcase_add_test(core, test_read_f64_as_stored);
    tcase_add_test(core, test_npy_versions_match_h5);
    tcase_add_test(core, test_npy_header_variants);
    tcase_add_test(core, test_classes);
    tcase_add_test(core, test_strings_split);
    tcase_add_test(core, test_block_rows);
    tcase_add_test(core, test_rating_matrix);
    tcase_add_test(core, test_read_rows);
    tcase_add_test(core, test_shards_reopen);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_empty_and_single);
    tcase_add_test(limits, test_wide_float64_scratch);
    tcase_add_test(limits, test_read_range);
    tcase_add_test(limits, test_read_rows_blocks);
    tcase_add_test(limits, test_npy_mutations);
    tcase_add_test(limits, test_limits_huge_claims);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_err_missing_file);
    tcase_add_test(errors, test_err_not_hdf5);
    tcase_add_test(errors, test_err_corrupt_h5);
    tcase_add_test(errors, test_err_no_dataset);
    tcase_add_test(errors, test_err_rank);
    tcase_add_test(errors, test_err_type);
    tcase_add_test(errors, test_err_npy_type);
    tcase_add_test(errors, test_err_npy_shape);
    tcase_add_test(errors, test_err_npy_truncated);
    tcase_add_test(errors, test_err_npy_garbage);
    tcase_add_test(errors, test_err_strings);
    tcase_add_test(errors, test_err_read_rows);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    /* Fixture calls that are meant to fail stay quiet too. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    SRunner *sr = srunner_create(io_matrix_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
