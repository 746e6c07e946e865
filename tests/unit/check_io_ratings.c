/* Unit tests for ratings files and label datasets: RFC 4180 parsing (quotes, line breaks, CRLF,
 * lone CR, BOM), label ordering, every bad input with its exact message and line, final labels,
 * the aggregate writer read back, HDF5 labels, and random corruptions that must never crash. */
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hitl_io.h"
#include "testutil.h"

static const char *write_file(const char *name, const char *text, size_t len)
{
    const char *path = tu_tmp_path(name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static hitl_status read_text(const char *text, const hitl_ratings_read_opts *o,
                             hitl_ratings_file *rf, hitl_error *err)
{
    const char *path = write_file("r.csv", text, strlen(text));
    hitl_status st = hitl_ratings_csv_read(path, o, rf, err);
    unlink(path);
    return st;
}

/* The message with the temporary file's name cut off ("'tmp-..-r.csv' line 3: x" -> "line 3:
 * x"), for exact comparisons. */
static const char *tail(const hitl_error *err)
{
    const char *p = strstr(err->msg, "r.csv'");
    if (!p) return err->msg;
    return p[6] == ' ' ? p + 7 : p + 6;
}

START_TEST(test_reads_any_column_order)
{
    hitl_ratings_file rf;
    hitl_error err;
    /* extra columns anywhere, label first; CRLF line ends; a trailing blank line */
    const char *text = "label,note,annotator,item\r\n"
                       "cat,x,ann,i1\r\n"
                       "dog,y,bob,i1\r\n"
                       "cat,,bob,i2\r\n"
                       "\r\n";
    ck_assert_int_eq(read_text(text, NULL, &rf, &err), HITL_OK);
    ck_assert_uint_eq(rf.n_items, 2);
    ck_assert_uint_eq(rf.n_annotators, 2);
    ck_assert_uint_eq(rf.n_labels, 2);
    ck_assert_str_eq(rf.items[0], "i1");
    ck_assert_str_eq(rf.annotators[1], "bob");
    ck_assert_str_eq(rf.labels[0], "cat"); /* byte order */
    ck_assert_str_eq(rf.labels[1], "dog");
    ck_assert(!rf.numeric);
    ck_assert_ptr_null(rf.table.value);
    ck_assert_uint_eq(rf.table.n_ratings, 3);
    ck_assert_int_eq(rf.table.item_ptr[1], 2);
    ck_assert_int_eq(rf.table.label[1], 1); /* bob's dog on i1 */
    ck_assert_int_eq(hitl_ratings_check(&rf.table, &err), HITL_OK);
    hitl_ratings_file_release(&rf);
    hitl_ratings_file_release(NULL);
}
END_TEST

/* RFC 4180 section 2: fields may be quoted; quoted fields may hold commas, line breaks and
 * doubled quotes. A UTF-8 byte order mark before the header is skipped. */
START_TEST(test_rfc4180_quoting)
{
    hitl_ratings_file rf;
    hitl_error err;
    const char *text = "\xEF\xBB\xBF"
                       "item,annotator,label\n"
                       "\"a, b\",\"Dr. \"\"X\"\"\",\"two\nlines\"\n"
                       "\"a, b\",y,plain\n"
                       "c,y,\"\"\n";
    ck_assert_int_eq(read_text(text, NULL, &rf, &err), HITL_EDATA);
    ck_assert_str_eq(tail(&err), "line 5: empty label"); /* the quoted field spans lines 2-3 */
    const char *good = "\xEF\xBB\xBF"
                       "item,annotator,label\n"
                       "\"a, b\",\"Dr. \"\"X\"\"\",\"two\nlines\"\n"
                       "\"a, b\",y,plain\n";
    ck_assert_int_eq(read_text(good, NULL, &rf, &err), HITL_OK);
    ck_assert_str_eq(rf.items[0], "a, b");
    ck_assert_str_eq(rf.annotators[0], "Dr. \"X\"");
    ck_assert_str_eq(rf.labels[1], "two\nlines");
    ck_assert_uint_eq(rf.n_items, 1);
    hitl_ratings_file_release(&rf);
}
END_TEST

/* Numbers are ordered by value and equal values are one label; given classes set the order. */
START_TEST(test_label_order)
{
    hitl_ratings_file rf;
    hitl_error err;
    const char *text = "item,annotator,label\n1,a,10\n1,b,9\n2,a,1.0\n2,b,1\n3,a,-2.5\n";
    ck_assert_int_eq(read_text(text, NULL, &rf, &err), HITL_OK);
    ck_assert(rf.numeric);
    ck_assert_uint_eq(rf.n_labels, 4);
    ck_assert_str_eq(rf.labels[0], "-2.5");
    ck_assert_str_eq(rf.labels[1], "1.0"); /* the first spelling seen */
    ck_assert_str_eq(rf.labels[3], "10");
    ck_assert_double_eq(rf.table.value[2], 9);
    ck_assert_int_eq(rf.table.label[2], rf.table.label[3]); /* 1.0 and 1 */
    hitl_ratings_file_release(&rf);

    const char *words = "item,annotator,label\n1,a,low\n1,b,high\n2,a,mid\n2,b,mid\n";
    char *classes[3] = {"low", "mid", "high"};
    hitl_ratings_read_opts o = {.labels = classes, .n_labels = 3};
    ck_assert_int_eq(read_text(words, &o, &rf, &err), HITL_OK);
    ck_assert_str_eq(rf.labels[2], "high");
    ck_assert_int_eq(rf.table.label[1], 2);
    hitl_ratings_file_release(&rf);
    /* an unused class still counts */
    char *four[4] = {"low", "mid", "high", "extreme"};
    o.labels = four;
    o.n_labels = 4;
    ck_assert_int_eq(read_text(words, &o, &rf, &err), HITL_OK);
    ck_assert_uint_eq(rf.table.n_labels, 4);
    hitl_ratings_file_release(&rf);
}
END_TEST

START_TEST(test_bad_files)
{
    hitl_ratings_file rf;
    hitl_error err;
    struct {
        const char *text, *msg;
        hitl_status st;
    } cases[] = {
        {"", ": empty file (need a header item,annotator,label)", HITL_EDATA},
        {"\n\n", ": empty file (need a header item,annotator,label)", HITL_EDATA},
        {"item,annotator\n1,a\n",
         "line 1: no 'label' column in the header (need item, annotator and label)", HITL_EDATA},
        {"item,annotator,label,label\n", "line 1: two 'label' columns", HITL_EDATA},
        {"item,annotator,label\n", ": no ratings after the header", HITL_EDATA},
        {"item,annotator,label\n1,a,x\n2,a,y\n",
         ": only one annotator ('a'): agreement and aggregation need at least two", HITL_EDATA},
        {"item,annotator,label\n1,a,x\n1,b\n", "line 3: 2 fields, the header has 3", HITL_EDATA},
        {"item,annotator,label\n1,a,x\n1,,y\n", "line 3: empty annotator", HITL_EDATA},
        {"item,annotator,label\n1,a,\"x\n1,b,y\n", "line 2: a quoted field is never closed",
         HITL_EDATA},
        {"item,annotator,label\n1,a,x\"y\n",
         "line 2: a quote inside an unquoted field (quote the field and double the quote)",
         HITL_EDATA},
        {"item,annotator,label\n1,a,\"x\"y\n",
         "line 2: text after the closing quote of a field (quote the whole field)", HITL_EDATA},
        {"item,annotator,label\n1,a,x\n2,b,y\n1,a,y\n",
         "line 4: annotator 'a' rated item '1' twice (also on line 2)", HITL_EDATA},
        {"\xEF\xBBitem,annotator,label\n1,a,x\n", "line 1: a broken byte order mark", HITL_EDATA},
        /* lone CRs end records (old Mac files), and count as lines */
        {"item,annotator,label\r1,a,x\r1,b,\"y\r\"\r2,a\r", "line 4: 2 fields, the header has 3",
         HITL_EDATA},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(read_text(cases[i].text, NULL, &rf, &err), cases[i].st);
        ck_assert_msg(strcmp(tail(&err), cases[i].msg) == 0, "case %zu: %s", i, err.msg);
        ck_assert_uint_eq(rf.n_items, 0); /* nothing left behind */
    }
    /* a NUL byte in a field */
    const char nul[] = "item,annotator,label\n1,a,x\0y\n";
    const char *path = write_file("nul.csv", nul, sizeof(nul) - 1);
    ck_assert_int_eq(hitl_ratings_csv_read(path, NULL, &rf, &err), HITL_EDATA);
    char want[600];
    snprintf(want, sizeof(want), "'%s' line 2: a NUL byte in a field", path);
    ck_assert_str_eq(err.msg, want);
    unlink(path);
    /* a field over 1 MiB, bounded memory whatever the file holds */
    size_t big = ((size_t)1 << 20) + 1, head = strlen("item,annotator,label\n1,a,");
    char *text = malloc(head + big + 2);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "item,annotator,label\n1,a,", head);
    memset(text + head, 'x', big);
    memcpy(text + head + big, "\n", 2);
    ck_assert_int_eq(read_text(text, NULL, &rf, &err), HITL_EDATA);
    ck_assert_str_eq(tail(&err), "line 2: a field longer than 1 MiB");
    free(text);
    /* no such file */
    ck_assert_int_eq(hitl_ratings_csv_read("no-such-ratings.csv", NULL, &rf, &err), HITL_EIO);
    ck_assert_str_eq(err.msg, "cannot open 'no-such-ratings.csv': No such file or directory");
}
END_TEST

/* A record with fewer or more fields than the header is refused naming the line it starts on,
 * counted past a quoted line break (CRLF inside quotes is data, one line end). */
START_TEST(test_field_count_names_the_line)
{
    hitl_ratings_file rf;
    hitl_error err;
    const char *text = "item,annotator,label\r\n1,a,\"x\r\ny\"\r\n1,b\r\n";
    ck_assert_int_eq(read_text(text, NULL, &rf, &err), HITL_EDATA);
    ck_assert_str_eq(tail(&err), "line 4: 2 fields, the header has 3");
    ck_assert_int_eq(read_text("item,annotator,label\n1,a,x\n1,b,y,z\n", NULL, &rf, &err),
                     HITL_EDATA);
    ck_assert_str_eq(tail(&err), "line 3: 4 fields, the header has 3");
    /* the final labels too */
    ck_assert_int_eq(read_text("item,annotator,label\n1,a,x\n1,b,y\n", NULL, &rf, &err), HITL_OK);
    int32_t final[1];
    const char *path = write_text("final.csv", "item,label\n\n1\n");
    ck_assert_int_eq(hitl_final_labels_csv_read(path, &rf, final, &err), HITL_EDATA);
    char want[600];
    snprintf(want, sizeof(want), "'%s' line 3: 1 field, the header has 2", path);
    ck_assert_str_eq(err.msg, want);
    unlink(path);
    hitl_ratings_file_release(&rf);
}
END_TEST

/* Interval and ratio levels need numbers (the first offender is named with its line); a label
 * outside the given classes is named too. */
START_TEST(test_level_and_classes)
{
    hitl_ratings_file rf;
    hitl_error err;
    const char *text = "item,annotator,label\n1,a,3\n1,b,4\n2,a,high\n2,b,n/a\n";
    hitl_ratings_read_opts o = {.level = HITL_LEVEL_INTERVAL};
    ck_assert_int_eq(read_text(text, &o, &rf, &err), HITL_EDATA);
    ck_assert_str_eq(tail(&err),
                     "line 4: label 'high' is not a number (the interval level needs numeric "
                     "labels)");
    o.level = HITL_LEVEL_ORDINAL; /* ordinal only needs an order */
    ck_assert_int_eq(read_text(text, &o, &rf, &err), HITL_OK);
    hitl_ratings_file_release(&rf);
    char *classes[2] = {"3", "4"};
    o = (hitl_ratings_read_opts){.labels = classes, .n_labels = 2};
    ck_assert_int_eq(read_text(text, &o, &rf, &err), HITL_EDATA);
    ck_assert_str_eq(tail(&err), "line 4: label 'high' is not one of the classes (3, 4)");
    char *twice[2] = {"3", "3"};
    o.labels = twice;
    ck_assert_int_eq(read_text(text, &o, &rf, &err), HITL_EINVAL);
    ck_assert_str_eq(err.msg, "class '3' is listed twice");
}
END_TEST

START_TEST(test_final_labels)
{
    hitl_ratings_file rf;
    hitl_error err;
    ck_assert_int_eq(
        read_text("item,annotator,label\n1,a,2\n1,b,3\n2,a,2\n2,b,2\n3,a,3\n", NULL, &rf, &err),
        HITL_OK);
    int32_t final[3];
    const char *path = write_text("final.csv", "label,item\n3,1\n9,2\n");
    ck_assert_int_eq(hitl_final_labels_csv_read(path, &rf, final, &err), HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "line 3: final label '9' is not a label"));
    /* an item without ratings is ignored, whatever its label */
    path = write_text("final.csv", "label,item\n3,1\n2.0,2\n9,unknown\n");
    ck_assert_int_eq(hitl_final_labels_csv_read(path, &rf, final, &err), HITL_OK);
    ck_assert_int_eq(final[0], 1); /* "3" */
    ck_assert_int_eq(final[1], 0); /* "2.0" is the value 2 */
    ck_assert_int_eq(final[2], -1);
    path = write_text("final.csv", "item,label\n1,3\n1,2\n");
    ck_assert_int_eq(hitl_final_labels_csv_read(path, &rf, final, &err), HITL_EDATA);
    ck_assert_ptr_nonnull(
        strstr(err.msg, "line 3: item '1' has two final labels (also on line 2)"));
    unlink(path);
    hitl_ratings_file_release(&rf);
}
END_TEST

