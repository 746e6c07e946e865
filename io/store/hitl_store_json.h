/* The store's views as JSON (jansson), the one form every front end prints: the command line's
 * --json and the HTTP API. A view is a new reference the caller owns. */
#ifndef HITL_STORE_JSON_H
#define HITL_STORE_JSON_H

#include <jansson.h>

#include "hitl_store.h"

/* `hitl status --json`: totals, per batch, per annotator, per actor with its alert. NULL (err
 * set) when out of memory. */
json_t *hitl_stats_json(const hitl_store_stats *s, hitl_error *err);
/* `hitl health --json`: the scorecard, its status and reasons; `store` names the store. */
json_t *hitl_scorecard_json(const hitl_scorecard *sc, const char *store);
/* A stored payload (JSON text) as a value; null when there is none. */
json_t *hitl_payload_json(const char *data);
/* An item as a reviewer sees it: {"item", "payload", "prediction", "state" (open,
 * awaiting_adjudication, final), "final" ({"label", "kind", "by"} or null), "labels":
 * [{"annotator", "label", "at"}]}: hitl adjudicate --list and GET /api/v1/adjudication. */
json_t *hitl_item_review_json(const hitl_item_review *v);
/* A live decision: {"decision" (hitl's id), "id" (the caller's), "submitter", "action",
 * "risk", "model", "route" (approve, flag, proceed), "blind", "status", "review", "required",
 * "approvals", "created_at", "deadline", "settled_at", "settled_by", "payload", "votes":
 * [{"reviewer", "vote", "reason", "at"}]}: hitl decisions --json and /api/v1/decisions. */
json_t *hitl_gate_json(const hitl_gate *g);
/* The scorecard's reasons alone (also in `hitl report --json`). */
json_t *hitl_scorecard_reasons_json(const hitl_scorecard *sc);

#endif
