/* Ratings files: RFC 4180 records (io/files/text.c's reader, strict about quotes) interned into
 * a ratings table of item, annotator and label names, the final-labels reader, and the writer
 * of aggregated labels. Every error names the file and the line. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_files.h"
#include "text_internal.h"
#include "hitl_banned.h"

/* ---- names and the line each was first seen on ------------------------------------------- */
typedef struct strmap {
    hitl_strmap map;
    int64_t *line; /* per entry: first line it was seen on */
    size_t cap;
} strmap;

static void strmap_release(strmap *m)
{
    hitl_strmap_release(&m->map);
    free(m->line);
    memset(m, 0, sizeof(*m));
}

static const char *strmap_name(const strmap *m, size_t i)
{
    return hitl_strmap_name(&m->map, i);
}

/* Index of `s` (len bytes, no NUL inside), added (first seen on `line`) when new; -1 when out
 * of memory or full. */
static int64_t strmap_intern(strmap *m, const char *s, size_t len, int64_t line)
{
    size_t before = m->map.n;
    int64_t i = hitl_strmap_intern(&m->map, s, len);
    if (i < 0 || m->map.n == before) return i;
    if ((size_t)i >= m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 256;
        int64_t *nl = realloc(m->line, nc * sizeof(int64_t));
        if (!nl) return -1;
        m->line = nl;
        m->cap = nc;
    }
    m->line[i] = line;
    return i;
}

/* ---- the CSV records ---------------------------------------------------------------------- */
/* Quotes are strict here: a stray quote is far more often a mistake than a name. */
static const hitl__csv_opts ratings_csv = {',', 1};

/* Reads the header and finds the wanted columns (want[i] -> col[i]). */
static hitl_status csv_header(hitl__csv_reader *c, const char *const *want, size_t n_want,
                              size_t *col, hitl_error *err)
{
    int got;
    hitl_status st;
    do
        st = hitl__csv_next(c, &got, err);
    while (st == HITL_OK && got && hitl__csv_blank(c));
    if (st != HITL_OK) return st;
    if (!got) {
        char need[128];
        size_t k = 0;
        for (size_t i = 0; i < n_want; i++)
            k += (size_t)snprintf(need + k, sizeof(need) - k, "%s%s", i ? "," : "", want[i]);
        return hitl_error_set(err, HITL_EDATA, "'%s': empty file (need a header %s)", c->path,
                              need);
    }
    for (size_t i = 0; i < n_want; i++) {
        col[i] = SIZE_MAX;
        for (size_t f = 0; f < c->n_fields; f++) {
            const char *name = hitl__csv_get(c, f);
            size_t len = strlen(name);
            while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
                len--;
            while (len && (*name == ' ' || *name == '\t'))
                name++, len--;
            if (strlen(want[i]) != len || strncmp(name, want[i], len) != 0) continue;
            if (col[i] != SIZE_MAX)
                return hitl_error_set(err, HITL_EDATA, "'%s' line %lld: two '%s' columns", c->path,
                                      (long long)c->record_line, want[i]);
            col[i] = f;
        }
        if (col[i] == SIZE_MAX)
            return hitl_error_set(err, HITL_EDATA,
                                  "'%s' line %lld: no '%s' column in the header (need %s)", c->path,
                                  (long long)c->record_line, want[i],
                                  n_want == 3 ? "item, annotator and label" : "item and label");
    }
    return HITL_OK;
}

/* ---- numbers --------------------------------------------------------------------------------- */
static int parse_number(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s) return 0;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end || errno == ERANGE || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* ---- the ratings reader ------------------------------------------------------------------------
 */
typedef struct growing {
    int32_t *item, *ann, *lab;
    int64_t *line;
    size_t n, cap;
} growing;

