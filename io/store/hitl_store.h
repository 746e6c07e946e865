/* hitl store: the annotation store, one SQLite file. The queue, every label, skip and decision,
 * and the audit chain; final labels out of it, exports and imports, and the counts that status,
 * health and the reports read. Never prints. */
#ifndef HITL_STORE_H
#define HITL_STORE_H

#include "hitl_files.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the annotation store (one SQLite file) -------------------------------------------------
 * The queue, every label, skip and decision, and an append-only audit chain: every change
 * appends its event (SHA-256 over the previous hash and the canonical event) in the same
 * transaction as the change. WAL mode, short BEGIN IMMEDIATE transactions, a busy timeout: many
 * annotator processes can work on one file at once. Items are named by their pool id. */
typedef struct hitl_store hitl_store;

typedef enum {
    HITL_SHOW_NEVER = 0,
    HITL_SHOW_UNCERTAIN, /* on uncertainty-queued items only, never on blind ones */
    HITL_SHOW_ALWAYS     /* on every item, blind ones too: nothing marks a blind item */
} hitl_show_prediction;
/* Whether an item's prediction is shown under setting s: the one rule that next, the Label
 * Studio tasks and the health scorecard's "shown" count all apply. Only `never` keeps blind
 * labels free of the model's anchor; `uncertain` marks blind items by the prediction's absence,
 * so hitl serve shows predictions only under `always`. */
int hitl_prediction_shown(hitl_show_prediction s, int blind);
/* "never", "uncertain", "always" */
const char *hitl_show_prediction_name(hitl_show_prediction s);

typedef struct hitl_store_settings {
    char **classes;
    size_t n_classes;
    int overlap;       /* R: independent labels per item (routing may ask for 1) */
    int lease_seconds; /* how long `next` reserves an item */
    hitl_show_prediction show_prediction;
    int min_justification; /* characters an adjudication or override must give */
    /* live decisions (hitl_gate_*): risk above high needs approval, above medium is flagged
     * for review after it proceeds; a share of the rest goes to blind review */
    double route_high, route_medium;    /* "route": high=0.7,medium=0.4 */
    double decision_blind_rate;         /* "decision-blind-rate": 0.02 */
    int approvals_high, approvals_flag; /* "decision-approvals": high=2,flag=1 */
    int deadline_high, deadline_flag;   /* "decision-deadline": seconds per route, 14400 (the
                                           flag route's also for blind review) */
    /* the health scorecard's thresholds (engine defaults): "approval-thresholds"
     * rubber-stamp=0.95,inefficient=0.5; "override-alert" rate=0.3,days=30 (the rate for label
     * overrides and, over the last `days`, for each reviewer's overrides of decisions);
     * "health-min-sample" 20 */
    hitl_health_thresholds health;
    int override_days;
} hitl_store_settings;

/* The defaults of every setting (no classes). */
void hitl_store_settings_default(hitl_store_settings *s);

/* ---- what people type -----------------------------------------------------------------------
 * A name (annotator, actor, account) is 1 to 64 characters of UTF-8 without control characters,
 * not only spaces: HITL_EINVAL naming `what` otherwise, HITL_EDATA for invalid UTF-8. */
hitl_status hitl_name_check(const char *name, const char *what, hitl_error *err);
/* The characters of s that are neither white space nor control characters (a justification's
 * length); -1 for invalid UTF-8. */
int64_t hitl_text_visible(const char *s);
/* 1 when s is valid UTF-8 (NULL is). */
int hitl_text_utf8(const char *s);

/* The schema version this build writes; a store with a higher one is refused. */
#define HITL_STORE_SCHEMA 4

/* Creates a new store at `path` (HITL_ECONFLICT if the file exists) with `s` (borrowed). */
hitl_status hitl_store_init(const char *path, const hitl_store_settings *s, const char *actor,
                            hitl_error *err);
/* Opens an existing store for writing; a store of an older schema is upgraded (audited).
 * HITL_EIO when missing or not a hitl store, HITL_EDATA when corrupt, HITL_ECONFLICT when
 * written by a newer schema. Caller owns *out; close with hitl_store_close(), which merges the
 * WAL into the file when it is the last connection (a copy of the file is then the store). */
hitl_status hitl_store_open(hitl_store **out, const char *path, hitl_error *err);
/* Opens a store for reading only (status, audit, agreement, export): also on a read-only file or
 * a read-only mount, where it is read without locks (immutable). Writes fail. */
hitl_status hitl_store_open_read(hitl_store **out, const char *path, hitl_error *err);
void hitl_store_close(hitl_store *st);
/* Group commit, for a server that writes for many clients through one handle. Between
 * hitl_store_group_begin and hitl_store_group_end every write function runs in a savepoint of
 * one transaction (BEGIN IMMEDIATE): a failed write leaves nothing, and the one COMMIT at the
 * end makes the group's writes durable together (at synchronous=FULL when `durable`, which a
 * decision's write requires: HITL_EINTERNAL otherwise). After each write, hitl_store_group_next
 * says 1 when the group goes on; 0 once SQLite has rolled the whole transaction back itself (a
 * full disk, an I/O error): the writes so far are lost; -1 when the write left its savepoint
 * open (a defect): it is rolled back. hitl_store_group_end commits (`commit` 1) or rolls back. */
hitl_status hitl_store_group_begin(hitl_store *st, int durable, hitl_error *err);
/* WAL checkpoints off a server's write path: after hitl_store_wal_manual(st), st's commits no
 * longer copy the write-ahead log into the file themselves (SQLite does so in the commit that
 * takes the log past 1,000 pages, with two fsyncs, while every other writer waits);
 * hitl_store_wal_checkpoint, called from another handle, copies what it can without waiting
 * for or blocking any writer (a passive checkpoint). */
