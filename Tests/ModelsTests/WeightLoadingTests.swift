// Strict weight loading: layout detection, architecture inference, and every error path (missing and
// unexpected keys by name, shapes, non-finite values, non-float tensors, unknown layouts).
import Engine
import Foundation
import TestSupport
import XCTest

@testable import Models

final class WeightLoadingTests: XCTestCase {
  /// A small Swin (two stages of two blocks) in the timm layout.
  let configuration = SwinConfiguration(embedDim: 8, depths: [2, 2], heads: [1, 2], classes: 5)
  var tensors: [String: Tensor] { seededWeights(configuration, seed: 3) }

  private func loadError(_ tensors: [String: Tensor]) -> WeightLoadError? {
    do {
      _ = try SwinTransformer(tensors: tensors)
      return nil
    } catch {
      return error
    }
  }

  func testInfersTheArchitecture() throws {
    let model = try SwinTransformer(tensors: tensors)
    XCTAssertEqual(model.configuration, configuration)
    XCTAssertEqual(model.layout, .timm)
    XCTAssertEqual(model.parameterCount, tensors.values.reduce(0) { $0 + $1.count })
    XCTAssertEqual(SwinTransformer.seeded().parameterCount, 28_288_354)
  }

  func testMissingAndUnexpectedKeysAreListedByName() {
    var t = tensors
    t["layers.1.blocks.0.mlp.fc2.bias"] = nil
    t["layers.0.blocks.1.attn.proj.weight"] = nil
    t["layers.0.blocks.0.attn.extra"] = Tensor(shape: [1])
    t["decoder.weight"] = Tensor(shape: [2])
    XCTAssertEqual(
      loadError(t),
      .keys(
        missing: ["layers.0.blocks.1.attn.proj.weight", "layers.1.blocks.0.mlp.fc2.bias"],
        unexpected: ["decoder.weight", "layers.0.blocks.0.attn.extra"]))
    let message = loadError(t)!.description
    XCTAssertTrue(
      message.contains("missing 2 tensor(s): layers.0.blocks.1.attn.proj.weight, layers.1.blocks.0.mlp.fc2.bias"),
      message)
    XCTAssertTrue(message.contains("unexpected 2 tensor(s): decoder.weight, layers.0.blocks.0.attn.extra"), message)
  }

  func testShapeMismatchNamesTensorAndShapes() {
    var t = tensors
    t["layers.1.blocks.1.attn.qkv.weight"] = Tensor(shape: [48, 15])
    XCTAssertEqual(
      loadError(t),
      .shape(ShapeError(name: "layers.1.blocks.1.attn.qkv.weight", expected: [48, 16], actual: [48, 15])))
    XCTAssertEqual(
      loadError(t)?.description, "tensor 'layers.1.blocks.1.attn.qkv.weight' has shape [48, 15], expected [48, 16]")
    t = tensors
    t["head.fc.bias"] = Tensor(shape: [4])
    XCTAssertEqual(loadError(t), .shape(ShapeError(name: "head.fc.bias", expected: [5], actual: [4])))
    t = tensors
    t["layers.1.downsample.reduction.weight"] = Tensor(shape: [16, 31])
    XCTAssertEqual(
      loadError(t),
      .shape(ShapeError(name: "layers.1.downsample.reduction.weight", expected: [16, 32], actual: [16, 31])))
    t = tensors
    t["layers.0.blocks.1.attn.relative_position_bias_table"] = Tensor(shape: [168, 1])
    XCTAssertEqual(
      loadError(t),
      .shape(
        ShapeError(name: "layers.0.blocks.1.attn.relative_position_bias_table", expected: [169, 1], actual: [168, 1])))
  }

