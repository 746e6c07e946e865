/* Unit tests for the annotation store's library API: the lease and label rules, settlement into
 * final labels or adjudication, the exact status of every refusal, undo, settings, and the audit
 * chain's head. The CLI-level and multi-process behaviour is in tests/interop/test_store.py. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hitl_io.h"
#include "testutil.h"

static char db[512];

/* A fresh store with classes a, b, c, overlap r, and items i0..i(n-1) queued in order. */
static hitl_store *make_store(int r, int n)
{
    snprintf(db, sizeof(db), "%s", tu_tmp_path("store.db"));
    tu_remove_store(db);
    char *classes[] = {"a", "b", "c"};
    hitl_store_settings s;
    hitl_store_settings_default(&s);
    s.classes = classes;
    s.n_classes = 3;
    s.overlap = r;
    s.lease_seconds = 600;
    s.show_prediction = HITL_SHOW_NEVER;
    s.min_justification = 20;
    hitl_error err;
    ck_assert_msg(hitl_store_init(db, &s, "tester", &err) == HITL_OK, "%s", err.msg);
    hitl_store *st;
    ck_assert_int_eq(hitl_store_open(&st, db, &err), HITL_OK);
    hitl_queue_row *rows = calloc((size_t)n, sizeof(*rows));
    char(*ids)[16] = calloc((size_t)n, 16);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], 16, "i%d", i);
        rows[i] = (hitl_queue_row){ids[i],
                                   i,
                                   i % 4 == 3 ? HITL_REASON_BLIND : HITL_REASON_UNCERTAIN,
                                   1.0f - 0.01f * (float)i,
                                   1,
                                   0.5f,
                                   0,
                                   NULL,
                                   NULL};
    }
    hitl_queue_batch b = {"b1", "margin", "m1", "pool.h5:probs", 7, "tester", 0, NULL};
    size_t added = 0;
    ck_assert_int_eq(hitl_store_enqueue(st, &b, rows, (size_t)n, &added, &err), HITL_OK);
    ck_assert_uint_eq(added, (size_t)n);
    free(rows);
    free(ids);
    return st;
}

static char *next_item(hitl_store *st, const char *who)
{
    hitl_lease l;
    int found;
    ck_assert_int_eq(hitl_store_next(st, who, &l, &found, NULL), HITL_OK);
    char *id = found ? strdup(l.pool_id) : NULL;
    hitl_lease_release(&l);
    return id;
}

