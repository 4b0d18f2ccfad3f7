// Tier 3: the tiny seeded Swin fixtures from timm 1.0.31 and the pruning reference
// (scripts/make_fixtures.py; versions, seed and command in Tests/Fixtures/tiny/manifest.json).
// Every case is run dense or pruned as recorded: logits, the four stage outputs and the kept windows
// must match; every other layout and dtype of the same weights must give identical results.
import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Models

/// Directory of the committed tiny fixtures.
let tinyFixtures =
  ProcessInfo.processInfo.environment["SPARSEVIT_TINY_FIXTURES"].map { URL(fileURLWithPath: $0) }
  ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
    "Fixtures/tiny")

/// The committed tiny fixture array `name` (a `.npy` file in `tinyFixtures`).
func tinyFixture(_ name: String) throws -> Tensor {
  try readNumPy(path: tinyFixtures.appendingPathComponent(name).path)
}

/// The golden comparison of every framework fixture. The frameworks compute in float32 with other
/// summation orders: element-wise we allow 1e-4 of the tensor's RMS (cancellation makes some small
/// values carry the rounding of large terms) or 1e-4 relative, and the whole tensor must agree to
/// 1e-5 relative L2.
func checkGolden(
  _ actual: [Float], _ expected: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line
) {
  let rtol = 1e-4, maxRelativeL2 = 1e-5
  let rms = (expected.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(expected.count, 1))).squareRoot()
  let result = compare(actual, expected, atol: 1e-4 * rms, rtol: rtol, label: label)
  XCTAssertTrue(result.passed && result.relativeL2Error <= maxRelativeL2, result.description, file: file, line: line)
}

final class GoldenTests: XCTestCase {
  let directory = tinyFixtures

  private func model(_ file: String) throws -> SwinTransformer {
    try SwinTransformer.load(path: directory.appendingPathComponent(file).path)
  }

  func testManifestCoversTheRequiredCases() throws {
    let manifest = try loadManifest(directory)
    XCTAssertEqual(Set(manifest.checkpoints.map(\.layout)), ["timm", "microsoft", "torchvision", "mmdet"])
    XCTAssertEqual(Set(manifest.checkpoints.map(\.dtype)), ["F32", "F16", "BF16"])
    XCTAssertGreaterThanOrEqual(
      manifest.cases.filter { $0.pruningRatios.map { !$0.joined().allSatisfy { $0 == 0 } } ?? false }.count, 4)
  }

  /// Dense and pruned forwards of the timm checkpoint against timm / the pruning reference, with
  /// either matrix kernel.
  func testTimmCheckpointMatchesReference() throws {
    let manifest = try loadManifest(directory)
    let path = directory.appendingPathComponent("tiny.timm.f32.safetensors").path
    for kernel in BlockMatrixKernel.supported where kernel.precision == .f32 {
      let model = try SwinTransformer(tensors: SafeTensorsFile.load(path: path).tensors, source: path, kernel: kernel)
      XCTAssertEqual(model.layout, .timm)
      try checkAgainstReference(model, manifest: manifest, label: "\(kernel)")
    }
  }

  private func checkAgainstReference(_ model: SwinTransformer, manifest: FixtureManifest, label: String) throws {
    for fixture in manifest.cases {
      let input = try tinyFixture(fixture.input)
      let sparsity = try fixture.pruningRatios.map { try PruningRatios($0, depths: model.configuration.depths) }
      for threads in [1, 2] {
        let output = try model.forward(
          input, sparsity: sparsity,
          options: ForwardOptions(threads: threads, collectStages: true, collectWindows: true))
        let logits = try tinyFixture(fixture.logits)
        checkGolden(output.logits!.values, logits.values, "\(label): \(fixture.name) logits, \(threads) threads")
        XCTAssertEqual(output.logits!.shape, logits.shape)
        for (index, file) in fixture.stages.enumerated() {
          let expected = try tinyFixture(file)
          XCTAssertEqual(output.stages[index].shape, expected.shape, "\(fixture.name) stage \(index) shape")
          checkGolden(
            output.stages[index].values, expected.values, "\(label): \(fixture.name) stage \(index), \(threads) threads"
          )
        }
        if let expectedKept = fixture.keptWindows {
          let kept = output.keptWindows.flatMap { $0 }
          XCTAssertEqual(kept.count, expectedKept.count)
          for (block, (ours, theirs)) in zip(kept, expectedKept).enumerated() {
            let theirsOrNil: [[Int]]? = theirs.contains { $0 == nil } ? nil : theirs.map { $0! }
            XCTAssertEqual(ours, theirsOrNil, "\(fixture.name) block \(block) kept windows")
          }
        }
      }
    }
  }

