// The register block of the Swift f32 products: up to 6 rows × 16 columns of accumulators, 12 of the
// 16 AVX2 vector registers (15 with the two multiplied vectors and the broadcast). The packed GEMM's
// Swift kernel and the attention's scores and weighted values run on it, as their C copies do.

/// Rows of a block of `count` ≤ 6 rows, `stride` apart from `base`. Rows from `count` on repeat row 0,
/// so a block that always computes six rows (no branch in its loop) reads valid memory; those rows
/// are never stored.
struct BlockRows {
  let base: UnsafePointer<Float>
  /// Floats from `base` to each row (loop invariants: the loops advance `base` alone).
  let offsets: InlineArray<6, Int>

  @inline(__always)
  init(_ base: UnsafePointer<Float>, stride: Int, count: Int) {
    self.base = base
    offsets = InlineArray { row in row < count ? row * stride : 0 }
  }
}

/// Six rows of one or two 8-lane accumulators: `sums[r][v]` holds row r, columns `8v ..< 8v + 8`.
/// Every row and vector index is a constant after inlining, so the sums live in registers.
struct RegisterBlock {
  var sums = InlineArray<6, InlineArray<2, Vector8>>(repeating: .init(repeating: Vector8()))

  /// Zero sums.
  @inline(__always)
  init() {}

  /// Sums loaded from columns `column ..< column + 8·vectors` of all six rows of `start`.
  @inline(__always)
  init(loading start: BlockRows, column: Int, vectors: Int) {
    for r in 0..<6 {
      let row = start.base + start.offsets[r] + column
      sums[r][0] = load8(row)
      if vectors > 1 { sums[r][1] = load8(row + 8) }
    }
  }

  /// `sums[r] += Σ_{t < depth} x[r][t] · b[t·ldb ..< t·ldb + 8·vectors]` for `r < rows`.
  ///
  /// `rows` (≤ 6) and `vectors` (1 or 2) must be constants after inlining. With one vector, `width`
  /// < 8 reads only the first `width` columns of each `b` row (the rest count as zero).
  @inline(__always)
  mutating func accumulate(
    rows: Int, vectors: Int, width: Int = 8, _ x: BlockRows, _ b: UnsafePointer<Float>, ldb: Int, depth: Int
  ) {
    var xt = x.base, bt = b
    for _ in 0..<depth {
      let b0 = width == 8 ? load8(bt) : loadPartial8(bt, count: width)
      let b1 = vectors > 1 ? load8(bt + 8) : b0
      for r in 0..<rows {
        let s = Vector8(repeating: xt[x.offsets[r]])
        sums[r][0] = multiplyAdd(s, b0, sums[r][0])
        if vectors > 1 { sums[r][1] = multiplyAdd(s, b1, sums[r][1]) }
      }
      xt += 1
      bt += ldb
    }
  }
}
