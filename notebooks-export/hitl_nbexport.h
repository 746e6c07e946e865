/* hitl notebooks-export: the QA report as an nbformat 4.5 notebook that reads well unrun
 * (markdown summary, tables, SVG charts drawn here) and retrains a baseline when run. Plain
 * structs in, a file out: jansson and the engine only, no store or HDF5 access. */
#ifndef HITL_NBEXPORT_H
#define HITL_NBEXPORT_H

#include "hitl_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SVG charts -------------------------------------------------------------------------------
 * Each writes a standalone SVG document (caller owns *svg; free()). Names are escaped for XML.
 * HITL_EINVAL for missing or inconsistent inputs, HITL_ENOMEM. */

/* Reliability diagram: accuracy per confidence bin (the engine's hitl_reliability) against the
 * diagonal. */
hitl_status hitl_svg_reliability(const hitl_reliability *r, const char *title, char **svg,
                                 hitl_error *err);
/* Overlaid histograms (each as shares of its own total) of n series sharing lo, hi and bins;
 * series with no values are left out of the plot but kept in the legend as "(none)". */
hitl_status hitl_svg_histograms(const hitl_histogram *const *h, const char *const *names, size_t n,
                                const char *title, const char *xlabel, char **svg, hitl_error *err);
/* A square heatmap of v[n, n] in [0, 1] (NaN: no data, drawn grey) with names on both axes. */
hitl_status hitl_svg_heatmap(const double *v, size_t n, const char *const *names, const char *title,
                             char **svg, hitl_error *err);
/* The pairwise agreement of an agreement result (share of common items each pair labelled
 * alike) as a heatmap of its first `max` annotators, named by names[annotator index]. */
hitl_status hitl_svg_pair_agreement(const hitl_agreement *a, const char *const *names, size_t max,
                                    const char *title, char **svg, hitl_error *err);
/* A count matrix m[rows = truth, cols = prediction] of c classes, shaded by row share. */
hitl_status hitl_svg_confusion(const int64_t *m, size_t c, const char *const *names,
                               const char *title, const char *row_label, const char *col_label,
                               char **svg, hitl_error *err);
/* Horizontal bars: a[i] (and, stacked after it, b[i] when b is not NULL) per name. */
hitl_status hitl_svg_bars(const double *a, const double *b, const char *const *names, size_t n,
                          const char *title, const char *a_name, const char *b_name, char **svg,
                          hitl_error *err);

/* ---- the report -------------------------------------------------------------------------------
 * Everything the notebook shows; every pointer borrowed. Optional parts are NULL (or 0). */
typedef struct hitl_report_batch {
    const char *name;
    int64_t queued, complete, blind;
} hitl_report_batch;

typedef struct hitl_report_annotator {
    const char *name;
    int64_t labels, skips;
    double mean_seconds;   /* per label; NaN when unknown */
    int64_t scored, agree; /* labels on items with a final label, and those equal to it */
} hitl_report_annotator;

typedef struct hitl_report {
    const char *title, *store_path, *generated_at, *version;
    const char *const *classes;
    size_t n_classes;
    /* progress */
    int64_t items_queued, items_complete, awaiting_adjudication, queue_depth, labels, skips, leases;
    const hitl_report_batch *batches;
    size_t n_batches;
    const hitl_report_annotator *annotators;
    size_t n_annotators;
    /* review health: the metrics `hitl health` judges, judged here by the same engine scorecard
     * (hitl_health_evaluate) under health_thresholds (NULL: the defaults), so the report's
     * verdict, reasons and override table are health's; NULL: not judged. Rejected metrics fail
     * the report with the engine's status. */
    const hitl_health_metrics *health;
    const hitl_health_thresholds *health_thresholds;
    /* agreement: NULL with a note saying why when it cannot be computed */
    const hitl_agreement *agreement;
    const char *const *agreement_names; /* [agreement->n_annotators] */
    const char *agreement_note;
    /* calibration of the model on the blind items (may be NULL) */
    const hitl_reliability *calibration;
    /* model prediction (cols) vs final label (rows), [n_classes^2], over the final items */
    const int64_t *confusion;
    /* scores at query time, all with the same range and bins; pool may be NULL */
    const hitl_histogram *scores_uncertain, *scores_blind, *scores_pool;
    const char *method;
    /* the HDF5 export the code cells read, as the notebook opens it (next to it) */
    const char *export_path, *export_command, *final_rule;
    int export_has_features;
    int64_t exported, ties, pending;
} hitl_report;

