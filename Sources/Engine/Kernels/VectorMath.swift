// Elementwise math on 8-lane float vectors: exp for softmax and exact (erf) GELU for the MLP.
// Scalar `expf`/`erff` cost 3–11 ns per element; these run a whole vector in a few cycles.
// Coefficients were fitted for this file (minimax by Lawson iteration in float64, then rounded to
// float32); the tests bound their error against the float64 functions.

import CKernels

typealias Vector8 = SIMD8<Float>

/// `a · b + c`, fused when the build enables FMA (`-Xswiftc -DSPARSEVIT_FMA` together with a
/// `-target-cpu` that has it; scripts/build.sh does both). Swift never contracts `a * b + c` on its
/// own, and `addingProduct` without hardware FMA becomes a per-lane library call, hence the switch.
@inline(__always)
func multiplyAdd(_ a: Vector8, _ b: Vector8, _ c: Vector8) -> Vector8 {
  #if SPARSEVIT_FMA
    return c.addingProduct(a, b)
  #else
    return a * b + c
  #endif
}

@inline(__always)
func multiplyAdd(_ a: Vector8, _ b: Vector8, _ c: Float) -> Vector8 {
  multiplyAdd(a, b, Vector8(repeating: c))
}

/// Lane-wise minimum and maximum (the generic `pointwiseMin/Max` are not inlined).
@inline(__always)
func minimum(_ a: Vector8, _ b: Vector8) -> Vector8 { a.replacing(with: b, where: b .< a) }

@inline(__always)
func maximum(_ a: Vector8, _ b: Vector8) -> Vector8 { a.replacing(with: b, where: b .> a) }

/// Largest lane, by halving (the generic `max()` is several times slower).
@inline(__always)
func horizontalMaximum(_ v: Vector8) -> Float {
  let a = v.lowHalf, b = v.highHalf
  let four = a.replacing(with: b, where: b .> a)
  let c = four.lowHalf, d = four.highHalf
  let two = c.replacing(with: d, where: d .> c)
  return Swift.max(two[0], two[1])
}

/// Sum of the lanes, by halving.
@inline(__always)
func horizontalSum(_ v: Vector8) -> Float {
  let four = v.lowHalf + v.highHalf
  let two = four.lowHalf + four.highHalf
  return two[0] + two[1]
}

@inline(__always)
func load8(_ pointer: UnsafePointer<Float>) -> Vector8 {
  UnsafeRawPointer(pointer).loadUnaligned(as: Vector8.self)
}

@inline(__always)
func store8(_ value: Vector8, _ pointer: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector8.self)
}

/// Loads `count < 8` floats into the low lanes, `fill` in the rest.
@inline(__always)
func loadPartial8(_ pointer: UnsafePointer<Float>, count: Int, fill: Float = 0) -> Vector8 {
  var value = Vector8(repeating: fill)
  for lane in 0..<count { value[lane] = pointer[lane] }
  return value
}

@inline(__always)
func storePartial8(_ value: Vector8, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
  for lane in 0..<count { pointer[lane] = value[lane] }
}

/// `c[0]·x^(n−1) + … + c[n−1]` per lane by Horner's rule, one `multiplyAdd` per coefficient (the
/// order the C copies use, hence the same bits). Transparent for the same reason as `exp8`.
@_transparent
func polynomial<let n: Int>(_ x: Vector8, _ coefficients: InlineArray<n, Float>) -> Vector8 {
  var p = Vector8(repeating: coefficients[0])
  for i in 1..<n { p = multiplyAdd(p, x, coefficients[i]) }
  return p
}

