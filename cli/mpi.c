/* MPI for the commands that run under mpirun or srun (hitl-data only: the light hitl must not
 * load libmpi, see tests/CMakeLists.txt, light_hitl). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

void cli_mpi_quiet_followers(void)
{
    /* the launcher's rank for this process, before MPI starts (parsing comes first) */
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"};
    if (!hitl_mpi_launched()) return;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *r = getenv(vars[i]);
        if (r && atoi(r) > 0) { /* rank 0 reports for all; the others' messages are its own */
            FILE *quiet = freopen("/dev/null", "w", stderr);
            (void)quiet; /* where /dev/null cannot be opened, stderr stays as it was */
            return;
        }
    }
}

int cli_mpi_begin(const char *cmd, int *rank, int *mpi)
{
    int ranks = hitl_mpi_launched();
    *rank = *mpi = 0;
    if (!ranks) return -1;
    if (!hitl_mpi_built())
        return ranks > 1 ? cli_usage_error(cmd,
                                           "started as one of %d MPI ranks, but this hitl-data "
                                           "was built without MPI (cmake -DHITL_MPI=ON)",
                                           ranks)
                         : -1;
    hitl_error err;
    hitl_error_clear(&err);
    if (hitl_mpi_start(rank, &ranks, &err) != HITL_OK) return cli_fail(cmd, err.status, &err);
    *mpi = 1;
    return -1;
}
