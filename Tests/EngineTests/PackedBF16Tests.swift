// The bf16 path: the scalar model of vcvtneps2bf16/vdpbf16ps on cases that tell its rounding apart,
// the packed layout, the product (model kernel, any CPU) against a Double reference of the rounded
// operands with sentinels, and the AVX512_BF16 kernel bit for bit against the model where it runs.
import Foundation
import TestSupport
import XCTest

@testable import Engine

final class PackedBF16Tests: XCTestCase {
  func testRoundingModel() {
    func round(_ bits: UInt32) -> UInt16 { BFloat16Model.round(Float(bitPattern: bits)) }
    XCTAssertEqual(BFloat16Model.round(1), 0x3F80)
    XCTAssertEqual(round(0x3F80_8000), 0x3F80, "tie rounds to the even 0x3F80")
    XCTAssertEqual(round(0x3F81_8000), 0x3F82, "tie rounds to the even 0x3F82")
    XCTAssertEqual(round(0x3F80_8001), 0x3F81, "above the tie rounds up")
    XCTAssertEqual(round(0x3F80_7FFF), 0x3F80, "below the tie rounds down")
    XCTAssertEqual(round(0x0000_1234), 0x0000, "denormal → +0")
    XCTAssertEqual(round(0x8040_0000), 0x8000, "negative denormal → −0")
    XCTAssertEqual(round(0x7F7F_FFFF), 0x7F80, "largest float rounds to +inf")
    XCTAssertEqual(BFloat16Model.round(-.infinity), 0xFF80)
    XCTAssertEqual(round(0x7F80_0001), 0x7FC0, "signaling NaN comes back quiet")
    XCTAssertEqual(BFloat16Model.widen(0xC040), -3)
  }

  func testDotPairRoundsEachProductInTurn() {
    let one = UInt32(0x3F80), tiny = UInt32(0x3380)  // 1 and 2^-24 as bf16
    // 1 + 2^-24 + 2^-24: one rounding per product leaves 1 (each sum is a tie to even); a single
    // rounding of both products would give 1 + 2^-23.
    let pairA = tiny << 16 | tiny, pairB = one << 16 | one
    XCTAssertEqual(BFloat16Model.dotPair(1, pairA, pairB), 1)
    // The high halves first: 1 + 2^-24 rounds back to 1, then 1 − 1 = 0 (low first would leave 2^-24).
    let minusOne = UInt32(0xBF80)
    XCTAssertEqual(BFloat16Model.dotPair(1, tiny << 16 | minusOne, one << 16 | one), 0)
    // A product below the normal range flushes to zero: 2^-125 · 2^-10.
    XCTAssertEqual(BFloat16Model.dotPair(0, 0x0100 << 16, 0x3A80 << 16), 0)
    // A denormal accumulator reads as zero: 2^-127 + 2^-126 gives 2^-126, not 1.5 · 2^-126.
    XCTAssertEqual(
      BFloat16Model.dotPair(Float(bitPattern: 0x0040_0000), 0x0080 << 16, one << 16), Float(bitPattern: 0x0080_0000))
  }

  func testPackLayout() {
    // w [3, 3]: one block, one panel, pairs (k0, k1) and (k2, 0).
    let w: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    let packed = PackedBF16.pack(w, outputs: 3, inner: 3)
    XCTAssertEqual(packed.count, 32)
    func pair(_ low: Float, _ high: Float) -> UInt32 {
      UInt32(BFloat16Model.round(high)) << 16 | UInt32(BFloat16Model.round(low))
    }
    XCTAssertEqual(Array(packed[0..<3]), [pair(1, 2), pair(4, 5), pair(7, 8)])
    XCTAssertEqual(Array(packed[16..<19]), [pair(3, 0), pair(6, 0), pair(9, 0)])
    XCTAssertTrue(packed[3..<16].allSatisfy { $0 == 0 } && packed[19...].allSatisfy { $0 == 0 })
    // [block][panel][pair][16]: 40 outputs (48 padded), inner 301 = blocks of 256 and 45 (23 pairs).
    let outputs = 40, inner = 301
    let big = PackedBF16.pack((0..<(outputs * inner)).map { Float($0 % 251) }, outputs: outputs, inner: inner)
    XCTAssertEqual(big.count, 48 * 151)
    func element(_ output: Int, _ k: Int) -> Float {
      let block = k / 256, pairs = block == 0 ? 128 : 23, local = k - block * 256
      let word = big[block * 128 * 48 + output / 16 * 16 * pairs + local / 2 * 16 + output % 16]
      return BFloat16Model.widen(UInt16(truncatingIfNeeded: word >> (16 * UInt32(local % 2))))
    }
    for (output, k) in [(0, 0), (15, 255), (16, 1), (39, 300), (17, 256), (33, 101)] {
      XCTAssertEqual(element(output, k), Float((output * inner + k) % 251), "output \(output) k \(k)")
    }
    XCTAssertEqual(element(45, 299), 0, "padding outputs are zero")
  }

