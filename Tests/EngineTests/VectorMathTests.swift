// exp and GELU vector kernels against the double-precision functions over their whole range.

import CKernels
import Foundation
import TestSupport
import XCTest

@testable import Engine

final class VectorMathTests: XCTestCase {
  func testGELUMatchesErfForm() {
    // Dense sweep over [-12, 12] plus the extremes and special values.
    var inputs = stride(from: -12.0, through: 12.0, by: 0.000_37).map { Float($0) }
    inputs += [0, -0.0, 1e-30, -1e-30, 5.2, -5.2, 5.2001, -5.2001, 100, -100, Float.greatestFiniteMagnitude / 4]
    let output = gelu(Tensor(shape: [inputs.count], values: inputs))
    let expected = inputs.map { x -> Float in
      let d = Double(x)
      return Float(0.5 * d * (1 + erf(d / 2.0.squareRoot())))
    }
    // |error| ≤ 4e-7·|x|/2 from the erf part plus float rounding of the product.
    for (i, x) in inputs.enumerated() {
      let bound = 4e-7 * abs(Double(x)) + 2e-7 * abs(Double(expected[i])) + 1e-30
      XCTAssertLessThanOrEqual(
        abs(Double(output.values[i]) - Double(expected[i])), bound,
        "gelu(\(x)) = \(output.values[i]), expected \(expected[i])")
    }
  }

  func testGELUKernelsAgreeBitForBit() throws {
    // The AVX-512 copy against the AVX2 one (and both against the Swift code where FMA is built
    // in): every length 0–40 for the masked tails, values across the range and the special ones.
    try XCTSkipUnless(CPUFeatures.current.contains(.avx2FMA), "this CPU lacks AVX2+FMA: only the Swift GELU runs")
    guard CPUFeatures.current.contains(.avx512) else {
      print("VectorMathTests: skipping the AVX-512 GELU kernel: this CPU lacks AVX-512F/BW/VL")
      return
    }
    var values = randomTensor([4000], in: -12...12, seed: 41).values
    values += [0, -0.0, 5.2, -5.2, 1e-30, .infinity, -.infinity, .nan, 1e30, -1e30]
    let bias = values.reversed().map { $0 / 4 }
    for count in Array(0...40) + [values.count] {
      var wide = values, narrow = values
      ck_bias_gelu_avx512(&wide, bias, count)
      ck_bias_gelu_avx2(&narrow, bias, count)
      XCTAssertEqual(wide.map(\.bitPattern), narrow.map(\.bitPattern), "count \(count)")
    }
  }

  func testExponentialRelativeError() {
    let inputs = stride(from: -87.0, through: 88.0, by: 0.0131).map { Float($0) } + [0, -0.0, 1e-8, -1e-8]
    let output = exponential(Tensor(shape: [inputs.count], values: inputs))
    var worst = 0.0
    for (i, x) in inputs.enumerated() {
      let e = exp(Double(x))
      worst = max(worst, abs(Double(output.values[i]) - e) / e)
    }
    XCTAssertLessThan(worst, 3e-7, "worst relative error \(worst)")
  }

  func testExponentialUnderflowsToZero() {
    let output = exponential(Tensor(shape: [4], values: [-88, -100, -1e30, -Float.infinity]))
    XCTAssertEqual(output.values, [0, 0, 0, 0])
  }

  func testHorizontalReductions() {
    let v = Vector8(3, -1, 7.5, 2, -9, 7.25, 0, 1)
    XCTAssertEqual(horizontalMaximum(v), 7.5)
    XCTAssertEqual(horizontalSum(v), 10.75)
    XCTAssertEqual(horizontalMaximum(Vector8(repeating: -3)), -3)
  }

  /// The vector count of NaN and infinities equals a scalar `isFinite` count wherever they sit
  /// (every lane of a 16-value step and the tail), for every special value, and is 0 on finite
  /// extremes and subnormals.
  func testNonFiniteCountMatchesScalar() {
    let specials: [Float] = [.nan, -.nan, .infinity, -.infinity, Float(bitPattern: 0x7FC0_1234)]
    let finite: [Float] = [0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1]
    for count in [0, 1, 15, 16, 17, 33, 47] {
      var values = (0..<count).map { finite[$0 % finite.count] }
      XCTAssertEqual(Tensor(shape: [count], values: values).nonFiniteCount, 0, "finite, \(count) values")
      for position in 0..<count {
        values[position] = specials[position % specials.count]
        let expected = values.filter { !$0.isFinite }.count
        XCTAssertEqual(
          Tensor(shape: [count], values: values).nonFiniteCount, expected, "\(count) values, up to \(position)")
      }
    }
  }
}
