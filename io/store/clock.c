/* The store's clock: now as Unix seconds and as UTC ISO-8601 with milliseconds, the form every
 * table and audit event records, so text order is time order. */
#include <stdio.h>
#include <time.h>

#include "store_internal.h"
#include "hitl_banned.h"

double hitl__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void hitl__time_iso(double t, char out[32])
{
    time_t secs = (time_t)t;
    int ms = (int)((t - (double)secs) * 1000.0);
    if (ms > 999) ms = 999;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03uZ", base, (unsigned)ms % 1000u);
}

void hitl__now_iso(char out[32])
{
    hitl__time_iso(hitl__now(), out);
}
