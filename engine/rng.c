/* The seeded generator behind every random choice (blind samples, bootstrap, k-means++):
 * xoshiro256** seeded through splitmix64, so a seed gives the same stream on every platform and
 * in every version; queues and intervals are reproducible from their recorded seed. */
#include "hitl_engine.h"
#include "hitl_banned.h"

/* The next output of the splitmix64 generator with state *x (Steele et al. 2014): it turns one
 * seed into xoshiro's four well-mixed words. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void hitl_rng_seed(hitl_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

/* x rotated left by k bits, 0 < k < 64. */
static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hitl_rng_next(hitl_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hitl_rng_uniform(hitl_rng *r)
{
    return (double)(hitl_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t hitl_rng_below(hitl_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    /* Lemire's nearly-divisionless method: unbiased for every n */
    __uint128_t m = (__uint128_t)hitl_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        while (lo < t) {
            m = (__uint128_t)hitl_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}
