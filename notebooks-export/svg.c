/* The reports' charts as standalone SVG text, drawn here so the notebooks show them without any
 * plotting library: reliability diagram, overlaid histograms, agreement heatmap, confusion
 * matrix, stacked bars and learning curves. Every name is XML-escaped; sizes follow the data. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbexport_internal.h"
#include "hitl_banned.h"

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};
/* Learning curves: the first five as above, then three more; the random baseline is grey. */
static const char *const curve_palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                            "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define N_CURVE_COLORS (sizeof(curve_palette) / sizeof(curve_palette[0]))
#define BASELINE_GREY  "#7f7f7f"

/* ---- drawing helpers --------------------------------------------------------------------- */

static void head(hitl_buf *s, int w, int h, const char *title)
{
    hitl_buf_printf(s,
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                    "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
                    "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
                    w, h, w, h, w, h);
    if (title) {
        hitl_buf_printf(s,
                        "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"13\" "
                        "font-weight=\"bold\">",
                        w / 2);
        hitl__buf_xml(s, title, 0);
        hitl_buf_puts(s, "</text>\n");
    }
}

static hitl_status finish(hitl_buf *s, char **svg, hitl_error *err)
{
    hitl_buf_puts(s, "</svg>\n");
    if (s->oom) {
        hitl_buf_release(s);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for a chart");
    }
    *svg = s->p;
    return HITL_OK;
}

typedef struct frame {
    double x0, y0, x1, y1;     /* plot area in pixels (y0 top) */
    double xlo, xhi, ylo, yhi; /* data range */
    double yticks;             /* about how many steps between y ticks; 0: 5 */
} frame;

static double px(const frame *f, double x)
{
    return f->x0 + (x - f->xlo) / (f->xhi - f->xlo) * (f->x1 - f->x0);
}

static double py(const frame *f, double y)
{
    return f->y1 - (y - f->ylo) / (f->yhi - f->ylo) * (f->y1 - f->y0);
}

/* A round tick step (1, 2 or 5 times a power of ten) giving at most about steps + 1 ticks. */
static double nice_step_n(double range, double steps)
{
    double raw = range / steps, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* At most about 6 ticks. */
static double nice_step(double range)
{
    return nice_step_n(range, 5);
}

/* Axes with round ticks and their labels. */
static void axes(hitl_buf *s, const frame *f, const char *xlabel, const char *ylabel)
{
    hitl_buf_printf(s,
                    "<g stroke=\"#333\" fill=\"none\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                    "y2=\"%.1f\"/><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
                    f->x0, f->y1, f->x1, f->y1, f->x0, f->y0, f->x0, f->y1);
    double dx = nice_step(f->xhi - f->xlo);
    double dy = nice_step_n(f->yhi - f->ylo, f->yticks > 0 ? f->yticks : 5);
    for (double x = ceil(f->xlo / dx - 1e-9) * dx; x <= f->xhi + dx * 1e-9; x += dx)
        hitl_buf_printf(s,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.6g</text>\n",
                        px(f, x), f->y1, px(f, x), f->y1 + 4, px(f, x), f->y1 + 16,
                        fabs(x) < dx * 1e-9 ? 0 : x);
    for (double y = ceil(f->ylo / dy - 1e-9) * dy; y <= f->yhi + dy * 1e-9; y += dy)
        hitl_buf_printf(s,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.6g</text>\n",
                        f->x0 - 4, py(f, y), f->x0, py(f, y), f->x0 - 6, py(f, y) + 4,
                        fabs(y) < dy * 1e-9 ? 0 : y);
    hitl_buf_printf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (f->x0 + f->x1) / 2,
                    f->y1 + 34);
    hitl__buf_xml(s, xlabel, 0);
    hitl_buf_printf(s,
                    "</text>\n<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
                    "text-anchor=\"middle\">",
                    f->x0 - 42, (f->y0 + f->y1) / 2);
    hitl__buf_xml(s, ylabel, 0);
    hitl_buf_puts(s, "</text>\n");
}

