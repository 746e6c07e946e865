/* libFuzzer harness for the .npy reader: the input is a whole .npy file, read as a rating matrix
 * (the numeric reader, integers too, every cell checked) and as a vector of class indices (the
 * exact integer reader), then opened with hitl_matrix_open and read in blocks of rows (header
 * parser, shape checks, body reads). */
#include "fuzz_util.h"
#include "hitl_io.h"

#define MAX_FLOATS ((size_t)1 << 16) /* the block buffer; inputs are small */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile(data, size, ".npy");
    if (!path) return 0;
    hitl_matrix *m = NULL;
    hitl_error err;
    hitl_rating_matrix rm;
    if (hitl_rating_matrix_read(path, NULL, &rm, &err) == HITL_OK) {
        /* every cell is -1 or a label below n_labels */
        for (size_t i = 0; i < rm.n_items * rm.n_annotators; i++)
            if (rm.m[i] < -1 || (rm.m[i] >= 0 && (size_t)rm.m[i] >= rm.n_labels)) __builtin_trap();
        hitl_rating_matrix_release(&rm);
    }
    int32_t *labels = NULL; /* as a vector of class indices (the exact integer reader) */
    size_t n_labels = 0;
    if (hitl_labels_read(path, NULL, &labels, &n_labels, &err) == HITL_OK) {
        for (size_t i = 0; i < n_labels; i++)
            if (labels[i] < 0) __builtin_trap();
        free(labels);
    }
    if (hitl_matrix_open(&m, path, NULL, &err) != HITL_OK) return 0;
    size_t rows = hitl_matrix_rows(m), cols = hitl_matrix_cols(m);
    /* with rows, the data must fit in the file: rows * cols <= size / 4 */
    if (cols == 0 || (rows > 0 && (cols > size || rows > size / cols))) __builtin_trap();
    size_t block = cols < MAX_FLOATS ? MAX_FLOATS / cols : 1;
    float *buf = rows > 0 ? malloc(block * cols * sizeof(float)) : NULL;
    if (buf || rows == 0) {
        for (size_t r = 0; r < rows; r += block) {
            size_t n = rows - r < block ? rows - r : block;
            if (hitl_matrix_read(m, r, n, buf, &err) != HITL_OK) break;
        }
        /* an out-of-range request must be refused, never read */
        if (hitl_matrix_read(m, rows, 1, buf, &err) != HITL_EINVAL) __builtin_trap();
    }
    free(buf);
    char **names = NULL;
    size_t n_names = 0;
    if (hitl_matrix_classes(m, &names, &n_names, &err) == HITL_OK)
        hitl_strings_free(names, n_names);
    hitl_matrix_close(m);
    return 0;
}
