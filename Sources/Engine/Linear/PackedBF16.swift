// bf16 form of the packed panels: weights rounded to bfloat16 at load and stored as pairs of
// consecutive inner positions (k even in the low half), the operand layout of vdpbf16ps; activations
// are rounded to bf16 per inner block as they are multiplied. Products accumulate in f32.
import CKernels

/// The bf16 layout: `w [outputs, inner]` in blocks of `PackedPanels.innerBlock` inner positions and
/// panels of `PackedPanels.width` outputs, `[block][panel][pair][width]` of UInt32 bf16 pairs (an odd
/// last inner position pairs with zero; padding outputs are zero).
package enum PackedBF16 {
  /// UInt32 pairs of a packed `[outputs, inner]` matrix.
  package static func count(outputs: Int, inner: Int) -> Int {
    PackedPanels.paddedOutputs(outputs) * ((inner + 1) / 2)
  }

  /// UInt32 offset of the panel holding output `column` (a multiple of the width) in the block
  /// that starts at inner position `k0` (a multiple of the inner block).
  @inline(__always)
  static func offset(column: Int, k0: Int, outputs: Int, inner: Int) -> Int {
    k0 / 2 * PackedPanels.paddedOutputs(outputs) + column * ((min(PackedPanels.innerBlock, inner - k0) + 1) / 2)
  }

  /// `nextPanels` in this layout (k steps are pairs): an offset in UInt32 pairs and a length in bytes.
  @inline(__always)
  static func nextCall(
    after column: Int, step: Int, columns n: Int, k0: Int, inner k: Int, first: Int, outputs: Int
  ) -> (offset: Int, bytes: Int)? {
    nextPanels(
      after: column, step: step, columns: n, k0: k0, inner: k,
      units: { (min(PackedPanels.innerBlock, k - $0) + 1) / 2 },
      blockStart: { offset(column: first, k0: $0, outputs: outputs, inner: k) })
  }

  /// `w [outputs, inner]` (PyTorch `[out, in]`) rounded to bf16 and packed.
  package static func pack(_ w: [Float], outputs: Int, inner: Int) -> [UInt32] {
    precondition(
      outputs >= 0 && inner >= 0 && w.count == outputs * inner, "PackedBF16.pack: \(w.count) ≠ \(outputs)×\(inner)")
    let width = PackedPanels.width
    var packed = [UInt32](repeating: 0, count: count(outputs: outputs, inner: inner))
    for k0 in stride(from: 0, to: inner, by: PackedPanels.innerBlock) {
      for output in 0..<outputs {
        let base = offset(column: output / width * width, k0: k0, outputs: outputs, inner: inner) + output % width
        for k in k0..<min(k0 + PackedPanels.innerBlock, inner) {
          let half = UInt32(BFloat16Model.round(w[output * inner + k])) << (16 * UInt32((k - k0) % 2))
          packed[base + (k - k0) / 2 * width] |= half
        }
      }
    }
    return packed
  }
}

/// The arithmetic of `vcvtneps2bf16` and `vdpbf16ps` as Intel's pseudo-code states it, on any CPU:
/// the reference the hardware kernel is tested against and the kernel of `BF16ISA.model`.
package enum BFloat16Model {
  /// f32 → bf16, round to nearest even; zeros and denormals → signed zero, NaN stays NaN (quiet).
  package static func round(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(bits >> 16) | 0x40 }
    if bits & 0x7F80_0000 == 0 { return UInt16(bits >> 16) & 0x8000 }
    if x.isInfinite { return UInt16(bits >> 16) }
    return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
  }

  /// The f32 a bf16 stands for.
  package static func widen(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

  /// Denormals to signed zero (the instruction's DAZ on inputs and FTZ on results).
  @inline(__always)
  static func flush(_ x: Float) -> Float { x.isSubnormal ? Float(signOf: x, magnitudeOf: 0) : x }

  /// One `vdpbf16ps` lane: `acc + a.high·b.high`, then `+ a.low·b.low`, each one rounding (the
  /// bf16 products are exact in f32), DAZ/FTZ, round to nearest even.
  package static func dotPair(_ acc: Float, _ a: UInt32, _ b: UInt32) -> Float {
    let aHigh = flush(widen(UInt16(a >> 16))), bHigh = flush(widen(UInt16(b >> 16)))
    let aLow = flush(widen(UInt16(truncatingIfNeeded: a))), bLow = flush(widen(UInt16(truncatingIfNeeded: b)))
    let s = flush(flush(acc).addingProduct(aHigh, bHigh))
    return flush(s.addingProduct(aLow, bLow))
  }
}