static void legend(hitl_buf *s, double x, double y, const char *color, const char *name)
{
    hitl_buf_printf(s,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\">",
                    x, y - 9, color, x + 16, y);
    hitl__buf_xml(s, name, 0);
    hitl_buf_puts(s, "</text>\n");
}

/* A legend entry for a line: a short stroke (dashed when `dash` is not NULL) with a marker. */
static void legend_line(hitl_buf *s, double x, double y, const char *color, const char *dash,
                        const char *name)
{
    hitl_buf_printf(s,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"2\"",
                    x, y - 4, x + 22, y - 4, color);
    if (dash) hitl_buf_printf(s, " stroke-dasharray=\"%s\"", dash);
    hitl_buf_printf(s,
                    "/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\">",
                    x + 11, y - 4, color, x + 28, y);
    hitl__buf_xml(s, name, 22);
    hitl_buf_puts(s, "</text>\n");
}

/* White to dark blue. */
static void shade(double v, char out[8])
{
    if (!(v >= 0)) v = 0;
    if (v > 1) v = 1;
    int r = (int)lround(247 + (8 - 247) * v), g = (int)lround(251 + (48 - 251) * v);
    int b = (int)lround(255 + (107 - 255) * v);
    snprintf(out, 8, "#%02x%02x%02x", r, g, b);
}

static void centred_note(hitl_buf *s, int w, int h, const char *text)
{
    hitl_buf_printf(s, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666\">", w / 2,
                    h / 2);
    hitl__buf_xml(s, text, 0);
    hitl_buf_puts(s, "</text>\n");
}

/* ---- charts ------------------------------------------------------------------------------ */

hitl_status hitl_svg_reliability(const hitl_reliability *r, const char *title, char **svg,
                                 hitl_error *err)
{
    *svg = NULL;
    if (!r || r->bins == 0) return hitl_error_set(err, HITL_EINVAL, "no reliability bins given");
    const int W = 480, H = 420;
    hitl_buf s = {0};
    head(&s, W, H, title);
    frame f = {70, 40, W - 30, H - 60, 0, 1, 0, 1, 0};
    axes(&s, &f, "confidence (the model's top probability)", "accuracy");
    hitl_buf_printf(&s,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
                    "stroke-dasharray=\"4 3\"/>\n",
                    px(&f, 0), py(&f, 0), px(&f, 1), py(&f, 1));
    for (size_t b = 0; b < r->bins; b++) {
        if (!r->count[b]) continue;
        double lo = (double)b / (double)r->bins, hi = (double)(b + 1) / (double)r->bins;
        double acc = (double)r->hits[b] / (double)r->count[b];
        double conf = r->conf_sum[b] / (double)r->count[b];
        double x = px(&f, lo) + 1, w = px(&f, hi) - px(&f, lo) - 2;
        hitl_buf_printf(&s,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"%s\" fill-opacity=\"0.85\"><title>(%.2f, %.2f]: %lld items, "
                        "accuracy %.3f, confidence %.3f</title></rect>\n",
                        x, py(&f, acc), w, py(&f, 0) - py(&f, acc), palette[0], lo, hi,
                        (long long)r->count[b], acc, conf);
        double top = acc > conf ? acc : conf, bottom = acc > conf ? conf : acc;
        hitl_buf_printf(&s,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\"/>\n",
                        x, py(&f, top), w, py(&f, bottom) - py(&f, top), palette[3], palette[3]);
        hitl_buf_printf(&s,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                        "font-size=\"9\">%lld</text>\n",
                        x + w / 2, py(&f, top) - 3, (long long)r->count[b]);
    }
    legend(&s, f.x0 + 10, f.y0 + 12, palette[0], "accuracy per bin (count above)");
    legend(&s, f.x0 + 10, f.y0 + 28, "#e8a0a0", "gap to the mean confidence");
    if (r->n == 0) centred_note(&s, W, H, "no blind items with a final label yet");
    return finish(&s, svg, err);
}

