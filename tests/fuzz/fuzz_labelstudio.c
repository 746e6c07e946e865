/* libFuzzer harness for the Label Studio export reader (JSON, JSON_MIN, CSV and TSV forms, told
 * apart by content): every annotation it reports is checked and counted, no store needed. */
#include <math.h>

#include "hitl_io.h"
#include "fuzz_util.h"

static hitl_status on_annotation(void *ctx, const hitl_ls_annotation *a, hitl_error *err)
{
    size_t *n = ctx;
    /* every pointer is valid for the call: touch each string */
    size_t len = strlen(a->where) + strlen(a->annotator);
    if (a->hitl_id) len += strlen(a->hitl_id);
    if (a->choice) len += strlen(a->choice);
    if (a->annotation) len += strlen(a->annotation);
    if (a->created_at) len += strlen(a->created_at);
    if (a->task < 0 || (len == (size_t)-1 && isnan(a->lead_time))) __builtin_trap();
    (*n)++;
    return HITL_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    /* byte 0 picks the from_name/to_name pair, the rest is the file */
    static const char *const from[] = {NULL, "choice", "sentiment", "label"};
    static const char *const to[] = {NULL, "text", "image", NULL};
    const char *path = fuzz_tmpfile(data + 1, size - 1, ".json");
    if (!path) return 0;
    const char *form = NULL;
    int64_t tasks = 0;
    size_t n = 0;
    hitl_error err;
    hitl_labelstudio_read(path, from[data[0] & 3], to[(data[0] >> 2) & 3], on_annotation, &n, &form,
                          &tasks, &err);
    return 0;
}
