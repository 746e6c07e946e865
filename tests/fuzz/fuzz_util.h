/* Shared by the libFuzzer harnesses: one temp file per process, rewritten with each input, for
 * the parsers that take a path. Header-only so each harness stays one translation unit. */
#ifndef HITL_FUZZ_UTIL_H
#define HITL_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_tmp_path[256];

static void fuzz_tmpfile_remove(void)
{
    unlink(fuzz_tmp_path);
}

/* Returns the path of this process's temp file holding exactly data[0, size), or NULL. The file
 * is removed when the process exits normally. */
static const char *fuzz_tmpfile(const uint8_t *data, size_t size, const char *suffix)
{
    char *path = fuzz_tmp_path;
    static int fd = -1;
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof(fuzz_tmp_path), "%s/hitl-fuzz-XXXXXX%s", dir && dir[0] ? dir : "/tmp",
                 suffix);
        fd = mkstemps(path, (int)strlen(suffix));
        if (fd < 0) return NULL;
        atexit(fuzz_tmpfile_remove);
    }
    if (ftruncate(fd, 0) != 0) return NULL;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0) return NULL;
        done += (size_t)w;
    }
    return path;
}

#endif /* HITL_FUZZ_UTIL_H */
