/* Check tests for notebooks-export: histogram and reliability accumulators against plain-loop
 * references on random inputs, SVG charts checked for well-formed XML and escaping, and the
 * notebook's nbformat 4.5 structure read back with jansson. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hitl_nbexport.h"
#include "testutil.h"

/* ---- a small XML checker: tags balance, attributes are quoted, text holds no raw '<' or a
 * bare '&' -------------------------------------------------------------------------------- */

static int xml_well_formed(const char *s, char *why, size_t cap)
{
    const char *stack[4096];
    size_t lens[4096], depth = 0;
    for (const char *p = s; *p;) {
        if (*p == '&') {
            const char *semi = strchr(p, ';');
            if (!semi || semi - p > 8) {
                snprintf(why, cap, "bare & at %ld", (long)(p - s));
                return 0;
            }
            p = semi + 1;
            continue;
        }
        if (*p != '<') {
            p++;
            continue;
        }
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " />\n");
        const char *end = name + len;
        char quote = 0;
        for (; *end && (quote || *end != '>'); end++) {
            if (quote && *end == '<') {
                snprintf(why, cap, "'<' inside an attribute at %ld", (long)(end - s));
                return 0;
            }
            if (*end == '"' || *end == '\'') quote = quote == *end ? 0 : quote ? quote : *end;
        }
        if (!*end) {
            snprintf(why, cap, "unterminated tag at %ld", (long)(p - s));
            return 0;
        }
        int self = end[-1] == '/';
        if (closing) {
            if (!depth || lens[depth - 1] != len || strncmp(stack[depth - 1], name, len) != 0) {
                snprintf(why, cap, "mismatched </%.*s> at %ld", (int)len, name, (long)(p - s));
                return 0;
            }
            depth--;
        } else if (!self) {
            if (depth == 4096) return 0;
            stack[depth] = name;
            lens[depth++] = len;
        }
        p = end + 1;
    }
    if (depth)
        snprintf(why, cap, "%zu unclosed tags (first <%.*s>)", depth, (int)lens[0], stack[0]);
    return depth == 0;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

static void check_svg(const char *svg)
{
    char why[128] = "";
    ck_assert_ptr_nonnull(svg);
    ck_assert_msg(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0, "%.60s", svg);
    ck_assert_msg(xml_well_formed(svg, why, sizeof(why)), "not well formed: %s", why);
}

/* ---- accumulators ---------------------------------------------------------------------------- */

START_TEST(histogram_matches_reference)
{
    tu_rng rng;
    tu_rng_seed(&rng, 3);
    hitl_histogram h;
    ck_assert_int_eq(hitl_histogram_init(&h, -0.5, 2.0, 17, NULL), HITL_OK);
    int64_t ref[17] = {0}, below = 0, above = 0, nan = 0;
    for (int i = 0; i < 20000; i++) {
        double v = tu_rng_uniform(&rng) * 3.5 - 1.0;
        if (i % 97 == 0) v = NAN;
        if (i % 101 == 0) v = 2.0; /* the top edge belongs to the last bin */
        if (i % 103 == 0) v = -0.5;
        hitl_histogram_add(&h, v);
        if (isnan(v))
            nan++;
        else if (v < -0.5)
            below++;
        else if (v > 2.0)
            above++;
        else {
            int b = 0;
            while (b < 16 && v >= -0.5 + 2.5 * (b + 1) / 17.0)
                b++;
            ref[b]++;
        }
    }
    int64_t total = 0;
    for (int b = 0; b < 17; b++) {
        /* a value within rounding of an edge may land either side: allow that */
        ck_assert_msg(llabs(h.count[b] - ref[b]) <= 2, "bin %d: %lld vs %lld", b,
                      (long long)h.count[b], (long long)ref[b]);
        total += h.count[b];
    }
    ck_assert_int_eq(total, h.n);
    ck_assert_int_eq(h.below, below);
    ck_assert_int_eq(h.above, above);
    ck_assert_int_eq(h.nan, nan);
    hitl_histogram_release(&h);
}
END_TEST

