/* Launch detection: which launcher started this process and what it says about ranks, read
 * from the environment before MPI is initialised (so `auto` can decide whether to start MPI
 * at all, and say so clearly when MPI was not built). After MPI_Init, MPI's own answer wins. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"

static const char *plain_getenv(const char *name) { return getenv(name); }

/* A non-negative integer variable, or -1. */
static int env_int(const char *(*get)(const char *), const char *name) {
    const char *s = get(name);
    if (!s || !*s) return -1;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > 1 << 24) return -1;
    return (int)v;
}

void dist_launch_detect(dist_launch_t *l, const char *(*get)(const char *)) {
    if (!get) get = plain_getenv;
    memset(l, 0, sizeof *l);
    l->world = l->rank = l->local_rank = l->local_world = -1;
    /* Open MPI's mpirun / orterun (and prterun, which keeps these names) */
    if (env_int(get, "OMPI_COMM_WORLD_SIZE") >= 1) {
        l->source = "OMPI_COMM_WORLD_SIZE";
        l->world = env_int(get, "OMPI_COMM_WORLD_SIZE");
        l->rank = env_int(get, "OMPI_COMM_WORLD_RANK");
        l->local_rank = env_int(get, "OMPI_COMM_WORLD_LOCAL_RANK");
        l->local_world = env_int(get, "OMPI_COMM_WORLD_LOCAL_SIZE");
        return;
    }
    /* MPICH / Intel MPI (Hydra) */
    if (env_int(get, "PMI_SIZE") >= 1) {
        l->source = "PMI_SIZE";
        l->world = env_int(get, "PMI_SIZE");
        l->rank = env_int(get, "PMI_RANK");
        l->local_rank = env_int(get, "MPI_LOCALRANKID");
        l->local_world = env_int(get, "MPI_LOCALNRANKS");
        return;
    }
    /* Slurm's srun. SLURM_NTASKS alone is also set inside an sbatch script that runs one
     * process, so a job step (SLURM_STEP_ID) must be present too. */
    if (env_int(get, "SLURM_NTASKS") >= 1 && get("SLURM_STEP_ID") && env_int(get, "SLURM_PROCID") >= 0) {
        l->source = "SLURM_NTASKS";
        l->world = env_int(get, "SLURM_STEP_NUM_TASKS") >= 1 ? env_int(get, "SLURM_STEP_NUM_TASKS")
                                                             : env_int(get, "SLURM_NTASKS");
        l->rank = env_int(get, "SLURM_PROCID");
        l->local_rank = env_int(get, "SLURM_LOCALID");
        return;
    }
}
