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
/* The scorecard's reasons alone (also in `hitl report --json`). */
json_t *hitl_scorecard_reasons_json(const hitl_scorecard *sc);

#endif
