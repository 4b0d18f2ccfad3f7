// The pruning-mask picture: which panels are drawn, their kept/total counts against the forward's
// kept windows, and pixel by pixel which input pixels are bright (kept) or dimmed (pruned), checked
// against an independent computation of the rolled window geometry (SPARSEVIT.md).
import Engine
import Foundation
import TestSupport
import XCTest

@testable import Models

final class PruningMaskTests: XCTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  private func model() throws -> SwinTransformer {
    try SwinTransformer.load(path: fixtures.appendingPathComponent("tiny/tiny.timm.f32.safetensors").path)
  }

  /// The window of a `window`-sized grid on a `height × width` map (timm: clamp, roll by −shift,
  /// pad bottom/right) that map pixel `(row, column)` lands in.
  private func referenceWindow(row: Int, column: Int, height: Int, width: Int, window: Int, shifted: Bool) -> Int {
    let windowHeight = min(window, height), windowWidth = min(window, width)
    let shiftHeight = shifted && height > window ? window / 2 : 0
    let shiftWidth = shifted && width > window ? window / 2 : 0
    // Rolling by −shift moves pixel r to r − shift (mod height).
    let rolledRow = (row - shiftHeight + height) % height, rolledColumn = (column - shiftWidth + width) % width
    let across = (width + windowWidth - 1) / windowWidth
    return rolledRow / windowHeight * across + rolledColumn / windowWidth
  }

  func testPanelMaskMatchesRolledGeometry() {
    for (height, width, shifted) in [
      (24, 24, false), (24, 24, true), (14, 10, true), (7, 7, true), (19, 30, true), (3, 5, false),
    ] {
      let grid = WindowGrid(height: height, width: width, window: 7, shifted: shifted)
      let kept = Array(stride(from: 0, to: grid.windowCount, by: 2))
      let mask = PanelMask(grid: grid, kept: kept)
      for row in 0..<height {
        for column in 0..<width {
          let expected = referenceWindow(
            row: row, column: column, height: height, width: width, window: 7, shifted: shifted)
          XCTAssertEqual(
            mask.window[row * width + column], expected, "\(height)×\(width) shifted \(shifted) at (\(row), \(column))")
          XCTAssertEqual(mask.kept[row * width + column], expected % 2 == 0)
        }
      }
      XCTAssertTrue(PanelMask(grid: grid, kept: nil).kept.allSatisfy { $0 }, "nil means every window")
    }
  }

  /// A white picture: kept input pixels stay white, pruned ones are dimmed, exactly where the
  /// stage's window geometry (stride 4 · 2^stage, rolled for shifted blocks) says.
  func testPixelsAreBrightExactlyWhereWindowsWereKept() throws {
    let configuration = try model().configuration
    let side = 96
    let picture = RGBImage(width: side, height: side, red: 255, green: 255, blue: 255)
    let ratios = try PruningRatios([[0, 0.5], [0.3, 0.3], [0.2, 0.5], [0, 0]], depths: configuration.depths)
    let sizes = configuration.stageSizes(height: side, width: side)
    // Synthetic selections: every third window of each pruned block.
    var keptWindows: [[[[Int]]?]] = []
    for stage in 0..<4 {
      keptWindows.append(
        (0..<2).map { block in
          guard ratios.ratios[stage][block] > 0 else { return nil }
          let grid = WindowGrid(height: sizes[stage].height, width: sizes[stage].width, window: 7, shifted: block == 1)
          return [Array(stride(from: 0, to: grid.windowCount, by: 3))]
        })
    }
    let (rendered, panels) = renderPruningMask(
      picture: picture, keptWindows: keptWindows, ratios: ratios, configuration: configuration, image: 0)
    XCTAssertEqual(
      panels.map { [$0.stage, $0.block] }, [[0, 0], [0, 1], [1, 0], [2, 0], [2, 1], [3, 0]],
      "one panel per distinct ratio")
    XCTAssertEqual(panels.map(\.blocks), [[0], [1], [0, 1], [0], [1], [0, 1]])
    // Stage 2 is 6×6 at 96 pixels: one clamped window, so its odd block does not shift.
    XCTAssertEqual(panels.map(\.shifted), [false, true, false, false, false, false])
    for panel in panels {
      XCTAssertEqual(panel.scale, 3, "96-pixel panels are enlarged to 288")
      let size = sizes[panel.stage], stride = 4 << panel.stage
      let shifted = panel.block % 2 == 1
      let pruned = ratios.ratios[panel.stage][panel.block] > 0
      for y in 0..<side {
        for x in 0..<side {
          let window = referenceWindow(
            row: y / stride, column: x / stride, height: size.height, width: size.width, window: 7, shifted: shifted)
          let kept = !pruned || window % 3 == 0
          // The top-left enlarged pixel is never on a window border.
          let color = rendered[x: panel.left + x * panel.scale, y: panel.top + y * panel.scale]
          if kept {
            XCTAssertEqual(
              color.red, 255, "stage \(panel.stage) block \(panel.block) pixel (\(x), \(y)) should be kept")
          } else {
            XCTAssertLessThan(
              color.red, 90, "stage \(panel.stage) block \(panel.block) pixel (\(x), \(y)) should be dimmed")
          }
        }
      }
      let total = WindowGrid(height: size.height, width: size.width, window: 7, shifted: shifted).windowCount
      XCTAssertEqual(panel.totalWindows, total)
      XCTAssertEqual(panel.keptWindows, pruned ? (total + 2) / 3 : total)
    }
  }

  /// Through the public API on a real photo: the panels report what the forward kept.
  func testMaskOfAPhotoReportsTheForwardsSelection() throws {
    let model = try model()
    let image = try RGBImage.load(path: fixtures.appendingPathComponent("images/cat.jpg").path)
    let sparsity = try PruningRatios([[0.5, 0.5], [0, 0], [0.25, 0.5], [0, 0]], depths: model.configuration.depths)
    let preprocessing = try ImagePreprocessing(size: 112)
    let mask = try model.pruningMask(
      for: image, sparsity: sparsity, preprocessing: preprocessing, options: ForwardOptions(threads: 2), caption: "test"
    )
    XCTAssertEqual(mask.panels.map { [$0.stage, $0.block] }, [[0, 0], [1, 0], [2, 0], [2, 1], [3, 0]])
    for panel in mask.panels {
      let usage = mask.output.windowUsage[panel.stage][panel.block]
      XCTAssertEqual(panel.keptWindows, usage.kept)
      XCTAssertEqual(panel.totalWindows, usage.total)
      XCTAssertEqual(mask.output.keptWindows[panel.stage][panel.block]?[0].count ?? usage.total, panel.keptWindows)
    }
    // The same forward without the picture.
    let plain = try model.forward(
      image, preprocessing: preprocessing, sparsity: sparsity, options: ForwardOptions(threads: 2))
    XCTAssertEqual(plain.logits, mask.output.logits)
    // 112 pixels are enlarged twice; 4 stage columns.
    XCTAssertEqual(mask.panels[0].scale, 2)
    XCTAssertGreaterThan(mask.picture.width, 4 * 224)
    let decoded = try RGBImage.decode(mask.picture.pngData())
    XCTAssertEqual(decoded, mask.picture)
  }

  func testDenseMaskKeepsEverything() throws {
    let model = try model()
    let image = try RGBImage.load(path: fixtures.appendingPathComponent("images/coffee.png").path)
    let mask = try model.pruningMask(
      for: image, sparsity: .dense(depths: model.configuration.depths), preprocessing: ImagePreprocessing(size: 64))
    XCTAssertEqual(mask.panels.count, 4)
    XCTAssertTrue(mask.panels.allSatisfy { $0.keptWindows == $0.totalWindows && $0.ratio == 0 })
  }

  func testMaskRejectsWhatForwardRejects() throws {
    let model = try model()
    let image = try RGBImage.load(path: fixtures.appendingPathComponent("images/small.png").path)
    XCTAssertThrowsError(
      try model.pruningMask(
        for: image, sparsity: .uniform(0.5, depths: model.configuration.depths),
        preprocessing: ImagePreprocessing(size: 16))
    ) { error in
      XCTAssertEqual(error as? InferenceError, .inputTooSmall(height: 16, width: 16, minimum: 32))
    }
  }
}
