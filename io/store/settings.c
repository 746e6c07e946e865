/* The project's settings: their defaults and rules, their text as kept in the meta table, and
 * reading them with the class names into the handle when a store opens. Changing one is an
 * audited operation (project.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

static const char *const show_names[] = {"never", "uncertain", "always"};

static int parse_show(const char *v)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(v, show_names[i]) == 0) return i;
    return -1;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}

void hitl_store_settings_default(hitl_store_settings *s)
{
    s->overlap = 1;
    s->lease_seconds = 600;
    s->show_prediction = HITL_SHOW_NEVER;
    s->min_justification = 20;
    s->route_high = 0.7; /* the seed's oversight defaults */
    s->route_medium = 0.4;
    s->decision_blind_rate = 0.02;
    s->approvals_high = 2;
    s->approvals_flag = 1;
    s->deadline_high = s->deadline_flag = 4 * 3600;
    hitl_health_thresholds_default(&s->health);
    s->override_days = 30;
}

static int parse_real(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) return -1;
    *out = x;
    return 0;
}

/* "high=X,medium=Y" (either order, both needed) into a and b; -1 when malformed. */
static int parse_pair(const char *v, const char *ka, const char *kb, double lo, double hi,
                      double *a, double *b)
{
    char buf[128];
    if (strlen(v) >= sizeof(buf)) return -1;
    snprintf(buf, sizeof(buf), "%s", v);
    int seen = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) return -1;
        *eq = '\0';
        double *dst = strcmp(t, ka) == 0 ? a : strcmp(t, kb) == 0 ? b : NULL;
        if (!dst || parse_real(eq + 1, lo, hi, dst)) return -1;
        seen |= dst == a ? 1 : 2;
    }
    return seen == 3 ? 0 : -1;
}

int hitl_prediction_shown(hitl_show_prediction s, int blind)
{
    return s == HITL_SHOW_ALWAYS || (s == HITL_SHOW_UNCERTAIN && !blind);
}

const char *hitl_show_prediction_name(hitl_show_prediction s)
{
    return (unsigned)s < 3 ? show_names[s] : "unknown";
}

int hitl__store_class(const hitl_store *st, const char *name)
{
    for (size_t i = 0; i < st->settings.n_classes; i++)
        if (strcmp(st->settings.classes[i], name) == 0) return (int)i;
    return -1;
}