START_TEST(test_queue_order_and_breadth_first)
{
    hitl_store *st = make_store(2, 5);
    char *x = next_item(st, "ann");
    ck_assert_str_eq(x, "i0");
    char *y = next_item(st, "bob"); /* started items first: overlap completes */
    ck_assert_str_eq(y, "i0");
    char *z = next_item(st, "cyd"); /* i0 is fully leased */
    ck_assert_str_eq(z, "i1");
    char *again = next_item(st, "ann"); /* a held lease comes back */
    ck_assert_str_eq(again, "i0");
    free(x);
    free(y);
    free(z);
    free(again);
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

/* Status per batch and in total, from one scan: batch b1 holds i0..i3 (i3 blind), b2 holds
 * j0, j1; with R = 2, i0 agreed (complete), i1 disagreed (awaiting), the rest open. */
START_TEST(test_status_per_batch)
{
    hitl_store *st = make_store(2, 4);
    hitl_queue_row rows[2] = {{"j0", 10, HITL_REASON_BLIND, 0.5f, 1, 0.5f, 0, NULL, NULL},
                              {"j1", 11, HITL_REASON_UNCERTAIN, 0.4f, 1, 0.5f, 0, NULL, NULL}};
    hitl_queue_batch b2 = {"b2", "margin", "m1", "pool.h5:probs", 8, "tester", 0, NULL};
    size_t added = 0;
    ck_assert_int_eq(hitl_store_enqueue(st, &b2, rows, 2, &added, NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "ann", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "bob", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "i1", "a", "ann", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "i1", "b", "bob", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "j0", "c", "ann", NULL), HITL_OK); /* 1 of 2 */
    hitl_store_stats s;
    ck_assert_int_eq(hitl_store_stats_get(st, &s, NULL), HITL_OK);
    ck_assert_uint_eq(s.n_batches, 2);
    const hitl_store_batch_stats *a = &s.batches[0], *b = &s.batches[1];
    ck_assert_str_eq(a->batch, "b1");
    ck_assert_int_eq(a->queued, 4);
    ck_assert_int_eq(a->blind, 1);
    ck_assert_int_eq(a->complete, 1);
    ck_assert_int_eq(a->awaiting_adjudication, 1);
    ck_assert_int_eq(a->queue_depth, 2);
    ck_assert_str_eq(b->batch, "b2");
    ck_assert_int_eq(b->queued, 2);
    ck_assert_int_eq(b->blind, 1);
    ck_assert_int_eq(b->complete, 0);
    ck_assert_int_eq(b->awaiting_adjudication, 0);
    ck_assert_int_eq(b->queue_depth, 2);
    ck_assert_int_eq(s.items_queued, 6);
    ck_assert_int_eq(s.items_complete, 1);
    ck_assert_int_eq(s.awaiting_adjudication, 1);
    ck_assert_int_eq(s.queue_depth, 4);
    ck_assert_int_eq(s.labels, 5);
    hitl_store_stats_release(&s);
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

START_TEST(test_settle_agree_and_disagree)
{
    hitl_store *st = make_store(2, 3);
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "ann", NULL), HITL_OK); /* item free */
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "bob", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "i1", "a", "ann", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "i1", "b", "bob", NULL), HITL_OK);
    hitl_store_stats s;
    ck_assert_int_eq(hitl_store_stats_get(st, &s, NULL), HITL_OK);
    ck_assert_int_eq(s.items_complete, 1);
    ck_assert_int_eq(s.awaiting_adjudication, 1);
    ck_assert_int_eq(s.labels, 4);
    ck_assert_int_eq(s.queue_depth, 1);
    ck_assert_uint_eq(s.n_annotators, 2);
    hitl_store_stats_release(&s);
    int overrode = -1;
    ck_assert_int_eq(
        hitl_store_adjudicate(st, "i1", "b", "qa", "b has the longer stroke, see", &overrode, NULL),
        HITL_OK);
    ck_assert_int_eq(overrode, 0); /* resolving a disagreement is not an override */
    ck_assert_int_eq(
        hitl_store_adjudicate(st, "i0", "c", "qa", "both annotators missed the c", &overrode, NULL),
        HITL_OK);
    ck_assert_int_eq(overrode, 1);
    ck_assert_int_eq(hitl_store_stats_get(st, &s, NULL), HITL_OK);
    ck_assert_uint_eq(s.n_actors, 1);
    ck_assert_int_eq(s.actors[0].decisions, 2);
    ck_assert_int_eq(s.actors[0].overrides, 1);
    ck_assert_double_eq_tol(s.actors[0].rate, 0.5, 1e-12);
    hitl_store_stats_release(&s);
    hitl_verify_report vr;
    hitl_error verr;
    ck_assert_msg(hitl_audit_verify(st, NULL, &vr, &verr) == HITL_OK, "%s", verr.msg);
    ck_assert_int_eq(vr.bad_seq, -1);
    ck_assert_int_gt(vr.events, 8);
    ck_assert_int_eq(vr.problems, 0);
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

START_TEST(test_undo)
{
    hitl_store *st = make_store(1, 2);
    char *pid = NULL;
    ck_assert_int_eq(hitl_store_undo(st, "ann", NULL, &pid, NULL), HITL_OK);
    ck_assert_ptr_null(pid); /* nothing to undo */
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "ann", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_undo(st, "ann", NULL, &pid, NULL), HITL_OK);
    ck_assert_str_eq(pid, "i0");
    free(pid);
    ck_assert_int_eq(hitl_store_label(st, "i0", "b", "ann", NULL), HITL_OK); /* again */
    ck_assert_int_eq(
        hitl_store_adjudicate(st, "i0", "c", "qa", "twenty characters at least", NULL, NULL),
        HITL_OK);
    hitl_error err;
    ck_assert_int_eq(hitl_store_undo(st, "ann", NULL, &pid, &err), HITL_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "adjudicated"));
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

