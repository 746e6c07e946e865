/* Unit tests for what the quality commands read from the store (io/store_quality.c): the labels
 * as a ratings table with final labels, the blind sample, and the health counts, each checked
 * against a small store whose every label is planted here and counted by hand. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_io.h"
#include "testutil.h"

static char db[512];

/* Classes a, b, c; overlap 2; items i0..i5 queued in order, i3 blind (the others uncertain),
 * rows 100 + i, the model predicting class 0 with p1 0.6 + 0.05 i. */
static hitl_store *make_store(hitl_show_prediction show)
{
    snprintf(db, sizeof(db), "%s", tu_tmp_path("quality.db"));
    tu_remove_store(db);
    char *classes[] = {"a", "b", "c"};
    hitl_store_settings s;
    hitl_store_settings_default(&s);
    s.classes = classes;
    s.n_classes = 3;
    s.overlap = 2;
    s.lease_seconds = 600;
    s.show_prediction = show;
    s.min_justification = 5;
    hitl_error err;
    ck_assert_msg(hitl_store_init(db, &s, "tester", &err) == HITL_OK, "%s", err.msg);
    hitl_store *st;
    ck_assert_int_eq(hitl_store_open(&st, db, &err), HITL_OK);
    hitl_queue_row rows[6];
    char ids[6][8];
    for (int i = 0; i < 6; i++) {
        snprintf(ids[i], sizeof(ids[i]), "i%d", i);
        rows[i] =
            (hitl_queue_row){ids[i], 100 + i, i == 3 ? HITL_REASON_BLIND : HITL_REASON_UNCERTAIN,
                             0.5f,   0,       0.6f + 0.05f * (float)i,
                             2,      NULL,    NULL};
    }
    hitl_queue_batch b = {"b1", "margin", "m1", "pool.h5:probs", 7, "tester", 0, NULL};
    size_t added = 0;
    ck_assert_int_eq(hitl_store_enqueue(st, &b, rows, 6, &added, &err), HITL_OK);
    return st;
}

static void take_and_label(hitl_store *st, const char *who, const char *expect, const char *label)
{
    hitl_lease l;
    int found;
    hitl_error err;
    ck_assert_int_eq(hitl_store_next(st, who, &l, &found, &err), HITL_OK);
    ck_assert(found);
    ck_assert_str_eq(l.pool_id, expect);
    hitl_lease_release(&l);
    ck_assert_msg(hitl_store_label(st, expect, label, who, &err) == HITL_OK, "%s", err.msg);
}

/* The planted round:
 *   i0  ann a, bob a   agreed: final a; then boss overrides to b
 *   i1  ann b, bob c   adjudicated by qa: c
 *   i2  ann a          bob skipped it: open
 *   i3  bob b, ann b   blind, agreed: final b
 * Model agreement where shown (uncertain items i0, i1, i2; pred a): ann 2 of 3 (i0, i2), bob 1
 * of 2 (i0). Against the final labels: i0 (final b) and i1 (final c) rejected the suggestion a,
 * i2 has none yet; ann and bob each approved it on i0 only: 1 of 2 wrong, 0 right. */
static void plant(hitl_store *st)
{
    hitl_error err;
    take_and_label(st, "ann", "i0", "a");
    take_and_label(st, "bob", "i0", "a");
    take_and_label(st, "ann", "i1", "b");
    take_and_label(st, "bob", "i1", "c");
    take_and_label(st, "ann", "i2", "a");
    ck_assert_int_eq(hitl_store_skip(st, "i2", "bob", "unsure", &err), HITL_OK);
    take_and_label(st, "bob", "i3", "b");
    take_and_label(st, "ann", "i3", "b");
    int over = -1;
    ck_assert_int_eq(hitl_store_adjudicate(st, "i1", "c", "qa", "bob is right", &over, &err),
                     HITL_OK);
    ck_assert_int_eq(over, 0);
    ck_assert_int_eq(hitl_store_adjudicate(st, "i0", "b", "boss", "it is a b", &over, &err),
                     HITL_OK);
    ck_assert_int_eq(over, 1);
}