  /// The model kernel against a Double product of the bf16-rounded operands.
  func testModelMatchesRoundedProduct() {
    for shape in shapes {
      check(shape, isa: .model) { a, w, initial, beta, first in roundedProduct(shape, a, w, initial, beta, first) }
    }
  }

  /// Activations rounded beforehand (`roundRowsToBF16`, then `multiplyRoundedPanelsBF16`, as the
  /// shared tile does) give the bits of rounding inside the product, for the model and, where the
  /// CPU has it, the vdpbf16ps kernel; the output's sentinels stay untouched.
  func testPreRoundedActivationsGiveTheSameBits() {
    let kernels: [BF16ISA] = BF16ISA.avx512BF16.isSupported ? [.model, .avx512BF16] : [.model]
    for isa in kernels {
      for shape in shapes {
        var inside: [[Float]] = []
        check(shape, isa: isa, expected: { _, _, _, _, _ in nil }, collect: { inside.append($0) })
        var index = 0
        check(
          shape, isa: isa, preRounded: true, expected: { _, _, _, _, _ in nil },
          collect: { before in
            XCTAssertTrue(
              before.map(\.bitPattern) == inside[index].map(\.bitPattern),
              "\(isa) m \(shape.m) n \(shape.n) k \(shape.k) case \(index)")
            index += 1
          })
        XCTAssertEqual(index, inside.count)
      }
    }
  }

  /// The AVX512_BF16 kernel gives the model's bits (skipped, with the reason, on other CPUs).
  func testHardwareKernelMatchesModel() throws {
    guard BF16ISA.avx512BF16.isSupported else {
      throw XCTSkip("this CPU lacks avx512_bf16: the vdpbf16ps kernel is tested against the model on CPUs that have it")
    }
    for shape in shapes {
      var modelOutputs: [[Float]] = []
      check(shape, isa: .model) { _, _, _, _, _ in
        nil
      } collect: {
        modelOutputs.append($0)
      }
      var index = 0
      check(shape, isa: .avx512BF16) { _, _, _, _, _ in
        nil
      } collect: { hardware in
        XCTAssertTrue(
          hardware.map(\.bitPattern) == modelOutputs[index].map(\.bitPattern),
          "m \(shape.m) n \(shape.n) k \(shape.k) case \(index)")
        index += 1
      }
    }
  }

  /// The AMX kernel against the Double product of the rounded operands (it sums in its tiles over
  /// the whole inner size, so its bits may differ from the model's); inner sizes not a multiple of
  /// 32 take the AVX512_BF16 kernel.
  func testAMXKernelMatchesRoundedProduct() throws {
    guard BF16ISA.amx.isSupported else {
      throw XCTSkip("this CPU (or OS) lacks amx_bf16: the tdpbf16ps kernel is tested on CPUs that have it")
    }
    let amxShapes: [(m: Int, n: Int, k: Int)] = [
      (1, 16, 32), (33, 48, 64), (17, 40, 288), (50, 80, 768), (16, 32, 512), (7, 24, 9),
      // Tile heights: 98 rows in 7 tiles of 14 (odd: the last block is one tile), 47 in 3 of 16 (the
      // last tile 15 rows), 63 in 4 of 16, 49 in 4 of 13 (52: 3 rows of padding), 147 in 10 of 15,
      // 196 in 13 of 16 (the last tile 4 rows), 30 in 2 of 15.
      (98, 64, 96), (47, 32, 64), (63, 16, 32), (49, 48, 64), (147, 40, 32), (196, 16, 64), (30, 33, 32),
    ]
    var identical = 0, total = 0
    for shape in amxShapes {
      var modelOutputs: [[Float]] = []
      check(shape, isa: .model, expected: { _, _, _, _, _ in nil }, collect: { modelOutputs.append($0) })
      var index = 0
      check(
        shape, isa: .amx,
        expected: { a, w, initial, beta, first in
          self.roundedProduct(shape, a, w, initial, beta, first)
        },
        collect: { outputs in
          identical += zip(outputs, modelOutputs[index]).filter { $0.bitPattern == $1.bitPattern }.count
          total += outputs.count
          index += 1
        })
    }
    print("PackedBF16Tests: AMX outputs bit-identical to the vdpbf16ps model: \(identical) of \(total)")
  }

  func testPreferredKernelForPrecision() throws {
    XCTAssertEqual(try BlockMatrixKernel.preferred(for: .f32), .preferred)
    if BF16ISA.avx512BF16.isSupported {
      XCTAssertEqual(
        try BlockMatrixKernel.preferred(for: .bf16), .packedBF16(BF16ISA.amx.isSupported ? .amx : .avx512BF16))
    } else {
      XCTAssertThrowsError(try BlockMatrixKernel.preferred(for: .bf16)) { error in
        XCTAssertEqual((error as? UnsupportedPrecisionError)?.missingFeature, "avx512_bf16")
        XCTAssertTrue("\(error)".contains("avx512_bf16"), "\(error)")
      }
    }
  }

