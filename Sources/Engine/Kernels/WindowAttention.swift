// Multi-head self-attention inside one window: softmax(q·kᵀ + bias + mask)·v for each head, as a
// register-blocked micro-kernel over 8-lane vectors. Windows are small (49 tokens, head dim 32), so
// one window-head lives in L1 and an OpenBLAS call per product would cost more than the arithmetic.
// Only four shift-mask patterns exist, so relative position bias and mask are pre-added per pattern.
import CKernels

/// Which copy of the score, softmax and weighting loops runs.
package enum AttentionISA: String, Sendable, CaseIterable {
  /// The C copies compiled for AVX2+FMA (CKernels/attention_kernels.c), whatever the build flags.
  case avx2
  /// The Swift `SIMD8` code (fused only in `-DSPARSEVIT_FMA` builds).
  case swift

  /// Whether this CPU runs it.
  package var isSupported: Bool { self == .swift || CPUFeatures.current.contains(.avx2FMA) }

  /// The C kernel where the CPU has AVX2+FMA (same bits as the Swift code built with FMA).
  package static let best: AttentionISA = AttentionISA.avx2.isSupported ? .avx2 : .swift
}

/// Relative position bias plus shift mask of one block at one grid, laid out for the kernel:
/// `[maskClasses, heads, windowTokens, paddedTokens]`, padding columns set to −1e30 so that they
/// vanish in the softmax.
package struct WindowAttentionBias: Sendable {
  /// Attention heads.
  package let heads: Int
  /// Tokens per window (`N`).
  package let tokens: Int
  /// `N` rounded up to a multiple of 8 (the row stride of every table).
  package let paddedTokens: Int
  /// Mask patterns (1 for unshifted grids, 4 for shifted ones; see `WindowGrid.maskClass`).
  package let classes: Int
  let values: [Float]

  /// Expands a relative position bias table for `grid`'s window.
  ///
  /// - Parameter table: `[(2·wh − 1)·(2·ww − 1), heads]` for `grid.windowHeight × grid.windowWidth`
  ///   (row-major over (Δrow + wh − 1, Δcol + ww − 1), as timm's `relative_position_bias_table`).
  package init(table: [Float], heads: Int, grid: WindowGrid) {
    let wh = grid.windowHeight, ww = grid.windowWidth
    let spanWidth = 2 * ww - 1
    precondition(
      table.count == (2 * wh - 1) * spanWidth * heads,
      "WindowAttentionBias: table has \(table.count) values, expected \((2 * wh - 1) * spanWidth * heads)")
    let tokens = wh * ww
    let padded = Self.paddedCount(tokens)
    let classes = grid.maskClassCount
    var values = [Float](repeating: -1e30, count: Self.floatCount(heads: heads, grid: grid))
    let masks = (0..<classes).map { grid.shiftMask(forClass: $0) }
    for maskClass in 0..<classes {
      for head in 0..<heads {
        let base = (maskClass * heads + head) * tokens * padded
        for i in 0..<tokens {
          for j in 0..<tokens {
            let index = (i / ww - j / ww + wh - 1) * spanWidth + (i % ww - j % ww + ww - 1)
            values[base + i * padded + j] = table[index * heads + head] + masks[maskClass][i * tokens + j]
          }
        }
      }
    }
    self.heads = heads
    self.tokens = tokens
    self.paddedTokens = padded
    self.classes = classes
    self.values = values
  }

  /// Floats of the table for `heads` heads at `grid`: `[maskClasses, heads, tokens, paddedTokens]`.
  package static func floatCount(heads: Int, grid: WindowGrid) -> Int {
    let tokens = grid.windowTokens
    return grid.maskClassCount * heads * tokens * paddedCount(tokens)
  }

  /// `tokens` rounded up to a multiple of 8, the row stride of the tables and score rows.
  static func paddedCount(_ tokens: Int) -> Int { (tokens + 7) / 8 * 8 }

  /// Bytes held.
  package var bytes: Int { values.count * MemoryLayout<Float>.stride }

  /// Floats of scratch one worker needs for `attendWindowHead`: transposed keys, score rows,
  /// biased queries and values.
  package static func scratchFloats(tokens: Int, headDim: Int) -> Int {
    let padded = paddedCount(tokens)
    return padded * (headDim + tokens) + 2 * tokens * headDim
  }
}

