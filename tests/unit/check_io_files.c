/* Check tests for the io files other than the pool: item ids, linear head files, the score
 * output file, IDX files, pool files and learning curves. Fixtures are written and read back
 * through the HDF5 C API and zlib. */
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "hitl_io.h"
#include "testutil.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

static char *tmp(const char *name)
{
    return strdup(tu_tmp_path(name));
}

/* Writes dataset `dset` of file type `ftype`, shape dims[rank], chunked when chunk != 0, from
 * `data` in memory type `mtype` (NULL: nothing written). */
static void h5_put(const char *path, int create, const char *dset, hid_t ftype, int rank,
                   const hsize_t *dims, hsize_t chunk, hid_t mtype, const void *data)
{
    hid_t f = create ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                     : H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) {
        hsize_t cd[2] = {chunk, rank > 1 ? dims[1] : 0};
        ck_assert(H5Pset_chunk(dcpl, rank, cd) >= 0);
        ck_assert(H5Pset_deflate(dcpl, 4) >= 0);
    }
    hid_t d = H5Dcreate2(f, dset, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert(d >= 0);
    if (data) ck_assert(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
}

/* A string type: variable-length UTF-8 when fixed == 0, else fixed-length null-padded. */
static hid_t str_type(size_t fixed)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (fixed) {
        H5Tset_size(t, fixed);
        H5Tset_strpad(t, H5T_STR_NULLPAD);
    } else {
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
    }
    return t;
}

static void root_names(const char *path, const char *const *names, size_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dim = n;
    hid_t space = H5Screate_simple(1, &dim, NULL), t = str_type(0);
    hid_t a = H5Acreate2(f, "classes", t, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Awrite(a, t, names) >= 0);
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(space);
    H5Fclose(f);
}

/* Reads a whole rank-1 dataset into a new buffer of memory type `mtype`; *n gets its length. */
static void *h5_get(const char *path, const char *dset, hid_t mtype, size_t *n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "no %s", dset);
    hid_t space = H5Dget_space(d);
    ck_assert_int_eq(H5Sget_simple_extent_ndims(space), 1);
    hsize_t dim;
    H5Sget_simple_extent_dims(space, &dim, NULL);
    void *buf = malloc(dim * H5Tget_size(mtype) + 1);
    if (dim) ck_assert(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    *n = dim;
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    return buf;
}

static void check_style(const char *msg)
{
    size_t len = strlen(msg);
    ck_assert_msg(len > 0, "empty message");
    ck_assert_msg(!strchr(msg, '\n'), "message spans lines: %s", msg);
    ck_assert_msg(msg[len - 1] != '.', "message ends with a period: %s", msg);
    ck_assert_msg(!(msg[0] >= 'A' && msg[0] <= 'Z'), "message is capitalised: %s", msg);
}

static void expect(hitl_status st, const hitl_error *err, hitl_status want, const char *sub)
{
    ck_assert_msg(st == want, "got %s, want %s: %s", hitl_status_str(st), hitl_status_str(want),
                  err->msg);
    ck_assert_int_eq(err->status, want);
    ck_assert_msg(strstr(err->msg, sub) != NULL, "message '%s' lacks '%s'", err->msg, sub);
    check_style(err->msg);
}

/* ---- ids ----------------------------------------------------------------------------------- */

START_TEST(test_ids_int64)
{
    char *p = tmp("ids64.h5");
    size_t n = 1000;
    int64_t *v = malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = 5000000000LL + (int64_t)i * 3;
    hsize_t dim = n;
    h5_put(p, 1, "/ids", H5T_STD_I64LE, 1, &dim, 0, H5T_NATIVE_INT64, v);
    h5_put(p, 0, "/ids_chunked", H5T_STD_I64LE, 1, &dim, 7, H5T_NATIVE_INT64, v);

    const int64_t rows[] = {500, 3, 999, 3, 0, 998};
    const size_t k = sizeof(rows) / sizeof(rows[0]);
    const char *dsets[] = {"/ids", "ids_chunked"};
    for (int t = 0; t < 2; t++) {
        hitl_ids ids;
        hitl_error err;
        ck_assert_msg(hitl_ids_read_rows(p, dsets[t], n, rows, k, &ids, &err) == HITL_OK, "%s",
                      err.msg);
        ck_assert_int_eq(ids.is_string, 0);
        ck_assert_uint_eq(ids.n, k);
        for (size_t i = 0; i < k; i++)
            ck_assert_int_eq(ids.ints[i], v[rows[i]]);
        hitl_ids_release(&ids);
        ck_assert_ptr_null(ids.ints);
    }
    unlink(p);
    free(v);
    free(p);
}
END_TEST

