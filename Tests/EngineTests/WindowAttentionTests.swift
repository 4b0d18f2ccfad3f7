// The window-attention kernel against a naive double-precision softmax(q·kᵀ + bias)·v per head, on
// the real Swin shape and on odd ones that reach every register-block edge (rows not a multiple of
// 6, head dims with 16-, 8- and partial column blocks), with sentinels around every output row.
import Foundation
import TestSupport
import XCTest

@testable import Engine

final class WindowAttentionTests: XCTestCase {
  /// Seeded rows `[tokens, rowStride]` holding q, k, v at columns 0, `channels` and `2·channels`,
  /// their biases and an attention bias laid out as `WindowAttentionBias` does (padding columns −1e30).
  struct Head {
    let tokens, headDim, channels, rowStride, padded, outputStride: Int
    let rows, biases, bias: [Float]
    static let sentinel: Float = 1234.5

    init(tokens: Int, headDim: Int, seed: UInt64, scale: Float = 1.5) {
      self.tokens = tokens
      self.headDim = headDim
      channels = headDim + 3  // the head's columns do not start the rows' other heads
      rowStride = 3 * channels + 5
      padded = (tokens + 7) / 8 * 8
      outputStride = headDim + 7
      var random = SplitMix64(seed: seed)
      rows = randomValues(tokens * rowStride, in: -scale...scale, using: &random)
      biases = randomValues(3 * headDim, in: -0.5...0.5, using: &random)
      var bias = [Float](repeating: -1e30, count: tokens * padded)
      for i in 0..<tokens {
        for j in 0..<tokens { bias[i * padded + j] = Float.random(in: -2...2, using: &random) }
      }
      self.bias = bias
    }

    /// `attendWindowHead` with `isa` (and `bf16` products) into rows `1...tokens` of
    /// `[tokens + 1, outputStride]` sentinels.
    func attend(isa: VectorISA, bf16: BF16ISA? = nil) -> [Float] {
      var output = [Float](repeating: Self.sentinel, count: (tokens + 1) * outputStride)
      var scratch = [Float](
        repeating: .nan, count: WindowAttentionBias.scratchFloats(tokens: tokens, headDim: headDim))
      rows.withUnsafeBufferPointer { r in
        biases.withUnsafeBufferPointer { b in
          scratch.withUnsafeMutableBufferPointer { s in
            output.withUnsafeMutableBufferPointer { o in
              let base = r.baseAddress!
              attendWindowHead(
                query: base, key: base + channels, value: base + 2 * channels, rowStride: rowStride,
                queryBias: b.baseAddress!, keyBias: b.baseAddress! + headDim, valueBias: b.baseAddress! + 2 * headDim,
                tokens: tokens, paddedTokens: padded, headDim: headDim, bias: bias,
                scratch: s.baseAddress!, into: o.baseAddress! + outputStride, outputStride: outputStride,
                isa: isa, bf16: bf16)
            }
          }
        }
      }
      return output
    }
  }

  /// Runs `attendWindowHead` on a seeded `Head` and compares with the Double reference.
  func check(
    tokens: Int, headDim: Int, seed: UInt64, isa: VectorISA, file: StaticString = #filePath, line: UInt = #line
  ) {
    let head = Head(tokens: tokens, headDim: headDim, seed: seed)
    let (channels, rowStride, padded, outputStride) = (head.channels, head.rowStride, head.padded, head.outputStride)
    let (rows, biases, bias) = (head.rows, head.biases, head.bias)
    let output = head.attend(isa: isa)

    var expected = [Float](repeating: Head.sentinel, count: output.count)
    for i in 0..<tokens {
      var logits = [Double](repeating: 0, count: tokens)
      for j in 0..<tokens {
        var dot = Double(bias[i * padded + j])
        for d in 0..<headDim {
          let q = Double(rows[i * rowStride + d]) + Double(biases[d])
          let k = Double(rows[j * rowStride + channels + d]) + Double(biases[headDim + d])
          dot += q * k
        }
        logits[j] = dot
      }
      let top = logits.max()!
      let weights = logits.map { Foundation.exp($0 - top) }
      let sum = weights.reduce(0, +)
      for d in 0..<headDim {
        var value = 0.0
        for j in 0..<tokens {
          value += weights[j] / sum * (Double(rows[j * rowStride + 2 * channels + d]) + Double(biases[2 * headDim + d]))
        }
        expected[(i + 1) * outputStride + d] = Float(value)
      }
    }
    let result = compare(output, expected, atol: 2e-6, rtol: 2e-5, label: "attention \(isa) n=\(tokens) d=\(headDim)")
    XCTAssert(result.passed, result.description, file: file, line: line)
  }

