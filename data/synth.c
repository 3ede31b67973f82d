/* Synthetic tasks: arithmetic problems with worked solutions and Countdown puzzles with an
 * exact (rational, overflow-checked) verifier. Each problem is drawn from its own Philox
 * stream (seed, index), so problem i does not depend on how many others were made. */
#include "data/synth.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/philox.h"

/* ---- a small string builder ---- */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sb_t;

static void sb_printf(sb_t *b, const char *fmt, ...) RLC_PRINTF(2, 3);
static void sb_printf(sb_t *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + (size_t)n + 1) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
}

static long rng_range(rlc_rng_t *r, long lo, long hi) { /* inclusive */
    if (hi <= lo) return lo;
    return lo + (long)rlc_rng_below(r, (uint32_t)(hi - lo + 1));
}

static long pow10l_(int d) {
    long v = 1;
    while (d-- > 0) v *= 10;
    return v;
}

/* ---- arithmetic ---- */

void data_arith_opts_default(data_arith_opts_t *o) {
    o->min_digits = 2;
    o->max_digits = 3;
    o->min_operands = 2;
    o->max_operands = 2;
    o->ops = "+-*";
    o->allow_negative = 0;
    o->detail = 1;
    o->column_frac = 0;
}

static int arith_check(const data_arith_opts_t *o) {
    if (o->min_digits < 1 || o->max_digits > 9 || o->min_digits > o->max_digits)
        return rlc_errc(RLC_EINVAL, "arithmetic task: digits must satisfy 1 <= min <= max <= 9 (got %d..%d)",
                        o->min_digits, o->max_digits);
    if (o->min_operands < 2 || o->max_operands > 8 || o->min_operands > o->max_operands)
        return rlc_errc(RLC_EINVAL, "arithmetic task: operands must satisfy 2 <= min <= max <= 8 (got %d..%d)",
                        o->min_operands, o->max_operands);
    if (!o->ops || !o->ops[0]) return rlc_errc(RLC_EINVAL, "arithmetic task: empty operator set");
    if (!(o->column_frac >= 0 && o->column_frac <= 1))
        return rlc_errc(RLC_EINVAL, "arithmetic task: column_frac must be in [0, 1]");
    for (const char *p = o->ops; *p; p++)
        if (!strchr("+-*/", *p)) return rlc_errc(RLC_EINVAL, "arithmetic task: unknown operator '%c' (use +-*/)", *p);
    return 0;
}

/* a op b with overflow check; returns 0 or -1 */
static int apply(long long a, char op, long long b, long long *out) {
    switch (op) {
    case '+': return __builtin_add_overflow(a, b, out) ? -1 : 0;
    case '-': return __builtin_sub_overflow(a, b, out) ? -1 : 0;
    case '*': return __builtin_mul_overflow(a, b, out) ? -1 : 0;
    case '/':
        if (b == 0 || a % b) return -1;
        *out = a / b;
        return 0;
    }
    return -1;
}

/* "385 * 26 = 385 * 20 + 385 * 6 = 7700 + 2310 = 10010" */
static void product_detail(sb_t *s, long long a, long long b) {
    long long parts[12];
    int np = 0;
    long long place = 1;
    for (long long x = b; x > 0 && np < 12; x /= 10, place *= 10)
        if (x % 10) parts[np++] = (x % 10) * place;
    if (np < 2) return;
    for (int i = np - 1; i >= 0; i--) sb_printf(s, "%s%lld * %lld", i == np - 1 ? " = " : " + ", a, parts[i]);
    for (int i = np - 1; i >= 0; i--) sb_printf(s, "%s%lld", i == np - 1 ? " = " : " + ", a * parts[i]);
}

/* a + b or a - b (a >= b >= 0) worked column by column from the units: each line does one
 * digit with its carry or borrow and shows the result so far, e.g.
 *   "7 + 5 = 12, so 2 carry 1" / "4 + 8 + 1 = 13, so 32 carry 1" / "carry 1, so 132". */
