/* Check tests for notebooks-export: the histogram accumulator against a plain-loop reference on
 * random inputs (the reliability bins are the engine's, tested in check_engine_calibration), SVG
 * charts checked for well-formed XML and escaping, and the notebooks' nbformat 4.5 structure (QA
 * report, learning curves) read back with jansson. */
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

/* ---- histograms ------------------------------------------------------------------------------ */

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

static const char *cell_source(json_t *cells, const char *id_part);

static void fill_report(hitl_report *r, hitl_reliability *rel, hitl_histogram *h1,
                        hitl_histogram *h2, int64_t *conf)
{
    static hitl_report_batch batches[] = {{"b1", 10, 4, 2}};
    static hitl_report_annotator anns[] = {{"alice", 12, 1, 4.5, 10, 9}, {"bob", 8, 0, NAN, 6, 3}};
    /* alice approved every wrong suggestion; bob agrees with the shown prediction 4 times in 20
     * but approved 4 of the 4 right ones and none of the 16 wrong: healthy; rev overrode 10 of
     * 25 decisions */
    static hitl_health_annotator hann[] = {{"alice", 30, 30, 30, 10, 10, 20, 20},
                                           {"bob", 20, 20, 4, 4, 4, 16, 0}};
    static hitl_health_actor hact[] = {{"rev", 25, 10}};
    /* shown, annotators, actors, 50 labels all audited, the chain verified, alpha undefined */
    static hitl_health_metrics hm = {1, hann, 2, hact, 1, 50, 50, 1, -1, NAN, NULL, 0, 0, 0};
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
    r->health = &hm;
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
    /* health is the engine's scorecard, naming its subjects as hitl health does */
    const char *health = json_string_value(json_object_get(json_array_get(cells, 1), "source"));
    hitl_health_verdict v;
    ck_assert_int_eq(hitl_health_evaluate(r.health, NULL, &v, NULL), HITL_OK);
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 2);
    hitl_health_verdict_release(&v);
    ck_assert_ptr_nonnull(strstr(health, "## Health: degraded\n"));
    ck_assert_ptr_nonnull(strstr(health, "- **degraded** `rubber_stamping` (alice): approved "
                                         "100.0% of the 20 shown suggestions the final label "
                                         "rejected (above 95.0%)\n"));
    ck_assert_ptr_nonnull(strstr(health, "- **at_risk** `override_rate` (rev): overrides 40.0% of "
                                         "their 25 decisions (above 30.0%)\n"));
    ck_assert_ptr_null(strstr(health, "(bob)")); /* 0.2 raw agreement is no fault */
    ck_assert_ptr_nonnull(strstr(health, "| bob | 0.0% of 16 | 100.0% of 4 | 20.0% of 20 |"));
    ck_assert_ptr_nonnull(strstr(health, "2 items wait for adjudication"));
    ck_assert_ptr_null(strstr(health, "alert"));
    const char *over = cell_source(cells, "overrides");
    ck_assert_ptr_nonnull(strstr(over, "| rev | 25 | 10 | 40.0% | **at_risk** |"));
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
    char *text;
    ck_assert_int_eq(hitl_report_notebook(&r, &text, NULL), HITL_OK);
    ck_assert_ptr_nonnull(strstr(text, "nothing is queued yet"));
    ck_assert_ptr_nonnull(strstr(text, "## Health: not judged"));
    json_t *nb = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(nb);
    json_decref(nb);
    free(text);
    /* a healthy scorecard with its own thresholds, passed on to the engine */
    hitl_health_annotator ann = {"ann", 40, 40, 10, 10, 9, 30, 1};
    hitl_health_metrics m = {.prediction_shown = 1,
                             .annotators = &ann,
                             .n_annotators = 1,
                             .labels = 40,
                             .labels_audited = 40,
                             .chain_ok = 1,
                             .alpha = 0.9};
    hitl_health_thresholds t;
    hitl_health_thresholds_default(&t);
    r.health = &m;
    ck_assert_int_eq(hitl_report_notebook(&r, &text, NULL), HITL_OK);
    ck_assert_ptr_nonnull(strstr(text, "## Health: healthy"));
    free(text);
    t.inefficient = 0.95; /* 9 of 10 right suggestions is now too few, and 10 enough to judge */
    t.min_sample = 10;
    r.health_thresholds = &t;
    ck_assert_int_eq(hitl_report_notebook(&r, &text, NULL), HITL_OK);
    ck_assert_ptr_nonnull(strstr(text, "## Health: degraded"));
    ck_assert_ptr_nonnull(strstr(text, "`inefficient` (ann): approved 90.0% of the 10"));
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
    /* health metrics the scorecard refuses fail the report with its status */
    hitl_health_annotator ann = {"ann", 10, 10, 3, 2, 2, 5, 5}; /* 7 approved of 3 agreed */
    hitl_health_metrics m = {.prediction_shown = 1, .annotators = &ann, .n_annotators = 1};
    r.health = &m;
    text = (char *)1;
    ck_assert_int_eq(hitl_report_notebook(&r, &text, &err), HITL_EINVAL);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(strstr(err.msg, "annotator 0"));
}
END_TEST

