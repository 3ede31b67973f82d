/* torch.save zip checkpoints: the zip directory (ZIP64 too), then data.pkl through a
 * restricted pickle machine whose values are plain data plus two kinds torch needs —
 * storages (persistent ids) and tensors (torch._utils._rebuild_tensor_v2). See torch_bin.h. */
#include "core/torch_bin.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/str.h"

/* ---------------------------------------------------------------- zip */

typedef struct {
    const char *name;
    size_t name_len;
    const unsigned char *data;
    uint64_t size;
} zentry_t;

static uint64_t rd(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The central directory's entries (data pointers resolved through the local headers). */
static int zip_entries(const unsigned char *b, size_t size, const char *what, zentry_t **out, int *n_out) {
    if (size < 22) return rlc_errc(RLC_EFMT, "%s: too short for a zip archive", what);
    size_t e = size - 22, stop = size > 22 + 65535 ? size - 22 - 65535 : 0;
    while (rd(b + e, 4) != 0x06054b50) {
        if (e == stop) return rlc_errc(RLC_EFMT, "%s: no zip end-of-directory record (truncated?)", what);
        e--;
    }
    uint64_t count = rd(b + e + 10, 2), cd_size = rd(b + e + 12, 4), cd_off = rd(b + e + 16, 4);
    if ((count == 0xFFFF || cd_off == 0xFFFFFFFFu || cd_size == 0xFFFFFFFFu) && e >= 20 &&
        rd(b + e - 20, 4) == 0x07064b50) { /* ZIP64 */
        uint64_t z = rd(b + e - 12, 8);
        if (z > size || size - z < 56 || rd(b + z, 4) != 0x06064b50)
            return rlc_errc(RLC_EFMT, "%s: bad ZIP64 end-of-directory record", what);
        count = rd(b + z + 32, 8), cd_size = rd(b + z + 40, 8), cd_off = rd(b + z + 48, 8);
    }
    if (cd_off > size || cd_size > size - cd_off || count > cd_size / 46)
        return rlc_errc(RLC_EFMT, "%s: the zip directory lies outside the file", what);
    if (count > (1u << 30)) return rlc_errc(RLC_EFMT, "%s: a zip of %llu entries", what, (unsigned long long)count);
    zentry_t *z = calloc(count + 1, sizeof *z);
    if (!z) return RLC_ENOMEM;
    size_t p = cd_off, end = cd_off + cd_size;
    int rc = 0;
    for (uint64_t i = 0; i < count && !rc; i++) {
        const unsigned char *h = b + p;
        if (end - p < 46 || rd(h, 4) != 0x02014b50) {
            rc = rlc_errc(RLC_EFMT, "%s: zip directory entry %llu is damaged", what, (unsigned long long)i);
            break;
        }
        uint64_t flags = rd(h + 8, 2), method = rd(h + 10, 2), csize = rd(h + 20, 4), usize = rd(h + 24, 4);
        uint64_t nl = rd(h + 28, 2), xl = rd(h + 30, 2), cl = rd(h + 32, 2), loff = rd(h + 42, 4);
        if (end - p - 46 < nl + xl + cl) {
            rc = rlc_errc(RLC_EFMT, "%s: zip directory entry %llu is damaged", what, (unsigned long long)i);
            break;
        }
        for (const unsigned char *x = h + 46 + nl; x + 4 <= h + 46 + nl + xl;) { /* the ZIP64 extra field */
            uint64_t id = rd(x, 2), len = rd(x + 2, 2), o = 4;
            if (x + 4 + len > h + 46 + nl + xl) break;
            if (id == 1) {
                if (usize == 0xFFFFFFFFu && o + 8 <= 4 + len) usize = rd(x + o, 8), o += 8;
                if (csize == 0xFFFFFFFFu && o + 8 <= 4 + len) csize = rd(x + o, 8), o += 8;
                if (loff == 0xFFFFFFFFu && o + 8 <= 4 + len) loff = rd(x + o, 8);
            }
            x += 4 + len;
        }
        z[i].name = (const char *)h + 46, z[i].name_len = nl, z[i].size = usize;
        if (flags & 1) rc = rlc_errc(RLC_EFMT, "%s: zip entry %.*s is encrypted", what, (int)nl, z[i].name);
        else if (method != 0 || csize != usize)
            rc = rlc_errc(RLC_EUNSUP, "%s: zip entry %.*s is compressed (torch.save stores entries uncompressed)", what,
                          (int)nl, z[i].name);
        else if (loff > size || size - loff < 30 || rd(b + loff, 4) != 0x04034b50)
            rc = rlc_errc(RLC_EFMT, "%s: zip entry %.*s has no local header", what, (int)nl, z[i].name);
        else {
            uint64_t d = loff + 30 + rd(b + loff + 26, 2) + rd(b + loff + 28, 2);
            if (d > size || size - d < usize)
                rc = rlc_errc(RLC_EFMT, "%s: zip entry %.*s runs past the end of the file (truncated?)", what, (int)nl,
                              z[i].name);
            else
                z[i].data = b + d;
        }
        p += 46 + nl + xl + cl;
    }
    if (rc) return free(z), rc;
    *out = z;
    *n_out = (int)count;
    return 0;
}

static const zentry_t *zfind(const zentry_t *z, int n, const char *prefix, size_t pl, const char *name) {
    size_t nl = strlen(name);
    for (int i = 0; i < n; i++)
        if (z[i].name_len == pl + nl && !memcmp(z[i].name, prefix, pl) && !memcmp(z[i].name + pl, name, nl))
            return &z[i];
    return NULL;
}

/* ---------------------------------------------------------------- pickle values */

typedef enum { PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT, PV_GLOBAL, PV_STORAGE,
               PV_TENSOR, PV_MARK } pv_kind_t;

typedef struct pv {
    pv_kind_t k;
    int64_t i;          /* INT, BOOL; STORAGE: numel; TENSOR: storage offset */
    const char *s, *s2; /* STR (s, n bytes), GLOBAL (module s, name s2), STORAGE (key s, n bytes) */
    size_t n, n2;
    struct pv **it; /* TUPLE, LIST, DICT (key, value pairs) */
    int nit, cap;
    int dtype, ndim;                                 /* STORAGE dtype; TENSOR rank */
    int64_t shape[RLC_ST_MAXDIM], stride[RLC_ST_MAXDIM]; /* TENSOR */
    struct pv *storage;                              /* TENSOR */
} pv_t;

typedef struct {
    const unsigned char *b;
    size_t n, pos;
    const char *what;
    pv_t **all; /* every value made, freed together */
    int nall, capall;
    pv_t **stack;
    int sp, capsp;
    pv_t **memo;
    size_t nmemo, nset; /* slots; slots stored (MEMOIZE's next index) */
} vm_t;

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return RLC_ENOMEM;
    *arr = p;
    *cap = nc;
    return 0;
}

