/* The learning-curve report of `hitl simulate` as an nbformat 4.5 notebook: the run and a table
 * per strategy in markdown, the curves as SVG drawn here (a skip-execution cell), then code cells
 * that re-read the curves file with h5py, print the same table and plot it with matplotlib. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbexport_internal.h"
#include "hitl_banned.h"

/* ---- markdown ---------------------------------------------------------------------------- */

static size_t longest_backticks(const char *text)
{
    size_t run = 0, longest = 0;
    for (const char *p = text; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest) longest = run;
    }
    return longest;
}

/* `text` as one markdown code span: a fence longer than any run of backticks in it, line breaks
 * as spaces (a code span shows everything else as it is). */
static void code_span(hitl_buf *s, const char *text)
{
    size_t longest = longest_backticks(text);
    for (size_t i = 0; i <= longest; i++)
        hitl_buf_putc(s, '`');
    if (text[0] == '`' || (text[0] && text[strlen(text) - 1] == '`')) hitl_buf_putc(s, ' ');
    for (const char *p = text; *p; p++)
        hitl_buf_putc(s, *p == '\n' || *p == '\r' ? ' ' : *p);
    if (text[0] == '`' || (text[0] && text[strlen(text) - 1] == '`')) hitl_buf_putc(s, ' ');
    for (size_t i = 0; i <= longest; i++)
        hitl_buf_putc(s, '`');
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* What the table shows of one series. The code cells compute each the same way, in the same
 * order, so the printed digits match. */
typedef struct sim_stats {
    double end_labels;           /* labels at the last point */
    double final_mean, final_sd; /* over seeds with a finite last accuracy; sd NaN under two */
    double reach;                /* labels for the mean curve to reach the target; NaN: never */
    double median_secs;          /* over every finite seconds value; NaN without */
} sim_stats;

/* Mean (summed in seed order) and sample standard deviation of the finite v[0, n) spaced
 * `stride` apart; NaN when none (the sd also with one). */
static void mean_sd(const double *v, size_t n, size_t stride, double *mean, double *sd)
{
    double sum = 0, ss = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i * stride])) {
            sum += v[i * stride];
            k++;
        }
    *mean = k ? sum / (double)k : NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i * stride])) {
            double d = v[i * stride] - *mean;
            ss += d * d;
        }
    *sd = k > 1 ? sqrt(ss / (double)(k - 1)) : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The labels at which the mean curve of `c` first reaches `target` (hitl_curve_reach over the
 * points where some seed has an accuracy). HITL_ENOMEM. */
static hitl_status series_reach(const hitl_sim_series *c, double target, double *out)
{
    double *x = malloc(c->points * sizeof(double)), *y = malloc(c->points * sizeof(double));
    if (!x || !y) {
        free(x);
        free(y);
        return HITL_ENOMEM;
    }
    size_t k = 0;
    for (size_t j = 0; j < c->points; j++) {
        double m, sd;
        mean_sd(c->accuracy + j, c->seeds, c->points, &m, &sd);
        if (isnan(m)) continue;
        x[k] = c->labelled[j];
        y[k++] = m;
    }
    *out = hitl_curve_reach(x, y, k, target);
    free(x);
    free(y);
    return HITL_OK;
}

/* The median of the finite seconds of the rounds that picked a batch, every point but each
 * seed's last (which only trains), as `hitl simulate` prints it; the mean of the middle two for
 * an even count. */
static hitl_status series_median_secs(const hitl_sim_series *c, double *out)
{
    *out = NAN;
    if (!c->seconds || c->points < 2) return HITL_OK;
    size_t k = 0;
    double *v = malloc(c->seeds * (c->points - 1) * sizeof(double));
    if (!v) return HITL_ENOMEM;
    for (size_t i = 0; i < c->seeds; i++)
        for (size_t j = 0; j + 1 < c->points; j++)
            if (isfinite(c->seconds[i * c->points + j])) v[k++] = c->seconds[i * c->points + j];
    if (k) {
        qsort(v, k, sizeof(double), cmp_double);
        *out = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    }
    free(v);
    return HITL_OK;
}

/* ---- sections ---------------------------------------------------------------------------- */