START_TEST(test_ratings_file)
{
    hitl_store *st = make_store(HITL_SHOW_UNCERTAIN);
    plant(st);
    hitl_ratings_file rf;
    int32_t *final = NULL;
    hitl_error err;
    ck_assert_msg(hitl_store_ratings_file(st, &rf, &final, &err) == HITL_OK, "%s", err.msg);
    ck_assert_uint_eq(rf.n_items, 4);
    ck_assert_str_eq(rf.items[0], "i0");
    ck_assert_str_eq(rf.items[3], "i3");
    ck_assert_uint_eq(rf.n_annotators, 2);
    ck_assert_str_eq(rf.annotators[0], "ann");
    ck_assert_str_eq(rf.annotators[1], "bob");
    ck_assert_uint_eq(rf.n_labels, 3);
    ck_assert_str_eq(rf.labels[2], "c");
    ck_assert_uint_eq(rf.table.n_labels, 3);
    ck_assert_uint_eq(rf.table.n_ratings, 7);
    static const int64_t ptr[5] = {0, 2, 4, 5, 7};
    static const int32_t ann_of[7] = {0, 1, 0, 1, 0, 0, 1}, lab[7] = {0, 0, 1, 2, 0, 1, 1};
    for (int u = 0; u < 5; u++)
        ck_assert_int_eq(rf.table.item_ptr[u], ptr[u]);
    for (int k = 0; k < 7; k++) {
        ck_assert_int_eq(rf.table.annotator[k], ann_of[k]);
        ck_assert_int_eq(rf.table.label[k], lab[k]);
    }
    static const int32_t fin[4] = {1, 2, -1, 1}; /* i0 overridden to b */
    for (int u = 0; u < 4; u++)
        ck_assert_int_eq(final[u], fin[u]);
    free(final);
    hitl_ratings_file_release(&rf);
    hitl_store_close(st);
}
END_TEST

START_TEST(test_blind_sample)
{
    hitl_store *st = make_store(HITL_SHOW_UNCERTAIN);
    plant(st);
    hitl_blind_sample b;
    hitl_error err;
    ck_assert_int_eq(hitl_store_blind_sample(st, &b, &err), HITL_OK);
    ck_assert_uint_eq(b.n, 1); /* i3: the only blind item, and it is final */
    ck_assert_str_eq(b.pool_ids[0], "i3");
    ck_assert_int_eq(b.rows[0], 103);
    ck_assert_int_eq(b.pred[0], 0);
    ck_assert_float_eq_tol(b.p1[0], 0.75f, 1e-6f);
    ck_assert_int_eq(b.label[0], 1);
    ck_assert_uint_eq(b.n_unscored, 0);
    hitl_blind_sample_release(&b);
    hitl_blind_sample_release(NULL);
    hitl_store_close(st);
}
END_TEST

START_TEST(test_health_counts)
{
    hitl_store *st = make_store(HITL_SHOW_UNCERTAIN);
    plant(st);
    hitl_store_health h;
    hitl_error err;
    ck_assert_msg(hitl_store_health_get(st, &h, &err) == HITL_OK, "%s", err.msg);
    ck_assert(h.prediction_shown);
    ck_assert_uint_eq(h.n_annotators, 2);
    ck_assert_str_eq(h.annotators[0].name, "ann");
    ck_assert_int_eq(h.annotators[0].labels, 4);
    ck_assert_int_eq(h.annotators[0].shown, 3);
    ck_assert_int_eq(h.annotators[0].agreed, 2);
    ck_assert_int_eq(h.annotators[1].labels, 3);
    ck_assert_int_eq(h.annotators[1].shown, 2);
    ck_assert_int_eq(h.annotators[1].agreed, 1);
    for (int a = 0; a < 2; a++) {
        ck_assert_int_eq(h.annotators[a].right, 0);
        ck_assert_int_eq(h.annotators[a].right_approved, 0);
        ck_assert_int_eq(h.annotators[a].wrong, 2);
        ck_assert_int_eq(h.annotators[a].wrong_approved, 1);
    }
    ck_assert_uint_eq(h.n_actors, 2);
    ck_assert_str_eq(h.actors[0].name, "boss");
    ck_assert_int_eq(h.actors[0].decisions, 1);
    ck_assert_int_eq(h.actors[0].overrides, 1);
    ck_assert_str_eq(h.actors[1].name, "qa");
    ck_assert_int_eq(h.actors[1].overrides, 0);
    ck_assert_int_eq(h.labels, 7);
    ck_assert_int_eq(h.labels_audited, 7);
    ck_assert_uint_eq(h.n_latency, 7); /* every label came through a lease */
    for (size_t i = 0; i < h.n_latency; i++)
        ck_assert(h.latency[i] >= 0 && h.latency[i] < 60);
    ck_assert(h.chain_ok);
    ck_assert_int_eq(h.chain_bad_seq, -1);
    ck_assert_int_gt(h.n_events, 7);
    hitl_store_health_release(&h);
    hitl_store_health_release(NULL);
    hitl_store_close(st);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_never_shown_and_empty)
{
    hitl_store *st = make_store(HITL_SHOW_NEVER);
    hitl_error err;
    hitl_store_health h;
    ck_assert_int_eq(hitl_store_health_get(st, &h, &err), HITL_OK);
    ck_assert_uint_eq(h.n_annotators, 0);
    ck_assert_int_eq(h.labels, 0);
    ck_assert(h.chain_ok);
    hitl_store_health_release(&h);
    hitl_ratings_file rf;
    int32_t *final = NULL;
    ck_assert_int_eq(hitl_store_ratings_file(st, &rf, &final, &err), HITL_OK);
    ck_assert_uint_eq(rf.n_items, 0);
    ck_assert_uint_eq(rf.n_labels, 3);
    ck_assert_ptr_nonnull(final);
    free(final);
    hitl_ratings_file_release(&rf);
    hitl_blind_sample b;
    ck_assert_int_eq(hitl_store_blind_sample(st, &b, &err), HITL_OK);
    ck_assert_uint_eq(b.n, 0);
    hitl_blind_sample_release(&b);
    plant(st);
    ck_assert_int_eq(hitl_store_health_get(st, &h, &err), HITL_OK);
    ck_assert(!h.prediction_shown);
    ck_assert_int_eq(h.annotators[0].shown, 0); /* predictions never shown: nothing counted */
    ck_assert_int_eq(h.annotators[0].agreed, 0);
    ck_assert_int_eq(h.annotators[0].right + h.annotators[0].wrong, 0);
    ck_assert_int_eq(h.annotators[0].labels, 4);
    hitl_store_health_release(&h);
    hitl_store_close(st);
}
END_TEST