static pv_t *pv_new(vm_t *vm, pv_kind_t k) {
    if (grow((void **)&vm->all, &vm->capall, vm->nall + 1, sizeof *vm->all)) return NULL;
    pv_t *v = calloc(1, sizeof *v);
    if (v) v->k = k, vm->all[vm->nall++] = v;
    return v;
}

static int push(vm_t *vm, pv_t *v) {
    if (!v || grow((void **)&vm->stack, &vm->capsp, vm->sp + 1, sizeof *vm->stack)) return RLC_ENOMEM;
    if (vm->sp >= 1 << 20) return rlc_errc(RLC_EFMT, "%s: data.pkl nests too deep", vm->what);
    vm->stack[vm->sp++] = v;
    return 0;
}

static int add_item(pv_t *c, pv_t *v) {
    if (grow((void **)&c->it, &c->cap, c->nit + 1, sizeof *c->it)) return RLC_ENOMEM;
    c->it[c->nit++] = v;
    return 0;
}

static int bad(vm_t *vm, const char *why) {
    return rlc_errc(RLC_EFMT, "%s: data.pkl at byte %zu: %s", vm->what, vm->pos, why);
}

static pv_t *pop(vm_t *vm) { return vm->sp > 0 && vm->stack[vm->sp - 1]->k != PV_MARK ? vm->stack[--vm->sp] : NULL; }