static void column_detail(sb_t *s, long long a, char op, long long b) {
    char part[40];
    int np = 0, carry = 0;
    sb_printf(s, "%lld %c %lld, column by column:\n", a, op, b);
    for (long long x = a, y = b; x > 0 || y > 0; x /= 10, y /= 10) {
        int da = (int)(x % 10), db = (int)(y % 10), d;
        if (op == '+') {
            int t = da + db + carry;
            if (carry)
                sb_printf(s, "%d + %d + %d = %d", da, db, carry, t);
            else
                sb_printf(s, "%d + %d = %d", da, db, t);
            d = t % 10;
            carry = t / 10;
        } else {
            int t = da - db - carry;
            if (t < 0) {
                sb_printf(s, "%d - %d%s: borrow, %d - %d = %d", da, db, carry ? " - 1" : "", da + 10 - carry, db,
                          t + 10);
                d = t + 10;
                carry = 1;
            } else {
                if (carry)
                    sb_printf(s, "%d - %d - 1 = %d", da, db, t);
                else
                    sb_printf(s, "%d - %d = %d", da, db, t);
                d = t;
                carry = 0;
            }
        }
        memmove(part + 1, part, (size_t)np);
        part[0] = (char)('0' + d);
        np++;
        sb_printf(s, ", so %.*s%s\n", np, part, op == '+' && carry ? " carry 1" : op == '-' && carry ? " borrow 1" : "");
    }
    if (op == '+' && carry) {
        memmove(part + 1, part, (size_t)np);
        part[0] = '1';
        np++;
        sb_printf(s, "carry 1, so %.*s\n", np, part);
    }
}

/* Evaluate with precedence, writing one line per operation into sol. Returns 0, or -1 on
 * overflow / inexact division / a negative intermediate when not allowed. */
static int arith_solve(long long *v, char *ops, int k, const data_arith_opts_t *o, int columns, sb_t *sol) {
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < k - 1;) {
            int hi = ops[i] == '*' || ops[i] == '/';
            if (hi != (pass == 0)) {
                i++;
                continue;
            }
            long long r;
            if (apply(v[i], ops[i], v[i + 1], &r)) return -1;
            if (r < 0 && !o->allow_negative) return -1;
            if (sol && columns && (ops[i] == '+' || ops[i] == '-') && v[i] >= 0 && v[i + 1] >= 0 && r >= 0)
                column_detail(sol, v[i], ops[i], v[i + 1]);
            if (sol) {
                sb_printf(sol, "%lld %c %lld", v[i], ops[i], v[i + 1]);
                if (ops[i] == '*' && o->detail && v[i + 1] >= 10) product_detail(sol, v[i], v[i + 1]);
                sb_printf(sol, " = %lld\n", r);
            }
            v[i] = r;
            memmove(v + i + 1, v + i + 2, sizeof *v * (size_t)(k - i - 2));
            memmove(ops + i, ops + i + 1, (size_t)(k - i - 2));
            k--;
        }
    }
    return 0;
}

