// Stem, merge, pooling and linear against naive loops; BLAS wrapper edge cases.
import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import Engine

final class PatchOpsTests: XCTestCase {
  func testEmbedPatchesMatchesConvolution() throws {
    let (batch, height, width, channels, patch) = (2, 19, 26, 10, 4)
    let images = randomTensor([batch, 3, height, width], seed: 1)
    let weight = randomTensor([channels, 3, patch, patch], in: -0.3...0.3, seed: 2)
    let bias = randomTensor([channels], seed: 3)
    let norm = try LayerNormWeights(
      weight: randomTensor([channels], in: 0.5...1.5, seed: 4), bias: randomTensor([channels], seed: 5),
      channels: channels, name: "n")
    let oh = height / patch, ow = width / patch
    var conv = Tensor(shape: [batch, oh, ow, channels])
    for n in 0..<batch {
      for i in 0..<oh {
        for j in 0..<ow {
          for o in 0..<channels {
            var sum = Double(bias.values[o])
            for c in 0..<3 {
              for kh in 0..<patch {
                for kw in 0..<patch {
                  sum += Double(weight[o, c, kh, kw]) * Double(images[n, c, i * patch + kh, j * patch + kw])
                }
              }
            }
            conv.values[((n * oh + i) * ow + j) * channels + o] = Float(sum)
          }
        }
      }
    }
    let expected = layerNorm(conv, norm)
    // Every f32 kernel this CPU runs (the stem stays f32 in bf16 precision).
    let kernels = BlockMatrixKernel.supported.filter { $0.precision == .f32 }
    XCTAssertTrue(kernels.contains(.openBLAS))
    for kernel in kernels {
      let weights = try PatchEmbedWeights(weight: weight, bias: bias, norm: norm, name: "patch_embed", kernel: kernel)
      for threads in [1, 3] {
        var output = Tensor(shape: [batch, oh, ow, channels])
        // With several workers the stem also writes the window scores' activity (nil: it does not).
        var activity = [Float](repeating: .nan, count: batch * oh * ow)
        let scratch = RowScratch(workers: threads, floatsPerWorker: weights.scratchFloats)
        if threads > 1 {
          embedPatches(images, weights: weights, into: &output, activity: &activity, scratch: scratch, threads: threads)
        } else {
          embedPatches(images, weights: weights, into: &output, scratch: scratch, threads: threads)
        }
        let result = compare(
          output.values, expected.values, atol: 2e-5, rtol: 2e-5, label: "stem \(kernel) threads \(threads)")
        XCTAssertTrue(result.passed, result.description)
        checkActivity(activity, of: output, written: threads > 1)
      }
    }
  }

  func testMergePatchesPadsOddSidesAndOrdersChannels() throws {
    // 4·6 = 24 inner values run AMX's fallback; 4·8 = 32 run the AMX tiles themselves.
    for channels in [6, 8] { try checkMerge(channels: channels) }
  }

