// The layout name maps: hand-written names per layout, round trips of every tensor of Swin-T and a
// small model in all four layouts, the names PyTorch wrote into the fixtures, and errors that
// name the file's own tensors.
import Engine
import Foundation
import XCTest

@testable import Models

final class TensorNamingTests: XCTestCase {
  private let small = SwinConfiguration(embedDim: 8, depths: [2, 2], heads: [1, 2], classes: 5)

  /// Every timm name a model of `configuration` in `layout` holds.
  private func timmNames(_ configuration: SwinConfiguration, _ layout: WeightLayout) -> Set<String> {
    requiredNames(configuration, layout: layout, available: ["head.fc.bias": Tensor(shape: [1])])
  }

  func testNamesAsEachLayoutWritesThem() {
    let expected: [(WeightLayout, String, String)] = [
      (.microsoft, "layers.1.downsample.norm.weight", "layers.0.downsample.norm.weight"),
      (.microsoft, "layers.3.blocks.1.attn.qkv.bias", "layers.3.blocks.1.attn.qkv.bias"),
      (.microsoft, "head.fc.weight", "head.weight"),
      (.torchvision, "patch_embed.proj.weight", "features.0.0.weight"),
      (.torchvision, "patch_embed.norm.bias", "features.0.2.bias"),
      (.torchvision, "layers.2.downsample.reduction.weight", "features.4.reduction.weight"),
      (.torchvision, "layers.3.blocks.1.mlp.fc2.bias", "features.7.1.mlp.3.bias"),
      (.torchvision, "layers.0.blocks.0.mlp.fc1.weight", "features.1.0.mlp.0.weight"),
      (
        .torchvision, "layers.2.blocks.17.attn.relative_position_bias_table",
        "features.5.17.attn.relative_position_bias_table"
      ),
      (.torchvision, "head.fc.bias", "head.bias"),
      (.torchvision, "norm.weight", "norm.weight"),
      (.mmdet, "patch_embed.proj.bias", "backbone.patch_embed.projection.bias"),
      (.mmdet, "patch_embed.norm.weight", "backbone.patch_embed.norm.weight"),
      (.mmdet, "stage_norms.3.weight", "backbone.norm3.weight"),
      (.mmdet, "layers.1.downsample.reduction.weight", "backbone.stages.0.downsample.reduction.weight"),
      (
        .mmdet, "layers.1.blocks.0.attn.relative_position_bias_table",
        "backbone.stages.1.blocks.0.attn.w_msa.relative_position_bias_table"
      ),
      (.mmdet, "layers.0.blocks.1.mlp.fc1.weight", "backbone.stages.0.blocks.1.ffn.layers.0.0.weight"),
      (.mmdet, "layers.2.blocks.4.mlp.fc2.bias", "backbone.stages.2.blocks.4.ffn.layers.1.bias"),
      (.mmdet, "layers.2.blocks.4.norm2.bias", "backbone.stages.2.blocks.4.norm2.bias"),
    ]
    for (layout, timm, file) in expected {
      let naming = TensorNaming(layout: layout, prefix: layout == .mmdet ? "backbone." : "")
      XCTAssertEqual(naming.fileName(timm), file, "\(layout) \(timm)")
      XCTAssertEqual(naming.timmName(file), timm, "\(layout) \(file)")
    }
  }

  func testEveryTensorRoundTripsInEveryLayout() {
    for configuration in [SwinConfiguration.swinTiny, small] {
      for layout in WeightLayout.allCases {
        for prefix in layout == .mmdet ? ["", "backbone."] : [""] {
          let naming = TensorNaming(layout: layout, prefix: prefix)
          let names = timmNames(configuration, layout)
          let fileNames = names.map(naming.fileName)
          XCTAssertEqual(Set(fileNames).count, names.count, "\(layout): two tensors share a file name")
          for name in names {
            XCTAssertEqual(naming.timmName(naming.fileName(name)), name, "\(layout) \(name)")
          }
          for file in fileNames {
            XCTAssertEqual(naming.fileName(naming.timmName(file)), file, "\(layout) \(file)")
          }
          if layout == .torchvision || layout == .mmdet {
            // These rename every stage tensor; a block left with its timm name is a missed rule.
            let unchanged = names.filter { naming.fileName($0) == $0 }
            XCTAssertTrue(unchanged.allSatisfy { !$0.hasPrefix("layers.") }, "\(layout): \(unchanged.sorted())")
          }
        }
      }
    }
  }

