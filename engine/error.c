/* Status strings (generated from the one table in hitl_engine.h) and the error struct that
 * carries a failure's detail up to the CLI. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

static const char *const status_str[] = {
#define HITL__STATUS_STR(name, msg) msg,
    HITL_STATUS_MAP(HITL__STATUS_STR)
#undef HITL__STATUS_STR
};

const char *hitl_status_str(hitl_status st)
{
    if ((unsigned)st >= (unsigned)HITL_STATUS_COUNT) return "unknown status";
    return status_str[st];
}

void hitl_error_clear(hitl_error *err)
{
    if (!err) return;
    err->status = HITL_OK;
    err->row = -1;
    err->msg[0] = '\0';
}

hitl_status hitl_error_set(hitl_error *err, hitl_status st, const char *fmt, ...)
{
    if (!err) return st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->status = st;
    err->row = -1;
    return st;
}

void hitl_error_prefix(hitl_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[256], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    if (snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old) >= (int)sizeof(err->msg))
        memcpy(err->msg + sizeof(err->msg) - 4, "...", 4); /* say it was cut */
}