static int arith_one(const data_arith_opts_t *o, uint64_t seed, long index, data_set_t *ds) {
    rlc_rng_t r;
    rlc_rng_init(&r, seed, 0x61726974ULL << 32 ^ (uint64_t)index);
    long long v[8], w[8];
    char ops[8], ow[8];
    int k = 0, ok = 0;
    size_t nops = strlen(o->ops);
    for (int attempt = 0; attempt < 64 && !ok; attempt++) {
        k = (int)rng_range(&r, o->min_operands, o->max_operands);
        for (int i = 0; i < k; i++) {
            int d = (int)rng_range(&r, o->min_digits, o->max_digits);
            v[i] = rng_range(&r, d == 1 ? 1 : pow10l_(d - 1), pow10l_(d) - 1);
        }
        for (int i = 0; i < k - 1; i++) ops[i] = o->ops[rlc_rng_below(&r, (uint32_t)nops)];
        /* exact division: make the dividend a multiple (only when it is a plain number) */
        for (int i = 0; i < k - 1; i++)
            if (ops[i] == '/') {
                if (i > 0 && (ops[i - 1] == '*' || ops[i - 1] == '/')) ops[i] = '*';
                else v[i] = v[i + 1] * rng_range(&r, 2, pow10l_(o->max_digits) - 1);
            }
        memcpy(w, v, sizeof v);
        memcpy(ow, ops, sizeof ops);
        ok = arith_solve(w, ow, k, o, 0, NULL) == 0;
        if (!ok && attempt == 63) { /* fall back to sums, always valid */
            for (int i = 0; i < k - 1; i++) ops[i] = '+';
            ok = 1;
        }
    }
    sb_t prob = {0}, sol = {0};
    sb_printf(&prob, "Compute ");
    sb_printf(&prob, "%lld", v[0]);
    for (int i = 1; i < k; i++) sb_printf(&prob, " %c %lld", ops[i - 1], v[i]);
    sb_printf(&prob, ".");
    memcpy(w, v, sizeof v);
    memcpy(ow, ops, sizeof ops);
    /* drawn last, and only when asked for, so problems made without it are unchanged */
    int columns = o->column_frac > 0 && rlc_rng_unit(&r) < o->column_frac;
    int rc = arith_solve(w, ow, k, o, columns, &sol);
    char ans[32];
    snprintf(ans, sizeof ans, "%lld", w[0]);
    sb_printf(&sol, "The answer is \\boxed{%s}.", ans);
    if (rc == 0 && (prob.oom || sol.oom)) rc = rlc_errc(RLC_ENOMEM, "out of memory generating arithmetic");
    if (rc == 0) {
        char id[48];
        snprintf(id, sizeof id, "arith-%llx-%ld", (unsigned long long)seed, index);
        cJSON *meta = cJSON_CreateObject();
        if (!meta || !cJSON_AddStringToObject(meta, "task", "arith")) rc = RLC_ENOMEM;
        else rc = data_set_add(ds, id, prob.p, ans, sol.p, meta);
        cJSON_Delete(meta);
    } else if (rc == -1) {
        rc = rlc_errc(RLC_ERR, "arithmetic task: internal error solving problem %ld", index);
    }
    free(prob.p);
    free(sol.p);
    return rc;
}

int data_synth_arith(data_set_t *ds, long n, const data_arith_opts_t *o, uint64_t seed) {
    data_arith_opts_t def;
    if (!o) data_arith_opts_default(&def), o = &def;
    int rc = arith_check(o);
    for (long i = 0; i < n && !rc; i++) rc = arith_one(o, seed, i, ds);
    return rc;
}

/* ---- Countdown ---- */

void data_countdown_opts_default(data_countdown_opts_t *o) {
    o->n_numbers = 4;
    o->max_number = 25;
    o->max_target = 200;
}

