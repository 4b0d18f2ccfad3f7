// LayerNorm of one row (LayerNorm.swift's layerNormRow) and the rows' mean |x| (the window scores'
// activity) for AVX2+FMA and AVX-512, so a plain build runs them on wide vectors. Both copies keep the Swift code's order (built with FMA): per 16 columns
// two 8-lane partial sums, an 8-column tail into the first, halves then pairs, then the scalar tail
// unfused, hence the same bits in every copy. A zmm holds the two 8-lane sums as its halves.
#include "CKernels.h"
#include "avx2.h"
#include "tile512.h"

#if defined(__x86_64__)
#include <math.h>

// Scalar `a * b + c` stays two roundings, as in Swift (clang would otherwise fuse it).
#pragma STDC FP_CONTRACT OFF

// The scalar tails, one rounding per operation as Swift's scalar code (no contraction).
INLINE float tail_sum(const float *x, long i, long count, float total) {
  for (; i < count; i++) total += x[i];
  return total;
}

INLINE float tail_squares(const float *x, long i, long count, float mean, float squares) {
  for (; i < count; i++) {
    float d = x[i] - mean;
    squares += d * d;
  }
  return squares;
}

INLINE void tail_normalize(
  const float *x, long i, long count, float mean, float inverse, const float *gamma, const float *beta,
  float *y) {
  for (; i < count; i++) {
    y[i] = (x[i] - mean) * inverse * gamma[i] + beta[i];
  }
}

AVX2 void ck_layer_norm_avx2(
  const float *x, long count, const float *gamma, const float *beta, float epsilon, float *y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  long i = 0;
  for (; i + 16 <= count; i += 16) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
  }
  if (i + 8 <= count) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    i += 8;
  }
  const float mean = tail_sum(x, i, count, horizontal_sum(_mm256_add_ps(a0, a1))) / (float)count;
  const __m256 m = _mm256_set1_ps(mean);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  i = 0;
  for (; i + 16 <= count; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  if (i + 8 <= count) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    i += 8;
  }
  const float squares = tail_squares(x, i, count, mean, horizontal_sum(_mm256_add_ps(s0, s1)));
  const float inverse = 1.0f / sqrtf(squares / (float)count + epsilon);
  const __m256 inv = _mm256_set1_ps(inverse);
  i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 scaled = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), inv);
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(scaled, _mm256_loadu_ps(gamma + i), _mm256_loadu_ps(beta + i)));
  }
  tail_normalize(x, i, count, mean, inverse, gamma, beta, y);
}

// The low and high 8 lanes of a zmm added, as AVX2's a0 + a1.
INLINE AVX512 __m256 halves_sum(__m512 v) {
  __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  return _mm256_add_ps(_mm512_castps512_ps256(v), high);
}

AVX512 void ck_layer_norm_avx512(
  const float *x, long count, const float *gamma, const float *beta, float epsilon, float *y) {
  __m512 a = _mm512_setzero_ps();
  long i = 0;
  for (; i + 16 <= count; i += 16) a = _mm512_add_ps(a, _mm512_loadu_ps(x + i));
  if (i + 8 <= count) {
    a = _mm512_mask_add_ps(a, 0x00FF, a, _mm512_maskz_loadu_ps(0x00FF, x + i));
    i += 8;
  }
  const float mean = tail_sum(x, i, count, horizontal_sum(halves_sum(a))) / (float)count;
  const __m512 m = _mm512_set1_ps(mean);
  __m512 s = _mm512_setzero_ps();
  i = 0;
  for (; i + 16 <= count; i += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
    s = _mm512_fmadd_ps(d, d, s);
  }
  if (i + 8 <= count) {
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(0x00FF, x + i), m);
    s = _mm512_mask3_fmadd_ps(d, d, s, 0x00FF);
    i += 8;
  }
  const float squares = tail_squares(x, i, count, mean, horizontal_sum(halves_sum(s)));
  const float inverse = 1.0f / sqrtf(squares / (float)count + epsilon);
  const __m512 inv = _mm512_set1_ps(inverse);
  i = 0;
  for (; i + 16 <= count; i += 16) {
    __m512 scaled = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), m), inv);
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(scaled, _mm512_loadu_ps(gamma + i), _mm512_loadu_ps(beta + i)));
  }
  if (i + 8 <= count) {
    __m512 scaled = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(0x00FF, x + i), m), inv);
    __m512 out =
      _mm512_fmadd_ps(scaled, _mm512_maskz_loadu_ps(0x00FF, gamma + i), _mm512_maskz_loadu_ps(0x00FF, beta + i));
    _mm512_mask_storeu_ps(y + i, 0x00FF, out);
    i += 8;
  }
  tail_normalize(x, i, count, mean, inverse, gamma, beta, y);
}

// WindowScores.swift's meanAbsoluteRows: per row, |x| summed in two 8-lane partial sums per 16
// columns (no 8-column step), halves then pairs, the scalar tail, times 1/count.
AVX2 void ck_mean_abs_rows_avx2(const float *x, long rows, long count, float *out) {
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const float inverse = 1.0f / (float)count;
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * count;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    long c = 0;
    for (; c + 16 <= count; c += 16) {
      a0 = _mm256_add_ps(a0, _mm256_and_ps(_mm256_loadu_ps(row + c), magnitude));
      a1 = _mm256_add_ps(a1, _mm256_and_ps(_mm256_loadu_ps(row + c + 8), magnitude));
    }
    float sum = horizontal_sum(_mm256_add_ps(a0, a1));
    for (; c < count; c++) sum += fabsf(row[c]);
    out[r] = sum * inverse;
  }
}

AVX512 void ck_mean_abs_rows_avx512(const float *x, long rows, long count, float *out) {
  const float inverse = 1.0f / (float)count;
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * count;
    __m512 a = _mm512_setzero_ps();
    long c = 0;
    for (; c + 16 <= count; c += 16) a = _mm512_add_ps(a, _mm512_abs_ps(_mm512_loadu_ps(row + c)));
    float sum = horizontal_sum(halves_sum(a));
    for (; c < count; c++) sum += fabsf(row[c]);
    out[r] = sum * inverse;
  }
}

#else

void ck_mean_abs_rows_avx2(const float *x, long rows, long count, float *out) { __builtin_trap(); }
void ck_mean_abs_rows_avx512(const float *x, long rows, long count, float *out) { __builtin_trap(); }
void ck_layer_norm_avx2(
  const float *x, long count, const float *gamma, const float *beta, float epsilon, float *y) {
  __builtin_trap();
}
void ck_layer_norm_avx512(
  const float *x, long count, const float *gamma, const float *beta, float epsilon, float *y) {
  __builtin_trap();
}

#endif