/// e^x per lane. Relative error ≤ 2e-7 for x in [-87, 88]; 0 below -87.3 (softmax never needs
/// subnormal results), values above 88 are clamped to e^88.
// `@_transparent` (as swift-numerics does): the optimizer kept `@inline(__always)` as a call in the
// softmax, and the call spilled every live vector register (softmax 30% faster inlined).
@_transparent
func exp8(_ x: Vector8) -> Vector8 {
  let lowest: Float = -87.33654
  let clamped = minimum(maximum(x, Vector8(repeating: lowest)), Vector8(repeating: 88.0))
  // n = round(x / ln 2) via the 1.5·2^23 trick (no SSE4.1 round instruction needed); the integer
  // n then sits in the low mantissa bits of `shifted`.
  let magic = Vector8(repeating: 12_582_912)
  let shifted = multiplyAdd(clamped, Vector8(repeating: 1.442_695_04), magic)
  let n = shifted - magic
  // r = x − n·ln 2 in two steps (Cody–Waite) so r keeps full precision; |r| ≤ ln 2 / 2.
  var r = multiplyAdd(n, Vector8(repeating: -0.693_145_75), clamped)
  r = multiplyAdd(n, Vector8(repeating: -1.428_606_8e-6), r)
  let p = polynomial(r, [1.384_363_6e-3, 8.374_153_6e-3, 4.166_800_2e-2, 1.666_643_2e-1, 4.999_999_4e-1, 1, 1])
  let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
  let twoToN = unsafeBitCast((integer &+ 127) &<< 23, to: Vector8.self)
  return (p * twoToN).replacing(with: 0, where: x .< lowest)
}

/// GELU(x) = x · Φ(x) = ½·x·(1 + erf(x/√2)) per lane, the exact (not tanh) form timm uses.
/// erf(x/√2) is a rational x·P(x²)/Q(x²) on |x| ≤ 5.2 (beyond it erf is ±1 in float32);
/// absolute error of the erf part ≤ 4e-7.
@inline(__always)
func gelu8(_ x: Vector8) -> Vector8 {
  let limit: Float = 5.2
  let xc = minimum(maximum(x, Vector8(repeating: -limit)), Vector8(repeating: limit))
  let x2 = xc * xc
  let p = polynomial(
    x2, [5.093_200_2e-8, 1.282_134_4e-5, 3.027_004_1e-4, 9.152_539_1e-3, 6.392_886_5e-2, 7.978_845_8e-1])
  let q = polynomial(x2, [1.280_353_8e-6, 6.893_221_1e-5, 1.786_096_7e-3, 2.760_278_4e-2, 2.467_895_4e-1, 1])
  let erf = p * xc / q
  return 0.5 * x * (1 + erf)
}

/// `values[i] = gelu(values[i] + bias[i])` for `count` consecutive floats.
@inline(__always)
func addBiasGELU(_ values: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, count: Int) {
  switch VectorISA.widest {
  case .avx512: return ck_bias_gelu_avx512(values, bias, count)
  case .avx2: return ck_bias_gelu_avx2(values, bias, count)
  case .swift: break
  }
  var i = 0
  while i + 8 <= count {
    store8(gelu8(load8(values + i) + load8(bias + i)), values + i)
    i += 8
  }
  if i < count {
    let rest = count - i
    let v = loadPartial8(values + i, count: rest) + loadPartial8(bias + i, count: rest)
    storePartial8(gelu8(v), values + i, count: rest)
  }
}

// MARK: - Entry points for tests and for callers outside the fused kernels

/// GELU of every element (exact erf form), through the vector kernel the engine uses.
package func gelu(_ input: Tensor) -> Tensor {
  var output = input
  let zeros = [Float](repeating: 0, count: 8)
  output.values.withUnsafeMutableBufferPointer { out in
    zeros.withUnsafeBufferPointer { zero in
      var i = 0
      while i < out.count {
        let n = min(8, out.count - i)
        addBiasGELU(out.baseAddress! + i, bias: zero.baseAddress!, count: n)
        i += n
      }
    }
  }
  return output
}

/// e^x of every element, through the vector kernel the softmax uses.
package func exponential(_ input: Tensor) -> Tensor {
  var output = input
  output.values.withUnsafeMutableBufferPointer { out in
    var i = 0
    while i < out.count {
      let n = min(8, out.count - i)
      storePartial8(exp8(loadPartial8(out.baseAddress! + i, count: n)), out.baseAddress! + i, count: n)
      i += n
    }
  }
  return output
}

/// The copies of the vector kernels this CPU runs (chosen at run time), for `info` and the `bench`
/// header.
package var vectorKernelsDescription: String {
  "attention, LayerNorm, GELU: \(VectorISA.widest.label)"
}