hitl_status hitl_svg_histograms(const hitl_histogram *const *h, const char *const *names, size_t n,
                                const char *title, const char *xlabel, char **svg, hitl_error *err)
{
    *svg = NULL;
    if (!h || !names || n == 0 || n > 5 || !h[0])
        return hitl_error_set(err, HITL_EINVAL, "give 1 to 5 histograms");
    for (size_t i = 1; i < n; i++)
        if (!h[i] || h[i]->bins != h[0]->bins || h[i]->lo != h[0]->lo || h[i]->hi != h[0]->hi)
            return hitl_error_set(err, HITL_EINVAL, "histograms must share range and bins");
    const int W = 600, H = 380;
    double ymax = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; h[i]->n && b < h[i]->bins; b++) {
            double share = (double)h[i]->count[b] / (double)h[i]->n;
            if (share > ymax) ymax = share;
        }
    hitl_buf s = {0};
    head(&s, W, H, title);
    double top = ymax > 0 ? ymax * 1.1 : 1, step = nice_step(top);
    frame f = {70, 40, W - 30, H - 60, h[0]->lo, h[0]->hi, 0, ceil(top / step) * step, 0};
    axes(&s, &f, xlabel ? xlabel : "score", "share of the series' items");
    size_t B = h[0]->bins;
    for (size_t i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof(name), "%s (%lld)", names[i] ? names[i] : "?", (long long)h[i]->n);
        legend(&s, f.x1 - 190, f.y0 + 12 + 16 * (double)i, palette[i], h[i]->n ? name : names[i]);
        if (!h[i]->n) continue;
        hitl_buf_printf(&s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                        palette[i]);
        double y_prev = 0;
        for (size_t b = 0; b < B; b++) {
            double x = h[0]->lo + (h[0]->hi - h[0]->lo) * (double)b / (double)B;
            double x2 = h[0]->lo + (h[0]->hi - h[0]->lo) * (double)(b + 1) / (double)B;
            double y = (double)h[i]->count[b] / (double)h[i]->n;
            hitl_buf_printf(&s, "%.1f,%.1f %.1f,%.1f %.1f,%.1f ", px(&f, x), py(&f, y_prev),
                            px(&f, x), py(&f, y), px(&f, x2), py(&f, y));
            y_prev = y;
        }
        hitl_buf_printf(&s, "%.1f,%.1f\"/>\n", px(&f, h[0]->hi), py(&f, 0));
    }
    return finish(&s, svg, err);
}

/* Names on the left and, turned, on top of an n x n (or rows x cols) grid. */
static void grid_names(hitl_buf *s, const char *const *names, size_t n, double x0, double y0,
                       double cell)
{
    for (size_t i = 0; i < n; i++) {
        hitl_buf_printf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 6,
                        y0 + cell * ((double)i + 0.5) + 4);
        hitl__buf_xml(s, names[i] ? names[i] : "?", 18);
        hitl_buf_printf(s, "</text><text transform=\"translate(%.1f %.1f) rotate(-60)\">",
                        x0 + cell * ((double)i + 0.5) + 4, y0 - 6);
        hitl__buf_xml(s, names[i] ? names[i] : "?", 18);
        hitl_buf_puts(s, "</text>\n");
    }
}

hitl_status hitl_svg_heatmap(const double *v, size_t n, const char *const *names, const char *title,
                             char **svg, hitl_error *err)
{
    *svg = NULL;
    if (!v || !names || n == 0) return hitl_error_set(err, HITL_EINVAL, "no heatmap values given");
    double cell = n <= 10 ? 36 : n <= 40 ? 360.0 / (double)n : 9;
    double x0 = 140, y0 = 130;
    int W = (int)(x0 + cell * (double)n + 40), H = (int)(y0 + cell * (double)n + 50);
    if (W < 600) W = 600; /* room for the note under the grid */
    hitl_buf s = {0};
    head(&s, W, H, title);
    grid_names(&s, names, n, x0, y0, cell);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double x = v[i * n + j];
            char c[8] = "#dddddd";
            if (!isnan(x)) shade(x, c);
            hitl_buf_printf(&s,
                            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                            "fill=\"%s\" stroke=\"white\"/>",
                            x0 + cell * (double)j, y0 + cell * (double)i, cell, cell, c);
            if (cell >= 24 && !isnan(x))
                hitl_buf_printf(&s,
                                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                                "font-size=\"10\" fill=\"%s\">%.2f</text>",
                                x0 + cell * ((double)j + 0.5), y0 + cell * ((double)i + 0.5) + 4,
                                x > 0.55 ? "white" : "black", x);
            hitl_buf_putc(&s, '\n');
        }
    hitl_buf_printf(&s,
                    "<text x=\"%.1f\" y=\"%d\" fill=\"#555\">darker: the pair gave the same "
                    "label more often; grey: no item in common</text>\n",
                    x0, H - 16);
    return finish(&s, svg, err);
}