/* ---- errors ---- */

/* A label outside the project's classes cannot come through the library: written behind its
 * back, it is reported as an inconsistent store, not passed on. */
START_TEST(test_label_outside_classes)
{
    hitl_store *st = make_store(HITL_SHOW_NEVER);
    plant(st);
    hitl_store_close(st);
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(raw, "UPDATE labels SET label = 7 WHERE id = 1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    hitl_error err;
    ck_assert_int_eq(hitl_store_open(&st, db, &err), HITL_OK);
    hitl_ratings_file rf;
    int32_t *final = (int32_t *)&rf; /* must come back NULL */
    ck_assert_int_eq(hitl_store_ratings_file(st, &rf, &final, &err), HITL_EDATA);
    ck_assert_ptr_null(final);
    ck_assert_ptr_nonnull(strstr(err.msg, "inconsistent"));
    hitl_store_close(st);
}
END_TEST

/* Throughput in hitl status: each annotator's labels in the last hour and day, by the label's
 * time. ann gave 4 labels just now; moved back 2 hours, one leaves the last hour only; moved
 * back 2 days, another leaves both. */
START_TEST(test_status_throughput)
{
    hitl_store *st = make_store(HITL_SHOW_NEVER);
    plant(st);
    hitl_error err;
    hitl_store_stats s;
    ck_assert_int_eq(hitl_store_stats_get(st, &s, &err), HITL_OK);
    ck_assert_str_eq(s.annotators[0].name, "ann");
    ck_assert_int_eq(s.annotators[0].labels, 4);
    ck_assert_int_eq(s.annotators[0].last_hour, 4);
    ck_assert_int_eq(s.annotators[0].last_day, 4);
    hitl_store_stats_release(&s);
    hitl_store_close(st);
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw,
                                  "UPDATE labels SET created = created - 7200 WHERE id = (SELECT"
                                  " min(id) FROM labels WHERE annotator = 'ann');"
                                  "UPDATE labels SET created = created - 172800 WHERE id = (SELECT"
                                  " max(id) FROM labels WHERE annotator = 'ann')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(hitl_store_open_read(&st, db, &err), HITL_OK);
    ck_assert_int_eq(hitl_store_stats_get(st, &s, &err), HITL_OK);
    ck_assert_int_eq(s.annotators[0].labels, 4);
    ck_assert_int_eq(s.annotators[0].last_hour, 2);
    ck_assert_int_eq(s.annotators[0].last_day, 3);
    hitl_store_stats_release(&s);
    hitl_store_close(st);
}
END_TEST

/* The scorecard's thresholds are the store's settings: ann and bob each approved 1 of their 2
 * wrong suggestions (0.5); with rubber-stamp 0.4 and a minimum sample of 1 both are rubber
 * stamping, with the defaults neither; bad values are refused and change nothing. */
START_TEST(test_thresholds_are_settings)
{
    hitl_store *st = make_store(HITL_SHOW_UNCERTAIN);
    plant(st);
    hitl_error err;
    hitl_scorecard sc;
    ck_assert_int_eq(hitl_store_setting_set(st, "health-min-sample", "1", "t", &err), HITL_OK);
    ck_assert_msg(hitl_store_scorecard(st, NULL, &sc, &err) == HITL_OK, "%s", err.msg);
    ck_assert_double_eq(sc.thresholds.rubber_stamp, 0.95);
    ck_assert_int_eq(sc.thresholds.min_sample, 1);
    for (size_t i = 0; i < sc.verdict.n_reasons; i++)
        ck_assert_int_ne(sc.verdict.reasons[i].rule, HITL_HEALTH_RUBBER_STAMPING);
    hitl_scorecard_release(&sc);
    ck_assert_int_eq(hitl_store_setting_set(st, "approval-thresholds",
                                            "inefficient=0.3,rubber-stamp=0.4", "t", &err),
                     HITL_OK);
    ck_assert_int_eq(hitl_store_setting_set(st, "approval-thresholds",
                                            "rubber-stamp=0.2,"
                                            "inefficient=0.3",
                                            "t", &err),
                     HITL_EINVAL); /* inefficient above rubber-stamp */
    ck_assert_int_eq(hitl_store_setting_set(st, "override-alert", "rate=0.3", "t", &err),
                     HITL_EINVAL);
    ck_assert_msg(hitl_store_scorecard(st, NULL, &sc, &err) == HITL_OK, "%s", err.msg);
    ck_assert_double_eq(sc.thresholds.rubber_stamp, 0.4);
    ck_assert_double_eq(sc.thresholds.inefficient, 0.3);
    size_t stamps = 0;
    for (size_t i = 0; i < sc.verdict.n_reasons; i++)
        if (sc.verdict.reasons[i].rule == HITL_HEALTH_RUBBER_STAMPING) {
            stamps++;
            ck_assert_double_eq(sc.verdict.reasons[i].value, 0.5);
        }
    ck_assert_uint_eq(stamps, 2);
    ck_assert_int_eq(sc.verdict.status, HITL_HEALTH_DEGRADED);
    hitl_scorecard_release(&sc);
    hitl_verify_report vr;
    ck_assert_msg(hitl_audit_verify(st, NULL, &vr, &err) == HITL_OK, "%s", err.msg);
    hitl_store_close(st);
}
END_TEST

/* The chain is read in batches on a thread of its own (verify_chain.c) while it is replayed: a
 * break far past the first batch is found at its event, with every event before it checked, and
 * an earlier break wins over a later one. */
START_TEST(test_chain_break_past_the_first_batch)
{
    hitl_store *st = make_store(HITL_SHOW_NEVER);
    hitl_error err;
    ck_assert_int_eq(hitl_store_group_begin(st, 0, &err), HITL_OK);
    for (int i = 0; i < 9000; i++)
        ck_assert_int_eq(hitl_store_setting_set(st, "overlap", i % 2 ? "2" : "3", "t", &err),
                         HITL_OK);
    ck_assert_int_eq(hitl_store_group_end(st, 1, &err), HITL_OK);
    hitl_verify_report vr;
    ck_assert_msg(hitl_audit_verify(st, NULL, &vr, &err) == HITL_OK, "%s", err.msg);
    int64_t n = vr.events;
    ck_assert_int_gt(n, 9000);
    hitl_store_close(st);
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "DELETE FROM audit WHERE seq = 8500", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(hitl_store_open(&st, db, &err), HITL_OK);
    ck_assert_int_eq(hitl_audit_verify(st, NULL, &vr, &err), HITL_EDATA);
    ck_assert_int_eq(vr.bad_seq, 8500);
    ck_assert_int_eq(vr.events, 8499);
    ck_assert_ptr_nonnull(strstr(err.msg, "events missing"));
    ck_assert_int_eq(sqlite3_exec(raw,
                                  "UPDATE audit SET payload = replace(payload, '3', '4')"
                                  " WHERE seq = 4500",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(hitl_audit_verify(st, NULL, &vr, &err), HITL_EDATA);
    ck_assert_int_eq(vr.bad_seq, 4500);
    ck_assert_int_eq(vr.events, 4499);
    ck_assert_ptr_nonnull(strstr(err.msg, "edited"));
    hitl_store_close(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_store_quality");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_ratings_file);
    tcase_add_test(core, test_blind_sample);
    tcase_add_test(core, test_health_counts);
    tcase_add_test(core, test_thresholds_are_settings);
    tcase_add_test(core, test_status_throughput);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_never_shown_and_empty);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_label_outside_classes);
    tcase_add_test(errors, test_chain_break_past_the_first_batch);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
