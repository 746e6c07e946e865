/* The cells both notebooks are built from (markdown, code, SVG charts), the nbformat 4.5 document
 * around them and the file it is written to, as jansson JSON. Names and texts come from users:
 * each is checked to be UTF-8, as JSON needs, and a failure is reported once, at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nbexport_internal.h"
#include "hitl_banned.h"

/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as JSON needs. */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        int more = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (more < 0 || (more == 1 && c < 0xC2)) return 0;
        unsigned cp = more == 0 ? c : more == 1 ? c & 0x1F : more == 2 ? c & 0x0F : c & 0x07;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (*p & 0x3F);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
    }
    return 1;
}

static json_t *text_value(hitl__nb *b, const char *s)
{
    if (!utf8_valid(s)) {
        b->bad_utf8 = 1;
        return NULL;
    }
    json_t *v = json_string(s);
    if (!v) b->bad = 1;
    return v;
}

static json_t *cell_base(hitl__nb *b, const char *type, const char *slug)
{
    char id[64];
    snprintf(id, sizeof(id), "hitl-%02d-%s", b->next_id++, slug);
    json_t *c = json_pack("{s:s, s:s, s:{}}", "id", id, "cell_type", type, "metadata");
    if (!c || json_array_append_new(b->cells, c)) b->bad = 1;
    return c;
}

/* A cell of `type` with `source` (NULL: its buffer ran out of memory); NULL on failure. */
static json_t *source_cell(hitl__nb *b, const char *type, const char *slug, const char *source)
{
    json_t *c = cell_base(b, type, slug);
    json_t *v = source ? text_value(b, source) : NULL;
    if (json_object_set_new(c, "source", v)) { /* releases v when c is NULL */
        b->bad |= !b->bad_utf8;
        return NULL;
    }
    return c;
}

static json_t *code_cell(hitl__nb *b, const char *slug, const char *source)
{
    json_t *c = source_cell(b, "code", slug, source);
    if (c && (json_object_set_new(c, "execution_count", json_null()) ||
              json_object_set_new(c, "outputs", json_array()))) {
        b->bad = 1;
        return NULL;
    }
    return c;
}

hitl_status hitl__nb_init(hitl__nb *b, hitl_error *err)
{
    *b = (hitl__nb){json_array(), 1, 0, 0};
    return b->cells ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory");
}

void hitl__nb_markdown(hitl__nb *b, const char *slug, hitl_buf *text)
{
    source_cell(b, "markdown", slug, text->oom ? NULL : text->p ? text->p : "");
    hitl_buf_release(text);
}

void hitl__nb_code(hitl__nb *b, const char *slug, const char *source)
{
    code_cell(b, slug, source);
}

void hitl__nb_code_buf(hitl__nb *b, const char *slug, hitl_buf *source)
{
    code_cell(b, slug, source->oom ? NULL : source->p ? source->p : "");
    hitl_buf_release(source);
}

void hitl__nb_chart(hitl__nb *b, const char *slug, const char *title, const char *by, char *svg)
{
    if (!svg) {
        b->bad = 1;
        return;
    }
    hitl_buf src = {0};
    hitl_buf_printf(&src,
                    "# %s: drawn by %s (tagged skip-execution: running the notebook keeps the "
                    "chart)",
                    title, by);
    json_t *c = code_cell(b, slug, src.oom ? NULL : src.p);
    hitl_buf_release(&src);
    json_t *image = text_value(b, svg);
    json_t *out = json_pack("{s:s, s:{s:o, s:s}, s:{}}", "output_type", "display_data", "data",
                            "image/svg+xml", image, "text/plain", title, "metadata");
    free(svg);
    /* appending releases out when there is no cell */
    if (json_array_append_new(c ? json_object_get(c, "outputs") : NULL, out) ||
        json_object_set_new(
            c, "metadata",
            json_pack("{s:[s], s:{s:b}}", "tags", "skip-execution", "jupyter", "source_hidden", 1)))
        b->bad |= !b->bad_utf8;
}

hitl_status hitl__nb_finish(hitl__nb *b, const hitl__nb_meta *meta, size_t n, char **text,
                            hitl_error *err)
{
    *text = NULL;
    json_t *hitl = json_object();
    for (size_t i = 0; hitl && i < n; i++)
        if (json_object_set_new(hitl, meta[i].key,
                                meta[i].value ? json_string(meta[i].value) : json_null()))
            b->bad |= !b->bad_utf8;
    json_t *nbk = json_pack("{s:i, s:i, s:{s:{s:s, s:s, s:s}, s:{s:s}, s:o}, s:o}", "nbformat", 4,
                            "nbformat_minor", 5, "metadata", "kernelspec", "display_name",
                            "Python 3", "language", "python", "name", "python3", "language_info",
                            "name", "python", "hitl", hitl, "cells", b->cells);
    b->cells = NULL;
    if (b->bad_utf8) {
        json_decref(nbk);
        return hitl_error_set(err, HITL_EDATA, "a name in the report is not valid UTF-8");
    }
    if (b->bad || !nbk) {
        json_decref(nbk);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for the notebook");
    }
    *text = json_dumps(nbk, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(nbk);
    if (!*text) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return HITL_OK;
}

hitl_status hitl__nb_write(char *text, const char *path, hitl_error *err)
{
    FILE *f = fopen(path, "wb");
    size_t n = strlen(text);
    int bad = !f || fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF;
    if (f && fclose(f) != 0) bad = 1;
    free(text);
    if (bad) {
        if (f) remove(path);
        return hitl_error_set(err, HITL_EIO, "cannot write '%s'", path);
    }
    return HITL_OK;
}

void hitl__buf_num(hitl_buf *s, double v, const char *fmt)
{
    if (isfinite(v))
        hitl_buf_printf(s, fmt, v);
    else
        hitl_buf_puts(s, "n/a");
}

void hitl__buf_py_str(hitl_buf *s, const char *text)
{
    json_t *j = text ? json_string(text) : NULL;
    char *lit = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    if (text && !lit)
        s->oom = 1; /* not UTF-8 or out of memory */
    else
        hitl_buf_puts(s, lit ? lit : "None");
    free(lit);
    json_decref(j);
}