hitl_status hitl_store_settings_apply(hitl_store_settings *s, const char *key, const char *value,
                                      hitl_error *err)
{
    int v;
    if (strcmp(key, "overlap") == 0) {
        if (parse_int(value, 1, 100, &v))
            return hitl_error_set(err, HITL_EINVAL, "overlap must be 1..100, got '%s'", value);
        s->overlap = v;
    } else if (strcmp(key, "lease") == 0) {
        if (parse_int(value, 1, 7 * 24 * 3600, &v))
            return hitl_error_set(err, HITL_EINVAL, "lease must be 1..604800 seconds, got '%s'",
                                  value);
        s->lease_seconds = v;
    } else if (strcmp(key, "show-prediction") == 0) {
        if ((v = parse_show(value)) < 0)
            return hitl_error_set(err, HITL_EINVAL,
                                  "show-prediction must be never, uncertain or always, got '%s'",
                                  value);
        s->show_prediction = (hitl_show_prediction)v;
    } else if (strcmp(key, "min-justification") == 0) {
        if (parse_int(value, 0, 100000, &v))
            return hitl_error_set(err, HITL_EINVAL, "min-justification must be 0..100000, got '%s'",
                                  value);
        s->min_justification = v;
    } else if (strcmp(key, "route") == 0) {
        double hi, md;
        if (parse_pair(value, "high", "medium", 0, 1, &hi, &md) || !(md <= hi))
            return hitl_error_set(err, HITL_EINVAL,
                                  "route must be high=X,medium=Y with 0 <= Y <= X <= 1, got '%s'",
                                  value);
        s->route_high = hi;
        s->route_medium = md;
    } else if (strcmp(key, "decision-blind-rate") == 0) {
        double x;
        if (parse_real(value, 0, 1, &x))
            return hitl_error_set(err, HITL_EINVAL, "decision-blind-rate must be 0..1, got '%s'",
                                  value);
        s->decision_blind_rate = x;
    } else if (strcmp(key, "decision-approvals") == 0) {
        double hi, fl;
        if (parse_pair(value, "high", "flag", 1, 20, &hi, &fl) || hi != (int)hi || fl != (int)fl)
            return hitl_error_set(err, HITL_EINVAL,
                                  "decision-approvals must be high=N,flag=M with 1..20, got '%s'",
                                  value);
        s->approvals_high = (int)hi;
        s->approvals_flag = (int)fl;
    } else if (strcmp(key, "decision-deadline") == 0) {
        double hi, fl;
        if (parse_int(value, 1, 30 * 24 * 3600, &v) == 0)
            hi = fl = v;
        else if (parse_pair(value, "high", "flag", 1, 30 * 24 * 3600, &hi, &fl) || hi != (int)hi ||
                 fl != (int)fl)
            return hitl_error_set(err, HITL_EINVAL,
                                  "decision-deadline must be SECONDS or high=N,flag=M, each "
                                  "1..2592000, got '%s'",
                                  value);
        s->deadline_high = (int)hi;
        s->deadline_flag = (int)fl;
    } else if (strcmp(key, "approval-thresholds") == 0) {
        double rs, ie;
        if (parse_pair(value, "rubber-stamp", "inefficient", 0, 1, &rs, &ie) || !(ie <= rs))
            return hitl_error_set(err, HITL_EINVAL,
                                  "approval-thresholds must be rubber-stamp=X,inefficient=Y with "
                                  "0 <= Y <= X <= 1, got '%s'",
                                  value);
        s->health.rubber_stamp = rs;
        s->health.inefficient = ie;
    } else if (strcmp(key, "override-alert") == 0) {
        double rate, days;
        if (parse_pair(value, "rate", "days", 0, 3650, &rate, &days) || rate > 1 || days < 1 ||
            days != (int)days)
            return hitl_error_set(err, HITL_EINVAL,
                                  "override-alert must be rate=X,days=N with X in 0..1 and N in "
                                  "1..3650, got '%s'",
                                  value);
        s->health.override_rate = rate;
        s->override_days = (int)days;
    } else if (strcmp(key, "health-min-sample") == 0) {
        if (parse_int(value, 0, 1000000000, &v))
            return hitl_error_set(err, HITL_EINVAL,
                                  "health-min-sample must be 0..1000000000, got '%s'", value);
        s->health.min_sample = v;
    } else {
        return hitl_error_set(err, HITL_EINVAL,
                              "unknown setting '%s' (overlap, lease, show-prediction, "
                              "min-justification, route, decision-blind-rate, "
                              "decision-approvals, decision-deadline, approval-thresholds, "
                              "override-alert, health-min-sample)",
                              key);
    }
    return HITL_OK;
}

void hitl__setting_text(const hitl_store_settings *s, const char *key, char *buf, size_t cap)
{
    if (strcmp(key, "overlap") == 0)
        snprintf(buf, cap, "%d", s->overlap);
    else if (strcmp(key, "lease") == 0)
        snprintf(buf, cap, "%d", s->lease_seconds);
    else if (strcmp(key, "show-prediction") == 0)
        snprintf(buf, cap, "%s", show_names[s->show_prediction]);
    else if (strcmp(key, "route") == 0)
        snprintf(buf, cap, "high=%g,medium=%g", s->route_high, s->route_medium);
    else if (strcmp(key, "decision-blind-rate") == 0)
        snprintf(buf, cap, "%g", s->decision_blind_rate);
    else if (strcmp(key, "decision-approvals") == 0)
        snprintf(buf, cap, "high=%d,flag=%d", s->approvals_high, s->approvals_flag);
    else if (strcmp(key, "decision-deadline") == 0 && s->deadline_high == s->deadline_flag)
        snprintf(buf, cap, "%d", s->deadline_high); /* as stores before per-route deadlines */
    else if (strcmp(key, "decision-deadline") == 0)
        snprintf(buf, cap, "high=%d,flag=%d", s->deadline_high, s->deadline_flag);
    else if (strcmp(key, "approval-thresholds") == 0)
        snprintf(buf, cap, "rubber-stamp=%g,inefficient=%g", s->health.rubber_stamp,
                 s->health.inefficient);
    else if (strcmp(key, "override-alert") == 0)
        snprintf(buf, cap, "rate=%g,days=%d", s->health.override_rate, s->override_days);
    else if (strcmp(key, "health-min-sample") == 0)
        snprintf(buf, cap, "%lld", (long long)s->health.min_sample);
    else
        snprintf(buf, cap, "%d", s->min_justification);
}