static void summary(hitl__nb *b, const hitl_sim_report *r)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "# ");
    hitl__buf_md(&s, r->title ? r->title : "Learning curves");
    hitl_buf_puts(&s, "\n\n");
    if (r->command) {
        /* verbatim in a fence no backtick run inside can close */
        size_t longest = longest_backticks(r->command);
        size_t fence = longest < 3 ? 3 : longest + 1;
        for (size_t i = 0; i < fence; i++)
            hitl_buf_putc(&s, '`');
        hitl_buf_printf(&s, "sh\n%s\n", r->command);
        for (size_t i = 0; i < fence; i++)
            hitl_buf_putc(&s, '`');
        hitl_buf_puts(&s, "\n\n");
    }
    if (r->generated_at || r->version) {
        hitl_buf_puts(&s, "Simulated");
        if (r->generated_at) {
            hitl_buf_putc(&s, ' ');
            hitl__buf_md(&s, r->generated_at);
        }
        if (r->version) {
            hitl_buf_puts(&s, " by hitl ");
            hitl__buf_md(&s, r->version);
        }
        hitl_buf_puts(&s, ".\n\n");
    }
    hitl_buf_puts(&s, "- pool: ");
    if (r->features) {
        hitl_buf_puts(&s, "features ");
        code_span(&s, r->features);
    }
    if (r->labels) {
        hitl_buf_puts(&s, r->features ? ", labels " : "labels ");
        code_span(&s, r->labels);
    }
    hitl_buf_printf(&s, "%s%zu rows, %zu features, %zu classes\n- test: ",
                    r->features || r->labels ? ": " : "", r->n_pool, r->d, r->n_classes);
    if (r->test) {
        code_span(&s, r->test);
        hitl_buf_puts(&s, ": ");
    }
    hitl_buf_printf(&s,
                    "%zu rows%s\n- each run: %zu labels drawn at random to start, then up to %zu "
                    "rounds of %zu labels picked by the strategy, the model retrained and "
                    "tested after each\n- labels from: ",
                    r->n_test, r->test ? "" : " held out from the pool", r->seed_labels, r->rounds,
                    r->batch);
    if (r->annotators)
        hitl__buf_md(&s, r->annotators);
    else
        hitl_buf_puts(&s, "an oracle (the true labels)");
    hitl_buf_puts(&s, "\n- curves: ");
    code_span(&s, r->curves_path);
    hitl_buf_puts(&s, ", read by the code cells at the end\n");
    hitl__nb_markdown(b, "summary", &s);
}

