/* The backend's graph ops (see kernels/backend.h): stream capture of the ops between
 * graph_begin and graph_end, instantiated once and replayed with one launch. The model uses
 * them for pure decode steps, where ~10 launches per layer otherwise cost more than the
 * step's memory traffic on small models. Exports: cu_graph_begin, cu_graph_end,
 * cu_graph_launch, cu_graph_free. */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
int cu_graph_begin(rlc_backend_t *be);
int cu_graph_end(rlc_backend_t *be, void **graph);
int cu_graph_launch(rlc_backend_t *be, void *graph);
void cu_graph_free(rlc_backend_t *be, void *graph);
} // namespace RLC_CU_NS
