// One model, many concurrent callers: forwards from Swift tasks (`withThrowingTaskGroup`) give results
// bitwise identical to the same forwards run one after another with the same thread count, for
// dense and pruned ratios, equal and different input shapes, and image inputs. Run it under the
// thread sanitizer too: `swift test --sanitize=thread --filter ConcurrencyTests`.
import Engine
import Foundation
import Models
import TestSupport
import XCTest

final class ConcurrencyTests: XCTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  /// One forward request: an input, its sparsity and the thread count.
  struct Job: Sendable {
    let input: Tensor
    let sparsity: PruningRatios?
  }

  /// Results (logits, stage maps, kept windows) as exact values.
  struct Result: Equatable, Sendable {
    let logits: [Float]
    let stages: [[Float]]
    let kept: [[[[Int]]?]]
  }

  private func model() throws -> SwinTransformer {
    try SwinTransformer.load(path: fixtures.appendingPathComponent("tiny/tiny.timm.f32.safetensors").path)
  }

  private static func run(_ model: SwinTransformer, _ job: Job, threads: Int) throws -> Result {
    let output = try model.forward(
      job.input, sparsity: job.sparsity,
      options: ForwardOptions(threads: threads, collectStages: true, collectWindows: true))
    return Result(logits: output.logits?.values ?? [], stages: output.stages.map(\.values), kept: output.keptWindows)
  }

  private func jobs(_ model: SwinTransformer, shapes: [[Int]]) throws -> [Job] {
    let depths = model.configuration.depths
    let sparsities: [PruningRatios?] = [
      nil, try .uniform(0.5, depths: depths),
      try PruningRatios([[0.3, 0.5], [0, 0.2], [0.25, 0.5], [0, 0]], depths: depths),
    ]
    return shapes.enumerated().map { index, shape in
      Job(input: randomTensor(shape, seed: UInt64(100 + index)), sparsity: sparsities[index % sparsities.count])
    }
  }

  /// Runs every job concurrently (all tasks started at once), results in job order.
  private static func concurrently(_ model: SwinTransformer, _ jobs: [Job], threads: Int) async throws -> [Result] {
    try await withThrowingTaskGroup(of: (Int, Result).self) { group in
      for (index, job) in jobs.enumerated() {
        group.addTask { (index, try run(model, job, threads: threads)) }
      }
      var results = [Result?](repeating: nil, count: jobs.count)
      for try await (index, result) in group { results[index] = result }
      return results.compactMap { $0 }
    }
  }

  private func assertConcurrentEqualsSequential(shapes: [[Int]], threads: Int, rounds: Int = 2) async throws {
    let model = try model()
    let jobs = try jobs(model, shapes: shapes)
    let sequential = try jobs.map { try Self.run(model, $0, threads: threads) }
    for round in 0..<rounds {
      let concurrent = try await Self.concurrently(model, jobs, threads: threads)
      XCTAssertEqual(concurrent.count, jobs.count)
      for (index, (a, b)) in zip(concurrent, sequential).enumerated() {
        XCTAssertEqual(a.logits, b.logits, "round \(round), job \(index): logits differ (\(threads) threads)")
        XCTAssertEqual(a.stages, b.stages, "round \(round), job \(index): stage maps differ (\(threads) threads)")
        XCTAssertEqual(a.kept, b.kept, "round \(round), job \(index): kept windows differ (\(threads) threads)")
      }
    }
  }

  /// Eight forwards of one shape at once share the workspace pool.
  func testConcurrentForwardsOfOneShapeMatchSequential() async throws {
    try await assertConcurrentEqualsSequential(shapes: Array(repeating: [1, 3, 64, 64], count: 8), threads: 2)
  }

  /// Different shapes and batch sizes at once, single-threaded and two-threaded forwards.
  func testConcurrentForwardsOfMixedShapesMatchSequential() async throws {
    let shapes = [
      [1, 3, 64, 64], [2, 3, 56, 80], [1, 3, 75, 100], [3, 3, 32, 32], [1, 3, 112, 112], [2, 3, 64, 64],
    ]
    try await assertConcurrentEqualsSequential(shapes: shapes, threads: 1)
    try await assertConcurrentEqualsSequential(shapes: shapes, threads: 2)
  }

  /// Image inputs (decode + preprocess + forward + pruning mask) from several tasks.
  func testConcurrentImageForwardsAndMasks() async throws {
    let model = try model()
    let images = try ["coffee.png", "cat.jpg", "small.png", "cat_gray.jpg"].map {
      try RGBImage.load(path: fixtures.appendingPathComponent("images/\($0)").path)
    }
    let preprocessing = try ImagePreprocessing(size: 64)
    let sparsity = try PruningRatios.uniform(0.5, depths: model.configuration.depths)
    let options = ForwardOptions(threads: 2)
    let expected = try images.map { image in
      (
        try model.forward(image, preprocessing: preprocessing, sparsity: sparsity, options: options).logits!.values,
        try model.pruningMask(for: image, sparsity: sparsity, preprocessing: preprocessing, options: options).picture
      )
    }
    let results = try await withThrowingTaskGroup(of: (Int, [Float], RGBImage).self) { group in
      for (index, image) in images.enumerated() {
        group.addTask {
          let logits = try model.forward(image, preprocessing: preprocessing, sparsity: sparsity, options: options)
            .logits!.values
          let mask = try model.pruningMask(
            for: image, sparsity: sparsity, preprocessing: preprocessing, options: options)
          return (index, logits, mask.picture)
        }
      }
      var results: [(Int, [Float], RGBImage)] = []
      for try await result in group { results.append(result) }
      return results.sorted { $0.0 < $1.0 }
    }
    for (index, logits, picture) in results {
      XCTAssertEqual(logits, expected[index].0, "image \(index) logits")
      XCTAssertEqual(picture, expected[index].1, "image \(index) mask")
    }
  }

  /// A refused forward (bad input) in one task does not disturb the others.
  func testFailuresAreIsolated() async throws {
    let model = try model()
    let good = randomTensor([1, 3, 64, 64], seed: 5)
    let expected = try model.forward(good, options: ForwardOptions(threads: 1)).logits!.values
    let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
      for index in 0..<6 {
        group.addTask {
          let input = index % 2 == 0 ? good : Tensor(shape: [1, 3, 8, 8])
          do {
            let logits = try model.forward(input, options: ForwardOptions(threads: 1)).logits!.values
            return logits == expected ? "ok" : "wrong logits"
          } catch {
            return String(describing: error)
          }
        }
      }
      var outcomes: [String] = []
      for try await outcome in group { outcomes.append(outcome) }
      return outcomes.sorted()
    }
    XCTAssertEqual(outcomes.filter { $0 == "ok" }.count, 3)
    XCTAssertEqual(outcomes.filter { $0.contains("8×8 pixels") }.count, 3, "\(outcomes)")
  }
}