void hitl_store_wal_manual(hitl_store *st);
hitl_status hitl_store_wal_checkpoint(hitl_store *st, hitl_error *err);
int hitl_store_group_next(hitl_store *st);
hitl_status hitl_store_group_end(hitl_store *st, int commit, hitl_error *err);
/* A consistent copy of the store at `out` (a new file; HITL_EINVAL when it exists), made in
 * one read snapshot while others write: the copy holds every commit made before it began. */
hitl_status hitl_store_backup(hitl_store *st, const char *out, hitl_error *err);
/* Caller-allocated *out; release with hitl_store_settings_release(). */
hitl_status hitl_store_settings_get(hitl_store *st, hitl_store_settings *out, hitl_error *err);
void hitl_store_settings_release(hitl_store_settings *s);
/* Validates one setting's text ("overlap", "lease", "show-prediction", "min-justification")
 * and applies it to *s; HITL_EINVAL naming the rule otherwise. */
hitl_status hitl_store_settings_apply(hitl_store_settings *s, const char *key, const char *value,
                                      hitl_error *err);
/* Changes one setting in the store, with the same rules; audited. */
hitl_status hitl_store_setting_set(hitl_store *st, const char *key, const char *value,
                                   const char *actor, hitl_error *err);

typedef enum { HITL_REASON_UNCERTAIN = 0, HITL_REASON_BLIND } hitl_queue_reason;

/* One row to enqueue; every pointer borrowed. */
typedef struct hitl_queue_row {
    const char *pool_id;
    int64_t row;
    hitl_queue_reason reason;
    float score;
    int32_t pred; /* the model's class, -1 when unknown */
    float p1;
    int required;      /* labels this item needs */
    const char *route; /* "review", "flag" or NULL */
    const char *data;  /* the display payload, JSON text, or NULL */
} hitl_queue_row;

/* What one `queue` call records on every entry it adds; every pointer borrowed. */
typedef struct hitl_queue_batch {
    const char *batch, *method, *model, *source;
    uint64_t seed;
    const char *actor;
    size_t n_proceed;   /* rows routed to "proceed": counted in the audit event, not queued */
    const char *naming; /* how the items are named ("rows", "ids:DSET"), or NULL */
} hitl_queue_batch;

/* Pool ids of `ids` (borrowed, n) already in the store: out[i] = 1 when known. */
hitl_status hitl_store_known(hitl_store *st, char *const *ids, size_t n, uint8_t *out,
                             hitl_error *err);
/* Enqueues rows in the given order (their queue order); ids already known are skipped. One
 * transaction and one audit event for the batch. *added (may be NULL) counts the new ones. */
hitl_status hitl_store_enqueue(hitl_store *st, const hitl_queue_batch *b,
                               const hitl_queue_row *rows, size_t n, size_t *added,
                               hitl_error *err);
/* Attaches display payloads: JSON objects (text) with an "id" member, one per line of `jsonl`
 * (borrowed, NUL-terminated); lines for ids not queued are counted in *ignored. */
hitl_status hitl_store_attach_data(hitl_store *st, const char *jsonl, size_t *attached,
                                   size_t *ignored, hitl_error *err);

/* What hitl_store_enqueue_data did. */
typedef struct hitl_queue_counts {
    size_t added;    /* new items */
    size_t attached; /* payloads attached, to new or earlier items */
    size_t ignored;  /* payload lines for ids not queued */
} hitl_queue_counts;

/* hitl_store_enqueue, then hitl_store_attach_data(jsonl) when jsonl is not NULL, in one
 * transaction: the batch and its payloads are stored together or not at all, even when the
 * process dies between them. Errors in jsonl are prefixed with 'jsonl_name' (the file). */
hitl_status hitl_store_enqueue_data(hitl_store *st, const hitl_queue_batch *b,
                                    const hitl_queue_row *rows, size_t n, const char *jsonl,
                                    const char *jsonl_name, hitl_queue_counts *counts,
                                    hitl_error *err);

/* ---- accounts ---------------------------------------------------------------------------------
 * Who acts through `hitl serve`: a name (hitl_name_check's rules), a role and a token. A token
 * is 256 random bits from the operating system, shown once as 64 hex digits; the store keeps
 * only its SHA-256. Adding, rotating and revoking are audited (the chain holds each token's
 * hash, so verify covers the accounts too). Whoever can write the store file is an admin. */
typedef enum {
    HITL_ROLE_ANNOTATOR = 0, /* next, label, skip, undo their own labels */
    HITL_ROLE_REVIEWER,      /* also adjudication, every label, status */
    HITL_ROLE_ADMIN,         /* also settings, accounts, health, exports, audit */
    HITL_ROLE_SYSTEM,        /* services: submit decisions and read their outcomes */
    HITL_ROLE_COUNT
} hitl_role;

#define HITL_TOKEN_CHARS 64

/* "annotator", "reviewer", "admin", "system"; the parser returns HITL_EINVAL for others. */
const char *hitl_role_name(hitl_role r);
hitl_status hitl_role_parse(const char *name, hitl_role *out);

typedef struct hitl_account {
    char name[260];
    hitl_role role;
    char created_at[32];
    int revoked;
} hitl_account;

/* A new account and its token (token: HITL_TOKEN_CHARS + 1 bytes). HITL_ECONFLICT when the
 * name is taken, HITL_EINVAL for a bad name. */
hitl_status hitl_account_add(hitl_store *st, const char *name, hitl_role role, const char *actor,
                             char *token, hitl_error *err);
/* A new token for `name`; the old one stops working. HITL_ENOTFOUND, HITL_ECONFLICT when
 * revoked. */
hitl_status hitl_account_rotate(hitl_store *st, const char *name, const char *actor, char *token,
                                hitl_error *err);