/* The index of the topmost mark, or -1. */
static int find_mark(const vm_t *vm) {
    for (int i = vm->sp - 1; i >= 0; i--)
        if (vm->stack[i]->k == PV_MARK) return i;
    return -1;
}

/* ---------------------------------------------------------------- the callables */

static int gl_is(const pv_t *g, const char *mod, const char *name) {
    return g->k == PV_GLOBAL && g->n == strlen(mod) && !memcmp(g->s, mod, g->n) && g->n2 == strlen(name) &&
           !memcmp(g->s2, name, g->n2);
}

/* torch's storage classes and the dtypes they hold. */
static int storage_dtype(const pv_t *g) {
    static const char *const names[] = {"FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
                                        "LongStorage",  "IntStorage",  "ShortStorage",    "CharStorage",
                                        "ByteStorage",  "BoolStorage"};
    static const rlc_dtype_t dts[] = {RLC_DT_F32, RLC_DT_F16, RLC_DT_BF16, RLC_DT_F64, RLC_DT_I64,
                                      RLC_DT_I32, RLC_DT_I16, RLC_DT_I8,   RLC_DT_U8,  RLC_DT_BOOL};
    for (int i = 0; i < 10; i++)
        if (gl_is(g, "torch", names[i])) return (int)dts[i];
    return -1;
}

/* ('storage', torch.XStorage, key, location, numel) -> a storage. */
static int persid(vm_t *vm) {
    pv_t *t = pop(vm);
    if (!t || t->k != PV_TUPLE || t->nit != 5 || t->it[0]->k != PV_STR || t->it[0]->n != 7 ||
        memcmp(t->it[0]->s, "storage", 7) || t->it[2]->k != PV_STR || t->it[4]->k != PV_INT || t->it[4]->i < 0)
        return bad(vm, "a persistent id that is not ('storage', type, key, location, numel)");
    int dt = storage_dtype(t->it[1]);
    if (dt < 0)
        return rlc_errc(RLC_EUNSUP, "%s: a tensor storage of type %.*s.%.*s is not supported", vm->what,
                        (int)t->it[1]->n, t->it[1]->s ? t->it[1]->s : "?", (int)t->it[1]->n2,
                        t->it[1]->s2 ? t->it[1]->s2 : "?");
    pv_t *s = pv_new(vm, PV_STORAGE);
    if (!s) return RLC_ENOMEM;
    s->dtype = dt, s->s = t->it[2]->s, s->n = t->it[2]->n, s->i = t->it[4]->i;
    return push(vm, s);
}

/* _rebuild_tensor_v2(storage, offset, size, stride, ...) -> a tensor. */
static int rebuild_tensor(vm_t *vm, const pv_t *a) {
    if (a->nit < 4 || a->it[0]->k != PV_STORAGE || a->it[1]->k != PV_INT || a->it[1]->i < 0 ||
        a->it[2]->k != PV_TUPLE || a->it[3]->k != PV_TUPLE || a->it[2]->nit != a->it[3]->nit)
        return bad(vm, "a tensor rebuilt from arguments other than (storage, offset, size, stride)");
    if (a->it[2]->nit > RLC_ST_MAXDIM) return bad(vm, "a tensor of more than 8 dimensions");
    pv_t *t = pv_new(vm, PV_TENSOR);
    if (!t) return RLC_ENOMEM;
    t->storage = a->it[0], t->i = a->it[1]->i, t->ndim = a->it[2]->nit;
    for (int d = 0; d < t->ndim; d++) {
        const pv_t *x = a->it[2]->it[d], *y = a->it[3]->it[d];
        if (x->k != PV_INT || y->k != PV_INT || x->i < 0 || y->i < 0)
            return bad(vm, "a tensor size or stride is not a count");
        t->shape[d] = x->i, t->stride[d] = y->i;
    }
    return push(vm, t);
}