static int growing_push(growing *g, int32_t item, int32_t ann, int32_t lab, int64_t line)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 4096;
        int32_t *a = realloc(g->item, nc * sizeof(int32_t));
        if (a) g->item = a;
        int32_t *b = realloc(g->ann, nc * sizeof(int32_t));
        if (b) g->ann = b;
        int32_t *c = realloc(g->lab, nc * sizeof(int32_t));
        if (c) g->lab = c;
        int64_t *d = realloc(g->line, nc * sizeof(int64_t));
        if (d) g->line = d;
        if (!a || !b || !c || !d) return -1;
        g->cap = nc;
    }
    g->item[g->n] = item;
    g->ann[g->n] = ann;
    g->lab[g->n] = lab;
    g->line[g->n++] = line;
    return 0;
}

static void growing_release(growing *g)
{
    free(g->item);
    free(g->ann);
    free(g->lab);
    free(g->line);
}

void hitl_ratings_file_release(hitl_ratings_file *f)
{
    if (!f) return;
    hitl_ratings_release(&f->table);
    hitl_strings_free(f->items, f->n_items);
    hitl_strings_free(f->annotators, f->n_annotators);
    hitl_strings_free(f->labels, f->n_labels);
    memset(f, 0, sizeof(*f));
}

static char **copy_names(const strmap *m, const int64_t *order, size_t n)
{
    char **v = calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; v && i < n; i++) {
        const char *s = strmap_name(m, order ? (size_t)order[i] : i);
        size_t len = strlen(s) + 1;
        v[i] = malloc(len);
        if (!v[i]) {
            hitl_strings_free(v, i);
            return NULL;
        }
        memcpy(v[i], s, len);
    }
    return v;
}

typedef struct label_key {
    double value;
    int64_t line;
    const char *name;
    size_t prov;
} label_key;

static int cmp_label_value(const void *a, const void *b)
{
    const label_key *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_label_name(const void *a, const void *b)
{
    const label_key *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* The given classes o->labels, in order: map[prov] = the class a label names (HITL_EDATA, naming
 * the first line, when one names none); *numeric when every class is a number, then its values
 * too. *n is set first, so that on error the caller frees *names with it. */
static hitl_status given_classes(const label_key *k, size_t P, const hitl_ratings_read_opts *o,
                                 const char *path, int32_t *map, char ***names, double **values,
                                 size_t *n_out, int *numeric, hitl_error *err)
{
    size_t n = o->n_labels;
    *n_out = n;
    int given_numeric = 1;
    for (size_t c = 0; c < n; c++) {
        double v;
        given_numeric &= parse_number(o->labels[c], &v);
        for (size_t d = 0; d < c; d++)
            if (strcmp(o->labels[c], o->labels[d]) == 0)
                return hitl_error_set(err, HITL_EINVAL, "class '%s' is listed twice", o->labels[c]);
    }
    for (size_t i = 0; i < P; i++) {
        map[i] = -1;
        for (size_t c = 0; c < n && map[i] < 0; c++)
            if (strcmp(k[i].name, o->labels[c]) == 0) map[i] = (int32_t)c;
    }
    /* the first unknown label, by line */
    size_t bad = SIZE_MAX;
    for (size_t i = 0; i < P; i++)
        if (map[i] < 0 && (bad == SIZE_MAX || k[i].line < k[bad].line)) bad = i;
    if (bad != SIZE_MAX) {
        char list[200];
        size_t len = 0;
        for (size_t c = 0; c < n && len < sizeof(list) - 1; c++)
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", c ? ", " : "",
                                    o->labels[c]);
        return hitl_error_set(err, HITL_EDATA,
                              "'%s' line %lld: label '%s' is not one of the classes (%s)", path,
                              (long long)k[bad].line, k[bad].name, list);
    }
    *numeric = given_numeric;
    *names = calloc(n ? n : 1, sizeof(char *));
    if (!*names) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t c = 0; c < n; c++) {
        size_t len = strlen(o->labels[c]) + 1;
        (*names)[c] = malloc(len);
        if (!(*names)[c]) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        memcpy((*names)[c], o->labels[c], len);
    }
    if (given_numeric) {
        *values = malloc((n ? n : 1) * sizeof(double));
        if (!*values) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        for (size_t c = 0; c < n; c++)
            parse_number(o->labels[c], &(*values)[c]);
    }
    return HITL_OK;
}

