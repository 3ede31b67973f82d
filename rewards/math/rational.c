/* Exact rationals for the grader: int64 fractions with overflow detection (the common case),
 * and fractions of any (bounded) size for when those overflow — a literal of more than 18 digits, 10^{20}, 2^{100} — values are
 * compared here exactly instead of as doubles (where 9223372036854775807 equals
 * 9223372036854775806 and 10^{20} equals 100000000000000000001). Fractions are kept
 * unreduced (a/b = c/d is checked as a·d = c·b), magnitudes in base-10^9 limbs, and
 * every result is capped at BIG_LIMBS limbs (about 2300 digits): past that the caller
 * falls back to its structural comparison. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rewards/math/internal.h"

#define BASE 1000000000u

/* ---- exact rationals over int64 with overflow detection ---- */

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

int rat_make(int64_t n, int64_t d, rat_t *r) {
    if (d == 0 || n == INT64_MIN || d == INT64_MIN) return -1;
    if (d < 0) n = -n, d = -d;
    int64_t g = gcd64(n, d);
    if (g > 1) n /= g, d /= g;
    r->n = n;
    r->d = d;
    return 0;
}

int rat_add(rat_t a, rat_t b, rat_t *r) {
    int64_t g = gcd64(a.d, b.d), x, y, d;
    if (__builtin_mul_overflow(a.n, b.d / g, &x) || __builtin_mul_overflow(b.n, a.d / g, &y) ||
        __builtin_add_overflow(x, y, &x) || __builtin_mul_overflow(a.d / g, b.d, &d))
        return -1;
    return rat_make(x, d, r);
}

int rat_mul(rat_t a, rat_t b, rat_t *r) {
    int64_t g1 = gcd64(a.n, b.d), g2 = gcd64(b.n, a.d);
    if (g1 == 0) g1 = 1;
    if (g2 == 0) g2 = 1;
    int64_t n, d;
    if (__builtin_mul_overflow(a.n / g1, b.n / g2, &n) || __builtin_mul_overflow(a.d / g2, b.d / g1, &d)) return -1;
    return rat_make(n, d, r);
}

/* exact integer k-th root of x >= 0, if any */
static int iroot(int64_t x, int k, int64_t *out) {
    if (x < 0) return -1;
    if (x < 2) {
        *out = x;
        return 0;
    }
    int64_t r = (int64_t)llround(pow((double)x, 1.0 / k));
    for (int64_t c = r > 1 ? r - 1 : 0; c <= r + 1; c++) {
        int64_t p = 1;
        int ovf = 0;
        for (int j = 0; j < k && !ovf; j++) ovf = __builtin_mul_overflow(p, c, &p);
        if (!ovf && p == x) {
            *out = c;
            return 0;
        }
    }
    return -1;
}

int rat_root(rat_t a, int k, rat_t *r) {
    if (k < 1 || k > 64) return -1;
    int neg = a.n < 0;
    if (neg && k % 2 == 0) return -1;
    int64_t n, d;
    if (iroot(neg ? -a.n : a.n, k, &n) || iroot(a.d, k, &d)) return -1;
    return rat_make(neg ? -n : n, d, r);
}

int rat_pow(rat_t a, rat_t e, rat_t *r) {
    if (e.d > 64) return -1;
    if (e.d > 1 && rat_root(a, (int)e.d, &a)) return -1;
    int64_t k = e.n;
    if (k > 64 || k < -64) {
        /* only 0, 1 and -1 survive huge exponents exactly */
        if (a.d == 1 && (a.n == 1 || (a.n == 0 && k > 0))) return *r = a, 0;
        if (a.d == 1 && a.n == -1) return rat_make(k % 2 ? -1 : 1, 1, r);
        return -1;
    }
    rat_t acc = {1, 1};
    for (int64_t j = 0; j < (k < 0 ? -k : k); j++)
        if (rat_mul(acc, a, &acc)) return -1;
    if (k < 0) {
        if (acc.n == 0) return -1;
        return rat_make(acc.d, acc.n, r);
    }
    *r = acc;
    return 0;
}

/* ---- any size */

static int big_trim(big_t *a) {
    while (a->n > 0 && a->d[a->n - 1] == 0) a->n--;
    if (!a->n) a->neg = 0;
    return 0;
}

void big_from_i64(big_t *a, int64_t v) {
    memset(a, 0, sizeof *a);
    uint64_t m = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    a->neg = v < 0;
    while (m) {
        a->d[a->n++] = (uint32_t)(m % BASE);
        m /= BASE;
    }
}

static int cmp_mag(const big_t *a, const big_t *b) {
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

/* |r| = |a| + |b| or |a| - |b| (|a| >= |b|) */
static int add_mag(const big_t *a, const big_t *b, big_t *r) {
    int n = a->n > b->n ? a->n : b->n;
    if (n + 1 > BIG_LIMBS) return -1;
    uint32_t c = 0;
    for (int i = 0; i < n; i++) {
        uint64_t s = (uint64_t)(i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0) + c;
        r->d[i] = (uint32_t)(s % BASE);
        c = (uint32_t)(s / BASE);
    }
    r->n = n;
    if (c) r->d[r->n++] = c;
    return 0;
}

static void sub_mag(const big_t *a, const big_t *b, big_t *r) {
    int64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t s = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
        borrow = s < 0;
        r->d[i] = (uint32_t)(s + (borrow ? BASE : 0));
    }
    r->n = a->n;
    big_trim(r);
}