/* The account can no longer act (its token is refused). HITL_ENOTFOUND. */
hitl_status hitl_account_revoke(hitl_store *st, const char *name, const char *actor,
                                hitl_error *err);
/* The account named `name`: HITL_ENOTFOUND when there is none. */
hitl_status hitl_account_get(hitl_store *st, const char *name, hitl_account *out, hitl_error *err);
/* Every account, by name. Caller frees *out (free()). */
hitl_status hitl_account_list(hitl_store *st, hitl_account **out, size_t *n, hitl_error *err);
/* The account a token belongs to: HITL_EAUTH when no live account has it (the comparison of
 * its hash is constant-time). */
hitl_status hitl_account_auth(hitl_store *st, const char *token, hitl_account *out,
                              hitl_error *err);

/* ---- live decisions (gate.c) ---------------------------------------------------------------
 * A service asks before a risky action; the store routes it by the `route` setting: risk above
 * high waits for decision-approvals' high approvals (the caller acts on approved only); above
 * medium it proceeds and is flagged for review; the rest proceed, a seeded decision-blind-rate
 * share of them to blind review. Any rejection, or the decision-deadline passing, escalates to
 * the admins, who settle it. Every change is audited with the decision's state after it and
 * committed at synchronous=FULL before the call returns. */
typedef enum {
    HITL_GATE_NONE = 0, /* review only: nothing to review */
    HITL_GATE_PENDING,
    HITL_GATE_APPROVED,
    HITL_GATE_REJECTED,
    HITL_GATE_ESCALATED,
    HITL_GATE_EXPIRED,
    HITL_GATE_PROCEEDED, /* status only: the caller went ahead */
    HITL_GATE_N_STATUS
} hitl_gate_status;

const char *hitl_gate_status_name(hitl_gate_status s);
hitl_status hitl_gate_status_parse(const char *name, hitl_gate_status *out);
/* "approve" (HITL_ROUTE_REVIEW), "flag", "proceed" (HITL_ROUTE_NONE) */
const char *hitl_gate_route_name(hitl_route r);

typedef struct hitl_gate_request {
    const char *submitter; /* the account */
    const char *caller_id; /* the service's own id: a second submit returns the first */
    const char *action;
    const char *payload; /* a JSON object's text, or NULL */
    double risk;         /* 0..1 */
    const char *model;   /* or NULL */
} hitl_gate_request;

typedef struct hitl_gate_ballot {
    char *reviewer, *reason, *at;
    int approve;
    int override; /* an override of the settled outcome (hitl_gate_override) */
} hitl_gate_ballot;

typedef struct hitl_gate {
    int64_t id;
    char *caller_id, *submitter, *action, *payload, *model;
    double risk;
    hitl_route route; /* hitl_route_by_risk */
    int blind;        /* a proceed-route decision drawn for blind review */
    hitl_gate_status status, review;
    int required, approvals;
    char *created_at, *deadline, *settled_at, *settled_by; /* deadline: ISO-8601 */
    int64_t deadline_ms;
    hitl_gate_ballot *votes;
    size_t n_votes;
} hitl_gate;
void hitl_gate_release(hitl_gate *g);

/* Files a decision; *fresh = 0 when the submitter already filed caller_id (then *out is that
 * first decision, unchanged). HITL_EINVAL for a bad field. */
hitl_status hitl_gate_submit(hitl_store *st, const hitl_gate_request *q, hitl_gate *out, int *fresh,
                             hitl_error *err);
/* HITL_ENOTFOUND when there is no such decision. */
hitl_status hitl_gate_get(hitl_store *st, int64_t id, hitl_gate *out, hitl_error *err);
/* Every decision whose status or review is `status` (-1: all), by id; release each, free(*out). */
hitl_status hitl_gate_list(hitl_store *st, int status, hitl_gate **out, size_t *n, hitl_error *err);
/* A reviewer's or admin's approval or rejection with its reason (the store's min-justification
 * in visible characters, at least 1: HITL_EDATA). HITL_EPERM: another role, the submitter, or an
 * escalated decision and not an admin; HITL_ECONFLICT: already voted, already settled, nothing
 * to review; HITL_ENOTFOUND. *out: the decision after the vote. */
hitl_status hitl_gate_vote(hitl_store *st, int64_t id, const char *reviewer, hitl_role role,
                           int approve, const char *reason, hitl_gate *out, hitl_error *err);
/* Overturns a settled review (approved or rejected) to `approve`: a reviewer or admin, not the
 * submitter, with a reason of at least the store's min-justification visible characters. The
 * decision's review (and, on the approve route, its status) becomes the new outcome, settled by
 * the overrider; audited as gate_override. HITL_EPERM: the role or the submitter;
 * HITL_EDATA: the reason; HITL_ECONFLICT: not settled, or already that outcome;
 * HITL_ENOTFOUND. *out: the decision after it. */
hitl_status hitl_gate_override(hitl_store *st, int64_t id, const char *reviewer, hitl_role role,
                               int approve, const char *reason, hitl_gate *out, hitl_error *err);
/* A count that grows with every vote, override and expiry ever recorded (the votes' last
 * sequence number plus the expired reviews): a server compares it with its own writes to learn
 * that another process (hitl decide) settled something. 0 on a store without decisions. */
hitl_status hitl_gate_changes(hitl_store *st, int64_t *out, hitl_error *err);
/* Reviews past their deadline expire (at most 64 a call); *n (may be NULL) counts them. */
hitl_status hitl_gate_expire(hitl_store *st, size_t *n, hitl_error *err);

/* ---- queueing a batch from a pool file -----------------------------------------------------
 * One uncertainty pass over the pool (outside any transaction: it may take minutes), then, in one
 * write transaction, the rows not yet queued are planned (hitl_batch_plan: the K most uncertain,
 * or those chosen by k-center or BADGE, plus B blind rows drawn with the seed, routed when asked)
 * and inserted with their payloads and the batch's audit event. What the result counts is what
 * that transaction inserted. */
