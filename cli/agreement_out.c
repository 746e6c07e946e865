/* hitl agreement's printers: the measures of a ratings table as tables on stdout or as one
 * JSON object (the command, cli/cmd_agreement.c, only parses, loads and computes). */
#include <math.h>
#include <stdlib.h>

#include "agreement.h"

static const char *const coef_title[HITL_COEF_COUNT] = {
    "percent agreement", "Fleiss' kappa", "Krippendorff's alpha", "Gwet's AC1", "Scott's pi"};

const char *cli_agreement_source(const cli_agreement_args *a)
{
    return a->db ? a->db : a->ratings ? a->ratings : a->matrix;
}

static void fleiss_reason(const hitl_agreement *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "items have %zu to %zu ratings", r->min_ratings, r->max_ratings);
}

static json_t *interval_json(hitl_interval iv)
{
    if (!isfinite(iv.lo) || !isfinite(iv.hi)) return json_null();
    return json_pack("[oo]", json_real(iv.lo), json_real(iv.hi));
}

void cli_agreement_json(const cli_agreement_args *a, const hitl_ratings_file *rf,
                        const hitl_agreement *r)
{
    json_t *root = json_object();
    json_object_set_new(root,
                        a->db        ? "store"
                        : a->ratings ? "ratings"
                                     : "matrix",
                        json_string(cli_agreement_source(a)));
    json_object_set_new(root, "level", json_string(hitl_level_name(a->opts.level)));
    json_object_set_new(root, "weights", json_string(hitl_weights_name(a->opts.weights)));
    json_object_set_new(root, "n_items", json_integer((json_int_t)r->n_items));
    json_object_set_new(root, "n_annotators", json_integer((json_int_t)r->n_annotators));
    json_object_set_new(root, "n_ratings", json_integer((json_int_t)r->n_ratings));
    json_t *labels = json_array();
    for (size_t l = 0; l < rf->n_labels; l++)
        json_array_append_new(labels, json_string(rf->labels[l]));
    json_object_set_new(root, "labels", labels);
    for (int c = 0; c < HITL_COEF_COUNT; c++)
        json_object_set_new(root, hitl_coef_name((hitl_coef)c), cli_json_real(r->coef[c]));
    if (isnan(r->coef[HITL_COEF_FLEISS])) {
        char why[96];
        fleiss_reason(r, why, sizeof(why));
        json_object_set_new(root, "fleiss_kappa_reason", json_string(why));
    }
    json_t *pairs = json_array();
    for (size_t i = 0; i < r->n_pairs; i++) {
        const hitl_pair_agreement *p = &r->pairs[i];
        json_array_append_new(
            pairs, json_pack("{s:s, s:s, s:I, s:o, s:o}", "a", rf->annotators[p->a], "b",
                             rf->annotators[p->b], "n", (json_int_t)p->n, "agreement",
                             cli_json_real(p->agreement), "cohen_kappa", cli_json_real(p->kappa)));
    }
    json_object_set_new(root, "pairs", pairs);
    json_t *per = json_object();
    for (size_t l = 0; l < rf->n_labels; l++)
        json_object_set_new(per, rf->labels[l], cli_json_real(r->per_label[l]));
    json_object_set_new(root, "per_label", per);
    if (r->vs_final) {
        json_t *vf = json_array();
        for (size_t i = 0; i < r->n_annotators; i++) {
            const hitl_pair_agreement *p = &r->vs_final[i];
            json_array_append_new(vf, json_pack("{s:s, s:I, s:o, s:o}", "annotator",
                                                rf->annotators[i], "n", (json_int_t)p->n,
                                                "agreement", cli_json_real(p->agreement),
                                                "cohen_kappa", cli_json_real(p->kappa)));
        }
        json_object_set_new(root, "vs_final", vf);
    }
    if (r->bootstrap) {
        json_t *ci =
            json_pack("{s:s, s:f, s:I, s:I}", "method", "percentile", "level", 0.95, "resamples",
                      (json_int_t)r->bootstrap, "seed", (json_int_t)a->opts.seed);
        for (int c = 0; c < HITL_COEF_COUNT; c++)
            json_object_set_new(ci, hitl_coef_name((hitl_coef)c), interval_json(r->ci[c]));
        json_object_set_new(root, "ci", ci);
    } else {
        json_object_set_new(root, "ci", json_null());
    }
    cli_print_json(root);
}

