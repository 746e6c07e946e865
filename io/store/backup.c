/* hitl_store_backup: a consistent copy of the store while annotators go on writing, by SQLite's
 * VACUUM INTO (one read snapshot, compacted), written beside the target and renamed into place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "hitl_banned.h"

hitl_status hitl_store_backup(hitl_store *st, const char *out, hitl_error *err)
{
    struct stat sb;
    if (!out || !*out) return hitl_error_set(err, HITL_EINVAL, "no backup file given");
    if (stat(out, &sb) == 0)
        return hitl_error_set(err, HITL_EINVAL, "'%s' already exists: a backup makes a new file",
                              out);
    char *tmp = sqlite3_mprintf("%s.part-%ld", out, (long)getpid());
    char *sql = tmp ? sqlite3_mprintf("VACUUM INTO %Q", tmp) : NULL;
    hitl_status r =
        sql ? hitl__store_exec(st, sql, err) : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (r == HITL_OK && rename(tmp, out) != 0)
        r = hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", out, strerror(errno));
    if (r != HITL_OK && tmp) unlink(tmp);
    sqlite3_free(sql);
    sqlite3_free(tmp);
    return r;
}