typedef enum {
    HITL_PICK_SCORE = 0,      /* the K most uncertain by the pass's rank_by method */
    HITL_PICK_KCENTER,        /* K rows spread over the embeddings (k-center greedy) */
    HITL_PICK_MARGIN_KCENTER, /* k-center among the `candidates` most uncertain */
    HITL_PICK_BADGE           /* BADGE: k-means++ over gradient embeddings */
} hitl_pick;

typedef struct hitl_queue_opts {
    hitl_score_pass_opts pass; /* the pool, what it holds, the method (rank_by), the threads */
    hitl_pick pick;
    const char *embeddings; /* k-center and BADGE: their dataset in the pool file */
    size_t candidates;      /* margin-kcenter: the most uncertain to pick among (10 K when 0) */
    const char *ids;        /* the pool's id dataset, or NULL: row numbers */
    const char *data;       /* a JSONL file of display payloads, or NULL */
    const char *batch;      /* the batch's name, or NULL: batch-<UTC time>-<pid> */
    const char *model, *actor;
    int use_top_k; /* else (routing) every row above medium */
    size_t top_k, blind;
    uint64_t seed;
    int route; /* risk routing, with the thresholds: */
    double high, medium;
    const char *routes_out; /* when not NULL: the routing of every planned row, proceed rows
                               included, as CSV (hitl_routes_save), once the batch is queued */
} hitl_queue_opts;

typedef struct hitl_queue_result {
    char batch[96];
    const char *method; /* static */
    size_t pool_rows, already_queued;
    size_t added, uncertain, blind, review, flag, proceed;
    size_t data_attached, data_ignored;
    int overlap;
} hitl_queue_result;

/* HITL_ESHAPE when the pool's classes are not the project's; the errors of the pass, the id
 * and payload files and the store otherwise. */
hitl_status hitl_store_queue(hitl_store *st, const hitl_queue_opts *o, hitl_queue_result *res,
                             hitl_error *err);

/* A leased item as an annotator sees it: never why it was queued. */
typedef struct hitl_lease {
    char *pool_id;
    char *data;       /* JSON text or NULL */
    char *prediction; /* class name, or NULL when not shown */
    char *expires;    /* ISO-8601 UTC */
    int64_t position; /* the item's place in the queue */
} hitl_lease;

/* Leases the next item for `annotator`: items others already started first (so overlap
 * completes), then queue order; never one the annotator labelled, skipped or holds; never more
 * leases + labels than the item needs. Expired leases return first. *found = 0 when nothing is
 * left for this annotator. Caller-allocated *out; release with hitl_lease_release(). */
hitl_status hitl_store_next(hitl_store *st, const char *annotator, hitl_lease *out, int *found,
                            hitl_error *err);
void hitl_lease_release(hitl_lease *l);
/* Records `label` for item `pool_id` by `annotator`, who must hold the lease or find the item
 * free. HITL_ENOTFOUND unknown item, HITL_EDATA unknown label, HITL_ECONFLICT no lease / already
 * labelled by this annotator / item complete. */
hitl_status hitl_store_label(hitl_store *st, const char *pool_id, const char *label,
                             const char *annotator, hitl_error *err);
/* Gives the item back without a label; the annotator is not offered it again. */
hitl_status hitl_store_skip(hitl_store *st, const char *pool_id, const char *annotator,
                            const char *reason, hitl_error *err);
/* Removes the annotator's label on `item` (NULL: their last label) unless a person decided the
 * item's final label (HITL_ECONFLICT), and leases the item back to them so that `next` offers
 * it again first. *pool_id (caller frees) names the item; NULL when `item` is NULL and there was
 * nothing to undo. With an item: HITL_ENOTFOUND unknown, HITL_ECONFLICT no label of theirs. */
hitl_status hitl_store_undo(hitl_store *st, const char *annotator, const char *item, char **pool_id,
                            hitl_error *err);
/* Sets the final label of an item: resolves a disagreement, or overrides a final label or a
 * model prediction routed to review. The justification must have the configured length
 * (HITL_EDATA otherwise; nothing written). *overrode (may be NULL) says whether it changed the
 * previous outcome. */
hitl_status hitl_store_adjudicate(hitl_store *st, const char *pool_id, const char *label,
                                  const char *actor, const char *justification, int *overrode,
                                  hitl_error *err);

/* ---- one person's work (for hitl serve) ------------------------------------------------------
 * An annotator's counts: labels and skips given, and the items `next` could still give them. */
typedef struct hitl_progress {
    int64_t labelled, skipped, left;
} hitl_progress;
hitl_status hitl_store_progress(hitl_store *st, const char *annotator, hitl_progress *out,
                                hitl_error *err);

/* An annotator's decisions, newest first: a label (label set) or a skip (label NULL). */
typedef struct hitl_history_entry {
    char *pool_id, *label, *at;
    int skipped;
} hitl_history_entry;
/* At most `limit` of them; release with hitl_history_release(*out, *n). */
hitl_status hitl_store_history(hitl_store *st, const char *annotator, size_t limit,
                               hitl_history_entry **out, size_t *n, hitl_error *err);
void hitl_history_release(hitl_history_entry *h, size_t n);

/* An item as a reviewer sees it: its payload, the model's prediction, every label with who gave
 * it and when, and its state (0 open, 1 awaiting adjudication, 2 final) and final label. */