static int countdown_one(const data_countdown_opts_t *o, uint64_t seed, long index, data_set_t *ds) {
    rlc_rng_t r;
    rlc_rng_init(&r, seed, 0x636f756eULL << 32 ^ (uint64_t)index);
    long nums[6];
    int n = o->n_numbers;
    for (int i = 0; i < n; i++) nums[i] = rng_range(&r, 1, o->max_number);
    char expr[256], steps[512];
    long target = 0;
    int found = 0;
    for (int attempt = 0; attempt < 200 && !found; attempt++) {
        int order[6];
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n; i > 1; i--) {
            int j = (int)rlc_rng_below(&r, (uint32_t)i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        int m = n - (int)rlc_rng_below(&r, 2); /* use all numbers, or all but one */
        if (m < 2) m = 2;
        long long acc = nums[order[0]];
        snprintf(expr, sizeof expr, "%ld", nums[order[0]]);
        steps[0] = 0;
        size_t sl = 0;
        int ok = 1;
        for (int s = 1; s < m && ok; s++) {
            long long b = nums[order[s]], res = 0;
            char op = "+-*/"[rlc_rng_below(&r, 4)];
            int swap = 0; /* b op acc instead of acc op b */
            if (op == '-' && acc <= b) swap = acc < b, ok = acc != b;
            if (op == '/' && !(b > 1 && acc % b == 0)) {
                if (acc > 1 && b % acc == 0) swap = 1;
                else op = '+';
            }
            if (!ok) break;
            long long x = swap ? b : acc, y = swap ? acc : b;
            if (apply(x, op, y, &res) || res <= 0 || res > 1000000) {
                ok = 0;
                break;
            }
            char tmp[600];
            if (swap) snprintf(tmp, sizeof tmp, s == 1 ? "%lld %c %s" : "%lld %c (%s)", b, op, expr);
            else snprintf(tmp, sizeof tmp, s == 1 ? "%s %c %lld" : "(%s) %c %lld", expr, op, b);
            if (strlen(tmp) >= sizeof expr) {
                ok = 0;
                break;
            }
            memcpy(expr, tmp, strlen(tmp) + 1);
            int w = snprintf(steps + sl, sizeof steps - sl, "%lld %c %lld = %lld\n", x, op, y, res);
            if (w < 0 || (size_t)w >= sizeof steps - sl) {
                ok = 0;
                break;
            }
            sl += (size_t)w;
            acc = res;
        }
        if (!ok || acc < 1 || acc > o->max_target) continue;
        int trivial = 0;
        for (int i = 0; i < n; i++) trivial |= nums[i] == acc;
        if (trivial) continue;
        target = (long)acc;
        found = 1;
    }
    if (!found) { /* always solvable: the sum of the first two */
        target = nums[0] + nums[1];
        snprintf(expr, sizeof expr, "%ld + %ld", nums[0], nums[1]);
        snprintf(steps, sizeof steps, "%ld + %ld = %ld\n", nums[0], nums[1], target);
    }
    sb_t prob = {0}, sol = {0};
    sb_printf(&prob, "Using the numbers [");
    for (int i = 0; i < n; i++) sb_printf(&prob, i ? ", %ld" : "%ld", nums[i]);
    sb_printf(&prob,
              "], create an expression that equals %ld. You can use +, -, * and / and each number at most "
              "once. Put the final expression (without \"= %ld\") within \\boxed{}.",
              target, target);
    sb_printf(&sol, "%sThe answer is \\boxed{%s}.", steps, expr);
    int rc = prob.oom || sol.oom ? rlc_errc(RLC_ENOMEM, "out of memory generating countdown") : 0;
    cJSON *meta = rc ? NULL : cJSON_CreateObject();
    if (!rc && meta) {
        cJSON *arr = cJSON_AddArrayToObject(meta, "numbers");
        for (int i = 0; arr && i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)nums[i]));
        if (!arr || !cJSON_AddStringToObject(meta, "task", "countdown") ||
            !cJSON_AddNumberToObject(meta, "target", (double)target))
            rc = RLC_ENOMEM;
    } else if (!rc) {
        rc = RLC_ENOMEM;
    }
    if (!rc) {
        char id[48];
        snprintf(id, sizeof id, "countdown-%llx-%ld", (unsigned long long)seed, index);
        rc = data_set_add(ds, id, prob.p, expr, sol.p, meta);
    }
    cJSON_Delete(meta);
    free(prob.p);
    free(sol.p);
    return rc;
}

int data_synth_countdown(data_set_t *ds, long n, const data_countdown_opts_t *o, uint64_t seed) {
    data_countdown_opts_t def;
    if (!o) data_countdown_opts_default(&def), o = &def;
    if (o->n_numbers < 2 || o->n_numbers > 6)
        return rlc_errc(RLC_EINVAL, "countdown task: n_numbers must be 2..6 (got %d)", o->n_numbers);
    if (o->max_number < 2 || o->max_number > 100000)
        return rlc_errc(RLC_EINVAL, "countdown task: max_number must be 2..100000 (got %d)", o->max_number);
    if (o->max_target < 2) return rlc_errc(RLC_EINVAL, "countdown task: max_target must be >= 2");
    int rc = 0;
    for (long i = 0; i < n && !rc; i++) rc = countdown_one(o, seed, i, ds);
    return rc;
}