/* Numeric labels by value, equal values merged ("1" and "1.0" are one label, named as first
 * seen); sorts k. */
static hitl_status labels_by_value(const strmap *lm, label_key *k, size_t P, int32_t *map,
                                   char ***names, double **values, size_t *n_out, int *numeric,
                                   hitl_error *err)
{
    size_t n = 0;
    qsort(k, P, sizeof(*k), cmp_label_value);
    int64_t *first = malloc((P ? P : 1) * sizeof(int64_t));
    *values = malloc((P ? P : 1) * sizeof(double));
    if (!first || !*values) {
        free(first);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < P; i++) {
        if (i == 0 || k[i].value != k[i - 1].value) {
            (*values)[n] = k[i].value;
            first[n++] = (int64_t)k[i].prov;
        }
        map[k[i].prov] = (int32_t)(n - 1);
    }
    *n_out = n;
    *names = copy_names(lm, first, n);
    free(first);
    if (!*names) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    *numeric = 1;
    return HITL_OK;
}

/* Labels by name in byte order; sorts k. */
static hitl_status labels_by_name(const strmap *lm, label_key *k, size_t P, int32_t *map,
                                  char ***names, size_t *n_out, int *numeric, hitl_error *err)
{
    qsort(k, P, sizeof(*k), cmp_label_name);
    int64_t *ord = malloc((P ? P : 1) * sizeof(int64_t));
    if (!ord) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < P; i++) {
        ord[i] = (int64_t)k[i].prov;
        map[k[i].prov] = (int32_t)i;
    }
    *n_out = P;
    *names = copy_names(lm, ord, P);
    free(ord);
    if (!*names) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    *numeric = 0;
    return HITL_OK;
}

/* HITL_EDATA when the level needs numbers (interval, ratio) and the labels are not all numbers,
 * naming the first label, by line, that is not one. */
static hitl_status check_numeric(const strmap *lm, const hitl_ratings_read_opts *o,
                                 const char *path, int numeric, hitl_error *err)
{
    int need_numeric = o && (o->level == HITL_LEVEL_INTERVAL || o->level == HITL_LEVEL_RATIO);
    if (!need_numeric || numeric) return HITL_OK;
    const char *bad = NULL;
    int64_t bad_line = INT64_MAX;
    for (size_t i = 0; i < lm->map.n; i++) {
        double v;
        const char *s = strmap_name(lm, i);
        if (!parse_number(s, &v) && lm->line[i] < bad_line) {
            bad = s;
            bad_line = lm->line[i];
        }
    }
    if (bad)
        return hitl_error_set(err, HITL_EDATA,
                              "'%s' line %lld: label '%s' is not a number (the %s level needs "
                              "numeric labels)",
                              path, (long long)bad_line, bad, hitl_level_name(o->level));
    return hitl_error_set(err, HITL_EDATA,
                          "'%s': the classes are not all numbers (the %s level needs "
                          "numeric labels)",
                          path, hitl_level_name(o->level));
}

/* Orders the labels seen (provisional indices 0..P) into the final label set: the given classes,
 * else numbers by value (equal values merge: "1" and "1.0" are one label), else names in byte
 * order. map[prov] = final index; names / values / n filled. */
static hitl_status order_labels(const strmap *lm, const hitl_ratings_read_opts *o, const char *path,
                                int32_t *map, char ***names, double **values, size_t *n_out,
                                int *numeric, hitl_error *err)
{
    size_t P = lm->map.n;
    label_key *k = calloc(P ? P : 1, sizeof(*k));
    if (!k) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    int all_numeric = 1;
    for (size_t i = 0; i < P; i++) {
        k[i] = (label_key){0, lm->line[i], strmap_name(lm, i), i};
        all_numeric &= parse_number(k[i].name, &k[i].value);
    }
    hitl_status st;
    size_t n = 0;
    if (o && o->labels)
        st = given_classes(k, P, o, path, map, names, values, &n, numeric, err);
    else if (all_numeric)
        st = labels_by_value(lm, k, P, map, names, values, &n, numeric, err);
    else
        st = labels_by_name(lm, k, P, map, names, &n, numeric, err);
    if (st == HITL_OK) st = check_numeric(lm, o, path, *numeric, err);
    if (st == HITL_OK) {
        *n_out = n;
    } else {
        hitl_strings_free(*names, n);
        *names = NULL;
        free(*values);
        *values = NULL;
    }
    free(k);
    return st;
}

