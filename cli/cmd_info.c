/* `rlc info`: version, compiled backends and the devices found. */
#include <omp.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "kernels/backend.h"
#include "rlc_version.h"

int cmd_info(int argc, char **argv) {
    int json = 0;
    cli_opt_t opts[] = {{"--json", OPT_FLAG, &json, "print as one JSON object", 0, 0}};
    int rc = cli_parse(argc, argv, opts, 1, "rlc info [--json]", "Print the version, compiled backends and devices.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    char desc[256] = "";
    int ndev = rlc_backend_cuda_devices(desc, sizeof desc);
    int compiled = rlc_backend_cuda_compiled();
    if (json) {
        printf("{\"version\":\"%s\",\"backends\":[\"cpu\"%s],\"cpu_threads\":%d,\"cuda_compiled\":%s,"
               "\"cuda_devices\":%d}\n",
               RLC_VERSION, compiled ? ",\"cuda\"" : "", omp_get_num_procs(), compiled ? "true" : "false", ndev);
        return 0;
    }
    printf("rlc %s\n", RLC_VERSION);
    printf("backends: cpu (fp32, OpenMP + OpenBLAS, %d threads)%s\n", omp_get_num_procs(),
           compiled ? ", cuda (bf16)" : "");
    if (!compiled)
        printf("cuda: not compiled (build with nvcc on PATH, or -DRLC_CUDA=ON)\n");
    else if (ndev == 0)
        printf("cuda: compiled, no usable device (%s)\n", desc[0] ? desc : "no driver or GPU");
    else
        printf("cuda: %d device%s; device 0: %s\n", ndev, ndev == 1 ? "" : "s", desc);
    return 0;
}
