// What the AVX-512 kernels share: their target attribute, Horner's rule on 16 lanes, a 16 × 16
// transpose in registers, and for the f32 and bf16 panel kernels the masked store of an accumulator
// tile of up to 10 × 32 (TILE_ROWS), the split of the rows into balanced tiles, and the switch that
// turns a tile's row count into a compile-time constant (so the tile function is specialized per row
// count and its unused accumulators fold away); also the weight prefetches (a panel's first row tile
// ahead of itself, every tile a share of the next call's panels), which the AVX2 panel kernel uses
// too. Internal to CKernels.
#ifndef CKERNELS_TILE512_H
#define CKERNELS_TILE512_H
#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

// horner8 of avx2.h on 16 lanes: one fused multiply-add per coefficient, highest first.
static inline __attribute__((always_inline)) AVX512 __m512 horner16(__m512 x, const float *c, int n) {
  __m512 p = _mm512_set1_ps(c[0]);
  for (int i = 1; i < n; i++) p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c[i]));
  return p;
}

// In-register transpose of 16 rows of 16 32-bit lanes (the attention kernels' keys): r[c] becomes
// column c. Pairs of rows interleave (ps), then pairs of pairs (pd), giving 4 × 4 blocks per 128-bit
// lane that two lane shuffles gather.
static inline __attribute__((always_inline)) AVX512 void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4·i + k], lane L: column 4·L + k of rows 4·i ..< 4·i + 4.
  __m512 u[16];
  for (int i = 0; i < 4; i++) {
    for (int k = 0; k < 2; k++) {
      __m512d a = _mm512_castps_pd(t[4 * i + k]), b = _mm512_castps_pd(t[4 * i + k + 2]);
      u[4 * i + 2 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
      u[4 * i + 2 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    }
  }
  for (int k = 0; k < 4; k++) {
    __m512 s0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88), s1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
    __m512 s2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88), s3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
    r[k] = _mm512_shuffle_f32x4(s0, s2, 0x88);
    r[4 + k] = _mm512_shuffle_f32x4(s1, s3, 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(s0, s2, 0xDD);
    r[12 + k] = _mm512_shuffle_f32x4(s1, s3, 0xDD);
  }
}

// How far ahead (in k steps of 64 bytes per panel) the first row tile of a panel prefetches it:
// the packed weights of the last stages stream from L3 or memory, the hardware prefetcher stops at
// each 4 KiB page, and the first tile is the one that waits (49 rows from memory: 10% faster).
#define PREFETCH_STEPS 64

// In a panel's first row tile (`first`): asks for the 64 bytes of each of the V panels (4-byte
// values, 16 per step) PREFETCH_STEPS steps after step k.
static inline __attribute__((always_inline)) void prefetch_panels(
  int first, int V, const void *p0, const void *p1, long k) {
  if (!first) return;
  _mm_prefetch((const char *)p0 + 64 * (k + PREFETCH_STEPS), _MM_HINT_T0);
  if (V > 1) _mm_prefetch((const char *)p1 + 64 * (k + PREFETCH_STEPS), _MM_HINT_T0);
}

// The weights of the caller's next call (`next`, `bytes` long, or none), spread over this call's
// row tiles: tile t of `tiles` asks for its share of the lines, `count` of them evenly over its
// `depth` k steps, so that the next panels stream in from memory while these compute from cache
// instead of all at once in the next call's first tile.
struct next_lines {
  const char *line;
  long count, due;
};

static inline __attribute__((always_inline)) struct next_lines next_share(
  const void *next, long bytes, long t, long tiles) {
  long lines = next ? bytes / 64 : 0, lo = t * lines / tiles;
  struct next_lines share = {(const char *)next + 64 * lo, (t + 1) * lines / tiles - lo, 0};
  return share;
}

// One k step of a tile's share: the lines that fell due.
static inline __attribute__((always_inline)) void prefetch_next(struct next_lines *share, long depth) {
  share->due += share->count;
  while (share->due >= depth) {
    _mm_prefetch(share->line, _MM_HINT_T0);
    share->line += 64;
    share->due -= depth;
  }
}

// The first `count` lanes of 16 (none when count ≤ 0, all when count ≥ 16).
static inline __attribute__((always_inline)) __mmask16 first_lanes16(long count) {
  return count >= 16 ? 0xFFFF : count > 0 ? (__mmask16)((1u << count) - 1) : 0;
}

// c[R, 16·V] (+)= acc, with the last columns masked by m0 (first vector) and m1 (second).
static inline __attribute__((always_inline, target("avx512f"))) void store_tile512(
  int R, int V, __m512 acc[][2], __mmask16 m0, __mmask16 m1, int accumulate, float *c, long ldc) {
  for (int r = 0; r < R; r++) {
    float *row = c + r * ldc;
    if (accumulate) acc[r][0] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), acc[r][0]);
    _mm512_mask_storeu_ps(row, m0, acc[r][0]);
    if (V > 1) {
      if (accumulate) acc[r][1] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row + 16), acc[r][1]);
      _mm512_mask_storeu_ps(row + 16, m1, acc[r][1]);
    }
  }
}

// acc = the first R rows of `src` (`ld` apart), 16·V columns masked by m0, m1: a tile's first sums.
static inline __attribute__((always_inline, target("avx512f"))) void load_tile512(
  int R, int V, __m512 acc[][2], const float *src, long ld, __mmask16 m0, __mmask16 m1) {
  for (int r = 0; r < R; r++) {
    acc[r][0] = _mm512_maskz_loadu_ps(m0, src + r * ld);
    if (V > 1) acc[r][1] = _mm512_maskz_loadu_ps(m1, src + r * ld + 16);
  }
}

