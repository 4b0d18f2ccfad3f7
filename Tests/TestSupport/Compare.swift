// The one comparison helper of the test suite: element-wise |actual − expected| ≤ atol + rtol·|expected|,
// reporting the label, the worst index and both values, plus max |Δ| and relative L2 error.
import Engine

/// Outcome of comparing two arrays element-wise.
public struct Comparison: CustomStringConvertible {
  public let label: String
  public let count: Int
  public let maxAbsoluteError: Double
  public let relativeL2Error: Double
  public let worstIndex: Int
  public let worstActual: Float
  public let worstExpected: Float
  /// Elements outside `atol + rtol·|expected|`.
  public let failures: Int

  public var passed: Bool { failures == 0 }

  public var description: String {
    "\(label): \(count) values, max |Δ| \(maxAbsoluteError), rel L2 \(relativeL2Error), "
      + "\(failures) outside tolerance, worst at \(worstIndex): \(worstActual) vs \(worstExpected)"
  }
}

/// Compares `actual` with `expected` element-wise; NaN anywhere counts as a failure.
public func compare(
  _ actual: [Float], _ expected: [Float], atol: Double, rtol: Double, label: String
) -> Comparison {
  precondition(actual.count == expected.count, "compare \(label): \(actual.count) vs \(expected.count) values")
  var maxError = 0.0, worst = 0, worstExcess = -Double.infinity, failures = 0
  var diffSquares = 0.0, refSquares = 0.0
  for i in 0..<actual.count {
    let a = Double(actual[i]), e = Double(expected[i])
    let error = abs(a - e)
    let bound = atol + rtol * abs(e)
    if !(error <= bound) { failures += 1 }
    let excess = error.isNaN ? Double.infinity : error - bound
    if excess > worstExcess {
      worstExcess = excess
      worst = i
    }
    if error.isNaN { maxError = .nan } else if !maxError.isNaN { maxError = max(maxError, error) }
    diffSquares += (a - e) * (a - e)
    refSquares += e * e
  }
  return Comparison(
    label: label, count: actual.count, maxAbsoluteError: maxError,
    relativeL2Error: refSquares > 0 ? (diffSquares / refSquares).squareRoot() : diffSquares.squareRoot(),
    worstIndex: worst, worstActual: actual.isEmpty ? 0 : actual[worst],
    worstExpected: expected.isEmpty ? 0 : expected[worst], failures: failures)
}

/// `count` uniform values in `range` from `generator`.
package func randomValues(_ count: Int, in range: ClosedRange<Float> = -1...1, using generator: inout SplitMix64)
  -> [Float]
{
  (0..<count).map { _ in Float.random(in: range, using: &generator) }
}

/// A tensor of uniform values in `range`.
package func randomTensor(_ shape: [Int], in range: ClosedRange<Float> = -1...1, seed: UInt64) -> Tensor {
  var generator = SplitMix64(seed: seed)
  return Tensor(shape: shape, values: randomValues(shape.reduce(1, *), in: range, using: &generator))
}
