// The window attention of one head with bf16 products (AVX512_BF16), for the bf16 precision: biased
// queries and keys, values and the softmax numerators are rounded to bf16 (vcvtneps2bf16, round to
// nearest even), both products are vdpbf16ps on pairs with f32 sums, and the softmax between them is
// the f32 one (ck_softmax_numerators_avx512). Pairs run along the product's inner dimension, the
// even position in the low half, as in PackedBF16. WindowAttention.swift's attendWindowHeadBF16 with
// `.model` states the same arithmetic for the tests.
#include "CKernels.h"
#include "tile512.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

// The first `count` (≤ 32) floats of `x` plus `bias` (NULL: none) as 16 bf16 pairs, the missing
// positions zero.
INLINE BF16 __m512i pairs32(const float *x, const float *bias, long count) {
  __mmask16 m0 = first_lanes16(count), m1 = first_lanes16(count - 16);
  __m512 lo = _mm512_maskz_loadu_ps(m0, x), hi = _mm512_maskz_loadu_ps(m1, x + 16);
  if (bias) {
    lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(m0, bias));
    hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(m1, bias + 16));
  }
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

// 16 floats rounded to bf16 in the low halves of 16 32-bit lanes.
INLINE BF16 __m512i low_halves(__m512 x) { return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x)); }

BF16 void ck_pack_head_bf16(
  const float *query, const float *key, const float *value, long row_stride, const float *query_bias,
  const float *key_bias, long n, long np, long head_dim, uint32_t *queries, uint32_t *keys,
  uint32_t *values) {
  const long dp = (head_dim + 1) / 2;
  for (long j = 0; j < n; j++) {
    for (long d = 0; d < head_dim; d += 32) {
      _mm512_mask_storeu_epi32(
        queries + j * dp + d / 2, first_lanes16(dp - d / 2),
        pairs32(query + j * row_stride + d, query_bias + d, head_dim - d));
    }
  }
  // Keys: 16 tokens × 16 pairs per block, transposed in registers; tokens n ..< np come out zero.
  for (long j0 = 0; j0 < np; j0 += 16) {
    __mmask16 columns = first_lanes16(np - j0);
    for (long d = 0; d < head_dim; d += 32) {
      __m512 r[16];
      for (int a = 0; a < 16; a++) {
        r[a] = j0 + a < n ? (__m512)pairs32(key + (j0 + a) * row_stride + d, key_bias + d, head_dim - d)
                          : _mm512_setzero_ps();
      }
      transpose16(r);
      for (long c = 0; c < 16 && d / 2 + c < dp; c++) {
        _mm512_mask_storeu_ps(keys + (d / 2 + c) * np + j0, columns, r[c]);
      }
    }
  }
  // Values: pair t of column c is tokens 2t and 2t + 1 (token n, when n is odd, is zero).
  for (long t = 0; t < (n + 1) / 2; t++) {
    const float *v0 = value + 2 * t * row_stride, *v1 = v0 + row_stride;
    for (long c = 0; c < head_dim; c += 16) {
      __mmask16 m = first_lanes16(head_dim - c);
      __m512i lo = low_halves(_mm512_maskz_loadu_ps(m, v0 + c));
      __m512i hi = 2 * t + 1 < n ? low_halves(_mm512_maskz_loadu_ps(m, v1 + c)) : _mm512_setzero_si512();
      _mm512_mask_storeu_epi32(values + t * head_dim + c, m, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
  }
}

// acc[r][v] = vdpbf16ps over the `pairs` pairs of x's row r (`ldx` apart) and b's rows (`ldb`
// apart), columns 16·v ..< +16 (lanes outside m0, m1 read zeros), in pair order.
INLINE BF16 void pair_tile(
  const int R, const int V, __m512 acc[TILE_ROWS][2], const uint32_t *x, long ldx, const uint32_t *b, long ldb,
  long pairs, __mmask16 m0, __mmask16 m1) {
  for (long t = 0; t < pairs; t++) {
    __m512bh b0 = (__m512bh)_mm512_maskz_loadu_epi32(m0, b + t * ldb);
    __m512bh b1 = V > 1 ? (__m512bh)_mm512_maskz_loadu_epi32(m1, b + t * ldb + 16) : b0;
    for (int r = 0; r < R; r++) {
      __m512bh s = (__m512bh)_mm512_set1_epi32((int)x[r * ldx + t]);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], s, b0);
      if (V > 1) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], s, b1);
    }
  }
}

