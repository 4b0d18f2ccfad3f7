// The bench option parsers and the fraction of dense that `search --validate` reports.
import XCTest

@testable import Tool

final class BenchStatisticsTests: XCTestCase {
  func testSizeAndListParsing() throws {
    let spec = BenchCommand.spec
    XCTAssertEqual(
      try parseSizes("224,448x672", spec: spec),
      [BenchSize(height: 224, width: 224), BenchSize(height: 448, width: 672)])
    for bad in ["224,,x", "224,x", "224x", "224x224x3", "-224", "0"] {
      XCTAssertThrowsError(try parseSizes(bad, spec: spec), bad)
    }
    XCTAssertEqual(
      try splitList("dense, 0.5 ,cfg2_35ms", option: BenchCommand.sparsity, spec: spec), ["dense", "0.5", "cfg2_35ms"])
    XCTAssertThrowsError(try splitList("0.5,,dense", option: BenchCommand.sparsity, spec: spec))
  }

  func testFractionOfDenseIsFreeOfTheMachinesSpeed() {
    // The machine runs 20% faster than when the model was measured, and drifts round by round;
    // the configuration takes half of dense's time in every round.
    let dense = [0.8, 0.9, 0.75, 0.82]
    let runs = dense.map { $0 * 0.5 }
    let exact = fractionOfDense(predicted: 0.5, predictedDense: 1.0, runs: runs, denseRuns: dense)
    XCTAssertEqual(exact.predicted, 0.5, accuracy: 1e-12)
    XCTAssertEqual(exact.measured, 0.5, accuracy: 1e-12)
    XCTAssertEqual(exact.error, 0, accuracy: 1e-12)
    // A prediction of 0.55 of dense is 10% too high, whatever the absolute times.
    let high = fractionOfDense(predicted: 0.66, predictedDense: 1.2, runs: runs, denseRuns: dense)
    XCTAssertEqual(high.error, 0.1, accuracy: 1e-12)
    // One disturbed round (the configuration 3× slower) does not move the median.
    var disturbed = runs
    disturbed[1] *= 3
    XCTAssertEqual(
      fractionOfDense(predicted: 0.5, predictedDense: 1, runs: disturbed + [0.4], denseRuns: dense + [0.8]).measured,
      0.5, accuracy: 1e-12)
  }
}
