// Tier 3 per window semantics: the tiny fixtures' torchvision, mmdet and SparseViT cases
// (scripts/make_fixtures.py, `semantics_cases` in Tests/Fixtures/tiny/manifest.json): logits and
// stages from torchvision's own forward, mmdet backbone outputs from the SparseViT repository's and
// mmdet's block sequences, dense and pruned, at 224 and at padded sizes, batch 1 and 2.
import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Models

final class SemanticsGoldenTests: XCTestCase {
  let directory = tinyFixtures

  private func cases() throws -> [FixtureManifest.SemanticsCase] {
    try XCTUnwrap(loadManifest(directory).semanticsCases, "manifest.json has no semantics_cases")
  }

  /// The checkpoint of the framework a case comes from, in the case's semantics.
  private func model(for fixture: FixtureManifest.SemanticsCase, kernel: BlockMatrixKernel) throws -> SwinTransformer {
    let file = fixture.semantics == "torchvision" ? "tiny.torchvision.f16.safetensors" : "tiny.mmdet.f16.safetensors"
    let path = directory.appendingPathComponent(file).path
    let model = try SwinTransformer(
      tensors: SafeTensorsFile.load(path: path).tensors, source: path, kernel: kernel)
    let semantics = try XCTUnwrap(WindowSemantics(rawValue: fixture.semantics), fixture.semantics)
    // torchvision and SparseViT are their layouts' defaults; mmdet is asked for.
    return semantics == model.windowSemantics ? model : model.withWindowSemantics(semantics)
  }

  func testManifestCoversEverySemanticsDenseAndPruned() throws {
    let all = try cases()
    for semantics in ["torchvision", "mmdet", "sparsevit"] {
      let dense = all.filter { $0.semantics == semantics && $0.pruningRatios == nil }
      XCTAssertGreaterThanOrEqual(dense.count, 3, semantics)
      XCTAssertTrue(dense.contains { $0.batch == 2 }, semantics)
    }
    let pruned = all.filter { $0.semantics == "sparsevit" && $0.pruningRatios != nil }
    XCTAssertGreaterThanOrEqual(pruned.count, 3)
    XCTAssertTrue(pruned.contains { $0.batch == 2 })
  }

  func testEachSemanticsMatchesItsFramework() throws {
    for fixture in try cases() {
      // Every f32 matrix kernel this CPU runs with two workers (tiles and shared tiles), the first
      // also with one.
      let kernels = BlockMatrixKernel.supported.filter { $0.precision == .f32 }
      for (kernel, threads) in [(kernels[0], 1)] + kernels.map({ ($0, 2) }) {
        let model = try model(for: fixture, kernel: kernel)
        let input = try tinyFixture(fixture.input)
        let sparsity = try fixture.pruningRatios.map { try PruningRatios($0, depths: model.configuration.depths) }
        do {
          let label = "\(fixture.name) (\(kernel), \(threads) threads)"
          let output = try model.forward(
            input, sparsity: sparsity,
            options: ForwardOptions(threads: threads, collectStages: true, collectWindows: true))
          if let logits = fixture.logits {
            checkGolden(try XCTUnwrap(output.logits, label).values, try tinyFixture(logits).values, "\(label) logits")
          }
          for (index, file) in (fixture.stages ?? []).enumerated() {
            let expected = try tinyFixture(file)
            XCTAssertEqual(output.stages[index].shape, expected.shape, "\(label) stage \(index)")
            checkGolden(output.stages[index].values, expected.values, "\(label) stage \(index)")
          }
          for (index, file) in (fixture.normedStages ?? []).enumerated() {
            let expected = try tinyFixture(file)
            XCTAssertEqual(output.normalizedStages[index].shape, expected.shape, "\(label) normed stage \(index)")
            checkGolden(output.normalizedStages[index].values, expected.values, "\(label) normed stage \(index)")
          }
          if let expectedKept = fixture.keptWindows {
            let kept = output.keptWindows.flatMap { $0 }
            XCTAssertEqual(kept.count, expectedKept.count, label)
            for (block, (ours, theirs)) in zip(kept, expectedKept).enumerated() {
              let theirsOrNil: [[Int]]? = theirs.contains { $0 == nil } ? nil : theirs.map { $0! }
              XCTAssertEqual(ours, theirsOrNil, "\(label) block \(block) kept windows")
            }
          }
        }
      }
    }
  }