/// `c[m, n] = a[m, k] · w[first..<first + n, :]ᵀ + beta · c[m, n]` (beta 0 or 1) with `w [outputs, k]`
/// packed by `PackedBF16.pack` and `a` rounded to bf16 on the way; the `multiplyPanels` contract.
package func multiplyPanelsBF16(
  rows m: Int, columns n: Int, inner k: Int,
  _ a: UnsafePointer<Float>, lda: Int,
  packed w: UnsafePointer<UInt32>, outputs: Int, first: Int,
  beta: Float,
  into c: UnsafeMutablePointer<Float>, ldc: Int, isa: BF16ISA
) {
  checkPanelProduct(
    "multiplyPanelsBF16", m: m, n: n, k: k, lda: lda, ldc: ldc, first: first, outputs: outputs, beta: beta)
  precondition(isa.isSupported, "multiplyPanelsBF16: this CPU cannot run the \(isa) kernel")
  if m == 0 || n == 0 { return }
  if k == 0 {
    if beta == 0 {
      for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
    }
    return
  }
  if isa == .amx {
    if k % 32 == 0 {
      multiplyAMX(
        rows: m, columns: n, inner: k, a, lda: lda, packed: w, outputs: outputs, first: first, beta: beta, into: c,
        ldc: ldc)
      return
    }
    return multiplyPanelsBF16(
      rows: m, columns: n, inner: k, a, lda: lda, packed: w, outputs: outputs, first: first, beta: beta, into: c,
      ldc: ldc,
      isa: .avx512BF16)
  }
  let blockPairs = PackedPanels.innerBlock / 2
  withUnsafeTemporaryAllocation(of: UInt32.self, capacity: m * blockPairs) { buffer in
    let rounded = buffer.baseAddress!
    var k0 = 0
    while k0 < k {
      let depth = min(PackedPanels.innerBlock, k - k0), pairs = (depth + 1) / 2
      roundRows(m, depth, a + k0, lda: lda, into: rounded, ldr: pairs, isa: isa)
      multiplyBlockBF16(
        rows: m, columns: n, inner: k, k0: k0, rounded, ldr: pairs, packed: w, outputs: outputs, first: first,
        accumulate: beta != 0 || k0 > 0, into: c, ldc: ldc, isa: isa)
      k0 += depth
    }
  }
}

/// `multiplyPanelsBF16` (`.avx512BF16` or `.model`) on activations already rounded to bf16 pairs
/// (`roundRowsToBF16`): `rounded` holds `m` rows of `⌈k/2⌉` pairs, `ldr` pairs apart. The same bits
/// as `multiplyPanelsBF16` on the unrounded rows; several products of the same rows round them once.
package func multiplyRoundedPanelsBF16(
  rows m: Int, columns n: Int, inner k: Int, rounded: UnsafePointer<UInt32>, ldr: Int,
  packed w: UnsafePointer<UInt32>, outputs: Int, first: Int, beta: Float,
  into c: UnsafeMutablePointer<Float>, ldc: Int, isa: BF16ISA
) {
  checkPanelProduct(
    "multiplyRoundedPanelsBF16", m: m, n: n, k: k, lda: 2 * ldr, ldc: ldc, first: first, outputs: outputs,
    beta: beta)
  precondition(isa != .amx && isa.isSupported, "multiplyRoundedPanelsBF16: no \(isa) kernel here")
  if m == 0 || n == 0 || k == 0 {
    if beta == 0 && k == 0 {
      for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
    }
    return
  }
  var k0 = 0
  while k0 < k {
    multiplyBlockBF16(
      rows: m, columns: n, inner: k, k0: k0, rounded + k0 / 2, ldr: ldr, packed: w, outputs: outputs, first: first,
      accumulate: beta != 0 || k0 > 0, into: c, ldc: ldc, isa: isa)
    k0 += PackedPanels.innerBlock
  }
}

