// The window attention of one head for AVX-512: packing with keys transposed in registers, products
// in tiles of up to 10 rows × 32 columns (TILE_ROWS; 20 accumulators), softmax on 16 lanes. Every
// element is summed in the same order as attention_kernels.c, with the same exp8, hence the same bits.
#include "CKernels.h"
#include "avx2.h"
#include "tile512.h"

#if defined(__x86_64__)

AVX512 void ck_pack_head_avx512(
  const float *query, const float *key, const float *value, long row_stride, const float *query_bias,
  const float *key_bias, long n, long np, long head_dim, float *queries, float *keys_t, float *values) {
  for (long j = 0; j < n; j++) {
    const float *q = query + j * row_stride, *v = value + j * row_stride;
    for (long d = 0; d < head_dim; d += 16) {
      __mmask16 m = first_lanes16(head_dim - d);
      __m512 biased = _mm512_add_ps(_mm512_maskz_loadu_ps(m, q + d), _mm512_maskz_loadu_ps(m, query_bias + d));
      _mm512_mask_storeu_ps(queries + j * head_dim + d, m, biased);
      _mm512_mask_storeu_ps(values + j * head_dim + d, m, _mm512_maskz_loadu_ps(m, v + d));
    }
  }
  // Blocks of 16 tokens × 16 dims, transposed in registers; tokens n ..< np come out as zeros.
  for (long j0 = 0; j0 < np; j0 += 16) {
    __mmask16 columns = first_lanes16(np - j0);
    for (long d0 = 0; d0 < head_dim; d0 += 16) {
      __mmask16 m = first_lanes16(head_dim - d0);
      __m512 bias = _mm512_maskz_loadu_ps(m, key_bias + d0), r[16];
      for (int a = 0; a < 16; a++) {
        r[a] = j0 + a < n ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, key + (j0 + a) * row_stride + d0), bias)
                          : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int c = 0; c < 16 && d0 + c < head_dim; c++) {
        _mm512_mask_storeu_ps(keys_t + (d0 + c) * np + j0, columns, r[c]);
      }
    }
  }
}

// acc[r][v] += Σ_t x[r·ldx + t] · b[t·ldb + 16·v ..< +16] over t < depth, in t order (one fused
// multiply-add per t, as block6x16 of the AVX2 kernel); lanes outside m0, m1 read zeros.
INLINE AVX512 void product_tile(
  const int R, const int V, __m512 acc[TILE_ROWS][2], const float *x, long ldx, const float *b, long ldb, long depth,
  __mmask16 m0, __mmask16 m1) {
  for (long t = 0; t < depth; t++) {
    __m512 b0 = _mm512_maskz_loadu_ps(m0, b + t * ldb);
    __m512 b1 = V > 1 ? _mm512_maskz_loadu_ps(m1, b + t * ldb + 16) : b0;
    for (int r = 0; r < R; r++) {
      __m512 s = _mm512_set1_ps(x[r * ldx + t]);
      acc[r][0] = _mm512_fmadd_ps(s, b0, acc[r][0]);
      if (V > 1) acc[r][1] = _mm512_fmadd_ps(s, b1, acc[r][1]);
    }
  }
}

// scores[R, 16·V] (masked) = bias + queries · keys_t for one tile.
INLINE AVX512 void scores_tile(
  const int R, const int V, const float *queries, long head_dim, const float *keys_t, const float *bias, long np,
  __mmask16 m0, __mmask16 m1, float *scores) {
  __m512 acc[TILE_ROWS][2];
  load_tile512(R, V, acc, bias, np, m0, m1);
  product_tile(R, V, acc, queries, head_dim, keys_t, np, head_dim, m0, m1);
  store_tile512(R, V, acc, m0, m1, 0, scores, np);
}

// output[R, 16·V] (masked) = (scores · values) · inverse_sums + value_bias for one tile.
INLINE AVX512 void weigh_tile(
  const int R, const int V, const float *scores, long np, const float *inverse_sums, const float *values,
  const float *value_bias, long n, long head_dim, __mmask16 m0, __mmask16 m1, float *output, long output_stride) {
  __m512 acc[TILE_ROWS][2];
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  product_tile(R, V, acc, scores, np, values, head_dim, n, m0, m1);
  store_weighed512(R, V, acc, inverse_sums, value_bias, m0, m1, output, output_stride);
}

AVX512 void ck_attention_scores_avx512(
  const float *queries, const float *keys_t, const float *bias, long n, long np, long head_dim,
  float *scores) {
#define CALL(R, V)                                                                                     \
  scores_tile(R, V, queries + row * head_dim, head_dim, keys_t + c, bias + row * np + c, np, m0, m1,    \
              scores + row * np + c);
  FOR_EACH_TILE(n, np)
#undef CALL
}

