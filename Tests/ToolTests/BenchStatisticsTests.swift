// Benchmark statistics against the numpy/scipy values users compare with, and the option parsers.
import XCTest

@testable import Tool

final class BenchStatisticsTests: XCTestCase {
  func testPercentilesMatchNumpyLinear() {
    // numpy.percentile(x, q) (method="linear") for these samples.
    let samples: [Double] = [12, 3, 7, 7, 100, 5, 9, 11, 4, 6, 8]
    let sorted = samples.sorted()
    XCTAssertEqual(percentile(sorted: sorted, 50), 7, accuracy: 1e-12)
    XCTAssertEqual(percentile(sorted: sorted, 10), 4, accuracy: 1e-12)
    XCTAssertEqual(percentile(sorted: sorted, 90), 12, accuracy: 1e-12)
    XCTAssertEqual(percentile(sorted: [1, 2, 3, 4], 25), 1.75, accuracy: 1e-12)
    XCTAssertEqual(percentile(sorted: [5], 90), 5)
    XCTAssertEqual(median([4, 1, 3, 2]), 2.5)
  }

  func testInterquartileMeanMatchesScipyTrimMean() {
    // scipy.stats.trim_mean(x, 0.25)
    XCTAssertEqual(trimmedMean(sorted: [1, 2, 3, 4, 5, 6, 7, 100].sorted(), proportion: 0.25), 4.5, accuracy: 1e-12)
    XCTAssertEqual(trimmedMean(sorted: [1, 2, 3], proportion: 0.25), 2, accuracy: 1e-12)
    let summary = SampleSummary([3, 1, 2, 10, 4, 5, 6, 7, 8, 9, 11])
    XCTAssertEqual(summary.min, 1)
    XCTAssertEqual(summary.max, 11)
    XCTAssertEqual(summary.median, 6)
    XCTAssertEqual(summary.interquartileMean, 6, accuracy: 1e-12)  // cut 2 from each end of 11
  }

  func testPairedRatiosAndRoundOrder() {
    XCTAssertEqual(pairedRatios(baseline: [10, 12, 9], candidate: [5, 4, 9]), [2, 3, 1])
    XCTAssertEqual(roundOrder(0, count: 3), [0, 1, 2])
    XCTAssertEqual(roundOrder(4, count: 3), [1, 2, 0])
  }

  func testSizeAndListParsing() throws {
    let spec = BenchCommand.spec
    XCTAssertEqual(try parseSizes("224,448x672", spec: spec), [BenchSize(height: 224, width: 224), BenchSize(height: 448, width: 672)])
    for bad in ["224,,x", "224,x", "224x", "224x224x3", "-224", "0"] {
      XCTAssertThrowsError(try parseSizes(bad, spec: spec), bad)
    }
    XCTAssertEqual(try splitList("dense, 0.5 ,cfg2_35ms", option: BenchCommand.sparsity, spec: spec), ["dense", "0.5", "cfg2_35ms"])
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
