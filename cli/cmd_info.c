/* `rlc info`: version, compiled backends, data-parallel transports and the devices found; with
 * --model, a checkpoint's summary (cli/info_model.c). */
#include <omp.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/info_model.h"
#include "dist/dist.h"
#include "kernels/backend.h"
#include "rlc_version.h"

int cmd_info(int argc, char **argv) {
    int json = 0;
    const char *model = NULL;
    cli_opt_t opts[] = {{"--json", OPT_FLAG, &json, "print as one JSON object", 0, 0},
                        {"--model", OPT_STR, &model,
                         "instead: what rlc makes of a checkpoint (directory or run) without loading its weights: "
                         "architecture, shapes, parameters, context, RoPE, sliding windows, weight files, tokenizer",
                         0, 0}};
    int rc = cli_parse(argc, argv, opts, 2, "rlc info [--json] [--model DIR]",
                       "Print the version, compiled backends, data-parallel transports and devices; with --model, a "
                       "checkpoint's summary.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    if (model) return info_model(model, json) ? cli_fail() : 0;
    char desc[256] = "";
    int ndev = rlc_backend_cuda_devices(desc, sizeof desc);
    int compiled = rlc_backend_cuda_compiled();
    int mpi = dist_mpi_compiled(), nccl = dist_nccl_compiled();
    char cpu[96];
    const char *isa = rlc_cpu_info(cpu, sizeof cpu);
    for (char *c = cpu; *c; c++)
        if (*c == '"' || *c == '\\') *c = ' '; /* printed inside a JSON string */
    if (json) {
        printf("{\"version\":\"%s\",\"backends\":[\"cpu\"%s],\"cpu_threads\":%d,\"cpu_model\":\"%s\","
               "\"cpu_isa\":\"%s\",\"cuda_compiled\":%s,\"cuda_devices\":%d,\"dist\":[\"none\"%s%s],"
               "\"mpi_compiled\":%s,\"nccl_compiled\":%s}\n",
               RLC_VERSION, compiled ? ",\"cuda\"" : "", omp_get_num_procs(), cpu, isa, compiled ? "true" : "false",
               ndev, mpi ? ",\"mpi\"" : "", nccl ? ",\"nccl\"" : "", mpi ? "true" : "false", nccl ? "true" : "false");
        return 0;
    }
    printf("rlc %s\n", RLC_VERSION);
    printf("backends: cpu (fp32, OpenMP + OpenBLAS, %d threads)%s\n", omp_get_num_procs(),
           compiled ? ", cuda (bf16)" : "");
    printf("cpu: %s, %s kernels (RLC_CPU_ISA=avx2|portable selects a lower path)\n", cpu, isa);
    if (!compiled)
        printf("cuda: not compiled (build with nvcc on PATH, or -DRLC_CUDA=ON)\n");
    else if (ndev == 0)
        printf("cuda: compiled, no usable device (%s)\n", desc[0] ? desc : "no driver or GPU");
    else
        printf("cuda: %d device%s; device 0: %s\n", ndev, ndev == 1 ? "" : "s", desc);
    printf("data parallel: none%s%s (mpirun -np N rlc train ...; docs/distributed.md)\n", mpi ? ", mpi" : "",
           nccl ? ", nccl" : "");
    if (!mpi) printf("mpi: not compiled (install libopenmpi-dev and rebuild for mpirun/srun)\n");
    if (!nccl) printf("nccl: not compiled (needs CUDA, NCCL and MPI at build time)\n");
    return 0;
}
