// LAPACK least squares (BLAS.leastSquares) against known solutions: exact data, the normal
// equations of a noisy overdetermined system, an ill-conditioned design and a rank-deficient one.
import Engine
import TestSupport
import XCTest

final class LeastSquaresTests: XCTestCase {
  private func matrix(rows: Int, columns: Int, seed: UInt64) -> [Double] {
    var generator = SplitMix64(seed: seed)
    return (0..<(rows * columns)).map { _ in Double.random(in: -1...1, using: &generator) }
  }

  private func multiply(_ a: [Double], rows: Int, columns: Int, _ x: [Double]) -> [Double] {
    (0..<rows).map { row in (0..<columns).reduce(0) { $0 + a[row * columns + $1] * x[$1] } }
  }

  func testExactLinearDataRecoversTheCoefficients() throws {
    let (rows, columns) = (23, 5)
    let a = matrix(rows: rows, columns: columns, seed: 1)
    let truth = [0.5, -2, 3.25, 1e-3, 40]
    let fit = try XCTUnwrap(
      BLAS.leastSquares(a, rows: rows, columns: columns, multiply(a, rows: rows, columns: columns, truth), rcond: 1e-12)
    )
    XCTAssertEqual(fit.rank, columns)
    for (found, expected) in zip(fit.solution, truth) {
      XCTAssertEqual(found, expected, accuracy: 1e-11 * max(1, abs(expected)))
    }
  }

  func testNoisyDataSatisfiesTheNormalEquations() throws {
    let (rows, columns) = (40, 3)
    let a = matrix(rows: rows, columns: columns, seed: 2)
    let b = matrix(rows: rows, columns: 1, seed: 3)
    let fit = try XCTUnwrap(BLAS.leastSquares(a, rows: rows, columns: columns, b, rcond: 1e-12))
    // The residual is orthogonal to every column: Aᵀ(b − Ax) = 0.
    let residual = zip(b, multiply(a, rows: rows, columns: columns, fit.solution)).map { $0 - $1 }
    for column in 0..<columns {
      let projection = (0..<rows).reduce(0) { $0 + a[$1 * columns + column] * residual[$1] }
      XCTAssertEqual(projection, 0, accuracy: 1e-12, "column \(column)")
    }
    // And it is no worse than a small change of the solution.
    let norm = residual.reduce(0) { $0 + $1 * $1 }
    var moved = fit.solution
    moved[1] += 1e-3
    let other = zip(b, multiply(a, rows: rows, columns: columns, moved)).reduce(0) {
      $0 + ($1.0 - $1.1) * ($1.0 - $1.1)
    }
    XCTAssertLessThan(norm, other)
  }

  func testIllConditionedDesignStillRecoversTheCoefficients() throws {
    // Columns 1, t, t², t³ for t in 100…110: condition number ~1e11, beyond what the normal
    // equations (its square, ~1e22) can solve in double precision.
    let ts = (0..<30).map { 100 + Double($0) / 3 }
    let a: [Double] = ts.flatMap { t -> [Double] in [1, t, t * t, t * t * t] }
    let truth = [2.0, -0.5, 0.25, 1e-3]
    let b = multiply(a, rows: ts.count, columns: 4, truth)
    let fit = try XCTUnwrap(BLAS.leastSquares(a, rows: ts.count, columns: 4, b, rcond: 1e-15))
    XCTAssertEqual(fit.rank, 4)
    let predicted = multiply(a, rows: ts.count, columns: 4, fit.solution)
    for (p, e) in zip(predicted, b) { XCTAssertEqual(p, e, accuracy: 1e-9 * abs(e)) }
    XCTAssertEqual(fit.solution[3], truth[3], accuracy: 1e-6)
  }

  func testRankDeficientDesignGivesTheMinimumNormSolution() throws {
    // The second column repeats the first: only their sum is determined; the minimum-norm
    // solution splits it evenly.
    let rows = 10
    let a: [Double] = (0..<rows).flatMap { row -> [Double] in [Double(row + 1), Double(row + 1), 1] }
    let b = (0..<rows).map { 4 * Double($0 + 1) + 3 }
    let fit = try XCTUnwrap(BLAS.leastSquares(a, rows: rows, columns: 3, b, rcond: 1e-10))
    XCTAssertEqual(fit.rank, 2)
    XCTAssertEqual(fit.solution[0], 2, accuracy: 1e-10)
    XCTAssertEqual(fit.solution[1], 2, accuracy: 1e-10)
    XCTAssertEqual(fit.solution[2], 3, accuracy: 1e-10)
  }
}