static void table(hitl__nb *b, const hitl_sim_report *r, const sim_stats *st, size_t base,
                  double target)
{
    int compare = base < r->n_series && isfinite(target), secs = 0;
    for (size_t i = 0; i < r->n_series; i++)
        secs |= isfinite(st[i].median_secs);
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## Accuracy per strategy\n\nThe final accuracy is the test accuracy after "
                      "the last round: the mean over seeds \xC2\xB1 their sample standard "
                      "deviation.");
    if (compare) {
        hitl_buf_printf(&s,
                        " The labels to reach %.4f, the final mean accuracy of the baseline "
                        "(",
                        target);
        hitl__buf_md(&s, r->baseline);
        hitl_buf_puts(&s, "), are where each mean curve first gets there, interpolated between "
                          "rounds (*never*: it does not); the saving is how many fewer labels "
                          "that takes than the baseline's own curve needs.");
    }
    if (secs)
        hitl_buf_puts(&s, " Seconds are per round (training and picking the batch), the median "
                          "over every round of every seed that picked a batch.");
    if (r->annotators)
        hitl_buf_puts(&s, " Labels are the labels spent: every annotator's label counts.");
    hitl_buf_puts(&s, "\n\n| strategy | seeds | labels at the end | final accuracy |");
    if (compare) {
        hitl_buf_printf(&s, " labels to reach %.4f | saving vs ", target);
        hitl__buf_md(&s, r->baseline);
        hitl_buf_puts(&s, " |");
    }
    if (secs) hitl_buf_puts(&s, " median seconds per round |");
    hitl_buf_printf(&s, "\n| --- | ---: | ---: | ---: |%s%s\n", compare ? " ---: | ---: |" : "",
                    secs ? " ---: |" : "");
    for (size_t i = 0; i < r->n_series; i++) {
        const sim_stats *t = &st[i];
        hitl_buf_puts(&s, "| ");
        hitl__buf_md(&s, r->series[i].name);
        hitl_buf_printf(&s, " | %zu | %.0f | ", r->series[i].seeds, t->end_labels);
        hitl__buf_num(&s, t->final_mean, "%.4f");
        if (isfinite(t->final_mean) && isfinite(t->final_sd))
            hitl_buf_printf(&s, " \xC2\xB1 %.4f", t->final_sd);
        hitl_buf_puts(&s, " |");
        if (compare) {
            if (isnan(t->reach))
                hitl_buf_puts(&s, " never | n/a |");
            else if (i == base)
                hitl_buf_printf(&s, " %.1f | baseline |", t->reach);
            else {
                hitl_buf_printf(&s, " %.1f | ", t->reach);
                double base_reach = st[base].reach;
                hitl__buf_num(&s, base_reach > 0 ? 100 * (1 - t->reach / base_reach) : NAN,
                              "%.1f%%");
                hitl_buf_puts(&s, " |");
            }
        }
        if (secs) {
            hitl_buf_putc(&s, ' ');
            hitl__buf_num(&s, t->median_secs, "%.3g");
            hitl_buf_puts(&s, " |");
        }
        hitl_buf_putc(&s, '\n');
    }
    if (r->baseline && base == r->n_series) {
        hitl_buf_puts(&s, "\nNo series is the baseline ");
        code_span(&s, r->baseline);
        hitl_buf_puts(&s, ": the strategies are not compared with it.\n");
    } else if (r->baseline && !compare) {
        hitl_buf_puts(&s, "\nThe baseline ");
        code_span(&s, r->baseline);
        hitl_buf_puts(&s, " has no final accuracy: the strategies are not compared with it.\n");
    }
    hitl__nb_markdown(b, "results", &s);
}

static void curves_chart(hitl__nb *b, const hitl_sim_report *r, char *svg)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## Learning curves\n\nTest accuracy against the labels spent: the line "
                      "is the mean over seeds, the shaded band runs from the lowest to the "
                      "highest seed.");
    if (r->baseline)
        hitl_buf_puts(&s, " A strategy above the random baseline (grey, dashed) gets the same "
                          "accuracy with fewer labels.");
    hitl_buf_putc(&s, '\n');
    hitl__nb_markdown(b, "curves", &s);
    hitl__nb_chart(b, "curves-chart", "Learning curves", "`hitl simulate`", svg);
}

/* The markdown cell naming the curves file the code cells below read and how to run them. */
static void read_back_text(hitl__nb *b, const hitl_sim_report *r)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## The curves, read back\n\nThe cells below read ");
    code_span(&s, r->curves_path);
    hitl_buf_puts(
        &s, " (next to this notebook) with h5py: the root attributes `strategies` and `seeds`, and "
            "per strategy a group with `labelled` and `annotations` (the labels spent, the x axis) "
            "[points], and `accuracy`, `seconds` and `label_accuracy` [seeds, points]. They print "
            "the table "
            "above again and plot the curves with matplotlib when it is installed. Run them with "
            "`jupyter nbconvert --execute` or in Jupyter from this directory.\n");
    hitl__nb_markdown(b, "read-back", &s);
}

