// bf16 micro-kernels (AVX512_BF16): activations rounded to bf16 by vcvtneps2bf16, products by
// vdpbf16ps on k pairs, accumulated in f32 from zero and then added to c. The Swift scalar model
// (BFloat16Model in PackedBF16.swift) states the same arithmetic for the tests.
#include "CKernels.h"
#include "tile512.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

BF16 void ck_bf16_round_rows_avx512(long rows, long count, const float *x, long ldx, uint16_t *y, long ldy) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    uint16_t *yr = y + r * ldy;
    long i = 0;
    for (; i + 16 <= count; i += 16) {
      __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(xr + i));
      _mm256_storeu_si256((__m256i *)(yr + i), (__m256i)h);
    }
    if (i < count) {
      __mmask16 m = first_lanes16(count - i);
      __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, xr + i));
      _mm256_mask_storeu_epi16(yr + i, m, (__m256i)h);
    }
    if (count % 2) yr[count] = 0;
  }
}

INLINE BF16 void tile_bf16(
  const int R, const int V, long pairs, const uint32_t *a, long lda, const uint32_t *p0,
  const uint32_t *p1, __mmask16 m0, __mmask16 m1, int accumulate, float *c, long ldc, int first,
  struct next_lines *share) {
  __m512 acc[TILE_ROWS][2];
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (long k = 0; k < pairs; k++) {
    prefetch_panels(first, V, p0, p1, k);
    prefetch_next(share, pairs);
    __m512bh b0 = (__m512bh)_mm512_loadu_si512(p0 + 16 * k);
    __m512bh b1 = V > 1 ? (__m512bh)_mm512_loadu_si512(p1 + 16 * k) : b0;
    for (int r = 0; r < R; r++) {
      __m512bh s = (__m512bh)_mm512_set1_epi32((int)a[r * lda + k]);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], s, b0);
      if (V > 1) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], s, b1);
    }
  }
  store_tile512(R, V, acc, m0, m1, accumulate, c, ldc);
}

BF16 void ck_bf16_avx512_panels(
  long rows, long cols, long pairs, const uint32_t *a, long lda, const uint32_t *p0,
  const uint32_t *p1, int accumulate, float *c, long ldc, const void *next, long next_bytes) {
  PANELS_512(tile_bf16, pairs)
}

#else

void ck_bf16_round_rows_avx512(long rows, long count, const float *x, long ldx, uint16_t *y, long ldy) {
  __builtin_trap();
}

void ck_bf16_avx512_panels(
  long rows, long cols, long pairs, const uint32_t *a, long lda, const uint32_t *p0,
  const uint32_t *p1, int accumulate, float *c, long ldc, const void *next, long next_bytes) {
  __builtin_trap();
}

#endif
