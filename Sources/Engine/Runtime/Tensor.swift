// Dense float32 tensors in row-major (C) order: the one value type that crosses module boundaries.
// Storage is a Swift array, so a tensor is a value with copy-on-write; kernels reach its memory only
// inside scoped `withUnsafe…` closures in this module.

/// A dense, row-major float32 tensor.
///
/// `shape` lists the extent of each axis, outermost first; `values.count` is their product.
/// Activations in this engine are NHWC (`[batch, height, width, channels]`), images NCHW
/// (`[batch, 3, height, width]`) and linear weights PyTorch-style `[out, in]`.
public struct Tensor: Sendable, Equatable {
  /// Extent of each axis, outermost first.
  public let shape: [Int]
  /// The elements in row-major order; `values.count == shape.reduce(1, *)`.
  public internal(set) var values: [Float]

  /// A tensor of the given shape filled with `value`.
  public init(shape: [Int], repeating value: Float = 0) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
    self.shape = shape
    self.values = [Float](repeating: value, count: shape.reduce(1, *))
  }

  /// A tensor wrapping `values`; `values.count` must equal the product of `shape`.
  public init(shape: [Int], values: [Float]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
    precondition(
      values.count == shape.reduce(1, *),
      "Tensor: \(values.count) values do not fill shape \(shape)")
    self.shape = shape
    self.values = values
  }

  /// Number of elements.
  public var count: Int { values.count }

  /// Number of axes.
  public var rank: Int { shape.count }

  // Shape checks without building an array (kernels check shapes on every call).
  @inline(__always)
  package func hasShape(_ a: Int) -> Bool { shape.count == 1 && shape[0] == a }
  @inline(__always)
  package func hasShape(_ a: Int, _ b: Int) -> Bool { shape.count == 2 && shape[0] == a && shape[1] == b }
  @inline(__always)
  package func hasShape(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Bool {
    shape.count == 4 && shape[0] == a && shape[1] == b && shape[2] == c && shape[3] == d
  }

  /// The same elements seen with another shape of equal element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    Tensor(shape: newShape, values: values)
  }

  /// Element at a full multi-index (for tests and small lookups, not for kernels).
  public subscript(index: Int...) -> Float {
    values[flatIndex(index)]
  }

  func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == shape.count, "Tensor: index \(index) for shape \(shape)")
    var flat = 0
    for (axis, i) in index.enumerated() {
      precondition(i >= 0 && i < shape[axis], "Tensor: index \(index) out of shape \(shape)")
      flat = flat * shape[axis] + i
    }
    return flat
  }
}

extension Tensor {
  /// Values that are NaN or ±infinity (all exponent bits set), tested 16 at a time: a forward checks
  /// its input with this, and a scalar `isFinite` pass over a 672² image took about 1 ms.
  package var nonFiniteCount: Int {
    values.withUnsafeBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return 0 }
      let raw = UnsafeRawPointer(base), count = buffer.count
      let exponent = SIMD16<UInt32>(repeating: 0x7F80_0000)
      var lanes = SIMD16<UInt32>(repeating: 0)
      var i = 0
      while i + 16 <= count {
        let bits = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self)
        lanes &+= SIMD16<UInt32>(repeating: 0).replacing(with: 1, where: bits & exponent .== exponent)
        i += 16
      }
      var total = Int(lanes.wrappedSum())
      while i < count {
        if !base[i].isFinite { total += 1 }
        i += 1
      }
      return total
    }
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String { "Tensor\(shape)" }
}