/* The aggregate writer quotes names that need it; the file reads back as CSV. */
START_TEST(test_aggregate_writer)
{
    hitl_ratings_file rf;
    hitl_error err;
    ck_assert_int_eq(read_text("item,annotator,label\n\"x,1\",a,\"say \"\"hi\"\"\"\n\"x,1\",b,no\n"
                               "y,a,no\ny,b,\"say \"\"hi\"\"\"\n",
                               NULL, &rf, &err),
                     HITL_OK);
    hitl_vote v[2];
    ck_assert_int_eq(hitl_majority_vote(&rf.table, v, NULL, NULL), HITL_OK);
    const char *path = tu_tmp_path("agg.csv");
    ck_assert_int_eq(hitl_aggregate_csv_write(path, &rf, v, NULL, &err), HITL_OK);
    char buf[512] = {0};
    FILE *f = fopen(path, "rb");
    ck_assert_uint_gt(fread(buf, 1, sizeof(buf) - 1, f), 0);
    fclose(f);
    ck_assert_str_eq(buf, "item,label,status,votes,ratings\n\"x,1\",,tie,1,2\ny,,tie,1,2\n");
    hitl_ds_result d;
    ck_assert_int_eq(hitl_dawid_skene(&rf.table, NULL, &d, NULL), HITL_OK);
    ck_assert_int_eq(hitl_aggregate_csv_write(path, &rf, NULL, &d, &err), HITL_OK);
    f = fopen(path, "rb");
    memset(buf, 0, sizeof(buf));
    ck_assert_uint_gt(fread(buf, 1, sizeof(buf) - 1, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(
        strstr(buf, "item,label,status,posterior,ratings,p_no,\"p_say \"\"hi\"\"\"\n"));
    hitl_ds_result_release(&d);
    ck_assert_int_eq(hitl_aggregate_csv_write("no-such-dir/x.csv", &rf, v, NULL, &err), HITL_EIO);
    unlink(path);
    hitl_ratings_file_release(&rf);
}
END_TEST

/* Random corruptions of a valid file (bytes flipped, inserted, deleted, truncated): the reader
 * must return OK or a data error, never crash or read out of bounds (run under ASan in CI). */
START_TEST(test_corruptions_never_crash)
{
    const char *base = "item,annotator,label\r\n\"a,1\",x,\"q\"\"\"\n2,y,7\n2,x,8\n\"a,1\",y,q\n";
    size_t n = strlen(base);
    static const char alphabet[] = ",\"\r\n\0ab1.";
    tu_rng g;
    tu_rng_seed(&g, 99);
    char buf[256];
    int ok = 0, data = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t len = n;
        memcpy(buf, base, n);
        int edits = 1 + (int)(tu_rng_u64(&g) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = len ? tu_rng_u64(&g) % len : 0;
            char ch = alphabet[tu_rng_u64(&g) % (sizeof(alphabet) - 1)];
            switch (tu_rng_u64(&g) % 4) {
            case 0:
                buf[at] = ch;
                break;
            case 1:
                if (len + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = ch;
                    len++;
                }
                break;
            case 2:
                if (len) {
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
                break;
            default:
                len = at;
            }
        }
        const char *path = write_file("fuzz.csv", buf, len);
        hitl_ratings_file rf;
        hitl_error err;
        hitl_status st = hitl_ratings_csv_read(path, NULL, &rf, &err);
        ck_assert_msg(st == HITL_OK || st == HITL_EDATA, "trial %d: status %d", trial, st);
        if (st == HITL_OK) {
            ok++;
            ck_assert_int_eq(hitl_ratings_check(&rf.table, NULL), HITL_OK);
        } else {
            data++;
            ck_assert(strlen(err.msg) > 0);
        }
        hitl_ratings_file_release(&rf);
        unlink(path);
    }
    ck_assert_int_gt(ok, 0);
    ck_assert_int_gt(data, 0);
}
END_TEST

/* ---- label datasets ------------------------------------------------------------------------- */
static void write_dataset(const char *path, const char *name, hid_t type, int rank,
                          const hsize_t *dims, const void *data)
{
    hid_t f = access(path, F_OK) == 0 ? H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT)
                                      : H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(d >= 0);
    ck_assert(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Fclose(f);
}

START_TEST(test_labels_h5)
{
    const char *p = tu_tmp_path("labels.h5");
    char path[512];
    snprintf(path, sizeof(path), "%s", p);
    unlink(path);
    int16_t y16[5] = {0, 3, 1, 1, 2};
    hsize_t n5 = 5, two[2] = {2, 2};
    write_dataset(path, "y", H5T_NATIVE_INT16, 1, &n5, y16);
    uint64_t yu[2] = {1, 5000000000ull};
    hsize_t n2 = 2;
    write_dataset(path, "big", H5T_NATIVE_UINT64, 1, &n2, yu);
    int32_t neg[2] = {1, -1};
    write_dataset(path, "neg", H5T_NATIVE_INT32, 1, &n2, neg);
    float fl[2] = {0, 1};
    write_dataset(path, "float", H5T_NATIVE_FLOAT, 1, &n2, fl);
    int32_t m[4] = {0, 1, 1, 0};
    write_dataset(path, "matrix", H5T_NATIVE_INT32, 2, two, m);

    int32_t *y;
    size_t n;
    hitl_error err;
    ck_assert_int_eq(hitl_labels_read(path, "y", &y, &n, &err), HITL_OK);
    ck_assert_uint_eq(n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(y[i], y16[i]);
    free(y);
    ck_assert_int_eq(hitl_labels_read(path, "/big", &y, &n, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 1);
    ck_assert_int_eq(hitl_labels_read(path, "neg", &y, &n, &err), HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, ":/neg' row 1: label -1 is not a class index"));
    ck_assert_int_eq(hitl_labels_read(path, "float", &y, &n, &err), HITL_ETYPE);
    ck_assert_int_eq(hitl_labels_read(path, "matrix", &y, &n, &err), HITL_ESHAPE);
    ck_assert_int_eq(hitl_labels_read(path, "nope", &y, &n, &err), HITL_ENOTFOUND);
    ck_assert_int_eq(hitl_labels_read("no-such.h5", "y", &y, &n, &err), HITL_EIO);
    ck_assert_int_eq(hitl_labels_read(path, "", &y, &n, &err), HITL_EINVAL);
    ck_assert_ptr_null(y);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_ratings");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_reads_any_column_order);
    tcase_add_test(core, test_rfc4180_quoting);
    tcase_add_test(core, test_label_order);
    tcase_add_test(core, test_final_labels);
    tcase_add_test(core, test_aggregate_writer);
    tcase_add_test(core, test_labels_h5);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_corruptions_never_crash);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_bad_files);
    tcase_add_test(errors, test_field_count_names_the_line);
    tcase_add_test(errors, test_level_and_classes);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
