/* Graphs: capture on the backend's stream (thread-local mode, so a synchronizing call made
 * by mistake inside the captured ops invalidates the capture instead of hanging), one
 * instantiation per graph, replay with cudaGraphLaunch. The op workspace (cu_scratch) is
 * baked into a graph by address, so each graph remembers the workspace epoch it was
 * captured under and refuses to replay after the workspace moved.
 * Exports: cu_graph_begin, cu_graph_end, cu_graph_launch, cu_graph_free. */
#include "kernels/cuda/graph.cuh"

#include <stdlib.h>

namespace RLC_CU_NS {

struct cu_graph {
    cudaGraphExec_t exec;
    unsigned epoch;
};

int cu_graph_begin(rlc_backend_t *be) {
    cu_impl *im = IM(be);
    if (im->err) return rlc_errc(im->err, "cuda: graph capture after an error: %s", im->errmsg);
    cudaError_t e = cudaStreamBeginCapture(im->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return rlc_errc(RLC_EUNSUP, "cuda: cannot begin a graph capture: %s", cudaGetErrorString(e));
    }
    return 0;
}

int cu_graph_end(rlc_backend_t *be, void **graph) {
    cu_impl *im = IM(be);
    *graph = NULL;
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(im->stream, &g);
    int rc = 0;
    if (e != cudaSuccess || im->err) {
        /* nothing ran: the error of the capture (not of the device) is reported and cleared */
        rc = rlc_errc(RLC_EUNSUP, "cuda: graph capture failed: %s",
                      im->err ? im->errmsg : cudaGetErrorString(e));
        im->err = 0;
        im->errmsg[0] = 0;
        (void)cudaGetLastError();
    }
    cu_graph *cg = NULL;
    if (!rc) {
        cg = (cu_graph *)calloc(1, sizeof *cg);
        if (!cg) rc = rlc_errc(RLC_ENOMEM, "out of host memory");
    }
    if (!rc && (e = cudaGraphInstantiate(&cg->exec, g, 0)) != cudaSuccess) {
        (void)cudaGetLastError();
        rc = rlc_errc(RLC_EUNSUP, "cuda: cannot instantiate the graph: %s", cudaGetErrorString(e));
    }
    if (g) cudaGraphDestroy(g);
    if (rc) {
        free(cg);
        return rc;
    }
    cg->epoch = im->scratch_epoch;
    *graph = cg;
    return 0;
}

int cu_graph_launch(rlc_backend_t *be, void *graph) {
    cu_impl *im = IM(be);
    cu_graph *cg = (cu_graph *)graph;
    if (cg->epoch != im->scratch_epoch) return 1;
    CUDA_CHECK(im, cudaGraphLaunch(cg->exec, im->stream));
    return 0; /* faults surface at be->check, as for eager ops */
}

void cu_graph_free(rlc_backend_t *be, void *graph) {
    (void)be;
    cu_graph *cg = (cu_graph *)graph;
    if (!cg) return;
    cudaGraphExecDestroy(cg->exec);
    free(cg);
}

} // namespace RLC_CU_NS