  /// The kernels this CPU runs; the others are named as skipped.
  func supportedISAs() -> [VectorISA] {
    for isa in VectorISA.allCases where !isa.isSupported {
      let feature = isa == .avx512 ? "avx512f/bw/vl" : "avx2+fma"
      print("WindowAttentionTests: skipping the \(isa) kernel: this CPU lacks \(feature)")
    }
    return VectorISA.allCases.filter(\.isSupported)
  }

  func testSwinShape() {
    for isa in supportedISAs() { check(tokens: 49, headDim: 32, seed: 1, isa: isa) }
  }

  func testEveryBlockEdge() {
    // tokens: one 6-row block short, partial 16- and 8-column score blocks, a single token;
    // headDim: 16-column blocks only, then an 8-column block, then 1–7 leftover columns.
    for isa in supportedISAs() {
      for tokens in [1, 5, 6, 7, 9, 16, 25, 49, 50] {
        for headDim in [1, 3, 8, 12, 16, 20, 24, 32, 40] {
          check(tokens: tokens, headDim: headDim, seed: UInt64(tokens * 100 + headDim), isa: isa)
        }
      }
    }
  }

  /// The C kernel gives the same bits as the Swift one built with FMA (`-DSPARSEVIT_FMA`, as
  /// scripts/build.sh builds): same blocks, summation order and exp polynomial.
  func testCKernelMatchesFusedSwiftBits() throws {
    try XCTSkipUnless(VectorISA.avx2.isSupported, "this CPU lacks AVX2+FMA: only the Swift kernel runs")
    #if SPARSEVIT_FMA
      let fused = true
    #else
      let fused = false
    #endif
    try XCTSkipUnless(fused, "no -DSPARSEVIT_FMA: the Swift kernel is unfused; both met the Double reference")
    let tokens = 49, headDim = 32, padded = 56, stride = 3 * headDim
    var random = SplitMix64(seed: 7)
    let rows = randomValues(tokens * stride, in: -3...3, using: &random)
    let biases = randomValues(3 * headDim, in: -0.5...0.5, using: &random)
    var bias = [Float](repeating: -1e30, count: tokens * padded)
    for i in 0..<tokens {
      for j in 0..<tokens { bias[i * padded + j] = Float.random(in: -4...4, using: &random) }
    }
    func run(_ isa: VectorISA) -> [Float] {
      var output = [Float](repeating: 0, count: tokens * headDim)
      var scratch = [Float](repeating: 0, count: WindowAttentionBias.scratchFloats(tokens: tokens, headDim: headDim))
      attendWindowHead(
        query: rows, key: Array(rows[headDim...]), value: Array(rows[(2 * headDim)...]), rowStride: stride,
        queryBias: biases, keyBias: Array(biases[headDim...]), valueBias: Array(biases[(2 * headDim)...]),
        tokens: tokens, paddedTokens: padded, headDim: headDim, bias: bias,
        scratch: &scratch, into: &output, outputStride: headDim, isa: isa)
      return output
    }
    XCTAssertEqual(run(.avx2), run(.swift), "the C kernel and the fused Swift kernel differ")
  }

  /// The AVX-512 kernel gives the AVX2 kernel's bits (same summation order per element, same softmax
  /// reductions and exp polynomial) on every tile edge: row counts not a multiple of 10 (products) or
  /// 4 (softmax), score rows of 8 … 144 columns, head dims with partial 16- and 32-column chunks, and
  /// score spreads past exp8's lower clamp.
  func testAVX512MatchesAVX2Bits() throws {
    guard VectorISA.avx512.isSupported else {
      print("WindowAttentionTests: skipping the avx512-vs-avx2 bit test: this CPU lacks avx512f/bw/vl")
      throw XCTSkip("this CPU lacks avx512f/bw/vl")
    }
    assertSameBits(
      "avx512 vs avx2", tokens: [1, 2, 7, 12, 13, 16, 17, 24, 25, 49, 50, 64, 144],
      headDims: [1, 8, 15, 16, 17, 24, 32, 33, 40, 48, 64], { $0.attend(isa: .avx512) }, { $0.attend(isa: .avx2) })
  }