START_TEST(test_ids_other_ints)
{
    char *p = tmp("ids32.h5");
    int32_t v[10] = {-5, -4, -3, -2, -1, 0, 1, 2, 3, 4};
    hsize_t dim = 10;
    h5_put(p, 1, "/i32", H5T_STD_I32BE, 1, &dim, 0, H5T_NATIVE_INT32, v);
    h5_put(p, 0, "/u16", H5T_STD_U16LE, 1, &dim, 0, H5T_NATIVE_INT32,
           (int32_t[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 65535});
    uint64_t big[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, (uint64_t)INT64_MAX};
    h5_put(p, 0, "/u64", H5T_STD_U64LE, 1, &dim, 0, H5T_NATIVE_UINT64, big);
    const int64_t rows[] = {0, 9, 4};
    hitl_ids ids;
    ck_assert_int_eq(hitl_ids_read_rows(p, "/i32", 10, rows, 3, &ids, NULL), HITL_OK);
    ck_assert_int_eq(ids.ints[0], -5);
    ck_assert_int_eq(ids.ints[1], 4);
    ck_assert_int_eq(ids.ints[2], -1);
    hitl_ids_release(&ids);
    ck_assert_int_eq(hitl_ids_read_rows(p, "/u16", 10, rows, 3, &ids, NULL), HITL_OK);
    ck_assert_int_eq(ids.ints[1], 65535);
    hitl_ids_release(&ids);
    ck_assert_int_eq(hitl_ids_read_rows(p, "/u64", 10, rows, 3, &ids, NULL), HITL_OK);
    ck_assert_int_eq(ids.ints[1], INT64_MAX);
    hitl_ids_release(&ids);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_ids_strings)
{
    char *p = tmp("idss.h5");
    size_t n = 300;
    char **v = malloc(n * sizeof(*v));
    char *fixed = calloc(n, 10);
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(32);
        snprintf(v[i], 32, "item-%zu-\xc3\xa9", i);
        /* fixed width 10: "row-000123" fills it exactly */
        char tmpbuf[16];
        snprintf(tmpbuf, sizeof(tmpbuf), "row-%06zu", i);
        memcpy(fixed + i * 10, tmpbuf, 10);
    }
    hsize_t dim = n;
    hid_t vt = str_type(0), ft = str_type(10);
    h5_put(p, 1, "/vlen", vt, 1, &dim, 0, vt, v);
    h5_put(p, 0, "/fixed", ft, 1, &dim, 16, ft, fixed);
    H5Tclose(vt);
    H5Tclose(ft);

    const int64_t rows[] = {299, 0, 150, 150, 17};
    const size_t k = 5;
    hitl_ids ids;
    hitl_error err;
    ck_assert_msg(hitl_ids_read_rows(p, "/vlen", n, rows, k, &ids, &err) == HITL_OK, "%s", err.msg);
    ck_assert_int_eq(ids.is_string, 1);
    ck_assert_uint_eq(ids.n, k);
    for (size_t i = 0; i < k; i++)
        ck_assert_str_eq(ids.strs[i], v[rows[i]]);
    hitl_ids_release(&ids);

    ck_assert_msg(hitl_ids_read_rows(p, "/fixed", n, rows, k, &ids, &err) == HITL_OK, "%s",
                  err.msg);
    ck_assert_int_eq(ids.is_string, 1);
    for (size_t i = 0; i < k; i++) {
        char want[16];
        snprintf(want, sizeof(want), "row-%06lld", (long long)rows[i]);
        ck_assert_str_eq(ids.strs[i], want);
    }
    hitl_ids_release(&ids);
    hitl_ids_release(&ids); /* twice is fine */

    /* k == 0 reads nothing */
    ck_assert_int_eq(hitl_ids_read_rows(p, "/vlen", n, NULL, 0, &ids, NULL), HITL_OK);
    ck_assert_uint_eq(ids.n, 0);
    ck_assert_int_eq(ids.is_string, 1);
    hitl_ids_release(&ids);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    free(fixed);
    unlink(p);
    free(p);
}
END_TEST

/* ---- head ---------------------------------------------------------------------------------- */

