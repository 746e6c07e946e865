/* MPI for the commands that run under mpirun or srun (hitl-data only: the light hitl must not
 * load libmpi, see tests/CMakeLists.txt, light_hitl). */
#include <stdio.h>

#include "cli.h"

void cli_mpi_quiet_followers(void)
{
    int rank; /* as the launcher gave it: MPI starts after parsing */
    if (hitl_mpi_launched(&rank) && rank > 0) { /* rank 0 reports for all */
        FILE *quiet = freopen("/dev/null", "w", stderr);
        (void)quiet; /* where /dev/null cannot be opened, stderr stays as it was */
    }
}

int cli_mpi_begin(const char *cmd, int *rank, int *mpi)
{
    int ranks = hitl_mpi_launched(NULL);
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
