/* libFuzzer harness for the ratings CSV reader: byte 0 picks the level and whether classes are
 * given, the rest is the file; a file that reads is also read back as a final-labels file. */
#include "fuzz_util.h"
#include "hitl_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static char *const classes[] = {"a", "b", "1", "2.5"};
    hitl_ratings_read_opts o = {.level = (hitl_level)(data[0] % HITL_LEVEL_COUNT)};
    if (data[0] & 0x10) {
        o.labels = classes;
        o.n_labels = (size_t)(data[0] >> 5) % 5;
    }
    const char *path = fuzz_tmpfile(data + 1, size - 1, ".csv");
    if (!path) return 0;
    hitl_ratings_file f = {0};
    hitl_error err;
    if (hitl_ratings_csv_read(path, &o, &f, &err) == HITL_OK) {
        if (f.table.n_items != f.n_items || f.table.n_labels != f.n_labels) __builtin_trap();
        if (hitl_ratings_check(&f.table, &err) != HITL_OK) __builtin_trap();
        int32_t *final = malloc((f.n_items ? f.n_items : 1) * sizeof(*final));
        if (final) hitl_final_labels_csv_read(path, &f, final, &err);
        free(final);
    }
    hitl_ratings_file_release(&f);
    return 0;
}
