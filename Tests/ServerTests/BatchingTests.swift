// The batching loop (jobs of one shape and sparsity share a forward, others do not, rows go back to
// their jobs) and the SLO ladder's choice (up when the prediction misses, down one level at a time
// with hysteresis). No assertion depends on timing: windows are long and `drain` ends the waits.
import Engine
import Foundation
import Models
import Synchronization
import XCTest

@testable import Server

/// Results by job key, written by the batching thread.
final class JobResults: Sendable {
  let values = Mutex<[Int: JobResult]>([:])
  func withLock<T>(_ body: (inout [Int: JobResult]) -> T) -> T { values.withLock { body(&$0) } }
}

final class BatchingTests: ServerTestCase {
  private func engine(maxBatch: Int, window: Double, ladder: SparsityLadder? = nil) -> BatchingEngine {
    BatchingEngine(
      model: model, options: BatchingOptions(maxBatch: maxBatch, windowSeconds: window, threads: 2), ladder: ladder,
      metrics: ServerMetrics())
  }

  private func submit(
    _ engine: BatchingEngine, _ images: Tensor, _ sparsity: JobSparsity = .policy, into results: JobResults,
    _ key: Int
  ) {
    XCTAssertTrue(
      engine.submit(
        InferenceJob(images: images, sparsity: sparsity, collectStages: false) { result in
          results.withLock { $0[key] = try? result.get() }
        }))
  }

  func testFullBatchRunsAsOneForwardAndRowsGoBack() throws {
    // A one-hour window: only a full batch (or drain) can start the forward.
    let engine = engine(maxBatch: 4, window: 3600)
    let results = JobResults()
    let inputs = (0..<4).map { images(batch: $0 == 1 ? 2 : 1, seed: UInt64($0 + 1)) }
    submit(engine, inputs[0], into: results, 0)
    submit(engine, inputs[1], into: results, 1)
    submit(engine, inputs[2], into: results, 2)
    engine.drain()
    let got = results.withLock { $0 }
    XCTAssertEqual(got.count, 3)
    for key in 0..<3 {
      let result = try XCTUnwrap(got[key])
      XCTAssertEqual(result.batchImages, 4, "job \(key)")
      let expected = try model.forward(inputs[key], options: ForwardOptions(threads: 2))
      assertClose(result.logits!.values, expected.logits!.values, "job \(key) logits")
      XCTAssertEqual(result.logits!.shape, [inputs[key].shape[0], model.configuration.classes])
    }
  }

  func testDifferentSparsityOrShapeDoesNotShareAForward() throws {
    let engine = engine(maxBatch: 4, window: 3600)
    let results = JobResults()
    let half = try PruningRatios.uniform(0.5, depths: model.configuration.depths)
    submit(engine, images(), into: results, 0)
    submit(engine, images(), .fixed(label: "uniform 0.5", ratios: half), into: results, 1)
    submit(engine, images(size: 64), into: results, 2)
    engine.drain()
    let got = results.withLock { $0 }
    XCTAssertEqual(got.count, 3)
    XCTAssertEqual(got.values.map(\.batchImages), [1, 1, 1])
    XCTAssertEqual(got[1]?.sparsityLabel, "uniform 0.5")
    XCTAssertEqual(got[0]?.sparsityLabel, "dense")
    XCTAssertFalse(engine.submit(InferenceJob(images: images(), sparsity: .policy, collectStages: false) { _ in }))
  }