/* ---- learning curves (hitl simulate) --------------------------------------------------------- */

/* Hand-computed: random's final accuracies 0.70 and 0.74 give 0.7200 +- 0.0283 (sample sd,
 * sqrt(2 * 0.02^2 / 1)); its mean curve 0.52, 0.62, 0.72 first reaches 0.72 at its last point,
 * 30 labels. margin's mean curve 0.51, 0.68, 0.82 crosses 0.72 between 20 and 30 labels at
 * 20 + 10 (0.72 - 0.68) / (0.82 - 0.68) = 22.857, a saving of 1 - 22.857 / 30 = 23.8%. lc has one
 * seed and a NaN point and never gets there. random's seconds of the rounds that picked a batch
 * (all but each seed's last point), 0.1, 0.2, 0.4 and 0.5, have median 0.3. */
static const double sim_x[3] = {10, 20, 30};
static const double sim_random[6] = {0.50, 0.60, 0.70, 0.54, 0.64, 0.74};
static const double sim_random_secs[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
static const double sim_margin[6] = {0.50, 0.66, 0.80, 0.52, 0.70, 0.84};
static const double sim_lc[3] = {0.40, NAN, 0.60};

static void fill_sim(hitl_sim_series s[3], hitl_sim_report *r)
{
    s[0] = (hitl_sim_series){"random", 2, 3, sim_x, sim_random, sim_random_secs};
    s[1] = (hitl_sim_series){"margin", 2, 3, sim_x, sim_margin, NULL};
    s[2] = (hitl_sim_series){"lc", 1, 3, sim_x, sim_lc, NULL};
    memset(r, 0, sizeof(*r));
    r->title = "Learning curves: digits";
    r->generated_at = "2026-01-01T00:00:00Z";
    r->version = "0.1.0";
    r->command = "hitl simulate digits.h5 --strategies random,margin,lc --seeds 2\nrm -rf /";
    r->features = "digits.h5:features";
    r->labels = "digits.h5:labels";
    r->test = "digits_test.h5";
    r->n_pool = 1500;
    r->n_test = 297;
    r->d = 64;
    r->n_classes = 10;
    r->seed_labels = 10;
    r->batch = 10;
    r->rounds = 2;
    r->baseline = "random";
    r->series = s;
    r->n_series = 3;
    r->curves_path = "curves \"x\".h5";
}

/* The value of attribute `attr` of the k-th element that holds `marker` (static buffer). */
static const char *nth_attr(const char *svg, const char *marker, int k, const char *attr)
{
    static char buf[4096];
    const char *p = svg;
    for (int i = 0; p && i <= k; i++)
        p = strstr(i ? p + 1 : p, marker);
    ck_assert_ptr_nonnull(p);
    char key[32];
    snprintf(key, sizeof(key), " %s=\"", attr);
    const char *a = strstr(p, key), *end = strchr(p, '>');
    ck_assert(a && a < end);
    a += strlen(key);
    size_t n = strcspn(a, "\"");
    ck_assert_uint_lt(n, sizeof(buf));
    memcpy(buf, a, n);
    buf[n] = '\0';
    return buf;
}

START_TEST(curves_are_well_formed)
{
    hitl_sim_series s[3];
    hitl_sim_report r;
    fill_sim(s, &r);
    s[1].name = "a<b&c>";
    char *svg;
    ck_assert_int_eq(hitl_svg_curves(s, 3, "Curves <&>", "labels", &svg, NULL), HITL_OK);
    check_svg(svg);
    ck_assert_ptr_nonnull(strstr(svg, "Curves &lt;&amp;&gt;"));
    ck_assert_ptr_nonnull(strstr(svg, ">a&lt;b&amp;c&gt;</text>")); /* in the legend */
    ck_assert_ptr_null(strstr(svg, "a<b"));
    ck_assert_ptr_nonnull(strstr(svg, ">test accuracy</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">labels</text>"));
    /* one mean line per series; a band for the two with two seeds, none for lc */
    ck_assert_int_eq(count(svg, "class=\"mean\""), 3);
    ck_assert_int_eq(count(svg, "class=\"band\""), 2);
    ck_assert_int_eq(count(svg, "band: lowest to highest seed"), 1);
    /* random is the grey dashed baseline, the others take the palette in order */
    ck_assert_str_eq(nth_attr(svg, "class=\"mean\"", 0, "stroke"), "#7f7f7f");
    ck_assert_str_eq(nth_attr(svg, "class=\"mean\"", 0, "stroke-dasharray"), "6 4");
    ck_assert_str_eq(nth_attr(svg, "class=\"mean\"", 1, "stroke"), "#1f77b4");
    ck_assert_str_eq(nth_attr(svg, "class=\"mean\"", 2, "stroke"), "#ff7f0e");
    /* the NaN point is not drawn: lc's line breaks there, and it has two markers of three */
    const char *d = nth_attr(svg, "class=\"mean\"", 2, "d");
    ck_assert_int_eq(count(d, "M"), 2);
    ck_assert_int_eq(count(d, "L"), 0);
    ck_assert_int_eq(count(svg, "r=\"3.0\"><title>"), 3 + 3 + 2);
    ck_assert_ptr_null(strstr(svg, "nan"));
    ck_assert_ptr_null(strstr(svg, "inf"));
    /* random's band: along the highest seed and back along the lowest, one closed outline */
    d = nth_attr(svg, "class=\"band\"", 0, "d");
    ck_assert_int_eq(count(d, "M"), 1);
    ck_assert_int_eq(count(d, "L"), 5);
    ck_assert_int_eq(count(d, "Z"), 1);
    free(svg);

    /* one seed each: no band and no note about it */
    ck_assert_int_eq(hitl_svg_curves(s + 2, 1, NULL, NULL, &svg, NULL), HITL_OK);
    check_svg(svg);
    ck_assert_int_eq(count(svg, "class=\"band\""), 0);
    ck_assert_int_eq(count(svg, "band: lowest"), 0);
    free(svg);
}
END_TEST

static const char *cell_source(json_t *cells, const char *id_part)
{
    for (size_t i = 0; i < json_array_size(cells); i++) {
        json_t *c = json_array_get(cells, i);
        if (strstr(json_string_value(json_object_get(c, "id")), id_part))
            return json_string_value(json_object_get(c, "source"));
    }
    ck_abort_msg("no cell '%s'", id_part);
    return NULL;
}

START_TEST(sim_notebook_numbers)
{
    hitl_sim_series s[3];
    hitl_sim_report r;
    fill_sim(s, &r);
    const char *path = tu_tmp_path("sim.ipynb");
    ck_assert_int_eq(hitl_sim_report_write(&r, path, NULL), HITL_OK);
    json_error_t je;
    json_t *nb = json_load_file(path, 0, &je);
    ck_assert_msg(nb != NULL, "not JSON: %s", je.text);
    unlink(path);
    ck_assert_int_eq(json_integer_value(json_object_get(nb, "nbformat")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(nb, "nbformat_minor")), 5);
    json_t *meta = json_object_get(nb, "metadata");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(meta, "kernelspec"), "name")), "python3");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(meta, "hitl"), "curves")),
                     "curves \"x\".h5");
    json_t *cells = json_object_get(nb, "cells");
    size_t n = json_array_size(cells), charts = 0, code = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cells, i);
        const char *id = json_string_value(json_object_get(c, "id"));
        ck_assert_ptr_nonnull(id);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(id,
                             json_string_value(json_object_get(json_array_get(cells, j), "id")));
        ck_assert(json_is_string(json_object_get(c, "source")));
        if (strcmp(json_string_value(json_object_get(c, "cell_type")), "code") != 0) continue;
        code++;
        json_t *outs = json_object_get(c, "outputs");
        ck_assert(json_is_null(json_object_get(c, "execution_count")));
        if (json_array_size(outs) == 0) continue;
        charts++;
        json_t *tags = json_object_get(json_object_get(c, "metadata"), "tags");
        ck_assert_str_eq(json_string_value(json_array_get(tags, 0)), "skip-execution");
        json_t *o = json_array_get(outs, 0);
        ck_assert_str_eq(json_string_value(json_object_get(o, "output_type")), "display_data");
        const char *svg =
            json_string_value(json_object_get(json_object_get(o, "data"), "image/svg+xml"));
        check_svg(svg);
        ck_assert_int_eq(count(svg, "class=\"mean\""), 3);
    }
    ck_assert_uint_eq(charts, 1);
    ck_assert_uint_eq(code, 5); /* chart, load, table, plot, label quality */

    const char *md = cell_source(cells, "summary");
    ck_assert_ptr_nonnull(strstr(md, "# Learning curves: digits\n"));
    ck_assert_ptr_nonnull(strstr(md, "```sh\nhitl simulate digits.h5 --strategies"));
    ck_assert_ptr_nonnull(strstr(md, "1500 rows, 64 features, 10 classes"));
    ck_assert_ptr_nonnull(strstr(md, "an oracle"));
    md = cell_source(cells, "results");
    ck_assert_ptr_nonnull(strstr(md, "| labels to reach 0.7200 | saving vs random |"));
    ck_assert_ptr_nonnull(
        strstr(md, "\n| random | 2 | 30 | 0.7200 \xC2\xB1 0.0283 | 30.0 | baseline | 0.3 |\n"));
    ck_assert_ptr_nonnull(
        strstr(md, "\n| margin | 2 | 30 | 0.8200 \xC2\xB1 0.0283 | 22.9 | 23.8% | n/a |\n"));
    ck_assert_ptr_nonnull(strstr(md, "\n| lc | 1 | 30 | 0.6000 | never | n/a | n/a |\n"));
    /* the code cells open the curves file by a Python literal; the command stays a comment */
    const char *load = cell_source(cells, "load");
    ck_assert_ptr_nonnull(strstr(load, "CURVES = \"curves \\\"x\\\".h5\"\n"));
    ck_assert_ptr_nonnull(strstr(load, "BASELINE = \"random\""));
    ck_assert_ptr_null(strstr(load, "\nrm -rf"));
    ck_assert_ptr_nonnull(strstr(cell_source(cells, "plot"), "except ImportError"));
    json_decref(nb);
}
END_TEST