START_TEST(reliability_matches_reference)
{
    tu_rng rng;
    tu_rng_seed(&rng, 5);
    enum { N = 5000, B = 10 };
    double *conf = malloc(N * sizeof(double));
    int *hit = malloc(N * sizeof(int));
    hitl_reliability r;
    ck_assert_int_eq(hitl_reliability_init(&r, B, NULL), HITL_OK);
    for (int i = 0; i < N; i++) {
        conf[i] = i % 50 == 0 ? (double)(i % 11) / B : tu_rng_uniform(&rng); /* edges too */
        if (conf[i] > 1) conf[i] = 1;
        hit[i] = tu_rng_uniform(&rng) < conf[i] * 0.9;
        hitl_reliability_add(&r, conf[i], hit[i]);
    }
    hitl_reliability_add(&r, NAN, 1);
    hitl_reliability_add(&r, 1.5, 1);
    ck_assert_int_eq(r.skipped, 2);
    /* reference: bin b holds (b/B, (b+1)/B], 0 in bin 0 */
    double cnt[B] = {0}, hits[B] = {0}, cs[B] = {0}, brier = 0, correct = 0;
    for (int i = 0; i < N; i++) {
        int b = 0;
        while (b < B - 1 && conf[i] > (double)(b + 1) / B)
            b++;
        cnt[b]++;
        hits[b] += hit[i];
        cs[b] += conf[i];
        brier += (conf[i] - hit[i]) * (conf[i] - hit[i]);
        correct += hit[i];
    }
    double ece = 0, mce = 0;
    for (int b = 0; b < B; b++) {
        ck_assert_int_eq(r.count[b], (int64_t)cnt[b]);
        if (!cnt[b]) continue;
        double gap = fabs(hits[b] / cnt[b] - cs[b] / cnt[b]);
        ece += cnt[b] / N * gap;
        mce = gap > mce ? gap : mce;
    }
    hitl_reliability_summary s;
    hitl_reliability_summarize(&r, &s);
    ck_assert_int_eq(s.n, N);
    ck_assert_double_eq_tol(s.accuracy, correct / N, 1e-12);
    ck_assert_double_eq_tol(s.ece, ece, 1e-12);
    ck_assert_double_eq_tol(s.mce, mce, 1e-12);
    ck_assert_double_eq_tol(s.brier, brier / N, 1e-12);
    hitl_interval w = hitl_wilson_interval((int64_t)correct, N, 1.959963984540054);
    ck_assert_double_eq(s.accuracy_ci.lo, w.lo);
    ck_assert_double_eq(s.accuracy_ci.hi, w.hi);
    hitl_reliability_release(&r);
    free(conf);
    free(hit);
}
END_TEST

/* A perfectly calibrated, fully confident model: ECE 0, Brier 0. */
START_TEST(reliability_perfect_and_empty)
{
    hitl_reliability r;
    ck_assert_int_eq(hitl_reliability_init(&r, 15, NULL), HITL_OK);
    hitl_reliability_summary s;
    hitl_reliability_summarize(&r, &s);
    ck_assert_int_eq(s.n, 0);
    ck_assert(isnan(s.accuracy) && isnan(s.ece) && isnan(s.accuracy_ci.lo));
    for (int i = 0; i < 100; i++)
        hitl_reliability_add(&r, 1.0, 1);
    hitl_reliability_summarize(&r, &s);
    ck_assert_double_eq(s.ece, 0);
    ck_assert_double_eq(s.brier, 0);
    ck_assert_double_eq(s.accuracy, 1);
    ck_assert_int_eq(r.count[14], 100);
    hitl_reliability_release(&r);
}
END_TEST

/* ---- charts ---------------------------------------------------------------------------------- */

static const char *const nasty[] = {"<b>&\"bold\"", "o'brien", "plain", "caf\xc3\xa9 au lait"};

