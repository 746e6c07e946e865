/* Small string and sizing helpers of the io layer: name lists (class names from a CSV option or
 * a file attribute), the default block size of a streaming pass, and the release of an
 * export's labels (here, not beside its HDF5 reader, so that the store's verifier can free
 * what a caller's reader gave it without linking HDF5). */
#include <stdlib.h>
#include <string.h>

#include "hitl_files.h"
#include "hitl_banned.h"

size_t hitl_block_rows(size_t cols)
{
    if (cols == 0 || cols > HITL_BLOCK_BYTES / sizeof(float)) return 1; /* a row a block */
    return HITL_BLOCK_BYTES / (cols * sizeof(float));
}

void hitl_strings_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

hitl_status hitl_strings_split(const char *csv, char ***names, size_t *n, hitl_error *err)
{
    if (!names || !n) return hitl_error_set(err, HITL_EINVAL, "no output for names given");
    *names = NULL;
    *n = 0;
    if (!csv) return hitl_error_set(err, HITL_EINVAL, "no names given");

    size_t count = 1;
    for (const char *p = csv; *p; p++)
        count += *p == ',';
    char **v = calloc(count, sizeof(*v));
    if (!v) return hitl_error_set(err, HITL_ENOMEM, "out of memory");

    const char *p = csv;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && is_blank(*b))
            b++;
        while (e > b && is_blank(e[-1]))
            e--;
        if (b == e) {
            hitl_strings_free(v, i);
            return hitl_error_set(err, HITL_EINVAL, "empty name at position %zu in '%s'", i + 1,
                                  csv);
        }
        v[i] = malloc((size_t)(e - b) + 1);
        if (!v[i]) {
            hitl_strings_free(v, i);
            return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        }
        memcpy(v[i], b, (size_t)(e - b));
        v[i][e - b] = '\0';
        p = end + 1;
    }
    *names = v;
    *n = count;
    return HITL_OK;
}

void hitl_export_labels_release(hitl_export_labels *e)
{
    if (!e) return;
    hitl_strings_free(e->ids, e->n);
    hitl_strings_free(e->labels, e->n);
    memset(e, 0, sizeof(*e));
}
