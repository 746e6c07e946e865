/* Internal to io/files: numbers as the exports write them, RFC 4180 field quoting, JSON string
 * quoting and a streaming RFC 4180 record reader, shared by the CSV/JSONL exports, the Label
 * Studio reader and the ratings CSV. No SQLite, HDF5 or jansson here, so the Check tests can use
 * it directly. */
#ifndef HITL_TEXT_INTERNAL_H
#define HITL_TEXT_INTERNAL_H

#include <stdio.h>

#include "hitl_files.h"

/* A number as "%.9g" text (enough to read a float32 back exactly; integers as integers); ""
 * for NaN. */
void hitl__text_float(hitl_buf *t, double v);

/* Appends `s` (NULL: empty) as one RFC 4180 field: enclosed in double quotes when it holds a
 * comma, a double quote, CR or LF, with every double quote doubled. */
void hitl__csv_field(hitl_buf *t, const char *s);
/* Appends `s` as a JSON string literal: quotes, backslash and control characters escaped
 * (\n, \t, ... or \u00XX); other bytes (UTF-8) copied as they are. */
void hitl__json_quote(hitl_buf *t, const char *s);

/* Reads RFC 4180 records one at a time with memory bounded by the longest record: fields
 * separated by commas, optionally enclosed in double quotes (then they may hold commas, doubled
 * quotes and line breaks), records ended by LF or CRLF; a UTF-8 byte order mark is skipped. */
typedef struct hitl__csv_reader {
    FILE *f;
    const char *path;
    hitl_buf buf;
    size_t *start; /* each field's offset in buf */
    size_t n_fields, cap_fields;
    int64_t line;        /* lines read so far */
    int64_t record_line; /* the line the current record starts on */
} hitl__csv_reader;

/* Opens `path` (borrowed: must outlive the reader). HITL_EIO when it cannot be read. */
hitl_status hitl__csv_open(hitl__csv_reader *r, const char *path, hitl_error *err);
/* Reads `len` bytes of `text` (borrowed: kept until close) instead of a file. */
hitl_status hitl__csv_open_text(hitl__csv_reader *r, const char *text, size_t len, hitl_error *err);
/* Reads the next record; *got = 0 at the end of the input. HITL_EDATA naming the line for an
 * unterminated quoted field or text after a closing quote; HITL_EIO for a read error. */
hitl_status hitl__csv_next(hitl__csv_reader *r, int *got, hitl_error *err);
/* Field i of the current record (NUL-terminated; "" past the last field). */
const char *hitl__csv_get(const hitl__csv_reader *r, size_t i);
void hitl__csv_close(hitl__csv_reader *r);

#endif /* HITL_TEXT_INTERNAL_H */
