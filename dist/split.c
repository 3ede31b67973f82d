/* How a step's items (prompt groups, SFT examples) are shared out: contiguous runs, in rank
 * order, of sizes that differ by at most one. Contiguous runs keep each rank's items in the
 * global order, which the loop relies on to map local sequences back to global indices. */
#include "dist/dist.h"

void dist_split(long n, int rank, int world, long *lo, long *hi) {
    if (world < 1 || n <= 0 || rank < 0 || rank >= world) {
        *lo = *hi = 0;
        return;
    }
    size_t a, b;
    dist_shard((size_t)n, rank, world, &a, &b);
    *lo = (long)a, *hi = (long)b;
}

void dist_shard(size_t n, int rank, int world, size_t *lo, size_t *hi) {
    size_t q = n / (size_t)world, r = n % (size_t)world, k = (size_t)rank;
    *lo = k * q + (k < r ? k : r);
    *hi = *lo + q + (k < r);
}
