// LayerNorm over the last axis (timm/PyTorch semantics: biased variance, eps inside the square root).
// Two passes over the row (mean, then centred sum of squares) in float32 vectors, which is within
// a few ulps of PyTorch's Welford kernel and avoids the cancellation of the one-pass formula.
import CKernels
import Foundation

/// Sum of `count` floats with two 8-lane accumulators.
@inline(__always)
func sumRow(_ x: UnsafePointer<Float>, count: Int) -> Float {
  var a0 = Vector8(), a1 = Vector8()
  var i = 0
  while i + 16 <= count {
    a0 += load8(x + i)
    a1 += load8(x + i + 8)
    i += 16
  }
  if i + 8 <= count {
    a0 += load8(x + i)
    i += 8
  }
  var total = horizontalSum(a0 + a1)
  while i < count {
    total += x[i]
    i += 1
  }
  return total
}

/// `y = (x − mean) / sqrt(var + eps) · gamma + beta` over one row of `count` channels; `y` may be `x`.
@inline(__always)
func layerNormRow(
  _ x: UnsafeMutablePointer<Float>, count: Int,
  gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float,
  into y: UnsafeMutablePointer<Float>, isa: VectorISA = .widest
) {
  switch isa {
  case .avx512: ck_layer_norm_avx512(x, count, gamma, beta, epsilon, y)
  case .avx2: ck_layer_norm_avx2(x, count, gamma, beta, epsilon, y)
  case .swift: layerNormRowSwift(x, count: count, gamma: gamma, beta: beta, epsilon: epsilon, into: y)
  }
}

/// `layerNormRow` in Swift: two passes (mean, centred squares) with two 8-lane partial sums each.
@inline(__always)
func layerNormRowSwift(
  _ x: UnsafeMutablePointer<Float>, count: Int,
  gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float,
  into y: UnsafeMutablePointer<Float>
) {
  let mean = sumRow(x, count: count) / Float(count)
  let meanVector = Vector8(repeating: mean)
  var s0 = Vector8(), s1 = Vector8()
  var i = 0
  while i + 16 <= count {
    let d0 = load8(x + i) - meanVector
    let d1 = load8(x + i + 8) - meanVector
    s0 = multiplyAdd(d0, d0, s0)
    s1 = multiplyAdd(d1, d1, s1)
    i += 16
  }
  if i + 8 <= count {
    let d0 = load8(x + i) - meanVector
    s0 = multiplyAdd(d0, d0, s0)
    i += 8
  }
  var squares = horizontalSum(s0 + s1)
  while i < count {
    let d = x[i] - mean
    squares += d * d
    i += 1
  }
  let inverse = 1 / (squares / Float(count) + epsilon).squareRoot()
  let inverseVector = Vector8(repeating: inverse)
  i = 0
  while i + 8 <= count {
    store8(multiplyAdd((load8(x + i) - meanVector) * inverseVector, load8(gamma + i), load8(beta + i)), y + i)
    i += 8
  }
  while i < count {
    y[i] = (x[i] - mean) * inverse * gamma[i] + beta[i]
    i += 1
  }
}

/// `x += bias` over one row.
@inline(__always)
func addRow(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, count: Int) {
  var i = 0
  while i + 8 <= count {
    store8(load8(x + i) + load8(bias + i), x + i)
    i += 8
  }
  while i < count {
    x[i] += bias[i]
    i += 1
  }
}

/// `y = x + bias` over one row.
@inline(__always)
func addRow(_ x: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
  var i = 0
  while i + 8 <= count {
    store8(load8(x + i) + load8(bias + i), y + i)
    i += 8
  }
  while i < count {
    y[i] = x[i] + bias[i]
    i += 1
  }
}

/// A LayerNorm's affine parameters over `channels` features.
package struct LayerNormWeights: Sendable {
  /// Number of normalized features (the last axis).
  package let channels: Int
  /// Scale, `[channels]`.
  package let weight: [Float]
  /// Shift, `[channels]`.
  package let bias: [Float]
  /// Added to the variance before the square root (timm: 1e-5).
  package let epsilon: Float

  /// Checks that `weight` and `bias` are both `[channels]`; `name` prefixes the tensor names in errors.
  package init(
    weight: Tensor, bias: Tensor, channels: Int, epsilon: Float = 1e-5, name: String
  ) throws(ShapeError) {
    try ShapeError.check(name + ".weight", weight.shape, expected: [channels])
    try ShapeError.check(name + ".bias", bias.shape, expected: [channels])
    self.channels = channels
    self.weight = weight.values
    self.bias = bias.values
    self.epsilon = epsilon
  }

  /// Runs `body` with pointers to the scale and the shift (`[channels]` each), valid only inside it.
  package func withUnsafeParameters<R>(
    _ body: (_ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>) -> R
  ) -> R {
    weight.withUnsafeBufferPointer { gamma in
      bias.withUnsafeBufferPointer { beta in body(gamma.baseAddress!, beta.baseAddress!) }
    }
  }
}

/// LayerNorm of every row of `input` (`[…, channels]`), as the fused kernels compute it.
package func layerNorm(_ input: Tensor, _ norm: LayerNormWeights) -> Tensor {
  precondition(input.shape.last == norm.channels, "layerNorm: input \(input.shape) vs \(norm.channels) channels")
  var output = input
  let channels = norm.channels
  guard channels > 0 else { return output }
  output.values.withUnsafeMutableBufferPointer { out in
    norm.withUnsafeParameters { gamma, beta in
      for row in 0..<(out.count / channels) {
        let x = out.baseAddress! + row * channels
        layerNormRow(x, count: channels, gamma: gamma, beta: beta, epsilon: norm.epsilon, into: x)
      }
    }
  }
  return output
}
