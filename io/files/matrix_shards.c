/* Shards of one pool as one hitl_matrix: files holding the same columns, their rows numbered
 * across the files in the order given. Each read goes to the shard (or shards) its rows are in;
 * the class names are the first shard's, and every shard that names them must name the same.
 *
 * HDF5 allocates and clears a 1 MiB metadata cache for every file it holds open (256 pages),
 * more than the pass's own buffers for a narrow pool; one closed file's is reused by the next
 * open (hitl__h5_quiet). So where reads are serial anyway (any shard is HDF5:
 * hitl_matrix_concurrent is 0) and the opens are not collective (MPI), a shard is opened to
 * check it and closed again, and reads keep one shard open, reopening one they come back to
 * (a block across a boundary, or threads' blocks read out of order). A shard whose shape
 * changed between the two opens is an error. Four 2.5M x 10 shards: 1,313 page faults before,
 * 897 now, a single 10M x 10 file 878. */
#include <stdlib.h>
#include <string.h>

#include "h5_util.h"
#include "matrix_internal.h"
#include "hitl_banned.h"

enum { OPEN_MAX = 1 }; /* shards open at once while reading, where they are reopened */

typedef struct shards {
    hitl_matrix **part; /* NULL while closed */
    size_t n;
    size_t *first; /* [n + 1]: the first global row of each shard, then the total */
    char **path;   /* [n], to reopen */
    char *dset;
    char *name0; /* the first shard's hitl_matrix_name, for messages */
    int reopen;  /* close shards and reopen them as reads reach them */
    size_t n_open;
} shards;

static void shards_close(hitl_matrix *m)
{
    shards *s = m->impl;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        hitl_matrix_close(s->part[i]);
        free(s->path[i]);
    }
    free(s->part);
    free(s->path);
    free(s->first);
    free(s->dset);
    free(s->name0);
    free(s);
    m->impl = NULL;
}

static void close_part(shards *s, size_t i)
{
    if (!s->part[i]) return;
    hitl_matrix_close(s->part[i]);
    s->part[i] = NULL;
    s->n_open--;
}

/* Shard i, opened again if it was closed (closing the lowest-numbered open one to stay within
 * OPEN_MAX): its rows and columns must be those it had when first opened. */
static hitl_status part(hitl_matrix *m, size_t i, hitl_matrix **out, hitl_error *err)
{
    shards *s = m->impl;
    if (!s->part[i]) {
        for (size_t j = 0; s->n_open >= OPEN_MAX && j < s->n; j++)
            if (j != i) close_part(s, j);
        hitl_status st = hitl_matrix_open(&s->part[i], s->path[i], s->dset, err);
        if (st != HITL_OK) return st;
        s->n_open++;
        if (hitl_matrix_rows(s->part[i]) != s->first[i + 1] - s->first[i] ||
            hitl_matrix_cols(s->part[i]) != m->cols) {
            st = hitl_error_set(err, HITL_EDATA, "'%s' changed while it was read (now %zu x %zu)",
                                hitl_matrix_name(s->part[i]), hitl_matrix_rows(s->part[i]),
                                hitl_matrix_cols(s->part[i]));
            close_part(s, i);
            return st;
        }
    }
    *out = s->part[i];
    return HITL_OK;
}

