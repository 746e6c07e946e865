/* The report's charts as standalone SVG text, drawn here so the notebook shows them without any
 * plotting library: reliability diagram, overlaid histograms, agreement heatmap, confusion
 * matrix and stacked bars. Every name is XML-escaped; sizes follow the data. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbexport_internal.h"
#include "hitl_banned.h"

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};

/* ---- drawing helpers --------------------------------------------------------------------- */

static void head(hitl__sbuf *s, int w, int h, const char *title)
{
    hitl__sbuf_printf(s,
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
                      "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
                      w, h, w, h, w, h);
    if (title) {
        hitl__sbuf_printf(s,
                          "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"13\" "
                          "font-weight=\"bold\">",
                          w / 2);
        hitl__sbuf_xml(s, title, 0);
        hitl__sbuf_puts(s, "</text>\n");
    }
}

static hitl_status finish(hitl__sbuf *s, char **svg, hitl_error *err)
{
    hitl__sbuf_puts(s, "</svg>\n");
    if (s->oom) {
        hitl__sbuf_release(s);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for a chart");
    }
    *svg = s->p;
    return HITL_OK;
}

typedef struct frame {
    double x0, y0, x1, y1;     /* plot area in pixels (y0 top) */
    double xlo, xhi, ylo, yhi; /* data range */
} frame;

static double px(const frame *f, double x)
{
    return f->x0 + (x - f->xlo) / (f->xhi - f->xlo) * (f->x1 - f->x0);
}

static double py(const frame *f, double y)
{
    return f->y1 - (y - f->ylo) / (f->yhi - f->ylo) * (f->y1 - f->y0);
}

/* A round tick step (1, 2 or 5 times a power of ten) giving at most about 6 ticks. */
static double nice_step(double range)
{
    double raw = range / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* Axes with round ticks and their labels. */
static void axes(hitl__sbuf *s, const frame *f, const char *xlabel, const char *ylabel)
{
    hitl__sbuf_printf(s,
                      "<g stroke=\"#333\" fill=\"none\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                      "y2=\"%.1f\"/><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
                      f->x0, f->y1, f->x1, f->y1, f->x0, f->y0, f->x0, f->y1);
    double dx = nice_step(f->xhi - f->xlo), dy = nice_step(f->yhi - f->ylo);
    for (double x = ceil(f->xlo / dx - 1e-9) * dx; x <= f->xhi + dx * 1e-9; x += dx)
        hitl__sbuf_printf(s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n",
                          px(f, x), f->y1, px(f, x), f->y1 + 4, px(f, x), f->y1 + 16,
                          fabs(x) < dx * 1e-9 ? 0 : x);
    for (double y = ceil(f->ylo / dy - 1e-9) * dy; y <= f->yhi + dy * 1e-9; y += dy)
        hitl__sbuf_printf(s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n",
                          f->x0 - 4, py(f, y), f->x0, py(f, y), f->x0 - 6, py(f, y) + 4,
                          fabs(y) < dy * 1e-9 ? 0 : y);
    hitl__sbuf_printf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (f->x0 + f->x1) / 2,
                      f->y1 + 34);
    hitl__sbuf_xml(s, xlabel, 0);
    hitl__sbuf_printf(s,
                      "</text>\n<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
                      "text-anchor=\"middle\">",
                      f->x0 - 42, (f->y0 + f->y1) / 2);
    hitl__sbuf_xml(s, ylabel, 0);
    hitl__sbuf_puts(s, "</text>\n");
}