static const char *const rating_columns[3] = {"item", "annotator", "label"};

/* Reads the records after the header: each one's item, annotator and label (in columns col)
 * interned into maps and the triple kept in g with its line. */
static hitl_status read_ratings(hitl__csv_reader *c, const char *path, const size_t col[3],
                                strmap *const maps[3], growing *g, hitl_error *err)
{
    hitl_status st;
    size_t n_cols = c->n_fields;
    for (;;) {
        int got;
        if ((st = hitl__csv_next(c, &got, err)) != HITL_OK) return st;
        if (!got) break;
        if (hitl__csv_blank(c)) continue;
        if ((st = hitl__csv_check_fields(c, n_cols, err)) != HITL_OK) return st;
        int64_t idx[3];
        for (int f = 0; f < 3; f++) {
            const char *v = hitl__csv_get(c, col[f]);
            if (!v[0])
                return hitl_error_set(err, HITL_EDATA, "'%s' line %lld: empty %s", path,
                                      (long long)c->record_line, rating_columns[f]);
            idx[f] = strmap_intern(maps[f], v, strlen(v), c->record_line);
            if (idx[f] < 0)
                return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory (or too many names)",
                                      path);
        }
        if (growing_push(g, (int32_t)idx[0], (int32_t)idx[1], (int32_t)idx[2], c->record_line))
            return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    }
    return HITL_OK;
}

hitl_status hitl_ratings_csv_read(const char *path, const hitl_ratings_read_opts *o,
                                  hitl_ratings_file *out, hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    if (!path) return hitl_error_set(err, HITL_EINVAL, "no ratings file given");
    if (o && o->labels && o->n_labels == 0)
        return hitl_error_set(err, HITL_EINVAL, "empty class list");
    hitl__csv_reader c;
    strmap items = {0}, anns = {0}, labs = {0};
    growing g = {0};
    int32_t *map = NULL;
    double *values = NULL;
    char **label_names = NULL;
    size_t n_labels = 0;
    int numeric = 0;
    hitl_status st = hitl__csv_open(&c, path, &ratings_csv, err);
    if (st != HITL_OK) return st;
    size_t col[3];
    if ((st = csv_header(&c, rating_columns, 3, col, err)) != HITL_OK) goto done;
    strmap *const maps[3] = {&items, &anns, &labs};
    if ((st = read_ratings(&c, path, col, maps, &g, err)) != HITL_OK) goto done;
    if (g.n == 0) {
        st = hitl_error_set(err, HITL_EDATA, "'%s': no ratings after the header", path);
        goto done;
    }
    if (anns.map.n < 2) {
        st = hitl_error_set(err, HITL_EDATA,
                            "'%s': only one annotator ('%s'): agreement and aggregation need at "
                            "least two",
                            path, strmap_name(&anns, 0));
        goto done;
    }
    map = malloc(labs.map.n * sizeof(int32_t));
    if (!map) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
        goto done;
    }
    if ((st = order_labels(&labs, o, path, map, &label_names, &values, &n_labels, &numeric, err)) !=
        HITL_OK)
        goto done;
    for (size_t i = 0; i < g.n; i++)
        g.lab[i] = map[g.lab[i]];
    hitl_error e2;
    st = hitl_ratings_build(&out->table, items.map.n, anns.map.n, n_labels, g.item, g.ann, g.lab,
                            g.n, numeric ? values : NULL, &e2);
    if (st == HITL_EDATA && e2.row >= 0) { /* a duplicate (item, annotator): name both lines */
        size_t k = (size_t)e2.row, first = k;
        for (size_t i = 0; i < g.n && first == k; i++)
            if (i != k && g.item[i] == g.item[k] && g.ann[i] == g.ann[k]) first = i;
        st = hitl_error_set(err, HITL_EDATA,
                            "'%s' line %lld: annotator '%s' rated item '%s' twice (also on line "
                            "%lld)",
                            path, (long long)g.line[k], strmap_name(&anns, (size_t)g.ann[k]),
                            strmap_name(&items, (size_t)g.item[k]), (long long)g.line[first]);
        goto done;
    } else if (st != HITL_OK) {
        if (err) *err = e2;
        goto done;
    }
    out->n_items = items.map.n;
    out->n_annotators = anns.map.n;
    out->n_labels = n_labels;
    out->numeric = numeric;
    out->items = copy_names(&items, NULL, items.map.n);
    out->annotators = copy_names(&anns, NULL, anns.map.n);
    out->labels = label_names;
    label_names = NULL;
    if (!out->items || !out->annotators) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
        goto done;
    }