const char *const hitl__setting_keys[HITL__N_SETTINGS] = {"overlap",
                                                          "lease",
                                                          "show-prediction",
                                                          "min-justification",
                                                          "route",
                                                          "decision-blind-rate",
                                                          "decision-approvals",
                                                          "decision-deadline",
                                                          "approval-thresholds",
                                                          "override-alert",
                                                          "health-min-sample"};

hitl_status hitl__meta_write(hitl_store *st, const char *key, const char *value, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r =
        hitl__store_prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot write settings");
    hitl__store_finish(st, q);
    return r;
}

hitl_status hitl__settings_refresh(hitl_store *st, hitl_error *err)
{
    hitl_store_settings *s = &st->settings;
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, "SELECT key, value FROM meta", &q, err);
    if (r != HITL_OK) return r;
    int rc;
    while (r == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(q, 0);
        const char *v = (const char *)sqlite3_column_text(q, 1);
        for (size_t i = 0; i < HITL__N_SETTINGS && k && v; i++)
            if (strcmp(k, hitl__setting_keys[i]) == 0 &&
                hitl_store_settings_apply(s, k, v, err) != HITL_OK)
                r = hitl_error_set(err, HITL_EDATA, "'%s': bad setting %s = '%s'", st->path, k, v);
    }
    hitl__store_finish(st, q);
    if (r == HITL_OK && rc != SQLITE_DONE)
        r = hitl__store_sqlerr(st, rc, err, "cannot read settings");
    return r;
}

hitl_status hitl__settings_load(hitl_store *st, hitl_error *err)
{
    hitl_store_settings *s = &st->settings;
    hitl_store_settings_default(s);
    hitl_status r = hitl__settings_refresh(st, err);
    if (r != HITL_OK) return r;
    sqlite3_stmt *q;
    int rc;
    if ((r = hitl__store_prepare(st, "SELECT name FROM classes ORDER BY idx", &q, err)) != HITL_OK)
        return r;
    size_t cap = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (s->n_classes == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(s->classes, cap * sizeof(char *));
            if (!v) {
                hitl__store_finish(st, q);
                return hitl_error_set(err, HITL_ENOMEM, "out of memory");
            }
            s->classes = v;
        }
        if (!(s->classes[s->n_classes] = strdup((const char *)sqlite3_column_text(q, 0)))) {
            hitl__store_finish(st, q);
            return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        }
        s->n_classes++;
    }
    hitl__store_finish(st, q);
    if (rc != SQLITE_DONE) return hitl__store_sqlerr(st, rc, err, "cannot read classes");
    return HITL_OK;
}

hitl_status hitl_store_settings_get(hitl_store *st, hitl_store_settings *out, hitl_error *err)
{
    *out = st->settings;
    out->classes = calloc(st->settings.n_classes ? st->settings.n_classes : 1, sizeof(char *));
    if (!out->classes) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < st->settings.n_classes; i++) {
        if (!(out->classes[i] = strdup(st->settings.classes[i]))) {
            hitl_store_settings_release(out);
            return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        }
    }
    return HITL_OK;
}

void hitl_store_settings_release(hitl_store_settings *s)
{
    if (!s) return;
    hitl_strings_free(s->classes, s->n_classes);
    s->classes = NULL;
    s->n_classes = 0;
}
