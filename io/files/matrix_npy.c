/* .npy backend of hitl_matrix: a bounded parser for the header dict (the file is untrusted input:
 * every length is checked before use) and pread() of row blocks, float64 (and, when asked,
 * integers) converted through a bounded scratch. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "matrix_internal.h"
#include "hitl_banned.h"

#define NPY_MAGIC     "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy refuses headers above 10000 bytes unless told otherwise; a rank-2 float one is ~120. */
#define MAX_HEADER    ((uint32_t)65536)
#define MAX_RANK      32
#define SCRATCH_BYTES ((size_t)4 << 20)
#define MAX_PREAD     ((size_t)1 << 30)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_LITTLE 0
#else
#define HOST_LITTLE 1
#endif

/* What a caller takes: floats only, integers too, or integers and rank-1 vectors as a column. */
#define NPY_FLOATS  0
#define NPY_NUMERIC 1
#define NPY_VECTOR  2

/* Element types: float32 is read in place, the others through the scratch (float64 in place too
 * when read as float64). */
typedef enum { T_F4 = 0, T_F8, T_I1, T_U1, T_I2, T_U2, T_I4, T_U4, T_I8, T_U8, T_COUNT } npy_type;
static const char *const type_code[T_COUNT] = {"f4", "f8", "i1", "u1", "i2",
                                               "u2", "i4", "u4", "i8", "u8"};
static const size_t type_size[T_COUNT] = {4, 8, 1, 1, 2, 2, 4, 4, 8, 8};

typedef struct npy_matrix {
    int fd;
    uint64_t data_off;
    npy_type type;
    unsigned char *scratch;
    size_t scratch_rows;
} npy_matrix;

/* ---- header parsing ---------------------------------------------------------------------- */

typedef struct cursor {
    const char *p, *end;
    const char *why; /* first parse failure, for the message */
} cursor;

typedef struct npy_header {
    char descr[32];
    int fortran;
    int rank;
    uint64_t dims[2];
    int dims_too_big; /* some dimension did not fit in 64 bits */
    int structured;   /* descr was a list */
} npy_header;

static int fail(cursor *c, const char *why)
{
    if (!c->why) c->why = why;
    return 0;
}

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int accept_word(cursor *c, const char *w)
{
    size_t len = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) >= len && memcmp(c->p, w, len) == 0) {
        c->p += len;
        return 1;
    }
    return 0;
}

/* A quoted Python string of printable ASCII without escapes, into out[cap]. */
static int parse_str(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return fail(c, "expected a string");
    char q = *c->p++;
    size_t len = 0;
    while (c->p < c->end && *c->p != q) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20 || ch > 0x7e || ch == '\\') return fail(c, "unexpected character in string");
        if (len + 1 >= cap) return fail(c, "string too long");
        out[len++] = (char)ch;
        c->p++;
    }
    if (c->p >= c->end) return fail(c, "unterminated string");
    c->p++;
    out[len] = '\0';
    return 1;
}

static int parse_bool(cursor *c, int *v)
{
    if (accept_word(c, "True")) {
        *v = 1;
        return 1;
    }
    if (accept_word(c, "False")) {
        *v = 0;
        return 1;
    }
    return fail(c, "expected True or False");
}

/* A non-negative integer; *big set when it does not fit in 64 bits. */
static int parse_uint(cursor *c, uint64_t *v, int *big)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return fail(c, "expected a dimension");
    uint64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = (unsigned)(*c->p - '0');
        if (x > (UINT64_MAX - d) / 10)
            *big = 1;
        else
            x = x * 10 + d;
        c->p++;
    }
    if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long */
    *v = x;
    return 1;
}

/* "()", "(N,)", "(N, C)", ... with an optional trailing comma. */
static int parse_shape(cursor *c, npy_header *h)
{
    if (!accept(c, '(')) return fail(c, "expected a shape tuple");
    h->rank = 0;
    if (accept(c, ')')) return 1;
    for (;;) {
        uint64_t v;
        if (!parse_uint(c, &v, &h->dims_too_big)) return 0;
        if (h->rank >= MAX_RANK) return fail(c, "too many dimensions");
        if (h->rank < 2) h->dims[h->rank] = v;
        h->rank++;
        if (accept(c, ')')) return 1;
        if (!accept(c, ',')) return fail(c, "expected ',' or ')' in shape");
        if (accept(c, ')')) return 1;
    }
}

