// The timing protocol (order of runs, phases, stop rules) and the statistics every report uses,
// against the numpy/scipy values users compare with.
import Engine
import Models
import XCTest

final class TimingTests: XCTestCase {
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
    XCTAssertEqual(quantile([3, 1, 2, 4], 0.5), 2.5)
    XCTAssertEqual(quantile([3, 1, 2, 4], 0.25), 1.75)
    XCTAssertEqual(quantile([], 0.5), 0)
    XCTAssertEqual(quantile([7], 0.25), 7)
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
    // The median of the same-round ratios: one disturbed round does not move it.
    XCTAssertEqual(pairedRatio([5, 6, 30], [10, 12, 10]), 0.5)
    XCTAssertEqual(roundOrder(0, count: 3), [0, 1, 2])
    XCTAssertEqual(roundOrder(4, count: 3), [1, 2, 0])
  }

  func testTimeInterleavedRunsColdWarmUpThenRotatingTimedRounds() {
    var calls: [Int] = []
    var phases: [TimingPhase] = []
    let times = timeInterleaved(count: 3, warmup: 1, stop: .rounds(2)) { index, phase in
      calls.append(index)
      phases.append(phase)
      return Double(calls.count)
    }
    XCTAssertEqual(calls, [0, 1, 2, 0, 1, 2, 0, 1, 2, 1, 2, 0])
    XCTAssertEqual(phases[0..<3], [.cold, .cold, .cold])
    XCTAssertEqual(phases[3..<6], [.warmup(round: 0), .warmup(round: 0), .warmup(round: 0)])
    XCTAssertEqual(phases[9], .timed(round: 1))
    // The cold runs are kept apart; warm-up values are dropped; timed values in round order.
    XCTAssertEqual(times.cold, [1, 2, 3])
    XCTAssertEqual(times.samples, [[7, 12], [8, 10], [9, 11]])
    XCTAssertEqual(times.rounds, 2)
  }

  func testMinTimeStopsWhenEveryConfigurationHasItsTime() {
    // Configuration 1 takes 0.25 s a run, configuration 0 1 s: one second each needs 4 rounds.
    let stop = TimingStop.minTime(seconds: 1, minimumRounds: 2, maximumRounds: 100)
    let times = timeInterleaved(count: 2, warmup: 0, stop: stop) { index, _ in index == 0 ? 1 : 0.25 }
    XCTAssertEqual(times.rounds, 4)
    // At least the minimum rounds, at most the maximum.
    XCTAssertEqual(timeInterleaved(count: 1, warmup: 0, stop: stop) { _, _ in 10 }.rounds, 2)
    let capped = TimingStop.minTime(seconds: 1, minimumRounds: 2, maximumRounds: 3)
    XCTAssertEqual(timeInterleaved(count: 1, warmup: 0, stop: capped) { _, _ in 0.01 }.rounds, 3)
  }

  func testCPUInfoParsing() {
    let text = """
      processor\t: 0
      model name\t: Example CPU @ 2.00GHz
      flags\t\t: fpu avx

      processor\t: 1
      model name\t: Example CPU @ 2.00GHz
      """
    let info = CPUInfo(cpuinfo: text)
    XCTAssertEqual(info.model, "Example CPU @ 2.00GHz")
    XCTAssertEqual(info.processors, 2)
    XCTAssertEqual(info.description, "Example CPU @ 2.00GHz (2 processors)")
    XCTAssertEqual(CPUInfo(cpuinfo: ""), CPUInfo(cpuinfo: "garbage"))
    XCTAssertEqual(CPUInfo(cpuinfo: "").model, "unknown")
    XCTAssertEqual(CPUInfo(cpuinfo: "").processors, 1)
  }
}

final class CalibrationSetTests: XCTestCase {
  func testDefaultCountAndSyntheticImages() throws {
    XCTAssertEqual(CalibrationSet.defaultCount(height: 672, width: 672), 2)
    XCTAssertEqual(CalibrationSet.defaultCount(height: 224, width: 224), 16)
    XCTAssertEqual(CalibrationSet.defaultCount(height: 4000, width: 4000), 1)
    let configuration = SwinConfiguration(embedDim: 8, depths: [2, 2], heads: [1, 2], classes: 5)
    let set = try CalibrationSet.load(.synthetic(seed: 3), size: (64, 64), count: 2, configuration: configuration)
    XCTAssertEqual(set.images.shape, [2, 3, 64, 64])
    XCTAssertEqual(set.label, "2 synthetic images (seed 3)")
    XCTAssertEqual(set.images.values, SyntheticImages.batch(count: 2, height: 64, width: 64, seed: 3).values)
    XCTAssertThrowsError(
      try CalibrationSet.load(.synthetic(seed: 0), size: (4, 64), count: 1, configuration: configuration)
    ) {
      XCTAssertEqual(
        $0 as? CalibrationError,
        .belowMinimum(height: 4, width: 64, minimum: 8))
    }
    XCTAssertThrowsError(
      try CalibrationSet.load(.directory(path: "/nonexistent"), size: (64, 64), count: 1, configuration: configuration)
    ) {
      XCTAssertTrue("\($0)".contains("cannot list '/nonexistent'"), "\($0)")
    }
  }
}