/* The notebook as JSON text (caller owns *text; free()). HITL_EINVAL for a report without
 * classes or export path, or with health metrics the scorecard refuses; HITL_ENOMEM. */
hitl_status hitl_report_notebook(const hitl_report *r, char **text, hitl_error *err);
/* Writes the notebook to `path` (HITL_EIO when it cannot be written). */
hitl_status hitl_report_write(const hitl_report *r, const char *path, hitl_error *err);

/* ---- learning curves (hitl simulate) ---------------------------------------------------------
 * One series per strategy: test accuracy against labels spent, over several seeds. */
typedef struct hitl_sim_series {
    const char *name; /* the strategy, e.g. "margin" */
    size_t seeds, points;
    const double *labelled; /* [points] labels spent at each point (the x axis): the curves
                               file's `annotations`, rows labelled x annotators per row */
    const double *accuracy; /* [seeds, points] test accuracy of each seed's run */
    const double *seconds;  /* [seeds, points] seconds per round (train + select), or NULL;
                               the table's median leaves out each seed's last point */
} hitl_sim_series;

/* Mean accuracy against labels per series (1 to 64), a line with point markers, with a shaded
 * band from the lowest to the highest seed at each point (no band with one seed), a legend, and
 * the y axis fitted to the data. A series named "random" is drawn as the baseline, grey and
 * dashed; the others take distinct colours. NaN accuracies are left out of the mean and band (a
 * point without any breaks the line). HITL_EINVAL for a series without name, labels,
 * accuracies, seeds or points, or with labels that are not finite. */
hitl_status hitl_svg_curves(const hitl_sim_series *s, size_t n, const char *title,
                            const char *xlabel, char **svg, hitl_error *err);

typedef struct hitl_sim_report {
    const char *title, *generated_at, *version;
    const char *command;                  /* the hitl simulate command line, shown verbatim */
    const char *features, *labels, *test; /* what the data was, as given on the command line;
                                             NULL: not given (test: held out from the pool) */
    size_t n_pool, n_test, d, n_classes;
    size_t seed_labels, batch, rounds;
    const char *annotators; /* e.g. "3 annotators, error rates 0.1, 0.2, 0.3, majority vote";
                               NULL for an oracle */
    const char *baseline;   /* the series others are compared with ("random"); NULL, or a name
                               no series has, compares nothing */
    const hitl_sim_series *series;
    size_t n_series;
    const char *curves_path; /* required: the HDF5 curves file the code cells read, as the
                                notebook opens it (a path relative to the notebook) */
} hitl_sim_report;

/* The learning-curve notebook as JSON text (caller owns *text; free()), and written to `path`
 * (HITL_EIO when it cannot be). The table gives per series the labels at the end, the final
 * accuracy (mean and sample sd over seeds), the labels at which the mean curve reaches the
 * baseline's final mean accuracy (hitl_curve_reach) with the saving against the baseline's own,
 * and the median seconds per round (over the rounds that picked a batch). The code cells read
 * the curves file back (x axis: `annotations`, else `labelled`) and print the same table.
 * HITL_EINVAL for a report without series or curves path, two series of one name, or a series
 * hitl_svg_curves refuses; HITL_EDATA for text that is not UTF-8; HITL_ENOMEM. */
hitl_status hitl_sim_notebook(const hitl_sim_report *r, char **text, hitl_error *err);
hitl_status hitl_sim_report_write(const hitl_sim_report *r, const char *path, hitl_error *err);

#ifdef __cplusplus
}
#endif
#endif /* HITL_NBEXPORT_H */
