// The engine's own matrix product for the transformer blocks: c = a · wᵀ with the weight w packed
// once, at load, into panels of 16 output columns. OpenBLAS (BLAS.swift) repacks w on every call,
// which for the 49–392-row tiles of windowed attention costs a third as much as the product itself.
import CKernels

/// How a block's four weight matrices are stored and multiplied.
package enum BlockMatrixKernel: Sendable, Equatable, CustomStringConvertible {
  /// `[out, in]` as loaded, multiplied by OpenBLAS `sgemm`.
  case openBLAS
  /// Packed into panels of `PackedPanels.width` output columns, multiplied by `multiplyPanels`.
  case packedPanels(PanelISA)
  /// bf16 pairs packed into panels (`PackedBF16`), multiplied by `multiplyPanelsBF16`.
  case packedBF16(BF16ISA)

  /// The f32 kernel: packed panels with the widest micro-kernel the CPU runs (chosen at run time,
  /// whatever the build flags); OpenBLAS where none has FMA (the Swift kernel in a portable build).
  package static let preferred: BlockMatrixKernel = PanelISA.best.map { .packedPanels($0) } ?? .openBLAS

  /// The kernel for `precision` on this CPU; bf16 needs AVX512_BF16.
  package static func preferred(for precision: Precision) throws(UnsupportedPrecisionError) -> BlockMatrixKernel {
    switch precision {
    case .f32: return preferred
    case .bf16:
      guard BF16ISA.avx512BF16.isSupported else {
        throw UnsupportedPrecisionError(precision: .bf16, missingFeature: "avx512_bf16")
      }
      return .packedBF16(BF16ISA.amx.isSupported ? .amx : .avx512BF16)
    }
  }

  /// Every kernel this CPU runs (f32 ones first), for tests and comparisons.
  package static var supported: [BlockMatrixKernel] {
    [.openBLAS] + PanelISA.allCases.filter(\.isSupported).map { .packedPanels($0) }
      + BF16ISA.allCases.filter(\.isSupported).map { .packedBF16($0) }
  }

  /// The precision of the products.
  package var precision: Precision { bf16ISA == nil ? .f32 : .bf16 }

  /// The bf16 kernel, nil for the f32 ones.
  package var bf16ISA: BF16ISA? {
    if case .packedBF16(let isa) = self { return isa }
    return nil
  }

  /// Rows of activations a worker's tile should hold for this kernel's products. OpenBLAS packs
  /// the weights again on every call, so it wants long tiles (392 rows, 8 windows of 49 tokens: 2
  /// windows ran 7% slower at 672, 4 windows 0–2.5% slower at 224–672). The packed kernel reads the weights as stored, so
  /// short tiles cost it nothing in the products and keep the tile's rows in L2 for the LayerNorms,
  /// attention and GELU: 98 rows (2 windows) ran 3–7% faster than 392 at 224, 448 and 672, dense and
  /// sparse, in paired in-process runs on Zen 3 (147 and 196 rows measured the same as 98).
  package var preferredTileRows: Int {
    switch self {
    case .openBLAS: 392
    case .packedPanels, .packedBF16: 98
    }
  }

  package var description: String {
    switch self {
    case .openBLAS: "f32, OpenBLAS sgemm"
    case .packedPanels(let isa): "f32, packed panels, \(isa.label) (weights packed at load)"
    case .packedBF16(let isa):
      "bf16, packed pairs, \(isa.label) (weights packed at load); attention products "
        + (isa == .model ? "on the same model" : "AVX512_BF16 vdpbf16ps")
    }
  }
}

/// The packed layout: `w [outputs, inner]` is cut into blocks of `innerBlock` inner positions and
/// `⌈outputs / width⌉` panels of `width` outputs (the last zero-padded): `[block][panel][k][width]`.
/// A product walks it front to back (block by block, panel by panel), so the weights stream from
/// memory in one sequential pass, which the hardware prefetcher follows (3–8% faster than
/// panel-major when the weights come from DRAM, as the last stages' do).
package enum PackedPanels {
  /// Output columns per panel: two 8-float vectors.
  package static let width = 16
  /// Rows of a micro-tile: 6 rows × 2 vectors = 12 accumulators, 15 of the 16 vector registers.
  static let tileRows = 6
  /// Inner-dimension block: one panel of a block (256 × 16 floats, 16 KiB) stays in L1 while every
  /// row tile of `a` passes over it; 392 rows × 256 of `a` stay in L2.
  static let innerBlock = 256

  /// `outputs` rounded up to whole panels.
  package static func paddedOutputs(_ outputs: Int) -> Int { (outputs + width - 1) / width * width }

  /// Floats of a packed `[outputs, inner]` matrix.
  package static func count(outputs: Int, inner: Int) -> Int { paddedOutputs(outputs) * inner }

  /// Float offset of the panel holding output `column` (a multiple of `width`) in the block that
  /// starts at inner position `k0` (a multiple of `innerBlock`).
  @inline(__always)
  static func offset(column: Int, k0: Int, outputs: Int, inner: Int) -> Int {
    k0 * paddedOutputs(outputs) + column * min(innerBlock, inner - k0)
  }

  /// `w [outputs, inner]` (row-major, PyTorch `[out, in]`) in the packed layout.
  package static func pack(_ w: [Float], outputs: Int, inner: Int) -> [Float] {
    precondition(
      outputs >= 0 && inner >= 0 && w.count == outputs * inner, "PackedPanels.pack: \(w.count) ≠ \(outputs)×\(inner)")
    var packed = [Float](repeating: 0, count: count(outputs: outputs, inner: inner))
    for k0 in stride(from: 0, to: inner, by: innerBlock) {
      for output in 0..<outputs {
        let panel = output / width * width, lane = output % width
        let base = offset(column: panel, k0: k0, outputs: outputs, inner: inner) + lane
        for k in k0..<min(k0 + innerBlock, inner) { packed[base + (k - k0) * width] = w[output * inner + k] }
      }
    }
    return packed
  }
}

