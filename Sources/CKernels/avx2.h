// What the AVX2+FMA kernels share: the target attribute, the lane mask of a partial vector, Horner's
// rule on 8 lanes (one fused multiply-add per coefficient, in the order VectorMath.swift's `polynomial`
// uses, hence the same bits) and the horizontal reductions of the softmax. Internal to CKernels.
#ifndef CKERNELS_AVX2_H
#define CKERNELS_AVX2_H
#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

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
