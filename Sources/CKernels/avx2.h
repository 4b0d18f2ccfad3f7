// What the AVX2+FMA kernels share: the target attribute, the lane mask of a partial vector, Horner's
// rule on 8 lanes (one fused multiply-add per coefficient, in the order VectorMath.swift's `polynomial`
// uses, hence the same bits) and the horizontal reductions of the softmax. Internal to CKernels.
#ifndef CKERNELS_AVX2_H
#define CKERNELS_AVX2_H
#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

// The constants of VectorMath.swift's exp8 and gelu8, for every C copy of them (AVX2 and AVX-512):
// exp clamps to [EXP_LOWEST, EXP_HIGHEST], rounds x/ln 2 with EXP_MAGIC (1.5·2^23), subtracts ln 2
// in two parts and evaluates a degree-6 polynomial; GELU's erf is x·P(x²)/Q(x²) on |x| ≤ GELU_LIMIT.
#define EXP_LOWEST (-87.33654f)
#define EXP_HIGHEST 88.0f
#define EXP_MAGIC 12582912.0f
#define EXP_LOG2E 1.44269504f
#define EXP_LN2_HIGH (-0.69314575f)
#define EXP_LN2_LOW (-1.4286068e-6f)
static const float exp_coefficients[7] __attribute__((unused)) = {
  1.3843636e-3f, 8.3741536e-3f, 4.1668002e-2f, 1.6666432e-1f, 4.9999994e-1f, 1.0f, 1.0f};
#define GELU_LIMIT 5.2f
static const float gelu_numerator[6] __attribute__((unused)) = {
  5.0932002e-8f, 1.2821344e-5f, 3.0270041e-4f, 9.1525391e-3f, 6.3928865e-2f, 7.9788458e-1f};
static const float gelu_denominator[6] __attribute__((unused)) = {
  1.2803538e-6f, 6.8932211e-5f, 1.7860967e-3f, 2.7602784e-2f, 2.4678954e-1f, 1.0f};

// All ones in the first `count` lanes (count ≤ 8), for maskload/maskstore.
INLINE AVX2 __m256i lane_mask(long count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// c[0]·x^(n−1) + … + c[n−1], highest coefficient first; `c` and `n` constants after inlining.
INLINE AVX2 __m256 horner8(__m256 x, const float *c, int n) {
  __m256 p = _mm256_set1_ps(c[0]);
  for (int i = 1; i < n; i++) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[i]));
  return p;
}

// horizontalMaximum and horizontalSum of VectorMath.swift: halves, then quarters, then the pair.
INLINE AVX2 float horizontal_max(__m256 v) {
  __m128 low = _mm256_castps256_ps128(v), high = _mm256_extractf128_ps(v, 1);
  __m128 four = _mm_max_ps(high, low);
  __m128 two = _mm_max_ps(_mm_movehl_ps(four, four), four);
  float t0 = _mm_cvtss_f32(two), t1 = _mm_cvtss_f32(_mm_shuffle_ps(two, two, 1));
  return t1 >= t0 ? t1 : t0;
}

INLINE AVX2 float horizontal_sum(__m256 v) {
  __m128 four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
  return _mm_cvtss_f32(two) + _mm_cvtss_f32(_mm_shuffle_ps(two, two, 1));
}

#endif
#endif