done:
    hitl__csv_close(&c);
    strmap_release(&items);
    strmap_release(&anns);
    strmap_release(&labs);
    growing_release(&g);
    free(map);
    free(values);
    hitl_strings_free(label_names, n_labels);
    if (st != HITL_OK) hitl_ratings_file_release(out);
    return st;
}

/* ---- final labels ---------------------------------------------------------------------------- */
hitl_status hitl_final_labels_csv_read(const char *path, const hitl_ratings_file *f, int32_t *final,
                                       hitl_error *err)
{
    if (!path || !f || !final) return hitl_error_set(err, HITL_EINVAL, "no final labels given");
    for (size_t u = 0; u < f->n_items; u++)
        final[u] = -1;
    strmap items = {0};
    for (size_t u = 0; u < f->n_items; u++)
        if (strmap_intern(&items, f->items[u], strlen(f->items[u]), 0) != (int64_t)u) {
            strmap_release(&items);
            return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        }
    hitl__csv_reader c;
    hitl_status st = hitl__csv_open(&c, path, &ratings_csv, err);
    static const char *const want[2] = {"item", "label"};
    size_t col[2];
    if (st == HITL_OK) st = csv_header(&c, want, 2, col, err);
    size_t n_cols = c.n_fields;
    int64_t *seen = st == HITL_OK ? calloc(f->n_items ? f->n_items : 1, sizeof(int64_t)) : NULL;
    if (st == HITL_OK && !seen) st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    while (st == HITL_OK) {
        int got;
        if ((st = hitl__csv_next(&c, &got, err)) != HITL_OK || !got) break;
        if (hitl__csv_blank(&c)) continue;
        if ((st = hitl__csv_check_fields(&c, n_cols, err)) != HITL_OK) break;
        const char *it = hitl__csv_get(&c, col[0]), *lb = hitl__csv_get(&c, col[1]);
        /* an item not in the ratings gets an index past them: nothing to compare it with */
        int64_t u = strmap_intern(&items, it, strlen(it), c.record_line);
        if (u < 0) {
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        if ((size_t)u >= f->n_items) continue;
        int64_t l = -1;
        for (size_t k = 0; k < f->n_labels && l < 0; k++)
            if (strcmp(f->labels[k], lb) == 0) l = (int64_t)k;
        double v;
        if (l < 0 && f->numeric && f->table.value && parse_number(lb, &v))
            for (size_t k = 0; k < f->n_labels && l < 0; k++)
                if (f->table.value[k] == v) l = (int64_t)k;
        if (l < 0) {
            st = hitl_error_set(err, HITL_EDATA,
                                "'%s' line %lld: final label '%s' is not a label of the ratings",
                                path, (long long)c.record_line, lb);
            break;
        }
        if (seen[u]) {
            st = hitl_error_set(err, HITL_EDATA,
                                "'%s' line %lld: item '%s' has two final labels (also on line "
                                "%lld)",
                                path, (long long)c.record_line, it, (long long)seen[u]);
            break;
        }
        seen[u] = c.record_line;
        final[u] = (int32_t)l;
    }
    free(seen);
    hitl__csv_close(&c);
    strmap_release(&items);
    return st;
}

/* ---- aggregated labels out --------------------------------------------------------------------
 */
static int put_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) return fputs(s, f) < 0 ? -1 : 0;
    if (fputc('"', f) == EOF) return -1;
    for (; *s; s++)
        if ((*s == '"' && fputc('"', f) == EOF) || fputc(*s, f) == EOF) return -1;
    return fputc('"', f) == EOF ? -1 : 0;
}