/* Undo of one named item leases it back, so `next` offers it first; progress, history and the
 * reviewer's view count what was done, by hand. */
START_TEST(test_undo_item_and_worklist)
{
    hitl_store *st = make_store(2, 4);
    hitl_error err;
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "ann", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "i1", "b", "ann", NULL), HITL_OK);
    ck_assert_int_eq(hitl_store_skip(st, "i2", "ann", NULL, NULL), HITL_OK);
    hitl_progress p;
    ck_assert_int_eq(hitl_store_progress(st, "ann", &p, &err), HITL_OK);
    ck_assert_int_eq(p.labelled, 2);
    ck_assert_int_eq(p.skipped, 1);
    ck_assert_int_eq(p.left, 1); /* i3 */
    char *pid = NULL;
    ck_assert_int_eq(hitl_store_undo(st, "ann", "i2", &pid, &err), HITL_ECONFLICT); /* a skip */
    ck_assert_int_eq(hitl_store_undo(st, "ann", "nope", &pid, &err), HITL_ENOTFOUND);
    ck_assert_int_eq(hitl_store_undo(st, "ann", "i0", &pid, &err), HITL_OK);
    ck_assert_str_eq(pid, "i0");
    free(pid);
    char *n = next_item(st, "ann"); /* i0 comes back before i3 */
    ck_assert_str_eq(n, "i0");
    free(n);
    ck_assert_int_eq(hitl_store_progress(st, "ann", &p, &err), HITL_OK);
    ck_assert_int_eq(p.labelled, 1);
    ck_assert_int_eq(p.left, 2); /* i0 (held) and i3 */
    hitl_history_entry *h;
    size_t nh;
    ck_assert_int_eq(hitl_store_history(st, "ann", 20, &h, &nh, &err), HITL_OK);
    ck_assert_uint_eq(nh, 2);
    ck_assert_str_eq(h[0].pool_id, "i2"); /* newest first */
    ck_assert(h[0].skipped);
    ck_assert_ptr_null(h[0].label);
    ck_assert_str_eq(h[1].pool_id, "i1");
    ck_assert_str_eq(h[1].label, "b");
    hitl_history_release(h, nh);
    /* a disagreement on i1 waits for adjudication with both labels */
    ck_assert_int_eq(hitl_store_label(st, "i1", "c", "bob", NULL), HITL_OK);
    hitl_item_review *q;
    size_t nq;
    ck_assert_int_eq(hitl_store_adjudication_queue(st, 10, &q, &nq, &err), HITL_OK);
    ck_assert_uint_eq(nq, 1);
    ck_assert_str_eq(q[0].pool_id, "i1");
    ck_assert_int_eq(q[0].state, 1);
    ck_assert_str_eq(q[0].prediction, "b"); /* every row predicts class 1 */
    ck_assert_uint_eq(q[0].n_labels, 2);
    ck_assert_str_eq(q[0].labels[0].annotator, "ann");
    ck_assert_str_eq(q[0].labels[0].label, "b");
    ck_assert_str_eq(q[0].labels[1].annotator, "bob");
    ck_assert_str_eq(q[0].labels[1].label, "c");
    hitl_item_review_release(&q[0]);
    free(q);
    hitl_item_review v;
    ck_assert_int_eq(hitl_store_item_review(st, "i9", &v, &err), HITL_ENOTFOUND);
    ck_assert_int_eq(hitl_store_item_review(st, "i2", &v, &err), HITL_OK);
    ck_assert_uint_eq(v.n_labels, 0);
    ck_assert_ptr_null(v.final_label);
    hitl_item_review_release(&v);
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

/* Live decisions: routing by risk, idempotent retries, approvals, the submitter and a second
 * vote refused, a rejection escalating to an admin, a deadline expiring; verify agrees. */