/// The preconditions of a panel product (`multiplyPanels`, `multiplyPanelsBF16`), naming `kernel`.
@inline(__always)
func checkPanelProduct(
  _ kernel: String, m: Int, n: Int, k: Int, lda: Int, ldc: Int, first: Int, outputs: Int, beta: Float
) {
  precondition(m >= 0 && n >= 0 && k >= 0, "\(kernel): negative size m=\(m) n=\(n) k=\(k)")
  precondition(lda >= k && ldc >= n, "\(kernel): leading dimension too small (lda \(lda) ldc \(ldc))")
  precondition(
    first >= 0 && first % PackedPanels.width == 0 && first + n <= outputs,
    "\(kernel): columns \(first)..<\(first + n) of \(outputs) (start must be a multiple of \(PackedPanels.width))")
  precondition(beta == 0 || beta == 1, "\(kernel): beta \(beta) (0 or 1)")
}

/// `c[m, n] = a[m, k] · w[first..<first + n, :]ᵀ + beta · c[m, n]` (beta 0 or 1): output columns
/// `first..<first + n` of a product with `w [outputs, k]` packed (`PackedPanels`); `first` is a
/// multiple of `PackedPanels.width` and `c` points at output column `first`. Row-major `a` and `c`
/// with leading dimensions.
package func multiplyPanels(
  rows m: Int, columns n: Int, inner k: Int,
  _ a: UnsafePointer<Float>, lda: Int,
  packed w: UnsafePointer<Float>, outputs: Int, first: Int,
  beta: Float,
  into c: UnsafeMutablePointer<Float>, ldc: Int, isa: PanelISA = PanelISA.best ?? .swift
) {
  checkPanelProduct(
    "multiplyPanels", m: m, n: n, k: k, lda: lda, ldc: ldc, first: first, outputs: outputs, beta: beta)
  if m == 0 || n == 0 { return }
  let width = PackedPanels.width
  if k == 0 {
    if beta == 0 {
      for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
    }
    return
  }
  if isa != .swift {
    precondition(isa.isSupported, "multiplyPanels: this CPU cannot run the \(isa) kernel")
    multiplyPanelsC(
      rows: m, columns: n, inner: k, a, lda: lda, packed: w, outputs: outputs, first: first, beta: beta, into: c,
      ldc: ldc, isa: isa)
    return
  }
  let fullPanels = n / width, edge = n - fullPanels * width
  var k0 = 0
  while k0 < k {
    let depth = min(PackedPanels.innerBlock, k - k0)
    let accumulate = beta != 0 || k0 > 0
    let block = w + PackedPanels.offset(column: first, k0: k0, outputs: outputs, inner: k)
    for panel in 0..<fullPanels {
      multiplyRowTiles(
        rows: m, depth: depth, a + k0, lda: lda, panel: block + panel * width * depth,
        accumulate: accumulate, into: c + panel * width, ldc: ldc)
    }
    if edge > 0 {
      // Last panel only partly in `c`: run it on a full-width copy, then keep `edge` columns.
      withUnsafeTemporaryAllocation(of: Float.self, capacity: m * width) { temporary in
        let t = temporary.baseAddress!
        let column = fullPanels * width
        for row in 0..<m {
          if accumulate {
            (t + row * width).update(from: c + row * ldc + column, count: edge)
          }
          (t + row * width + edge).update(repeating: 0, count: width - edge)
        }
        multiplyRowTiles(
          rows: m, depth: depth, a + k0, lda: lda, panel: block + fullPanels * width * depth,
          accumulate: accumulate, into: t, ldc: width)
        for row in 0..<m { (c + row * ldc + column).update(from: t + row * width, count: edge) }
      }
    }
    k0 += depth
  }
}

