/* The histogram path of agreement.c on a dense item x annotator matrix: how many rows show
 * each configuration (which annotator gave which label), counted by a portable loop over
 * look-up tables or, where the CPU has AVX-512 VBMI, 64 rows at a time in vector registers. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

/* ---- the portable loop ----------------------------------------------------------------------
 * A row's code, sum over annotators of (label + 1) (L + 1)^a (0 for a missing rating), is looked
 * up two columns at a time: lut[j << 16 | x], x the 16 bits of columns 2j and 2j + 1 (an odd last
 * column: 8 bits), is the two ratings' share of the code, or BAD_LABEL (above any code) for a
 * label >= L, so a row with one lands in bin H: three loads per row of 5 instead of a load and
 * a check per rating. Counts go first to 16-bit bins, which stay in L1 (32-bit ones for 7,776
 * configurations do not), emptied into 32-bit ones every 65,535 rows. (Interleaving rows over
 * several histograms, so that increments of one bin never queue, measured slower.) */
#define BAD_LABEL   ((uint32_t)1 << 24)
#define BLOCK_ROWS  ((size_t)UINT16_MAX)
#define LUT_ENTRIES ((size_t)1 << 16)

/* Column a's share of a code for each byte value x (a label, or negative for none). */
static void code_parts(size_t A, size_t L, uint32_t part[][256])
{
    uint32_t pw = 1;
    for (size_t a = 0; a < A; a++, pw *= (uint32_t)(L + 1))
        for (int x = 0; x < 256; x++) {
            int v = (int8_t)(uint8_t)x;
            part[a][x] = v < 0 ? 0 : (size_t)v < L ? (uint32_t)(v + 1) * pw : BAD_LABEL;
        }
}

/* A row's code from its A bytes at p: one look-up per two columns (BAD_LABEL and above for a
 * label >= L). */
static inline __attribute__((always_inline)) uint32_t row_code(const uint8_t *p,
                                                               const uint32_t *lut, size_t A)
{
    uint32_t c = 0;
    size_t j = 0;
    for (; 2 * j + 1 < A; j++) /* j << 16: a constant offset once unrolled */
        c += lut[(j << 16) + ((uint32_t)p[2 * j] | (uint32_t)p[2 * j + 1] << 8)];
    if (A & 1) c += lut[(j << 16) + p[A - 1]];
    return c;
}

/* Rows [0, n) from p into h[H + 1] (zero on entry and on return), then onto acc[H + 1]; A is a
 * constant where this is inlined. */
static inline __attribute__((always_inline)) void matrix_rows(const uint8_t *p, size_t n, size_t A,
                                                              const uint32_t *lut, uint32_t H,
                                                              uint16_t *h, uint32_t *acc)
{
    for (size_t u0 = 0; u0 < n; u0 += BLOCK_ROWS) {
        size_t u = u0, u1 = n - u0 < BLOCK_ROWS ? n : u0 + BLOCK_ROWS;
        for (; u + 4 <= u1; u += 4, p += 4 * A) { /* four codes' loads ahead of their bins */
            uint32_t c0 = row_code(p, lut, A), c1 = row_code(p + A, lut, A);
            uint32_t c2 = row_code(p + 2 * A, lut, A), c3 = row_code(p + 3 * A, lut, A);
            h[c0 < H ? c0 : H]++;
            h[c1 < H ? c1 : H]++;
            h[c2 < H ? c2 : H]++;
            h[c3 < H ? c3 : H]++;
        }
        for (; u < u1; u++, p += A) {
            uint32_t c = row_code(p, lut, A);
            h[c < H ? c : H]++;
        }
        for (size_t c = 0; c <= H; c++) {
            acc[c] += h[c];
            h[c] = 0;
        }
    }
}

/* One unrolled loop per width (the look-ups are the whole cost); a case per line reads better
 * than clang-format's layout of fifteen. */