// Row r of `output` (masked) = acc[r] · inverse_sums[r] + value_bias, one fused multiply-add: the
// attention's weighed values.
static inline __attribute__((always_inline, target("avx512f,fma"))) void store_weighed512(
  int R, int V, __m512 acc[][2], const float *inverse_sums, const float *value_bias, __mmask16 m0, __mmask16 m1,
  float *output, long output_stride) {
  __m512 vb0 = _mm512_maskz_loadu_ps(m0, value_bias), vb1 = _mm512_maskz_loadu_ps(m1, value_bias + 16);
  for (int r = 0; r < R; r++) {
    __m512 scale = _mm512_set1_ps(inverse_sums[r]);
    float *o = output + r * output_stride;
    _mm512_mask_storeu_ps(o, m0, _mm512_fmadd_ps(acc[r][0], scale, vb0));
    if (V > 1) _mm512_mask_storeu_ps(o + 16, m1, _mm512_fmadd_ps(acc[r][1], scale, vb1));
  }
}

// Rows of the panel kernels' register tile. 10 rows × 2 panels take 20 accumulators, 2 weight
// vectors and 10 broadcasts: all 32 zmm registers. At 11 and 12 rows clang hoists every broadcast
// of a k step ahead of its products and spills 3 accumulators to the stack on each step; on Zen 4
// (one core, `vdpbf16ps`, weights in cache) 98 rows ran at 215 GFLOP/s in tiles of 12 and 11 rows
// and at 230 in tiles of 10 and 9 rows, stage-0 shapes (98×96×288) at 204 against 228.
#define TILE_ROWS 10

// Runs CALL(R, V) with R = `rows` (1 … TILE_ROWS) and V = 2 when `two` (else 1) as compile-time
// constants, so each tile is specialized and its unused accumulators fold away (the attention's).
#define TILE_CASE(R, two) \
  case R:                 \
    if (two) {            \
      CALL(R, 2)          \
    } else {              \
      CALL(R, 1)          \
    }                     \
    break;
#define DISPATCH_TILE(rows, two)                                                                 \
  switch (rows) {                                                                                \
    TILE_CASE(10, two) TILE_CASE(9, two) TILE_CASE(8, two) TILE_CASE(7, two) TILE_CASE(6, two)  \
    TILE_CASE(5, two) TILE_CASE(4, two) TILE_CASE(3, two) TILE_CASE(2, two) TILE_CASE(1, two)    \
  }

// The attention products' loop: rows 0 ..< n in balanced tiles of ≤ TILE_ROWS (49 = 9 + 10 + 10 +
// 10 + 10), columns 0 ..< cols in chunks of 32, CALL(R, V) on each with `row`, `c` (the tile's first
// row and column) and `m0`, `m1` (the chunk's lane masks) in scope.
#define FOR_EACH_TILE(n, cols)                                                        \
  {                                                                                   \
    const long tiles_ = ((n) + TILE_ROWS - 1) / TILE_ROWS;                            \
    long row = 0;                                                                     \
    for (long tile_ = 0; tile_ < tiles_; tile_++) {                                   \
      const long end = (tile_ + 1) * (n) / tiles_;                                    \
      for (long c = 0; c < (cols); c += 32) {                                         \
        __mmask16 m0 = first_lanes16((cols) - c), m1 = first_lanes16((cols) - c - 16); \
        DISPATCH_TILE(end - row, (cols) - c > 16)                                     \
      }                                                                               \
      row = end;                                                                      \
    }                                                                                 \
  }

// Calls TILE(rows, V, DEPTH, …) for the `end - row` rows of the current tile, 1 to TILE_ROWS.
#define DISPATCH_ROWS(TILE, V, DEPTH)                                                  \
  switch (end - row) {                                                                 \
  case 10: TILE(10, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break; \
  case 9: TILE(9, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;   \
  case 8: TILE(8, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;   \
  case 7: TILE(7, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;   \
  case 6: TILE(6, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;   \
  case 5: TILE(5, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;   \
  case 4: TILE(4, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;   \
  case 3: TILE(3, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;   \
  case 2: TILE(2, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;   \
  default: TILE(1, V, DEPTH, at, lda, p0, p1, m0, m1, accumulate, ct, ldc, first, &share); break;  \
  }

// The body of a two-panel driver over `a` (`rows` × DEPTH, `lda` apart), panels `p0`, `p1` and
// `c` (`cols` ≤ 32 columns, `ldc` apart): rows in balanced tiles of ≤ TILE_ROWS, each run by
// TILE(rows, V, DEPTH, …) with V = 2 panels when cols > 16, the last columns masked.
// The first tile prefetches the panels PREFETCH_STEPS steps ahead (`first`), for when nothing
// asked for them before; every tile asks for its share of the next call's (`next`, `next_bytes`).
#define PANELS_512(TILE, DEPTH)                                    \
  __mmask16 m0 = first_lanes16(cols), m1 = first_lanes16(cols - 16); \
  long tiles = (rows + TILE_ROWS - 1) / TILE_ROWS, row = 0;        \
  for (long t = 0; t < tiles; t++) {                               \
    long end = (t + 1) * rows / tiles;                             \
    __typeof__(a) at = a + row * lda;                              \
    float *ct = c + row * ldc;                                     \
    const int first = t == 0;                                      \
    struct next_lines share = next_share(next, next_bytes, t, tiles); \
    if (cols > 16) {                                               \
      DISPATCH_ROWS(TILE, 2, DEPTH)                                \
    } else {                                                       \
      DISPATCH_ROWS(TILE, 1, DEPTH)                                \
    }                                                              \
    row = end;                                                     \
  }

#endif
#endif
