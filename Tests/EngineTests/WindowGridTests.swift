// Window geometry against an explicit roll → pad → partition of an index map, and the shift mask
// against timm's slice labelling of the padded map.
import TestSupport
import XCTest

@testable import Engine

final class WindowGridTests: XCTestCase {
  /// torch.roll by (−sh, −sw), F.pad bottom/right, window_partition, on a map of pixel indices.
  private func explicitPartition(_ grid: WindowGrid) -> [[Int?]] {
    let h = grid.height, w = grid.width
    var rolled = [Int](repeating: 0, count: h * w)
    for r in 0..<h {
      for c in 0..<w { rolled[r * w + c] = ((r + grid.shiftHeight) % h) * w + (c + grid.shiftWidth) % w }
    }
    var windows: [[Int?]] = []
    for wy in 0..<grid.windowsDown {
      for wx in 0..<grid.windowsAcross {
        var tokens: [Int?] = []
        for i in 0..<grid.windowHeight {
          for j in 0..<grid.windowWidth {
            let r = wy * grid.windowHeight + i, c = wx * grid.windowWidth + j
            tokens.append(r < h && c < w ? rolled[r * w + c] : nil)
          }
        }
        windows.append(tokens)
      }
    }
    return windows
  }

  func testPartitionMatchesRollPadPartition() {
    for (h, w) in [(14, 14), (9, 13), (5, 7), (7, 7), (8, 8), (1, 30), (56, 56), (21, 10)] {
      for shifted in [false, true] {
        let grid = WindowGrid(height: h, width: w, window: 7, shifted: shifted)
        let expected = explicitPartition(grid)
        XCTAssertEqual(grid.windowCount, expected.count)
        for window in 0..<grid.windowCount {
          for token in 0..<grid.windowTokens {
            XCTAssertEqual(grid.sourcePixel(window: window, token: token), expected[window][token], "\(h)x\(w) shifted \(shifted) window \(window) token \(token)")
          }
        }
        // Every pixel is read by exactly one window token (scatter ∘ gather is the identity).
        let pixels = expected.joined().compactMap { $0 }
        XCTAssertEqual(pixels.sorted(), Array(0..<(h * w)))
      }
    }
  }

  func testClampAndShiftRules() {
    let small = WindowGrid(height: 7, width: 7, window: 7, shifted: true)
    XCTAssertEqual([small.windowHeight, small.windowWidth, small.shiftHeight, small.shiftWidth, small.windowCount], [7, 7, 0, 0, 1])
    let mixed = WindowGrid(height: 5, width: 12, window: 7, shifted: true)
    XCTAssertEqual([mixed.windowHeight, mixed.windowWidth, mixed.shiftHeight, mixed.shiftWidth], [5, 7, 0, 3])
    XCTAssertEqual(mixed.maskClassCount, 4)
    let padded = WindowGrid(height: 8, width: 8, window: 7, shifted: true)
    XCTAssertEqual([padded.paddedHeight, padded.windowCount, padded.shiftHeight], [14, 4, 3])
  }

  /// timm's get_attn_mask: label the padded map by row slices (0,−wh), (−wh,−sh), (−sh,None) and
  /// the same for columns (later slices overwrite), partition, −100 where labels differ.
  func testShiftMaskMatchesTimmLabels() {
    for (h, w) in [(14, 14), (9, 13), (5, 12), (12, 5), (21, 28), (8, 8)] {
      let grid = WindowGrid(height: h, width: w, window: 7, shifted: true)
      let hp = grid.paddedHeight, wp = grid.paddedWidth
      // Python slicing a[lower:upper] on an axis of `size` (negative indices count from the end).
      func slices(_ size: Int, _ window: Int, _ shift: Int) -> [Range<Int>] {
        func index(_ v: Int) -> Int { v < 0 ? max(0, size + v) : min(v, size) }
        let bounds: [(Int, Int?)] = [(0, -window), (-window, -shift), (-shift, nil)]
        return bounds.map { lower, upper in
          let l = index(lower), u = upper.map(index) ?? size
          return l..<max(l, u)
        }
      }
      var labels = [Int](repeating: 0, count: hp * wp)
      var count = 0
      for rows in slices(hp, grid.windowHeight, grid.shiftHeight) {
        for columns in slices(wp, grid.windowWidth, grid.shiftWidth) {
          for r in rows { for c in columns { labels[r * wp + c] = count } }
          count += 1
        }
      }
      for window in 0..<grid.windowCount {
        let wy = window / grid.windowsAcross, wx = window % grid.windowsAcross
        let tokenLabels = (0..<grid.windowTokens).map { t in
          labels[(wy * grid.windowHeight + t / grid.windowWidth) * wp + wx * grid.windowWidth + t % grid.windowWidth]
        }
        let mask = grid.shiftMask(forClass: grid.maskClass(ofWindow: window))
        for a in 0..<grid.windowTokens {
          for b in 0..<grid.windowTokens {
            XCTAssertEqual(mask[a * grid.windowTokens + b], tokenLabels[a] == tokenLabels[b] ? 0 : -100, "\(h)x\(w) window \(window) (\(a), \(b))")
          }
        }
      }
    }
  }
}