static void legend(hitl__sbuf *s, double x, double y, const char *color, const char *name)
{
    hitl__sbuf_printf(s,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\">",
                      x, y - 9, color, x + 16, y);
    hitl__sbuf_xml(s, name, 0);
    hitl__sbuf_puts(s, "</text>\n");
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

static void centred_note(hitl__sbuf *s, int w, int h, const char *text)
{
    hitl__sbuf_printf(s, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666\">", w / 2,
                      h / 2);
    hitl__sbuf_xml(s, text, 0);
    hitl__sbuf_puts(s, "</text>\n");
}

/* ---- charts ------------------------------------------------------------------------------ */

hitl_status hitl_svg_reliability(const hitl_reliability *r, const char *title, char **svg,
                                 hitl_error *err)
{
    *svg = NULL;
    if (!r || r->bins == 0) return hitl_error_set(err, HITL_EINVAL, "no reliability bins given");
    const int W = 480, H = 420;
    hitl__sbuf s = {0};
    head(&s, W, H, title);
    frame f = {70, 40, W - 30, H - 60, 0, 1, 0, 1};
    axes(&s, &f, "confidence (the model's top probability)", "accuracy");
    hitl__sbuf_printf(&s,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
                      "stroke-dasharray=\"4 3\"/>\n",
                      px(&f, 0), py(&f, 0), px(&f, 1), py(&f, 1));
    for (size_t b = 0; b < r->bins; b++) {
        if (!r->count[b]) continue;
        double lo = (double)b / (double)r->bins, hi = (double)(b + 1) / (double)r->bins;
        double acc = (double)r->hits[b] / (double)r->count[b];
        double conf = r->conf_sum[b] / (double)r->count[b];
        double x = px(&f, lo) + 1, w = px(&f, hi) - px(&f, lo) - 2;
        hitl__sbuf_printf(&s,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"%s\" fill-opacity=\"0.85\"><title>(%.2f, %.2f]: %lld items, "
                          "accuracy %.3f, confidence %.3f</title></rect>\n",
                          x, py(&f, acc), w, py(&f, 0) - py(&f, acc), palette[0], lo, hi,
                          (long long)r->count[b], acc, conf);
        double top = acc > conf ? acc : conf, bottom = acc > conf ? conf : acc;
        hitl__sbuf_printf(&s,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\"/>\n",
                          x, py(&f, top), w, py(&f, bottom) - py(&f, top), palette[3], palette[3]);
        hitl__sbuf_printf(&s,
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
    hitl__sbuf s = {0};
    head(&s, W, H, title);
    double top = ymax > 0 ? ymax * 1.1 : 1, step = nice_step(top);
    frame f = {70, 40, W - 30, H - 60, h[0]->lo, h[0]->hi, 0, ceil(top / step) * step};
    axes(&s, &f, xlabel ? xlabel : "score", "share of the series' items");
    size_t B = h[0]->bins;
    for (size_t i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof(name), "%s (%lld)", names[i] ? names[i] : "?", (long long)h[i]->n);
        legend(&s, f.x1 - 190, f.y0 + 12 + 16 * (double)i, palette[i], h[i]->n ? name : names[i]);
        if (!h[i]->n) continue;
        hitl__sbuf_printf(&s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                          palette[i]);
        double y_prev = 0;
        for (size_t b = 0; b < B; b++) {
            double x = h[0]->lo + (h[0]->hi - h[0]->lo) * (double)b / (double)B;
            double x2 = h[0]->lo + (h[0]->hi - h[0]->lo) * (double)(b + 1) / (double)B;
            double y = (double)h[i]->count[b] / (double)h[i]->n;
            hitl__sbuf_printf(&s, "%.1f,%.1f %.1f,%.1f %.1f,%.1f ", px(&f, x), py(&f, y_prev),
                              px(&f, x), py(&f, y), px(&f, x2), py(&f, y));
            y_prev = y;
        }
        hitl__sbuf_printf(&s, "%.1f,%.1f\"/>\n", px(&f, h[0]->hi), py(&f, 0));
    }
    return finish(&s, svg, err);
}

/* Names on the left and, turned, on top of an n x n (or rows x cols) grid. */
static void grid_names(hitl__sbuf *s, const char *const *names, size_t n, double x0, double y0,
                       double cell)
{
    for (size_t i = 0; i < n; i++) {
        hitl__sbuf_printf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 6,
                          y0 + cell * ((double)i + 0.5) + 4);
        hitl__sbuf_xml(s, names[i] ? names[i] : "?", 18);
        hitl__sbuf_printf(s, "</text><text transform=\"translate(%.1f %.1f) rotate(-60)\">",
                          x0 + cell * ((double)i + 0.5) + 4, y0 - 6);
        hitl__sbuf_xml(s, names[i] ? names[i] : "?", 18);
        hitl__sbuf_puts(s, "</text>\n");
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
    hitl__sbuf s = {0};
    head(&s, W, H, title);
    grid_names(&s, names, n, x0, y0, cell);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double x = v[i * n + j];
            char c[8] = "#dddddd";
            if (!isnan(x)) shade(x, c);
            hitl__sbuf_printf(&s,
                              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                              "fill=\"%s\" stroke=\"white\"/>",
                              x0 + cell * (double)j, y0 + cell * (double)i, cell, cell, c);
            if (cell >= 24 && !isnan(x))
                hitl__sbuf_printf(&s,
                                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                                  "font-size=\"10\" fill=\"%s\">%.2f</text>",
                                  x0 + cell * ((double)j + 0.5), y0 + cell * ((double)i + 0.5) + 4,
                                  x > 0.55 ? "white" : "black", x);
            hitl__sbuf_putc(&s, '\n');
        }
    hitl__sbuf_printf(&s,
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
    hitl__sbuf s = {0};
    head(&s, W, H, title);
    grid_names(&s, names, c, x0, y0, cell);
    hitl__sbuf_printf(&s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">",
                      x0 + cell * (double)c / 2, 40.0);
    hitl__sbuf_xml(&s, col_label ? col_label : "", 0);
    hitl__sbuf_printf(&s,
                      "</text><text transform=\"translate(%.1f %.1f) rotate(-90)\" "
                      "text-anchor=\"middle\" fill=\"#555\">",
                      20.0, y0 + cell * (double)c / 2);
    hitl__sbuf_xml(&s, row_label ? row_label : "", 0);
    hitl__sbuf_puts(&s, "</text>\n");
    for (size_t i = 0; i < c; i++) {
        int64_t total = 0;
        for (size_t j = 0; j < c; j++)
            total += m[i * c + j];
        for (size_t j = 0; j < c; j++) {
            int64_t k = m[i * c + j];
            double share = total ? (double)k / (double)total : 0;
            char col[8];
            shade(share, col);
            hitl__sbuf_printf(&s,
                              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                              "fill=\"%s\" stroke=\"%s\"/>",
                              x0 + cell * (double)j, y0 + cell * (double)i, cell, cell, col,
                              i == j ? "#333" : "white");
            if (cell >= 24 && k)
                hitl__sbuf_printf(&s,
                                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                                  "font-size=\"10\" fill=\"%s\">%lld</text>",
                                  x0 + cell * ((double)j + 0.5), y0 + cell * ((double)i + 0.5) + 4,
                                  share > 0.55 ? "white" : "black", (long long)k);
            hitl__sbuf_putc(&s, '\n');
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
    hitl__sbuf s = {0};
    head(&s, W, H, title);
    legend(&s, x0, 44, palette[0], a_name ? a_name : "");
    if (b) legend(&s, x0 + 160, 44, palette[1], b_name ? b_name : "");
    for (size_t i = 0; i < n; i++) {
        double y = y0 + (double)i * (bar + gap);
        double va = isfinite(a[i]) && a[i] > 0 ? a[i] : 0;
        double vb = b && isfinite(b[i]) && b[i] > 0 ? b[i] : 0;
        hitl__sbuf_printf(&s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 6,
                          y + bar - 4);
        hitl__sbuf_xml(&s, names[i] ? names[i] : "?", 20);
        hitl__sbuf_printf(&s,
                          "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"%s\"/>",
                          x0, y, w * va / max, bar, palette[0]);
        if (b)
            hitl__sbuf_printf(&s,
                              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                              "fill=\"%s\"/>",
                              x0 + w * va / max, y, w * vb / max, bar, palette[1]);
        hitl__sbuf_printf(&s, "<text x=\"%.1f\" y=\"%.1f\">%.4g", x0 + w * (va + vb) / max + 4,
                          y + bar - 4, va);
        if (b) hitl__sbuf_printf(&s, " + %.4g", vb);
        hitl__sbuf_puts(&s, "</text>\n");
    }
    return finish(&s, svg, err);
}