START_TEST(test_gates)
{
    hitl_store *st = make_store(1, 1);
    hitl_error err;
    ck_assert_int_eq(hitl_store_setting_set(st, "decision-blind-rate", "0", "t", &err), HITL_OK);
    hitl_gate g;
    int fresh;
    hitl_gate_request q = {"svc", "refund-1", "refund 120 EUR", "{\"order\":7}", 0.9, "m1"};
    ck_assert_msg(hitl_gate_submit(st, &q, &g, &fresh, &err) == HITL_OK, "%s", err.msg);
    ck_assert(fresh);
    ck_assert_int_eq(g.route, HITL_ROUTE_REVIEW);
    ck_assert_int_eq(g.status, HITL_GATE_PENDING);
    ck_assert_int_eq(g.required, 2);
    int64_t high = g.id;
    hitl_gate_release(&g);
    ck_assert_int_eq(hitl_gate_submit(st, &q, &g, &fresh, &err), HITL_OK); /* a retry */
    ck_assert(!fresh);
    ck_assert_int_eq(g.id, high);
    hitl_gate_release(&g);
    hitl_gate_request flag = {"svc", "refund-2", "refund 20 EUR", NULL, 0.5, NULL};
    ck_assert_int_eq(hitl_gate_submit(st, &flag, &g, &fresh, &err), HITL_OK);
    ck_assert_int_eq(g.route, HITL_ROUTE_FLAG);
    ck_assert_int_eq(g.status, HITL_GATE_PROCEEDED);
    ck_assert_int_eq(g.review, HITL_GATE_PENDING);
    int64_t flagged = g.id;
    hitl_gate_release(&g);
    hitl_gate_request low = {"svc", "refund-3", "refund 2 EUR", NULL, 0.1, NULL};
    ck_assert_int_eq(hitl_gate_submit(st, &low, &g, &fresh, &err), HITL_OK);
    ck_assert_int_eq(g.status, HITL_GATE_PROCEEDED);
    ck_assert_int_eq(g.review, HITL_GATE_NONE);
    hitl_gate_release(&g);
    const char *why = "the order matches the refund policy";
    ck_assert_int_eq(hitl_gate_vote(st, high, "svc", HITL_ROLE_ADMIN, 1, why, &g, &err),
                     HITL_EPERM); /* the submitter */
    ck_assert_int_eq(hitl_gate_vote(st, high, "ann", HITL_ROLE_ANNOTATOR, 1, why, &g, &err),
                     HITL_EPERM);
    ck_assert_int_eq(hitl_gate_vote(st, high, "rev", HITL_ROLE_REVIEWER, 1, "ok", &g, &err),
                     HITL_EDATA); /* a reason under the minimum */
    ck_assert_int_eq(hitl_gate_vote(st, high, "rev", HITL_ROLE_REVIEWER, 1, why, &g, &err),
                     HITL_OK);
    ck_assert_int_eq(g.status, HITL_GATE_PENDING); /* one of two approvals */
    hitl_gate_release(&g);
    ck_assert_int_eq(hitl_gate_vote(st, high, "rev", HITL_ROLE_REVIEWER, 1, why, &g, &err),
                     HITL_ECONFLICT);
    ck_assert_int_eq(hitl_gate_vote(st, high, "rex", HITL_ROLE_REVIEWER, 1, why, &g, &err),
                     HITL_OK);
    ck_assert_int_eq(g.status, HITL_GATE_APPROVED);
    ck_assert_int_eq(g.approvals, 2);
    ck_assert_uint_eq(g.n_votes, 2);
    hitl_gate_release(&g);
    /* the flagged one: rejected, so escalated; its caller already proceeded */
    ck_assert_int_eq(hitl_gate_vote(st, flagged, "rev", HITL_ROLE_REVIEWER, 0, why, &g, &err),
                     HITL_OK);
    ck_assert_int_eq(g.status, HITL_GATE_PROCEEDED);
    ck_assert_int_eq(g.review, HITL_GATE_ESCALATED);
    hitl_gate_release(&g);
    ck_assert_int_eq(hitl_gate_vote(st, flagged, "rex", HITL_ROLE_REVIEWER, 1, why, &g, &err),
                     HITL_EPERM); /* escalated: an admin's */
    ck_assert_int_eq(hitl_gate_vote(st, flagged, "boss", HITL_ROLE_ADMIN, 0, why, &g, &err),
                     HITL_OK);
    ck_assert_int_eq(g.review, HITL_GATE_REJECTED);
    hitl_gate_release(&g);
    /* a one-second deadline expires */
    ck_assert_int_eq(hitl_store_setting_set(st, "decision-deadline", "1", "t", &err), HITL_OK);
    hitl_gate_request soon = {"svc", "refund-4", "refund 900 EUR", NULL, 0.95, NULL};
    ck_assert_int_eq(hitl_gate_submit(st, &soon, &g, &fresh, &err), HITL_OK);
    int64_t late = g.id;
    hitl_gate_release(&g);
    usleep(1100 * 1000);
    size_t n = 0;
    ck_assert_int_eq(hitl_gate_expire(st, &n, &err), HITL_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(hitl_gate_get(st, late, &g, &err), HITL_OK);
    ck_assert_int_eq(g.status, HITL_GATE_EXPIRED);
    hitl_gate_release(&g);
    ck_assert_int_eq(hitl_gate_get(st, 999, &g, &err), HITL_ENOTFOUND);
    hitl_gate *all;
    ck_assert_int_eq(hitl_gate_list(st, HITL_GATE_PROCEEDED, &all, &n, &err), HITL_OK);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        hitl_gate_release(&all[i]);
    free(all);
    hitl_verify_report vr;
    ck_assert_msg(hitl_audit_verify(st, NULL, &vr, &err) == HITL_OK, "%s", err.msg);
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

/* Group commit (hitl serve's writer): each write in its own savepoint of one transaction, so a
 * refused write leaves nothing and the others stand; nothing is visible to another handle until
 * the group commits; a decision needs a durable group; a rolled-back group leaves nothing. */
START_TEST(test_group_commit)
{
    hitl_store *st = make_store(1, 3), *other;
    hitl_error err;
    ck_assert_int_eq(hitl_store_open(&other, db, &err), HITL_OK);
    ck_assert_int_eq(hitl_store_group_begin(st, 0, &err), HITL_OK);
    ck_assert_int_eq(hitl_store_group_begin(st, 0, &err), HITL_EINTERNAL); /* not nested */
    char *id = next_item(st, "ann");
    ck_assert_str_eq(id, "i0");
    ck_assert_int_eq(hitl_store_label(st, id, "b", "ann", &err), HITL_OK);
    ck_assert_int_eq(hitl_store_group_next(st), 1);
    ck_assert_int_eq(hitl_store_label(st, "nope", "b", "ann", &err), HITL_ENOTFOUND);
    ck_assert_int_eq(hitl_store_label(st, id, "c", "ann", &err), HITL_ECONFLICT); /* twice */
    ck_assert_int_eq(hitl_store_group_next(st), 1);
    hitl_gate g = {0};
    int fresh;
    hitl_gate_request q = {"svc", "refund-1", "refund 120 EUR", NULL, 0.9, "m1"};
    ck_assert_int_eq(hitl_gate_submit(st, &q, &g, &fresh, &err), HITL_EINTERNAL);
    ck_assert_int_eq(hitl_store_group_next(st), 1);
    hitl_progress p;
    ck_assert_int_eq(hitl_store_progress(other, "ann", &p, &err), HITL_OK);
    ck_assert_int_eq(p.labelled, 0); /* not yet committed */
    ck_assert_msg(hitl_store_group_end(st, 1, &err) == HITL_OK, "%s", err.msg);
    ck_assert_int_eq(hitl_store_progress(other, "ann", &p, &err), HITL_OK);
    ck_assert_int_eq(p.labelled, 1);
    ck_assert_int_eq(p.left, 2);
    free(id);

    /* rolled back: the lease and the label are gone */
    ck_assert_int_eq(hitl_store_group_begin(st, 0, &err), HITL_OK);
    id = next_item(st, "ann");
    ck_assert_str_eq(id, "i1");
    ck_assert_int_eq(hitl_store_label(st, id, "a", "ann", &err), HITL_OK);
    ck_assert_int_eq(hitl_store_group_end(st, 0, &err), HITL_OK);
    ck_assert_int_eq(hitl_store_progress(st, "ann", &p, &err), HITL_OK);
    ck_assert_int_eq(p.labelled, 1);
    free(id);
    ck_assert_str_eq((id = next_item(other, "ann2")), "i1"); /* not leased */
    free(id);

    /* a decision in a durable group */
    ck_assert_int_eq(hitl_store_group_begin(st, 1, &err), HITL_OK);
    ck_assert_msg(hitl_gate_submit(st, &q, &g, &fresh, &err) == HITL_OK, "%s", err.msg);
    ck_assert(fresh);
    ck_assert_int_eq(hitl_store_group_end(st, 1, &err), HITL_OK);
    hitl_gate_release(&g);
    ck_assert_int_eq(hitl_gate_submit(other, &q, &g, &fresh, &err), HITL_OK);
    ck_assert(!fresh); /* the same decision, seen by the other handle */
    hitl_gate_release(&g);
    hitl_verify_report vr;
    ck_assert_msg(hitl_audit_verify(other, NULL, &vr, &err) == HITL_OK, "%s", err.msg);
    ck_assert_int_eq(vr.problems, 0);
    hitl_store_close(other);
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

START_TEST(test_settings)
{
    hitl_store *st = make_store(1, 1);
    hitl_error err;
    ck_assert_int_eq(hitl_store_setting_set(st, "overlap", "3", "admin", &err), HITL_OK);
    ck_assert_int_eq(hitl_store_setting_set(st, "overlap", "0", "admin", &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_store_setting_set(st, "colour", "red", "admin", &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_store_setting_set(st, "show-prediction", "maybe", "admin", &err),
                     HITL_EINVAL);
    hitl_store_close(st);
    ck_assert_int_eq(hitl_store_open(&st, db, &err), HITL_OK); /* persisted */
    hitl_store_settings s;
    ck_assert_int_eq(hitl_store_settings_get(st, &s, NULL), HITL_OK);
    ck_assert_int_eq(s.overlap, 3);
    ck_assert_uint_eq(s.n_classes, 3);
    ck_assert_str_eq(s.classes[2], "c");
    hitl_store_settings_release(&s);
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

START_TEST(test_refusals)
{
    hitl_store *st = make_store(2, 2);
    hitl_error err;
    ck_assert_int_eq(hitl_store_label(st, "nope", "a", "ann", &err), HITL_ENOTFOUND);
    ck_assert_int_eq(hitl_store_label(st, "i0", "zebra", "ann", &err), HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "classes: a, b, c"));
    free(next_item(st, "ann"));
    free(next_item(st, "bob"));
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "cyd", &err), HITL_ECONFLICT);
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "ann", &err), HITL_OK);
    ck_assert_int_eq(hitl_store_label(st, "i0", "a", "ann", &err), HITL_ECONFLICT);
    ck_assert_int_eq(hitl_store_adjudicate(st, "i0", "a", "qa", "short", NULL, &err), HITL_EDATA);
    ck_assert_int_eq(
        hitl_store_adjudicate(st, "i1", "a", "qa", "long enough justification", NULL, &err),
        HITL_ECONFLICT); /* nothing to decide */
    ck_assert_int_eq(hitl_store_skip(st, "i0", "ann", NULL, &err), HITL_ECONFLICT);
    /* duplicates across batches are never queued twice */
    hitl_queue_row dup = {"i0", 0, HITL_REASON_UNCERTAIN, 1, 0, 1, 0, NULL, NULL};
    hitl_queue_batch b = {"b2", "margin", NULL, NULL, 1, "tester", 0, NULL};
    size_t added = 9;
    ck_assert_int_eq(hitl_store_enqueue(st, &b, &dup, 1, &added, NULL), HITL_OK);
    ck_assert_uint_eq(added, 0);
    char *ids[] = {"i0", "i1", "i9"};
    uint8_t known[3];
    ck_assert_int_eq(hitl_store_known(st, ids, 3, known, NULL), HITL_OK);
    ck_assert(known[0] && known[1] && !known[2]);
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

/* A batch and its payloads are one transaction: a bad payload line leaves neither. */
START_TEST(test_enqueue_data_all_or_nothing)
{
    hitl_store *st = make_store(1, 2);
    hitl_queue_row rows[] = {{"n0", 10, HITL_REASON_UNCERTAIN, 1, 0, 1, 0, NULL, NULL},
                             {"n1", 11, HITL_REASON_BLIND, 1, 0, 1, 0, NULL, NULL}};
    hitl_queue_batch b = {"b2", "margin", NULL, NULL, 1, "tester", 0, NULL};
    hitl_queue_counts c;
    hitl_error err;
    ck_assert_int_eq(hitl_store_enqueue_data(st, &b, rows, 2, "{\"id\": \"n0\"}\nnot json\n",
                                             "items.jsonl", &c, &err),
                     HITL_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "'items.jsonl': line 2: not a JSON object"));
    ck_assert_uint_eq(c.added, 0);
    hitl_store_stats stats;
    hitl_verify_report vr;
    ck_assert_int_eq(hitl_store_stats_get(st, &stats, NULL), HITL_OK);
    ck_assert_int_eq(stats.items_queued, 2); /* neither n0 nor n1 */
    hitl_store_stats_release(&stats);
    ck_assert_msg(hitl_audit_verify(st, NULL, &vr, &err) == HITL_OK, "%s", err.msg);
    int64_t before = vr.events;
    const char *data = "{\"id\": \"n1\", \"text\": \"x\"}\n{\"id\": \"i0\"}\n{\"id\": \"zz\"}\n";
    ck_assert_int_eq(hitl_store_enqueue_data(st, &b, rows, 2, data, "items.jsonl", &c, &err),
                     HITL_OK);
    ck_assert_uint_eq(c.added, 2);
    ck_assert_uint_eq(c.attached, 2); /* n1, and i0 of the earlier batch */
    ck_assert_uint_eq(c.ignored, 1);
    ck_assert_msg(hitl_audit_verify(st, NULL, &vr, &err) == HITL_OK, "%s", err.msg);
    ck_assert_int_eq(vr.events, before + 2); /* queue and data */
    hitl_store_close(st);
    tu_remove_store(db);
}
END_TEST

START_TEST(test_open_errors)
{
    hitl_store *st;
    hitl_error err;
    ck_assert_int_eq(hitl_store_open(&st, "no-such-dir/x.db", &err), HITL_EIO);
    ck_assert_ptr_null(st);
    char junk[512];
    snprintf(junk, sizeof(junk), "%s", tu_tmp_path("junk.db"));
    FILE *f = fopen(junk, "w");
    for (int i = 0; i < 200; i++)
        fputs("not a database ", f);
    fclose(f);
    ck_assert_int_eq(hitl_store_open(&st, junk, &err), HITL_EDATA);
    unlink(junk);
    char *one[] = {"a"};
    hitl_store_settings s;
    hitl_store_settings_default(&s);
    s.classes = one;
    s.n_classes = 1;
    s.overlap = 1;
    s.lease_seconds = 600;
    s.show_prediction = HITL_SHOW_NEVER;
    s.min_justification = 20;
    ck_assert_int_eq(hitl_store_init(junk, &s, "t", &err), HITL_EINVAL); /* one class */
    ck_assert_int_ne(access(junk, F_OK), 0);                             /* nothing made */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_store");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_queue_order_and_breadth_first);
    tcase_add_test(core, test_settle_agree_and_disagree);
    tcase_add_test(core, test_status_per_batch);
    tcase_add_test(core, test_undo);
    tcase_add_test(core, test_undo_item_and_worklist);
    tcase_add_test(core, test_gates);
    tcase_add_test(core, test_group_commit);
    tcase_add_test(core, test_settings);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_refusals);
    tcase_add_test(errors, test_enqueue_data_all_or_nothing);
    tcase_add_test(errors, test_open_errors);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