START_TEST(charts_are_well_formed_and_escaped)
{
    char *svg;
    hitl_reliability r;
    ck_assert_int_eq(hitl_reliability_init(&r, 10, NULL), HITL_OK);
    for (int i = 0; i < 200; i++)
        hitl_reliability_add(&r, (i % 97) / 96.0, i % 3 != 0);
    ck_assert_int_eq(hitl_svg_reliability(&r, "R <&> title", &svg, NULL), HITL_OK);
    check_svg(svg);
    ck_assert_ptr_nonnull(strstr(svg, "R &lt;&amp;&gt; title"));
    free(svg);
    hitl_reliability_release(&r);

    hitl_histogram h1, h2, h3;
    ck_assert_int_eq(hitl_histogram_init(&h1, 0, 1, 20, NULL), HITL_OK);
    ck_assert_int_eq(hitl_histogram_init(&h2, 0, 1, 20, NULL), HITL_OK);
    ck_assert_int_eq(hitl_histogram_init(&h3, 0, 1, 20, NULL), HITL_OK);
    for (int i = 0; i < 1000; i++) {
        hitl_histogram_add(&h1, (i % 100) / 100.0);
        hitl_histogram_add(&h2, (i % 7) / 7.0);
    }
    const hitl_histogram *hs[3] = {&h1, &h2, &h3};
    const char *names[3] = {"queued", "blind & co", "empty"};
    ck_assert_int_eq(hitl_svg_histograms(hs, names, 3, "Scores", "margin", &svg, NULL), HITL_OK);
    check_svg(svg);
    ck_assert_ptr_nonnull(strstr(svg, "blind &amp; co (1000)"));
    ck_assert_ptr_nonnull(strstr(svg, ">empty<")); /* no values: in the legend only */
    ck_assert_int_eq(count(svg, "<polyline"), 2);  /* one line per series with values */
    free(svg);

    double v[16];
    for (int i = 0; i < 16; i++)
        v[i] = i % 5 == 0 ? NAN : i / 16.0;
    ck_assert_int_eq(hitl_svg_heatmap(v, 4, nasty, "Agreement", &svg, NULL), HITL_OK);
    check_svg(svg);
    ck_assert_ptr_nonnull(strstr(svg, "&lt;b&gt;&amp;&quot;bold&quot;"));
    ck_assert_ptr_nonnull(strstr(svg, "o&#39;brien"));
    ck_assert_ptr_nonnull(strstr(svg, "#dddddd")); /* NaN cells */
    free(svg);

    int64_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = i % 5 == 0 ? 40 : i;
    ck_assert_int_eq(hitl_svg_confusion(m, 4, nasty, "Confusion", "final", "model", &svg, NULL),
                     HITL_OK);
    check_svg(svg);
    ck_assert_ptr_nonnull(strstr(svg, ">40</text>"));
    free(svg);

    double a[4] = {10, 0, 3.5, 7}, b[4] = {1, 2, 0, NAN};
    ck_assert_int_eq(hitl_svg_bars(a, b, nasty, 4, "Throughput", "labels", "skips", &svg, NULL),
                     HITL_OK);
    check_svg(svg);
    ck_assert_ptr_nonnull(strstr(svg, ">10 + 1</text>"));
    free(svg);
    hitl_histogram_release(&h1);
    hitl_histogram_release(&h2);
    hitl_histogram_release(&h3);
}
END_TEST

/* ---- the notebook ---------------------------------------------------------------------------- */

static const char *const classes[] = {"cat", "dog|wolf", "owl"};

static void fill_report(hitl_report *r, hitl_reliability *rel, hitl_histogram *h1,
                        hitl_histogram *h2, int64_t *conf)
{
    static hitl_report_batch batches[] = {{"b1", 10, 4, 2}};
    static hitl_report_annotator anns[] = {{"alice", 12, 1, 4.5, 10, 9}, {"bob", 8, 0, NAN, 6, 3}};
    static hitl_report_actor acts[] = {{"rev", 5, 3, 0.6}};
    memset(r, 0, sizeof(*r));
    r->title = "QA report: test";
    r->store_path = "/tmp/x.db";
    r->generated_at = "2026-01-01T00:00:00Z";
    r->version = "0.1.0";
    r->classes = classes;
    r->n_classes = 3;
    r->items_queued = 10;
    r->items_complete = 4;
    r->awaiting_adjudication = 2;
    r->queue_depth = 4;
    r->labels = 20;
    r->skips = 1;
    r->batches = batches;
    r->n_batches = 1;
    r->annotators = anns;
    r->n_annotators = 2;
    r->actors = acts;
    r->n_actors = 1;
    r->override_alert = 0.3;
    r->agreement_note = "fewer than two annotators";
    hitl_reliability_init(rel, 10, NULL);
    for (int i = 0; i < 40; i++)
        hitl_reliability_add(rel, 0.5 + (i % 10) / 20.0, i % 4 != 0);
    r->calibration = rel;
    for (int i = 0; i < 9; i++)
        conf[i] = i % 4 == 0 ? 5 : 1;
    r->confusion = conf;
    hitl_histogram_init(h1, 0, 1, 10, NULL);
    hitl_histogram_init(h2, 0, 1, 10, NULL);
    hitl_histogram_add(h1, 0.9);
    hitl_histogram_add(h2, 0.2);
    r->scores_uncertain = h1;
    r->scores_blind = h2;
    r->method = "margin";
    r->export_path = "report \"x\".h5";
    r->export_command = "hitl export x.db --format hdf5 --out report.h5\nrm -rf /";
    r->final_rule = "adjudicated";
    r->exported = 4;
}