typedef struct hitl_item_label {
    char *annotator, *label, *at;
} hitl_item_label;
typedef struct hitl_item_review {
    char *pool_id, *data, *prediction; /* data, prediction: NULL when none */
    int state;
    char *final_label, *final_kind, *final_by; /* NULL until final (final_by: a person) */
    hitl_item_label *labels;
    size_t n_labels;
} hitl_item_review;
/* HITL_ENOTFOUND for an unknown item. Release with hitl_item_review_release(). */
hitl_status hitl_store_item_review(hitl_store *st, const char *pool_id, hitl_item_review *out,
                                   hitl_error *err);
void hitl_item_review_release(hitl_item_review *v);
/* The first `limit` items awaiting adjudication (SIZE_MAX: all), in queue order; release each,
 * then free(*out) (NULL when there are none). */
hitl_status hitl_store_adjudication_queue(hitl_store *st, size_t limit, hitl_item_review **out,
                                          size_t *n, hitl_error *err);

typedef struct hitl_store_annotator {
    char *name;
    int64_t labels, skips;
    int64_t last_hour, last_day; /* labels given in the last hour, the last 24 hours */
} hitl_store_annotator;

typedef struct hitl_store_actor {
    char *name;
    int64_t decisions, overrides;
    double rate; /* overrides / decisions */
    int alert;   /* the health scorecard finds the override rate too high (engine/health.c) */
} hitl_store_actor;

typedef struct hitl_store_batch_stats {
    char *batch;
    int64_t queued, complete, blind;
    int64_t awaiting_adjudication, queue_depth; /* as in hitl_store_stats, for this batch */
} hitl_store_batch_stats;

typedef struct hitl_store_stats {
    int64_t items_queued, items_complete, labels, skips, leases, awaiting_adjudication;
    int64_t queue_depth; /* items still needing labels */
    hitl_store_annotator *annotators;
    size_t n_annotators;
    hitl_store_actor *actors;
    size_t n_actors;
    hitl_store_batch_stats *batches;
    size_t n_batches;
} hitl_store_stats;

/* Caller-allocated *out; release with hitl_store_stats_release(). */
hitl_status hitl_store_stats_get(hitl_store *st, hitl_store_stats *out, hitl_error *err);
void hitl_store_stats_release(hitl_store_stats *s);

/* The chain's newest event: its sequence number and hash (64 hex digits); seq 0 and 64 zeros
 * for an empty chain. Written and read as "SEQ:HASH". */
typedef struct hitl_audit_head {
    int64_t seq;
    char hash[65];
} hitl_audit_head;

hitl_status hitl_audit_head_get(hitl_store *st, hitl_audit_head *h, hitl_error *err);
/* Parses "SEQ:HASH"; HITL_EINVAL otherwise. */
hitl_status hitl_audit_head_parse(const char *text, hitl_audit_head *h);

/* ---- verifying the store against its chain ------------------------------------------------
 * The chain is recomputed (each event's hash over the one before and its canonical line) and
 * replayed into the state it explains: every label, skip, decision, final label, import key and
 * setting, and through the digests its queue and data events recorded, every queued item's
 * fixed fields and payload. That state is compared with every table. What it proves, and what
 * only a head or signature kept outside the file can (README, "Integrity"). */
typedef void (*hitl_verify_problem_fn)(void *ctx, const char *problem);

typedef struct hitl_verify_opts {
    const hitl_audit_head *head; /* the chain must still hold this event with this hash */
    const char *pubkey;          /* a PEM Ed25519 public key: every checkpoint must verify with
                                    it, and there must be one */
    const char *export_path;     /* an hdf5, jsonl or csv export (adjudicated or majority rule): the
                                    chain must hold the head it recorded, and its labels must be the
                                    final labels the chain gives at that head */
    /* reads export_path: hitl_export_labels_read, given by the caller so that a program that
     * never checks exports does not link HDF5 (the light `hitl` executable) */
    hitl_status (*read_export)(const char *path, hitl_export_labels *out, hitl_error *err);
    hitl_verify_problem_fn problem; /* each difference found, up to max_problems; may be NULL */
    void *ctx;
    size_t max_problems; /* 20 when 0 */
} hitl_verify_opts;

typedef struct hitl_verify_report {
    int64_t events;  /* in the chain */
    int64_t bad_seq; /* the first event that does not chain, -1 */
    int covers_rows; /* 0: a schema-1 store read without upgrading: its chain checked alone */
    int64_t items, labels, skips, decisions; /* rows compared */
    int64_t problems;                        /* differences found (the first in err) */
    int64_t checkpoints, signed_seq;         /* signed_seq: the newest head signed, with pubkey */
    int64_t export_records;                  /* the export's items checked */
    hitl_audit_head export_head;             /* the head it recorded */
} hitl_verify_report;

/* HITL_OK when everything agrees; HITL_EDATA with the first problem in err (and each through
 * o->problem) otherwise; the report says what was compared. o may be NULL. */
hitl_status hitl_audit_verify(hitl_store *st, const hitl_verify_opts *o, hitl_verify_report *r,
                              hitl_error *err);
/* Appends a checkpoint event: the Ed25519 signature (with the PEM private key at key_path) of
 * the current head, which *signed (may be NULL) gets. */
hitl_status hitl_audit_sign(hitl_store *st, const char *key_path, const char *actor,
                            hitl_audit_head *signed_head, hitl_error *err);
/* Calls `fn` with each event as one canonical JSON line (no newline), in sequence order; all
 * events, or those of one item (pool_id) when item is non-NULL. A non-zero return stops. */
typedef int (*hitl_audit_fn)(void *ctx, const char *json_line);
hitl_status hitl_audit_each(hitl_store *st, const char *item, hitl_audit_fn fn, void *ctx,
                            hitl_error *err);