/// Where the panel kernels' next call reads its weights, for them to prefetch while they compute:
/// the next `step` columns of the block at `k0`, or the first `step` of the next block; nil after
/// the last call. `units(k0)` is the k steps of the block at `k0` (pairs for bf16) and
/// `blockStart(k0)` the offset of its first panel, both in 4-byte elements; the result is an offset
/// from the same base and a length in bytes. The layouts call it through `PackedPanels.nextCall`
/// and `PackedBF16.nextCall`.
@inline(__always)
func nextPanels(
  after column: Int, step: Int, columns n: Int, k0: Int, inner k: Int,
  units: (Int) -> Int, blockStart: (Int) -> Int
) -> (offset: Int, bytes: Int)? {
  var nextColumn = column + step, nextK0 = k0
  if nextColumn >= n {
    nextColumn = 0
    nextK0 = k0 + min(PackedPanels.innerBlock, k - k0)
    if nextK0 >= k { return nil }
  }
  let width = PackedPanels.width, steps = units(nextK0)
  let panels = (min(step, n - nextColumn) + width - 1) / width
  return (blockStart(nextK0) + nextColumn * steps, panels * width * steps * 4)
}

extension PackedPanels {
  /// `nextPanels` in this layout: the call after the one at `column` (of `n` columns from output
  /// `first`) of the block at `k0`, `step` columns per call; an offset in floats and a length in bytes.
  @inline(__always)
  static func nextCall(
    after column: Int, step: Int, columns n: Int, k0: Int, inner k: Int, first: Int, outputs: Int
  ) -> (offset: Int, bytes: Int)? {
    nextPanels(
      after: column, step: step, columns: n, k0: k0, inner: k, units: { min(innerBlock, k - $0) },
      blockStart: { offset(column: first, k0: $0, outputs: outputs, inner: k) })
  }
}

/// `multiplyPanels` with a C micro-kernel: the column edge is masked inside the kernel.
private func multiplyPanelsC(
  rows m: Int, columns n: Int, inner k: Int, _ a: UnsafePointer<Float>, lda: Int,
  packed w: UnsafePointer<Float>, outputs: Int, first: Int, beta: Float,
  into c: UnsafeMutablePointer<Float>, ldc: Int, isa: PanelISA
) {
  let width = PackedPanels.width
  var k0 = 0
  while k0 < k {
    let depth = min(PackedPanels.innerBlock, k - k0)
    let accumulate: Int32 = beta != 0 || k0 > 0 ? 1 : 0
    let block = w + PackedPanels.offset(column: first, k0: k0, outputs: outputs, inner: k)
    let step = isa == .avx512 ? 2 * width : width
    var column = 0
    while column < n {
      let panel = block + column * depth
      let next = PackedPanels.nextCall(
        after: column, step: step, columns: n, k0: k0, inner: k, first: first, outputs: outputs)
      let nextAddress = next.map { UnsafeRawPointer(w + $0.offset) }, nextBytes = next?.bytes ?? 0
      if isa == .avx512 {
        let columns = min(2 * width, n - column)
        ck_f32_avx512_panels(
          m, columns, depth, a + k0, lda, panel, columns > width ? panel + width * depth : nil, accumulate,
          c + column, ldc, nextAddress, nextBytes)
      } else {
        ck_f32_avx2_panel(
          m, min(width, n - column), depth, a + k0, lda, panel, accumulate, c + column, ldc, nextAddress, nextBytes)
      }
      column += step
    }
    k0 += depth
  }
}

/// One panel block against all `rows` of `a`, in tiles of 5–6 rows (balanced, so no thin tile
/// runs on the FMA latency alone).
@inline(__always)
private func multiplyRowTiles(
  rows: Int, depth: Int, _ a: UnsafePointer<Float>, lda: Int, panel: UnsafePointer<Float>,
  accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int
) {
  let tiles = (rows + PackedPanels.tileRows - 1) / PackedPanels.tileRows
  var row = 0
  for tile in 0..<tiles {
    let end = (tile + 1) * rows / tiles
    let aTile = a + row * lda, cTile = c + row * ldc
    switch end - row {
    case 6: microTile(6, depth, aTile, lda, panel, accumulate, cTile, ldc)
    case 5: microTile(5, depth, aTile, lda, panel, accumulate, cTile, ldc)
    case 4: microTile(4, depth, aTile, lda, panel, accumulate, cTile, ldc)
    case 3: microTile(3, depth, aTile, lda, panel, accumulate, cTile, ldc)
    case 2: microTile(2, depth, aTile, lda, panel, accumulate, cTile, ldc)
    default: microTile(1, depth, aTile, lda, panel, accumulate, cTile, ldc)
    }
    row = end
  }
}

/// `c[rows, 16] (+)= a[rows, depth] · panel[depth, 16]`, `rows` ≤ 6 a constant after inlining (the
/// unused accumulators fold away).
@inline(__always)
private func microTile(
  _ rows: Int, _ depth: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ panel: UnsafePointer<Float>,
  _ accumulate: Bool, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
  var block = RegisterBlock()
  block.accumulate(
    rows: rows, vectors: 2, BlockRows(a, stride: lda, count: rows), panel, ldb: PackedPanels.width, depth: depth)
  for r in 0..<rows {
    let p = c + r * ldc
    let low = block.sums[r][0], high = block.sums[r][1]
    store8(accumulate ? load8(p) + low : low, p)
    store8(accumulate ? load8(p + 8) + high : high, p + 8)
  }
}
