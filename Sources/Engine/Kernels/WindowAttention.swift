// Multi-head self-attention inside one window: softmax(q·kᵀ + bias + mask)·v for each head, as a
// register-blocked micro-kernel over 8-lane vectors. Windows are small (49 tokens, head dim 32), so
// one window-head lives in L1 and an OpenBLAS call per product would cost more than the arithmetic.
// Only four shift-mask patterns exist, so relative position bias and mask are pre-added per pattern.
import CKernels

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
/// function, so that each is compiled (and profiled) on its own; `isa` must be supported. With
/// `bf16` the products run in bf16 (`attendWindowHeadBF16`), the softmax still on `isa`.
@inline(__always)
func attendWindowHead(
  query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
  rowStride: Int,
  queryBias: UnsafePointer<Float>, keyBias: UnsafePointer<Float>, valueBias: UnsafePointer<Float>,
  tokens: Int, paddedTokens: Int, headDim: Int,
  bias: UnsafePointer<Float>,
  scratch: UnsafeMutablePointer<Float>,
  into output: UnsafeMutablePointer<Float>, outputStride: Int,
  isa: VectorISA = .widest, bf16: BF16ISA? = nil
) {
  if let bf16 {
    attendWindowHeadBF16(
      query: query, key: key, value: value, rowStride: rowStride, queryBias: queryBias, keyBias: keyBias,
      valueBias: valueBias, tokens: tokens, paddedTokens: paddedTokens, headDim: headDim, bias: bias,
      scratch: scratch, into: output, outputStride: outputStride, isa: bf16, softmax: isa)
    return
  }
  let n = tokens, np = paddedTokens
  let keysT = scratch  // [headDim, np]
  let scores = keysT + headDim * np  // [n, np]
  let queries = scores + n * np  // [n, headDim]
  let values = queries + n * headDim  // [n, headDim]
  let inverseSums = queries  // [n]: the biased queries are no longer needed after the scores
  if isa == .avx512 {
    ck_pack_head_avx512(
      query, key, value, rowStride, queryBias, keyBias, n, np, headDim, queries, keysT, values)
  } else {
    packHead(
      query: query, key: key, value: value, rowStride: rowStride, queryBias: queryBias, keyBias: keyBias,
      tokens: n, paddedTokens: np, headDim: headDim, queries: queries, keysT: keysT, values: values)
  }
  switch isa {
  case .avx512:
    ck_attention_scores_avx512(queries, keysT, bias, n, np, headDim, scores)
    ck_softmax_numerators_avx512(scores, n, np, inverseSums)
    ck_weigh_values_avx512(scores, inverseSums, values, valueBias, n, np, headDim, output, outputStride)
    return
  case .avx2:
    ck_attention_scores_avx2(queries, keysT, bias, n, np, headDim, scores)
    ck_softmax_numerators_avx2(scores, n, np, inverseSums)
    ck_weigh_values_avx2(scores, inverseSums, values, valueBias, n, np, headDim, output, outputStride)
    return
  case .swift: break
  }
  scoreHead(queries: queries, keysT: keysT, bias: bias, tokens: n, paddedTokens: np, headDim: headDim, into: scores)
  softmaxNumerators(scores, tokens: n, paddedTokens: np, inverseSums: inverseSums)
  weighValues(
    scores, inverseSums: inverseSums, values: values, valueBias: valueBias, tokens: n, paddedTokens: np,
    headDim: headDim, into: output, outputStride: outputStride)
}