  /// Every kernel this CPU runs against the loops (the others are named as skipped). bf16 kernels
  /// are compared with the loops on bf16-rounded operands: the products are exact in f32, so only
  /// the order of the f32 sums differs.
  private func checkMerge(channels: Int) throws {
    let (batch, height, width, outChannels) = (2, 7, 10, 11)
    let x = randomTensor([batch, height, width, channels], seed: 6)
    let norm = try LayerNormWeights(
      weight: randomTensor([4 * channels], in: 0.5...1.5, seed: 7), bias: randomTensor([4 * channels], seed: 8),
      channels: 4 * channels, name: "n")
    let reduction = randomTensor([outChannels, 4 * channels], in: -0.3...0.3, seed: 9)
    let oh = (height + 1) / 2, ow = (width + 1) / 2
    // timm: pad, reshape (B, H/2, 2, W/2, 2, C), permute (0,1,3,4,2,5) → channel (dw·2 + dh)·C + c.
    var gathered = Tensor(shape: [batch, oh, ow, 4 * channels])
    for n in 0..<batch {
      for i in 0..<oh {
        for j in 0..<ow {
          for dw in 0..<2 {
            for dh in 0..<2 {
              for c in 0..<channels {
                let h = 2 * i + dh, w = 2 * j + dw
                let value = h < height && w < width ? x[n, h, w, c] : 0
                gathered.values[((n * oh + i) * ow + j) * 4 * channels + (dw * 2 + dh) * channels + c] = value
              }
            }
          }
        }
      }
    }
    let normed = layerNorm(gathered, norm).reshaped([batch * oh * ow, 4 * channels])
    func product(_ a: Tensor, _ w: Tensor) -> Tensor {
      var y = Tensor(shape: [batch * oh * ow, outChannels])
      linear(a, weight: w, bias: nil, into: &y)
      return y
    }
    func rounded(_ t: Tensor) -> Tensor {
      Tensor(shape: t.shape, values: t.values.map { Float(bitPattern: UInt32(BFloat16Model.round($0)) << 16) })
    }
    let exact = product(normed, reduction), bf16 = product(rounded(normed), rounded(reduction))
    for isa in PanelISA.allCases where !isa.isSupported { print("merge: skipping the \(isa) kernel (not on this CPU)") }
    for isa in BF16ISA.allCases where !isa.isSupported { print("merge: skipping the \(isa) kernel (not on this CPU)") }
    for kernel in BlockMatrixKernel.supported {
      let weights = try PatchMergeWeights(
        inputChannels: channels, norm: norm, reduction: reduction, name: "downsample", kernel: kernel)
      let expected = kernel.precision == .bf16 ? bf16 : exact
      for threads in [1, 2] {
        var output = Tensor(shape: [batch, oh, ow, outChannels])
        let scratch = RowScratch(workers: threads, floatsPerWorker: weights.scratchFloats)
        var activity = [Float](repeating: .nan, count: batch * oh * ow)
        if threads > 1 {
          mergePatches(x, weights: weights, into: &output, activity: &activity, scratch: scratch, threads: threads)
        } else {
          mergePatches(x, weights: weights, into: &output, scratch: scratch, threads: threads)
        }
        let label = "merge C=\(channels) \(kernel) threads \(threads)"
        let result = compare(output.values, expected.values, atol: 1e-5, rtol: 1e-5, label: label)
        XCTAssertTrue(result.passed, result.description)
        checkActivity(activity, of: output, written: threads > 1)
      }
    }
  }

  /// `activity` is `meanAbsoluteActivation` of `output`, bit for bit, when `written`; untouched (NaN)
  /// otherwise.
  private func checkActivity(_ activity: [Float], of output: Tensor, written: Bool, line: UInt = #line) {
    guard written else {
      XCTAssertTrue(activity.allSatisfy(\.isNaN), "activity written without a buffer", line: line)
      return
    }
    var expected = [Float](repeating: 0, count: activity.count)
    meanAbsoluteActivation(output, into: &expected)
    XCTAssertEqual(activity.map(\.bitPattern), expected.map(\.bitPattern), "fused activity", line: line)
  }

  /// Chunk plans: every worker gets one even for the last merge at 224 (49 rows), up to four per
  /// worker when they stay thick enough, never more than `rowChunk` rows; the claimed chunks cover
  /// every row exactly once, whichever worker claims them.
  func testStemAndMergeChunksCoverEveryRowOnce() {
    XCTAssertEqual(chunkCount(rows: 49, threads: 2), 2)
    XCTAssertEqual(chunkCount(rows: 196, threads: 2), 3)
    XCTAssertEqual(chunkCount(rows: 784, threads: 2), 8)
    XCTAssertEqual(chunkCount(rows: 3, threads: 8), 3)
    XCTAssertEqual(chunkCount(rows: 28224, threads: 2), 111)
    XCTAssertEqual(chunkCount(rows: 1, threads: 1), 1)
    for (rows, threads) in [(49, 2), (196, 2), (784, 2), (3, 8), (1000, 3), (28224, 2), (5, 1)] {
      let chunks = chunkCount(rows: rows, threads: threads)
      XCTAssertGreaterThanOrEqual(chunks, min(rows, threads), "rows \(rows) threads \(threads)")
      let scratch = RowScratch(workers: threads, floatsPerWorker: 1)
      scratch.nextChunk.store(0, ordering: .relaxed)
      var covered = [Int](repeating: 0, count: rows)
      var claimed = 0
      scratch.forEachClaimedChunk(rows: rows, chunks: chunks) { first, count in
        XCTAssertLessThanOrEqual(count, rowChunk)
        XCTAssertGreaterThan(count, 0)
        for row in first..<(first + count) { covered[row] += 1 }
        claimed += 1
      }
      XCTAssertEqual(claimed, chunks)
      XCTAssertEqual(covered, [Int](repeating: 1, count: rows), "rows \(rows) threads \(threads)")
    }
  }