hitl_status hitl_svg_confusion(const int64_t *m, size_t c, const char *const *names,
                               const char *title, const char *row_label, const char *col_label,
                               char **svg, hitl_error *err)
{
    *svg = NULL;
    if (!m || !names || c == 0) return hitl_error_set(err, HITL_EINVAL, "no matrix given");
    double cell = c <= 10 ? 40 : c <= 40 ? 400.0 / (double)c : 10;
    double x0 = 150, y0 = 140;
    int W = (int)(x0 + cell * (double)c + 40), H = (int)(y0 + cell * (double)c + 40);
    if (W < 420) W = 420;
    hitl_buf s = {0};
    head(&s, W, H, title);
    grid_names(&s, names, c, x0, y0, cell);
    hitl_buf_printf(&s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">",
                    x0 + cell * (double)c / 2, 40.0);
    hitl__buf_xml(&s, col_label ? col_label : "", 0);
    hitl_buf_printf(&s,
                    "</text><text transform=\"translate(%.1f %.1f) rotate(-90)\" "
                    "text-anchor=\"middle\" fill=\"#555\">",
                    20.0, y0 + cell * (double)c / 2);
    hitl__buf_xml(&s, row_label ? row_label : "", 0);
    hitl_buf_puts(&s, "</text>\n");
    for (size_t i = 0; i < c; i++) {
        int64_t total = 0;
        for (size_t j = 0; j < c; j++)
            total += m[i * c + j];
        for (size_t j = 0; j < c; j++) {
            int64_t k = m[i * c + j];
            double share = total ? (double)k / (double)total : 0;
            char col[8];
            shade(share, col);
            hitl_buf_printf(&s,
                            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                            "fill=\"%s\" stroke=\"%s\"/>",
                            x0 + cell * (double)j, y0 + cell * (double)i, cell, cell, col,
                            i == j ? "#333" : "white");
            if (cell >= 24 && k)
                hitl_buf_printf(&s,
                                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                                "font-size=\"10\" fill=\"%s\">%lld</text>",
                                x0 + cell * ((double)j + 0.5), y0 + cell * ((double)i + 0.5) + 4,
                                share > 0.55 ? "white" : "black", (long long)k);
            hitl_buf_putc(&s, '\n');
        }
    }
    return finish(&s, svg, err);
}