static void print_value(double v)
{
    if (isfinite(v))
        printf("%9.4f", v);
    else
        printf("%9s", "n/a");
}

void cli_agreement_tables(const cli_agreement_args *a, const hitl_ratings_file *rf,
                          const hitl_agreement *r)
{
    printf("%s: %zu items, %zu annotators, %zu ratings, %zu labels\n", cli_agreement_source(a),
           r->n_items, r->n_annotators, r->n_ratings, r->n_labels);
    printf("level %s, Cohen weights %s", hitl_level_name(a->opts.level),
           hitl_weights_name(a->opts.weights));
    if (r->bootstrap)
        printf(", 95%% intervals from %zu bootstrap resamples of items (seed %llu)", r->bootstrap,
               (unsigned long long)a->opts.seed);
    printf("\n\n%-22s %9s  %s\n", "measure", "value", r->bootstrap ? "95% interval" : "");
    for (int c = 0; c < HITL_COEF_COUNT; c++) {
        printf("%-22s ", coef_title[c]);
        print_value(r->coef[c]);
        if (c == HITL_COEF_FLEISS && isnan(r->coef[c])) {
            char why[96];
            fleiss_reason(r, why, sizeof(why));
            printf("  (%s)", why);
        } else if (r->bootstrap && isfinite(r->ci[c].lo)) {
            printf("  [%.4f, %.4f]", r->ci[c].lo, r->ci[c].hi);
        }
        printf("\n");
    }
    printf("\npairs (Cohen's kappa, weights %s)\n%-16s %-16s %8s %9s %9s\n",
           hitl_weights_name(a->opts.weights), "a", "b", "n", "agreement", "kappa");
    for (size_t i = 0; i < r->n_pairs; i++) {
        const hitl_pair_agreement *p = &r->pairs[i];
        printf("%-16s %-16s %8lld ", rf->annotators[p->a], rf->annotators[p->b], (long long)p->n);
        print_value(p->agreement);
        printf(" ");
        print_value(p->kappa);
        printf("\n");
    }
    size_t A = r->n_annotators;
    if (A <= 12) {
        /* the agreement matrix: share agreeing above the diagonal, kappa below */
        double *share = malloc(A * A * sizeof(double));
        if (share) {
            for (size_t i = 0; i < A * A; i++)
                share[i] = NAN;
            for (size_t i = 0; i < r->n_pairs; i++) {
                share[(size_t)r->pairs[i].a * A + (size_t)r->pairs[i].b] = r->pairs[i].agreement;
                share[(size_t)r->pairs[i].b * A + (size_t)r->pairs[i].a] = r->pairs[i].kappa;
            }
            printf("\nannotator matrix (above the diagonal: share of common items with the same "
                   "label; below: Cohen's kappa)\n%-12s",
                   "");
            for (size_t j = 0; j < A; j++)
                printf(" %9.9s", rf->annotators[j]);
            printf("\n");
            for (size_t i = 0; i < A; i++) {
                printf("%-12.12s", rf->annotators[i]);
                for (size_t j = 0; j < A; j++) {
                    if (i == j)
                        printf(" %9s", "-");
                    else {
                        printf(" ");
                        print_value(share[i * A + j]);
                    }
                }
                printf("\n");
            }
            free(share);
        }
    }
    printf("\nper label (label against the rest)\n%-16s %9s\n", "label", "kappa");
    for (size_t l = 0; l < rf->n_labels; l++) {
        printf("%-16s ", rf->labels[l]);
        print_value(r->per_label[l]);
        printf("\n");
    }
    if (r->vs_final) {
        printf("\nagainst the final labels (%s)\n%-16s %8s %9s %9s\n",
               a->final ? a->final : "store", "annotator", "n", "agreement", "kappa");
        for (size_t i = 0; i < A; i++) {
            const hitl_pair_agreement *p = &r->vs_final[i];
            printf("%-16s %8lld ", rf->annotators[i], (long long)p->n);
            print_value(p->agreement);
            printf(" ");
            print_value(p->kappa);
            printf("\n");
        }
    }
}