static void matrix_rows_any(const uint8_t *p, size_t n, size_t A, const uint32_t *lut, uint32_t H,
                            uint16_t *h, uint32_t *acc)
{
    // clang-format off
    switch (A) {
    case 2: matrix_rows(p, n, 2, lut, H, h, acc); break;
    case 3: matrix_rows(p, n, 3, lut, H, h, acc); break;
    case 4: matrix_rows(p, n, 4, lut, H, h, acc); break;
    case 5: matrix_rows(p, n, 5, lut, H, h, acc); break;
    case 6: matrix_rows(p, n, 6, lut, H, h, acc); break;
    case 7: matrix_rows(p, n, 7, lut, H, h, acc); break;
    case 8: matrix_rows(p, n, 8, lut, H, h, acc); break;
    case 9: matrix_rows(p, n, 9, lut, H, h, acc); break;
    case 10: matrix_rows(p, n, 10, lut, H, h, acc); break;
    case 11: matrix_rows(p, n, 11, lut, H, h, acc); break;
    case 12: matrix_rows(p, n, 12, lut, H, h, acc); break;
    case 13: matrix_rows(p, n, 13, lut, H, h, acc); break;
    case 14: matrix_rows(p, n, 14, lut, H, h, acc); break;
    case 15: matrix_rows(p, n, 15, lut, H, h, acc); break;
    case 16: matrix_rows(p, n, 16, lut, H, h, acc); break;
    default: matrix_rows(p, n, A, lut, H, h, acc);
    }
    // clang-format on
}

/* ---- the same with AVX-512 VBMI --------------------------------------------------------------
 * 64 rows at a time: their A * 64 bytes in A registers, each annotator's column gathered into
 * one register by byte permutes across register pairs (vpermi2b), then the codes of all 64 rows
 * summed in 16-bit lanes (exact: every code is below H <= 2^16), a bad label flagged per row
 * (its code becomes H, which must then fit 16 bits: H < 2^16); only the bins' increments stay
 * scalar. 1M x 5 on one core here: 0.6 ms against the LUT loop's 1.0. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_VBMI 1
#define VBMI      __attribute__((target("avx512f,avx512bw,avx512vbmi")))

typedef struct vbmi_plan {
    __m512i idx[16][8];     /* column a's bytes of register pair j: lane r <- row r's cell */
    __mmask64 from[16][8];  /* the rows whose cell is in pair j */
    __m512i pw[16], lim, h; /* (L + 1)^a in 16-bit lanes; L in bytes; H in 16-bit lanes */
} vbmi_plan;

/* Whether this CPU runs the AVX-512 F, BW and VBMI instructions vbmi_codes uses. */
static int have_vbmi(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi");
}

/* The permutes, masks and constants of vbmi_codes for A annotators, L labels, H codes. */
VBMI static void vbmi_plan_make(vbmi_plan *pl, size_t A, size_t L, size_t H)
{
    uint16_t pw = 1;
    for (size_t a = 0; a < A; a++, pw = (uint16_t)(pw * (L + 1))) {
        for (size_t j = 0; j < (A + 1) / 2; j++) {
            uint8_t idx[64];
            uint64_t from = 0;
            for (size_t r = 0; r < 64; r++) {
                size_t q = r * A + a; /* the cell's byte in the group; register q / 64 */
                int in = q / 128 == j;
                idx[r] = in ? (uint8_t)(q % 128) : 0;
                from |= (uint64_t)in << r;
            }
            pl->idx[a][j] = _mm512_loadu_si512(idx);
            pl->from[a][j] = from;
        }
        pl->pw[a] = _mm512_set1_epi16((short)pw);
    }
    pl->lim = _mm512_set1_epi8((char)L);
    pl->h = _mm512_set1_epi16((short)(uint16_t)H);
}