/* ---- final labels out of the store --------------------------------------------------------
 * A cursor over the items that have a final label under a rule, in queue order, read in one
 * snapshot with memory bounded by one item (Dawid-Skene alone holds the ratings table: 8 bytes
 * per item and 20 per label, plus its posteriors).
 *   adjudicated  items whose labels agreed or that an adjudicator decided (state final)
 *   majority     those, and items with all their labels whose most voted label is unique (a tie
 *                is never broken: it is counted and left out)
 *   dawid-skene  items with all their labels (or a decision): a decision's label where an
 *                adjudicator set one, else the argmax of Dawid & Skene's posterior, fitted on
 *                every label in the store (ties left out and counted) */
typedef enum {
    HITL_FINAL_ADJUDICATED = 0,
    HITL_FINAL_MAJORITY,
    HITL_FINAL_DAWID_SKENE,
    HITL_FINAL_COUNT
} hitl_final_rule;

/* "adjudicated", "majority", "dawid-skene"; the parser returns HITL_EINVAL for others. */
const char *hitl_final_rule_name(hitl_final_rule r);
hitl_status hitl_final_rule_parse(const char *name, hitl_final_rule *out);

typedef struct hitl_records hitl_records;

typedef struct hitl_records_counts {
    int64_t records; /* returned so far */
    int64_t ties;    /* left out: a tied vote or posterior */
    int64_t pending; /* items with labels but no final label under the rule (at open) */
    int ds_iterations, ds_converged; /* dawid-skene only */
    hitl_audit_head head;            /* the chain's head in the cursor's snapshot */
} hitl_records_counts;

/* Opens the cursor in a read transaction: the store cannot be written through `st` until
 * hitl_records_close(). ds may be NULL (defaults). Caller owns *out. */
hitl_status hitl_records_open(hitl_store *st, hitl_final_rule rule, const hitl_ds_opts *ds,
                              hitl_records **out, hitl_error *err);
/* The next record in *rec (borrowed), or NULL at the end. */
hitl_status hitl_records_next(hitl_records *rc, const hitl_record **rec, hitl_error *err);
void hitl_records_counts_get(const hitl_records *rc, hitl_records_counts *out);
/* Ends the read transaction; NULL is a no-op. */
void hitl_records_close(hitl_records *rc);

/* Every label in the store as a ratings table: items (those with labels, in queue order) by
 * index, annotators sorted by name (*annotators: caller owns, hitl_strings_free()), labels the
 * project's classes. Release r with hitl_ratings_release(). */
hitl_status hitl_store_ratings_get(hitl_store *st, hitl_ratings *r, char ***annotators,
                                   size_t *n_annotators, hitl_error *err);

/* ---- exports ------------------------------------------------------------------------------
 * One record per item with a final label (hdf5, jsonl, csv), or one Label Studio task per item
 * still open for labelling (label-studio). The file appears whole or not at all (written
 * beside it, then renamed), and the export is audited ("export": format, path, count). */
typedef struct hitl_export_opts {
    hitl_export_format format;
    const char *path;
    hitl_final_rule final;
    const hitl_ds_opts *ds;                    /* may be NULL */
    const char *features_path, *features_dset; /* hdf5: copy these pool rows to /features */
    /* label-studio: the control and object tag names of the labelling config ("choice",
     * "text" when NULL) and whose tasks carry the model's guess as a prediction result
     * (-1: the store's show-prediction setting; never on blind items) */
    const char *from_name, *to_name;
    int show_prediction;
    const char *actor;
} hitl_export_opts;

typedef struct hitl_export_result {
    hitl_records_counts counts; /* counts.records: records (or tasks) written; counts.head: the
                                   chain's head the export was made from, which it records */
    int audited;                /* 0: the store was opened read-only, no export event */
    int streamed;               /* written in place: standard output, a device or a FIFO */
} hitl_export_result;

/* The path "-" is standard output; a path that exists and is not a regular file (a device, a
 * FIFO, a symlink to one) is written in place; any other is written beside it and renamed into
 * place. The export records the chain's head it was made from: an HDF5 attribute audit_head,
 * Label Studio tasks' meta.hitl_audit_head, or for jsonl and csv a sidecar PATH.hitl-head
 * (none when streamed). HITL_EINVAL for bad options (features without hdf5, hdf5 streamed, the
 * output naming the store or the features file), HITL_EIO for the output file, HITL_EDATA /
 * HITL_ESHAPE when a pool row is outside the features dataset. */
hitl_status hitl_store_export(hitl_store *st, const hitl_export_opts *o, hitl_export_result *res,
                              hitl_error *err);

/* ---- Label Studio import ------------------------------------------------------------------
 * Reads Label Studio's JSON export (tasks with "annotations"), its JSON_MIN form (flat objects)
 * or its CSV form (quoted or not), told apart by their content, and records each annotation as
 * a label by its annotator ("completed_by": the email, else the user id as text), a cancelled
 * one as a skip. Items are found by data.hitl_id. Each annotation is imported once: its key
 * ("ls:<annotation id>@<item>", else a hash of item, annotator, choice and time) is kept, so
 * importing a file again writes nothing. Unknown items, empty annotations, labels by an
 * annotator who already labelled the item and labels for complete items are counted and
 * reported, not written. One transaction: a malformed file (truncated JSON, "data" that is not
 * an object, an unknown or multiple choice) is HITL_EDATA naming the task index, nothing
 * written. An annotation imported before and changed in Label Studio since (another choice,
 * cancelled, or cleared) is a conflict: HITL_ECONFLICT naming the first, nothing written (hitl
 * keeps its label; settle the item with an adjudication or drop the annotation from the
 * file). An import that
 * would record nothing because its tasks carry no data.hitl_id is HITL_EDATA saying so. */
typedef enum {
    HITL_IMPORT_UNKNOWN_ITEM = 0,
    HITL_IMPORT_DUPLICATE,
    HITL_IMPORT_COMPLETE,
    HITL_IMPORT_EMPTY,
    HITL_IMPORT_EDITED /* changed in Label Studio since it was imported: refuses the import */
} hitl_import_problem;

