// The three hot loops of WindowAttention.swift (scores, softmax numerators, weighted values) for
// AVX2+FMA, so a plain build runs them fused on 256-bit vectors. Same blocks, same summation order
// and the same exp polynomial as the Swift code built with FMA (scripts/build.sh), hence the same bits.
#include "CKernels.h"
#include "avx2.h"

#if defined(__x86_64__)

// Rows of a block of `rows` ≤ 6 starting at `base`; missing rows repeat the first (never stored).
INLINE void block_rows(const float *x[6], const float *base, long stride, long rows) {
  for (int r = 0; r < 6; r++) x[r] = rows > r ? base + r * stride : base;
}

// The register block of both products, 6 rows × 16 columns: a[r] += Σ_t x[r][t] · b[t·ldb ..< +16]
// over t < depth.
INLINE AVX2 void block6x16(__m256 a[6][2], const float *const x[6], const float *b, long ldb, long depth) {
  for (long t = 0; t < depth; t++) {
    __m256 b0 = _mm256_loadu_ps(b + t * ldb), b1 = _mm256_loadu_ps(b + t * ldb + 8);
    for (int r = 0; r < 6; r++) {
      __m256 s = _mm256_broadcast_ss(x[r] + t);
      a[r][0] = _mm256_fmadd_ps(s, b0, a[r][0]);
      a[r][1] = _mm256_fmadd_ps(s, b1, a[r][1]);
    }
  }
}

// The same for the last 8 columns, or fewer under `mask` when `masked` (a constant after inlining).
INLINE AVX2 void block6x8(
  __m256 a[6], const float *const x[6], const float *b, long ldb, long depth, int masked, __m256i mask) {
  for (long t = 0; t < depth; t++) {
    __m256 v = masked ? _mm256_maskload_ps(b + t * ldb, mask) : _mm256_loadu_ps(b + t * ldb);
    for (int r = 0; r < 6; r++) a[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x[r] + t), v, a[r]);
  }
}

AVX2 void ck_attention_scores_avx2(
  const float *queries, const float *keys_t, const float *bias, long n, long np, long head_dim,
  float *scores) {
  for (long i = 0; i < n;) {
    const long rows = n - i < 6 ? n - i : 6;
    const float *q[6], *b[6];
    block_rows(q, queries + i * head_dim, head_dim, rows);
    block_rows(b, bias + i * np, np, rows);
    float *s0 = scores + i * np;
    long c = 0;
    for (; c + 16 <= np; c += 16) {
      __m256 a[6][2];
      for (int r = 0; r < 6; r++) {
        a[r][0] = _mm256_loadu_ps(b[r] + c);
        a[r][1] = _mm256_loadu_ps(b[r] + c + 8);
      }
      block6x16(a, q, keys_t + c, np, head_dim);
      for (int r = 0; r < rows; r++) {
        _mm256_storeu_ps(s0 + r * np + c, a[r][0]);
        _mm256_storeu_ps(s0 + r * np + c + 8, a[r][1]);
      }
    }
    if (c < np) {
      __m256 a[6];
      for (int r = 0; r < 6; r++) a[r] = _mm256_loadu_ps(b[r] + c);
      block6x8(a, q, keys_t + c, np, head_dim, 0, _mm256_setzero_si256());
      for (int r = 0; r < rows; r++) _mm256_storeu_ps(s0 + r * np + c, a[r]);
    }
    i += rows;
  }
}

// exp8 of VectorMath.swift. Swift's maximum(a, b) is `b > a ? b : a`, which is _mm256_max_ps(b, a).
INLINE AVX2 __m256 exp8(__m256 x) {
  const __m256 lowest = _mm256_set1_ps(EXP_LOWEST);
  __m256 clamped = _mm256_min_ps(_mm256_set1_ps(EXP_HIGHEST), _mm256_max_ps(lowest, x));
  const __m256 magic = _mm256_set1_ps(EXP_MAGIC);
  __m256 shifted = _mm256_fmadd_ps(clamped, _mm256_set1_ps(EXP_LOG2E), magic);
  __m256 n = _mm256_sub_ps(shifted, magic);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(EXP_LN2_HIGH), clamped);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(EXP_LN2_LOW), r);
  __m256 p = horner8(r, exp_coefficients, 7);
  __m256i integer = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(magic));
  __m256 two_to_n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(integer, _mm256_set1_epi32(127)), 23));
  __m256 below = _mm256_cmp_ps(x, lowest, _CMP_LT_OQ);
  return _mm256_andnot_ps(below, _mm256_mul_ps(p, two_to_n));
}