  func testFixtureNamesWrittenByPyTorchMapToTheModel() throws {
    for layout in WeightLayout.allCases {
      let path = tinyFixtures.appendingPathComponent("tiny.\(layout).f16.safetensors").path
      let file = try SafeTensorsFile.load(path: path)
      let stored = Set(file.tensors.keys).union(file.otherTensors.keys).filter {
        !$0.hasSuffix("relative_position_index") && !$0.hasSuffix("attn_mask")
      }
      let canonical = try canonicalize(file.tensors)
      XCTAssertEqual(canonical.layout, layout)
      let configuration = try inferConfiguration(canonical.tensors)
      XCTAssertEqual(
        Set(canonical.tensors.keys),
        requiredNames(configuration, layout: layout, available: canonical.tensors), "\(layout)")
      for name in stored {
        XCTAssertEqual(canonical.naming.fileName(canonical.naming.timmName(name)), name, "\(layout)")
      }
    }
  }

  // MARK: Errors name the file's tensors

  private func tensors(_ layout: WeightLayout) throws -> [String: Tensor] {
    let path = tinyFixtures.appendingPathComponent("tiny.\(layout).f16.safetensors").path
    return try SafeTensorsFile.load(path: path).tensors
  }

  private func loadError(_ tensors: [String: Tensor]) -> WeightLoadError? {
    do {
      _ = try SwinTransformer(tensors: tensors)
      return nil
    } catch {
      return error
    }
  }

  func testShapeErrorsNameTorchvisionTensors() throws {
    var t = try tensors(.torchvision)
    t["features.3.1.mlp.3.weight"] = Tensor(shape: [8, 31])
    XCTAssertEqual(
      loadError(t), .shape(ShapeError(name: "features.3.1.mlp.3.weight", expected: [8, 32], actual: [8, 31])))
    t = try tensors(.torchvision)
    t["features.4.norm.bias"] = Tensor(shape: [31])
    XCTAssertEqual(loadError(t), .shape(ShapeError(name: "features.4.norm.bias", expected: [32], actual: [31])))
    t = try tensors(.torchvision)
    t["features.0.2.weight"] = nil
    t["features.5.0.extra"] = Tensor(shape: [1])
    XCTAssertEqual(loadError(t), .keys(missing: ["features.0.2.weight"], unexpected: ["features.5.0.extra"]))
  }

  func testShapeErrorsNameMMDetTensors() throws {
    var t = try tensors(.mmdet)
    t["backbone.stages.1.blocks.0.attn.w_msa.qkv.bias"] = Tensor(shape: [23])
    XCTAssertEqual(
      loadError(t),
      .shape(ShapeError(name: "backbone.stages.1.blocks.0.attn.w_msa.qkv.bias", expected: [24], actual: [23])))
    t = try tensors(.mmdet)
    t["backbone.norm2.weight"] = Tensor(shape: [15])
    XCTAssertEqual(loadError(t), .shape(ShapeError(name: "backbone.norm2.weight", expected: [16], actual: [15])))
    t = try tensors(.mmdet)
    t["backbone.stages.0.downsample.reduction.weight"] = Tensor(shape: [8, 15])
    XCTAssertEqual(
      loadError(t),
      .shape(ShapeError(name: "backbone.stages.0.downsample.reduction.weight", expected: [8, 16], actual: [8, 15])))
    t = try tensors(.mmdet)
    t["backbone.stages.0.blocks.0.ffn.layers.0.0.weight"] = nil
    XCTAssertEqual(
      loadError(t),
      .architecture("'backbone.stages.0.blocks.0.ffn.layers.0.0.weight' is missing or not a matrix"))
  }
}