/// `attendWindowHead` with bf16 products, the bf16 precision's attention: the biased queries and
/// keys, the values and the softmax numerators are rounded to bf16 pairs along each product's inner
/// dimension (`PackedBF16`'s pairing), and both products are summed in f32 by `vdpbf16ps`
/// (`ck_*_bf16`) or, with `.model`, by `BFloat16Model.dotPair` in the same order. The softmax between
/// them is the f32 one of `softmax`, so the two give the same bits. The scratch regions are
/// `attendWindowHead`'s, holding pairs: keys `[⌈d/2⌉, np]`, scores `[n, np]` (then their numerators,
/// rounded in place to `⌈n/2⌉` pairs per row), queries `[n, ⌈d/2⌉]`, values `[⌈n/2⌉, d]`.
func attendWindowHeadBF16(
  query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>, rowStride: Int,
  queryBias: UnsafePointer<Float>, keyBias: UnsafePointer<Float>, valueBias: UnsafePointer<Float>,
  tokens n: Int, paddedTokens np: Int, headDim: Int, bias: UnsafePointer<Float>,
  scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>, outputStride: Int,
  isa: BF16ISA, softmax: VectorISA
) {
  precondition(isa.isSupported, "attendWindowHeadBF16: this CPU cannot run the \(isa) kernel")
  let pairs = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UInt32.self)
  let keys = pairs, scores = scratch + headDim * np
  let queries = pairs + headDim * np + n * np, values = queries + n * headDim
  let inverseSums = scratch + headDim * np + n * np  // the queries' region, free after the scores
  if isa != .model {
    ck_pack_head_bf16(query, key, value, rowStride, queryBias, keyBias, n, np, headDim, queries, keys, values)
    ck_attention_scores_bf16(queries, keys, bias, n, np, headDim, scores)
    ck_softmax_numerators_avx512(scores, n, np, inverseSums)
    ck_weigh_values_bf16(scores, inverseSums, values, valueBias, n, np, headDim, output, outputStride)
    return
  }
  let dp = (headDim + 1) / 2, tp = (n + 1) / 2
  @inline(__always) func pair(_ low: Float, _ high: Float) -> UInt32 {
    UInt32(BFloat16Model.round(low)) | UInt32(BFloat16Model.round(high)) << 16
  }
  for j in 0..<n {
    for p in 0..<dp {
      let d = 2 * p, odd = d + 1 < headDim
      queries[j * dp + p] = pair(
        query[j * rowStride + d] + queryBias[d], odd ? query[j * rowStride + d + 1] + queryBias[d + 1] : 0)
    }
  }
  for p in 0..<dp {
    let d = 2 * p, odd = d + 1 < headDim
    for j in 0..<np {
      keys[p * np + j] =
        j < n ? pair(key[j * rowStride + d] + keyBias[d], odd ? key[j * rowStride + d + 1] + keyBias[d + 1] : 0) : 0
    }
  }
  for t in 0..<tp {
    for c in 0..<headDim {
      values[t * headDim + c] = pair(
        value[2 * t * rowStride + c], 2 * t + 1 < n ? value[(2 * t + 1) * rowStride + c] : 0)
    }
  }
  for i in 0..<n {
    for j in 0..<np {
      var sum = bias[i * np + j]
      for p in 0..<dp { sum = BFloat16Model.dotPair(sum, queries[i * dp + p], keys[p * np + j]) }
      scores[i * np + j] = sum
    }
  }
  switch softmax {
  case .avx512: ck_softmax_numerators_avx512(scores, n, np, inverseSums)
  case .avx2: ck_softmax_numerators_avx2(scores, n, np, inverseSums)
  case .swift: softmaxNumerators(scores, tokens: n, paddedTokens: np, inverseSums: inverseSums)
  }
  for i in 0..<n {
    let row = scores + i * np
    let numerators = (0..<tp).map { pair(row[2 * $0], row[2 * $0 + 1]) }
    for c in 0..<headDim {
      var sum: Float = 0
      for t in 0..<tp { sum = BFloat16Model.dotPair(sum, numerators[t], values[t * headDim + c]) }
      output[i * outputStride + c] = valueBias[c].addingProduct(sum, inverseSums[i])
    }
  }
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
    let q = BlockRows(queries + i * headDim, stride: headDim, count: rows)
    let b = BlockRows(bias + i * np, stride: np, count: rows)
    let s0 = scores + i * np
    var c = 0
    while c + 16 <= np {
      var block = RegisterBlock(loading: b, column: c, vectors: 2)
      block.accumulate(rows: 6, vectors: 2, q, keysT + c, ldb: np, depth: headDim)
      for r in 0..<6 where r < rows {
        store8(block.sums[r][0], s0 + r * np + c)
        store8(block.sums[r][1], s0 + r * np + c + 8)
      }
      c += 16
    }
    if c < np {
      var block = RegisterBlock(loading: b, column: c, vectors: 1)
      block.accumulate(rows: 6, vectors: 1, q, keysT + c, ldb: np, depth: headDim)
      for r in 0..<6 where r < rows { store8(block.sums[r][0], s0 + r * np + c) }
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
/// columns (then 8, then 1–7); a last block of fewer rows repeats its first row, unstored.
@inline(never)
func weighValues(
  _ scores: UnsafePointer<Float>, inverseSums: UnsafePointer<Float>, values: UnsafePointer<Float>,
  valueBias: UnsafePointer<Float>, tokens n: Int, paddedTokens np: Int, headDim: Int,
  into output: UnsafeMutablePointer<Float>, outputStride: Int
) {
  var i = 0
  while i < n {
    let rows = min(6, n - i)
    let p = BlockRows(scores + i * np, stride: np, count: rows)
    let o0 = output + i * outputStride
    var c = 0
    while c + 16 <= headDim {
      var block = RegisterBlock()
      block.accumulate(rows: 6, vectors: 2, p, values + c, ldb: headDim, depth: n)
      let vb0 = load8(valueBias + c), vb1 = load8(valueBias + c + 8)
      for r in 0..<6 where r < rows {
        let scale = Vector8(repeating: inverseSums[i + r])
        let o = o0 + r * outputStride + c
        store8(multiplyAdd(block.sums[r][0], scale, vb0), o)
        store8(multiplyAdd(block.sums[r][1], scale, vb1), o + 8)
      }
      c += 16
    }
    while c < headDim {
      // 8 columns, or the last 1–7 (padded to 8 in registers, stored partially).
      let width = min(8, headDim - c)
      var block = RegisterBlock()
      block.accumulate(rows: 6, vectors: 1, width: width, p, values + c, ldb: headDim, depth: n)
      let vb = width == 8 ? load8(valueBias + c) : loadPartial8(valueBias + c, count: width)
      for r in 0..<6 where r < rows {
        let result = multiplyAdd(block.sums[r][0], Vector8(repeating: inverseSums[i + r]), vb)
        let o = o0 + r * outputStride + c
        if width == 8 { store8(result, o) } else { storePartial8(result, o, count: width) }
      }
      c += width
    }
    i += rows
  }
}
