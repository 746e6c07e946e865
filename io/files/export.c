/* The export formats by name, and hitl_record_writer: opens the writer a format names
 * (export_h5.c, export_text.c, labelstudio.c) and hands it records or tasks. */
#include <string.h>

#include "export_internal.h"
#include "hitl_banned.h"

static const char *const format_names[HITL_EXPORT_COUNT] = {"hdf5", "jsonl", "csv", "label-studio"};

const char *hitl_export_format_name(hitl_export_format f)
{
    return (unsigned)f < HITL_EXPORT_COUNT ? format_names[f] : "unknown";
}

hitl_status hitl_export_format_parse(const char *name, hitl_export_format *out)
{
    for (int i = 0; name && i < HITL_EXPORT_COUNT; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (hitl_export_format)i;
            return HITL_OK;
        }
    }
    return HITL_EINVAL;
}

hitl_status hitl_record_writer_open(hitl_export_format format, const hitl_record_file *f,
                                    hitl_record_writer **out, hitl_error *err)
{
    *out = NULL;
    switch (format) {
    case HITL_EXPORT_HDF5:
        return hitl__writer_h5_open(f, out, err);
    case HITL_EXPORT_JSONL:
        return hitl__writer_jsonl_open(f, out, err);
    case HITL_EXPORT_CSV:
        return hitl__writer_csv_open(f, out, err);
    case HITL_EXPORT_LABEL_STUDIO:
        return hitl__writer_ls_open(f, out, err);
    default:
        return hitl_error_set(err, HITL_EINVAL, "unknown export format %d", (int)format);
    }
}

hitl_status hitl_record_writer_add(hitl_record_writer *w, const hitl_record *r, hitl_error *err)
{
    if (!w->ops->add)
        return hitl_error_set(err, HITL_EINVAL, "this export takes tasks, not records");
    return w->ops->add(w, r, err);
}

hitl_status hitl_record_writer_add_task(hitl_record_writer *w, const hitl_ls_task *t,
                                        hitl_error *err)
{
    if (!w->ops->add_task)
        return hitl_error_set(err, HITL_EINVAL, "this export takes records, not tasks");
    return w->ops->add_task(w, t, err);
}

hitl_status hitl_record_writer_close(hitl_record_writer *w, int ok, hitl_error *err)
{
    return w ? w->ops->close(w, ok, err) : HITL_OK;
}