/* Called for every annotation not written (already imported ones excepted); `task` is the
 * 0-based task (JSON) or record (CSV) index. */
typedef void (*hitl_import_problem_fn)(void *ctx, hitl_import_problem kind, int64_t task,
                                       const char *message);

typedef struct hitl_import_opts {
    const char *path;
    const char *from_name, *to_name; /* "choice" when NULL; to_name checked only when given */
    const char *actor;
    hitl_import_problem_fn problem; /* may be NULL */
    void *problem_ctx;
    /* Label Studio's user ids (or emails) and the names to record for them (hitl_user_map_read);
     * an annotator not in the map keeps the email the export carries, else the id */
    const char *const *user_ids, *const *user_names;
    size_t n_users;
} hitl_import_opts;

typedef struct hitl_import_result {
    const char *form; /* "json", "json-min", "csv" or "tsv" (static) */
    int64_t tasks, annotations, labels, skips;
    int64_t already_imported, unknown_items, duplicates, complete, empty;
    int64_t no_id;  /* of unknown_items: annotations of tasks without data.hitl_id */
    int64_t edited; /* annotations changed in Label Studio since their import */
} hitl_import_result;

hitl_status hitl_store_import_label_studio(hitl_store *st, const hitl_import_opts *o,
                                           hitl_import_result *res, hitl_error *err);

/* ---- report data ----------------------------------------------------------------------------
 * Streams every queued item (for score histograms): a non-zero return from fn stops. */
typedef struct hitl_item_brief {
    const char *pool_id;
    int blind;
    float score, p1;
    int32_t pred;
    int state; /* 0 open, 1 awaiting adjudication, 2 final */
    int32_t n_labels;
    const char *method;
} hitl_item_brief;
typedef int (*hitl_item_fn)(void *ctx, const hitl_item_brief *it);
hitl_status hitl_store_items_each(hitl_store *st, hitl_item_fn fn, void *ctx, hitl_error *err);

/* Per annotator: labels, skips, and the mean seconds from lease (or Label Studio's lead time)
 * to label over the labels that have one (NaN when none). Sorted by name. */
typedef struct hitl_store_throughput {
    char *name;
    int64_t labels, skips, timed;
    double mean_seconds;
    char *first_at, *last_at; /* first and last label, ISO-8601, or NULL */
} hitl_store_throughput;

/* Caller owns *out; release with hitl_store_throughput_free(). */
hitl_status hitl_store_throughput_get(hitl_store *st, hitl_store_throughput **out, size_t *n,
                                      hitl_error *err);
void hitl_store_throughput_free(hitl_store_throughput *v, size_t n);

/* ---- quality data (io/store_quality.c) ------------------------------------------------------
 * Each read in one snapshot. The labels as a ratings file: items are the labelled items by pool
 * id (in queue order), annotators by name (sorted), labels the project's classes in order (all
 * of them, used or not). *final (may be NULL; caller owns, free()) gets each item's final label
 * or -1. Caller-allocated *out; release with hitl_ratings_file_release(). */
hitl_status hitl_store_ratings_file(hitl_store *st, hitl_ratings_file *out, int32_t **final,
                                    hitl_error *err);

/* The items a person decided (final_kind adjudicated or override), in queue order: what a vote
 * over their labels no longer settles. */
typedef struct hitl_decided_item {
    char *pool_id, *kind, *by; /* kind: "adjudicated" or "override"; by: the actor */
    int32_t label;             /* the final class index */
} hitl_decided_item;
/* Caller frees with hitl_decided_release(*out, *n). */
hitl_status hitl_store_decided(hitl_store *st, hitl_decided_item **out, size_t *n, hitl_error *err);
void hitl_decided_release(hitl_decided_item *v, size_t n);

/* The blind items (queued as random samples) that have a final label, in queue order, with the
 * model's prediction and top probability as stored at queue time and their pool rows. */
typedef struct hitl_blind_sample {
    size_t n;
    char **pool_ids;
    int64_t *rows;
    int32_t *pred, *label; /* class indices */
    float *p1;
    size_t n_unscored; /* left out: queued without a prediction or pool row */
} hitl_blind_sample;

/* Caller-allocated *out; release with hitl_blind_sample_release(). */
hitl_status hitl_store_blind_sample(hitl_store *st, hitl_blind_sample *out, hitl_error *err);
void hitl_blind_sample_release(hitl_blind_sample *b);

/* The model's calibration on the blind sample (io/store/calibration.c), its classes named as the
 * project names them. With pool->probs_path (the pool the items were queued from, or another
 * model's probabilities for the same rows; pool->labels unused, pool may be NULL) only the items'
 * pool rows are read, as stored, and every measure computed. Without it, from the class and top
 * probability stored at queue time: each row holds the top probability at the stored class and
 * the rest spread evenly, so the top-label measures are exact and out->top_only is set.
 * Caller-allocated *out (release with hitl_calib_result_release(); nothing on failure).
 * HITL_EDATA when no blind item has a final label, for a stored row outside the pool and for
 * hitl_calibration_compute's refusals (naming the item); HITL_ESHAPE for a pool whose column
 * count is not the project's class count; the readers' errors. */
hitl_status hitl_store_calibration(hitl_store *st, const hitl_calib_files *pool,
                                   const hitl_calib_opts *o, hitl_calib_result *out,
                                   hitl_error *err);

/* What `hitl health` judges (engine: hitl_health_evaluate). A label was given with the model's
 * prediction shown when the item has one and the setting now shows it there
 * (hitl_prediction_shown); of those on items with a final label
 * (state final), the suggestion was right when the final label is the prediction, else wrong,
 * and approved when the label is the prediction. A label is audited when the trail holds its
 * annotator's "label" event for its item. Latency: seconds from lease to label, for the labels
 * that had a lease. The chain is verified by hitl_audit_verify(). */