/// One head of one window: `out[i] = softmax_j(q_i · k_j + bias[i, j]) · v + valueBias`.
///
/// `q`, `k` and `v` are the head's columns of rows with stride `rowStride` and no bias yet; the
/// query scale is already folded into `q`'s weights. Since each softmax row sums to one, the value
/// bias is added once to the output instead of to every value row. Four steps, each its own
/// function, so that each is compiled (and profiled) on its own; `isa` must be supported.
@inline(__always)
func attendWindowHead(
  query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
  rowStride: Int,
  queryBias: UnsafePointer<Float>, keyBias: UnsafePointer<Float>, valueBias: UnsafePointer<Float>,
  tokens: Int, paddedTokens: Int, headDim: Int,
  bias: UnsafePointer<Float>,
  scratch: UnsafeMutablePointer<Float>,
  into output: UnsafeMutablePointer<Float>, outputStride: Int,
  isa: AttentionISA = .best
) {
  let n = tokens, np = paddedTokens
  let keysT = scratch  // [headDim, np]
  let scores = keysT + headDim * np  // [n, np]
  let queries = scores + n * np  // [n, headDim]
  let values = queries + n * headDim  // [n, headDim]
  let inverseSums = queries  // [n]: the biased queries are no longer needed after the scores
  packHead(
    query: query, key: key, value: value, rowStride: rowStride, queryBias: queryBias, keyBias: keyBias,
    tokens: n, paddedTokens: np, headDim: headDim, queries: queries, keysT: keysT, values: values)
  if isa == .avx2 {
    ck_attention_scores_avx2(queries, keysT, bias, n, np, headDim, scores)
    ck_softmax_numerators_avx2(scores, n, np, inverseSums)
    ck_weigh_values_avx2(scores, inverseSums, values, valueBias, n, np, headDim, output, outputStride)
    return
  }
  scoreHead(queries: queries, keysT: keysT, bias: bias, tokens: n, paddedTokens: np, headDim: headDim, into: scores)
  softmaxNumerators(scores, tokens: n, paddedTokens: np, inverseSums: inverseSums)
  weighValues(
    scores, inverseSums: inverseSums, values: values, valueBias: valueBias, tokens: n, paddedTokens: np,
    headDim: headDim, into: output, outputStride: outputStride)
}

/// Biased queries `[n, headDim]` and values `[n, headDim]` made contiguous and biased keys
/// transposed into `keysT [headDim, paddedTokens]` (padding columns zero; their bias is −1e30), in
/// one pass over the head's rows. The rows sit `rowStride` apart (3C–4C floats), a stride that maps
/// them onto few L1 sets, so the products read only these copies.
@inline(never)
func packHead(
  query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>, rowStride: Int,
  queryBias: UnsafePointer<Float>, keyBias: UnsafePointer<Float>,
  tokens n: Int, paddedTokens np: Int, headDim: Int,
  queries: UnsafeMutablePointer<Float>, keysT: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>
) {
  for j in 0..<n {
    let q = query + j * rowStride, k = key + j * rowStride, v = value + j * rowStride
    let queryRow = queries + j * headDim, valueRow = values + j * headDim
    var d = 0
    while d + 8 <= headDim {
      store8(load8(q + d) + load8(queryBias + d), queryRow + d)
      store8(load8(v + d), valueRow + d)
      let keys = load8(k + d) + load8(keyBias + d)
      let column = keysT + d * np + j
      column[0] = keys[0]
      column[np] = keys[1]
      column[2 * np] = keys[2]
      column[3 * np] = keys[3]
      column[4 * np] = keys[4]
      column[5 * np] = keys[5]
      column[6 * np] = keys[6]
      column[7 * np] = keys[7]
      d += 8
    }
    while d < headDim {
      queryRow[d] = q[d] + queryBias[d]
      valueRow[d] = v[d]
      keysT[d * np + j] = k[d] + keyBias[d]
      d += 1
    }
  }
  for d in 0..<headDim {
    for j in n..<np { keysT[d * np + j] = 0 }
  }
}