  /// The same weights in F16, BF16 and every other layout give bit-identical outputs in timm
  /// semantics (the values are exactly representable in all dtypes, and loading maps them to the
  /// same model).
  func testEveryLayoutAndDTypeGivesIdenticalOutputs() throws {
    let manifest = try loadManifest(directory)
    let reference = try model("tiny.timm.f32.safetensors")
    let options = ForwardOptions(threads: 2, collectStages: true, windowSemantics: .timm)
    let defaults: [String: WindowSemantics] = [
      "timm": .timm, "microsoft": .timm, "torchvision": .torchvision, "mmdet": .sparsevit,
    ]
    for checkpoint in manifest.checkpoints where checkpoint.file != "tiny.timm.f32.safetensors" {
      let candidate = try model(checkpoint.file)
      XCTAssertEqual(candidate.layout.rawValue, checkpoint.layout, checkpoint.file)
      XCTAssertEqual(candidate.windowSemantics, defaults[checkpoint.layout], checkpoint.file)
      for fixture in manifest.cases where fixture.pruningRatios == nil || fixture.name.hasPrefix("sparse_mixed") {
        let input = try tinyFixture(fixture.input)
        let sparsity = try fixture.pruningRatios.map { try PruningRatios($0, depths: reference.configuration.depths) }
        let expected = try reference.forward(input, sparsity: sparsity, options: options)
        let output = try candidate.forward(input, sparsity: sparsity, options: options)
        for index in 0..<4 {
          XCTAssertTrue(
            output.stages[index].values.map(\.bitPattern) == expected.stages[index].values.map(\.bitPattern),
            "\(checkpoint.file) \(fixture.name) stage \(index) differs from the timm F32 checkpoint")
        }
        if checkpoint.layout == "mmdet" {
          XCTAssertNil(output.logits, "an mmdet backbone has no head")
          for (index, file) in (fixture.normedStages ?? []).enumerated() {
            checkGolden(
              output.normalizedStages[index].values, try tinyFixture(file).values,
              "\(fixture.name) normed stage \(index)")
          }
        } else {
          XCTAssertTrue(
            output.logits!.values.map(\.bitPattern) == expected.logits!.values.map(\.bitPattern),
            "\(checkpoint.file) \(fixture.name) logits differ from the timm F32 checkpoint")
        }
      }
    }
  }

  /// Blocks run through the pruned path (scored, ranked, windows gathered by id) with a ratio whose
  /// kept count ⌊nW·(1 − r)⌋ is every window give the dense forward bit for bit; blocks of ratio 0
  /// take the dense path and are not scored. (Ratio 0 against the independent pruning reference is
  /// the `sparse_zero` fixture of `testTimmCheckpointMatchesReference`.)
  func testPrunedPathKeepingEveryWindowEqualsDenseExactly() throws {
    let model = try model("tiny.timm.f32.safetensors")
    let manifest = try loadManifest(directory)
    let depths = model.configuration.depths
    // 1 − 1e-17 rounds to 1 in double, so a block of ratio 1e-17 is scored but keeps every window.
    let allScored = try PruningRatios.uniform(1e-17, depths: depths)
    let oddStagesScored = try PruningRatios(
      depths.indices.map { stage in [Double](repeating: stage % 2 == 1 ? 1e-17 : 0, count: depths[stage]) },
      depths: depths)
    for fixture in manifest.cases.prefix(3) {
      let input = try tinyFixture(fixture.input)
      let dense = try model.forward(input, options: ForwardOptions(threads: 2, collectStages: true))
      for ratios in [allScored, oddStagesScored] {
        let output = try model.forward(
          input, sparsity: ratios, options: ForwardOptions(threads: 2, collectStages: true, collectWindows: true))
        for (stage, blocks) in output.keptWindows.enumerated() {
          for (block, kept) in blocks.enumerated() {
            let scored = ratios.ratios[stage][block] > 0
            XCTAssertEqual(kept != nil, scored, "\(fixture.name) stage \(stage) block \(block) scored")
          }
        }
        XCTAssertTrue(output.windowUsage.joined().allSatisfy { $0.kept == $0.total }, fixture.name)
        XCTAssertTrue(output.logits!.values.map(\.bitPattern) == dense.logits!.values.map(\.bitPattern), fixture.name)
        for index in 0..<4 {
          XCTAssertTrue(
            output.stages[index].values.map(\.bitPattern) == dense.stages[index].values.map(\.bitPattern),
            "\(fixture.name) stage \(index)")
        }
      }
    }
  }
}