  func testArchitectureErrors() {
    var t = tensors
    t["layers.0.blocks.0.attn.relative_position_bias_table"] = Tensor(shape: [170, 1])
    XCTAssertEqual(
      loadError(t),
      .architecture(
        "'layers.0.blocks.0.attn.relative_position_bias_table' has 170 rows, expected (2·window − 1)² for a square window"
      ))
    t = tensors
    t["patch_embed.proj.weight"] = Tensor(shape: [8, 3, 4])
    XCTAssertEqual(
      loadError(t),
      .architecture("patch embedding weight has shape [8, 3, 4], expected [embed, channels, patch, patch]"))
    t = tensors.filter { !$0.key.hasPrefix("layers.") }
    XCTAssertEqual(loadError(t), .architecture("no blocks found ('layers.0.blocks.0.norm1.weight' is missing)"))
    t = tensors
    t["layers.1.blocks.0.norm1.weight"] = Tensor(shape: [12])
    XCTAssertEqual(loadError(t), .architecture("stage 1 has 12 channels, expected 16 (embed 8 doubled per stage)"))
  }

  func testUnknownLayoutAndNonFiniteValues() {
    XCTAssertEqual(loadError(["encoder.weight": Tensor(shape: [1])]), .unknownLayout(keys: ["encoder.weight"]))
    var t = tensors
    var values = t["layers.1.blocks.1.norm2.weight"]!.values
    values[3] = .nan
    t["layers.1.blocks.1.norm2.weight"] = Tensor(shape: [16], values: values)
    XCTAssertEqual(loadError(t), .nonFinite(tensor: "layers.1.blocks.1.norm2.weight"))
  }

  func testLayoutsAreDetectedAndBuffersIgnored() throws {
    var microsoft: [String: Tensor] = [:]
    for (name, tensor) in tensors {
      var key = name
      if name.hasPrefix("layers.1.downsample") { key = name.replacingOccurrences(of: "layers.1.", with: "layers.0.") }
      if name.hasPrefix("head.fc.") { key = name.replacingOccurrences(of: "head.fc.", with: "head.") }
      microsoft[key] = tensor
    }
    microsoft["layers.0.blocks.1.attn_mask"] = Tensor(shape: [16, 49, 49])
    microsoft["layers.0.blocks.0.attn.relative_position_index"] = Tensor(shape: [49, 49])
    let model = try SwinTransformer(tensors: microsoft)
    XCTAssertEqual(model.layout, .microsoft)
    XCTAssertEqual(model.configuration, configuration)
    // Errors name tensors as the checkpoint does.
    microsoft["head.bias"] = nil
    XCTAssertEqual(loadError(microsoft), .keys(missing: ["head.bias"], unexpected: []))
  }

  func testNonFloatTensorsInAFile() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sparsevit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.safetensors").path
    try SafeTensorsFile.write(tensors, to: path)
    XCTAssertEqual(try SwinTransformer.load(path: path).configuration, configuration)

    // The same file plus integer tensors: an index buffer is ignored, anything else is an error.
    func withIntegerTensor(_ name: String) throws -> String {
      let floats = try SafeTensorsFile.encode(tensors)
      let headerLength = floats[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
      var header = String(decoding: floats[8..<(8 + headerLength)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
      let data = Array(floats[(8 + headerLength)...])
      header.removeLast()  // "}"
      header += ",\"\(name)\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[\(data.count),\(data.count + 16)]}}"
      while header.utf8.count % 8 != 0 { header += " " }
      var bytes = (0..<8).map { UInt8(truncatingIfNeeded: header.utf8.count >> (8 * $0)) }
      bytes += Array(header.utf8) + data + [UInt8](repeating: 0, count: 16)
      let file = directory.appendingPathComponent("\(name).safetensors").path
      try Data(bytes).write(to: URL(fileURLWithPath: file))
      return file
    }
    XCTAssertNoThrow(
      try SwinTransformer.load(path: withIntegerTensor("layers.0.blocks.0.attn.relative_position_index")))
    let counts = try withIntegerTensor("head.counts")
    XCTAssertThrowsError(try SwinTransformer.load(path: counts)) { error in
      XCTAssertEqual(error as? ModelLoadError, .weights(path: counts, .dtype(tensor: "head.counts", dtype: "I64")))
    }
    XCTAssertThrowsError(try SwinTransformer.load(path: directory.appendingPathComponent("absent.safetensors").path)) {
      error in
      XCTAssertTrue("\(error)".contains("absent.safetensors"), "\(error)")
    }
  }
}
