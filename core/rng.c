/* Non-inline parts of the host RNG. */
#include <math.h>

#include "core/philox.h"

double rlc_rng_normal(rlc_rng_t *r) {
    double u1 = rlc_rng_unit(r), u2 = rlc_rng_unit(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