hitl_status hitl_svg_bars(const double *a, const double *b, const char *const *names, size_t n,
                          const char *title, const char *a_name, const char *b_name, char **svg,
                          hitl_error *err)
{
    *svg = NULL;
    if (!a || !names || n == 0) return hitl_error_set(err, HITL_EINVAL, "no bars given");
    double max = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (isfinite(a[i]) ? a[i] : 0) + (b && isfinite(b[i]) ? b[i] : 0);
        if (t > max) max = t;
    }
    if (max <= 0) max = 1;
    const double x0 = 150, bar = 16, gap = 6, y0 = 60;
    const int W = 620, H = (int)(y0 + (double)n * (bar + gap) + 30);
    const double w = W - x0 - 80;
    hitl_buf s = {0};
    head(&s, W, H, title);
    legend(&s, x0, 44, palette[0], a_name ? a_name : "");
    if (b) legend(&s, x0 + 160, 44, palette[1], b_name ? b_name : "");
    for (size_t i = 0; i < n; i++) {
        double y = y0 + (double)i * (bar + gap);
        double va = isfinite(a[i]) && a[i] > 0 ? a[i] : 0;
        double vb = b && isfinite(b[i]) && b[i] > 0 ? b[i] : 0;
        hitl_buf_printf(&s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 6,
                        y + bar - 4);
        hitl__buf_xml(&s, names[i] ? names[i] : "?", 20);
        hitl_buf_printf(&s,
                        "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"%s\"/>",
                        x0, y, w * va / max, bar, palette[0]);
        if (b)
            hitl_buf_printf(&s,
                            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                            "fill=\"%s\"/>",
                            x0 + w * va / max, y, w * vb / max, bar, palette[1]);
        hitl_buf_printf(&s, "<text x=\"%.1f\" y=\"%.1f\">%.4g", x0 + w * (va + vb) / max + 4,
                        y + bar - 4, va);
        if (b) hitl_buf_printf(&s, " + %.4g", vb);
        hitl_buf_puts(&s, "</text>\n");
    }
    return finish(&s, svg, err);
}

/* ---- learning curves --------------------------------------------------------------------- */

/* Mean, lowest and highest of the finite accuracies over seeds at point j (NaN when none). */
static void curve_point(const hitl_sim_series *c, size_t j, double *mean, double *lo, double *hi)
{
    double sum = 0;
    size_t k = 0;
    *lo = *hi = NAN;
    for (size_t r = 0; r < c->seeds; r++) {
        double v = c->accuracy[r * c->points + j];
        if (!isfinite(v)) continue;
        sum += v;
        if (k == 0 || v < *lo) *lo = v;
        if (k == 0 || v > *hi) *hi = v;
        k++;
    }
    *mean = k ? sum / (double)k : NAN;
}

static int is_random(const hitl_sim_series *c)
{
    return strcmp(c->name, "random") == 0;
}

/* Series i's colour and dash (NULL: solid): grey and dashed for the random baseline, else the
 * palette in order (the baseline takes no colour); past eight colours the cycle restarts dotted. */
static void curve_style(const hitl_sim_series *s, size_t i, const char **color, const char **dash)
{
    if (is_random(&s[i])) {
        *color = BASELINE_GREY;
        *dash = "6 4";
        return;
    }
    size_t k = 0;
    for (size_t t = 0; t < i; t++)
        k += !is_random(&s[t]);
    *color = curve_palette[k % N_CURVE_COLORS];
    *dash = k >= N_CURVE_COLORS ? "2 2" : NULL;
}

/* Checks the curves and widens f's data range to their labels and finite accuracies (the y range
 * stays empty when no accuracy is finite); *most: the points of the longest. HITL_EINVAL. */
static hitl_status curves_extent(const hitl_sim_series *s, size_t n, frame *f, size_t *most,
                                 hitl_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const hitl_sim_series *c = &s[i];
        if (!c->name || !c->labelled || !c->accuracy)
            return hitl_error_set(err, HITL_EINVAL, "curve %zu has no name, labels or accuracies",
                                  i);
        if (c->seeds == 0 || c->points == 0)
            return hitl_error_set(err, HITL_EINVAL, "curve '%s' has no seeds or no points",
                                  c->name);
        for (size_t j = 0; j < c->points; j++) {
            double x = c->labelled[j];
            if (!isfinite(x))
                return hitl_error_set(err, HITL_EINVAL, "curve '%s': labels at point %zu are %g",
                                      c->name, j, x);
            if (x < f->xlo) f->xlo = x;
            if (x > f->xhi) f->xhi = x;
            for (size_t r = 0; r < c->seeds; r++) {
                double y = c->accuracy[r * c->points + j];
                if (!isfinite(y)) continue;
                if (y < f->ylo) f->ylo = y;
                if (y > f->yhi) f->yhi = y;
            }
        }
        if (c->points > *most) *most = c->points;
    }
    return HITL_OK;
}