static int parse_dict(cursor *c, npy_header *h)
{
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if (!accept(c, '{')) return fail(c, "expected '{'");
    while (!accept(c, '}')) {
        char key[32];
        if (!parse_str(c, key, sizeof(key))) return 0;
        if (!accept(c, ':')) return fail(c, "expected ':'");
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            seen_descr = 1;
            skip_ws(c);
            if (c->p < c->end && *c->p == '[') {
                h->structured = 1;
                return 1; /* reported as a type error; the rest does not matter */
            }
            if (!parse_str(c, h->descr, sizeof(h->descr))) return 0;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_fortran) {
            seen_fortran = 1;
            if (!parse_bool(c, &h->fortran)) return 0;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            seen_shape = 1;
            if (!parse_shape(c, h)) return 0;
        } else {
            return fail(c, "unexpected or repeated key");
        }
        if (!accept(c, ',')) {
            if (!accept(c, '}')) return fail(c, "expected ',' or '}'");
            break;
        }
    }
    skip_ws(c);
    if (c->p != c->end) return fail(c, "unexpected text after the dict");
    if (!seen_descr || !seen_fortran || !seen_shape)
        return fail(c, "missing 'descr', 'fortran_order' or 'shape'");
    return 1;
}

/* '<f4' / '<f8' (and '=f4', 'f4' on a little-endian host); with `integers` also '|i1', '|u1'
 * and '<i2' ... '<u8'. */
