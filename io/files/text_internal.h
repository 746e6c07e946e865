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

/* The one CSV record reader of io/files (the ratings CSV, the Label Studio CSV and TSV forms, the
 * CSV exports read back). RFC 4180 records one at a time: fields separated by the delimiter,
 * optionally enclosed in double quotes (then they may hold delimiters, doubled quotes and line
 * breaks), records ended by LF, CRLF or a lone CR (as Python's csv module reads them); a UTF-8
 * byte order mark is skipped. The input is read in blocks and fields are copied a run of bytes
 * at a time. Memory is bounded whatever the input: every user gets the limits below. */
#define HITL__CSV_MAX_FIELD  ((size_t)1 << 20) /* bytes in one field */
#define HITL__CSV_MAX_RECORD ((size_t)1 << 24) /* bytes in one record, a NUL per field counted */
#define HITL__CSV_MAX_FIELDS 100000            /* fields in one record */

typedef struct hitl__csv_opts {
    char delimiter; /* ',' or '\t'; 0 means ',' */
    int strict;     /* refuse a quote inside an unquoted field (else it is text) */
} hitl__csv_opts;

typedef struct hitl__csv_reader {
    FILE *f; /* NULL when reading text */
    const char *path;
    hitl__csv_opts opts;
    unsigned char stop[256]; /* bytes that end a run in an unquoted field */
    const unsigned char *in; /* the input: the block, or the text */
    unsigned char *block;    /* the file's current block (owned); NULL for text */
    size_t pos, len;         /* the next byte of `in`, and its end */
    int eof, started, read_errno;
    hitl_buf text; /* the record's fields, each NUL-terminated */
    size_t *start; /* each field's offset in text */
    size_t n_fields, cap_fields;
    int64_t line;        /* the line the next byte is on */
    int64_t record_line; /* the line the current record starts on */
} hitl__csv_reader;

/* Opens `path` (borrowed: must outlive the reader) with options `o` (NULL: ',' and a quote
 * inside an unquoted field taken as text). HITL_EIO when it cannot be read, HITL_EINVAL for a
 * delimiter other than ',' or '\t'; after a failure there is nothing to close (closing is
 * harmless). */
hitl_status hitl__csv_open(hitl__csv_reader *r, const char *path, const hitl__csv_opts *o,
                           hitl_error *err);
/* Reads `len` bytes of `text` (borrowed: kept until close) instead of a file; named "<text>". */
hitl_status hitl__csv_open_text(hitl__csv_reader *r, const char *text, size_t len,
                                const hitl__csv_opts *o, hitl_error *err);
/* Reads the next record; *got = 0 at the end of the input. HITL_EDATA "'PATH' line N: ..."
 * naming the line the record starts on for: a quoted field never closed, text after a closing
 * quote, a quote inside an unquoted field (strict), a NUL byte, a field over 1 MiB, a record
 * over 16 MiB, more than 100,000 fields, a broken byte order mark. HITL_EIO for a read error,
 * HITL_ENOMEM. */
hitl_status hitl__csv_next(hitl__csv_reader *r, int *got, hitl_error *err);
/* Field i of the current record (NUL-terminated; "" past the last field). */
const char *hitl__csv_get(const hitl__csv_reader *r, size_t i);
/* A record that is one empty field: a blank line. */
int hitl__csv_blank(const hitl__csv_reader *r);
/* HITL_OK when the current record has `n` fields (the header's count), else HITL_EDATA
 * "'PATH' line N: K fields, the header has n", N the line the record starts on. */
hitl_status hitl__csv_check_fields(const hitl__csv_reader *r, size_t n, hitl_error *err);
void hitl__csv_close(hitl__csv_reader *r);

#endif /* HITL_TEXT_INTERNAL_H */