  func testLadderGoesUpWhenPredictionMissesAndDownWithHysteresis() throws {
    let depths = model.configuration.depths
    let levels = try [0.0, 0.4, 0.8].enumerated().map { index, ratio in
      SparsityLevel(
        name: "r\(ratio)", ratios: try .uniform(ratio, depths: depths), secondsPerImage: [0.1, 0.06, 0.03][index])
    }
    // A level slower than a less sparse one buys no time: left out.
    let slow = SparsityLevel(name: "slow", ratios: try .uniform(0.2, depths: depths), secondsPerImage: 0.2)
    // Given out of order: sorted by sparsity, dense first. Target 0.8 s, 2 calm batches to step down.
    let ladder = SparsityLadder(
      levels: levels.reversed() + [slow], sloSeconds: 1, calibrationPixels: 100, targetFraction: 0.8, calmBatches: 2)
    XCTAssertEqual(ladder.levels.map(\.name), ["r0.0", "r0.4", "r0.8"])
    XCTAssertEqual(ladder.dropped, ["slow"])
    XCTAssertEqual(ladder.choose(images: 4, pixels: 100, waited: 0), 0)  // 0.4 s ≤ 0.8
    XCTAssertEqual(ladder.choose(images: 12, pixels: 100, waited: 0), 1)  // dense 1.2 > 0.8, r0.4 0.72
    XCTAssertEqual(ladder.choose(images: 20, pixels: 100, waited: 0.2), 2)  // r0.4 1.4; r0.8 0.8
    XCTAssertEqual(ladder.choose(images: 40, pixels: 100, waited: 0), 2)  // nothing meets it: the sparsest
    // Down: r0.4 must meet the target for 2 batches in a row; a busy batch between resets the count.
    XCTAssertEqual(ladder.choose(images: 10, pixels: 100, waited: 0), 2)  // r0.4 0.6 s: calm 1
    XCTAssertEqual(ladder.choose(images: 20, pixels: 100, waited: 0), 2)  // r0.4 1.2 s: calm 0
    XCTAssertEqual(ladder.choose(images: 10, pixels: 100, waited: 0), 2)  // calm 1
    XCTAssertEqual(ladder.choose(images: 10, pixels: 100, waited: 0), 1)  // calm 2: one level down
    XCTAssertEqual(ladder.choose(images: 1, pixels: 100, waited: 0), 1)  // dense 0.1 s: calm 1
    XCTAssertEqual(ladder.choose(images: 1, pixels: 100, waited: 0), 0)  // back to dense
    XCTAssertEqual(ladder.choose(images: 1, pixels: 100, waited: 0), 0)
    // Pixels scale the prediction: 4 images at 4× the pixels is 16 images' work.
    XCTAssertEqual(ladder.choose(images: 4, pixels: 400, waited: 0), 2)
  }

  func testAtTheSLOsDenseLatencyTheLadderReturnsToDense() throws {
    // The BENCHMARKS setting: SLO = 1.5 × dense latency. One image at a time predicts 0.67 SLO.
    let depths = model.configuration.depths
    let levels = try [0.0, 0.5].enumerated().map { index, ratio in
      SparsityLevel(name: "r\(ratio)", ratios: try .uniform(ratio, depths: depths), secondsPerImage: [1.0, 0.5][index])
    }
    let ladder = SparsityLadder(levels: levels, sloSeconds: 1.5, calibrationPixels: 1)
    XCTAssertEqual(ladder.choose(images: 3, pixels: 1, waited: 0), 1)
    let after = (0..<ladder.calmBatches).map { _ in ladder.choose(images: 1, pixels: 1, waited: 0) }
    XCTAssertEqual(after.last, 0)
    XCTAssertEqual(ladder.choose(images: 1, pixels: 1, waited: 0), 0)
  }

  func testALoneImageIsHeldToTheSLOAndAQueueToTheTarget() throws {
    // SLO 1.5 s, dense 1 s per image measured 1.3 s: alone it still meets 1.5 s (not the 0.8 target,
    // 1.2 s); with one image behind it (2.6 s) the ladder goes sparse (0.5 × 1.3 × 2 = 1.3 > 1.2: the sparsest).
    let depths = model.configuration.depths
    let levels = try [0.0, 0.5].enumerated().map { index, ratio in
      SparsityLevel(name: "r\(ratio)", ratios: try .uniform(ratio, depths: depths), secondsPerImage: [1.0, 0.5][index])
    }
    let ladder = SparsityLadder(levels: levels, sloSeconds: 1.5, calibrationPixels: 1, targetFraction: 0.8)
    for _ in 0..<60 { ladder.record(level: 0, images: 1, pixels: 1, seconds: 1.3) }
    XCTAssertEqual(ladder.predictedSeconds(level: 0, images: 1, pixels: 1, waited: 0), 1.3, accuracy: 1e-3)
    XCTAssertEqual(ladder.choose(images: 1, pixels: 1, waited: 0), 0)
    XCTAssertEqual(ladder.choose(images: 2, pixels: 1, waited: 0), 1)
    // A lone image that has already waited past what the SLO leaves for its run goes sparse too.
    let fresh = SparsityLadder(levels: levels, sloSeconds: 1.5, calibrationPixels: 1, targetFraction: 0.8)
    XCTAssertEqual(fresh.choose(images: 1, pixels: 1, waited: 0.6), 1)
  }