/* REDUCE / NEWOBJ: only the callables a state dict needs. */
static int reduce(vm_t *vm) {
    pv_t *args = pop(vm), *f = pop(vm);
    if (!args || !f || args->k != PV_TUPLE) return bad(vm, "REDUCE without a callable and an argument tuple");
    if (gl_is(f, "collections", "OrderedDict") && args->nit == 0) return push(vm, pv_new(vm, PV_DICT));
    if (gl_is(f, "torch._utils", "_rebuild_tensor_v2") || gl_is(f, "torch._utils", "_rebuild_tensor"))
        return rebuild_tensor(vm, args);
    if ((gl_is(f, "torch._utils", "_rebuild_parameter") || gl_is(f, "torch._utils", "_rebuild_parameter_with_state")) &&
        args->nit >= 1 && args->it[0]->k == PV_TENSOR)
        return push(vm, args->it[0]);
    if (f->k != PV_GLOBAL) return bad(vm, "REDUCE of something that is not a global");
    return rlc_errc(RLC_EUNSUP, "%s: data.pkl builds a %.*s.%.*s, which rlc does not create (it reads a state dict of "
                                "tensors and runs no pickled code)",
                    vm->what, (int)f->n, f->s, (int)f->n2, f->s2);
}

/* ---------------------------------------------------------------- the machine */

static int need(vm_t *vm, size_t k) {
    return vm->n - vm->pos < k ? bad(vm, "the pickle ends inside an instruction (truncated?)") : 0;
}

static int str_op(vm_t *vm, int lenbytes) {
    int rc = need(vm, (size_t)lenbytes);
    if (rc) return rc;
    uint64_t len = rd(vm->b + vm->pos, lenbytes);
    vm->pos += (size_t)lenbytes;
    if ((rc = need(vm, len))) return rc;
    pv_t *v = pv_new(vm, PV_STR);
    if (!v) return RLC_ENOMEM;
    v->s = (const char *)vm->b + vm->pos, v->n = len;
    vm->pos += len;
    return push(vm, v);
}

static int int_op(vm_t *vm, int nb, int is_signed) {
    int rc = need(vm, (size_t)nb);
    if (rc) return rc;
    uint64_t u = rd(vm->b + vm->pos, nb);
    vm->pos += (size_t)nb;
    pv_t *v = pv_new(vm, PV_INT);
    if (!v) return RLC_ENOMEM;
    if (is_signed && nb < 8 && (u >> (8 * nb - 1)) & 1) u |= ~(uint64_t)0 << (8 * nb);
    v->i = (int64_t)u;
    return push(vm, v);
}

/* GLOBAL: "module\nname\n". */
static int global_op(vm_t *vm) {
    const char *s = (const char *)vm->b + vm->pos, *e = (const char *)vm->b + vm->n;
    const char *nl1 = memchr(s, '\n', (size_t)(e - s));
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(e - nl1 - 1)) : NULL;
    if (!nl2) return bad(vm, "a GLOBAL without its two lines");
    pv_t *g = pv_new(vm, PV_GLOBAL);
    if (!g) return RLC_ENOMEM;
    g->s = s, g->n = (size_t)(nl1 - s), g->s2 = nl1 + 1, g->n2 = (size_t)(nl2 - nl1 - 1);
    vm->pos = (size_t)(nl2 + 1 - (const char *)vm->b);
    return push(vm, g);
}

static int memo_put(vm_t *vm, uint64_t idx) {
    if (!vm->sp) return bad(vm, "a memo store with nothing on the stack");
    if (idx > (1u << 24)) return bad(vm, "a memo index out of range");
    if (idx >= vm->nmemo) {
        size_t nn = (size_t)idx + 1 > vm->nmemo * 2 ? (size_t)idx + 1 : vm->nmemo * 2;
        pv_t **m = realloc(vm->memo, nn * sizeof *m);
        if (!m) return RLC_ENOMEM;
        memset(m + vm->nmemo, 0, (nn - vm->nmemo) * sizeof *m);
        vm->memo = m, vm->nmemo = nn;
    }
    vm->nset += !vm->memo[idx];
    vm->memo[idx] = vm->stack[vm->sp - 1];
    return 0;
}

static int memo_get(vm_t *vm, uint64_t idx) {
    if (idx >= vm->nmemo || !vm->memo[idx]) return bad(vm, "a memo fetch of an index never stored");
    return push(vm, vm->memo[idx]);
}

