/* Shared by the libFuzzer harnesses: one temp file per process, rewritten with each input, for
 * the parsers that take a path. Header-only so each harness stays one translation unit. */
#ifndef HITL_FUZZ_UTIL_H
#define HITL_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Returns the path of this process's temp file holding exactly data[0, size), or NULL. */
static const char *fuzz_tmpfile(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    static int fd = -1;
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof(path), "%s/hitl-fuzz-XXXXXX%s", dir && dir[0] ? dir : "/tmp", suffix);
        fd = mkstemps(path, (int)strlen(suffix));
        if (fd < 0) return NULL;
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