/* ---- the verifier: recursive descent over exact rationals, depth-capped ---- */

#define CD_MAX_DEPTH 64
#define CD_MAX_NUMS 32

typedef struct {
    long long n, d;
} q_t;

typedef struct {
    const char *s;
    size_t i, n;
    int depth, bad;
    long used[CD_MAX_NUMS];
    int n_used;
    char why[128];
} cd_t;

static long long gcdll(long long a, long long b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a ? a : 1;
}

static q_t cd_fail(cd_t *p, const char *why) {
    if (!p->bad) snprintf(p->why, sizeof p->why, "%s", why);
    p->bad = 1;
    q_t z = {0, 1};
    return z;
}

static q_t q_norm(cd_t *p, long long n, long long d) {
    if (d == 0) return cd_fail(p, "division by zero");
    if (d < 0) {
        if (n == LLONG_MIN || d == LLONG_MIN) return cd_fail(p, "number too large");
        n = -n, d = -d;
    }
    long long g = gcdll(n, d);
    q_t q = {n / g, d / g};
    return q;
}

static q_t q_op(cd_t *p, q_t a, char op, q_t b) {
    long long x, y, z;
    switch (op) {
    case '+':
    case '-':
        if (__builtin_mul_overflow(a.n, b.d, &x) || __builtin_mul_overflow(b.n, a.d, &y) ||
            (op == '+' ? __builtin_add_overflow(x, y, &x) : __builtin_sub_overflow(x, y, &x)) ||
            __builtin_mul_overflow(a.d, b.d, &z))
            return cd_fail(p, "number too large");
        return q_norm(p, x, z);
    case '*':
        if (__builtin_mul_overflow(a.n, b.n, &x) || __builtin_mul_overflow(a.d, b.d, &z))
            return cd_fail(p, "number too large");
        return q_norm(p, x, z);
    default:
        if (b.n == 0) return cd_fail(p, "division by zero");
        if (__builtin_mul_overflow(a.n, b.d, &x) || __builtin_mul_overflow(a.d, b.n, &z))
            return cd_fail(p, "number too large");
        return q_norm(p, x, z);
    }
}

static void cd_space(cd_t *p) {
    for (;;) {
        while (p->i < p->n && isspace((unsigned char)p->s[p->i])) p->i++;
        /* LaTeX spacing and sizing that carry no meaning here */
        static const char *const skip[] = {"\\left", "\\right", "\\,", "\\;", "\\!", "\\ ", "$", NULL};
        int hit = 0;
        for (const char *const *k = skip; *k && !hit; k++) {
            size_t l = strlen(*k);
            if (p->i + l <= p->n && !memcmp(p->s + p->i, *k, l)) p->i += l, hit = 1;
        }
        if (!hit) return;
    }
}

/* The operator at the cursor ('+', '-', '*', '/') or 0; consumes it. */
static char cd_op(cd_t *p, int mul) {
    cd_space(p);
    static const struct {
        const char *t;
        char op;
    } ops[] = {{"+", '+'},        {"-", '-'},           {"\xe2\x88\x92", '-'}, {"*", '*'}, {"\\times", '*'},
               {"\\cdot", '*'},   {"\xc3\x97", '*'},    {"x", '*'},            {"/", '/'}, {"\\div", '/'},
               {"\xc3\xb7", '/'}, {NULL, 0}};
    for (int k = 0; ops[k].t; k++) {
        size_t l = strlen(ops[k].t);
        int is_mul = ops[k].op == '*' || ops[k].op == '/';
        if (is_mul != mul) continue;
        if (p->i + l <= p->n && !memcmp(p->s + p->i, ops[k].t, l)) {
            p->i += l;
            return ops[k].op;
        }
    }
    return 0;
}

static q_t cd_expr(cd_t *p);

