// Window geometry against an explicit roll → pad → partition (timm) or pad → roll → partition (the
// other semantics) of an index map, and the shift mask against the frameworks' slice labelling of
// the padded map.
import TestSupport
import XCTest

@testable import Engine

final class WindowGridTests: XCTestCase {
  /// timm: torch.roll by (−sh, −sw), F.pad bottom/right, window_partition, on a map of pixel
  /// indices; the others: F.pad first, then torch.roll on the padded map.
  private func explicitPartition(_ grid: WindowGrid) -> [[Int?]] {
    let h = grid.height, w = grid.width, hp = grid.paddedHeight, wp = grid.paddedWidth
    // What each position of the padded map holds before the roll, then after it.
    var padded = [Int?](repeating: nil, count: hp * wp)
    if grid.semantics == .timm {
      for r in 0..<h {
        for c in 0..<w { padded[r * wp + c] = ((r + grid.shiftHeight) % h) * w + (c + grid.shiftWidth) % w }
      }
    } else {
      for r in 0..<hp {
        for c in 0..<wp {
          let sr = (r + grid.shiftHeight) % hp, sc = (c + grid.shiftWidth) % wp
          padded[r * wp + c] = sr < h && sc < w ? sr * w + sc : nil
        }
      }
    }
    var windows: [[Int?]] = []
    for wy in 0..<grid.windowsDown {
      for wx in 0..<grid.windowsAcross {
        var tokens: [Int?] = []
        for i in 0..<grid.windowHeight {
          for j in 0..<grid.windowWidth {
            tokens.append(padded[(wy * grid.windowHeight + i) * wp + wx * grid.windowWidth + j])
          }
        }
        windows.append(tokens)
      }
    }
    return windows
  }

  func testPartitionMatchesRollPadPartition() {
    for semantics in WindowSemantics.allCases {
      for (h, w) in [(14, 14), (9, 13), (5, 7), (7, 7), (8, 8), (1, 30), (56, 56), (21, 10), (3, 4)] {
        for shifted in [false, true] {
          let grid = WindowGrid(height: h, width: w, window: 7, shifted: shifted, semantics: semantics)
          let expected = explicitPartition(grid)
          let label = "\(semantics) \(h)x\(w) shifted \(shifted)"
          XCTAssertEqual(grid.windowCount, expected.count, label)
          for window in 0..<grid.windowCount {
            for token in 0..<grid.windowTokens {
              XCTAssertEqual(
                grid.sourcePixel(window: window, token: token), expected[window][token],
                "\(label) window \(window) token \(token)")
            }
          }
          // Every pixel is read by exactly one window token (scatter ∘ gather is the identity).
          let pixels = expected.joined().compactMap { $0 }
          XCTAssertEqual(pixels.sorted(), Array(0..<(h * w)), label)
        }
      }
    }
  }

  /// SPARSEVIT.md's table: clamp only in timm; a one-window axis shifts only in mmdet and SparseViT;
  /// the roll wraps around the map (timm) or the padded map; window counts agree in all four.
  func testSemanticsRules() {
    let expected: [WindowSemantics: [Int]] = [
      // 5×12 shifted: window h, window w, shift h, shift w, rolled h, rolled w, windows
      .timm: [5, 7, 0, 3, 5, 12, 2],
      .torchvision: [7, 7, 0, 3, 7, 14, 2],
      .mmdet: [7, 7, 3, 3, 7, 14, 2],
      .sparsevit: [7, 7, 3, 3, 7, 14, 2],
    ]
    for semantics in WindowSemantics.allCases {
      let grid = WindowGrid(height: 5, width: 12, window: 7, shifted: true, semantics: semantics)
      XCTAssertEqual(
        [grid.windowHeight, grid.windowWidth, grid.shiftHeight, grid.shiftWidth, grid.rolledHeight, grid.rolledWidth,
         grid.windowCount], expected[semantics], "\(semantics)")
      let seven = WindowGrid(height: 7, width: 7, window: 7, shifted: true, semantics: semantics)
      XCTAssertEqual(seven.isShifted, semantics == .mmdet || semantics == .sparsevit, "\(semantics) 7x7")
      XCTAssertEqual(seven.maskClassCount, seven.isShifted ? 4 : 1)
      XCTAssertEqual(semantics.normalizesPadding, semantics == .sparsevit)
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

  /// timm's get_attn_mask (torchvision's and mmdet's alike, on their grids): label the padded map by
  /// row slices (0,−wh), (−wh,−sh), (−sh,None) and
  /// the same for columns (later slices overwrite), partition, −100 where labels differ.
  func testShiftMaskMatchesTimmLabels() {
    for semantics in WindowSemantics.allCases {
    for (h, w) in [(14, 14), (9, 13), (5, 12), (12, 5), (21, 28), (8, 8), (7, 7), (3, 10)] {
      let grid = WindowGrid(height: h, width: w, window: 7, shifted: true, semantics: semantics)
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
            XCTAssertEqual(mask[a * grid.windowTokens + b], tokenLabels[a] == tokenLabels[b] ? 0 : -100, "\(semantics) \(h)x\(w) window \(window) (\(a), \(b))")
          }
        }
      }
    }
    }
  }
}
