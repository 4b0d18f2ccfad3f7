// Multi-head self-attention inside one window: softmax(q·kᵀ + bias + mask)·v for each head, as a
// register-blocked micro-kernel over 8-lane vectors. Windows are small (49 tokens, head dim 32), so
// one window-head lives in L1 and an OpenBLAS call per product would cost more than the arithmetic.
// Only four shift-mask patterns exist, so relative position bias and mask are pre-added per pattern.

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
    let padded = (tokens + 7) / 8 * 8
    let classes = grid.maskClassCount
    var values = [Float](repeating: -1e30, count: classes * heads * tokens * padded)
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

  /// Floats of scratch one worker needs for `attendWindowHead`: biased queries, transposed keys
  /// and score rows.
  static func scratchFloats(tokens: Int, headDim: Int) -> Int {
    let padded = (tokens + 7) / 8 * 8
    return padded * (headDim + tokens) + tokens * headDim
  }
}

/// One head of one window: `out[i] = softmax_j(q_i · k_j + bias[i, j]) · v + valueBias`.
///
/// `q`, `k` and `v` are the head's columns of rows with stride `rowStride` and no bias yet; the
/// query scale is already folded into `q`'s weights. Since each softmax row sums to one, the value
/// bias is added once to the output instead of to every value row.
@inline(__always)
func attendWindowHead(
  query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
  rowStride: Int,
  queryBias: UnsafePointer<Float>, keyBias: UnsafePointer<Float>, valueBias: UnsafePointer<Float>,
  tokens: Int, paddedTokens: Int, headDim: Int,
  bias: UnsafePointer<Float>,
  scratch: UnsafeMutablePointer<Float>,
  into output: UnsafeMutablePointer<Float>, outputStride: Int
) {
  let n = tokens, np = paddedTokens
  let keysT = scratch  // [headDim, np]
  let scores = keysT + headDim * np  // [n, np]
  let queries = scores + n * np  // [n, headDim]

  // Biased queries, contiguous; kᵀ with the key bias, padding lanes zero (their bias is −1e30).
  for i in 0..<n {
    let source = query + i * rowStride, target = queries + i * headDim
    for d in 0..<headDim { target[d] = source[d] + queryBias[d] }
  }
  for d in 0..<headDim {
    let row = keysT + d * np
    let kb = keyBias[d]
    for j in 0..<n { row[j] = key[j * rowStride + d] + kb }
    for j in n..<np { row[j] = 0 }
  }

  // scores = bias + q·kᵀ in register blocks of 4 query rows × 16 key columns.
  var i = 0
  while i + 4 <= n {
    let q0 = queries + i * headDim, q1 = q0 + headDim, q2 = q1 + headDim, q3 = q2 + headDim
    let b0 = bias + i * np, b1 = b0 + np, b2 = b1 + np, b3 = b2 + np
    let s0 = scores + i * np, s1 = s0 + np, s2 = s1 + np, s3 = s2 + np
    var c = 0
    while c + 16 <= np {
      var a00 = load8(b0 + c), a01 = load8(b0 + c + 8)
      var a10 = load8(b1 + c), a11 = load8(b1 + c + 8)
      var a20 = load8(b2 + c), a21 = load8(b2 + c + 8)
      var a30 = load8(b3 + c), a31 = load8(b3 + c + 8)
      for d in 0..<headDim {
        let k0 = load8(keysT + d * np + c), k1 = load8(keysT + d * np + c + 8)
        let x0 = Vector8(repeating: q0[d]), x1 = Vector8(repeating: q1[d])
        let x2 = Vector8(repeating: q2[d]), x3 = Vector8(repeating: q3[d])
        a00 = multiplyAdd(x0, k0, a00)
        a01 = multiplyAdd(x0, k1, a01)
        a10 = multiplyAdd(x1, k0, a10)
        a11 = multiplyAdd(x1, k1, a11)
        a20 = multiplyAdd(x2, k0, a20)
        a21 = multiplyAdd(x2, k1, a21)
        a30 = multiplyAdd(x3, k0, a30)
        a31 = multiplyAdd(x3, k1, a31)
      }
      store8(a00, s0 + c)
      store8(a01, s0 + c + 8)
      store8(a10, s1 + c)
      store8(a11, s1 + c + 8)
      store8(a20, s2 + c)
      store8(a21, s2 + c + 8)
      store8(a30, s3 + c)
      store8(a31, s3 + c + 8)
      c += 16
    }
    if c < np {
      var a0 = load8(b0 + c), a1 = load8(b1 + c), a2 = load8(b2 + c), a3 = load8(b3 + c)
      for d in 0..<headDim {
        let k = load8(keysT + d * np + c)
        a0 = multiplyAdd(Vector8(repeating: q0[d]), k, a0)
        a1 = multiplyAdd(Vector8(repeating: q1[d]), k, a1)
        a2 = multiplyAdd(Vector8(repeating: q2[d]), k, a2)
        a3 = multiplyAdd(Vector8(repeating: q3[d]), k, a3)
      }
      store8(a0, s0 + c)
      store8(a1, s1 + c)
      store8(a2, s2 + c)
      store8(a3, s3 + c)
    }
    i += 4
  }
  while i < n {
    let q0 = queries + i * headDim
    var c = 0
    while c < np {
      var a0 = load8(bias + i * np + c)
      for d in 0..<headDim { a0 = multiplyAdd(Vector8(repeating: q0[d]), load8(keysT + d * np + c), a0) }
      store8(a0, scores + i * np + c)
      c += 8
    }
    i += 1
  }

  // Softmax numerators in place (padding lanes come out as exact zeros); the 1/sum of each row is
  // applied to the output rows instead of to the 49 probabilities.
  let inverseSums = queries  // the biased queries are no longer needed: reuse their first n floats
  for i in 0..<n {
    let row = scores + i * np
    var maxima = load8(row)
    var c = 8
    while c < np {
      maxima = maximum(maxima, load8(row + c))
      c += 8
    }
    let rowMax = Vector8(repeating: horizontalMaximum(maxima))
    var sums = Vector8()
    c = 0
    while c < np {
      let e = exp8(load8(row + c) - rowMax)
      store8(e, row + c)
      sums += e
      c += 8
    }
    inverseSums[i] = 1 / horizontalSum(sums)
  }

  // out = (e·v)/sum + vb in register blocks of 2 rows × 32 columns, then 8, then scalars.
  i = 0
  while i < n {
    let pairs = i + 2 <= n
    let p0 = scores + i * np, p1 = pairs ? p0 + np : p0
    let o0 = output + i * outputStride, o1 = pairs ? o0 + outputStride : o0
    var c = 0
    let scale0 = Vector8(repeating: inverseSums[i]), scale1 = Vector8(repeating: inverseSums[pairs ? i + 1 : i])
    while c + 32 <= headDim {
      var a0 = Vector8(), a1 = Vector8(), a2 = Vector8(), a3 = Vector8()
      var e0 = a0, e1 = a1, e2 = a2, e3 = a3
      for j in 0..<n {
        let v = value + j * rowStride + c
        let v0 = load8(v), v1 = load8(v + 8), v2 = load8(v + 16), v3 = load8(v + 24)
        let w0 = Vector8(repeating: p0[j]), w1 = Vector8(repeating: p1[j])
        a0 = multiplyAdd(w0, v0, a0)
        a1 = multiplyAdd(w0, v1, a1)
        a2 = multiplyAdd(w0, v2, a2)
        a3 = multiplyAdd(w0, v3, a3)
        e0 = multiplyAdd(w1, v0, e0)
        e1 = multiplyAdd(w1, v1, e1)
        e2 = multiplyAdd(w1, v2, e2)
        e3 = multiplyAdd(w1, v3, e3)
      }
      let b0 = load8(valueBias + c), b1 = load8(valueBias + c + 8)
      let b2 = load8(valueBias + c + 16), b3 = load8(valueBias + c + 24)
      store8(multiplyAdd(a0, scale0, b0), o0 + c)
      store8(multiplyAdd(a1, scale0, b1), o0 + c + 8)
      store8(multiplyAdd(a2, scale0, b2), o0 + c + 16)
      store8(multiplyAdd(a3, scale0, b3), o0 + c + 24)
      if pairs {
        store8(multiplyAdd(e0, scale1, b0), o1 + c)
        store8(multiplyAdd(e1, scale1, b1), o1 + c + 8)
        store8(multiplyAdd(e2, scale1, b2), o1 + c + 16)
        store8(multiplyAdd(e3, scale1, b3), o1 + c + 24)
      }
      c += 32
    }
    while c + 8 <= headDim {
      var a0 = Vector8()
      var e0 = a0
      for j in 0..<n {
        let v0 = load8(value + j * rowStride + c)
        a0 = multiplyAdd(Vector8(repeating: p0[j]), v0, a0)
        e0 = multiplyAdd(Vector8(repeating: p1[j]), v0, e0)
      }
      let b0 = load8(valueBias + c)
      store8(multiplyAdd(a0, scale0, b0), o0 + c)
      if pairs { store8(multiplyAdd(e0, scale1, b0), o1 + c) }
      c += 8
    }
    while c < headDim {
      var a0: Float = 0, e0: Float = 0
      for j in 0..<n {
        let v = value[j * rowStride + c]
        a0 += p0[j] * v
        e0 += p1[j] * v
      }
      o0[c] = a0 * scale0[0] + valueBias[c]
      if pairs { o1[c] = e0 * scale1[0] + valueBias[c] }
      c += 1
    }
    i += pairs ? 2 : 1
  }
}