START_TEST(notebook_structure)
{
    hitl_report r;
    hitl_reliability rel;
    hitl_histogram h1, h2;
    int64_t conf[9];
    fill_report(&r, &rel, &h1, &h2, conf);
    char *text;
    ck_assert_int_eq(hitl_report_notebook(&r, &text, NULL), HITL_OK);
    json_error_t je;
    json_t *nb = json_loads(text, 0, &je);
    ck_assert_msg(nb != NULL, "not JSON: %s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(nb, "nbformat")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(nb, "nbformat_minor")), 5);
    json_t *ks = json_object_get(json_object_get(nb, "metadata"), "kernelspec");
    ck_assert_str_eq(json_string_value(json_object_get(ks, "name")), "python3");
    json_t *cells = json_object_get(nb, "cells");
    size_t n = json_array_size(cells), charts = 0, code = 0;
    ck_assert_uint_gt(n, 10);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cells, i);
        const char *id = json_string_value(json_object_get(c, "id"));
        ck_assert_ptr_nonnull(id);
        ck_assert(strlen(id) >= 1 && strlen(id) <= 64 &&
                  strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
                      strlen(id));
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(id,
                             json_string_value(json_object_get(json_array_get(cells, j), "id")));
        ck_assert(json_is_object(json_object_get(c, "metadata")));
        ck_assert(json_is_string(json_object_get(c, "source")));
        const char *type = json_string_value(json_object_get(c, "cell_type"));
        if (strcmp(type, "code") != 0) {
            ck_assert_str_eq(type, "markdown");
            ck_assert_ptr_null(json_object_get(c, "outputs"));
            continue;
        }
        code++;
        ck_assert(json_is_null(json_object_get(c, "execution_count")));
        json_t *outs = json_object_get(c, "outputs");
        ck_assert(json_is_array(outs));
        if (json_array_size(outs) == 0) continue;
        charts++;
        json_t *tags = json_object_get(json_object_get(c, "metadata"), "tags");
        ck_assert_str_eq(json_string_value(json_array_get(tags, 0)), "skip-execution");
        json_t *o = json_array_get(outs, 0);
        ck_assert_str_eq(json_string_value(json_object_get(o, "output_type")), "display_data");
        check_svg(json_string_value(json_object_get(json_object_get(o, "data"), "image/svg+xml")));
    }
    /* throughput, reliability, confusion, scores (no agreement: it has a note instead) */
    ck_assert_uint_eq(charts, 4);
    ck_assert_uint_eq(code, 8);
    /* the summary names the numbers, tables escape '|', health says why */
    const char *md0 = json_string_value(json_object_get(json_array_get(cells, 0), "source"));
    ck_assert_ptr_nonnull(strstr(md0, "**10** items queued; **4** have a final label"));
    ck_assert_ptr_nonnull(strstr(md0, "dog\\|wolf"));
    ck_assert_ptr_nonnull(strstr(md0, "model accuracy on 40 blind items: 75.0%"));
    const char *health = json_string_value(json_object_get(json_array_get(cells, 1), "source"));
    ck_assert_ptr_nonnull(strstr(health, "## Health: alert"));
    ck_assert_ptr_nonnull(strstr(health, "rev overrides 60% of their decisions"));
    ck_assert_ptr_nonnull(strstr(health, "2 items wait for adjudication"));
    /* the export path is a Python literal; the command cannot escape its comment line */
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const char *src = json_string_value(json_object_get(json_array_get(cells, i), "source"));
        if (strstr(src, "EXPORT = \"report \\\"x\\\".h5\"")) {
            found = 1;
            ck_assert_ptr_nonnull(
                strstr(src, "#   hitl export x.db --format hdf5 --out report.h5 rm"));
            ck_assert_ptr_null(strstr(src, "\nrm -rf"));
        }
    }
    ck_assert_int_eq(found, 1);
    json_decref(nb);
    free(text);
    hitl_reliability_release(&rel);
    hitl_histogram_release(&h1);
    hitl_histogram_release(&h2);
}
END_TEST