/// `scores [n, paddedTokens] = bias + queries · keysT`, in register blocks of 6 query rows × 16 key
/// columns (then 8); a last block of fewer rows repeats its first row in the spare accumulators and
/// does not store them.
@inline(never)
func scoreHead(
  queries: UnsafePointer<Float>, keysT: UnsafePointer<Float>, bias: UnsafePointer<Float>,
  tokens n: Int, paddedTokens np: Int, headDim: Int, into scores: UnsafeMutablePointer<Float>
) {
  var i = 0
  while i < n {
    let rows = min(6, n - i)
    let q0 = queries + i * headDim
    let q1 = rows > 1 ? q0 + headDim : q0, q2 = rows > 2 ? q0 + 2 * headDim : q0
    let q3 = rows > 3 ? q0 + 3 * headDim : q0, q4 = rows > 4 ? q0 + 4 * headDim : q0
    let q5 = rows > 5 ? q0 + 5 * headDim : q0
    let b0 = bias + i * np
    let b1 = rows > 1 ? b0 + np : b0, b2 = rows > 2 ? b0 + 2 * np : b0, b3 = rows > 3 ? b0 + 3 * np : b0
    let b4 = rows > 4 ? b0 + 4 * np : b0, b5 = rows > 5 ? b0 + 5 * np : b0
    let s0 = scores + i * np
    var c = 0
    while c + 16 <= np {
      var a00 = load8(b0 + c), a01 = load8(b0 + c + 8)
      var a10 = load8(b1 + c), a11 = load8(b1 + c + 8)
      var a20 = load8(b2 + c), a21 = load8(b2 + c + 8)
      var a30 = load8(b3 + c), a31 = load8(b3 + c + 8)
      var a40 = load8(b4 + c), a41 = load8(b4 + c + 8)
      var a50 = load8(b5 + c), a51 = load8(b5 + c + 8)
      for d in 0..<headDim {
        let k0 = load8(keysT + d * np + c), k1 = load8(keysT + d * np + c + 8)
        let x0 = Vector8(repeating: q0[d]), x1 = Vector8(repeating: q1[d]), x2 = Vector8(repeating: q2[d])
        a00 = multiplyAdd(x0, k0, a00)
        a01 = multiplyAdd(x0, k1, a01)
        a10 = multiplyAdd(x1, k0, a10)
        a11 = multiplyAdd(x1, k1, a11)
        a20 = multiplyAdd(x2, k0, a20)
        a21 = multiplyAdd(x2, k1, a21)
        let x3 = Vector8(repeating: q3[d]), x4 = Vector8(repeating: q4[d]), x5 = Vector8(repeating: q5[d])
        a30 = multiplyAdd(x3, k0, a30)
        a31 = multiplyAdd(x3, k1, a31)
        a40 = multiplyAdd(x4, k0, a40)
        a41 = multiplyAdd(x4, k1, a41)
        a50 = multiplyAdd(x5, k0, a50)
        a51 = multiplyAdd(x5, k1, a51)
      }
      store8(a00, s0 + c)
      store8(a01, s0 + c + 8)
      if rows > 1 {
        store8(a10, s0 + np + c)
        store8(a11, s0 + np + c + 8)
      }
      if rows > 2 {
        store8(a20, s0 + 2 * np + c)
        store8(a21, s0 + 2 * np + c + 8)
      }
      if rows > 3 {
        store8(a30, s0 + 3 * np + c)
        store8(a31, s0 + 3 * np + c + 8)
      }
      if rows > 4 {
        store8(a40, s0 + 4 * np + c)
        store8(a41, s0 + 4 * np + c + 8)
      }
      if rows > 5 {
        store8(a50, s0 + 5 * np + c)
        store8(a51, s0 + 5 * np + c + 8)
      }
      c += 16
    }
    if c < np {
      var a0 = load8(b0 + c), a1 = load8(b1 + c), a2 = load8(b2 + c)
      var a3 = load8(b3 + c), a4 = load8(b4 + c), a5 = load8(b5 + c)
      for d in 0..<headDim {
        let k = load8(keysT + d * np + c)
        a0 = multiplyAdd(Vector8(repeating: q0[d]), k, a0)
        a1 = multiplyAdd(Vector8(repeating: q1[d]), k, a1)
        a2 = multiplyAdd(Vector8(repeating: q2[d]), k, a2)
        a3 = multiplyAdd(Vector8(repeating: q3[d]), k, a3)
        a4 = multiplyAdd(Vector8(repeating: q4[d]), k, a4)
        a5 = multiplyAdd(Vector8(repeating: q5[d]), k, a5)
      }
      store8(a0, s0 + c)
      if rows > 1 { store8(a1, s0 + np + c) }
      if rows > 2 { store8(a2, s0 + 2 * np + c) }
      if rows > 3 { store8(a3, s0 + 3 * np + c) }
      if rows > 4 { store8(a4, s0 + 4 * np + c) }
      if rows > 5 { store8(a5, s0 + 5 * np + c) }
    }
    i += rows
  }
}

