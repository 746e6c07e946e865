/* IDX files (the MNIST family's format: LeCun et al.), gzipped or not. A big-endian header:
 * two zero bytes, a type code, the rank, then one uint32 per dimension; the values follow in
 * C order, big-endian. zlib reads both forms (gzread passes plain files through). Memory grows
 * with the data actually read, so a header that claims more than the file holds fails as
 * truncated instead of allocating what it claims. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hitl_files.h"
#include "hitl_banned.h"

typedef struct idx_type {
    unsigned char code;
    size_t size;
    const char *name;
} idx_type;

static const idx_type types[] = {
    {0x08, 1, "uint8"}, {0x09, 1, "int8"},    {0x0B, 2, "int16"},
    {0x0C, 4, "int32"}, {0x0D, 4, "float32"}, {0x0E, 8, "float64"},
};

/* One big-endian value of type code t at p, as a double (exact for every IDX integer type). */
static double value_at(unsigned char t, const unsigned char *p)
{
    uint64_t u = 0;
    switch (t) {
    case 0x08:
        return p[0];
    case 0x09:
        return (int8_t)p[0];
    case 0x0B:
        return (int16_t)(uint16_t)((p[0] << 8) | p[1]);
    case 0x0C:
        return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                         p[3]);
    case 0x0D: {
        uint32_t v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        float f;
        memcpy(&f, &v, sizeof(f));
        return f;
    }
    default:
        for (int i = 0; i < 8; i++)
            u = (u << 8) | p[i];
        double d;
        memcpy(&d, &u, sizeof(d));
        return d;
    }
}

void hitl_idx_release(hitl_idx *idx)
{
    if (!idx) return;
    free(idx->values);
    memset(idx, 0, sizeof(*idx));
}

hitl_status hitl_idx_read(const char *path, hitl_idx *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!path) return hitl_error_set(err, HITL_EINVAL, "no IDX file given");
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path,
                              errno ? strerror(errno) : "out of memory");
    unsigned char head[4 + 4 * HITL_IDX_MAX_RANK];
    hitl_status st = HITL_OK;
    const idx_type *ty = NULL;
    if (gzread(f, head, 4) != 4 || head[0] != 0 || head[1] != 0) {
        st = hitl_error_set(
            err, HITL_EDATA,
            "'%s': not an IDX file (it starts with two zero bytes, a type and a rank)", path);
        goto done;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].code == head[2]) ty = &types[i];
    if (!ty) {
        st = hitl_error_set(err, HITL_ETYPE, "'%s': unknown IDX type code", path);
        goto done;
    }
    int rank = head[3];
    if (rank < 1 || rank > HITL_IDX_MAX_RANK ||
        gzread(f, head + 4, 4 * (unsigned)rank) != 4 * rank) {
        st = hitl_error_set(err, HITL_EDATA, "'%s': bad IDX rank or truncated header", path);
        goto done;
    }
    out->rank = rank;
    out->type = ty->name;
    out->rows = 1;
    out->cols = 1;
    for (int i = 0; i < rank; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        size_t dim = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
        out->dims[i] = dim;
        size_t *acc = i == 0 ? &out->rows : &out->cols;
        if (dim && *acc > HITL_IDX_MAX_VALUES / dim) {
            st = hitl_error_set(err, HITL_ESHAPE, "'%s': the IDX header claims too many values",
                                path);
            goto done;
        }
        *acc *= dim;
    }
    if (out->rows && out->cols > HITL_IDX_MAX_VALUES / out->rows) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': the IDX header claims too many values", path);
        goto done;
    }
    size_t total = out->rows * out->cols;
    /* read in chunks, growing the output as values arrive */
    unsigned char buf[1 << 16];
    size_t have = 0, cap = 0, per = sizeof(buf) / ty->size;
    while (have < total) {
        size_t want = total - have < per ? total - have : per;
        int got = gzread(f, buf, (unsigned)(want * ty->size));
        if (got < 0 || (size_t)got < want * ty->size) {
            int zerr = 0;
            const char *why = got < 0 ? gzerror(f, &zerr) : "truncated";
            st = hitl_error_set(err, HITL_EDATA, "'%s': cannot read the IDX values: %s", path, why);
            goto done;
        }
        if (have + want > cap) {
            size_t nc = cap ? cap * 2 : per;
            if (nc < have + want) nc = have + want;
            if (nc > total) nc = total;
            float *v = realloc(out->values, nc * sizeof(float));
            if (!v) {
                st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
                goto done;
            }
            out->values = v;
            cap = nc;
        }
        for (size_t i = 0; i < want; i++)
            out->values[have + i] = (float)value_at(ty->code, buf + i * ty->size);
        have += want;
    }
    if (gzread(f, buf, 1) != 0) {
        st = hitl_error_set(err, HITL_EDATA, "'%s': data past the values the IDX header declares",
                            path);
        goto done;
    }
    if (!out->values && !(out->values = malloc(sizeof(float))))
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
done:
    gzclose(f);
    if (st != HITL_OK) hitl_idx_release(out);
    return st;
}