  /// Asserts that `first` and `second` give the same bits on the seeded head of every token count,
  /// head dim and score scale (1.5 and 6, past exp's lower clamp).
  func assertSameBits(
    _ label: String, tokens: [Int], headDims: [Int], _ first: (Head) -> [Float], _ second: (Head) -> [Float],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    for tokens in tokens {
      for headDim in headDims {
        for scale: Float in [1.5, 6] {
          let head = Head(tokens: tokens, headDim: headDim, seed: UInt64(tokens * 1000 + headDim), scale: scale)
          let differing = zip(first(head), second(head)).filter { $0.bitPattern != $1.bitPattern }.count
          XCTAssertEqual(
            differing, 0, "\(label): \(differing) floats differ at n=\(tokens) d=\(headDim) scale=\(scale)",
            file: file, line: line)
        }
      }
    }
  }

  // MARK: bf16 products

  /// The bf16 attention's scalar model against a Double softmax(q̃·k̃ᵀ + bias)·ṽ over the bf16-rounded
  /// queries, keys and values (any CPU). What is left is the rounding of the softmax numerators to
  /// bf16, at most 2⁻⁸ of each, hence at most 2⁻⁸·max|ṽ| per output, and f32 sums; a pairing or
  /// layout slip costs the size of the values themselves.
  func testBF16ModelMatchesRoundedReference() {
    func rounded(_ x: Float) -> Double { Double(BFloat16Model.widen(BFloat16Model.round(x))) }
    for (tokens, headDim) in [(49, 32), (1, 1), (7, 15), (13, 17), (16, 16), (25, 33), (50, 40), (64, 64)] {
      let head = Head(tokens: tokens, headDim: headDim, seed: UInt64(7 * tokens + headDim))
      let (channels, rowStride, padded, outputStride) = (head.channels, head.rowStride, head.padded, head.outputStride)
      let output = head.attend(isa: .widest, bf16: .model)
      var expected = [Float](repeating: Head.sentinel, count: output.count)
      var largestValue = 0.0
      for i in 0..<tokens {
        var logits = [Double](repeating: 0, count: tokens)
        for j in 0..<tokens {
          var dot = Double(head.bias[i * padded + j])
          for d in 0..<headDim {
            dot +=
              rounded(head.rows[i * rowStride + d] + head.biases[d])
              * rounded(head.rows[j * rowStride + channels + d] + head.biases[headDim + d])
          }
          logits[j] = dot
        }
        let top = logits.max()!
        let weights = logits.map { Foundation.exp($0 - top) }
        let sum = weights.reduce(0, +)
        for d in 0..<headDim {
          var value = 0.0
          for j in 0..<tokens {
            let v = rounded(head.rows[j * rowStride + 2 * channels + d])
            largestValue = max(largestValue, abs(v))
            value += weights[j] / sum * v
          }
          expected[(i + 1) * outputStride + d] = Float(value + Double(head.biases[2 * headDim + d]))
        }
      }
      let tolerance = largestValue / 256 + 1e-4
      let result = compare(output, expected, atol: tolerance, rtol: 0, label: "bf16 model n=\(tokens) d=\(headDim)")
      XCTAssert(result.passed, result.description)
    }
  }

  /// The AVX512_BF16 kernels give the scalar model's bits on every tile edge: row counts around the
  /// 10-row tiles, score rows of 8 … 64 columns (partial 16- and 32-lane chunks), head dims odd and
  /// even, partial and over 32, odd token counts (a padding pair), and spreads past exp's clamp.
  func testBF16KernelMatchesModelBits() throws {
    guard BF16ISA.avx512BF16.isSupported else {
      print("WindowAttentionTests: skipping the vdpbf16ps attention test: this CPU lacks avx512_bf16")
      throw XCTSkip("this CPU lacks avx512_bf16")
    }
    assertSameBits(
      "vdpbf16ps vs model", tokens: [1, 2, 7, 10, 11, 13, 16, 17, 21, 25, 49, 50, 64],
      headDims: [1, 2, 8, 15, 16, 17, 24, 32, 33, 40, 64], { $0.attend(isa: .avx512, bf16: .avx512BF16) },
      { $0.attend(isa: .avx512, bf16: .model) })
  }
}
