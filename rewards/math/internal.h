/* Internals of the math grader shared by normalize.c, parse.c and equal.c: a growable
 * string buffer, the normalization entry point with its side flags, and the expression
 * tree (a fixed-capacity node pool, so a pathological answer cannot exhaust memory). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* ---- growable string with a hard size limit ---- */
typedef struct {
    char *p;
    size_t len, cap, limit;
    int failed; /* allocation failed or limit reached; content is then unusable */
} mbuf_t;

void mbuf_init(mbuf_t *b, size_t limit);
void mbuf_free(mbuf_t *b);
void mbuf_putc(mbuf_t *b, char c);
void mbuf_putn(mbuf_t *b, const char *s, size_t n);
void mbuf_puts(mbuf_t *b, const char *s);

/* normalization side information */
enum {
    MNORM_PERCENT = 1 << 0, /* a % sign was removed */
    MNORM_DEGREE = 1 << 1,  /* a degree sign was removed */
    MNORM_UNIT = 1 << 2,    /* a unit word / \text{unit} suffix was removed */
    MNORM_SPACED_COMMA = 1 << 3, /* "32, 349": a comma and a space between digits (a list) */
};

/* normalization mode */
enum {
    MNORM_STRIP_LHS = 1 << 0, /* "x=3" -> "3" in the text (for answers the parser cannot read) */
};

/* Is [s, s+n) a unit word the normalizer drops after a value ("cm", "square", "dollars")? */
int math_unit_word(const char *s, size_t n);

/* Normalize [in, in+n) into out (reset first); `flags` receives the MNORM_PERCENT... side
 * information (may be NULL), `mode` the MNORM_STRIP_LHS... bits. Returns 0, or -1 when out
 * failed. */
int math_normalize_buf(const char *in, size_t n, mbuf_t *out, int *flags, int mode);

/* ---- expression tree ---- */
typedef enum {
    MN_NUM,    /* literal: val (+ exact num/den when exact) */
    MN_VAR,    /* name in str */
    MN_PI,
    MN_E,
    MN_INF,
    MN_ADD,    /* n-ary sum of kids */
    MN_MUL,    /* n-ary product of kids */
    MN_NEG,    /* -k0 */
    MN_INV,    /* 1/k0 */
    MN_POW,    /* k0 ^ k1 */
    MN_FACT,   /* k0 ! */
    MN_FUNC,   /* fn(k0 [, k1]) : sub = function id */
    MN_PM,     /* k0 ± k1 (k0 may be absent: nk = 1 means ±k0) */
    MN_TUPLE,  /* ( ... ) or [ ... ]: sub = open<<4 | close bracket kinds */
    MN_SET,    /* \{ ... \} */
    MN_LIST,   /* bare comma list at top level */
    MN_MATRIX, /* rows*cols kids, row-major; rows in aux */
    MN_REL,    /* k0 op k1 [op k2 ...] (ops in sub: = < > <= >= != \approx) */
    MN_UNION,  /* k0 \cup k1 ... */
} mnode_kind_t;

enum { BR_PAREN = 1, BR_SQUARE = 2 };
enum { REL_EQ = 1, REL_LT, REL_GT, REL_LE, REL_GE, REL_NE, REL_APPROX };
/* sub of an MN_REL: op1 | op2 << 4 for two or three sides; a chain of more sides is all '='
 * (REL_EQ | REL_EQ << 4) */
enum {
    FN_SQRT = 1, FN_ROOT, FN_SIN, FN_COS, FN_TAN, FN_COT, FN_SEC, FN_CSC, FN_ASIN, FN_ACOS, FN_ATAN,
    FN_SINH, FN_COSH, FN_TANH, FN_LN, FN_LOG, FN_LOGB, FN_EXP, FN_ABS, FN_FLOOR, FN_CEIL, FN_BINOM,
    FN_GCD, FN_LCM, FN_ARCCOT,
};

typedef struct {
    uint8_t kind, sub;
    uint16_t depth;
    int32_t nk;   /* number of kids */
    int32_t k;    /* index of the first kid in the kids array */
    int32_t aux;  /* matrix rows; NUM: 1 if the literal was written with a decimal point */
    int32_t str;  /* VAR: offset of the name in the string area; NUM not exact in int64: 1 + offset of its
                     literal text (0 = none) */
    double val;
    int64_t num, den; /* NUM exact value when den > 0 */
} mnode_t;

#define MTREE_MAX_NODES 1024
#define MTREE_MAX_KIDS 2048
#define MTREE_MAX_STR 2048
#define MTREE_MAX_DEPTH 48

typedef struct {
    mnode_t nodes[MTREE_MAX_NODES];
    int32_t kids[MTREE_MAX_KIDS];
    char str[MTREE_MAX_STR];
    int n_nodes, n_kids, n_str;
    int root;
} mtree_t;

/* ---- exact rationals (rational.c): int64 with overflow detection; -1 = overflow or not
 * exact (an irrational root) ---- */
typedef struct {
    int64_t n, d; /* d > 0, reduced */
} rat_t;
int rat_make(int64_t n, int64_t d, rat_t *r);
int rat_add(rat_t a, rat_t b, rat_t *r);
int rat_mul(rat_t a, rat_t b, rat_t *r);
int rat_root(rat_t a, int k, rat_t *r);
int rat_pow(rat_t a, rat_t e, rat_t *r);

/* ---- any size: the fallback when int64 overflows ---- */
#define BIG_LIMBS 256 /* base-10^9 limbs: about 2300 digits */
typedef struct {
    uint32_t d[BIG_LIMBS];
    int n, neg;
} big_t;
typedef struct {
    big_t n, d; /* d > 0; not reduced */
} brat_t;
void big_from_i64(big_t *a, int64_t v);
int big_add(const big_t *a, const big_t *b, big_t *r);
int big_mul(const big_t *a, const big_t *b, big_t *r);
int big_eq(const big_t *a, const big_t *b);
/* "123", "1.50", "2.5e30" (no sign); -1 when malformed or too large. */
int brat_from_literal(const char *s, brat_t *r);
void brat_from_rat(int64_t n, int64_t d, brat_t *r);
int brat_add(const brat_t *a, const brat_t *b, brat_t *r);
int brat_mul(const brat_t *a, const brat_t *b, brat_t *r);
int brat_inv(const brat_t *a, brat_t *r);
int brat_pow(const brat_t *a, long e, brat_t *r);
/* 1 equal, 0 different, -1 too large to tell. */
int brat_eq(const brat_t *a, const brat_t *b);

/* Parse a normalized answer into t. Returns 0, or -1 when the text is not math we
 * understand (words, unbalanced brackets) or exceeds the pool/depth caps. */
int math_parse(const char *s, size_t n, mtree_t *t);

/* Canonical text of the subtree at `node` (sums/products with sorted operands), used to
 * compare values too large to evaluate. */
void math_tree_print(const mtree_t *t, int node, mbuf_t *out);