int big_add(const big_t *a, const big_t *b, big_t *r) {
    big_t t;
    memset(&t, 0, sizeof t);
    if (a->neg == b->neg) {
        if (add_mag(a, b, &t)) return -1;
        t.neg = a->neg;
    } else if (cmp_mag(a, b) >= 0) {
        sub_mag(a, b, &t);
        t.neg = a->neg;
    } else {
        sub_mag(b, a, &t);
        t.neg = b->neg;
    }
    big_trim(&t);
    *r = t;
    return 0;
}

int big_mul(const big_t *a, const big_t *b, big_t *r) {
    big_t t;
    memset(&t, 0, sizeof t);
    if (!a->n || !b->n) {
        *r = t;
        return 0;
    }
    if (a->n + b->n > BIG_LIMBS) return -1;
    uint64_t acc[2 * BIG_LIMBS] = {0};
    for (int i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < b->n; j++) {
            uint64_t cur = acc[i + j] + (uint64_t)a->d[i] * b->d[j] + carry;
            acc[i + j] = cur % BASE;
            carry = cur / BASE;
        }
        int k = i + b->n;
        while (carry) {
            uint64_t cur = acc[k] + carry;
            acc[k++] = cur % BASE;
            carry = cur / BASE;
        }
    }
    t.n = a->n + b->n;
    for (int i = 0; i < t.n; i++) t.d[i] = (uint32_t)acc[i];
    t.neg = a->neg != b->neg;
    big_trim(&t);
    *r = t;
    return 0;
}

int big_eq(const big_t *a, const big_t *b) { return a->neg == b->neg && cmp_mag(a, b) == 0; }

/* ---- rationals n/d, d > 0, unreduced */

int brat_from_literal(const char *s, brat_t *r) {
    /* digits [. digits] [e|E [+-] digits] */
    big_t ten, dig;
    big_from_i64(&r->n, 0);
    big_from_i64(&r->d, 1);
    big_from_i64(&ten, 10);
    int frac = 0, seen = 0;
    long expo = 0;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.') {
            frac = 1;
            continue;
        }
        if (*s < '0' || *s > '9') return -1;
        big_from_i64(&dig, *s - '0');
        if (big_mul(&r->n, &ten, &r->n) || big_add(&r->n, &dig, &r->n)) return -1;
        if (frac && big_mul(&r->d, &ten, &r->d)) return -1;
        seen = 1;
    }
    if (!seen) return -1;
    if (*s == 'e' || *s == 'E') {
        s++;
        int sign = *s == '-' ? -1 : 1;
        if (*s == '-' || *s == '+') s++;
        if (!*s) return -1;
        for (; *s; s++) {
            if (*s < '0' || *s > '9' || expo > 100000) return -1;
            expo = expo * 10 + (*s - '0');
        }
        expo *= sign;
    }
    for (long k = 0; k < (expo < 0 ? -expo : expo); k++)
        if (big_mul(expo > 0 ? &r->n : &r->d, &ten, expo > 0 ? &r->n : &r->d)) return -1;
    return 0;
}

void brat_from_rat(int64_t n, int64_t d, brat_t *r) {
    big_from_i64(&r->n, n);
    big_from_i64(&r->d, d);
}

int brat_add(const brat_t *a, const brat_t *b, brat_t *r) {
    big_t x, y, d;
    if (big_mul(&a->n, &b->d, &x) || big_mul(&b->n, &a->d, &y) || big_add(&x, &y, &x) || big_mul(&a->d, &b->d, &d))
        return -1;
    r->n = x;
    r->d = d;
    return 0;
}

int brat_mul(const brat_t *a, const brat_t *b, brat_t *r) {
    big_t n, d;
    if (big_mul(&a->n, &b->n, &n) || big_mul(&a->d, &b->d, &d)) return -1;
    r->n = n;
    r->d = d;
    return 0;
}

int brat_inv(const brat_t *a, brat_t *r) {
    if (!a->n.n) return -1;
    brat_t t = {a->d, a->n};
    t.d.neg = 0;
    t.n.neg = a->n.neg;
    *r = t;
    return 0;
}

int brat_pow(const brat_t *a, long e, brat_t *r) {
    if (e < 0) {
        brat_t inv;
        if (brat_inv(a, &inv)) return -1;
        return brat_pow(&inv, -e, r);
    }
    brat_t acc, base = *a;
    brat_from_rat(1, 1, &acc);
    while (e) { /* square and multiply; every step within the size cap */
        if ((e & 1) && brat_mul(&acc, &base, &acc)) return -1;
        e >>= 1;
        if (e && brat_mul(&base, &base, &base)) return -1;
    }
    *r = acc;
    return 0;
}

int brat_eq(const brat_t *a, const brat_t *b) {
    big_t x, y;
    if (big_mul(&a->n, &b->d, &x) || big_mul(&b->n, &a->d, &y)) return -1;
    return big_eq(&x, &y);
}
