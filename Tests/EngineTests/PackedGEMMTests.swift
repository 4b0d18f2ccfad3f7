// The packed-panel matrix product against a naive double-precision loop: odd and real shapes, every
// row-tile height, inner sizes across the inner block, panel edges, column ranges starting at a
// later panel, beta 0 and 1; sentinels around the output catch writes outside it.
import Foundation
import TestSupport
import XCTest

@testable import Engine

final class PackedGEMMTests: XCTestCase {
  func testPackLayout() {
    // w [3, 2] = [[1, 2], [3, 4], [5, 6]] → one block, one panel of 16 columns, k-major, zero-padded.
    let packed = PackedPanels.pack([1, 2, 3, 4, 5, 6], outputs: 3, inner: 2)
    XCTAssertEqual(packed.count, 32)
    XCTAssertEqual(PackedPanels.count(outputs: 3, inner: 2), 32)
    XCTAssertEqual(PackedPanels.count(outputs: 32, inner: 5), 160)
    XCTAssertEqual(PackedPanels.count(outputs: 33, inner: 5), 240)
    XCTAssertEqual(Array(packed[0..<3]), [1, 3, 5])
    XCTAssertEqual(Array(packed[16..<19]), [2, 4, 6])
    XCTAssertTrue(packed[3..<16].allSatisfy { $0 == 0 } && packed[19..<32].allSatisfy { $0 == 0 })
    // [block][panel][k][16]: 40 outputs (3 panels, 48 padded), inner 300 = blocks of 256 and 44.
    let outputs = 40, inner = 300
    let w = (0..<(outputs * inner)).map(Float.init)
    let big = PackedPanels.pack(w, outputs: outputs, inner: inner)
    XCTAssertEqual(big.count, 48 * 300)
    func element(_ output: Int, _ k: Int) -> Float {
      let block = k / 256, depth = block == 0 ? 256 : 44
      return big[block * 256 * 48 + output / 16 * 16 * depth + (k - block * 256) * 16 + output % 16]
    }
    for (output, k) in [(0, 0), (15, 255), (16, 0), (39, 299), (17, 256), (33, 100)] {
      XCTAssertEqual(element(output, k), w[output * inner + k], "output \(output) k \(k)")
    }
    XCTAssertEqual(element(45, 299), 0, "padding outputs are zero")
  }

  /// The weights each panel-kernel call is told to prefetch are exactly those the next call reads
  /// (the next columns of the block, then the first of the next block; none after the last call),
  /// and they lie inside the packed matrix: for f32 and bf16 blocks, both column steps, whole
  /// products and column ranges starting at a later panel.
  func testNextPanelsAreTheNextCallsWeights() {
    let width = PackedPanels.width
    for (outputs, inner) in [(16, 1), (40, 300), (96, 256), (100, 513), (33, 7)] {
      for (first, columns) in [(0, outputs), (16, outputs - 16), (16, min(40, outputs - 16))] where columns > 0 {
        for step in [width, 2 * width] {
          for bf16 in [false, true] {
            func units(_ k0: Int) -> Int {
              let depth = min(PackedPanels.innerBlock, inner - k0)
              return bf16 ? (depth + 1) / 2 : depth
            }
            func blockStart(_ k0: Int) -> Int {
              bf16
                ? PackedBF16.offset(column: first, k0: k0, outputs: outputs, inner: inner)
                : PackedPanels.offset(column: first, k0: k0, outputs: outputs, inner: inner)
            }
            let total =
              bf16
              ? PackedBF16.count(outputs: outputs, inner: inner) : PackedPanels.count(outputs: outputs, inner: inner)
            // The (offset, bytes) of every call, in the drivers' order.
            var calls: [(offset: Int, bytes: Int)] = []
            var told: [(offset: Int, bytes: Int)?] = []
            var k0 = 0
            while k0 < inner {
              let depth = min(PackedPanels.innerBlock, inner - k0)
              var column = 0
              while column < columns {
                let panels = (min(step, columns - column) + width - 1) / width
                calls.append((blockStart(k0) + column * units(k0), panels * width * units(k0) * 4))
                told.append(
                  bf16
                    ? PackedBF16.nextCall(
                      after: column, step: step, columns: columns, k0: k0, inner: inner, first: first, outputs: outputs)
                    : PackedPanels.nextCall(
                      after: column, step: step, columns: columns, k0: k0, inner: inner, first: first, outputs: outputs)
                )
                column += step
              }
              k0 += depth
            }
            let label = "outputs \(outputs) inner \(inner) first \(first) columns \(columns) step \(step) bf16 \(bf16)"
            XCTAssertNil(told.last!, label)
            for (index, next) in told.dropLast().enumerated() {
              guard let next else {
                XCTFail("call \(index) of \(label) is told nothing")
                continue
              }
              XCTAssertTrue(next == calls[index + 1], "call \(index) of \(label): \(next) vs \(calls[index + 1])")
              XCTAssertTrue(next.offset >= 0 && next.offset + next.bytes / 4 <= total, "call \(index) of \(label)")
            }
          }
        }
      }
    }
  }

