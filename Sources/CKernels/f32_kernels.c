// f32 micro-kernels over the packed panels (PackedGEMM.swift layout): each output is a[r, :] · w[:, j]
// summed in k order with one fused multiply-add per k from zero, then added to c, exactly as the
// Swift kernel does, so every ISA gives the same bits. Rows are split into balanced tiles.
#include "CKernels.h"
#include "avx2.h"
#include "tile512.h"

#if defined(__x86_64__)

// MARK: AVX2 + FMA, 6 rows × 16 columns (12 accumulators of the 16 ymm registers)

INLINE AVX2 void tile256(
  const int R, long depth, const float *a, long lda, const float *panel, __m256i m0, __m256i m1,
  int accumulate, float *c, long ldc, int first, struct next_lines *share) {
  __m256 acc[6][2];
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (long k = 0; k < depth; k++) {
    prefetch_panels(first, 1, panel, panel, k);
    prefetch_next(share, depth);
    __m256 b0 = _mm256_loadu_ps(panel + 16 * k), b1 = _mm256_loadu_ps(panel + 16 * k + 8);
    for (int r = 0; r < R; r++) {
      __m256 s = _mm256_broadcast_ss(a + r * lda + k);
      acc[r][0] = _mm256_fmadd_ps(s, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(s, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; r++) {
    float *row = c + r * ldc;
    if (accumulate) {
      acc[r][0] = _mm256_add_ps(_mm256_maskload_ps(row, m0), acc[r][0]);
      acc[r][1] = _mm256_add_ps(_mm256_maskload_ps(row + 8, m1), acc[r][1]);
    }
    _mm256_maskstore_ps(row, m0, acc[r][0]);
    _mm256_maskstore_ps(row + 8, m1, acc[r][1]);
  }
}

AVX2 void ck_f32_avx2_panel(
  long rows, long cols, long depth, const float *a, long lda, const float *panel, int accumulate,
  float *c, long ldc, const void *next, long next_bytes) {
  __m256i m0 = lane_mask(cols), m1 = lane_mask(cols - 8);
  long tiles = (rows + 5) / 6, row = 0;
  for (long t = 0; t < tiles; t++) {
    long end = (t + 1) * rows / tiles;
    const float *at = a + row * lda;
    float *ct = c + row * ldc;
    struct next_lines share = next_share(next, next_bytes, t, tiles);
    switch (end - row) {
    case 6: tile256(6, depth, at, lda, panel, m0, m1, accumulate, ct, ldc, t == 0, &share); break;
    case 5: tile256(5, depth, at, lda, panel, m0, m1, accumulate, ct, ldc, t == 0, &share); break;
    case 4: tile256(4, depth, at, lda, panel, m0, m1, accumulate, ct, ldc, t == 0, &share); break;
    case 3: tile256(3, depth, at, lda, panel, m0, m1, accumulate, ct, ldc, t == 0, &share); break;
    case 2: tile256(2, depth, at, lda, panel, m0, m1, accumulate, ct, ldc, t == 0, &share); break;
    default: tile256(1, depth, at, lda, panel, m0, m1, accumulate, ct, ldc, t == 0, &share); break;
    }
    row = end;
  }
}

// MARK: AVX-512, 10 rows × 32 columns (20 accumulators, two panels; TILE_ROWS in tile512.h)

INLINE AVX512 void tile512(
  const int R, const int V, long depth, const float *a, long lda, const float *p0, const float *p1,
  __mmask16 m0, __mmask16 m1, int accumulate, float *c, long ldc, int first, struct next_lines *share) {
  __m512 acc[TILE_ROWS][2];
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (long k = 0; k < depth; k++) {
    prefetch_panels(first, V, p0, p1, k);
    prefetch_next(share, depth);
    __m512 b0 = _mm512_loadu_ps(p0 + 16 * k);
    __m512 b1 = V > 1 ? _mm512_loadu_ps(p1 + 16 * k) : b0;
    for (int r = 0; r < R; r++) {
      __m512 s = _mm512_set1_ps(a[r * lda + k]);
      acc[r][0] = _mm512_fmadd_ps(s, b0, acc[r][0]);
      if (V > 1) acc[r][1] = _mm512_fmadd_ps(s, b1, acc[r][1]);
    }
  }
  store_tile512(R, V, acc, m0, m1, accumulate, c, ldc);
}

AVX512 void ck_f32_avx512_panels(
  long rows, long cols, long depth, const float *a, long lda, const float *p0, const float *p1,
  int accumulate, float *c, long ldc, const void *next, long next_bytes) {
  PANELS_512(tile512, depth)
}

#else

void ck_f32_avx2_panel(
  long rows, long cols, long depth, const float *a, long lda, const float *panel, int accumulate,
  float *c, long ldc, const void *next, long next_bytes) {
  __builtin_trap();
}

void ck_f32_avx512_panels(
  long rows, long cols, long depth, const float *a, long lda, const float *p0, const float *p1,
  int accumulate, float *c, long ldc, const void *next, long next_bytes) {
  __builtin_trap();
}

#endif