START_TEST(test_head_round_trip)
{
    char *p = tmp("head.h5");
    size_t d = 4, c = 3;
    float w[12], b[3] = {0.5f, -1.25f, 3.0f};
    for (int i = 0; i < 12; i++)
        w[i] = (float)i * 0.1f - 0.6f;
    char *classes[] = {"cat", "dog", "b\xc3\xafrd"};
    hitl_error err;
    ck_assert_msg(hitl_head_save(p, w, b, d, c, classes, &err) == HITL_OK, "%s", err.msg);

    hitl_head h;
    ck_assert_msg(hitl_head_load(&h, p, &err) == HITL_OK, "%s", err.msg);
    ck_assert_uint_eq(h.d, d);
    ck_assert_uint_eq(h.c, c);
    ck_assert(memcmp(h.w, w, sizeof(w)) == 0);
    ck_assert(memcmp(h.b, b, sizeof(b)) == 0);
    ck_assert_uint_eq(h.n_classes, 3);
    for (size_t i = 0; i < c; i++)
        ck_assert_str_eq(h.classes[i], classes[i]);
    hitl_head_release(&h);
    ck_assert_ptr_null(h.w);

    /* the layout, as another reader sees it */
    size_t n;
    float *bb = h5_get(p, "/b", H5T_NATIVE_FLOAT, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(bb, b, sizeof(b)) == 0);
    free(bb);

    /* without classes */
    ck_assert_int_eq(hitl_head_save(p, w, b, d, c, NULL, NULL), HITL_OK);
    ck_assert_int_eq(hitl_head_load(&h, p, NULL), HITL_OK);
    ck_assert_uint_eq(h.n_classes, 0);
    ck_assert_ptr_null(h.classes);
    hitl_head_release(&h);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_head_float64)
{
    char *p = tmp("head64.h5");
    double w[6] = {1, 2, 3, 4, 5, 6.5}, b[2] = {-1, 0.25};
    hsize_t wd[2] = {3, 2}, bd = 2;
    h5_put(p, 1, "/W", H5T_IEEE_F64LE, 2, wd, 0, H5T_NATIVE_DOUBLE, w);
    h5_put(p, 0, "/b", H5T_IEEE_F64LE, 1, &bd, 0, H5T_NATIVE_DOUBLE, b);
    const char *names[] = {"no", "yes"};
    root_names(p, names, 2);
    hitl_head h;
    hitl_error err;
    ck_assert_msg(hitl_head_load(&h, p, &err) == HITL_OK, "%s", err.msg);
    ck_assert_uint_eq(h.d, 3);
    ck_assert_uint_eq(h.c, 2);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(h.w[i], (float)w[i]);
    ck_assert_float_eq(h.b[1], 0.25f);
    ck_assert_str_eq(h.classes[1], "yes");
    hitl_head_release(&h);
    unlink(p);
    free(p);
}
END_TEST

/* ---- score file ---------------------------------------------------------------------------- */

START_TEST(test_score_file)
{
    char *p = tmp("scores.h5");
    size_t n = 200000; /* several 64Ki chunks, the last partial */
    unsigned methods = HITL_METHOD_BIT(HITL_METHOD_LC) | HITL_METHOD_BIT(HITL_METHOD_ENTROPY);
    float *lc = malloc(n * sizeof(float)), *ent = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        lc[i] = (float)i / (float)n;
        ent[i] = i % 17 == 0 ? NAN : (float)(n - i);
    }
    hitl_score_file *f;
    hitl_error err;
    ck_assert_msg(hitl_score_file_create(&f, p, n, methods, &err) == HITL_OK, "%s", err.msg);
    size_t blocks[] = {7, 65536, 1, 40000, 333};
    size_t row = 0;
    for (int i = 0; row < n; i = (i + 1) % 5) {
        size_t k = n - row < blocks[i] ? n - row : blocks[i];
        ck_assert_int_eq(hitl_score_file_write(f, HITL_METHOD_LC, row, k, lc + row, &err), HITL_OK);
        ck_assert_int_eq(hitl_score_file_write(f, HITL_METHOD_ENTROPY, row, k, ent + row, &err),
                         HITL_OK);
        row += k;
    }
    hitl_scored top[4] = {
        {0.9f, 0.1f, 1, 199999}, {0.8f, 0.2f, 0, 5}, {0.7f, 0.3f, 1, 77}, {0.6f, 0.4f, 0, 0}};
    ck_assert_int_eq(hitl_score_file_write_top(f, HITL_METHOD_LC, top, 4, &err), HITL_OK);
    ck_assert_int_eq(hitl_score_file_write_top(f, HITL_METHOD_ENTROPY, top, 0, &err), HITL_OK);
    ck_assert_int_eq(hitl_score_file_close(f, &err), HITL_OK);

    size_t m;
    float *got = h5_get(p, "/scores/lc", H5T_NATIVE_FLOAT, &m);
    ck_assert_uint_eq(m, n);
    ck_assert(memcmp(got, lc, n * sizeof(float)) == 0);
    free(got);
    got = h5_get(p, "/scores/entropy", H5T_NATIVE_FLOAT, &m);
    ck_assert_uint_eq(m, n);
    for (size_t i = 0; i < n; i++) {
        if (isnan(ent[i]))
            ck_assert(isnan(got[i]));
        else
            ck_assert_float_eq(got[i], ent[i]);
    }
    free(got);
    int64_t *rows = h5_get(p, "/top/lc", H5T_NATIVE_INT64, &m);
    ck_assert_uint_eq(m, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(rows[i], top[i].row);
    free(rows);
    rows = h5_get(p, "/top/entropy", H5T_NATIVE_INT64, &m);
    ck_assert_uint_eq(m, 0);
    free(rows);

    /* only the asked-for methods exist */
    hid_t file = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_eq(H5Lexists(file, "/scores/margin", H5P_DEFAULT), 0);
    H5Fclose(file);
    free(lc);
    free(ent);
    unlink(p);
    free(p);
}
END_TEST