  /// The cases tell the semantics apart: at padded sizes every other semantics misses each case's
  /// expected outputs by far more than the tolerance (so a wrong rule cannot pass).
  func testOtherSemanticsMissEachPaddedCase() throws {
    for fixture in try cases() where fixture.batch == 2 && fixture.pruningRatios == nil {
      let model = try model(for: fixture, kernel: .preferred)
      let input = try tinyFixture(fixture.input)
      let expectedFiles = fixture.normedStages ?? fixture.stages ?? []
      for other in WindowSemantics.allCases where other != model.windowSemantics {
        let output = try model.forward(
          input, options: ForwardOptions(threads: 2, collectStages: true, windowSemantics: other))
        let actual = fixture.normedStages == nil ? output.stages : output.normalizedStages
        let worst =
          try zip(actual, expectedFiles).map { stage, file in
            compare(stage.values, try tinyFixture(file).values, atol: 0, rtol: 0, label: file).relativeL2Error
          }.max() ?? 0
        XCTAssertGreaterThan(worst, 1e-3, "\(fixture.name) run as \(other)")
      }
    }
  }

  /// The semantics is the model's, not the file's: the timm checkpoint asked for a semantics gives
  /// the other layouts' results bit for bit.
  func testSemanticsDoesNotDependOnTheLayout() throws {
    let timm = try SwinTransformer.load(path: directory.appendingPathComponent("tiny.timm.f32.safetensors").path)
    for fixture in try cases() where fixture.batch == 2 {
      let reference = try model(for: fixture, kernel: .preferred)
      let input = try tinyFixture(fixture.input)
      let sparsity = try fixture.pruningRatios.map { try PruningRatios($0, depths: timm.configuration.depths) }
      let semantics = reference.windowSemantics
      let expected = try reference.forward(
        input, sparsity: sparsity, options: ForwardOptions(threads: 2, collectStages: true))
      let viaOption = try timm.forward(
        input, sparsity: sparsity, options: ForwardOptions(threads: 2, collectStages: true, windowSemantics: semantics))
      let viaModel = try SwinTransformer.load(
        path: directory.appendingPathComponent("tiny.timm.f32.safetensors").path, windowSemantics: semantics
      ).forward(input, sparsity: sparsity, options: ForwardOptions(threads: 2, collectStages: true))
      for output in [viaOption, viaModel] {
        for index in 0..<4 {
          XCTAssertTrue(
            output.stages[index].values.map(\.bitPattern) == expected.stages[index].values.map(\.bitPattern),
            "\(fixture.name) stage \(index)")
        }
      }
    }
  }

  /// Dense is sparse with every window kept in every semantics: ratio 1e-17 (scored, ranked, every
  /// window kept) gives the dense result bit for bit, at a padded size with batch 2.
  func testEveryWindowKeptEqualsDenseInEverySemantics() throws {
    let model = try SwinTransformer.load(path: directory.appendingPathComponent("tiny.timm.f32.safetensors").path)
    let input = try tinyFixture("dense_75x100_b2.input.npy")
    for semantics in WindowSemantics.allCases {
      let options = ForwardOptions(threads: 2, collectStages: true, windowSemantics: semantics)
      let dense = try model.forward(input, options: options)
      let kept = try model.forward(
        input, sparsity: .uniform(1e-17, depths: model.configuration.depths), options: options)
      XCTAssertTrue(kept.windowUsage.joined().allSatisfy { $0.kept == $0.total })
      XCTAssertTrue(kept.logits!.values.map(\.bitPattern) == dense.logits!.values.map(\.bitPattern), "\(semantics)")
      for index in 0..<4 {
        XCTAssertTrue(
          kept.stages[index].values.map(\.bitPattern) == dense.stages[index].values.map(\.bitPattern),
          "\(semantics) stage \(index)")
      }
    }
  }
}
