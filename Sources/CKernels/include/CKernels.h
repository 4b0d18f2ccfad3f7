// Micro-kernels for instructions Swift cannot name (AVX-512 masks, vdpbf16ps, AMX), each compiled
// for its own ISA with target attributes so a plain build carries them all; the engine picks one at
// run time from ck_cpu_features(). Callers must never run a kernel whose feature bit is not set.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Feature bits of ck_cpu_features(): CPUID bits that the OS also enabled (XGETBV, arch_prctl).
enum {
  CK_AVX2_FMA = 1,
  CK_AVX512 = 2,       // AVX512F + BW + VL, with ZMM state enabled by the OS
  CK_AVX512_BF16 = 4,  // AVX512_BF16 (vdpbf16ps, vcvtneps2bf16) on top of CK_AVX512
  CK_AMX_BF16 = 8,     // AMX-TILE + AMX-BF16, tile data permitted for this process
};

/// The features above this CPU and OS provide (computed once, thread-safe).
unsigned ck_cpu_features(void);

/// A spin-wait hint (x86 PAUSE): a waiting worker leaves the core's resources to an SMT sibling,
/// or to the vCPU that shares its core, and lets the hypervisor see the spin; nothing elsewhere.
static inline void ck_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// c[rows, cols] (+)= a[rows, depth] · panel[depth, 16], cols ≤ 16, in row tiles of ≤ 6 (AVX2+FMA).
/// `next` (`next_bytes` long, or NULL): the weights of the caller's next call, which the row tiles
/// prefetch a share each while they compute (the same in the other panel kernels).
void ck_f32_avx2_panel(
  long rows, long cols, long depth, const float *a, long lda, const float *panel, int accumulate,
  float *c, long ldc, const void *next, long next_bytes);

/// c[rows, cols] (+)= a[rows, depth] · [panel0 | panel1][depth, 32], cols ≤ 32 (panel1 unused and
/// may be NULL when cols ≤ 16), in row tiles of ≤ 10 (AVX-512: 20 accumulators).
void ck_f32_avx512_panels(
  long rows, long cols, long depth, const float *a, long lda, const float *panel0, const float *panel1,
  int accumulate, float *c, long ldc, const void *next, long next_bytes);

/// y[r·ldy + i] = bf16(x[r·ldx + i]) for r < rows, i < count, round to nearest even, denormals to
/// signed zero (vcvtneps2bf16); an odd count is followed by a zero (rows of whole pairs).
void ck_bf16_round_rows_avx512(long rows, long count, const float *x, long ldx, uint16_t *y, long ldy);

/// The bf16 form of ck_f32_avx512_panels: `a` rows of bf16 pairs (`lda` pairs apart), panels of
/// `[pairs][16]` bf16 pairs; every product is vdpbf16ps (f32 accumulation, DAZ/FTZ, RNE).
void ck_bf16_avx512_panels(
  long rows, long cols, long pairs, const uint32_t *a, long lda, const uint32_t *panel0,
  const uint32_t *panel1, int accumulate, float *c, long ldc, const void *next, long next_bytes);

/// values[i] = GELU(values[i] + bias[i]) (erf form, VectorMath.swift's gelu8) on AVX2+FMA.
void ck_bias_gelu_avx2(float *values, const float *bias, long count);

/// The same on AVX-512F (16 lanes), bit for bit.
void ck_bias_gelu_avx512(float *values, const float *bias, long count);

/// y = LayerNorm(x) over one row of `count` floats (LayerNorm.swift's layerNormRow, same bits as the
/// Swift code built with FMA); y may be x. AVX2+FMA and AVX-512 copies.
void ck_layer_norm_avx2(
  const float *x, long count, const float *gamma, const float *beta, float epsilon, float *y);
void ck_layer_norm_avx512(
  const float *x, long count, const float *gamma, const float *beta, float epsilon, float *y);

/// out[r] = mean |x[r, :]| for `rows` rows of `count` floats (WindowScores.swift's
/// meanAbsoluteRows, same bits). AVX2 and AVX-512 copies.
void ck_mean_abs_rows_avx2(const float *x, long rows, long count, float *out);
void ck_mean_abs_rows_avx512(const float *x, long rows, long count, float *out);