/* The least a report needs: classes and an export path. */
START_TEST(minimal_report)
{
    hitl_report r = {0};
    r.classes = classes;
    r.n_classes = 3;
    r.export_path = "x.h5";
    r.override_alert = 0.3;
    char *text;
    ck_assert_int_eq(hitl_report_notebook(&r, &text, NULL), HITL_OK);
    ck_assert_ptr_nonnull(strstr(text, "nothing is queued yet"));
    json_t *nb = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(nb);
    json_decref(nb);
    free(text);
}
END_TEST

/* ---- errors ---------------------------------------------------------------------------------- */

START_TEST(bad_arguments)
{
    hitl_error err;
    hitl_histogram h;
    ck_assert_int_eq(hitl_histogram_init(&h, 1, 1, 10, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_histogram_init(&h, 0, NAN, 10, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_histogram_init(&h, 0, 1, 0, &err), HITL_EINVAL);
    hitl_reliability r;
    ck_assert_int_eq(hitl_reliability_init(&r, 0, &err), HITL_EINVAL);
    char *svg = (char *)1;
    ck_assert_int_eq(hitl_svg_reliability(NULL, "t", &svg, &err), HITL_EINVAL);
    ck_assert_ptr_null(svg);
    ck_assert_int_eq(hitl_svg_heatmap(NULL, 3, nasty, "t", &svg, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_svg_confusion(NULL, 3, nasty, "t", "a", "b", &svg, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_svg_bars(NULL, NULL, nasty, 3, "t", "a", "b", &svg, &err), HITL_EINVAL);
    hitl_histogram a, b;
    hitl_histogram_init(&a, 0, 1, 10, NULL);
    hitl_histogram_init(&b, 0, 2, 10, NULL);
    const hitl_histogram *hs[2] = {&a, &b};
    const char *names[2] = {"a", "b"};
    ck_assert_int_eq(hitl_svg_histograms(hs, names, 2, "t", "x", &svg, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "share range and bins"));
    ck_assert_int_eq(hitl_svg_histograms(hs, names, 0, "t", "x", &svg, &err), HITL_EINVAL);
    hitl_histogram_release(&a);
    hitl_histogram_release(&b);
}
END_TEST

START_TEST(bad_reports)
{
    hitl_error err;
    char *text;
    hitl_report r = {0};
    ck_assert_int_eq(hitl_report_notebook(&r, &text, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "classes"));
    r.classes = classes;
    r.n_classes = 3;
    ck_assert_int_eq(hitl_report_notebook(&r, &text, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "export"));
    r.export_path = "x.h5";
    const char *bad_utf8[] = {"ok", "\xff\xfe", "ok2"};
    r.classes = bad_utf8;
    ck_assert_int_eq(hitl_report_notebook(&r, &text, &err), HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "UTF-8"));
    r.classes = classes;
    ck_assert_int_eq(hitl_report_write(&r, "/nonexistent-dir/r.ipynb", &err), HITL_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot write '/nonexistent-dir/r.ipynb'"));
    const char *path = tu_tmp_path("ok.ipynb");
    ck_assert_int_eq(hitl_report_write(&r, path, &err), HITL_OK);
    ck_assert_int_eq(access(path, R_OK), 0);
    unlink(path);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nbexport");
    TCase *core = tcase_create("core");
    tcase_add_test(core, histogram_matches_reference);
    tcase_add_test(core, reliability_matches_reference);
    tcase_add_test(core, charts_are_well_formed_and_escaped);
    tcase_add_test(core, notebook_structure);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, reliability_perfect_and_empty);
    tcase_add_test(limits, minimal_report);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, bad_arguments);
    tcase_add_test(errors, bad_reports);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
