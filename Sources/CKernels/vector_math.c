// Elementwise kernels of VectorMath.swift compiled for AVX2+FMA, so a plain build (no -target-cpu)
// runs them on 256-bit vectors with fused multiply-adds. Same operations in the same order as the
// Swift code built with FMA (scripts/build.sh), hence the same bits.
#include "CKernels.h"
#include "avx2.h"
#include "tile512.h"

#if defined(__x86_64__)

// Swift's maximum/minimum (`a.replacing(with: b, where: b .> a)`): a NaN in `a` passes through.
INLINE AVX2 __m256 gelu8(__m256 x) {
  __m256 xc = _mm256_min_ps(_mm256_set1_ps(GELU_LIMIT), _mm256_max_ps(_mm256_set1_ps(-GELU_LIMIT), x));
  __m256 x2 = _mm256_mul_ps(xc, xc);
  __m256 p = _mm256_mul_ps(horner8(x2, gelu_numerator, 6), xc);
  __m256 erf = _mm256_div_ps(p, horner8(x2, gelu_denominator, 6));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

AVX2 void ck_bias_gelu_avx2(float *values, const float *bias, long count) {
  long i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_add_ps(_mm256_loadu_ps(values + i), _mm256_loadu_ps(bias + i));
    _mm256_storeu_ps(values + i, gelu8(v));
  }
  if (i < count) {
    __m256i m = lane_mask(count - i);
    __m256 v = _mm256_add_ps(_mm256_maskload_ps(values + i, m), _mm256_maskload_ps(bias + i, m));
    _mm256_maskstore_ps(values + i, m, gelu8(v));
  }
}

// The same on 16 lanes (AVX-512F): every lane runs gelu8's operations in gelu8's order, so the
// bits equal the AVX2 copy's; the tail is masked instead of 8-lane maskload.
INLINE AVX512 __m512 gelu16(__m512 x) {
  __m512 xc = _mm512_min_ps(_mm512_set1_ps(GELU_LIMIT), _mm512_max_ps(_mm512_set1_ps(-GELU_LIMIT), x));
  __m512 x2 = _mm512_mul_ps(xc, xc);
  __m512 p = _mm512_mul_ps(horner16(x2, gelu_numerator, 6), xc);
  __m512 erf = _mm512_div_ps(p, horner16(x2, gelu_denominator, 6));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

AVX512 void ck_bias_gelu_avx512(float *values, const float *bias, long count) {
  long i = 0;
  for (; i + 16 <= count; i += 16) {
    __m512 v = _mm512_add_ps(_mm512_loadu_ps(values + i), _mm512_loadu_ps(bias + i));
    _mm512_storeu_ps(values + i, gelu16(v));
  }
  if (i < count) {
    __mmask16 m = first_lanes16(count - i);
    __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, values + i), _mm512_maskz_loadu_ps(m, bias + i));
    _mm512_mask_storeu_ps(values + i, m, gelu16(v));
  }
}

#else

void ck_bias_gelu_avx2(float *values, const float *bias, long count) { __builtin_trap(); }
void ck_bias_gelu_avx512(float *values, const float *bias, long count) { __builtin_trap(); }

#endif
