// The profile of a forward: worker time never exceeds the wall time it is booked in, the wall time
// never exceeds a stopwatch around the forwards, operations are booked to the stages that ran
// them, and scoring is booked only when windows are pruned. No timing thresholds: only orderings.
import Engine
import Foundation
import XCTest

@testable import Models

final class ProfilerTests: XCTestCase {
  private let model = SwinTransformer.seeded(
    SwinConfiguration(embedDim: 16, depths: [2, 2, 2, 2], heads: [1, 2, 4, 8], classes: 10), seed: 1)
  private let input = Tensor(shape: [1, 3, 256, 224], repeating: 0.5)  // stage 3 is 8×7: two windows

  /// Profiles two forwards; returns the profiler and the seconds a stopwatch saw around them.
  private func profile(ratio: Double, threads: Int) throws -> (Profiler, Double) {
    let profiler = Profiler(workers: threads)
    let sparsity = try PruningRatios.uniform(ratio, depths: model.configuration.depths)
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<2 {
      _ = try model.forward(input, sparsity: sparsity, options: ForwardOptions(threads: threads, profiler: profiler))
    }
    return (profiler, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
  }

  func testWorkerTimeFitsInTheWallTimeAndStagesAreKept() throws {
    for threads in [1, 2] {
      let (profiler, stopwatch) = try profile(ratio: 0.5, threads: threads)
      XCTAssertEqual(profiler.passes, 2)
      XCTAssertLessThanOrEqual(profiler.wallSeconds, stopwatch)
      let parts = profiler.seconds
      XCTAssertEqual(Set(parts.keys), Set(ProfileOperation.allCases))
      XCTAssertTrue(parts.values.allSatisfy { $0 >= 0 })
      // Idle is the wall time left over; a kernel that booked time twice (or to a wrong worker slot)
      // would push the busy parts past the wall time.
      let busy = parts.filter { $0.key != .idle }.values.reduce(0, +)
      XCTAssertLessThanOrEqual(busy, profiler.wallSeconds * (1 + 1e-9), "\(threads) threads")
      let stages = profiler.secondsByStage
      XCTAssertEqual(stages.count, 4)
      let stageTotal = stages.joined().reduce(0) { $0 + $1.value }
      XCTAssertLessThanOrEqual(stageTotal, profiler.wallSeconds * (1 + 1e-9))
      // Every block op ran in every stage; stem only in stage 0, merges only after it.
      for (index, stage) in stages.enumerated() {
        for op in [ProfileOperation.qkv, .attention, .mlpUp, .mlpDown, .scoring] {
          XCTAssertGreaterThan(stage[op]!, 0, "stage \(index) \(op)")
        }
        XCTAssertEqual(stage[.stem]! > 0, index == 0)
        XCTAssertEqual(stage[.merge]! > 0, index > 0)
      }
      profiler.reset()
      XCTAssertEqual(profiler.wallSeconds, 0)
      XCTAssertTrue(profiler.secondsByStage.isEmpty)
    }
  }

  func testADenseForwardBooksNoScoring() throws {
    let (profiler, _) = try profile(ratio: 0, threads: 2)
    for (index, stage) in profiler.secondsByStage.enumerated() {
      XCTAssertEqual(stage[.scoring], 0, "stage \(index)")
      XCTAssertGreaterThan(stage[.attention]!, 0, "stage \(index)")
    }
  }
}