/* The codes of the 64 rows at p into c[64] (H for a row with a bad label). */
VBMI static inline __attribute__((always_inline)) void
vbmi_codes(const vbmi_plan *pl, const uint8_t *p, size_t A, uint16_t *c)
{
    __m512i src[17], lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi8(1);
    __mmask64 bad = 0;
    for (size_t k = 0; k < A; k++)
        src[k] = _mm512_loadu_si512(p + 64 * k);
    src[A] = src[A - 1]; /* an odd last register pairs with itself */
    for (size_t a = 0; a < A; a++) {
        __m512i x = _mm512_setzero_si512();
        for (size_t j = 0; j < (A + 1) / 2; j++)
            x = _mm512_mask_mov_epi8(
                x, pl->from[a][j],
                _mm512_permutex2var_epi8(src[2 * j], pl->idx[a][j], src[2 * j + 1]));
        __mmask64 none = _mm512_movepi8_mask(x); /* negative: no rating */
        bad |= _mm512_mask_cmpge_epi8_mask(~none, x, pl->lim);
        __m512i d = _mm512_maskz_add_epi8(~none, x, one);
        lo = _mm512_add_epi16(
            lo, _mm512_mullo_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(d)), pl->pw[a]));
        hi = _mm512_add_epi16(
            hi,
            _mm512_mullo_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(d, 1)), pl->pw[a]));
    }
    _mm512_storeu_si512(c, _mm512_mask_mov_epi16(lo, (__mmask32)bad, pl->h));
    _mm512_storeu_si512(c + 32, _mm512_mask_mov_epi16(hi, (__mmask32)(bad >> 32), pl->h));
}

/* As matrix_rows, 64 rows at a time; the last n % 64 cell by cell. */
VBMI static inline __attribute__((always_inline)) void vbmi_rows(const vbmi_plan *pl,
                                                                 const uint8_t *p, size_t n,
                                                                 size_t A, size_t L, uint32_t H,
                                                                 uint16_t *h, uint32_t *acc)
{
    uint16_t c[64];
    size_t groups = n / 64, per_block = BLOCK_ROWS / 64;
    for (size_t g0 = 0; g0 < groups; g0 += per_block) {
        size_t g1 = groups - g0 < per_block ? groups : g0 + per_block;
        for (size_t g = g0; g < g1; g++, p += 64 * A) {
            vbmi_codes(pl, p, A, c);
            for (size_t i = 0; i < 64; i++)
                h[c[i]]++;
        }
        for (size_t k = 0; k <= H; k++) {
            acc[k] += h[k];
            h[k] = 0;
        }
    }
    for (size_t u = groups * 64; u < n; u++, p += A) {
        uint32_t code = 0, pw = 1;
        for (size_t a = 0; a < A; a++, pw *= (uint32_t)(L + 1)) {
            int v = (int8_t)p[a];
            code = v < 0 ? code : (size_t)v < L ? code + (uint32_t)(v + 1) * pw : H;
            if (code == H) break;
        }
        acc[code]++;
    }
}

/* One unrolled loop per width, as matrix_rows_any. */
VBMI static void vbmi_rows_any(const vbmi_plan *pl, const uint8_t *p, size_t n, size_t A, size_t L,
                               uint32_t H, uint16_t *h, uint32_t *acc)
{
    // clang-format off
    switch (A) {
    case 2: vbmi_rows(pl, p, n, 2, L, H, h, acc); break;
    case 3: vbmi_rows(pl, p, n, 3, L, H, h, acc); break;
    case 4: vbmi_rows(pl, p, n, 4, L, H, h, acc); break;
    case 5: vbmi_rows(pl, p, n, 5, L, H, h, acc); break;
    case 6: vbmi_rows(pl, p, n, 6, L, H, h, acc); break;
    case 7: vbmi_rows(pl, p, n, 7, L, H, h, acc); break;
    case 8: vbmi_rows(pl, p, n, 8, L, H, h, acc); break;
    case 9: vbmi_rows(pl, p, n, 9, L, H, h, acc); break;
    case 10: vbmi_rows(pl, p, n, 10, L, H, h, acc); break;
    case 11: vbmi_rows(pl, p, n, 11, L, H, h, acc); break;
    case 12: vbmi_rows(pl, p, n, 12, L, H, h, acc); break;
    case 13: vbmi_rows(pl, p, n, 13, L, H, h, acc); break;
    case 14: vbmi_rows(pl, p, n, 14, L, H, h, acc); break;
    case 15: vbmi_rows(pl, p, n, 15, L, H, h, acc); break;
    default: vbmi_rows(pl, p, n, 16, L, H, h, acc);
    }
    // clang-format on
}
#else
#define HAVE_VBMI 0
#endif