static hitl_status check_descr(const char *name, const char *d, int integers, npy_type *type,
                               hitl_error *err)
{
    char order = (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=') ? d[0] : 0;
    const char *t = order ? d + 1 : d;
    int k = 0;
    while (k < (integers ? T_COUNT : T_I1) && strcmp(t, type_code[k]) != 0)
        k++;
    if (k < (integers ? T_COUNT : T_I1)) {
        if (type_size[k] > 1 && order == '>')
            return hitl_error_set(err, HITL_ETYPE,
                                  "'%s': big-endian dtype '%s' is not supported (save with "
                                  "astype('<%s'))",
                                  name, d, t);
        if (type_size[k] == 1 || order == '<' || (HOST_LITTLE && (order == '=' || order == 0))) {
            *type = (npy_type)k;
            return HITL_OK;
        }
    }
    return hitl_error_set(err, HITL_ETYPE, "'%s': unsupported dtype '%s' (need %s)", name, d,
                          integers ? "integers, float32 or float64" : "float32 or float64");
}

/* ---- reading -------------------------------------------------------------------------------- */

static hitl_status pread_full(int fd, void *buf, size_t len, uint64_t off, const char *name,
                              hitl_error *err)
{
    char *p = buf;
    while (len > 0) {
        size_t want = len < MAX_PREAD ? len : MAX_PREAD;
        ssize_t r = pread(fd, p, want, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return hitl_error_set(err, HITL_EIO, "cannot read '%s': %s", name, strerror(errno));
        if (r == 0)
            return hitl_error_set(err, HITL_EDATA, "'%s': truncated (file shrank while reading)",
                                  name);
        p += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return HITL_OK;
}

#if !HOST_LITTLE
static void swap_bytes(void *buf, size_t count, size_t size)
{
    unsigned char *b = buf;
    for (size_t i = 0; i < count; i++, b += size)
        for (size_t j = 0; j < size / 2; j++) {
            unsigned char t = b[j];
            b[j] = b[size - 1 - j];
            b[size - 1 - j] = t;
        }
}
#endif

/* in[0..len) of `type` (little-endian on disk) to float32 (f32) or, exactly, float64 (f64):
 * one of them is given. */
static void convert(npy_type type, unsigned char *in, size_t len, float *f32, double *f64)
{
#if !HOST_LITTLE
    swap_bytes(in, len, type_size[type]);
#endif
#define CONVERT(T)                                                                                 \
    for (size_t i = 0; i < len; i++) {                                                             \
        T v;                                                                                       \
        memcpy(&v, in + i * sizeof(T), sizeof(T));                                                 \
        if (f32)                                                                                   \
            f32[i] = (float)v;                                                                     \
        else                                                                                       \
            f64[i] = (double)v;                                                                    \
    }                                                                                              \
    break
    switch (type) {
    case T_F4:
        CONVERT(float);
    case T_F8:
        CONVERT(double);
    case T_I1:
        CONVERT(int8_t);
    case T_U1:
        CONVERT(uint8_t);
    case T_I2:
        CONVERT(int16_t);
    case T_U2:
        CONVERT(uint16_t);
    case T_I4:
        CONVERT(int32_t);
    case T_U4:
        CONVERT(uint32_t);
    case T_I8:
        CONVERT(int64_t);
    case T_U8:
        CONVERT(uint64_t);
    default:
        break;
    }
#undef CONVERT
}

/* Rows [row0, row0 + n) into f32 or f64 (one is given): the stored type itself straight into
 * the output, any other through the scratch. */
static hitl_status read_rows(hitl_matrix *m, size_t row0, size_t n, float *f32, double *f64,
                             hitl_error *err)
{
    npy_matrix *s = m->impl;
    size_t item = type_size[s->type], len = n * m->cols;
    uint64_t off = s->data_off + (uint64_t)row0 * m->cols * item;
    if ((f32 && s->type == T_F4) || (f64 && s->type == T_F8)) {
        hitl_status st =
            pread_full(s->fd, f32 ? (void *)f32 : (void *)f64, len * item, off, m->name, err);
#if !HOST_LITTLE
        if (st == HITL_OK) swap_bytes(f32 ? (void *)f32 : (void *)f64, len, item);
#endif
        return st;
    }
    if (f64 && s->type == T_F4) {
        /* no scratch for float32: read into the front of the output and widen from the back, so
         * double i overwrites the bytes of floats 2i and 2i + 1 only once float i is read */
        unsigned char *in = (unsigned char *)f64;
        hitl_status st = pread_full(s->fd, in, len * sizeof(float), off, m->name, err);
#if !HOST_LITTLE
        if (st == HITL_OK) swap_bytes(in, len, sizeof(float));
#endif
        for (size_t i = len; st == HITL_OK && i-- > 0;) {
            float v;
            memcpy(&v, in + i * sizeof(float), sizeof(float));
            f64[i] = (double)v;
        }
        return st;
    }
    for (size_t done = 0; done < n;) {
        size_t k = n - done < s->scratch_rows ? n - done : s->scratch_rows, kl = k * m->cols;
        hitl_status st = pread_full(s->fd, s->scratch, kl * item, off, m->name, err);
        if (st != HITL_OK) return st;
        size_t at = done * m->cols;
        convert(s->type, s->scratch, kl, f32 ? f32 + at : NULL, f64 ? f64 + at : NULL);
        off += (uint64_t)kl * item;
        done += k;
    }
    return HITL_OK;
}

static hitl_status npy_read(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err)
{
    return read_rows(m, row0, n, dst, NULL, err);
}

static hitl_status npy_read_f64(hitl_matrix *m, size_t row0, size_t n, double *dst, hitl_error *err)
{
    return read_rows(m, row0, n, NULL, dst, err);
}

static void npy_close(hitl_matrix *m)
{
    npy_matrix *s = m->impl;
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    free(s->scratch);
    free(s);
    m->impl = NULL;
}

static const hitl__matrix_ops npy_ops = {npy_read, npy_read_f64, NULL, npy_close, NULL, NULL, NULL};

/* ---- opening ------------------------------------------------------------------------------- */

static hitl_status parse_file(npy_matrix *s, hitl_matrix *m, uint64_t fsize, int integers,
                              hitl_error *err)
{
    const char *name = m->name;
    unsigned char pre[12];
    if (fsize < 10)
        return hitl_error_set(err, HITL_EDATA, "'%s': not a .npy file (too short)", name);
    hitl_status st = pread_full(s->fd, pre, fsize < 12 ? 10 : 12, 0, name, err);
    if (st != HITL_OK) return st;
    if (memcmp(pre, "\x89HDF\r\n\x1a\n", 8) == 0)
        return hitl_error_set(err, HITL_EINVAL, "'%s': an HDF5 file needs a dataset name", name);
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return hitl_error_set(err, HITL_EDATA, "'%s': not a .npy file (bad magic)", name);
    unsigned major = pre[6], minor = pre[7];
    uint32_t hlen;
    uint64_t hoff;
    if (major == 1 && minor == 0) {
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
        hoff = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (fsize < 12) return hitl_error_set(err, HITL_EDATA, "'%s': truncated .npy header", name);
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
               (uint32_t)pre[11] << 24;
        hoff = 12;
    } else {
        return hitl_error_set(err, HITL_EDATA, "'%s': unsupported .npy version %u.%u", name, major,
                              minor);
    }
    if (hlen > MAX_HEADER)
        return hitl_error_set(err, HITL_EDATA, "'%s': bad .npy header: %lu bytes long", name,
                              (unsigned long)hlen);
    if (hlen > fsize - hoff)
        return hitl_error_set(err, HITL_EDATA, "'%s': truncated .npy header", name);

    char *text = malloc(hlen ? hlen : 1);
    if (!text) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", name);
    st = pread_full(s->fd, text, hlen, hoff, name, err);
    npy_header h = {.rank = -1};
    cursor c = {text, text + hlen, NULL};
    int ok = st == HITL_OK && parse_dict(&c, &h);
    long at = (long)(c.p - text);
    free(text);
    if (st != HITL_OK) return st;
    if (!ok)
        return hitl_error_set(err, HITL_EDATA, "'%s': bad .npy header: %s at byte %ld", name,
                              c.why ? c.why : "unreadable", at + (long)hoff);

    if (h.structured)
        return hitl_error_set(err, HITL_ETYPE,
                              "'%s': structured dtypes are not supported (need float32 or "
                              "float64)",
                              name);
    if ((st = check_descr(name, h.descr, integers, &s->type, err)) != HITL_OK) return st;
    if (integers == NPY_VECTOR && h.rank == 1) {
        h.rank = 2; /* a vector is one column */
        h.dims[1] = 1;
    }
    if (h.rank != 2)
        return hitl_error_set(err, HITL_ESHAPE, "'%s': expected a rank-2 matrix, got rank %d", name,
                              h.rank);
    uint64_t rows = h.dims[0], cols = h.dims[1];
    /* Fortran order is the same bytes when one dimension is 1. */
    if (h.fortran && rows > 1 && cols > 1)
        return hitl_error_set(err, HITL_ETYPE,
                              "'%s': fortran order is not supported (save with "
                              "np.ascontiguousarray)",
                              name);
    if (cols == 0) return hitl_error_set(err, HITL_ESHAPE, "'%s': the matrix has no columns", name);
    size_t item = type_size[s->type];
    /* with no rows the file's size does not bound cols: one row must still be addressable */
    if (h.dims_too_big || cols > (uint64_t)INT64_MAX / sizeof(double) ||
        rows > SIZE_MAX / sizeof(double) / cols ||
        rows > (uint64_t)INT64_MAX / sizeof(double) / cols)
        return hitl_error_set(err, HITL_ESHAPE, "'%s': shape is too large", name);
    if (cols > HITL_MATRIX_MAX_COLS)
        return hitl_error_set(err, HITL_ESHAPE,
                              "'%s': %llu columns, more than the %zu a row may have", name,
                              (unsigned long long)cols, (size_t)HITL_MATRIX_MAX_COLS);
    uint64_t bytes = rows * cols * item;
    s->data_off = hoff + hlen;
    if (bytes > fsize - s->data_off)
        return hitl_error_set(err, HITL_EDATA,
                              "'%s': truncated: shape (%llu, %llu) needs %llu bytes of data, the "
                              "file has %llu",
                              name, (unsigned long long)rows, (unsigned long long)cols,
                              (unsigned long long)bytes, (unsigned long long)(fsize - s->data_off));
    m->rows = (size_t)rows;
    m->cols = (size_t)cols;
    return HITL_OK;
}

hitl_status hitl__matrix_open_npy(hitl_matrix *m, const char *path, int integers, hitl_error *err)
{
    npy_matrix *s = calloc(1, sizeof(*s));
    if (!s) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    m->impl = s;
    m->ops = &npy_ops;
    hitl_status st = HITL_OK;
    struct stat sb;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        st = hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(s->fd, &sb) != 0) {
        st = hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path,
                            S_ISDIR(sb.st_mode) ? strerror(EISDIR) : "not a regular file");
        goto fail;
    }
    if ((st = parse_file(s, m, (uint64_t)sb.st_size, integers, err)) != HITL_OK) goto fail;
    if (s->type != T_F4 && m->rows > 0) { /* no reads of an empty matrix, no scratch */
        size_t rows = SCRATCH_BYTES / (m->cols * type_size[s->type]);
        s->scratch_rows = rows ? rows : 1;
        if (s->scratch_rows > m->rows) s->scratch_rows = m->rows;
        s->scratch = malloc(s->scratch_rows * m->cols * type_size[s->type]);
        if (!s->scratch) {
            st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
            goto fail;
        }
    }
    posix_fadvise(s->fd, (off_t)s->data_off, 0, POSIX_FADV_SEQUENTIAL);
    m->concurrent = s->type == T_F4; /* in place; other types share the scratch */
    return HITL_OK;

fail:
    npy_close(m);
    m->ops = NULL;
    m->rows = m->cols = 0;
    return st;
}

/* A whole vector of integers, exactly (the matrix path's float32 is exact only to 2^24): for
 * class indices and row numbers. Floats must hold whole numbers. */
hitl_status hitl__npy_read_ints(const char *path, int64_t **out, size_t *n, hitl_error *err)
{
    *out = NULL;
    *n = 0;
    hitl_matrix m = {.name = (char *)path};
    hitl_status st = hitl__matrix_open_npy(&m, path, NPY_VECTOR, err);
    if (st != HITL_OK) return st;
    npy_matrix *s = m.impl;
    size_t item = type_size[s->type], rows = m.rows;
    unsigned char *raw = NULL;
    int64_t *v = NULL;
    if (m.cols != 1) {
        st = hitl_error_set(err, HITL_ESHAPE,
                            "'%s': expected a vector (rank 1, or one column), got %zu columns",
                            path, m.cols);
        goto done;
    }
    raw = malloc(rows ? rows * item : 1); /* parse_file checked the file holds them */
    v = malloc(rows ? rows * sizeof(int64_t) : 1);
    if (!raw || !v) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory for %zu values", path, rows);
        goto done;
    }
    if (rows && (st = pread_full(s->fd, raw, rows * item, s->data_off, path, err)) != HITL_OK)
        goto done;
#if !HOST_LITTLE
    swap_bytes(raw, rows, item);
#endif
    /* each type in its own loop: integers widen (a uint64 past INT64_MAX is refused), floats
     * must hold whole numbers */
    uint64_t bad = UINT64_MAX; /* the first refused row */
    double what = 0;           /* its float */
#define INTS(T)                                                                                    \
    for (size_t i = 0; i < rows; i++) {                                                            \
        T w;                                                                                       \
        memcpy(&w, raw + i * sizeof(T), sizeof(T));                                                \
        v[i] = (int64_t)w;                                                                         \
    }                                                                                              \
    break
#define FLOATS(T)                                                                                  \
    for (size_t i = 0; i < rows && bad == UINT64_MAX; i++) {                                       \
        T w;                                                                                       \
        memcpy(&w, raw + i * sizeof(T), sizeof(T));                                                \
        double d = w;                                                                              \
        if (!(d >= -9e18 && d <= 9e18 && d == (double)(int64_t)d))                                 \
            bad = i, what = d;                                                                     \
        else                                                                                       \
            v[i] = (int64_t)d;                                                                     \
    }                                                                                              \
    break
    switch (s->type) {
    case T_F4:
        FLOATS(float);
    case T_F8:
        FLOATS(double);
    case T_I1:
        INTS(int8_t);
    case T_U1:
        INTS(uint8_t);
    case T_I2:
        INTS(int16_t);
    case T_U2:
        INTS(uint16_t);
    case T_I4:
        INTS(int32_t);
    case T_U4:
        INTS(uint32_t);
    case T_I8:
        INTS(int64_t);
    default:
        INTS(uint64_t);
    }
#undef INTS
#undef FLOATS
    for (size_t i = 0; s->type == T_U8 && i < rows && bad == UINT64_MAX; i++)
        if (v[i] < 0) bad = i; /* past INT64_MAX */
    if (bad != UINT64_MAX) {
        if (s->type == T_U8)
            st = hitl_error_set(err, HITL_EDATA, "'%s' row %llu: %llu is too large", path,
                                (unsigned long long)bad, (unsigned long long)v[bad]);
        else
            st = hitl_error_set(err, HITL_EDATA, "'%s' row %llu: %.9g is not a whole number", path,
                                (unsigned long long)bad, what);
        if (err) err->row = (int64_t)bad;
        goto done;
    }
    *out = v;
    v = NULL;
    *n = rows;
done:
    free(raw);
    free(v);
    npy_close(&m);
    return st;
}