/* The code cell that reads the curves file with h5py into `curves`, keyed by strategy. */
static void load_cell(hitl__nb *b, const hitl_sim_report *r)
{
    hitl_buf s = {0};
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s", r->command ? r->command : "hitl simulate ...");
    for (char *p = cmd; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    hitl_buf_printf(&s,
                    "# The learning curves, as written by\n#   %s\nimport os\n"
                    "import warnings\n\nimport h5py\nimport numpy as np\n\nCURVES = ",
                    cmd);
    hitl__buf_py_str(&s, r->curves_path);
    hitl_buf_puts(&s, "\nBASELINE = ");
    hitl__buf_py_str(&s, r->baseline);
    hitl_buf_puts(
        &s, "  # the strategy the others are compared with\n"
            "if not os.path.exists(CURVES):\n"
            "    raise FileNotFoundError(f\"{CURVES} is not next to the notebook: run the command "
            "above\")\n"
            "curves = {}\n"
            "with h5py.File(CURVES, \"r\") as f:\n"
            "    names = [s.decode() if isinstance(s, bytes) else str(s) for s in "
            "f.attrs[\"strategies\"]]\n"
            "    seeds = np.asarray(f.attrs[\"seeds\"]).ravel()\n"
            "    for name in names:\n"
            "        g = f[name]\n"
            "        c = {\"labelled\": g[\"labelled\"][()].astype(float).ravel()}\n"
            "        # the x axis: labels spent, every annotator's label counted (with an oracle, "
            "the rows\n        # labelled)\n"
            "        c[\"spent\"] = c[\"labelled\"]\n"
            "        for key in (\"accuracy\", \"seconds\", \"label_accuracy\"):\n"
            "            if key in g:\n"
            "                c[key] = np.atleast_2d(g[key][()].astype(float))\n"
            "        if \"annotations\" in g:\n"
            "            c[\"spent\"] = g[\"annotations\"][()].astype(float).ravel()\n"
            "        curves[name] = c\n"
            "print(f\"{len(names)} strategies over {len(seeds)} seeds "
            "({', '.join(str(s) for s in seeds)}): {', '.join(names)}\")\n");
    hitl__nb_code_buf(b, "load", &s);
}

/* The code cell that prints the markdown table again, computed the same way from the file. */
static void table_cell(hitl__nb *b)
{
    hitl_buf s = {0};
    hitl_buf_puts(
        &s,
        "# The table above, recomputed. Means are summed in seed order, as hitl does, so that "
        "the\n# digits match; seeds without a number at a point are left out of it.\n"
        "import math\n\n\n"
        "def mean_sd(values):\n"
        "    v = [float(x) for x in values if np.isfinite(x)]\n"
        "    if not v:\n"
        "        return math.nan, math.nan\n"
        "    m = 0.0\n"
        "    for x in v:\n"
        "        m += x\n"
        "    m /= len(v)\n"
        "    ss = 0.0\n"
        "    for x in v:\n"
        "        ss += (x - m) * (x - m)\n"
        "    return m, math.sqrt(ss / (len(v) - 1)) if len(v) > 1 else math.nan\n\n\n"
        "def reach(x, y, target):\n"
        "    \"\"\"Labels at which the curve first reaches target, interpolated linearly "
        "between the\n    two points around the crossing (hitl_curve_reach); NaN: never.\"\"\"\n"
        "    ok = np.isfinite(y)\n"
        "    x, y = x[ok], y[ok]\n"
        "    for i in range(len(y)):\n"
        "        if y[i] >= target:\n"
        "            if i == 0:\n"
        "                return float(x[0])\n"
        "            t = (target - y[i - 1]) / (y[i] - y[i - 1])\n"
        "            return float(x[i - 1] + t * (x[i] - x[i - 1]))\n"
        "    return math.nan\n\n\n"
        "def fmt(v, spec):\n"
        "    return format(v, spec) if np.isfinite(v) else \"n/a\"\n\n\n"
        "mean = {n: np.array([mean_sd(c[\"accuracy\"][:, j])[0] for j in "
        "range(c[\"accuracy\"].shape[1])])\n"
        "        for n, c in curves.items()}\n"
        "target = mean[BASELINE][-1] if BASELINE in mean else math.nan\n"
        "compare = bool(np.isfinite(target))\n"
        "base_reach = reach(curves[BASELINE][\"spent\"], mean[BASELINE], target) if compare "
        "else math.nan\n"
        "median = {}\n"
        "for n, c in curves.items():\n"
        "    s = c.get(\"seconds\")\n"
        "    s = s[:, :-1] if s is not None else np.zeros((0, 0))  # the last point picks nothing\n"
        "    s = s[np.isfinite(s)]\n"
        "    median[n] = float(np.median(s)) if len(s) else math.nan\n"
        "secs = any(np.isfinite(m) for m in median.values())\n"
        "head = [\"strategy\", \"seeds\", \"labels at the end\", \"final accuracy\"]\n"
        "if compare:\n"
        "    head += [f\"labels to reach {target:.4f}\", f\"saving vs {BASELINE}\"]\n"
        "if secs:\n"
        "    head += [\"median seconds per round\"]\n"
        "rows = []\n"
        "for n, c in curves.items():\n"
        "    m, sd = mean_sd(c[\"accuracy\"][:, -1])\n"
        "    acc = fmt(m, \".4f\") + (f\" \\u00b1 {sd:.4f}\" if np.isfinite(m) and "
        "np.isfinite(sd) else \"\")\n"
        "    row = [n, str(c[\"accuracy\"].shape[0]), f\"{c['spent'][-1]:.0f}\", acc]\n"
        "    if compare:\n"
        "        got = reach(c[\"spent\"], mean[n], target)\n"
        "        if math.isnan(got):\n"
        "            row += [\"never\", \"n/a\"]\n"
        "        elif n == BASELINE:\n"
        "            row += [f\"{got:.1f}\", \"baseline\"]\n"
        "        else:\n"
        "            saving = 100 * (1 - got / base_reach) if base_reach > 0 else math.nan\n"
        "            row += [f\"{got:.1f}\", fmt(saving, \".1f\") + (\"%\" if "
        "np.isfinite(saving) else \"\")]\n"
        "    if secs:\n"
        "        row += [fmt(median[n], \".3g\")]\n"
        "    rows.append(row)\n"
        "widths = [max(len(r[k]) for r in rows + [head]) for k in range(len(head))]\n"
        "for r in [head] + rows:\n"
        "    print(\"  \".join(v.ljust(w) if k == 0 else v.rjust(w) for k, (v, w) in "
        "enumerate(zip(r, widths))))\n"
        "if BASELINE is not None and not compare:\n"
        "    print(f\"no final accuracy for the baseline {BASELINE!r}: nothing compared\")\n");
    hitl__nb_code_buf(b, "table", &s);
}

/* The code cell that plots the curves with matplotlib when it is installed. */
static void plot_cell(hitl__nb *b, const hitl_sim_report *r)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "# The curves again, with matplotlib when it is installed (the chart "
                      "above needs nothing).\ntry:\n"
                      "    import matplotlib.pyplot as plt\n"
                      "except ImportError:\n"
                      "    plt = None\n"
                      "    print(\"matplotlib is not installed: the chart above shows the "
                      "same curves\")\n"
                      "if plt is not None:\n"
                      "    fig, ax = plt.subplots(figsize=(8, 5))\n"
                      "    for n, c in curves.items():\n"
                      "        style = {\"color\": \"grey\", \"linestyle\": \"--\"} if n == "
                      "\"random\" else {}\n"
                      "        (line,) = ax.plot(c[\"spent\"], mean[n], marker=\"o\", "
                      "markersize=3, label=n, **style)\n"
                      "        if c[\"accuracy\"].shape[0] > 1:\n"
                      "            with warnings.catch_warnings():\n"
                      "                warnings.simplefilter(\"ignore\", RuntimeWarning)  # "
                      "all-NaN points\n"
                      "                lo = np.nanmin(c[\"accuracy\"], axis=0)\n"
                      "                hi = np.nanmax(c[\"accuracy\"], axis=0)\n"
                      "            ax.fill_between(c[\"spent\"], lo, hi, "
                      "color=line.get_color(), alpha=0.15, linewidth=0)\n"
                      "    ax.set_xlabel(\"labels spent\")\n"
                      "    ax.set_ylabel(\"test accuracy\")\n"
                      "    ax.set_title(");
    hitl__buf_py_str(&s, r->title ? r->title : "Learning curves");
    hitl_buf_puts(&s, ")\n"
                      "    ax.grid(alpha=0.3)\n"
                      "    ax.legend()\n"
                      "    plt.show()\n");
    hitl__nb_code_buf(b, "plot", &s);
}

