/* Private to tokenizer/jinja*.c: the syntax tree the parser builds (jinja_parse.c) and the
 * evaluator walks (jinja_eval.c). */
#pragma once
#include <stddef.h>

#include "tokenizer/jinja.h"

/* ---- expressions ---- */
enum {
    E_LIT_STR = 1, E_LIT_INT, E_LIT_FLOAT, E_LIT_BOOL, E_LIT_NONE, /* literals */
    E_NAME, E_ATTR, E_INDEX, E_SLICE, E_CALL, E_FILTER, E_TEST,   /* access and application */
    E_NOT, E_NEG, E_BIN, E_AND, E_OR, E_COND, E_LIST, E_DICT     /* operators and displays */
};
enum { OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
       OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN };

typedef struct jx jx_t;
struct jx {
    int kind, op, line;
    char *s;          /* literal string, name, attribute, filter or test name */
    size_t sn;
    long long i;
    double f;
    jx_t *a, *b, *c;  /* operands (COND: a if b else c; SLICE: obj a, from b, to c) */
    jx_t **args;      /* call / filter / test arguments, list and dict items */
    char **kw;        /* keyword names of args (NULL entries: positional) */
    int nargs;
    int negated;      /* E_TEST: "is not"; E_LIST: a tuple */
};

/* ---- statements ---- */
enum { S_TEXT = 1, S_OUT, S_IF, S_FOR, S_SET, S_SETBLOCK, S_MACRO, S_BREAK, S_CONTINUE };

typedef struct js js_t;
typedef struct {
    js_t **v;
    int n, cap;
} jbody_t;
struct js {
    int kind, line;
    char *text;          /* S_TEXT */
    size_t tn;
    jx_t *e;             /* S_OUT expr; S_SET value; S_FOR iterable */
    /* S_IF: conds[i] guards bodies[i]; an else body has cond NULL */
    jx_t **conds;
    jbody_t *bodies;
    int nbr;
    /* S_FOR / S_SET targets; S_SET on "ns.attr": names[0] = ns, attr */
    char **names;
    int nnames;
    char *attr;
    jx_t *filter;        /* S_FOR ... if cond */
    jbody_t body, els;   /* S_FOR body / else; S_MACRO, S_SETBLOCK body */
    /* S_MACRO parameters and their defaults (NULL: required) */
    jx_t **defaults;
};

struct jinja {
    jbody_t top;
};

void jinja_body_free(jbody_t *b);
void jinja_expr_free(jx_t *e);