int hitl__matrix_hist(const hitl_ratings_matrix *m, size_t H, int nt, int portable, int64_t *hist)
{
    size_t n = m->n_items, A = m->n_annotators, L = m->n_labels, n_lut = (A + 1) / 2;
    /* per thread: 32-bit bins, then 16-bit ones, on cache lines of their own */
    size_t per = ((H + 1) * (sizeof(uint32_t) + sizeof(uint16_t)) + 63) & ~(size_t)63;
    if (n < ((size_t)1 << 14)) nt = 1; /* a team costs more than it saves */
    uint32_t(*part)[256] = NULL, *lut = NULL;
    unsigned char *scratch = calloc((size_t)nt, per); /* nt <= cores, per < 1 MiB */
    int vbmi = 0, rc = -1;
    void *plan = NULL; /* a vbmi_plan */
#if HAVE_VBMI
    vbmi = !portable && H < ((size_t)1 << 16) && have_vbmi();
    if (vbmi && (plan = aligned_alloc(64, sizeof(vbmi_plan)))) vbmi_plan_make(plan, A, L, H);
#endif
    if (!vbmi) {
        part = malloc(A * sizeof(*part)); /* A <= 16 */
        lut = malloc(n_lut * LUT_ENTRIES * sizeof(uint32_t));
    }
    if (!scratch || (vbmi && !plan) || (!vbmi && (!part || !lut))) goto done;
    if (!vbmi) code_parts(A, L, part);
    size_t chunk = (n + (size_t)nt - 1) / (size_t)nt;
#pragma omp parallel num_threads(nt)
    {
        /* the tables: row hi of pair j (256 entries) for each (j, hi); an odd last column's
         * table is its first row */
#pragma omp for schedule(static)
        for (size_t k = 0; k < (vbmi ? 0 : n_lut * 256); k++) {
            size_t j = k / 256, hi = k % 256;
            uint32_t *row = lut + (j << 16) + (hi << 8);
            if (2 * j + 1 < A)
                for (size_t x = 0; x < 256; x++)
                    row[x] = part[2 * j + 1][hi] + part[2 * j][x];
            else if (hi == 0)
                memcpy(row, part[2 * j], sizeof(part[0]));
        }
        /* chunk t into scratch t, whatever the team's size (a nested call gets a team of one) */
        for (size_t t = (size_t)omp_get_thread_num(); t < (size_t)nt;
             t += (size_t)omp_get_num_threads()) {
            size_t u0 = t * chunk, u1 = u0 + chunk;
            uint32_t *acc = (uint32_t *)(void *)(scratch + t * per);
            uint16_t *h = (uint16_t *)(void *)(acc + H + 1);
            const uint8_t *p = (const uint8_t *)m->m + u0 * A;
            if (u1 > n) u1 = n;
#if HAVE_VBMI
            if (u0 < u1 && vbmi) vbmi_rows_any(plan, p, u1 - u0, A, L, (uint32_t)H, h, acc);
#endif
            if (u0 < u1 && !vbmi) matrix_rows_any(p, u1 - u0, A, lut, (uint32_t)H, h, acc);
        }
    }
    int64_t bad = 0;
    for (size_t t = 0; t < (size_t)nt; t++) {
        const uint32_t *acc = (const uint32_t *)(const void *)(scratch + t * per);
        for (size_t c = 0; c < H; c++)
            hist[c] += acc[c];
        bad += acc[H];
    }
    rc = bad != 0;
done:
    free(part);
    free(lut);
    free(scratch);
    free(plan);
    return rc;
}
