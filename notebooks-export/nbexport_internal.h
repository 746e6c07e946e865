/* Internal to notebooks-export: XML and markdown escaping into the engine's hitl_buf
 * (escape.c), shared by the SVG charts and the notebooks' markdown, and the cell builders both
 * notebooks (the QA report, the learning curves) are assembled with (cells.c). */
#ifndef HITL_NBEXPORT_INTERNAL_H
#define HITL_NBEXPORT_INTERNAL_H

#include "hitl_nbexport.h"

/* Appends `text` with &, <, >, " and ' escaped; when max > 0, at most max bytes of it (cut at a
 * UTF-8 character boundary) followed by "...". */
void hitl__buf_xml(hitl_buf *s, const char *text, size_t max);
/* Appends `text` for a markdown table cell: | and line breaks escaped, HTML-escaped. */
void hitl__buf_md(hitl_buf *s, const char *text);

/* ---- notebook cells (cells.c) ---- */

/* An nbformat 4.5 notebook being built. The cell builders record a failure in `bad` or
 * `bad_utf8` and go on; hitl__nb_finish() turns them into a status. Set up with hitl__nb_init();
 * hitl__nb_finish() releases it. */
typedef struct hitl__nb {
    struct json_t *cells;
    int next_id;  /* the next cell id's number: hitl-01-summary, hitl-02-... */
    int bad;      /* out of memory */
    int bad_utf8; /* a name or text that is not UTF-8 */
} hitl__nb;

/* The "hitl" notebook metadata: key and value borrowed; a NULL value is written as null. */
typedef struct hitl__nb_meta {
    const char *key, *value;
} hitl__nb_meta;

/* HITL_ENOMEM. */
hitl_status hitl__nb_init(hitl__nb *b, hitl_error *err);
/* Appends a markdown cell with `text` as its source; releases text. */
void hitl__nb_markdown(hitl__nb *b, const char *slug, hitl_buf *text);
/* Appends a code cell, not yet run, with `source` (borrowed) as its source. */
void hitl__nb_code(hitl__nb *b, const char *slug, const char *source);
/* The same with a buffer's text; releases source. */
void hitl__nb_code_buf(hitl__nb *b, const char *slug, hitl_buf *source);
/* Appends a chart: a code cell whose output is `svg`, tagged skip-execution so running the
 * notebook keeps the picture, with the one hidden source line "# TITLE: drawn by BY (...)".
 * Steals svg; NULL (the drawing failed) counts as out of memory. */
void hitl__nb_chart(hitl__nb *b, const char *slug, const char *title, const char *by, char *svg);
/* The notebook as JSON text: nbformat 4.5, a Python 3 kernel, metadata.hitl holding meta[0, n)
 * in order, then the cells. Releases b. Caller owns *text (NULL on error); release with free().
 * HITL_EDATA (a text was not UTF-8), HITL_ENOMEM. */
hitl_status hitl__nb_finish(hitl__nb *b, const hitl__nb_meta *meta, size_t n, char **text,
                            hitl_error *err);
/* Writes `text` and a newline to `path`, removing the file again when that fails. Steals text.
 * HITL_EIO. */
hitl_status hitl__nb_write(char *text, const char *path, hitl_error *err);

/* Appends `v` formatted with `fmt` (one double conversion), or "n/a" when it is not finite. */
void hitl__buf_num(hitl_buf *s, double v, const char *fmt);
/* Appends `text` as a Python string literal (JSON's escapes are Python's), None for NULL; text
 * that is not UTF-8 marks s out of memory, so the cell it goes into fails. */
void hitl__buf_py_str(hitl_buf *s, const char *text);

#endif /* HITL_NBEXPORT_INTERNAL_H */