  func testMeanAbsoluteRowsCopiesAgreeBitForBit() {
    for isa in VectorISA.allCases where !isa.isSupported {
      print("PatchOpsTests: skipping the \(isa) copy of mean |x|")
    }
    for channels in [1, 7, 8, 15, 16, 17, 31, 96, 100, 768] {
      let x = randomTensor([5, channels], in: -3...3, seed: UInt64(channels)).values
      let expected = (0..<5).map { r in
        (0..<channels).reduce(Float(0)) { $0 + abs(x[r * channels + $1]) } / Float(channels)
      }
      var swift = [Float](repeating: .nan, count: 5)
      meanAbsoluteRowsSwift(x, rows: 5, channels: channels, into: &swift)
      for isa in VectorISA.allCases where isa.isSupported {
        var out = [Float](repeating: .nan, count: 5)
        meanAbsoluteRows(x, rows: 5, channels: channels, into: &out, isa: isa)
        XCTAssertEqual(out.map(\.bitPattern), swift.map(\.bitPattern), "\(isa), \(channels) channels")
        for r in 0..<5 { XCTAssertEqual(out[r], expected[r], accuracy: 1e-5, "\(isa), \(channels) channels") }
      }
    }
  }

  func testMeanAbsoluteActivationSplitsOverWorkers() {
    let x = randomTensor([1, 48, 50, 21], in: -2...2, seed: 17)  // 2400 pixels: 2 parts
    var one = [Float](repeating: 0, count: 2400), two = one
    meanAbsoluteActivation(x, into: &one)
    meanAbsoluteActivation(x, into: &two, threads: 2)
    XCTAssertEqual(one.map(\.bitPattern), two.map(\.bitPattern))
    for p in stride(from: 0, to: 2400, by: 37) {
      let expected = (0..<21).reduce(Float(0)) { $0 + abs(x.values[p * 21 + $1]) } / 21
      XCTAssertEqual(one[p], expected, accuracy: 1e-6)
    }
  }

  func testLinearAndPoolAgainstLoops() throws {
    let x = randomTensor([3, 5], seed: 10), w = randomTensor([4, 5], seed: 11), b = randomTensor([4], seed: 12)
    var y = Tensor(shape: [3, 4])
    linear(x, weight: w, bias: b, into: &y)
    var expected: [Float] = []
    for r in 0..<3 {
      for o in 0..<4 {
        expected.append(Float((0..<5).reduce(Double(b.values[o])) { $0 + Double(x[r, $1]) * Double(w[o, $1]) }))
      }
    }
    XCTAssertTrue(compare(y.values, expected, atol: 1e-6, rtol: 1e-6, label: "linear").passed)

    let map = randomTensor([2, 3, 4, 8], seed: 13)
    let norm = try LayerNormWeights(
      weight: randomTensor([8], seed: 14), bias: randomTensor([8], seed: 15), channels: 8, name: "norm")
    var pooled = Tensor(shape: [2, 8])
    normalizedAveragePool(map, norm: norm, into: &pooled, scratch: RowScratch(workers: 1, floatsPerWorker: 8))
    let normed = layerNorm(map, norm)
    var mean = [Float](repeating: 0, count: 16)
    for n in 0..<2 {
      for c in 0..<8 { mean[n * 8 + c] = (0..<12).reduce(Float(0)) { $0 + normed.values[(n * 12 + $1) * 8 + c] } / 12 }
    }
    XCTAssertTrue(compare(pooled.values, mean, atol: 1e-6, rtol: 1e-5, label: "pool").passed)
  }

