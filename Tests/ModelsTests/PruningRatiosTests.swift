// Sparsity configurations: JSON forms, validation errors naming stage/block/value, presets, and the
// kept-window count rule.
import Foundation
import XCTest

@testable import Models

final class PruningRatiosTests: XCTestCase {
  let depths = [2, 2, 6, 2]

  private func parse(_ json: String) throws(SparsityError) -> PruningRatios {
    try PruningRatios.parse(json: Data(json.utf8), source: "cfg.json", depths: depths)
  }

  private func error(_ json: String) -> SparsityError? {
    do {
      _ = try parse(json)
      return nil
    } catch {
      return error
    }
  }

  func testAcceptedForms() throws {
    let cfg2 = try parse(
      #"{"name": "cfg2", "pruning_ratios": [[0.6,0.6],[0,0],[0.2,0.2,0.4,0.4,0.5,0.5],[0,0]], "latency_ms": 34.2}"#)
    XCTAssertEqual(cfg2.ratios, PruningRatios.presets["cfg2_35ms"])
    XCTAssertEqual(try parse("0.5"), try PruningRatios.uniform(0.5, depths: depths))
    XCTAssertEqual(try parse(#"{"pruning_ratios": 0.25}"#).ratios[2], [Double](repeating: 0.25, count: 6))
    XCTAssertEqual(try PruningRatios.resolve("cfg1_42ms", depths: depths).ratios, PruningRatios.presets["cfg1_42ms"])
    XCTAssertTrue(try PruningRatios.resolve("dense", depths: depths).isDense)
    XCTAssertEqual(try PruningRatios.resolve("0.3", depths: depths).ratios[0], [0.3, 0.3])
    // Round trip through the writer.
    XCTAssertEqual(
      try PruningRatios.parse(json: cfg2.jsonData(extra: ["size": 672]), source: "x", depths: depths), cfg2)
  }

  func testValidationErrorsNameStageBlockAndValue() {
    XCTAssertEqual(error(#"{"pruning_ratios": [[0,0],[0,0],[0,0,0,0,0,0]]}"#), .stageCount(expected: 4, actual: 3))
    XCTAssertEqual(
      error(#"{"pruning_ratios": [[0,0],[0,0],[0,0,0,0,0],[0,0]]}"#), .blockCount(stage: 2, expected: 6, actual: 5))
    XCTAssertEqual(
      error(#"{"pruning_ratios": [[0,0],[0,0],[0,0,0.4,0.3,0.5,0.5],[0,0]]}"#),
      .decreasing(stage: 2, block: 3, value: 0.3, previous: 0.4))
    XCTAssertEqual(
      error(#"{"pruning_ratios": [[0,1],[0,0],[0,0,0,0,0,0],[0,0]]}"#), .notBelowOne(stage: 0, block: 1, value: 1))
    XCTAssertEqual(
      error(#"{"pruning_ratios": [[0,0],[-0.1,0],[0,0,0,0,0,0],[0,0]]}"#), .negative(stage: 1, block: 0, value: -0.1))
    XCTAssertEqual(error("1.5"), .notBelowOne(stage: 0, block: 0, value: 1.5))
    XCTAssertEqual(
      SparsityError.decreasing(stage: 2, block: 3, value: 0.3, previous: 0.4).description,
      "sparsity ratio at stage 2, block 3 is 0.3, below the previous block's 0.4: ratios must not decrease within a stage (later blocks keep a prefix of the same window ranking)"
    )
    XCTAssertThrowsError(try PruningRatios([[0, .nan], [0, 0], [0, 0, 0, 0, 0, 0], [0, 0]], depths: depths)) {
      XCTAssertEqual($0 as? SparsityError, .notFinite(stage: 0, block: 1))
    }
  }

  func testMalformedDocuments() {
    guard case .notJSON = error("{pruning_ratios: }") else { return XCTFail("not JSON accepted") }
    guard case .notJSON = error("[1e400]") else { return XCTFail("overflowing number accepted") }
    XCTAssertEqual(error(#"{"ratios": [[0,0]]}"#), .missingKey(source: "cfg.json"))
    XCTAssertEqual(error(#"[[0,0],[0,0]]"#), .missingKey(source: "cfg.json"))
    XCTAssertEqual(error(#""0.5""#), .missingKey(source: "cfg.json"))
    XCTAssertEqual(
      error(#"{"pruning_ratios": [[0,true],[0,0],[0,0,0,0,0,0],[0,0]]}"#),
      .wrongStructure(source: "cfg.json", reason: "\"pruning_ratios\"[0][1] must be a number, found a boolean"))
    XCTAssertEqual(
      error(#"{"pruning_ratios": [[0,0],"x",[0,0,0,0,0,0],[0,0]]}"#),
      .wrongStructure(source: "cfg.json", reason: "\"pruning_ratios\"[1] must be a list of numbers"))
    XCTAssertEqual(
      error(#"{"pruning_ratios": {"a": 1}}"#),
      .wrongStructure(source: "cfg.json", reason: "\"pruning_ratios\" must be a list of per-stage lists of numbers"))
    XCTAssertThrowsError(try PruningRatios.resolve("/nonexistent/cfg.json", depths: depths)) { error in
      guard case .unreadable(let path, _) = error as? SparsityError else { return XCTFail("\(error)") }
      XCTAssertEqual(path, "/nonexistent/cfg.json")
    }
    XCTAssertThrowsError(try PruningRatios.preset("cfg9", depths: depths)) {
      XCTAssertEqual($0 as? SparsityError, .unknownPreset("cfg9"))
    }
  }

  func testKeptWindowsFollowsPythonIntTruncation() throws {
    let ratios = try PruningRatios([[0.3, 0.3], [0, 0], [0.1, 0.1, 0.2, 0.2, 0.2, 0.7], [0, 0.99]], depths: depths)
    XCTAssertEqual(ratios.keptWindows(stage: 0, block: 0, windows: 576), 403)  // int(576 * 0.7) = 403
    XCTAssertEqual(ratios.keptWindows(stage: 2, block: 5, windows: 36), 10)  // int(36 * 0.30000000000000004)
    XCTAssertEqual(ratios.keptWindows(stage: 3, block: 1, windows: 9), 0)
    XCTAssertEqual(ratios.keptWindows(stage: 1, block: 0, windows: 144), 144)
  }

  /// The JSON files shipped in weights/ are the presets.
  func testShippedConfigurationFilesAreThePresets() throws {
    let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("weights")
    for name in PruningRatios.presetNames {
      let loaded = try PruningRatios.load(path: weights.appendingPathComponent("\(name).json").path, depths: depths)
      XCTAssertEqual(loaded.ratios, PruningRatios.presets[name], name)
    }
  }

  func testPresetsValidateForSwinTinyOnly() {
    for name in PruningRatios.presetNames { XCTAssertNoThrow(try PruningRatios.preset(name, depths: depths)) }
    XCTAssertThrowsError(try PruningRatios.preset("cfg1_42ms", depths: [2, 2, 18, 2]))
  }
}