/// Softmax numerators of each score row in place (padding lanes come out as exact zeros) and
/// `inverseSums[i] = 1 / Σ_j` of row i: the division is applied to the output rows instead of to
/// the `n` probabilities.
@inline(never)
func softmaxNumerators(
  _ scores: UnsafeMutablePointer<Float>, tokens n: Int, paddedTokens np: Int,
  inverseSums: UnsafeMutablePointer<Float>
) {
  for i in 0..<n {
    let row = scores + i * np
    var maxima = load8(row)
    var c = 8
    while c < np {
      maxima = maximum(maxima, load8(row + c))
      c += 8
    }
    let rowMax = Vector8(repeating: horizontalMaximum(maxima))
    // Two vectors per step: their exponentials are independent chains the core overlaps.
    var sums0 = Vector8(), sums1 = Vector8()
    c = 0
    while c + 16 <= np {
      let e0 = exp8(load8(row + c) - rowMax), e1 = exp8(load8(row + c + 8) - rowMax)
      store8(e0, row + c)
      store8(e1, row + c + 8)
      sums0 += e0
      sums1 += e1
      c += 16
    }
    if c < np {
      let e = exp8(load8(row + c) - rowMax)
      store8(e, row + c)
      sums0 += e
    }
    inverseSums[i] = 1 / horizontalSum(sums0 + sums1)
  }
}