/* ---- limits -------------------------------------------------------------------------------- */

START_TEST(test_ids_large_sparse)
{
    /* A deflated, chunked pool-sized id column: a few rows come back without reading it all. */
    char *p = tmp("idsbig.h5");
    size_t n = 2000000;
    int64_t *v = malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(i * 7919 % 1000003);
    hsize_t dim = n;
    h5_put(p, 1, "/ids", H5T_STD_I64LE, 1, &dim, 65536, H5T_NATIVE_INT64, v);
    int64_t rows[64];
    tu_rng r;
    tu_rng_seed(&r, 11);
    for (int i = 0; i < 64; i++)
        rows[i] = (int64_t)(tu_rng_u64(&r) % n);
    hitl_ids ids;
    ck_assert_int_eq(hitl_ids_read_rows(p, "/ids", n, rows, 64, &ids, NULL), HITL_OK);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(ids.ints[i], v[rows[i]]);
    hitl_ids_release(&ids);
    free(v);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_score_file_limits)
{
    char *p = tmp("scores0.h5");
    hitl_score_file *f;
    hitl_error err;
    /* zero rows */
    ck_assert_int_eq(hitl_score_file_create(&f, p, 0, HITL_METHODS_ALL, &err), HITL_OK);
    ck_assert_int_eq(hitl_score_file_write(f, HITL_METHOD_MARGIN, 0, 0, NULL, &err), HITL_OK);
    ck_assert_int_eq(hitl_score_file_close(f, &err), HITL_OK);
    size_t m;
    float *got = h5_get(p, "/scores/ratio", H5T_NATIVE_FLOAT, &m);
    ck_assert_uint_eq(m, 0);
    free(got);

    /* rows never written read back as NaN */
    ck_assert_int_eq(hitl_score_file_create(&f, p, 10, HITL_METHOD_BIT(HITL_METHOD_MARGIN), &err),
                     HITL_OK);
    float s[3] = {1, 2, 3};
    ck_assert_int_eq(hitl_score_file_write(f, HITL_METHOD_MARGIN, 7, 3, s, &err), HITL_OK);
    ck_assert_int_eq(hitl_score_file_close(f, &err), HITL_OK);
    got = h5_get(p, "/scores/margin", H5T_NATIVE_FLOAT, &m);
    ck_assert_uint_eq(m, 10);
    for (int i = 0; i < 7; i++)
        ck_assert(isnan(got[i]));
    ck_assert_float_eq(got[9], 3.0f);
    free(got);
    ck_assert_int_eq(hitl_score_file_close(NULL, &err), HITL_OK);

    /* a 1 x 1 head */
    float w = 2, b = -1;
    ck_assert_int_eq(hitl_head_save(p, &w, &b, 1, 1, NULL, NULL), HITL_OK);
    hitl_head h;
    ck_assert_int_eq(hitl_head_load(&h, p, NULL), HITL_OK);
    ck_assert_float_eq(h.w[0], 2.0f);
    hitl_head_release(&h);
    hitl_head_release(NULL);
    hitl_ids_release(NULL);
    unlink(p);
    free(p);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------------- */

START_TEST(test_err_ids)
{
    char *p = tmp("idserr.h5");
    int64_t v[10] = {0};
    float fv[10] = {0};
    hsize_t dim = 10, d2[2] = {5, 2};
    h5_put(p, 1, "/ids", H5T_STD_I64LE, 1, &dim, 0, H5T_NATIVE_INT64, v);
    h5_put(p, 0, "/float", H5T_IEEE_F32LE, 1, &dim, 0, H5T_NATIVE_FLOAT, fv);
    h5_put(p, 0, "/rank2", H5T_STD_I64LE, 2, d2, 0, H5T_NATIVE_INT64, v);
    uint64_t big[10] = {0, 1, (uint64_t)INT64_MAX + 1};
    h5_put(p, 0, "/u64", H5T_STD_U64LE, 1, &dim, 0, H5T_NATIVE_UINT64, big);
    const int64_t rows[] = {1, 2};
    hitl_ids ids;
    hitl_error err;
    char want[600];
    snprintf(want, sizeof(want), "'%s:/ids': 10 ids for 11 rows", p);
    expect(hitl_ids_read_rows(p, "/ids", 11, rows, 2, &ids, &err), &err, HITL_ESHAPE, want);
    ck_assert_ptr_null(ids.ints);
    expect(hitl_ids_read_rows(p, "/rank2", 5, rows, 2, &ids, &err), &err, HITL_ESHAPE,
           "expected a rank-1 dataset, got rank 2");
    expect(hitl_ids_read_rows(p, "/float", 10, rows, 2, &ids, &err), &err, HITL_ETYPE,
           "unsupported type float32 (need integer or string ids)");
    expect(hitl_ids_read_rows(p, "/nope", 10, rows, 2, &ids, &err), &err, HITL_ENOTFOUND,
           "no dataset '/nope'");
    expect(hitl_ids_read_rows("missing.h5", "/ids", 10, rows, 2, &ids, &err), &err, HITL_EIO,
           "cannot open 'missing.h5': No such file or directory");
    const int64_t bad[] = {1, 10};
    expect(hitl_ids_read_rows(p, "/ids", 10, bad, 2, &ids, &err), &err, HITL_EINVAL,
           "row 10 out of range");
    const int64_t neg[] = {-1};
    expect(hitl_ids_read_rows(p, "/ids", 10, neg, 1, &ids, &err), &err, HITL_EINVAL,
           "row -1 out of range");
    expect(hitl_ids_read_rows(p, "/ids", 10, NULL, 2, &ids, &err), &err, HITL_EINVAL,
           "no rows given");
    expect(hitl_ids_read_rows(p, "/u64", 10, rows, 2, &ids, &err), &err, HITL_EDATA,
           "does not fit in int64");
    ck_assert_int_eq(hitl_ids_read_rows(p, "/ids", 10, rows, 2, NULL, &err), HITL_EINVAL);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_head)
{
    char *p = tmp("headerr.h5");
    float w[6] = {0}, b[3] = {0};
    hsize_t wd[2] = {3, 2}, bd = 3, one = 1;
    hitl_head h;
    hitl_error err;
    char want[600];

    h5_put(p, 1, "/W", H5T_IEEE_F32LE, 2, wd, 0, H5T_NATIVE_FLOAT, w);
    h5_put(p, 0, "/b", H5T_IEEE_F32LE, 1, &bd, 0, H5T_NATIVE_FLOAT, b);
    snprintf(want, sizeof(want), "'%s:/b': 3 entries for the 2 columns of /W", p);
    expect(hitl_head_load(&h, p, &err), &err, HITL_ESHAPE, want);
    ck_assert_ptr_null(h.w);

    bd = 2;
    h5_put(p, 1, "/W", H5T_IEEE_F32LE, 2, wd, 0, H5T_NATIVE_FLOAT, w);
    h5_put(p, 0, "/b", H5T_IEEE_F32LE, 1, &bd, 0, H5T_NATIVE_FLOAT, b);
    const char *names[] = {"a", "b", "c"};
    root_names(p, names, 3);
    expect(hitl_head_load(&h, p, &err), &err, HITL_ESHAPE, "3 class names for the 2 columns of /W");
    ck_assert_ptr_null(h.classes);

    h5_put(p, 1, "/W", H5T_IEEE_F32LE, 2, wd, 0, H5T_NATIVE_FLOAT, w);
    expect(hitl_head_load(&h, p, &err), &err, HITL_ENOTFOUND, "no dataset '/b'");
    h5_put(p, 1, "/b", H5T_IEEE_F32LE, 1, &bd, 0, H5T_NATIVE_FLOAT, b);
    expect(hitl_head_load(&h, p, &err), &err, HITL_ENOTFOUND, "no dataset '/W'");
    h5_put(p, 0, "/W", H5T_STD_I32LE, 2, wd, 0, H5T_NATIVE_FLOAT, w);
    expect(hitl_head_load(&h, p, &err), &err, HITL_ETYPE, ":/W': unsupported type int32");
    h5_put(p, 1, "/W", H5T_IEEE_F32LE, 1, &one, 0, H5T_NATIVE_FLOAT, w);
    expect(hitl_head_load(&h, p, &err), &err, HITL_ESHAPE, "expected rank 2, got rank 1");
    expect(hitl_head_load(&h, "missing.h5", &err), &err, HITL_EIO,
           "cannot open 'missing.h5': No such file or directory");

    expect(hitl_head_save("no-such-dir/head.h5", w, b, 3, 2, NULL, &err), &err, HITL_EIO,
           "cannot create 'no-such-dir/head.h5': No such file or directory");
    expect(hitl_head_save(p, w, NULL, 3, 2, NULL, &err), &err, HITL_EINVAL, "no head file");
    expect(hitl_head_save(p, w, b, 0, 2, NULL, &err), &err, HITL_EINVAL, "empty weight matrix");
    char *holes[] = {"a", NULL};
    expect(hitl_head_save(p, w, b, 3, 2, holes, &err), &err, HITL_EINVAL, "class name 1 missing");
    ck_assert_int_eq(hitl_head_load(NULL, p, NULL), HITL_EINVAL);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_err_score_file)
{
    char *p = tmp("scoreerr.h5");
    hitl_score_file *f = (hitl_score_file *)&f;
    hitl_error err;
    expect(hitl_score_file_create(&f, "no-such-dir/s.h5", 10, HITL_METHODS_ALL, &err), &err,
           HITL_EIO, "cannot create 'no-such-dir/s.h5': No such file or directory");
    ck_assert_ptr_null(f);
    expect(hitl_score_file_create(&f, p, 10, 1u << 9, &err), &err, HITL_EINVAL, "unknown methods");

    ck_assert_int_eq(hitl_score_file_create(&f, p, 10, HITL_METHOD_BIT(HITL_METHOD_LC), &err),
                     HITL_OK);
    float s[11] = {0};
    expect(hitl_score_file_write(f, HITL_METHOD_RATIO, 0, 1, s, &err), &err, HITL_EINVAL,
           "no scores for method 'ratio'");
    expect(hitl_score_file_write(f, HITL_METHOD_LC, 5, 6, s, &err), &err, HITL_EINVAL,
           "rows [5, 11) out of range (10 rows)");
    expect(hitl_score_file_write(f, HITL_METHOD_LC, 0, 1, NULL, &err), &err, HITL_EINVAL,
           "no scores given");
    expect(hitl_score_file_write(f, (hitl_method)42, 0, 1, s, &err), &err, HITL_EINVAL,
           "no scores for method");
    hitl_scored top[1] = {{1, 1, 0, 3}};
    ck_assert_int_eq(hitl_score_file_write_top(f, HITL_METHOD_LC, top, 1, &err), HITL_OK);
    expect(hitl_score_file_write_top(f, HITL_METHOD_LC, top, 1, &err), &err, HITL_ECONFLICT,
           "top rows for 'lc' already written");
    expect(hitl_score_file_write_top(f, HITL_METHOD_MARGIN, NULL, 1, &err), &err, HITL_EINVAL,
           "no top rows given");
    ck_assert_int_eq(hitl_score_file_close(f, &err), HITL_OK);
    ck_assert_int_eq(hitl_score_file_write(NULL, HITL_METHOD_LC, 0, 1, s, &err), HITL_EINVAL);
    unlink(p);
    free(p);
}
END_TEST

/* ---- IDX, pool and curves files ------------------------------------------------------------ */

/* An IDX file: the header for `type` and dims, then `nbytes` of payload, gzipped or not. */
static void write_idx(const char *path, int gz, unsigned char type, int rank, const uint32_t *dims,
                      const void *payload, size_t nbytes)
{
    unsigned char head[4 + 4 * 8] = {0, 0, type, (unsigned char)rank};
    for (int i = 0; i < rank; i++) {
        head[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        head[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        head[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        head[7 + 4 * i] = (unsigned char)dims[i];
    }
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        gzwrite(f, head, 4 + 4 * (unsigned)rank);
        if (nbytes) gzwrite(f, payload, (unsigned)nbytes);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        fwrite(head, 1, 4 + 4 * (size_t)rank, f);
        fwrite(payload, 1, nbytes, f);
        fclose(f);
    }
}

START_TEST(test_idx_read)
{
    char *p = tmp("images.idx.gz"), *q = tmp("labels.idx");
    /* 3 images of 2 x 2 uint8, gzipped */
    unsigned char img[12] = {0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    uint32_t dims[3] = {3, 2, 2};
    write_idx(p, 1, 0x08, 3, dims, img, sizeof(img));
    hitl_idx x;
    hitl_error err;
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_OK);
    ck_assert_str_eq(x.type, "uint8");
    ck_assert_int_eq(x.rank, 3);
    ck_assert_uint_eq(x.rows, 3);
    ck_assert_uint_eq(x.cols, 4);
    for (size_t i = 0; i < 12; i++)
        ck_assert(x.values[i] == img[i]);
    hitl_idx_release(&x);
    /* big-endian int16 and float32, plain */
    unsigned char i16[4] = {0xFF, 0xFE, 0x01, 0x00}; /* -2, 256 */
    uint32_t d2[1] = {2};
    write_idx(q, 0, 0x0B, 1, d2, i16, sizeof(i16));
    ck_assert_int_eq(hitl_idx_read(q, &x, &err), HITL_OK);
    ck_assert_uint_eq(x.cols, 1);
    ck_assert(x.values[0] == -2 && x.values[1] == 256);
    hitl_idx_release(&x);
    unsigned char f32[4] = {0x3F, 0xC0, 0x00, 0x00}; /* 1.5 */
    uint32_t d1[1] = {1};
    write_idx(q, 0, 0x0D, 1, d1, f32, sizeof(f32));
    ck_assert_int_eq(hitl_idx_read(q, &x, &err), HITL_OK);
    ck_assert(x.values[0] == 1.5f);
    hitl_idx_release(&x);
    unlink(p);
    unlink(q);
    free(p);
    free(q);
}
END_TEST

START_TEST(test_idx_errors)
{
    char *p = tmp("bad.idx");
    hitl_idx x;
    hitl_error err;
    unsigned char img[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint32_t dims[2] = {3, 3};
    write_idx(p, 1, 0x08, 2, dims, img, sizeof(img)); /* 9 values declared, 8 there */
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
    ck_assert_ptr_null(x.values);
    uint32_t two[2] = {2, 3};
    write_idx(p, 0, 0x08, 2, two, img, sizeof(img)); /* 6 declared, 8 there */
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "past"));
    write_idx(p, 0, 0x07, 2, two, img, 6);
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_ETYPE);
    write_idx(p, 0, 0x08, 0, two, img, 0);
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_EDATA);
    /* a header claiming 2^32-1 x 2^32-1 x 2^32-1 values: refused before any allocation */
    uint32_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    write_idx(p, 0, 0x08, 3, huge, img, 8);
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_ESHAPE);
    /* 4e9 rows of one byte claimed, 8 there: fails as truncated, memory as read */
    uint32_t many[1] = {0xFFFFFFF0u};
    write_idx(p, 1, 0x08, 1, many, img, 8);
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_EDATA);
    FILE *f = fopen(p, "wb");
    fputs("P5\n2 2\n255\n", f);
    fclose(f);
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an IDX file"));
    unlink(p);
    ck_assert_int_eq(hitl_idx_read(p, &x, &err), HITL_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "No such file"));
    free(p);
}
END_TEST