INLINE BF16 void scores_tile_bf16(
  const int R, const int V, const uint32_t *queries, long dp, const uint32_t *keys, const float *bias, long np,
  __mmask16 m0, __mmask16 m1, float *scores) {
  __m512 acc[TILE_ROWS][2];
  load_tile512(R, V, acc, bias, np, m0, m1);
  pair_tile(R, V, acc, queries, dp, keys, np, dp, m0, m1);
  store_tile512(R, V, acc, m0, m1, 0, scores, np);
}

INLINE BF16 void weigh_tile_bf16(
  const int R, const int V, const uint32_t *numerators, long ldn, const float *inverse_sums, const uint32_t *values,
  const float *value_bias, long tp, long head_dim, __mmask16 m0, __mmask16 m1, float *output, long output_stride) {
  __m512 acc[TILE_ROWS][2];
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  pair_tile(R, V, acc, numerators, ldn, values, head_dim, tp, m0, m1);
  store_weighed512(R, V, acc, inverse_sums, value_bias, m0, m1, output, output_stride);
}

BF16 void ck_attention_scores_bf16(
  const uint32_t *queries, const uint32_t *keys, const float *bias, long n, long np, long head_dim,
  float *scores) {
  const long dp = (head_dim + 1) / 2;
#define CALL(R, V) \
  scores_tile_bf16(R, V, queries + row * dp, dp, keys + c, bias + row * np + c, np, m0, m1, scores + row * np + c);
  FOR_EACH_TILE(n, np)
#undef CALL
}

BF16 void ck_weigh_values_bf16(
  float *scores, const float *inverse_sums, const uint32_t *values, const float *value_bias, long n, long np,
  long head_dim, float *output, long output_stride) {
  // Each row's numerators rounded to pairs in place: pair t (bytes 4t) is written after floats 2t,
  // 2t + 1 (bytes 8t) were read, 16 floats at a time. Column n, when n is odd, is a padding zero.
  const long tp = (n + 1) / 2;
  for (long r = 0; r < n; r++) {
    float *row = scores + r * np;
    for (long c = 0; c < 2 * tp; c += 16) {
      __mmask16 m = first_lanes16(2 * tp - c);
      __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, row + c));
      _mm256_mask_storeu_epi16((uint16_t *)row + c, m, (__m256i)h);
    }
  }
  const uint32_t *numerators = (const uint32_t *)scores;
#define CALL(R, V)                                                                                            \
  weigh_tile_bf16(R, V, numerators + row * np, np, inverse_sums + row, values + c, value_bias + c, tp, head_dim, \
                  m0, m1, output + row * output_stride + c, output_stride);
  FOR_EACH_TILE(n, head_dim)
#undef CALL
}

#else

void ck_pack_head_bf16(
  const float *query, const float *key, const float *value, long row_stride, const float *query_bias,
  const float *key_bias, long n, long np, long head_dim, uint32_t *queries, uint32_t *keys,
  uint32_t *values) { __builtin_trap(); }
void ck_attention_scores_bf16(
  const uint32_t *queries, const uint32_t *keys, const float *bias, long n, long np, long head_dim,
  float *scores) { __builtin_trap(); }
void ck_weigh_values_bf16(
  float *scores, const float *inverse_sums, const uint32_t *values, const float *value_bias, long n, long np,
  long head_dim, float *output, long output_stride) { __builtin_trap(); }

#endif