/* Room around f's data range; 1 when no accuracy is finite (y then runs over [0, 1]). */
static int curves_pad(frame *f)
{
    int empty = !(f->ylo <= f->yhi);
    if (empty) {
        f->ylo = 0;
        f->yhi = 1;
    } else {
        /* a little room around the data, not past [0, 1] when the data stays within it */
        double pad = (f->yhi - f->ylo) * 0.05 > 0.01 ? (f->yhi - f->ylo) * 0.05 : 0.01;
        f->ylo = f->ylo >= 0 && f->ylo - pad < 0 ? 0 : f->ylo - pad;
        f->yhi = f->yhi <= 1 && f->yhi + pad > 1 ? 1 : f->yhi + pad;
    }
    if (f->xhi <= f->xlo) { /* every point at the same labels: centre them */
        double pad = fabs(f->xlo) * 0.05 > 1 ? fabs(f->xlo) * 0.05 : 1;
        f->xlo -= pad;
        f->xhi += pad;
    }
    return empty;
}

/* The seeds' bands, drawn before any line so that no band covers one: per series with two seeds
 * or more, one closed outline per run of points with data, along the highest seed and back along
 * the lowest. */
static void curve_bands(hitl_buf *b, const frame *f, const hitl_sim_series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const hitl_sim_series *c = &s[i];
        const char *color, *dash;
        if (c->seeds < 2) continue;
        curve_style(s, i, &color, &dash);
        hitl_buf_printf(b, "<path class=\"band\" fill=\"%s\" fill-opacity=\"0.15\" d=\"", color);
        for (size_t j = 0; j < c->points;) {
            double m, lo, hi;
            curve_point(c, j, &m, &lo, &hi);
            if (isnan(m)) {
                j++;
                continue;
            }
            size_t end = j;
            for (;;) {
                hitl_buf_printf(b, "%s%.1f,%.1f ", end == j ? "M" : "L", px(f, c->labelled[end]),
                                py(f, hi));
                if (end + 1 == c->points) break;
                curve_point(c, end + 1, &m, &lo, &hi);
                if (isnan(m)) break;
                end++;
            }
            for (size_t t = end + 1; t-- > j;) {
                curve_point(c, t, &m, &lo, &hi);
                hitl_buf_printf(b, "L%.1f,%.1f ", px(f, c->labelled[t]), py(f, lo));
            }
            hitl_buf_puts(b, "Z ");
            j = end + 1;
        }
        hitl_buf_puts(b, "\"/>\n");
    }
}

/* Series i's mean over seeds: one path, broken where a point has no data, then a marker with a
 * tooltip at each point; nothing when no point has data. */
static void curve_mean(hitl_buf *b, const frame *f, const hitl_sim_series *s, size_t i,
                       double radius)
{
    const hitl_sim_series *c = &s[i];
    const char *color, *dash;
    curve_style(s, i, &color, &dash);
    int drawn = 0, gap = 1;
    for (size_t j = 0; j < c->points; j++) {
        double m, lo, hi;
        curve_point(c, j, &m, &lo, &hi);
        if (isnan(m)) {
            gap = 1;
            continue;
        }
        if (!drawn) {
            hitl_buf_printf(b,
                            "<path class=\"mean\" fill=\"none\" stroke=\"%s\" "
                            "stroke-width=\"2\"",
                            color);
            if (dash) hitl_buf_printf(b, " stroke-dasharray=\"%s\"", dash);
            hitl_buf_puts(b, " d=\"");
            drawn = 1;
        }
        hitl_buf_printf(b, "%s%.1f,%.1f ", gap ? "M" : "L", px(f, c->labelled[j]), py(f, m));
        gap = 0;
    }
    if (!drawn) return;
    hitl_buf_puts(b, "\"><title>");
    hitl__buf_xml(b, c->name, 0);
    hitl_buf_printf(b, "</title></path>\n<g class=\"markers\" fill=\"%s\">", color);
    for (size_t j = 0; j < c->points; j++) {
        double m, lo, hi;
        curve_point(c, j, &m, &lo, &hi);
        if (isnan(m)) continue;
        hitl_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"><title>",
                        px(f, c->labelled[j]), py(f, m), radius);
        hitl__buf_xml(b, c->name, 0);
        hitl_buf_printf(b, ": %.6g labels, accuracy %.4f", c->labelled[j], m);
        if (c->seeds > 1) hitl_buf_printf(b, " (seeds %.4f to %.4f)", lo, hi);
        hitl_buf_puts(b, "</title></circle>");
    }
    hitl_buf_puts(b, "</g>\n");
}