// Softmax numerators of R rows (`np` apart) interleaved, each row as VectorMath.swift's
// softmaxNumerators: one row's chain (maximum, exponentials, sum, division) is mostly latency, so
// R independent rows keep the vector units busy (4 rows ran 1.4× faster than one on 49 × 56 scores).
INLINE AVX2 void softmax_rows(const int R, float *scores, long np, float *inverse_sums) {
  __m256 maxima[4], row_max[4], sums0[4], sums1[4];
  for (int r = 0; r < R; r++) maxima[r] = _mm256_loadu_ps(scores + r * np);
  for (long c = 8; c < np; c += 8) {
    for (int r = 0; r < R; r++) maxima[r] = _mm256_max_ps(_mm256_loadu_ps(scores + r * np + c), maxima[r]);
  }
  for (int r = 0; r < R; r++) {
    row_max[r] = _mm256_set1_ps(horizontal_max(maxima[r]));
    sums0[r] = sums1[r] = _mm256_setzero_ps();
  }
  long c = 0;
  for (; c + 16 <= np; c += 16) {
    for (int r = 0; r < R; r++) {
      float *row = scores + r * np;
      __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + c), row_max[r]));
      __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + c + 8), row_max[r]));
      _mm256_storeu_ps(row + c, e0);
      _mm256_storeu_ps(row + c + 8, e1);
      sums0[r] = _mm256_add_ps(sums0[r], e0);
      sums1[r] = _mm256_add_ps(sums1[r], e1);
    }
  }
  if (c < np) {
    for (int r = 0; r < R; r++) {
      float *row = scores + r * np;
      __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + c), row_max[r]));
      _mm256_storeu_ps(row + c, e);
      sums0[r] = _mm256_add_ps(sums0[r], e);
    }
  }
  for (int r = 0; r < R; r++) inverse_sums[r] = 1.0f / horizontal_sum(_mm256_add_ps(sums0[r], sums1[r]));
}

AVX2 void ck_softmax_numerators_avx2(float *scores, long n, long np, float *inverse_sums) {
  long i = 0;
  for (; i + 4 <= n; i += 4) softmax_rows(4, scores + i * np, np, inverse_sums + i);
  switch (n - i) {
  case 3: softmax_rows(3, scores + i * np, np, inverse_sums + i); break;
  case 2: softmax_rows(2, scores + i * np, np, inverse_sums + i); break;
  case 1: softmax_rows(1, scores + i * np, np, inverse_sums + i); break;
  default: break;
  }
}

AVX2 void ck_weigh_values_avx2(
  const float *scores, const float *inverse_sums, const float *values, const float *value_bias, long n,
  long np, long head_dim, float *output, long output_stride) {
  for (long i = 0; i < n;) {
    const long rows = n - i < 6 ? n - i : 6;
    const float *p[6];
    block_rows(p, scores + i * np, np, rows);
    float *o0 = output + i * output_stride;
    long c = 0;
    for (; c + 16 <= head_dim; c += 16) {
      __m256 a[6][2];
      for (int r = 0; r < 6; r++) a[r][0] = a[r][1] = _mm256_setzero_ps();
      block6x16(a, p, values + c, head_dim, n);
      __m256 vb0 = _mm256_loadu_ps(value_bias + c), vb1 = _mm256_loadu_ps(value_bias + c + 8);
      for (int r = 0; r < rows; r++) {
        __m256 scale = _mm256_set1_ps(inverse_sums[i + r]);
        float *o = o0 + r * output_stride + c;
        _mm256_storeu_ps(o, _mm256_fmadd_ps(a[r][0], scale, vb0));
        _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(a[r][1], scale, vb1));
      }
    }
    for (; c < head_dim; c += 8) {
      // 8 columns, or the last 1–7 under a lane mask.
      const long width = head_dim - c < 8 ? head_dim - c : 8;
      const __m256i m = lane_mask(width);
      __m256 a[6];
      for (int r = 0; r < 6; r++) a[r] = _mm256_setzero_ps();
      block6x8(a, p, values + c, head_dim, n, 1, m);
      __m256 vb = _mm256_maskload_ps(value_bias + c, m);
      for (int r = 0; r < rows; r++) {
        __m256 result = _mm256_fmadd_ps(a[r], _mm256_set1_ps(inverse_sums[i + r]), vb);
        _mm256_maskstore_ps(o0 + r * output_stride + c, m, result);
      }
    }
    i += rows;
  }
}

#else

void ck_attention_scores_avx2(
  const float *queries, const float *keys_t, const float *bias, long n, long np, long head_dim,
  float *scores) { __builtin_trap(); }
void ck_softmax_numerators_avx2(float *scores, long n, long np, float *inverse_sums) { __builtin_trap(); }
void ck_weigh_values_avx2(
  const float *scores, const float *inverse_sums, const float *values, const float *value_bias, long n,
  long np, long head_dim, float *output, long output_stride) { __builtin_trap(); }

#endif