START_TEST(test_pool_and_curves_files)
{
    char *p = tmp("pool.h5");
    float x[6] = {0, 0.5f, 1, 1.5f, 2, 2.5f};
    int32_t y[3] = {2, 0, 1};
    char *names[3] = {"a", "b", "c"};
    hitl_error err;
    ck_assert_int_eq(hitl_pool_save(p, x, 3, 2, y, names, 3, "a test", &err), HITL_OK);
    hitl_matrix *m;
    ck_assert_int_eq(hitl_matrix_open(&m, p, "features", &err), HITL_OK);
    float *back;
    ck_assert_int_eq(hitl_matrix_load(m, &back, &err), HITL_OK);
    ck_assert_mem_eq(back, x, sizeof(x));
    char **cl;
    size_t nc;
    ck_assert_int_eq(hitl_matrix_classes(m, &cl, &nc, &err), HITL_OK);
    ck_assert_uint_eq(nc, 3);
    ck_assert_str_eq(cl[2], "c");
    hitl_strings_free(cl, nc);
    hitl_matrix_close(m);
    free(back);
    int32_t *lab;
    size_t nl;
    ck_assert_int_eq(hitl_labels_read(p, "labels", &lab, &nl, &err), HITL_OK);
    ck_assert_uint_eq(nl, 3);
    ck_assert_mem_eq(lab, y, sizeof(y));
    free(lab);

    double lx[2] = {10, 20}, acc[4] = {0.5, 0.6, 0.55, 0.65}, sec[4] = {0.1, 0, 0.2, 0};
    hitl_curves c = {"margin", 2, 2, lx, lx, acc, acc, sec};
    uint64_t seeds[2] = {1, 2};
    ck_assert_int_eq(hitl_curves_save(p, &c, 1, seeds, 2, &err), HITL_OK);
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/margin/accuracy", H5P_DEFAULT);
    double got[4];
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got), 0);
    ck_assert_mem_eq(got, acc, sizeof(acc));
    H5Dclose(d);
    H5Fclose(f);
    /* a directory that does not exist: an error naming the path, nothing written */
    ck_assert_int_eq(hitl_pool_save("no-such-dir/pool.h5", x, 3, 2, y, NULL, 0, NULL, &err),
                     HITL_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "no-such-dir/pool.h5"));
    ck_assert_int_eq(hitl_text_save(p, "<svg/>", &err), HITL_OK);
    FILE *t = fopen(p, "r");
    char buf[16] = {0};
    ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), t));
    fclose(t);
    ck_assert_str_eq(buf, "<svg/>");
    ck_assert_int_eq(hitl_text_save("no-such-dir/x.svg", "<svg/>", &err), HITL_EIO);
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