hitl_status hitl_svg_curves(const hitl_sim_series *s, size_t n, const char *title,
                            const char *xlabel, char **svg, hitl_error *err)
{
    if (!svg) return hitl_error_set(err, HITL_EINVAL, "no place for the chart given");
    *svg = NULL;
    if (!s || n == 0 || n > 64) return hitl_error_set(err, HITL_EINVAL, "give 1 to 64 curves");
    const int W = 680, H = n <= 17 ? 420 : 100 + 18 * (int)n; /* room for the legend */
    frame f = {70, 40, W - 190, H - 60, INFINITY, -INFINITY, INFINITY, -INFINITY, 8};
    size_t most = 0; /* points of the longest series */
    hitl_status r = curves_extent(s, n, &f, &most, err);
    if (r != HITL_OK) return r;
    int empty = curves_pad(&f);

    const double radius = most <= 30 ? 3 : most <= 100 ? 2 : 1.2;
    hitl_buf b = {0};
    head(&b, W, H, title);
    /* light lines across at the y ticks, under everything, to read accuracies off */
    double dy = nice_step_n(f.yhi - f.ylo, f.yticks);
    hitl_buf_puts(&b, "<g stroke=\"#eeeeee\">");
    for (double y = ceil(f.ylo / dy - 1e-9) * dy; y <= f.yhi + dy * 1e-9; y += dy)
        hitl_buf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f.x0,
                        py(&f, y), f.x1, py(&f, y));
    hitl_buf_puts(&b, "</g>\n");
    axes(&b, &f, xlabel ? xlabel : "labels", "test accuracy");

    int banded = 0;
    for (size_t i = 0; i < n; i++)
        banded |= s[i].seeds > 1;
    curve_bands(&b, &f, s, n);
    for (size_t i = 0; i < n; i++)
        curve_mean(&b, &f, s, i, radius);

    for (size_t i = 0; i < n; i++) {
        const char *color, *dash;
        curve_style(s, i, &color, &dash);
        legend_line(&b, f.x1 + 20, f.y0 + 12 + 18 * (double)i, color, dash, s[i].name);
    }
    if (banded)
        hitl_buf_printf(&b,
                        "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"#555\">line: mean "
                        "over seeds; band: lowest to highest seed</text>\n",
                        f.x0, H - 8);
    if (empty) centred_note(&b, W, H, "no finite accuracy to draw");
    return finish(&b, svg, err);
}

hitl_status hitl_svg_pair_agreement(const hitl_agreement *a, const char *const *names, size_t max,
                                    const char *title, char **svg, hitl_error *err)
{
    *svg = NULL;
    size_t n = a->n_annotators < max ? a->n_annotators : max;
    if (n < 2 || !names)
        return hitl_error_set(err, HITL_EINVAL, "a heatmap needs two annotators and their names");
    double *v = malloc(n * n * sizeof(double));
    if (!v) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n * n; i++)
        v[i] = NAN;
    for (size_t p = 0; p < a->n_pairs; p++) {
        const hitl_pair_agreement *q = &a->pairs[p];
        if (q->a < 0 || q->b < 0 || (size_t)q->a >= n || (size_t)q->b >= n || q->n == 0) continue;
        v[(size_t)q->a * n + (size_t)q->b] = v[(size_t)q->b * n + (size_t)q->a] = q->agreement;
    }
    hitl_status s = hitl_svg_heatmap(v, n, names, title, svg, err);
    free(v);
    return s;
}