static q_t cd_atom(cd_t *p) {
    if (++p->depth > CD_MAX_DEPTH) return cd_fail(p, "expression nested too deeply");
    cd_space(p);
    q_t r = {0, 1};
    char c = p->i < p->n ? p->s[p->i] : 0;
    if (c == '(' || c == '[' || c == '{') {
        char close = c == '(' ? ')' : c == '[' ? ']' : '}';
        p->i++;
        r = cd_expr(p);
        cd_space(p);
        if (p->i >= p->n || p->s[p->i] != close) r = cd_fail(p, "unbalanced parentheses");
        else p->i++;
    } else if (isdigit((unsigned char)c)) {
        long long v = 0;
        while (p->i < p->n && isdigit((unsigned char)p->s[p->i])) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, p->s[p->i] - '0', &v)) {
                r = cd_fail(p, "number too large");
                break;
            }
            p->i++;
        }
        if (p->i < p->n && p->s[p->i] == '.') r = cd_fail(p, "only whole numbers may be used");
        if (!p->bad) {
            if (p->n_used >= CD_MAX_NUMS) r = cd_fail(p, "too many numbers");
            else p->used[p->n_used++] = (long)v, r.n = v, r.d = 1;
        }
    } else {
        r = cd_fail(p, c == '-' ? "negative numbers are not allowed" : "expected a number or '('");
    }
    p->depth--;
    return r;
}

static q_t cd_term(cd_t *p) {
    q_t a = cd_atom(p);
    char op;
    while (!p->bad && (op = cd_op(p, 1))) a = q_op(p, a, op, cd_atom(p));
    return a;
}

static q_t cd_expr(cd_t *p) {
    if (++p->depth > CD_MAX_DEPTH) return cd_fail(p, "expression nested too deeply");
    q_t a = cd_term(p);
    char op;
    while (!p->bad && (op = cd_op(p, 0))) a = q_op(p, a, op, cd_term(p));
    p->depth--;
    return a;
}

int data_countdown_check(const char *expr, const long *numbers, int n, long target, char *why, size_t cap) {
    cd_t p;
    memset(&p, 0, sizeof p);
    if (why && cap) why[0] = 0;
    if (!expr || (!numbers && n > 0) || n < 0) {
        if (why && cap) snprintf(why, cap, "no expression");
        return 0;
    }
    p.s = expr;
    p.n = strlen(expr);
    /* an optional "= target" at the end */
    const char *eq = memchr(expr, '=', p.n);
    if (eq) {
        char *end;
        long long rhs = strtoll(eq + 1, &end, 10);
        while (*end && isspace((unsigned char)*end)) end++;
        if (*end || end == eq + 1 || rhs != target) {
            if (why && cap) snprintf(why, cap, "the right side of '=' is not the target %ld", target);
            return 0;
        }
        p.n = (size_t)(eq - expr);
    }
    q_t v = cd_expr(&p);
    cd_space(&p);
    if (!p.bad && p.i != p.n) cd_fail(&p, "unexpected text in the expression");
    if (!p.bad && p.n_used == 0) cd_fail(&p, "no numbers used");
    if (!p.bad) {
        /* multiset containment: each given number at most once */
        int taken[64] = {0};
        if (n > 64) n = 64;
        for (int u = 0; u < p.n_used && !p.bad; u++) {
            int k = 0;
            while (k < n && (taken[k] || numbers[k] != p.used[u])) k++;
            if (k == n) {
                snprintf(p.why, sizeof p.why, "%ld is not available (or used twice)", p.used[u]);
                p.bad = 1;
            } else {
                taken[k] = 1;
            }
        }
    }
    if (!p.bad && !(v.d == 1 && v.n == target)) {
        if (v.d == 1) snprintf(p.why, sizeof p.why, "evaluates to %lld, not %ld", v.n, target);
        else snprintf(p.why, sizeof p.why, "evaluates to %lld/%lld, not %ld", v.n, v.d, target);
        p.bad = 1;
    }
    if (p.bad && why && cap) snprintf(why, cap, "%s", p.why);
    return !p.bad;
}