/* The shard row `row` is in. */
static size_t shard_of(const shards *s, size_t row)
{
    size_t lo = 0, hi = s->n; /* first[lo] <= row < first[hi] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->first[mid] <= row)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Rows [row0, row0 + n) through `read` of each shard they are in. */
static hitl_status each_shard(hitl_matrix *m, size_t row0, size_t n, void *dst, size_t elem,
                              hitl_status (*read)(hitl_matrix *, size_t, size_t, void *,
                                                  hitl_error *),
                              hitl_error *err)
{
    shards *s = m->impl;
    for (size_t done = 0; done < n;) {
        size_t i = shard_of(s, row0 + done), local = row0 + done - s->first[i];
        size_t k = s->first[i + 1] - (row0 + done);
        if (k > n - done) k = n - done;
        hitl_matrix *p;
        hitl_status st = part(m, i, &p, err);
        if (st == HITL_OK) st = read(p, local, k, (char *)dst + done * m->cols * elem, err);
        if (st != HITL_OK) return st;
        done += k;
    }
    return HITL_OK;
}

static hitl_status read_f32(hitl_matrix *m, size_t row0, size_t n, void *dst, hitl_error *err)
{
    return hitl_matrix_read(m, row0, n, dst, err);
}

static hitl_status read_f64(hitl_matrix *m, size_t row0, size_t n, void *dst, hitl_error *err)
{
    return hitl_matrix_read_f64(m, row0, n, dst, err);
}

static hitl_status shards_read(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err)
{
    return each_shard(m, row0, n, dst, sizeof(float), read_f32, err);
}

static hitl_status shards_read_f64(hitl_matrix *m, size_t row0, size_t n, double *dst,
                                   hitl_error *err)
{
    return each_shard(m, row0, n, dst, sizeof(double), read_f64, err);
}

static hitl_status shards_classes(hitl_matrix *m, char ***names, size_t *n, hitl_error *err)
{
    shards *s = m->impl;
    hitl_matrix *p0, *p;
    *names = NULL;
    *n = 0;
    hitl_status st = part(m, 0, &p0, err);
    if (st == HITL_OK) st = hitl_matrix_classes(p0, names, n, err);
    for (size_t i = 1; st == HITL_OK && i < s->n; i++) {
        char **other;
        size_t k;
        if ((st = part(m, i, &p, err)) != HITL_OK ||
            (st = hitl_matrix_classes(p, &other, &k, err)) != HITL_OK)
            break;
        int same = k == 0 || k == *n;
        for (size_t c = 0; same && k && c < k; c++)
            same = strcmp(other[c], (*names)[c]) == 0;
        hitl_strings_free(other, k);
        if (!same)
            st = hitl_error_set(err, HITL_EDATA, "'%s' names its classes otherwise than '%s'",
                                hitl_matrix_name(p), s->name0);
    }
    if (st != HITL_OK) {
        hitl_strings_free(*names, *n);
        *names = NULL;
        *n = 0;
    }
    return st;
}

static const hitl__matrix_ops shards_ops = {
    shards_read, shards_read_f64, shards_classes, shards_close, NULL, NULL, NULL};

hitl_status hitl__matrix_open_shards(hitl_matrix *m, const char *const *paths, size_t n_paths,
                                     const char *dset, hitl_error *err)
{
    shards *s = calloc(1, sizeof(*s));
    if (s) s->part = calloc(n_paths, sizeof(*s->part));
    if (s) s->path = calloc(n_paths, sizeof(*s->path));
    if (s) s->first = calloc(n_paths + 1, sizeof(size_t));
    if (s && dset) s->dset = strdup(dset);
    m->impl = s;
    m->ops = &shards_ops;
    if (!s || !s->part || !s->path || !s->first || (dset && !s->dset)) {
        shards_close(m);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_status st = HITL_OK;
    m->concurrent = 1;
    for (size_t i = 0; st == HITL_OK && i < n_paths; i++) {
        if (!(s->path[i] = strdup(paths[i]))) {
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        s->n = i + 1;
        if ((st = hitl_matrix_open(&s->part[i], paths[i], dset, err)) != HITL_OK) break;
        s->n_open++;
        if (i == 0 && !(s->name0 = strdup(hitl_matrix_name(s->part[0])))) {
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        size_t cols = hitl_matrix_cols(s->part[i]);
        if (i > 0 && cols != m->cols)
            st = hitl_error_set(err, HITL_ESHAPE, "'%s' has %zu columns, '%s' %zu",
                                hitl_matrix_name(s->part[i]), cols, s->name0, m->cols);
        m->cols = cols;
        s->first[i + 1] = s->first[i] + hitl_matrix_rows(s->part[i]);
        m->concurrent &= hitl_matrix_concurrent(s->part[i]);
        /* From the first serial shard on, every shard is closed once checked. */
        s->reopen = !m->concurrent && !hitl__h5_collective();
        for (size_t j = 0; s->reopen && j <= i; j++)
            close_part(s, j);
    }
    if (st != HITL_OK) {
        shards_close(m);
        return st;
    }
    m->rows = s->first[s->n];
    return HITL_OK;
}