static int put_number(FILE *f, double v)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.9g", v);
    return fputs(buf, f) < 0 ? -1 : 0;
}

static const char *vote_status(int status)
{
    return status == HITL_VOTE_CLEAR ? "decided" : status == HITL_VOTE_TIE ? "tie" : "none";
}

hitl_status hitl_aggregate_csv_write(const char *path, const hitl_ratings_file *rf,
                                     const hitl_vote *votes, const hitl_ds_result *ds,
                                     hitl_error *err)
{
    if (!path || !rf || (!votes && !ds))
        return hitl_error_set(err, HITL_EINVAL, "nothing to write");
    FILE *f = fopen(path, "wb");
    if (!f) return hitl_error_set(err, HITL_EIO, "cannot create '%s': %s", path, strerror(errno));
    int bad = 0;
    if (votes) {
        bad |= fputs("item,label,status,votes,ratings\n", f) < 0;
        for (size_t u = 0; u < rf->n_items && !bad; u++) {
            const hitl_vote *v = &votes[u];
            char num[64];
            bad |= put_field(f, rf->items[u]) || fputc(',', f) == EOF;
            if (v->label >= 0) bad |= put_field(f, rf->labels[v->label]);
            snprintf(num, sizeof(num), ",%s,%d,%d\n", vote_status(v->status), v->votes, v->n);
            bad |= fputs(num, f) < 0;
        }
    } else {
        bad |= fputs("item,label,status,posterior,ratings", f) < 0;
        for (size_t l = 0; l < rf->n_labels && !bad; l++) {
            char name[64 + 8];
            bad |= fputc(',', f) == EOF;
            size_t len = strlen(rf->labels[l]);
            if (len < 64) {
                snprintf(name, sizeof(name), "p_%s", rf->labels[l]);
                bad |= put_field(f, name);
            } else {
                bad |= fputs("p_", f) < 0 || put_field(f, rf->labels[l]);
            }
        }
        bad |= fputc('\n', f) == EOF;
        for (size_t u = 0; u < rf->n_items && !bad; u++) {
            const double *p = ds->posterior + u * ds->n_labels;
            int64_t n = rf->table.item_ptr[u + 1] - rf->table.item_ptr[u];
            int32_t l = ds->label[u];
            size_t best = 0;
            for (size_t k = 1; k < ds->n_labels; k++)
                if (p[k] > p[best]) best = k;
            char num[64];
            bad |= put_field(f, rf->items[u]) || fputc(',', f) == EOF;
            if (l >= 0) bad |= put_field(f, rf->labels[l]);
            snprintf(num, sizeof(num), ",%s,", n == 0 ? "none" : l >= 0 ? "decided" : "tie");
            bad |= fputs(num, f) < 0 || put_number(f, p[best]);
            snprintf(num, sizeof(num), ",%lld", (long long)n);
            bad |= fputs(num, f) < 0;
            for (size_t k = 0; k < ds->n_labels && !bad; k++)
                bad |= fputc(',', f) == EOF || put_number(f, p[k]);
            bad |= fputc('\n', f) == EOF;
        }
    }
    if (fclose(f) != 0) bad = 1;
    if (bad) return hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", path, strerror(errno));
    return HITL_OK;
}
