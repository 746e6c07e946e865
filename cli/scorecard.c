/* The review health scorecard's reasons as JSON, the one form `hitl health --json` and `hitl
 * report --json` print (the scorecard itself is io/store/scorecard.c). */
#include <math.h>

#include "cli.h"

json_t *cli_scorecard_reasons_json(const hitl_scorecard *sc)
{
    json_t *reasons = json_array();
    for (size_t i = 0; i < sc->verdict.n_reasons; i++) {
        const hitl_health_reason *r = &sc->verdict.reasons[i];
        const char *who = hitl_scorecard_subject(sc, r);
        json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "rule", hitl_health_rule_name(r->rule),
                              "severity", hitl_health_status_name(r->severity), "subject",
                              who ? json_string(who) : json_null(), "threshold",
                              isfinite(r->threshold) ? json_real(r->threshold) : json_null());
        if (r->rule == HITL_HEALTH_CHAIN_BROKEN)
            json_object_set_new(o, "value", json_integer((json_int_t)r->value));
        else
            json_object_set_new(o, "value", isfinite(r->value) ? json_real(r->value) : json_null());
        json_array_append_new(reasons, o);
    }
    return reasons;
}