/* Without a baseline nothing is compared; a baseline no series has says so. Seconds all NaN
 * leave the column out. */
START_TEST(sim_notebook_without_baseline)
{
    hitl_sim_series s[3];
    hitl_sim_report r;
    fill_sim(s, &r);
    double nan_secs[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    s[0].seconds = nan_secs;
    char *text;
    r.baseline = NULL;
    ck_assert_int_eq(hitl_sim_notebook(&r, &text, NULL), HITL_OK);
    json_t *nb = json_loads(text, 0, NULL);
    const char *md = cell_source(json_object_get(nb, "cells"), "results");
    ck_assert_ptr_null(strstr(md, "labels to reach"));
    ck_assert_ptr_null(strstr(md, "median seconds"));
    ck_assert_ptr_nonnull(strstr(md, "| margin | 2 | 30 | 0.8200 \xC2\xB1 0.0283 |\n"));
    ck_assert_ptr_nonnull(
        strstr(cell_source(json_object_get(nb, "cells"), "load"), "BASELINE = None"));
    json_decref(nb);
    free(text);

    r.baseline = "badge";
    ck_assert_int_eq(hitl_sim_notebook(&r, &text, NULL), HITL_OK);
    nb = json_loads(text, 0, NULL);
    md = cell_source(json_object_get(nb, "cells"), "results");
    ck_assert_ptr_null(strstr(md, "labels to reach"));
    ck_assert_ptr_nonnull(strstr(md, "No series is the baseline `badge`"));
    json_decref(nb);
    free(text);

    /* a baseline whose last point has no accuracy */
    double lc_last_nan[3] = {0.4, 0.5, NAN};
    s[2].accuracy = lc_last_nan;
    r.baseline = "lc";
    ck_assert_int_eq(hitl_sim_notebook(&r, &text, NULL), HITL_OK);
    nb = json_loads(text, 0, NULL);
    md = cell_source(json_object_get(nb, "cells"), "results");
    ck_assert_ptr_null(strstr(md, "labels to reach"));
    ck_assert_ptr_nonnull(strstr(md, "| lc | 1 | 30 | n/a |"));
    ck_assert_ptr_nonnull(strstr(md, "has no final accuracy"));
    json_decref(nb);
    free(text);
}
END_TEST

/* Curves with no finite accuracy, a single point, and more series than colours. */
START_TEST(curves_limits)
{
    double x1[1] = {50}, all_nan[2] = {NAN, NAN}, one[1] = {0.9};
    hitl_sim_series s = {"empty", 2, 1, x1, all_nan, NULL};
    char *svg;
    ck_assert_int_eq(hitl_svg_curves(&s, 1, "t", "labels", &svg, NULL), HITL_OK);
    check_svg(svg);
    ck_assert_ptr_nonnull(strstr(svg, "no finite accuracy to draw"));
    ck_assert_int_eq(count(svg, "class=\"mean\""), 0);
    ck_assert_int_eq(count(svg, "<path class=\"band\" fill=\"#1f77b4\" fill-opacity=\"0.15\" "
                                "d=\"\"/>"),
                     1); /* an empty outline, drawn as nothing */
    free(svg);
    s = (hitl_sim_series){"single", 1, 1, x1, one, NULL};
    ck_assert_int_eq(hitl_svg_curves(&s, 1, "t", "labels", &svg, NULL), HITL_OK);
    check_svg(svg);
    ck_assert_int_eq(count(svg, "class=\"mean\""), 1);
    ck_assert_ptr_null(strstr(svg, "nan"));
    free(svg);

    enum { N = 12 };
    hitl_sim_series many[N];
    char names[N][16];
    double acc[N][3];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "s%d", i);
        for (int j = 0; j < 3; j++)
            acc[i][j] = 0.5 + 0.01 * i + 0.1 * j;
        many[i] = (hitl_sim_series){names[i], 1, 3, sim_x, acc[i], NULL};
    }
    many[3].name = "random";
    ck_assert_int_eq(hitl_svg_curves(many, N, "many", "labels", &svg, NULL), HITL_OK);
    check_svg(svg);
    ck_assert_int_eq(count(svg, "class=\"mean\""), N);
    ck_assert_str_eq(nth_attr(svg, "class=\"mean\"", 3, "stroke"), "#7f7f7f");
    ck_assert_str_eq(nth_attr(svg, "class=\"mean\"", 4, "stroke"), "#d62728"); /* 4th colour */
    ck_assert_str_eq(nth_attr(svg, "class=\"mean\"", 9, "stroke"), "#1f77b4"); /* cycle again */
    ck_assert_str_eq(nth_attr(svg, "class=\"mean\"", 9, "stroke-dasharray"), "2 2");
    free(svg);
}
END_TEST