/* The code cell that prints how right the training labels were after the last round. */
static void label_quality_cell(hitl__nb *b)
{
    hitl_buf s = {0};
    hitl_buf_puts(
        &s, "# How right the training labels were after the last round: 1 with an oracle, less "
            "with\n# simulated annotators (their majority vote or Dawid-Skene).\n"
            "for n, c in curves.items():\n"
            "    if \"label_accuracy\" not in c:\n"
            "        continue\n"
            "    m, _ = mean_sd(c[\"label_accuracy\"][:, -1])\n"
            "    print(f\"{n}: {fmt(m, '.4f')} of the labels on the {c['labelled'][-1]:.0f} "
            "training rows \"\n"
            "          f\"are right ({c['spent'][-1]:.0f} labels spent)\")\n");
    hitl__nb_code_buf(b, "label-quality", &s);
}

/* The cells that read the curves back, print the table again and plot them. */
static void rerun(hitl__nb *b, const hitl_sim_report *r)
{
    read_back_text(b, r);
    load_cell(b, r);
    table_cell(b);
    plot_cell(b, r);
    label_quality_cell(b);
}

/* ---- the notebook ------------------------------------------------------------------------ */

hitl_status hitl_sim_notebook(const hitl_sim_report *r, char **text, hitl_error *err)
{
    if (!text) return hitl_error_set(err, HITL_EINVAL, "no place for the notebook given");
    *text = NULL;
    if (!r || !r->series || r->n_series == 0)
        return hitl_error_set(err, HITL_EINVAL, "a learning-curve report needs a series");
    if (!r->curves_path || !r->curves_path[0])
        return hitl_error_set(err, HITL_EINVAL, "a learning-curve report needs the curves' path");
    for (size_t i = 0; i < r->n_series; i++) {
        const hitl_sim_series *c = &r->series[i];
        if (!c->name || !c->name[0] || !c->labelled || !c->accuracy)
            return hitl_error_set(err, HITL_EINVAL, "series %zu has no name, labels or accuracies",
                                  i);
        if (c->seeds == 0 || c->points == 0)
            return hitl_error_set(err, HITL_EINVAL, "series '%s' has no seeds or no points",
                                  c->name);
        for (size_t t = 0; t < i; t++)
            if (strcmp(r->series[t].name, c->name) == 0)
                return hitl_error_set(err, HITL_EINVAL, "two series are named '%s'", c->name);
    }
    char *svg = NULL;
    hitl_status st = hitl_svg_curves(
        r->series, r->n_series, r->title ? r->title : "Learning curves", "labels spent", &svg, err);
    if (st != HITL_OK) return st;

    /* the table's numbers */
    size_t base = r->n_series;
    for (size_t i = 0; r->baseline && i < r->n_series; i++)
        if (strcmp(r->series[i].name, r->baseline) == 0) base = i;
    sim_stats *stats = calloc(r->n_series, sizeof(sim_stats));
    if (!stats) {
        free(svg);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->n_series; i++) {
        const hitl_sim_series *c = &r->series[i];
        stats[i].end_labels = c->labelled[c->points - 1];
        mean_sd(c->accuracy + c->points - 1, c->seeds, c->points, &stats[i].final_mean,
                &stats[i].final_sd);
        if (st == HITL_OK) st = series_median_secs(c, &stats[i].median_secs);
    }
    double target = base < r->n_series ? stats[base].final_mean : NAN;
    for (size_t i = 0; i < r->n_series; i++) {
        stats[i].reach = NAN;
        if (st == HITL_OK && isfinite(target))
            st = series_reach(&r->series[i], target, &stats[i].reach);
    }
    if (st != HITL_OK) {
        free(svg);
        free(stats);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }

    hitl__nb b;
    st = hitl__nb_init(&b, err);
    if (st != HITL_OK) {
        free(svg);
        free(stats);
        return st;
    }
    summary(&b, r);
    table(&b, r, stats, base, target);
    curves_chart(&b, r, svg);
    rerun(&b, r);
    free(stats);
    const hitl__nb_meta meta[] = {
        {"curves", r->curves_path}, {"command", r->command}, {"generated_at", r->generated_at}};
    return hitl__nb_finish(&b, meta, sizeof(meta) / sizeof(meta[0]), text, err);
}

hitl_status hitl_sim_report_write(const hitl_sim_report *r, const char *path, hitl_error *err)
{
    if (!path) return hitl_error_set(err, HITL_EINVAL, "no notebook path given");
    char *text;
    hitl_status st = hitl_sim_notebook(r, &text, err);
    if (st != HITL_OK) return st;
    return hitl__nb_write(text, path, err);
}