  func testClassifierHeadMatchesLinearOnEveryF32Kernel() {
    for (classes, features, batch) in [(1000, 64, 2), (300, 40, 1), (37, 24, 3)] {
      let weight = randomTensor([classes, features], in: -0.3...0.3, seed: 20)
      let bias = randomTensor([classes], seed: 21), pooled = randomTensor([batch, features], seed: 22)
      var expected = Tensor(shape: [batch, classes])
      linear(pooled, weight: weight, bias: bias, into: &expected)
      for kernel in BlockMatrixKernel.supported where kernel.precision == .f32 {
        let head = ClassifierHead(weight: weight, bias: bias, kernel: kernel)
        for threads in [1, 2, 3] {
          var logits = Tensor(shape: [batch, classes], values: [Float](repeating: .nan, count: batch * classes))
          head.run(pooled, into: &logits, threads: threads)
          let label = "head \(classes)x\(features) \(kernel) threads \(threads)"
          let result = compare(logits.values, expected.values, atol: 1e-5, rtol: 1e-5, label: label)
          XCTAssertTrue(result.passed, result.description)
        }
      }
    }
  }

  func testMultiplyTransposedWithEmptyInner() {
    var c: [Float] = [1, 2, 3, 4]
    let a: [Float] = [], b: [Float] = []
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { c in
          let dummy = UnsafePointer<Float>(c.baseAddress!)
          BLAS.multiplyTransposed(
            rows: 2, columns: 2, inner: 0, a.baseAddress ?? dummy, lda: 1, b.baseAddress ?? dummy, ldb: 1, beta: 0.5,
            into: c.baseAddress!, ldc: 2)
        }
      }
    }
    XCTAssertEqual(c, [0.5, 1, 1.5, 2])
  }

  func testWindowScoresAreL2OfMeanAbsoluteOnTheRolledPaddedMap() {
    let x = randomTensor([2, 9, 13, 5], in: -2...2, seed: 16)
    var activity = [Float](repeating: 0, count: 2 * 9 * 13)
    meanAbsoluteActivation(x, into: &activity)
    for p in 0..<(2 * 9 * 13) {
      let expected = (0..<5).reduce(Float(0)) { $0 + abs(x.values[p * 5 + $1]) } / 5
      XCTAssertEqual(activity[p], expected, accuracy: 1e-6)
    }
    let grid = WindowGrid(height: 9, width: 13, window: 7, shifted: true)
    var scores = [Double](repeating: 0, count: 2 * grid.windowCount)
    windowScores(activity, batch: 2, grid: grid, into: &scores)
    for image in 0..<2 {
      for window in 0..<grid.windowCount {
        var sum = 0.0
        for token in 0..<grid.windowTokens {
          if let p = grid.sourcePixel(window: window, token: token) { sum += pow(Double(activity[image * 117 + p]), 2) }
        }
        XCTAssertEqual(scores[image * grid.windowCount + window], sum.squareRoot(), accuracy: 1e-12)
      }
    }
  }
}

/// The reference linear layer on OpenBLAS `sgemm`, `y = x · Wᵀ + b` over rows: `x [rows, in]`, `weight [out, in]`, `bias [out]`.
func linear(_ input: Tensor, weight: Tensor, bias: Tensor?, into output: inout Tensor) {
  let rows = input.shape[0], inner = input.shape[1], outputs = weight.shape[0]
  precondition(
    input.rank == 2 && weight.hasShape(outputs, inner) && output.hasShape(rows, outputs)
      && (bias == nil || bias!.hasShape(outputs)),
    "linear: input \(input.shape), weight \(weight.shape), output \(output.shape)")
  input.values.withUnsafeBufferPointer { x in
    weight.values.withUnsafeBufferPointer { w in
      output.values.withUnsafeMutableBufferPointer { y in
        if let bias {
          for r in 0..<rows { (y.baseAddress! + r * outputs).update(from: bias.values, count: outputs) }
        }
        BLAS.multiplyTransposed(
          rows: rows, columns: outputs, inner: inner, x.baseAddress!, lda: max(inner, 1),
          w.baseAddress!, ldb: max(inner, 1), beta: bias == nil ? 0 : 1, into: y.baseAddress!, ldc: max(outputs, 1))
      }
    }
  }
}