/* TUPLE / LIST / DICT from the items above the topmost mark (dict: key, value pairs). */
static int collect(vm_t *vm, pv_kind_t k, pv_t *into) {
    int m = find_mark(vm);
    if (m < 0) return bad(vm, "a collection without its mark");
    pv_t *c = into ? into : pv_new(vm, k);
    if (!c) return RLC_ENOMEM;
    if (c->k != k)
        return bad(vm, k == PV_DICT ? "SETITEMS on something not a dict" : "APPENDS on something not a list");
    if (k == PV_DICT && (vm->sp - m - 1) % 2) return bad(vm, "a dict with a key and no value");
    for (int i = m + 1; i < vm->sp; i++)
        if (add_item(c, vm->stack[i])) return RLC_ENOMEM;
    vm->sp = m;
    return into ? 0 : push(vm, c);
}

static int tuple_n(vm_t *vm, int n) {
    pv_t *t = pv_new(vm, PV_TUPLE);
    if (!t || vm->sp < n) return t ? bad(vm, "a tuple of more items than the stack holds") : RLC_ENOMEM;
    for (int i = vm->sp - n; i < vm->sp; i++)
        if (vm->stack[i]->k == PV_MARK || add_item(t, vm->stack[i])) return bad(vm, "a tuple over a mark");
    vm->sp -= n;
    return push(vm, t);
}

static int step_collections(vm_t *vm, int op) {
    switch (op) {
    case '(': return push(vm, pv_new(vm, PV_MARK));
    case ')': return push(vm, pv_new(vm, PV_TUPLE));
    case ']': return push(vm, pv_new(vm, PV_LIST));
    case '}': return push(vm, pv_new(vm, PV_DICT));
    case 't': return collect(vm, PV_TUPLE, NULL);
    case 'l': return collect(vm, PV_LIST, NULL);
    case 'd': return collect(vm, PV_DICT, NULL);
    case 0x85: case 0x86: case 0x87: return tuple_n(vm, op - 0x84);
    case 'a': case 's': {
        int n = op == 'a' ? 1 : 2;
        if (vm->sp < n + 1) return bad(vm, "APPEND/SETITEM on a short stack");
        pv_t *c = vm->stack[vm->sp - n - 1];
        if (c->k != (op == 'a' ? PV_LIST : PV_DICT)) return bad(vm, "APPEND/SETITEM on the wrong kind of value");
        for (int i = vm->sp - n; i < vm->sp; i++)
            if (vm->stack[i]->k == PV_MARK || add_item(c, vm->stack[i])) return bad(vm, "APPEND/SETITEM over a mark");
        vm->sp -= n;
        return 0;
    }
    case 'e': case 'u': {
        int m = find_mark(vm);
        if (m < 1) return bad(vm, "APPENDS/SETITEMS without a mark");
        return collect(vm, op == 'e' ? PV_LIST : PV_DICT, vm->stack[m - 1]);
    }
    default: return 1;
    }
}