  func testLadderFollowsMeasuredTimes() throws {
    let depths = model.configuration.depths
    let ladder = SparsityLadder(
      levels: [SparsityLevel(name: "dense", ratios: .dense(depths: depths), secondsPerImage: 0.1)], sloSeconds: 1,
      calibrationPixels: 1)
    XCTAssertEqual(ladder.predictedSeconds(level: 0, images: 2, pixels: 1, waited: 0), 0.2, accuracy: 1e-12)
    for _ in 0..<50 { ladder.record(level: 0, images: 1, pixels: 1, seconds: 0.2) }
    XCTAssertEqual(ladder.predictedSeconds(level: 0, images: 2, pixels: 1, waited: 0), 0.4, accuracy: 1e-3)
  }

  func testServerUnderSLOReportsItsLevel() throws {
    try start {
      $0.sloSeconds = 10
      $0.ladder = [
        ("dense", .dense(depths: Self.model.configuration.depths)),
        ("uniform 0.5", try! .uniform(0.5, depths: Self.model.configuration.depths)),
      ]
    }
    let response = try infer(jsonInfer(images()))
    XCTAssertEqual(response.status, 200, response.text)
    let parameters = try XCTUnwrap(response.json?["parameters"] as? [String: Any])
    XCTAssertNotNil(parameters["sparsity_level"] as? Int)
    let level = try XCTUnwrap(parameters["sparsity_level"] as? Int)
    XCTAssertEqual(parameters["sparsity"] as? String, server!.engine.ladder!.levels[level].name)
    // A request naming its own sparsity is served at it, not at the ladder's level.
    let fixed = try infer(jsonInfer(images(), parameters: ["sparsity": "dense"]))
    XCTAssertEqual((fixed.json?["parameters"] as? [String: Any])?["sparsity"] as? String, "dense")
    XCTAssertNil((fixed.json?["parameters"] as? [String: Any])?["sparsity_level"])
    let metrics = try XCTUnwrap(try rawRequest(port: port, method: "GET", path: "/metrics")).text
    XCTAssertTrue(metrics.contains("sparsevit_slo_level{name="), metrics)
  }

  func testLadderTakesTheLatencyModelsPredictions() throws {
    let depths = model.configuration.depths
    let windows = LatencyModel.windows(model.configuration, height: 64, width: 64)
    let key = try LatencyModelKey(
      cpu: "Test CPU", threads: 2, height: 64, width: 64, batch: 2, architecture: "tiny", engine: "test")
    // A made-up machine: 10 ms fixed + 1 ms per kept window of any stage.
    let samples = LatencyModel.design(depths: depths).map { ratios in
      let kept = ratios.ratios.enumerated().reduce(0) { total, stage in
        total + stage.element.reduce(0) { $0 + Int(Double(windows[stage.offset]) * (1 - $1)) }
      }
      return LatencySample(ratios: ratios.ratios, seconds: 0.010 + 0.001 * Double(2 * kept))
    }
    let latency = try LatencyModel.fit(samples: samples, key: key, depths: depths, windows: windows)
    let half = try PruningRatios.uniform(0.5, depths: depths)
    try start {
      $0.sloSeconds = 10
      $0.latencyModel = latency
      $0.ladder = [("uniform 0.5", half), ("dense", .dense(depths: depths))]
    }
    let ladder = try XCTUnwrap(server!.engine.ladder)
    XCTAssertEqual(ladder.levels.map(\.name), ["dense", "uniform 0.5"])
    XCTAssertEqual(ladder.calibrationPixels, 64 * 64)
    XCTAssertEqual(ladder.levels[0].secondsPerImage, latency.denseSeconds / 2, accuracy: 1e-12)
    XCTAssertEqual(ladder.levels[1].secondsPerImage, latency.predictedSeconds(half) / 2, accuracy: 1e-12)
  }
}
