// The work splits of the fork–join regions: every split covers 0..<count once, in order, with the
// sizes each promises; and the pool runs every part exactly once, from any number of parts.
import XCTest

@testable import Engine

final class ParallelTests: XCTestCase {
  /// The ranges of `split` for every part, checked to tile `0..<count` in order.
  func ranges(_ count: Int, _ parts: Int, _ split: (Int, Int, Int) -> Range<Int>) -> [Range<Int>] {
    let result = (0..<parts).map { split(count, $0, parts) }
    XCTAssertEqual(result.first?.lowerBound, 0, "count \(count) parts \(parts)")
    XCTAssertEqual(result.last?.upperBound, count, "count \(count) parts \(parts)")
    for (a, b) in zip(result, result.dropFirst()) {
      XCTAssertEqual(a.upperBound, b.lowerBound, "count \(count) parts \(parts): \(result)")
    }
    return result
  }

  func testPartRangeSizesDifferByAtMostOne() {
    for count in 0...40 {
      for parts in 1...9 {
        let sizes = ranges(count, parts) { partRange($0, part: $1, parts: $2) }.map(\.count)
        XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "count \(count) parts \(parts): \(sizes)")
      }
    }
  }

  func testLargerFirstPartRangePutsTheLargerPartsFirst() {
    for count in 0...40 {
      for parts in 1...9 {
        let sizes = ranges(count, parts) { largerFirstPartRange($0, part: $1, parts: $2) }.map(\.count)
        XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "count \(count) parts \(parts): \(sizes)")
        XCTAssertEqual(sizes, sizes.sorted(by: >), "count \(count) parts \(parts): larger parts first")
      }
    }
    let cases: [(count: Int, parts: Int, sizes: [Int])] = [
      (14, 8, [2, 2, 2, 2, 2, 2, 1, 1]), (10, 4, [3, 3, 2, 2]), (5, 3, [2, 2, 1]), (3, 5, [1, 1, 1, 0, 0]),
      (0, 3, [0, 0, 0]), (7, 1, [7]), (12, 6, [2, 2, 2, 2, 2, 2]),
    ]
    for (count, parts, expected) in cases {
      XCTAssertEqual(
        ranges(count, parts) { largerFirstPartRange($0, part: $1, parts: $2) }.map(\.count), expected,
        "count \(count) parts \(parts)")
    }
  }

  /// Tiles taken in order by two equal workers (each takes the next tile when it is free) end
  /// together when the larger tiles come first, for every tile plan `BlockKernel` makes.
  func testLargerFirstTilesBalanceTwoWorkers() {
    for kept in stride(from: 2, through: 72, by: 2) {
      for perTile in 2...8 {
        let tiles = BlockKernel.tileCount(keptCount: kept, windowsPerTile: perTile, threads: 2)
        var finish = [0, 0]
        for tile in 0..<tiles {
          let worker = finish[0] <= finish[1] ? 0 : 1
          finish[worker] += largerFirstPartRange(kept, part: tile, parts: tiles).count
        }
        XCTAssertEqual(finish[0], finish[1], "kept \(kept), \(perTile) per tile, \(tiles) tiles")
      }
    }
  }

  func testAlignedPartRangeBoundariesAreAligned() {
    for count in [0, 1, 15, 16, 17, 96, 384, 1152, 2304] {
      for parts in 1...5 {
        let result = ranges(count, parts) { alignedPartRange($0, part: $1, parts: $2, alignment: 16) }
        for range in result.dropLast() { XCTAssertEqual(range.upperBound % 16, 0, "count \(count) parts \(parts)") }
      }
    }
  }

  /// Every part runs once, whatever the part count (the pool grows to the largest region).
  func testEveryPartRunsExactlyOnce() {
    for parts in [1, 2, 3, 7] {
      var counts = [Int](repeating: 0, count: parts)
      counts.withUnsafeMutableBufferPointer { buffer in
        var context = buffer.baseAddress!
        parallelParts(parts, &context) { raw, part in
          forkContext(raw, as: UnsafeMutablePointer<Int>.self).pointee[part] += 1
        }
      }
      XCTAssertEqual(counts, [Int](repeating: 1, count: parts), "parts \(parts)")
    }
  }
}