/* One instruction; 1 at STOP. */
static int step(vm_t *vm) {
    int rc = need(vm, 1);
    if (rc) return rc;
    int op = vm->b[vm->pos++];
    if ((rc = step_collections(vm, op)) <= 0) return rc;
    switch (op) {
    case 0x80: return need(vm, 1) ? RLC_EFMT : (vm->pos++, 0);            /* PROTO */
    case 0x95: return need(vm, 8) ? RLC_EFMT : (vm->pos += 8, 0);         /* FRAME */
    case '.': return vm->sp == 1 ? 1 : bad(vm, "STOP with other than one value on the stack");
    case 'N': return push(vm, pv_new(vm, PV_NONE));
    case 0x88: case 0x89: {
        pv_t *v = pv_new(vm, PV_BOOL);
        if (v) v->i = op == 0x88;
        return push(vm, v);
    }
    case 'K': return int_op(vm, 1, 0);
    case 'M': return int_op(vm, 2, 0);
    case 'J': return int_op(vm, 4, 1);
    case 0x8a: {
        if ((rc = need(vm, 1))) return rc;
        int nb = vm->b[vm->pos++];
        if (nb > 8) return bad(vm, "an integer wider than 64 bits");
        if (!nb) return push(vm, pv_new(vm, PV_INT));
        return int_op(vm, nb, 1);
    }
    case 'G': {
        if ((rc = need(vm, 8))) return rc;
        pv_t *v = pv_new(vm, PV_FLOAT);
        vm->pos += 8;
        return push(vm, v);
    }
    case 'X': case 'T': case 'B': return str_op(vm, 4);
    case 0x8c: case 'U': case 'C': return str_op(vm, 1);
    case 0x8d: case 0x8e: return str_op(vm, 8);
    case 'c': return global_op(vm);
    case 0x93: {
        pv_t *name = pop(vm), *mod = pop(vm), *g = pv_new(vm, PV_GLOBAL);
        if (!name || !mod || name->k != PV_STR || mod->k != PV_STR) return bad(vm, "STACK_GLOBAL without two strings");
        if (!g) return RLC_ENOMEM;
        g->s = mod->s, g->n = mod->n, g->s2 = name->s, g->n2 = name->n;
        return push(vm, g);
    }
    case 'q': return need(vm, 1) ? RLC_EFMT : (vm->pos += 1, memo_put(vm, vm->b[vm->pos - 1]));
    case 'r': return need(vm, 4) ? RLC_EFMT : (vm->pos += 4, memo_put(vm, rd(vm->b + vm->pos - 4, 4)));
    case 0x94: return memo_put(vm, vm->nset);
    case 'h': return need(vm, 1) ? RLC_EFMT : (vm->pos += 1, memo_get(vm, vm->b[vm->pos - 1]));
    case 'j': return need(vm, 4) ? RLC_EFMT : (vm->pos += 4, memo_get(vm, rd(vm->b + vm->pos - 4, 4)));
    case 'Q': return persid(vm);
    case 'R': case 0x81: return reduce(vm);
    case 'b': return pop(vm) && vm->sp ? 0 : bad(vm, "BUILD without an object and its state");
    case '0': return pop(vm) ? 0 : bad(vm, "POP of nothing");
    case '1': {
        int m = find_mark(vm);
        return m < 0 ? bad(vm, "POP_MARK without a mark") : (vm->sp = m, 0);
    }
    case '2':
        if (!vm->sp || vm->stack[vm->sp - 1]->k == PV_MARK) return bad(vm, "DUP of nothing");
        return push(vm, vm->stack[vm->sp - 1]);
    default: {
        char why[64];
        snprintf(why, sizeof why, "pickle opcode 0x%02x is not supported", op);
        vm->pos--;
        return bad(vm, why);
    }
    }
}

/* ---------------------------------------------------------------- tensors */

/* One state-dict entry as a tensor over its zip storage. */
static int make_tensor(vm_t *vm, const pv_t *key, const pv_t *v, const zentry_t *z, int nz, const char *prefix,
                       size_t pl, rlc_st_tensor_t *t) {
    if (key->k != PV_STR) return bad(vm, "a state-dict key that is not a string");
    if (!(t->name = malloc(key->n + 1))) return RLC_ENOMEM;
    memcpy(t->name, key->s, key->n);
    t->name[key->n] = '\0';
    if (v->k != PV_TENSOR)
        return rlc_errc(RLC_EUNSUP, "%s: '%s' is not a tensor (rlc reads a state dict of name -> tensor)", vm->what,
                        t->name);
    const pv_t *s = v->storage;
    char ent[96];
    if (s->n > 60) return bad(vm, "a storage key longer than 60 bytes");
    snprintf(ent, sizeof ent, "data/%.*s", (int)s->n, s->s);
    const zentry_t *e = zfind(z, nz, prefix, pl, ent);
    size_t es = rlc_dtype_size((rlc_dtype_t)s->dtype);
    if (!e)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s': its storage %s is missing from the archive", vm->what, t->name,
                        ent);
    if ((uint64_t)s->i > e->size / es)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s': storage %s holds %llu bytes, not %lld elements", vm->what, t->name,
                        ent, (unsigned long long)e->size, (long long)s->i);
    t->dtype = (rlc_dtype_t)s->dtype, t->ndim = v->ndim, t->numel = 1;
    uint64_t expect = 1, extent = 1;
    for (int d = v->ndim - 1; d >= 0; d--) {
        t->shape[d] = v->shape[d];
        if (v->shape[d] > 1 && (uint64_t)v->stride[d] != expect)
            return rlc_errc(RLC_EUNSUP, "%s: tensor '%s' is not contiguous (save it with .contiguous())", vm->what,
                            t->name);
        if (v->shape[d] && (uint64_t)v->shape[d] > (UINT64_C(1) << 48) / (t->numel ? t->numel : 1))
            return bad(vm, "a tensor too large");
        t->numel *= (size_t)v->shape[d];
        expect *= (uint64_t)v->shape[d];
        extent += v->shape[d] ? (uint64_t)(v->shape[d] - 1) * (uint64_t)v->stride[d] : 0;
    }
    if (t->numel && ((uint64_t)v->i > (uint64_t)s->i || extent > (uint64_t)s->i - (uint64_t)v->i))
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' reaches past its storage", vm->what, t->name);
    t->nbytes = t->numel * es;
    t->data = e->data + (size_t)v->i * es;
    return 0;
}