  // MARK: Helpers

  private let shapes: [(m: Int, n: Int, k: Int)] = [
    (1, 16, 1), (5, 16, 7), (6, 32, 9), (13, 48, 33), (11, 40, 17), (13, 3, 5), (25, 96, 96),
    (12, 24, 256), (17, 64, 257), (9, 50, 600), (2, 16, 520),
    // Row tiles of the AVX-512 kernels (at most 10 rows): one full tile, then 10 of 9–10 rows.
    (10, 40, 300), (98, 33, 40),
  ]

  private func rounded(_ x: Float) -> Float { BFloat16Model.widen(BFloat16Model.round(x)) }

  /// `initial·beta + a · wᵀ` in Double over the bf16-rounded operands, columns `first...`.
  private func roundedProduct(
    _ shape: (m: Int, n: Int, k: Int), _ a: [Float], _ w: [Float], _ initial: [Float], _ beta: Float, _ first: Int
  ) -> [Float] {
    var expected = [Float]()
    for row in 0..<shape.m {
      for column in first..<shape.n {
        var sum = 0.0
        for i in 0..<shape.k {
          sum += Double(rounded(a[row * (shape.k + 3) + i])) * Double(rounded(w[column * shape.k + i]))
        }
        expected.append(Float((beta == 0 ? 0 : Double(initial[row * (shape.n + 5) + column])) + sum))
      }
    }
    return expected
  }

  /// Runs every (beta, first column) case of `shape`; compares with `expected` when it returns
  /// values, and hands the outputs to `collect`. Sentinels catch writes outside the range.
  private func check(
    _ shape: (m: Int, n: Int, k: Int), isa: BF16ISA, preRounded: Bool = false,
    expected: (_ a: [Float], _ w: [Float], _ initial: [Float], _ beta: Float, _ first: Int) -> [Float]?,
    collect: ([Float]) -> Void = { _ in }
  ) {
    let (m, n, k) = shape
    var g = SplitMix64(seed: UInt64(m * 1000 + n * 10 + k))
    let w = randomValues(n * k, using: &g)
    let packed = PackedBF16.pack(w, outputs: n, inner: k)
    let lda = k + 3, ldc = n + 5
    let a = randomValues(m * lda, using: &g)
    let initial = randomValues(m * ldc, using: &g)
    let sentinel: Float = -7777
    for beta: Float in [0, 1] {
      for first in stride(from: 0, to: n, by: PackedPanels.width) {
        var c = [Float](repeating: sentinel, count: m * ldc + 8)
        for row in 0..<m {
          for column in 0..<n { c[row * ldc + column] = initial[row * ldc + column] }
        }
        a.withUnsafeBufferPointer { a in
          packed.withUnsafeBufferPointer { p in
            c.withUnsafeMutableBufferPointer { c in
              if preRounded {
                // Rows 2 pairs wider than needed: the product must follow `ldr`.
                let ldr = (k + 1) / 2 + 2
                var pairs = [UInt32](repeating: 0xFFFF_FFFF, count: max(1, m * ldr))
                pairs.withUnsafeMutableBufferPointer { r in
                  roundRowsToBF16(rows: m, inner: k, a.baseAddress!, lda: lda, into: r.baseAddress!, ldr: ldr, isa: isa)
                  multiplyRoundedPanelsBF16(
                    rows: m, columns: n - first, inner: k, rounded: r.baseAddress!, ldr: ldr, packed: p.baseAddress!,
                    outputs: n, first: first, beta: beta, into: c.baseAddress! + first, ldc: ldc, isa: isa)
                }
              } else {
                multiplyPanelsBF16(
                  rows: m, columns: n - first, inner: k, a.baseAddress!, lda: lda, packed: p.baseAddress!, outputs: n,
                  first: first, beta: beta, into: c.baseAddress! + first, ldc: ldc, isa: isa)
              }
            }
          }
        }
        var actual: [Float] = []
        for row in 0..<m {
          actual += c[(row * ldc + first)..<(row * ldc + n)]
          XCTAssertTrue(c[(row * ldc)..<(row * ldc + first)].elementsEqual(initial[(row * ldc)..<(row * ldc + first)]))
          XCTAssertTrue(
            c[(row * ldc + n)..<min(c.count, row * ldc + ldc)].allSatisfy { $0 == sentinel }, "padding written")
        }
        XCTAssertTrue(c[(m * ldc)...].allSatisfy { $0 == sentinel }, "\(shape): wrote past the output")
        collect(actual)
        if let expected = expected(a, w, initial, beta, first) {
          let result = compare(
            actual, expected, atol: 1e-5, rtol: 1e-5, label: "\(isa) m \(m) n \(n) k \(k) first \(first) beta \(beta)")
          XCTAssertTrue(result.passed, result.description)
        }
      }
    }
  }
}
