// AMX-BF16 kernel: (2·h)×32 output blocks in four h×16 f32 tiles (h ≤ 16 rows), each k step of 32
// one TDPBF16PS per tile on bf16 tiles loaded straight from the packed pairs (a B tile is 16
// consecutive pairs of a panel: 16 rows of 64 bytes) and the rounded activations (A tile: h rows of
// 32 bf16).
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx2,fma")))

struct tile_config {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Adds (or stores) the f32 tile `t` (rows of 16) into c's `rows` × `cols` corner.
AMX static void put_tile(const float *t, long rows, long cols, int accumulate, float *c, long ldc) {
  __mmask16 m = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
  for (long r = 0; r < rows; r++) {
    __m512 v = _mm512_loadu_ps(t + 16 * r);
    if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c + r * ldc), v);
    _mm512_mask_storeu_ps(c + r * ldc, m, v);
  }
}

// Loads the tile shapes: C tiles 0–3 and A tiles 4–5 of `h` rows, B tiles 6–7 of 16 pairs × 16
// columns.
AMX static void configure(int h) {
  struct tile_config config = {0};
  config.palette = 1;
  for (int i = 0; i < 8; i++) {
    config.colsb[i] = 64;
    config.rows[i] = (uint8_t)(i < 6 ? h : 16);
  }
  _tile_loadconfig(&config);
}

// The block of 2·h rows × 32 columns of c at (row, column), h ≤ 16 rows per tile.
AMX static inline __attribute__((always_inline)) void block(
  long rows, long cols, long h, long row, long column, long depth, const uint32_t *a, long lda, const uint32_t *w,
  long padded_outputs, long first, int accumulate, float *c, long ldc) {
  float out[4][256] __attribute__((aligned(64)));
  const long aStride = lda * 4;
  const int twoColumns = cols - column > 16, twoRows = rows - row > h;
  const uint32_t *a0 = a + row * lda, *a1 = a0 + h * lda;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (long k0 = 0; k0 < depth; k0 += 256) {
    long pairs = (depth - k0 < 256 ? depth - k0 : 256) / 2;
    const uint32_t *b0 = w + k0 / 2 * padded_outputs + (first + column) * pairs, *b1 = b0 + 16 * pairs;
    for (long p = 0; p < pairs; p += 16) {
      _tile_loadd(4, a0 + k0 / 2 + p, aStride);
      _tile_loadd(6, b0 + 16 * p, 64);
      _tile_dpbf16ps(0, 4, 6);
      if (twoColumns) {
        _tile_loadd(7, b1 + 16 * p, 64);
        _tile_dpbf16ps(1, 4, 7);
      }
      if (twoRows) {
        _tile_loadd(5, a1 + k0 / 2 + p, aStride);
        _tile_dpbf16ps(2, 5, 6);
        if (twoColumns) _tile_dpbf16ps(3, 5, 7);
      }
    }
  }
  long r0 = rows - row < h ? rows - row : h, r1 = rows - row - h;
  long c0 = cols - column < 16 ? cols - column : 16, c1 = cols - column - 16;
  r1 = r1 < h ? r1 : h;
  c1 = c1 < 16 ? c1 : 16;
  float *ct = c + row * ldc + column;
  // A full h×16 tile that overwrites c goes straight there; a partial or accumulated one through
  // `out` (summed from zero, then added: the same bits either way).
#define EMIT(T, R, C, TARGET)                                \
  do {                                                        \
    if (!accumulate && (R) == h && (C) == 16) {              \
      _tile_stored(T, TARGET, ldc * 4);                       \
    } else {                                                  \
      _tile_stored(T, out[T], 64);                            \
      put_tile(out[T], R, C, accumulate, TARGET, ldc);        \
    }                                                         \
  } while (0)
  EMIT(0, r0, c0, ct);
  if (twoColumns) EMIT(1, r0, c1, ct + 16);
  if (twoRows) {
    EMIT(2, r1, c0, ct + h * ldc);
    if (twoColumns) EMIT(3, r1, c1, ct + h * ldc + 16);
  }
#undef EMIT
}

AMX void ck_amx_bf16_panels(
  long rows, long cols, long depth, const uint32_t *a, long lda, const uint32_t *w, long padded_outputs,
  long first, int accumulate, float *c, long ldc) {
  // Tiles of one height h for the whole product: the fewest 16-row tiles that hold the rows, evened
  // out (98 rows: 7 of 14; 147: 10 of 15, the last 3 rows read the zero padding). TDPBF16PS takes
  // time per row, so padding a partial last block to 16-row tiles costs up to a block's work, and
  // configuring its tiles again in every strip cost more than it saved (98–196 rows, one core).
  // Column strips outside, row blocks inside: a 32-column strip of the weights (at most 96 KiB at
  // depth 1536) is read from memory once and stays in L2 while every row block passes over it; the
  // rounded activations (a few hundred rows) stay in L2 throughout. (Running a partial last block
  // after all strips, in its own configuration, read every strip twice: 98 rows × 2304 columns took
  // 25% longer than this.)
  const long tiles = (rows + 15) / 16, h = (rows + tiles - 1) / tiles;
  configure((int)h);
  for (long column = 0; column < cols; column += 32)
    for (long row = 0; row < rows; row += 2 * h)
      block(rows, cols, h, row, column, depth, a, lda, w, padded_outputs, first, accumulate, c, ldc);
  _tile_release();
}

#else

void ck_amx_bf16_panels(
  long rows, long cols, long depth, const uint32_t *a, long lda, const uint32_t *w, long padded_outputs,
  long first, int accumulate, float *c, long ldc) {
  __builtin_trap();
}

#endif