/// One inner block (from `k0`) of the vdpbf16ps product: `rounded` holds its pairs, `ldr` apart;
/// every 32-column strip of `c` is one kernel call.
@inline(__always)
private func multiplyBlockBF16(
  rows m: Int, columns n: Int, inner k: Int, k0: Int, _ rounded: UnsafePointer<UInt32>, ldr: Int,
  packed w: UnsafePointer<UInt32>, outputs: Int, first: Int, accumulate: Bool,
  into c: UnsafeMutablePointer<Float>, ldc: Int, isa: BF16ISA
) {
  let pairs = (min(PackedPanels.innerBlock, k - k0) + 1) / 2
  let block = w + PackedBF16.offset(column: first, k0: k0, outputs: outputs, inner: k)
  var column = 0
  while column < n {
    let panel = block + column * pairs, columns = min(2 * PackedPanels.width, n - column)
    let second = columns > PackedPanels.width ? panel + PackedPanels.width * pairs : nil
    switch isa {
    case .avx512BF16, .amx:
      let next = PackedBF16.nextCall(
        after: column, step: 2 * PackedPanels.width, columns: n, k0: k0, inner: k, first: first, outputs: outputs)
      ck_bf16_avx512_panels(
        m, columns, pairs, rounded, ldr, panel, second, accumulate ? 1 : 0, c + column, ldc,
        next.map { UnsafeRawPointer(w + $0.offset) }, next?.bytes ?? 0)
    case .model:
      modelPanels(m, columns, pairs, rounded, ldr, panel, second, accumulate, c + column, ldc)
    }
    column += 2 * PackedPanels.width
  }
}

/// The AMX path: all of `a` rounded at once (rows padded with zeros to a multiple of 16, as the
/// tiles read them), every product summed in the tiles over the whole inner size.
private func multiplyAMX(
  rows m: Int, columns n: Int, inner k: Int, _ a: UnsafePointer<Float>, lda: Int,
  packed w: UnsafePointer<UInt32>, outputs: Int, first: Int, beta: Float, into c: UnsafeMutablePointer<Float>, ldc: Int
) {
  let pairs = k / 2, paddedRows = (m + 15) / 16 * 16
  withUnsafeTemporaryAllocation(of: UInt32.self, capacity: paddedRows * pairs) { buffer in
    let rounded = buffer.baseAddress!
    roundRows(m, k, a, lda: lda, into: rounded, ldr: pairs, isa: .avx512BF16)
    (rounded + m * pairs).update(repeating: 0, count: (paddedRows - m) * pairs)
    ck_amx_bf16_panels(
      m, n, k, rounded, pairs, w, PackedPanels.paddedOutputs(outputs), first, beta != 0 ? 1 : 0, c, ldc)
  }
}

/// The AMX product on activations the caller already rounded (`roundRowToBF16`): `rounded` holds
/// `⌈m/16⌉·16` rows of `k/2` pairs, the rows past `m` zero; `k` is a multiple of 32. Same bits as
/// `multiplyPanelsBF16` with `.amx` on the unrounded rows.
package func multiplyRoundedAMX(
  rows m: Int, columns n: Int, inner k: Int, rounded: UnsafePointer<UInt32>,
  packed w: UnsafePointer<UInt32>, outputs: Int, first: Int, beta: Float, into c: UnsafeMutablePointer<Float>, ldc: Int
) {
  checkPanelProduct(
    "multiplyRoundedAMX", m: m, n: n, k: k, lda: k, ldc: ldc, first: first, outputs: outputs, beta: beta)
  precondition(k % 32 == 0 && BF16ISA.amx.isSupported, "multiplyRoundedAMX: inner \(k) or no AMX")
  if m == 0 || n == 0 { return }
  ck_amx_bf16_panels(
    m, n, k, rounded, k / 2, w, PackedPanels.paddedOutputs(outputs), first, beta != 0 ? 1 : 0, c, ldc)
}