static int tensors_of(vm_t *vm, const pv_t *top, const zentry_t *z, int nz, const char *prefix, size_t pl,
                      rlc_st_tensor_t **out, int *n_out) {
    if (top->k != PV_DICT)
        return rlc_errc(RLC_EUNSUP, "%s: data.pkl holds no state dict (a dict of tensors)", vm->what);
    int n = top->nit / 2, rc = 0;
    rlc_st_tensor_t *t = calloc((size_t)n + 1, sizeof *t);
    if (!t) return RLC_ENOMEM;
    for (int i = 0; i < n && !rc; i++)
        rc = make_tensor(vm, top->it[2 * i], top->it[2 * i + 1], z, nz, prefix, pl, &t[i]);
    if (!rc) rc = rlc_st_sort_unique(t, n, vm->what);
    if (rc) {
        for (int i = 0; i < n; i++) free(t[i].name);
        free(t);
        return rc;
    }
    *out = t;
    *n_out = n;
    return 0;
}

static void vm_free(vm_t *vm) {
    for (int i = 0; i < vm->nall; i++) free(vm->all[i]->it), free(vm->all[i]);
    free(vm->all), free(vm->stack), free(vm->memo);
}

int rlc_torch_parse(const void *buf, size_t size, const char *what, rlc_st_tensor_t **out, int *n_out) {
    const unsigned char *b = buf;
    *out = NULL, *n_out = 0;
    if (size >= 2 && b[0] == 0x80 && b[1] <= 5)
        return rlc_errc(RLC_EUNSUP, "%s: a legacy (PyTorch < 1.6) torch.save file; save it again with a recent PyTorch",
                        what);
    zentry_t *z;
    int nz, rc = zip_entries(b, size, what, &z, &nz);
    if (rc) return rc;
    const zentry_t *pk = NULL;
    for (int i = 0; i < nz && !pk; i++)
        if ((z[i].name_len == 8 || (z[i].name_len > 8 && z[i].name[z[i].name_len - 9] == '/')) &&
            !memcmp(z[i].name + z[i].name_len - 8, "data.pkl", 8))
            pk = &z[i];
    if (!pk) return free(z), rlc_errc(RLC_EFMT, "%s: a zip without data.pkl (not a torch.save file)", what);
    const char *prefix = pk->name;
    size_t pl = pk->name_len - 8;
    const zentry_t *bo = zfind(z, nz, prefix, pl, "byteorder");
    if (bo && !(bo->size == 6 && !memcmp(bo->data, "little", 6)))
        return free(z), rlc_errc(RLC_EUNSUP, "%s: a big-endian torch.save file", what);
    vm_t vm = {.b = pk->data, .n = (size_t)pk->size, .what = what};
    while (!(rc = step(&vm))) {
    }
    if (rc == 1) rc = tensors_of(&vm, vm.stack[0], z, nz, prefix, pl, out, n_out);
    vm_free(&vm);
    free(z);
    return rc;
}
