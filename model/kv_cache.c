/* The paged KV cache: one pool of pages shared by every layer group (decode.h). Layers whose
 * attention reaches equally far form one group; a model that mixes full-attention and
 * sliding-window layers gets groups of each kind, of equal size, so that a page is the same
 * size whichever group takes it and the engine keeps one free list (vLLM's hybrid allocator
 * idea). A sliding group's pages are released by the engine once every future query's window
 * has passed them; the full groups keep theirs. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/decode.h"

/* Layers of one kind (window w) in chunks of g, from group *G on. */
static void assign(const rlc_model_config_t *c, int w, int g, int *G, int *layer_group, int *layer_slot,
                   int *group_window) {
    int k = 0;
    for (int l = 0; l < c->num_layers; l++) {
        if (rlc_config_layer_window(c, l) != w) continue;
        if (k % g == 0) {
            if (group_window) group_window[*G] = w;
            (*G)++;
        }
        if (layer_group) layer_group[l] = *G - 1;
        if (layer_slot) layer_slot[l] = k % g;
        k++;
    }
}

int rlc_kv_groups(const rlc_model_config_t *c, int release, int *group_layers, int *layer_group, int *layer_slot,
                  int *group_window) {
    int L = c->num_layers, nf = 0, ns = 0, W = c->sliding_window;
    for (int l = 0; l < L; l++) {
        int w = rlc_config_layer_window(c, l);
        if (w && w != W) release = 0; /* (one window size per model is all a config gives) */
        w ? ns++ : nf++;
    }
    if (!release || !ns || !nf) { /* one group: every layer alike (or all kept) */
        for (int l = 0; l < L; l++) {
            if (layer_group) layer_group[l] = 0;
            if (layer_slot) layer_slot[l] = l;
        }
        if (group_window) group_window[0] = release && ns ? W : 0;
        *group_layers = L;
        return 1;
    }
    /* groups of g layers: the smaller kind in as few groups as fit, at most ~16 groups */
    int g = nf < ns ? nf : ns, floor_g = (L + 15) / 16;
    if (g < floor_g) g = floor_g;
    int G = 0;
    assign(c, 0, g, &G, layer_group, layer_slot, group_window);
    assign(c, W, g, &G, layer_group, layer_slot, group_window);
    *group_layers = g;
    return G;
}

/* Sliding layers release their pages unless RLC_KV_KEEP_WINDOW is set (a debugging aid). */
int rlc_kv_release_default(void) {
    const char *k = getenv("RLC_KV_KEEP_WINDOW");
    return !(k && *k && strcmp(k, "0"));
}

size_t rlc_kv_page_bytes(const rlc_model_t *m, int page_size) {
    int g;
    rlc_kv_groups(&m->cfg, rlc_kv_release_default(), &g, NULL, NULL, NULL);
    return (size_t)rlc_kv_planes(&m->cfg) * g * page_size * rlc_kv_width(&m->cfg) * m->be->esize[RLC_BUF_ACT];
}

int rlc_kv_cache_init(rlc_kv_cache_t *kv, rlc_model_t *m, int num_pages, int page_size) {
    memset(kv, 0, sizeof *kv);
    if (num_pages <= 0 || page_size <= 0) return rlc_errc(RLC_EINVAL, "KV cache needs pages and a page size");
    int L = m->cfg.num_layers;
    kv->num_pages = num_pages;
    kv->page_size = page_size;
    kv->num_layers = L;
    kv->kv_width = rlc_kv_width(&m->cfg);
    kv->layer_group = rlc_calloc((size_t)L, sizeof(int));
    kv->layer_slot = rlc_calloc((size_t)L, sizeof(int));
    if (!kv->layer_group || !kv->layer_slot) {
        rlc_kv_cache_free(kv, m);
        return RLC_ENOMEM;
    }
    kv->n_groups = rlc_kv_groups(&m->cfg, rlc_kv_release_default(), &kv->group_layers, kv->layer_group, kv->layer_slot,
                                 kv->group_window);
    size_t n = (size_t)kv->group_layers * num_pages * page_size * kv->kv_width;
    int planes = rlc_kv_planes(&m->cfg); /* K then V in one block; MLA's latent rows serve as both */
    kv->k = m->be->alloc(m->be, "KV cache", (size_t)planes * n, RLC_BUF_ACT);
    if (!kv->k) {
        rlc_kv_cache_free(kv, m);
        return RLC_ENOMEM;
    }
    kv->v = (char *)kv->k + (size_t)(planes - 1) * n * m->be->esize[RLC_BUF_ACT];
    return 0;
}

void rlc_kv_cache_free(rlc_kv_cache_t *kv, rlc_model_t *m) {
    if (kv->k) m->be->free(m->be, kv->k);
    free(kv->layer_group);
    free(kv->layer_slot);
    memset(kv, 0, sizeof *kv);
}

void rlc_kv_copy_page(rlc_kv_cache_t *kv, rlc_model_t *m, int dst, int src, int ntokens) {
    rlc_backend_t *be = m->be;
    size_t n = (size_t)ntokens * kv->kv_width, per_slot = (size_t)kv->num_pages * kv->page_size * kv->kv_width;
    size_t ea = be->esize[RLC_BUF_ACT], d = (size_t)dst * kv->page_size * kv->kv_width;
    size_t s = (size_t)src * kv->page_size * kv->kv_width;
    for (int i = 0; i < kv->group_layers; i++)
        for (int kvi = 0; kvi < rlc_kv_planes(&m->cfg); kvi++) {
            char *base = (char *)(kvi ? kv->v : kv->k) + (size_t)i * per_slot * ea;
            be->copy(be, base + d * ea, base + s * ea, RLC_BUF_ACT, n);
        }
}