/// `a[m, k]` (rows `lda` apart) rounded to bf16 rows of `ldr` pairs, as the bf16 kernels round
/// activations (an odd `k` pairs its last value with zero): the operand of
/// `multiplyRoundedPanelsBF16`. `isa` picks the conversion (`.model`: the scalar one).
package func roundRowsToBF16(
  rows m: Int, inner k: Int, _ a: UnsafePointer<Float>, lda: Int, into rounded: UnsafeMutablePointer<UInt32>,
  ldr: Int, isa: BF16ISA
) {
  precondition(ldr >= (k + 1) / 2 && isa.isSupported, "roundRowsToBF16: \(ldr) pairs for \(k), \(isa)")
  roundRows(m, k, a, lda: lda, into: rounded, ldr: ldr, isa: isa)
}

/// One row of `count` floats (even) rounded to bf16 pairs, as the bf16 kernels round activations.
@inline(__always)
package func roundRowToBF16(_ x: UnsafePointer<Float>, count: Int, into pairs: UnsafeMutablePointer<UInt32>) {
  roundRows(1, count, x, lda: count, into: pairs, ldr: count / 2, isa: .avx512BF16)
}

/// `a[m, depth]` rounded to bf16 rows of `ldr` pairs (an odd depth pairs its last value with zero).
private func roundRows(
  _ m: Int, _ depth: Int, _ a: UnsafePointer<Float>, lda: Int, into r: UnsafeMutablePointer<UInt32>, ldr: Int,
  isa: BF16ISA
) {
  let halves = UnsafeMutableRawPointer(r).assumingMemoryBound(to: UInt16.self)
  if isa != .model {
    ck_bf16_round_rows_avx512(m, depth, a, lda, halves, 2 * ldr)
    return
  }
  for row in 0..<m {
    let out = halves + row * 2 * ldr
    for i in 0..<depth { out[i] = BFloat16Model.round(a[row * lda + i]) }
    if depth % 2 == 1 { out[depth] = 0 }
  }
}

/// The model kernel: each output summed over pairs in order from zero by `dotPair`, then added to c.
private func modelPanels(
  _ m: Int, _ columns: Int, _ pairs: Int, _ a: UnsafePointer<UInt32>, _ lda: Int, _ p0: UnsafePointer<UInt32>,
  _ p1: UnsafePointer<UInt32>?, _ accumulate: Bool, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
  let width = PackedPanels.width
  for row in 0..<m {
    for j in 0..<columns {
      let panel = j < width ? p0 : p1!, lane = j % width
      var sum: Float = 0
      for pair in 0..<pairs { sum = BFloat16Model.dotPair(sum, a[row * lda + pair], panel[pair * width + lane]) }
      c[row * ldc + j] = accumulate ? c[row * ldc + j] + sum : sum
    }
  }
}

/// An immutable buffer of packed bf16 pairs whose address stays valid while it lives (the block
/// kernels read it through a plain pointer, outside any closure scope).
package final class PairBuffer: @unchecked Sendable {
  package let base: UnsafePointer<UInt32>
  package let count: Int

  package init(_ values: [UInt32]) {
    let storage = UnsafeMutablePointer<UInt32>.allocate(capacity: max(values.count, 1))
    if !values.isEmpty {
      values.withUnsafeBufferPointer { storage.initialize(from: $0.baseAddress!, count: values.count) }
    }
    base = UnsafePointer(storage)
    count = values.count
  }

  deinit { UnsafeMutablePointer(mutating: base).deallocate() }
}
