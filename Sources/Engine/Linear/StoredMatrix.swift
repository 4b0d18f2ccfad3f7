// One weight matrix stored the way a `BlockMatrixKernel` multiplies it, and the one product that
// dispatches on the kernel. The blocks keep their four matrices at offsets in one buffer and call
// `multiplyStored` directly; the stem and the patch merges hold a `StoredMatrix` each.

/// `c[:, first..<first + n] = a[m, k] · w[first..<first + n, :]ᵀ + beta · c` for `w [outputs, k]`
/// stored for `kernel`: `floats` (`[outputs, k]` for OpenBLAS, `PackedPanels` for the packed f32
/// kernels) or `pairs` (`PackedBF16` for the bf16 kernels); `c` points at column `first`.
@inline(__always)
package func multiplyStored(
  kernel: BlockMatrixKernel, rows m: Int, columns n: Int, inner k: Int, _ a: UnsafePointer<Float>, lda: Int,
  floats: UnsafePointer<Float>?, pairs: UnsafePointer<UInt32>?, outputs: Int, first: Int, beta: Float,
  into c: UnsafeMutablePointer<Float>, ldc: Int
) {
  switch kernel {
  case .openBLAS:
    BLAS.multiplyTransposed(
      rows: m, columns: n, inner: k, a, lda: lda, floats! + first * k, ldb: k, beta: beta, into: c, ldc: ldc)
  case .packedPanels(let isa):
    multiplyPanels(
      rows: m, columns: n, inner: k, a, lda: lda, packed: floats!, outputs: outputs, first: first, beta: beta,
      into: c, ldc: ldc, isa: isa)
  case .packedBF16(let isa):
    multiplyPanelsBF16(
      rows: m, columns: n, inner: k, a, lda: lda, packed: pairs!, outputs: outputs, first: first, beta: beta,
      into: c, ldc: ldc, isa: isa)
  }
}

/// A weight matrix `[outputs, inner]` (PyTorch `[out, in]`), packed at load for `kernel`.
package struct StoredMatrix: Sendable {
  /// How the matrix is stored and multiplied.
  package let kernel: BlockMatrixKernel
  package let outputs: Int, inner: Int
  private let floats: [Float]  // [outputs, inner] (OpenBLAS) or PackedPanels; empty for bf16
  private let pairs: PairBuffer?  // PackedBF16 for the bf16 kernels

  /// Stores `w [outputs, inner]` for `kernel`, which must run on this CPU.
  package init(_ w: [Float], outputs: Int, inner: Int, kernel: BlockMatrixKernel) {
    self.kernel = kernel
    self.outputs = outputs
    self.inner = inner
    switch StoredMatrix.storage(w, outputs: outputs, inner: inner, kernel: kernel) {
    case .floats(let values):
      floats = values
      pairs = nil
    case .pairs(let values):
      floats = []
      pairs = PairBuffer(values)
    }
  }

  /// A matrix's values as `kernel` reads them.
  package enum Storage {
    /// `[outputs, inner]` as loaded (OpenBLAS) or `PackedPanels` (the packed f32 kernels).
    case floats([Float])
    /// `PackedBF16` pairs (the bf16 kernels).
    case pairs([UInt32])
  }

  /// `w [outputs, inner]` stored for `kernel`, which must run on this CPU; the one packing rule of
  /// the stem, the merges and the blocks' four matrices.
  package static func storage(_ w: [Float], outputs: Int, inner: Int, kernel: BlockMatrixKernel) -> Storage {
    precondition(w.count == outputs * inner, "StoredMatrix: \(w.count) values for \(outputs)×\(inner)")
    switch kernel {
    case .openBLAS:
      return .floats(w)
    case .packedPanels(let isa):
      precondition(isa.isSupported, "StoredMatrix: this CPU cannot run the \(isa) kernel")
      return .floats(PackedPanels.pack(w, outputs: outputs, inner: inner))
    case .packedBF16(let isa):
      precondition(isa.isSupported, "StoredMatrix: this CPU cannot run the \(isa) kernel")
      return .pairs(PackedBF16.pack(w, outputs: outputs, inner: inner))
    }
  }

  /// `c[m, outputs] = a[m, inner] · wᵀ + beta · c` (beta 0 or 1).
  @inline(__always)
  package func multiply(
    rows m: Int, _ a: UnsafePointer<Float>, lda: Int, beta: Float, into c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    multiply(rows: m, columns: 0..<outputs, a, lda: lda, beta: beta, into: c, ldc: ldc)
  }

  /// Output columns `columns` only (starting at a multiple of `PackedPanels.width`), `c` pointing at
  /// the first of them.
  @inline(__always)
  package func multiply(
    rows m: Int, columns: Range<Int>, _ a: UnsafePointer<Float>, lda: Int, beta: Float,
    into c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    floats.withUnsafeBufferPointer { f in
      multiplyStored(
        kernel: kernel, rows: m, columns: columns.count, inner: inner, a, lda: lda, floats: f.baseAddress,
        pairs: pairs?.base, outputs: outputs, first: columns.lowerBound, beta: beta, into: c, ldc: ldc)
    }
  }
}