/// AMX-BF16: c[rows, cols] (+)= a · w[first..<first + cols]ᵀ over the whole `depth` (a multiple of
/// 32) with `w` packed as `PackedBF16` (`padded_outputs` columns) and `a` rounded rows of `lda`
/// pairs, padded with zero rows to a multiple of 16. Sums every k in the tiles, then adds to c.
void ck_amx_bf16_panels(
  long rows, long cols, long depth, const uint32_t *a, long lda, const uint32_t *w, long padded_outputs,
  long first, int accumulate, float *c, long ldc);

/// WindowAttention.swift's scoreHead on AVX2+FMA: scores[n, np] = bias + queries[n, head_dim] ·
/// keys_t[head_dim, np], in 6 × 16 blocks (np a multiple of 8).
void ck_attention_scores_avx2(
  const float *queries, const float *keys_t, const float *bias, long n, long np, long head_dim,
  float *scores);

/// WindowAttention.swift's softmaxNumerators on AVX2+FMA: each row of scores[n, np] becomes its
/// softmax numerators (exp8), inverse_sums[i] = 1 / their sum.
void ck_softmax_numerators_avx2(float *scores, long n, long np, float *inverse_sums);

/// WindowAttention.swift's weighValues on AVX2+FMA: output[i, :head_dim] = (Σ_j scores[i, j] ·
/// values[j]) · inverse_sums[i] + value_bias, rows `output_stride` apart.
void ck_weigh_values_avx2(
  const float *scores, const float *inverse_sums, const float *values, const float *value_bias, long n,
  long np, long head_dim, float *output, long output_stride);

/// WindowAttention.swift's packHead on AVX-512: queries[n, head_dim] = query rows + query_bias,
/// values[n, head_dim] = value rows, keys_t[head_dim, np] = (key rows + key_bias)ᵀ with columns
/// n ..< np zero; the rows sit `row_stride` apart.
void ck_pack_head_avx512(
  const float *query, const float *key, const float *value, long row_stride, const float *query_bias,
  const float *key_bias, long n, long np, long head_dim, float *queries, float *keys_t, float *values);

/// ck_attention_scores_avx2 on AVX-512 (register tiles of ≤ 10 rows × 32 columns): the same bits.
void ck_attention_scores_avx512(
  const float *queries, const float *keys_t, const float *bias, long n, long np, long head_dim,
  float *scores);

/// ck_softmax_numerators_avx2 on 16 lanes: the same reductions in the same order, the same bits.
void ck_softmax_numerators_avx512(float *scores, long n, long np, float *inverse_sums);

/// ck_weigh_values_avx2 on AVX-512 (register tiles of ≤ 10 rows × 32 columns): the same bits.
void ck_weigh_values_avx512(
  const float *scores, const float *inverse_sums, const float *values, const float *value_bias, long n,
  long np, long head_dim, float *output, long output_stride);

/// The bf16 attention (AVX512_BF16) of one head, pairs along each product's inner dimension, even
/// position low, an odd last position paired with zero (dp = ⌈head_dim/2⌉, tp = ⌈n/2⌉):
/// queries[n, dp] = bf16(query rows + query_bias), keys[dp, np] = bf16(key rows + key_bias)ᵀ with
/// columns n ..< np zero, values[tp, head_dim] = bf16 of value rows 2t and 2t + 1.
void ck_pack_head_bf16(
  const float *query, const float *key, const float *value, long row_stride, const float *query_bias,
  const float *key_bias, long n, long np, long head_dim, uint32_t *queries, uint32_t *keys,
  uint32_t *values);

/// scores[n, np] = bias + queries · keys by vdpbf16ps, in pair order from the bias.
void ck_attention_scores_bf16(
  const uint32_t *queries, const uint32_t *keys, const float *bias, long n, long np, long head_dim,
  float *scores);

/// After ck_softmax_numerators_avx512: rounds each row of `scores` to ⌈n/2⌉ bf16 pairs in place
/// (its first 4·⌈n/2⌉ bytes), then output[i, :head_dim] = (Σ_t vdpbf16ps over the pairs and
/// values) · inverse_sums[i] + value_bias, rows `output_stride` apart.
void ck_weigh_values_bf16(
  float *scores, const float *inverse_sums, const uint32_t *values, const float *value_bias, long n, long np,
  long head_dim, float *output, long output_stride);

#endif