  /// Every f32 micro-kernel (AVX-512, AVX2+FMA, Swift) this CPU runs; the others are named as skipped.
  func testMatchesNaiveProduct() {
    for isa in PanelISA.allCases {
      guard isa.isSupported else {
        print(
          "PackedGEMMTests: skipping the \(isa) kernel: this CPU lacks \(isa == .avx512 ? "avx512f/bw/vl" : "avx2+fma")"
        )
        continue
      }
      checkAgainstNaiveProduct(isa: isa)
    }
  }

  private func checkAgainstNaiveProduct(isa: PanelISA) {
    let shapes: [(m: Int, n: Int, k: Int)] = [
      (1, 16, 1), (5, 16, 7), (6, 32, 9), (7, 48, 33), (11, 40, 17), (13, 3, 5), (49, 96, 96),
      (12, 24, 256), (17, 64, 257), (9, 50, 600), (2, 16, 520), (25, 80, 31), (98, 33, 40), (10, 40, 300),
    ]
    for (index, shape) in shapes.enumerated() {
      let (m, n, k) = shape
      var g = SplitMix64(seed: UInt64(100 + index))
      let w = randomValues(n * k, using: &g)
      let packed = PackedPanels.pack(w, outputs: n, inner: k)
      let lda = k + 3, ldc = n + 5
      let a = randomValues(m * lda, using: &g)
      let initial = randomValues(m * ldc, using: &g)
      for beta: Float in [0, 1] {
        // Every column range the engine's workers can get: from each panel to the end.
        for first in stride(from: 0, to: n, by: PackedPanels.width) {
          let columns = n - first
          let sentinel: Float = -7777
          var c = [Float](repeating: sentinel, count: m * ldc + 8)
          for row in 0..<m {
            for column in 0..<n { c[row * ldc + column] = initial[row * ldc + column] }
          }
          a.withUnsafeBufferPointer { a in
            packed.withUnsafeBufferPointer { p in
              c.withUnsafeMutableBufferPointer { c in
                multiplyPanels(
                  rows: m, columns: columns, inner: k, a.baseAddress!, lda: lda, packed: p.baseAddress!, outputs: n,
                  first: first, beta: beta, into: c.baseAddress! + first, ldc: ldc, isa: isa)
              }
            }
          }
          var expected: [Float] = []
          var actual: [Float] = []
          for row in 0..<m {
            for column in first..<n {
              var sum = beta == 0 ? 0 : Double(initial[row * ldc + column])
              for i in 0..<k { sum += Double(a[row * lda + i]) * Double(w[column * k + i]) }
              expected.append(Float(sum))
              actual.append(c[row * ldc + column])
            }
            for column in 0..<first where c[row * ldc + column] != initial[row * ldc + column] {
              XCTFail("\(shape): column \(column) before the range changed")
            }
            for column in n..<ldc where row * ldc + column < c.count && c[row * ldc + column] != sentinel {
              XCTFail("\(shape): padding column \(column) of row \(row) written")
            }
          }
          XCTAssertTrue(c[(m * ldc)...].allSatisfy { $0 == sentinel }, "\(shape): wrote past the output")
          let result = compare(
            actual, expected, atol: 1e-5, rtol: 1e-5, label: "\(isa): m \(m) n \(n) k \(k) first \(first) beta \(beta)")
          XCTAssertTrue(result.passed, result.description)
        }
      }
    }
  }

  func testEmptySizes() {
    var c: [Float] = [1, 2, 3, 4]
    let one: [Float] = [0]
    one.withUnsafeBufferPointer { a in
      c.withUnsafeMutableBufferPointer { c in
        multiplyPanels(
          rows: 2, columns: 2, inner: 0, a.baseAddress!, lda: 0, packed: a.baseAddress!, outputs: 2, first: 0, beta: 1,
          into: c.baseAddress!, ldc: 2)
      }
    }
    XCTAssertEqual(c, [1, 2, 3, 4], "k = 0, beta 1 keeps c")
    one.withUnsafeBufferPointer { a in
      c.withUnsafeMutableBufferPointer { c in
        multiplyPanels(
          rows: 0, columns: 2, inner: 3, a.baseAddress!, lda: 3, packed: a.baseAddress!, outputs: 2, first: 0, beta: 0,
          into: c.baseAddress!, ldc: 2)
        multiplyPanels(
          rows: 2, columns: 0, inner: 3, a.baseAddress!, lda: 3, packed: a.baseAddress!, outputs: 2, first: 0, beta: 0,
          into: c.baseAddress!, ldc: 2)
      }
    }
    XCTAssertEqual(c, [1, 2, 3, 4], "no rows or no columns: nothing written")
    one.withUnsafeBufferPointer { a in
      c.withUnsafeMutableBufferPointer { c in
        multiplyPanels(
          rows: 2, columns: 2, inner: 0, a.baseAddress!, lda: 0, packed: a.baseAddress!, outputs: 2, first: 0, beta: 0,
          into: c.baseAddress!, ldc: 2)
      }
    }
    XCTAssertEqual(c, [0, 0, 0, 0], "k = 0, beta 0 clears c")
  }
}