AVX512 void ck_weigh_values_avx512(
  const float *scores, const float *inverse_sums, const float *values, const float *value_bias, long n,
  long np, long head_dim, float *output, long output_stride) {
#define CALL(R, V)                                                                                     \
  weigh_tile(R, V, scores + row * np, np, inverse_sums + row, values + c, value_bias + c, n, head_dim, m0, m1, \
             output + row * output_stride + c, output_stride);
  FOR_EACH_TILE(n, head_dim)
#undef CALL
}

// exp8 of attention_kernels.c on 16 lanes: the same operations per lane, hence the same bits.
INLINE AVX512 __m512 exp16(__m512 x) {
  const __m512 lowest = _mm512_set1_ps(EXP_LOWEST);
  __m512 clamped = _mm512_min_ps(_mm512_set1_ps(EXP_HIGHEST), _mm512_max_ps(lowest, x));
  const __m512 magic = _mm512_set1_ps(EXP_MAGIC);
  __m512 shifted = _mm512_fmadd_ps(clamped, _mm512_set1_ps(EXP_LOG2E), magic);
  __m512 n = _mm512_sub_ps(shifted, magic);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(EXP_LN2_HIGH), clamped);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(EXP_LN2_LOW), r);
  __m512 p = horner16(r, exp_coefficients, 7);
  __m512i integer = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(magic));
  __m512 two_to_n = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(integer, _mm512_set1_epi32(127)), 23));
  __mmask16 below = _mm512_cmp_ps_mask(x, lowest, _CMP_LT_OQ);
  return _mm512_maskz_mov_ps(~below, _mm512_mul_ps(p, two_to_n));
}

// Softmax numerators of R rows (`np` apart) interleaved: one row's chain (maximum, exponentials,
// sum, division) is mostly latency, so R independent rows keep the vector units busy (4 rows ran
// 1.6× faster than one at a time on 49 × 56 scores).
INLINE AVX512 void softmax_rows(const int R, float *scores, long np, float *inverse_sums) {
  __m256 maxima[4];
  __m512 row_max[4], sums[4];
  // The maximum over 8-lane vectors in the AVX2 order (max is not associative for NaN and ±0).
  for (int r = 0; r < R; r++) maxima[r] = _mm256_loadu_ps(scores + r * np);
  for (long c = 8; c < np; c += 8) {
    for (int r = 0; r < R; r++) maxima[r] = _mm256_max_ps(_mm256_loadu_ps(scores + r * np + c), maxima[r]);
  }
  // Lanes 0–7 of `sums` are the AVX2 kernel's sums0 (columns c..c+8 of every 16, and the 8-column
  // tail), lanes 8–15 its sums1 (columns c+8..c+16).
  for (int r = 0; r < R; r++) {
    row_max[r] = _mm512_set1_ps(horizontal_max(maxima[r]));
    sums[r] = _mm512_setzero_ps();
  }
  long c = 0;
  for (; c + 16 <= np; c += 16) {
    for (int r = 0; r < R; r++) {
      float *x = scores + r * np + c;
      __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x), row_max[r]));
      _mm512_storeu_ps(x, e);
      sums[r] = _mm512_add_ps(sums[r], e);
    }
  }
  if (c < np) {
    for (int r = 0; r < R; r++) {
      float *x = scores + r * np + c;
      __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(0xFF, x), row_max[r]));
      _mm512_mask_storeu_ps(x, 0xFF, e);
      sums[r] = _mm512_mask_add_ps(sums[r], 0xFF, sums[r], e);
    }
  }
  for (int r = 0; r < R; r++) {
    __m256 sums0 = _mm512_castps512_ps256(sums[r]);
    __m256 sums1 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sums[r]), 1));
    inverse_sums[r] = 1.0f / horizontal_sum(_mm256_add_ps(sums0, sums1));
  }
}

AVX512 void ck_softmax_numerators_avx512(float *scores, long n, long np, float *inverse_sums) {
  long i = 0;
  for (; i + 4 <= n; i += 4) softmax_rows(4, scores + i * np, np, inverse_sums + i);
  switch (n - i) {
  case 3: softmax_rows(3, scores + i * np, np, inverse_sums + i); break;
  case 2: softmax_rows(2, scores + i * np, np, inverse_sums + i); break;
  case 1: softmax_rows(1, scores + i * np, np, inverse_sums + i); break;
  default: break;
  }
}

#else

void ck_pack_head_avx512(
  const float *query, const float *key, const float *value, long row_stride, const float *query_bias,
  const float *key_bias, long n, long np, long head_dim, float *queries, float *keys_t, float *values) {
  __builtin_trap();
}
void ck_attention_scores_avx512(
  const float *queries, const float *keys_t, const float *bias, long n, long np, long head_dim,
  float *scores) { __builtin_trap(); }
void ck_softmax_numerators_avx512(float *scores, long n, long np, float *inverse_sums) { __builtin_trap(); }
void ck_weigh_values_avx512(
  const float *scores, const float *inverse_sums, const float *values, const float *value_bias, long n,
  long np, long head_dim, float *output, long output_stride) { __builtin_trap(); }

#endif