/// `out[i] = (Σ_j e[i, j] · v[j]) · inverseSums[i] + valueBias` in register blocks of 6 rows × 16
/// columns (then 8, then scalars); a last block of fewer rows repeats its first row, unstored.
@inline(never)
func weighValues(
  _ scores: UnsafePointer<Float>, inverseSums: UnsafePointer<Float>, values: UnsafePointer<Float>,
  valueBias: UnsafePointer<Float>, tokens n: Int, paddedTokens np: Int, headDim: Int,
  into output: UnsafeMutablePointer<Float>, outputStride: Int
) {
  var i = 0
  while i < n {
    let rows = min(6, n - i)
    let p0 = scores + i * np
    let p1 = rows > 1 ? p0 + np : p0, p2 = rows > 2 ? p0 + 2 * np : p0, p3 = rows > 3 ? p0 + 3 * np : p0
    let p4 = rows > 4 ? p0 + 4 * np : p0, p5 = rows > 5 ? p0 + 5 * np : p0
    let o0 = output + i * outputStride
    var c = 0
    while c + 16 <= headDim {
      var a00 = Vector8(), a01 = Vector8(), a10 = Vector8(), a11 = Vector8()
      var a20 = Vector8(), a21 = Vector8(), a30 = Vector8(), a31 = Vector8()
      var a40 = Vector8(), a41 = Vector8(), a50 = Vector8(), a51 = Vector8()
      for j in 0..<n {
        let v0 = load8(values + j * headDim + c), v1 = load8(values + j * headDim + c + 8)
        let w0 = Vector8(repeating: p0[j]), w1 = Vector8(repeating: p1[j]), w2 = Vector8(repeating: p2[j])
        a00 = multiplyAdd(w0, v0, a00)
        a01 = multiplyAdd(w0, v1, a01)
        a10 = multiplyAdd(w1, v0, a10)
        a11 = multiplyAdd(w1, v1, a11)
        a20 = multiplyAdd(w2, v0, a20)
        a21 = multiplyAdd(w2, v1, a21)
        let w3 = Vector8(repeating: p3[j]), w4 = Vector8(repeating: p4[j]), w5 = Vector8(repeating: p5[j])
        a30 = multiplyAdd(w3, v0, a30)
        a31 = multiplyAdd(w3, v1, a31)
        a40 = multiplyAdd(w4, v0, a40)
        a41 = multiplyAdd(w4, v1, a41)
        a50 = multiplyAdd(w5, v0, a50)
        a51 = multiplyAdd(w5, v1, a51)
      }
      let vb0 = load8(valueBias + c), vb1 = load8(valueBias + c + 8)
      func store(_ low: Vector8, _ high: Vector8, row: Int) {
        let scale = Vector8(repeating: inverseSums[i + row])
        let o = o0 + row * outputStride + c
        store8(multiplyAdd(low, scale, vb0), o)
        store8(multiplyAdd(high, scale, vb1), o + 8)
      }
      store(a00, a01, row: 0)
      if rows > 1 { store(a10, a11, row: 1) }
      if rows > 2 { store(a20, a21, row: 2) }
      if rows > 3 { store(a30, a31, row: 3) }
      if rows > 4 { store(a40, a41, row: 4) }
      if rows > 5 { store(a50, a51, row: 5) }
      c += 16
    }
    while c < headDim {
      // 8 columns, or the last 1–7 (padded to 8 in registers, stored partially).
      let width = min(8, headDim - c)
      var a0 = Vector8(), a1 = Vector8(), a2 = Vector8(), a3 = Vector8(), a4 = Vector8(), a5 = Vector8()
      for j in 0..<n {
        let v = width == 8 ? load8(values + j * headDim + c) : loadPartial8(values + j * headDim + c, count: width)
        a0 = multiplyAdd(Vector8(repeating: p0[j]), v, a0)
        a1 = multiplyAdd(Vector8(repeating: p1[j]), v, a1)
        a2 = multiplyAdd(Vector8(repeating: p2[j]), v, a2)
        a3 = multiplyAdd(Vector8(repeating: p3[j]), v, a3)
        a4 = multiplyAdd(Vector8(repeating: p4[j]), v, a4)
        a5 = multiplyAdd(Vector8(repeating: p5[j]), v, a5)
      }
      let vb = width == 8 ? load8(valueBias + c) : loadPartial8(valueBias + c, count: width)
      func store(_ sum: Vector8, row: Int) {
        let result = multiplyAdd(sum, Vector8(repeating: inverseSums[i + row]), vb)
        let o = o0 + row * outputStride + c
        if width == 8 { store8(result, o) } else { storePartial8(result, o, count: width) }
      }
      store(a0, row: 0)
      if rows > 1 { store(a1, row: 1) }
      if rows > 2 { store(a2, row: 2) }
      if rows > 3 { store(a3, row: 3) }
      if rows > 4 { store(a4, row: 4) }
      if rows > 5 { store(a5, row: 5) }
      c += width
    }
    i += rows
  }
}