static hitl_status idx_claim(const char *path, hitl_error *err)
{
    hitl_idx x;
    hitl_status st = hitl_idx_read(path, &x, err);
    hitl_idx_release(&x);
    return st;
}

static hitl_status head_claim(const char *path, hitl_error *err)
{
    hitl_head h;
    hitl_status st = hitl_head_load(&h, path, err);
    hitl_head_release(&h);
    return st;
}

static hitl_status labels_claim(const char *path, hitl_error *err)
{
    int32_t *lab = NULL;
    size_t n = 0;
    hitl_status st = hitl_labels_read(path, "labels", &lab, &n, err);
    free(lab);
    return st;
}

/* Dataset `dset` of `ftype`, shape dims[rank], chunked by chunk[rank] (NULL: contiguous),
 * with nothing written: a file of a few KB claiming any shape. */
static void h5_claim(const char *path, int create, const char *dset, hid_t ftype, int rank,
                     const hsize_t *dims, const hsize_t *chunk)
{
    hid_t f = create ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                     : H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) ck_assert(H5Pset_chunk(dcpl, rank, chunk) >= 0);
    hid_t d = H5Dcreate2(f, dset, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
}

START_TEST(test_limits_huge_claims)
{
    /* Headers that claim huge shapes are refused before anything their shape implies is
     * allocated (or, for IDX, memory grows only with the values actually read). */
    char *p = tmp("claim.idx"), *q = tmp("claim.h5");
    unsigned char img[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint32_t rows[3] = {0xFFFFFFFFu, 8, 8}; /* 2.7e11 values claimed, 8 there */
    write_idx(p, 0, 0x08, 3, rows, img, sizeof(img));
    ck_assert_int_eq(tu_capped(idx_claim, p, "truncated"), HITL_EDATA);
    write_idx(p, 1, 0x0E, 3, rows, img, sizeof(img));
    ck_assert_int_eq(tu_capped(idx_claim, p, "truncated"), HITL_EDATA);
    rows[1] = rows[2] = 28; /* 3.4e12: past HITL_IDX_MAX_VALUES */
    write_idx(p, 0, 0x08, 3, rows, img, sizeof(img));
    ck_assert_int_eq(tu_capped(idx_claim, p, "too many values"), HITL_ESHAPE);

    /* a head with C = 10^9 */
    hsize_t wd[2] = {4, 1000000000}, wc[2] = {4, 1024}, bd = 1000000000, bc = 1024;
    h5_claim(q, 1, "/W", H5T_IEEE_F32LE, 2, wd, wc);
    h5_claim(q, 0, "/b", H5T_IEEE_F32LE, 1, &bd, &bc);
    ck_assert_int_eq(tu_capped(head_claim, q, "is too large"), HITL_ESHAPE);
    /* D and C within bounds (4e8 weights claimed), values never written */
    wd[0] = 20000;
    wd[1] = bd = 20000;
    h5_claim(q, 1, "/W", H5T_IEEE_F32LE, 2, wd, wc);
    h5_claim(q, 0, "/b", H5T_IEEE_F32LE, 1, &bd, NULL);
    ck_assert_int_eq(tu_capped(head_claim, q, ":/W': only 0 of its"), HITL_EDATA);

    /* labels read whole: 10^12 claimed (chunked), 10^8 claimed (contiguous), none written */
    hsize_t ld = 1000000000000ull, lc = 4096;
    h5_claim(q, 1, "/labels", H5T_STD_I64LE, 1, &ld, &lc);
    ck_assert_int_eq(tu_capped(labels_claim, q, "chunks were written"), HITL_EDATA);
    ld = 100000000;
    h5_claim(q, 1, "/labels", H5T_STD_I64LE, 1, &ld, NULL);
    ck_assert_int_eq(tu_capped(labels_claim, q, "never written"), HITL_EDATA);
    unlink(p);
    unlink(q);
    free(p);
    free(q);
}
END_TEST

static Suite *io_files_suite(void)
{
    Suite *s = suite_create("io_files");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_ids_int64);
    tcase_add_test(core, test_ids_other_ints);
    tcase_add_test(core, test_ids_strings);
    tcase_add_test(core, test_head_round_trip);
    tcase_add_test(core, test_head_float64);
    tcase_add_test(core, test_score_file);
    tcase_add_test(core, test_idx_read);
    tcase_add_test(core, test_pool_and_curves_files);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_ids_large_sparse);
    tcase_add_test(limits, test_score_file_limits);
    tcase_add_test(limits, test_limits_huge_claims);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_err_ids);
    tcase_add_test(errors, test_err_head);
    tcase_add_test(errors, test_err_score_file);
    tcase_add_test(errors, test_idx_errors);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    SRunner *sr = srunner_create(io_files_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
