// bf16 against f32 on the committed tiny fixtures' inputs. Seeded Swin-T (the real widths, 96–768
// channels) must give logits within 1e-2 relative L2 of its f32 logits on every dense input. The tiny
// fixture model (4–32 channels: dot products of 4–128 terms, too short to average bf16 rounding)
// is reported, with the kept-window agreement of its pruned cases. Runs the hardware bf16 kernel
// where the CPU has one, else the scalar model of vdpbf16ps.
import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Models

final class BF16GoldenTests: XCTestCase {
  let bf16Kernel = (try? BlockMatrixKernel.preferred(for: .bf16)) ?? .packedBF16(.model)

  func testSwinTinyBF16LogitsMatchF32OnFixtureInputs() throws {
    let manifest = try loadManifest(tinyFixtures)
    let weights = seededWeights(.swinTiny, seed: 0)
    let f32 = try SwinTransformer(tensors: weights, source: "seeded", kernel: .preferred)
    let bf16 = try SwinTransformer(tensors: weights, source: "seeded", kernel: bf16Kernel)
    XCTAssertEqual(bf16.precision, .bf16)
    for fixture in manifest.cases where fixture.pruningRatios == nil {
      let input = try tinyFixture(fixture.input)
      let error = try relativeL2(bf16, f32, input, sparsity: nil).logits
      print("BF16GoldenTests: Swin-T on \(fixture.name): bf16 vs f32 logits rel L2 \(error)")
      XCTAssertGreaterThan(error, 0, "bf16 logits identical to f32: the bf16 kernel did not run")
      XCTAssertLessThanOrEqual(error, 1e-2, "\(bf16Kernel): \(fixture.name)")
    }
  }

  func testTinyFixtureModelBF16Figures() throws {
    let manifest = try loadManifest(tinyFixtures)
    let path = tinyFixtures.appendingPathComponent("tiny.timm.f32.safetensors").path
    let tensors = try SafeTensorsFile.load(path: path).tensors
    let f32 = try SwinTransformer(tensors: tensors, source: path, kernel: .preferred)
    let bf16 = try SwinTransformer(tensors: tensors, source: path, kernel: bf16Kernel)
    var sameWindows = 0, windowLists = 0
    for fixture in manifest.cases {
      let input = try tinyFixture(fixture.input)
      let sparsity = try fixture.pruningRatios.map { try PruningRatios($0, depths: f32.configuration.depths) }
      let result = try relativeL2(bf16, f32, input, sparsity: sparsity)
      print("BF16GoldenTests: tiny model on \(fixture.name): bf16 vs f32 logits rel L2 \(result.logits)")
      XCTAssertGreaterThan(result.logits, 0, "bf16 logits identical to f32: the bf16 kernel did not run")
      windowLists += result.windowLists
      sameWindows += result.sameWindows
    }
    print(
      "BF16GoldenTests: tiny model, pruned blocks keeping the same windows in bf16 as in f32: \(sameWindows) of \(windowLists)"
    )
    XCTAssertGreaterThan(windowLists, 0, "no pruned block in the fixtures")
  }

  /// Relative L2 of `model`'s logits against `reference`'s, and how many pruned blocks kept the same windows.
  private func relativeL2(
    _ model: SwinTransformer, _ reference: SwinTransformer, _ input: Tensor, sparsity: PruningRatios?
  ) throws -> (logits: Double, sameWindows: Int, windowLists: Int) {
    let options = ForwardOptions(threads: 2, collectWindows: true)
    let expected = try reference.forward(input, sparsity: sparsity, options: options)
    let output = try model.forward(input, sparsity: sparsity, options: options)
    let result = compare(output.logits!.values, expected.logits!.values, atol: 1, rtol: 1, label: "logits")
    var same = 0, lists = 0
    for (ours, theirs) in zip(output.keptWindows.joined(), expected.keptWindows.joined()) where theirs != nil {
      lists += 1
      if ours == theirs { same += 1 }
    }
    return (result.relativeL2Error, same, lists)
  }
}