typedef struct hitl_store_health {
    int show_prediction;               /* hitl_show_prediction */
    int prediction_shown;              /* show_prediction != never */
    hitl_health_annotator *annotators; /* sorted by name; names owned */
    size_t n_annotators;
    hitl_health_actor *actors; /* decision makers, sorted by name; names owned */
    size_t n_actors;
    int64_t labels, labels_audited;
    double *latency;
    size_t n_latency;
    int chain_ok;
    int64_t chain_bad_seq, n_events;
    /* live decisions (gate.c): their reviewers, counts, and the seconds from filing to the
     * first vote of each reviewed one */
    hitl_health_reviewer *reviewers; /* sorted by name; names owned */
    size_t n_reviewers;
    int64_t gates, gates_pending, gates_escalated, gates_expired, gates_approve, gates_flag,
        gates_blind;
    int override_days; /* the window of the reviewers' recent reviews (override-alert) */
    int64_t gate_records, gate_records_audited; /* decisions and votes; with their event */
    double *review_latency;
    size_t n_review_latency;
} hitl_store_health;

/* Caller-allocated *out; release with hitl_store_health_release(). A broken chain is reported
 * in chain_ok, not as an error. */
hitl_status hitl_store_health_get(hitl_store *st, hitl_store_health *out, hitl_error *err);
void hitl_store_health_release(hitl_store_health *h);

/* ---- the review health scorecard (io/store/scorecard.c) -------------------------------------
 * What the store gathers (hitl_store_health_get), Krippendorff's alpha (nominal) over its labels
 * and the latency summary, judged by the engine's one scorecard (hitl_health_evaluate) under the
 * given thresholds. `hitl health` and `hitl report` both build it, so they cannot disagree. */
typedef struct hitl_scorecard {
    hitl_store_health store;
    hitl_health_thresholds thresholds;
    hitl_health_metrics metrics; /* borrows from store */
    hitl_latency latency;
    hitl_latency review_latency; /* live decisions: filing to first vote */
    double alpha;                /* NaN when undefined ... */
    char alpha_why[512];         /* ... and why */
    hitl_health_verdict verdict;
} hitl_scorecard;

/* t: NULL for the store's thresholds (hitl set approval-thresholds, override-alert,
 * health-min-sample; by default hitl_health_thresholds_default's). Caller-allocated *out;
 * release with hitl_scorecard_release(). */
hitl_status hitl_store_scorecard(hitl_store *st, const hitl_health_thresholds *t,
                                 hitl_scorecard *out, hitl_error *err);
void hitl_scorecard_release(hitl_scorecard *sc);
/* The annotator or actor a reason is about (borrowed), NULL for the whole store. */
const char *hitl_scorecard_subject(const hitl_scorecard *sc, const hitl_health_reason *r);

/* ---- the QA report's numbers (io/store/report.c) ---------------------------------------------
 * What `hitl report` shows, and any other view of a store's quality can: progress, throughput
 * and each annotator's agreement with the final labels, the review health scorecard
 * (hitl_store_scorecard), agreement over every label, the model's calibration on the blind items
 * and the confusion of its class with the final label (both from the class and top probability
 * stored at query time), and score histograms of the queue (and of the pool). Streaming passes
 * over records and items; the agreement holds the ratings table. */
typedef struct hitl_report_opts {
    hitl_final_rule final; /* which items have a final label, and the export's rule */
    /* the HDF5 export a notebook reads, written first and audited as any export (NULL: none),
     * with the features of its pool rows (may be NULL) */
    const char *export_path, *features_path, *features_dset;
    const char *actor;                 /* who exports */
    const char *pool_path, *pool_dset; /* the pool's probabilities, for their histogram; may be
                                          NULL */
    int normalize_entropy;             /* the queue's entropy was normalized (the pool's scores) */
    size_t bins;                       /* calibration bins; HITL_CALIB_BINS when 0 */
    size_t bootstrap;                  /* resamples for agreement's intervals (0: none) */
} hitl_report_opts;

typedef struct hitl_report_data {
    hitl_store_settings settings;
    hitl_store_stats stats;
    hitl_export_result exported;       /* with export_path */
    hitl_store_throughput *throughput; /* per annotator, sorted by name */
    size_t n_throughput;
    int64_t *scored, *agree;      /* [n_throughput]: labels on items with a final label, and those
                                     equal to it */
    int64_t *confusion;           /* [C, C]: final label (rows) by the model's class (columns) */
    hitl_reliability calibration; /* the blind items' top probability against the final label */
    char method[32];              /* the queue's uncertainty method, "" when none is recorded */
    /* scores at query time, all over one range in 30 bins; the pool's only with pool_path */
    hitl_histogram scores_uncertain, scores_blind, scores_pool;
    int has_pool;
    hitl_agreement agreement; /* nominal, over every label, when has_agreement ... */
    int has_agreement;
    char agreement_note[600]; /* ... else why not */
    char **agreement_names;   /* the annotators as the agreement counts them */
    size_t n_agreement_names;
    hitl_scorecard scorecard;
} hitl_report_data;

/* Caller-allocated *out; release with hitl_report_data_release() (on failure nothing is left
 * to release). The export's errors (hitl_store_export), the pool's (hitl_matrix_open;
 * HITL_ESHAPE for a column count that is not the project's class count), the store's. An
 * agreement that cannot be computed is no failure (has_agreement 0, the note says why). */
hitl_status hitl_report_gather(hitl_store *st, const hitl_report_opts *o, hitl_report_data *out,
                               hitl_error *err);
void hitl_report_data_release(hitl_report_data *d);

#ifdef __cplusplus
}
#endif
#endif /* HITL_STORE_H */
