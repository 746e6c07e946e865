/* hitl convert: an IDX images file (MNIST, Fashion-MNIST, gzipped or not) and its labels file
 * into a pool file: /features float32 [N, D] scaled, /labels int64, class names. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl convert --images IMAGES.idx[.gz] [--labels LABELS.idx[.gz]] --out POOL.h5\n"
    "                    [--classes A,B,...|fashion-mnist|mnist] [--scale X] [--json]\n"
    "\n"
    "Converts IDX files (the format of MNIST and Fashion-MNIST, as Debian's\n"
    "dataset-fashion-mnist ships them in /usr/share/datasets/fashion-mnist) into a pool file\n"
    "that hitl score, train and simulate read. Each image's values become one row of\n"
    "/features (row-major, multiplied by --scale); the labels become /labels.\n"
    "\n"
    "options:\n"
    "  --images FILE    IDX values, rank >= 1: N rows of the product of the other dimensions\n"
    "  --labels FILE    IDX class indices, rank 1, N of them (integers >= 0)\n"
    "  --out POOL.h5    the pool file (created or replaced; removed again if writing fails)\n"
    "  --classes SPEC   class names for the `classes` attribute: A,B,... or a known set:\n"
    "                   fashion-mnist, mnist (0 to 9)\n"
    "  --scale X        multiply every value (default 1/255 for uint8 images, else 1)\n"
    "  --json           one JSON object on stdout\n"
    "\n"
    "Example (the Fashion-MNIST training and test splits):\n"
    "  d=/usr/share/datasets/fashion-mnist\n"
    "  hitl convert --images $d/train-images-idx3-ubyte.gz --labels $d/train-labels-idx1-ubyte.gz "
    "\\\n"
    "      --classes fashion-mnist --out fmnist-train.h5\n"
    "  hitl convert --images $d/t10k-images-idx3-ubyte.gz --labels $d/t10k-labels-idx1-ubyte.gz "
    "\\\n"
    "      --classes fashion-mnist --out fmnist-test.h5\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data\n";

static const char fashion_mnist[] =
    "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot";
static const char mnist[] = "0,1,2,3,4,5,6,7,8,9";

/* --scale X: any finite number but 0. */
static int on_scale(const char *cmd, const char *v, void *ctx)
{
    double *scale = ctx;
    if (cli_parse_float(v, scale) || *scale == 0)
        return cli_usage_error(cmd, "bad --scale '%s' (a non-zero number)", v);
    return -1;
}

int cmd_convert(int argc, char **argv)
{
    const char *cmd = "convert", *images = NULL, *labels = NULL, *out = NULL, *classes = NULL;
    double scale = NAN;
    int json = 0;
    const cli_opt opts[] = {CLI_O_STR("images", &images),
                            CLI_O_STR("labels", &labels),
                            CLI_O_STR("out", &out),
                            CLI_O_STR("classes", &classes),
                            CLI_O_CALL("scale", on_scale, &scale),
                            CLI_O_FLAG("json", &json),
                            CLI_O_END};
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 0, 0);
    if (rc >= 0) return rc;
    if (!images || !out) return cli_usage_error(cmd, "need --images and --out");
    if (classes && strcmp(classes, "fashion-mnist") == 0) classes = fashion_mnist;
    if (classes && strcmp(classes, "mnist") == 0) classes = mnist;

    hitl_error err;
    hitl_error_clear(&err);
    hitl_idx x = {0}, y = {0};
    int32_t *lab = NULL;
    char **names = NULL;
    size_t n_names = 0;
    hitl_status st = hitl_idx_read(images, &x, &err);
    if (st == HITL_OK && labels) st = hitl_idx_read(labels, &y, &err);
    if (st == HITL_OK && labels && (y.rank != 1 || y.rows != x.rows))
        st = hitl_error_set(&err, HITL_ESHAPE, "'%s': %zu labels (rank %d) for %zu images", labels,
                            y.rows, y.rank, x.rows);
    size_t c = 0;
    if (st == HITL_OK && labels) {
        if (!(lab = malloc((y.rows ? y.rows : 1) * sizeof(int32_t))))
            st = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
        for (size_t i = 0; st == HITL_OK && i < y.rows; i++) {
            float v = y.values[i];
            /* compared in double: INT32_MAX - 1 rounds up to 2^31 as a float, which no
             * int32_t holds */
            if (!(v >= 0 && (double)v < INT32_MAX && v == floorf(v))) {
                st = hitl_error_set(&err, HITL_EDATA, "'%s': label %zu is %g, not a class index",
                                    labels, i, (double)v);
                break;
            }
            lab[i] = (int32_t)v;
            if ((size_t)lab[i] + 1 > c) c = (size_t)lab[i] + 1;
        }
    }
    if (st == HITL_OK && classes) {
        st = hitl_strings_split(classes, &names, &n_names, &err);
        if (st == HITL_OK && labels && n_names < c)
            st = hitl_error_set(&err, HITL_EDATA, "'%s' has label %zu, past the %zu class names",
                                labels, c - 1, n_names);
    }
    if (st == HITL_OK) {
        if (isnan(scale)) scale = strcmp(x.type, "uint8") == 0 ? 1.0 / 255.0 : 1.0;
        size_t nv = x.rows * x.cols;
        for (size_t i = 0; i < nv; i++)
            x.values[i] = (float)(x.values[i] * scale);
        char source[512];
        snprintf(source, sizeof(source), "hitl convert of IDX %s%s%s", images,
                 labels ? " with labels " : "", labels ? labels : "");
        st = hitl_pool_save(out, x.values, x.rows, x.cols, lab, names, n_names, source, &err);
    }
    if (st == HITL_OK) {
        if (json) {
            json_t *j = json_pack("{s:s, s:I, s:I, s:s, s:f, s:I}", "out", out, "rows",
                                  (json_int_t)x.rows, "cols", (json_int_t)x.cols, "type", x.type,
                                  "scale", scale, "classes", (json_int_t)(n_names ? n_names : c));
            cli_print_json(j);
        } else {
            printf("wrote %s: %zu rows x %zu features (%s, scaled by %g)%s\n", out, x.rows, x.cols,
                   x.type, scale, labels ? ", with labels" : "");
        }
    }
    hitl_idx_release(&x);
    hitl_idx_release(&y);
    free(lab);
    hitl_strings_free(names, n_names);
    return st == HITL_OK ? CLI_EXIT_OK : cli_fail(cmd, st, &err);
}