START_TEST(bad_curves)
{
    hitl_error err;
    hitl_sim_series s[3];
    hitl_sim_report r;
    fill_sim(s, &r);
    char *svg = (char *)1;
    ck_assert_int_eq(hitl_svg_curves(NULL, 1, "t", "x", &svg, &err), HITL_EINVAL);
    ck_assert_ptr_null(svg);
    ck_assert_int_eq(hitl_svg_curves(s, 0, "t", "x", &svg, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_svg_curves(s, 3, "t", "x", NULL, &err), HITL_EINVAL);
    hitl_sim_series bad = s[0];
    bad.seeds = 0;
    ck_assert_int_eq(hitl_svg_curves(&bad, 1, "t", "x", &svg, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "'random' has no seeds or no points"));
    bad = s[0];
    bad.points = 0;
    ck_assert_int_eq(hitl_svg_curves(&bad, 1, "t", "x", &svg, &err), HITL_EINVAL);
    bad = s[0];
    bad.labelled = NULL;
    ck_assert_int_eq(hitl_svg_curves(&bad, 1, "t", "x", &svg, &err), HITL_EINVAL);
    bad = s[0];
    bad.accuracy = NULL;
    ck_assert_int_eq(hitl_svg_curves(&bad, 1, "t", "x", &svg, &err), HITL_EINVAL);
    bad = s[0];
    bad.name = NULL;
    ck_assert_int_eq(hitl_svg_curves(&bad, 1, "t", "x", &svg, &err), HITL_EINVAL);
    double nan_x[3] = {10, NAN, 30};
    bad = s[0];
    bad.labelled = nan_x;
    ck_assert_int_eq(hitl_svg_curves(&bad, 1, "t", "x", &svg, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "labels at point 1"));
    ck_assert_ptr_null(svg);

    char *text = (char *)1;
    ck_assert_int_eq(hitl_sim_notebook(NULL, &text, &err), HITL_EINVAL);
    ck_assert_ptr_null(text);
    r.n_series = 0;
    ck_assert_int_eq(hitl_sim_notebook(&r, &text, &err), HITL_EINVAL);
    r.n_series = 3;
    r.curves_path = "";
    ck_assert_int_eq(hitl_sim_notebook(&r, &text, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "curves' path"));
    r.curves_path = "c.h5";
    s[2].name = "margin";
    ck_assert_int_eq(hitl_sim_notebook(&r, &text, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "two series are named 'margin'"));
    s[2].name = "l\xff";
    ck_assert_int_eq(hitl_sim_notebook(&r, &text, &err), HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "UTF-8"));
    s[2].name = "lc";
    s[2].points = 0;
    ck_assert_int_eq(hitl_sim_notebook(&r, &text, &err), HITL_EINVAL);
    s[2].points = 3;
    ck_assert_int_eq(hitl_sim_report_write(&r, "/nonexistent-dir/s.ipynb", &err), HITL_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot write '/nonexistent-dir/s.ipynb'"));
    ck_assert_int_eq(hitl_sim_report_write(&r, NULL, &err), HITL_EINVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nbexport");
    TCase *core = tcase_create("core");
    tcase_add_test(core, histogram_matches_reference);
    tcase_add_test(core, charts_are_well_formed_and_escaped);
    tcase_add_test(core, notebook_structure);
    tcase_add_test(core, curves_are_well_formed);
    tcase_add_test(core, sim_notebook_numbers);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, minimal_report);
    tcase_add_test(limits, curves_limits);
    tcase_add_test(limits, sim_notebook_without_baseline);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, bad_arguments);
    tcase_add_test(errors, bad_reports);
    tcase_add_test(errors, bad_curves);
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
