// The profile of a forward: operations sum to the wall time, stages sum to (nearly) all of it, and
// the operations a pruned forward skips get less time than dense. No timing thresholds: only sums.
import Engine
import Foundation
import XCTest

@testable import Models

final class ProfilerTests: XCTestCase {
  func testPartsSumToTheWholeAndStagesAreKept() throws {
    let model = SwinTransformer.seeded(SwinConfiguration(embedDim: 16, depths: [2, 2, 2, 2], heads: [1, 2, 4, 8], classes: 10), seed: 1)
    let input = Tensor(shape: [1, 3, 256, 224], repeating: 0.5)  // stage 3 is 8×7: two windows, one kept
    for threads in [1, 2] {
      let profiler = Profiler(workers: threads)
      for _ in 0..<2 {
        _ = try model.forward(input, sparsity: .uniform(0.5, depths: model.configuration.depths), options: ForwardOptions(threads: threads, profiler: profiler))
      }
      XCTAssertEqual(profiler.passes, 2)
      let parts = profiler.seconds
      XCTAssertEqual(Set(parts.keys), Set(ProfileOperation.allCases))
      XCTAssertTrue(parts.values.allSatisfy { $0 >= 0 })
      XCTAssertEqual(parts.values.reduce(0, +), profiler.wallSeconds, accuracy: profiler.wallSeconds * 1e-9 + 1e-12)
      let stages = profiler.secondsByStage
      XCTAssertEqual(stages.count, 4)
      let stageTotal = stages.joined().reduce(0) { $0 + $1.value }
      XCTAssertLessThanOrEqual(stageTotal, profiler.wallSeconds * (1 + 1e-9))
      // Every block op ran in every stage; stem only in stage 0, merges only after it.
      for (index, stage) in stages.enumerated() {
        for op in [ProfileOperation.qkv, .attention, .mlpUp, .mlpDown] { XCTAssertGreaterThan(stage[op]!, 0, "stage \(index) \(op)") }
        XCTAssertEqual(stage[.stem]! > 0, index == 0)
        XCTAssertEqual(stage[.merge]! > 0, index > 0)
      }
      profiler.reset()
      XCTAssertEqual(profiler.wallSeconds, 0)
      XCTAssertTrue(profiler.secondsByStage.isEmpty)
    }
  }
}
