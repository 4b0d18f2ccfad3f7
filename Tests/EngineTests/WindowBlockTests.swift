// The fused window block against a naive double-precision Swin block written from the timm code
// (roll, pad after LN1, partition, attention with relative bias and region mask, MLP), on odd and
// real shapes, every thread count, dense and with window subsets; plus the exact invariants.
import Foundation
import TestSupport
import XCTest

@testable import Engine

/// Random weights of one block, kept both as tensors (for the engine) and as doubles (for the naive
/// reference).
struct RandomBlock {
  let channels: Int, heads: Int, hidden: Int, window: Int
  let tensors: [String: Tensor]
  let table: [Float]

  init(channels: Int, heads: Int, hidden: Int, window: Int = 7, seed: UInt64) {
    self.channels = channels
    self.heads = heads
    self.hidden = hidden
    self.window = window
    var g = SplitMix64(seed: seed)
    func tensor(_ shape: [Int], _ range: ClosedRange<Float>, shift: Float = 0) -> Tensor {
      Tensor(shape: shape, values: randomValues(shape.reduce(1, *), in: range, using: &g).map { $0 + shift })
    }
    let scale = 1 / Float(channels).squareRoot()
    tensors = [
      "norm1.weight": tensor([channels], -0.3...0.3, shift: 1), "norm1.bias": tensor([channels], -0.2...0.2),
      "qkv.weight": tensor([3 * channels, channels], -scale...scale), "qkv.bias": tensor([3 * channels], -0.2...0.2),
      "proj.weight": tensor([channels, channels], -scale...scale), "proj.bias": tensor([channels], -0.2...0.2),
      "norm2.weight": tensor([channels], -0.3...0.3, shift: 1), "norm2.bias": tensor([channels], -0.2...0.2),
      "fc1.weight": tensor([hidden, channels], -scale...scale), "fc1.bias": tensor([hidden], -0.2...0.2),
      "fc2.weight": tensor([channels, hidden], -scale...scale), "fc2.bias": tensor([channels], -0.2...0.2),
    ]
    let side = 2 * window - 1
    table = randomValues(side * side * heads, in: -1...1, using: &g)
  }

  func weights(kernel: BlockMatrixKernel) throws -> WindowBlockWeights {
    let t = tensors
    return try WindowBlockWeights(
      channels: channels, heads: heads,
      norm1: LayerNormWeights(weight: t["norm1.weight"]!, bias: t["norm1.bias"]!, channels: channels, name: "norm1"),
      qkvWeight: t["qkv.weight"]!, qkvBias: t["qkv.bias"]!, projWeight: t["proj.weight"]!, projBias: t["proj.bias"]!,
      norm2: LayerNormWeights(weight: t["norm2.weight"]!, bias: t["norm2.bias"]!, channels: channels, name: "norm2"),
      fc1Weight: t["fc1.weight"]!, fc1Bias: t["fc1.bias"]!, fc2Weight: t["fc2.weight"]!, fc2Bias: t["fc2.bias"]!,
      name: "block", kernel: kernel)
  }

  /// The table for a clamped window: the sub-table of offsets the smaller window can have
  /// (the tests of the block use this; the model resizes tables as timm does).
  func table(for grid: WindowGrid) -> [Float] {
    let side = 2 * window - 1
    let h = 2 * grid.windowHeight - 1, w = 2 * grid.windowWidth - 1
    var result = [Float](repeating: 0, count: h * w * heads)
    for dy in 0..<h {
      for dx in 0..<w {
        let source = (dy - (grid.windowHeight - 1) + window - 1) * side + (dx - (grid.windowWidth - 1) + window - 1)
        for head in 0..<heads { result[(dy * w + dx) * heads + head] = table[source * heads + head] }
      }
    }
    return result
  }

  /// Naive block in double precision on `x [batch, H, W, C]`, only on `kept` window ids (nil: all), in
  /// `semantics` (SPARSEVIT.md's table): timm clamps and rolls the map before padding it; the others
  /// pad to a whole window, then roll the padded map; mmdet and SparseViT shift one-window axes too;
  /// SparseViT's padded tokens are zeros before LN1.
  func reference(
    _ x: [Float], batch: Int, height: Int, width: Int, shifted: Bool, kept: Set<Int>?,
    semantics: WindowSemantics = .timm
  ) -> [Float] {
    let c = channels, t = tensors.mapValues { $0.values.map(Double.init) }
    let timm = semantics == .timm, shiftAlways = semantics == .mmdet || semantics == .sparsevit
    let wh = timm && height <= window ? height : window, ww = timm && width <= window ? width : window
    let hp = (height + wh - 1) / wh * wh, wp = (width + ww - 1) / ww * ww
    let sh = shifted && (shiftAlways || hp > wh) ? window / 2 : 0
    let sw = shifted && (shiftAlways || wp > ww) ? window / 2 : 0
    let down = hp / wh, across = wp / ww, windows = down * across, n = wh * ww
    let headDim = c / heads, scale = 1 / Double(headDim).squareRoot()
    let tableTokens = table(
      for: WindowGrid(height: height, width: width, window: window, shifted: shifted, semantics: semantics)
    ).map(Double.init)
    func layerNorm(_ v: [Double], _ prefix: String) -> [Double] {
      let mean = v.reduce(0, +) / Double(v.count)
      let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count)
      return v.indices.map {
        (v[$0] - mean) / (variance + 1e-5).squareRoot() * t[prefix + ".weight"]![$0] + t[prefix + ".bias"]![$0]
      }
    }
    func linear(_ v: [Double], _ prefix: String, outputs: Int) -> [Double] {
      let w = t[prefix + ".weight"]!, b = t[prefix + ".bias"]!
      return (0..<outputs).map { o in b[o] + v.indices.reduce(0) { $0 + w[o * v.count + $1] * v[$1] } }
    }
    // Region labels of the padded map, exactly like timm's slices (0,-w), (-w,-s), (-s,None).
    func region(_ i: Int, _ size: Int, _ w: Int, _ s: Int) -> Int {
      var label = 0
      if i < size - w { label = 0 }
      if s > 0 && i >= size - w && i < size - s { label = 1 }
      if i >= size - s { label = 2 }
      return label
    }
    var out = x.map(Double.init)
    for b in 0..<batch {
      func pixel(_ h: Int, _ w: Int) -> Int { ((b * height + h) * width + w) * c }
      let normed: [[Double]] = (0..<(height * width)).map { p in
        layerNorm(Array(out[(b * height * width + p) * c..<(b * height * width + p + 1) * c]), "norm1")
      }
      var updated = out
      for window in 0..<windows where kept?.contains(b * windows + window) ?? true {
        let wy = window / across, wx = window % across
        var tokens: [[Double]] = []
        var sources: [Int?] = []
        var labels: [Int] = []
        for i in 0..<wh {
          for j in 0..<ww {
            let r = wy * wh + i, q = wx * ww + j
            labels.append(region(r, hp, wh, sh) * 3 + region(q, wp, ww, sw))
            // timm: rows past the map are padding added after the roll; the others roll the
            // padded map, so padding can land anywhere.
            let h = timm ? (r + sh) % height : (r + sh) % hp, w = timm ? (q + sw) % width : (q + sw) % wp
            if (!timm || (r < height && q < width)) && h < height && w < width {
              tokens.append(normed[h * width + w])
              sources.append(pixel(h, w))
            } else {
              let zero = [Double](repeating: 0, count: c)
              tokens.append(semantics == .sparsevit ? layerNorm(zero, "norm1") : zero)
              sources.append(nil)
            }
          }
        }
        let qkv = tokens.map { linear($0, "qkv", outputs: 3 * c) }
        var attended = [[Double]](repeating: [Double](repeating: 0, count: c), count: n)
        for head in 0..<heads {
          for i in 0..<n {
            var logits = [Double](repeating: 0, count: n)
            for j in 0..<n {
              var dot = 0.0
              for d in 0..<headDim { dot += qkv[i][head * headDim + d] * scale * qkv[j][c + head * headDim + d] }
              let index = (i / ww - j / ww + wh - 1) * (2 * ww - 1) + (i % ww - j % ww + ww - 1)
              logits[j] = dot + tableTokens[index * heads + head] + (labels[i] == labels[j] ? 0 : -100)
            }
            let top = logits.max()!
            let e = logits.map { exp($0 - top) }
            let sum = e.reduce(0, +)
            for d in 0..<headDim {
              attended[i][head * headDim + d] = (0..<n).reduce(0) {
                $0 + e[$1] / sum * qkv[$1][2 * c + head * headDim + d]
              }
            }
          }
        }
        for i in 0..<n {
          guard let source = sources[i] else { continue }
          let projected = linear(attended[i], "proj", outputs: c)
          var y = (0..<c).map { out[source + $0] + projected[$0] }
          let h1 = linear(layerNorm(y, "norm2"), "fc1", outputs: hidden).map {
            0.5 * $0 * (1 + erf($0 / 2.0.squareRoot()))
          }
          let h2 = linear(h1, "fc2", outputs: c)
          for k in 0..<c { y[k] += h2[k] }
          for k in 0..<c { updated[source + k] = y[k] }
        }
      }
      out = updated
    }
    return out.map(Float.init)
  }
}

final class WindowBlockTests: XCTestCase {
  /// Maps × shifts × threads, dense: odd sizes (padding), clamp, exact multiples, one window.
  func testMatchesNaiveBlockDense() throws {
    let cases: [(height: Int, width: Int, shifted: Bool)] = [
      (14, 14, false), (14, 14, true), (9, 13, true), (5, 7, true), (7, 7, true), (8, 16, true), (3, 4, false),
    ]
    let block = RandomBlock(channels: 16, heads: 2, hidden: 40, seed: 1)
    for kernel in BlockMatrixKernel.supported where kernel.precision == .f32 {
      let weights = try block.weights(kernel: kernel)
      for (height, width, shifted) in cases {
        let grid = WindowGrid(height: height, width: width, window: 7, shifted: shifted)
        let bias = WindowAttentionBias(table: block.table(for: grid), heads: 2, grid: grid)
        let batch = 2
        let x = randomTensor([batch, height, width, 16], seed: UInt64(height * 100 + width))
        let expected = block.reference(
          x.values, batch: batch, height: height, width: width, shifted: shifted, kept: nil)
        for threads in [1, 2, 3] {
          var y = x
          let ids = (0..<(batch * grid.windowCount)).map(Int32.init)
          let scratch = BlockScratch(
            workers: threads, rowCapacity: max(2, threads) * 49, channels: 16, wideChannels: 48, tokens: 49, headDim: 8)
          runWindowBlock(
            &y, weights: weights, grid: grid, bias: bias, keptWindows: ids, keptCount: ids.count, scratch: scratch,
            threads: threads)
          let result = compare(
            y.values, expected, atol: 2e-5, rtol: 2e-5,
            label: "\(kernel): \(height)x\(width) shifted \(shifted) threads \(threads)")
          XCTAssertTrue(result.passed, result.description)
        }
      }
    }
  }

  /// The other semantics' gather rules against the naive block: padding before the roll, no clamp,
  /// one-window axes shifted (mmdet, SparseViT), padded tokens as LN1's bias (SparseViT); all
  /// windows and every other window.
  func testMatchesNaiveBlockInEverySemantics() throws {
    let block = RandomBlock(channels: 16, heads: 2, hidden: 40, seed: 3)
    let weights = try block.weights(kernel: .preferred)
    for semantics in [WindowSemantics.torchvision, .mmdet, .sparsevit] {
      for (height, width, shifted) in [(9, 13, true), (5, 7, true), (7, 7, true), (3, 4, true), (8, 16, false)] {
        let grid = WindowGrid(height: height, width: width, window: 7, shifted: shifted, semantics: semantics)
        let bias = WindowAttentionBias(table: block.table(for: grid), heads: 2, grid: grid)
        let batch = 2
        let x = randomTensor([batch, height, width, 16], seed: UInt64(height * 100 + width))
        for everyOther in [false, true] {
          let ids = (0..<(batch * grid.windowCount)).filter { !everyOther || $0 % 2 == 0 }.map(Int32.init)
          let expected = block.reference(
            x.values, batch: batch, height: height, width: width, shifted: shifted,
            kept: Set(ids.map(Int.init)), semantics: semantics)
          for threads in [1, 2] {
            var y = x
            let scratch = BlockScratch(
              workers: threads, rowCapacity: 8 * 49, channels: 16, wideChannels: 48, tokens: 49, headDim: 8)
            runWindowBlock(
              &y, weights: weights, grid: grid, bias: bias, keptWindows: ids, keptCount: ids.count, scratch: scratch,
              threads: threads)
            let label =
              "\(semantics) \(height)x\(width) shifted \(shifted) every other \(everyOther) threads \(threads)"
            let result = compare(y.values, expected, atol: 2e-5, rtol: 2e-5, label: label)
            XCTAssertTrue(result.passed, result.description)
          }
        }
      }
    }
  }

  /// Only the listed windows change (byte-identical elsewhere), and they match the naive block run
  /// on those windows only; several images with different selections.
  func testKeptWindowsOnly() throws {
    let block = RandomBlock(channels: 24, heads: 3, hidden: 48, seed: 2)
    for kernel in BlockMatrixKernel.supported where kernel.precision == .f32 {
      let weights = try block.weights(kernel: kernel)
      for (height, width, shifted) in [(21, 14, true), (10, 17, true), (14, 21, false)] {
        let grid = WindowGrid(height: height, width: width, window: 7, shifted: shifted)
        let bias = WindowAttentionBias(table: block.table(for: grid), heads: 3, grid: grid)
        let batch = 3
        let x = randomTensor([batch, height, width, 24], seed: 7)
        var g = SplitMix64(seed: UInt64(height))
        let kept = (0..<(batch * grid.windowCount)).filter { _ in Bool.random(using: &g) }
        let expected = block.reference(
          x.values, batch: batch, height: height, width: width, shifted: shifted, kept: Set(kept))
        for threads in [1, 2, 4] {
          var y = x
          let scratch = BlockScratch(
            workers: threads, rowCapacity: 4 * 49, channels: 24, wideChannels: 72, tokens: 49, headDim: 8)
          runWindowBlock(
            &y, weights: weights, grid: grid, bias: bias, keptWindows: kept.map(Int32.init), keptCount: kept.count,
            scratch: scratch, threads: threads)
          let result = compare(
            y.values, expected, atol: 2e-5, rtol: 2e-5,
            label: "\(kernel): \(height)x\(width) kept \(kept.count) threads \(threads)")
          XCTAssertTrue(result.passed, result.description)
          // Tokens of windows not kept: bit patterns unchanged.
          var keptPixels = Set<Int>()
          for id in kept {
            let image = id / grid.windowCount
            for token in 0..<grid.windowTokens {
              if let p = grid.sourcePixel(window: id % grid.windowCount, token: token) {
                keptPixels.insert(image * height * width + p)
              }
            }
          }
          for pixel in 0..<(batch * height * width) where !keptPixels.contains(pixel) {
            for k in 0..<24 where x.values[pixel * 24 + k].bitPattern != y.values[pixel * 24 + k].bitPattern {
              XCTFail("pixel \(pixel) channel \(k) of an unkept window changed")
              return
            }
          }
        }
      }
    }
  }

  /// A shared tile (fewer windows than the tiles need) wide enough that its GEMMs, attention and
  /// row passes run in several claimed chunks: the naive block's result, and with the packed
  /// kernels the same bits on 1, 2 and 3 workers whoever claims which chunk.
  func testSharedTileChunksMatchOneWorker() throws {
    let block = RandomBlock(channels: 96, heads: 3, hidden: 384, seed: 5)
    for kernel in BlockMatrixKernel.supported where kernel.precision == .f32 {
      let weights = try block.weights(kernel: kernel)
      let grid = WindowGrid(height: 14, width: 21, window: 7, shifted: true)
      let bias = WindowAttentionBias(table: block.table(for: grid), heads: 3, grid: grid)
      let x = randomTensor([1, 14, 21, 96], seed: 11)
      let scratch = BlockScratch(
        workers: 3, rowCapacity: 8 * 49, channels: 96, wideChannels: 384, tokens: 49, headDim: 32)
      for kept in [[Int32(4)], [0, 5], [1, 2, 3]] {
        let expected = block.reference(
          x.values, batch: 1, height: 14, width: 21, shifted: true, kept: Set(kept.map(Int.init)))
        var single: [UInt32] = []
        for threads in [1, 2, 3] {
          var y = x
          runWindowBlock(
            &y, weights: weights, grid: grid, bias: bias, keptWindows: kept, keptCount: kept.count, scratch: scratch,
            threads: threads)
          let result = compare(
            y.values, expected, atol: 2e-5, rtol: 2e-5, label: "\(kernel): kept \(kept) threads \(threads)")
          XCTAssertTrue(result.passed, result.description)
          if threads == 1 { single = y.values.map(\.bitPattern) }
          if case .packedPanels = kernel {
            XCTAssertTrue(
              y.values.map(\.bitPattern) == single, "\(kernel): kept \(kept), \(threads) workers differ from 1")
          }
        }
      }
    }
  }

  /// bf16: the shared tile (2 and 3 workers claiming chunks, its GEMM inputs rounded once by the
  /// steps that write them) gives the bits of one worker's tile, which rounds each input per product;
  /// and the bf16 kernel did run (the result is not f32's). The hardware kernel on Swin's stage-1
  /// widths where the CPU has it, the scalar model on a narrow block on every CPU.
  func testBF16SharedTileMatchesOneWorkerBits() throws {
    var cases: [(RandomBlock, BlockMatrixKernel, channels: Int, heads: Int, hidden: Int)] = [
      (RandomBlock(channels: 16, heads: 2, hidden: 32, seed: 6), .packedBF16(.model), 16, 2, 32)
    ]
    if BF16ISA.avx512BF16.isSupported {
      cases.append((RandomBlock(channels: 96, heads: 3, hidden: 384, seed: 5), .packedBF16(.avx512BF16), 96, 3, 384))
    } else {
      print("WindowBlockTests: the vdpbf16ps shared tile is tested on CPUs with avx512_bf16; this one runs the model")
    }
    for (block, kernel, channels, heads, hidden) in cases {
      let weights = try block.weights(kernel: kernel)
      let f32 = try block.weights(kernel: .preferred)
      let grid = WindowGrid(height: 14, width: 21, window: 7, shifted: true)
      let bias = WindowAttentionBias(table: block.table(for: grid), heads: heads, grid: grid)
      let x = randomTensor([1, 14, 21, channels], seed: 11)
      let scratch = BlockScratch(
        workers: 3, rowCapacity: 8 * 49, channels: channels, wideChannels: max(3 * channels, hidden), tokens: 49,
        headDim: channels / heads)
      for kept in [[Int32(4)], [0, 5], [1, 2, 3]] {
        var inF32 = x
        runWindowBlock(
          &inF32, weights: f32, grid: grid, bias: bias, keptWindows: kept, keptCount: kept.count, scratch: scratch,
          threads: 1)
        var single: [UInt32] = []
        for threads in [1, 2, 3] {
          var y = x
          runWindowBlock(
            &y, weights: weights, grid: grid, bias: bias, keptWindows: kept, keptCount: kept.count, scratch: scratch,
            threads: threads)
          if threads == 1 {
            single = y.values.map(\.bitPattern)
            XCTAssertNotEqual(single, inF32.values.map(\.bitPattern), "\(kernel): kept \(kept) gave f32's bits")
            let result = compare(
              y.values, inF32.values, atol: 0.05, rtol: 0.05, label: "\(kernel) vs f32, kept \(kept)")
            XCTAssertTrue(result.passed, result.description)
          } else {
            XCTAssertTrue(
              y.values.map(\.bitPattern) == single, "\(kernel): kept \(kept), \(threads) workers differ from 1")
          }
        }
      }
    }
  }

  /// No window kept: nothing changes. For a given thread count the result is bit-reproducible.
  /// Across thread counts tiles differ: OpenBLAS rounds rows of different tile sizes differently, so
  /// its results agree to float rounding only; the packed kernel sums every output element in the
  /// same order whatever the tile, so its results are bit-identical.
  func testNoWindowsAndReproducibility() throws {
    let block = RandomBlock(channels: 16, heads: 2, hidden: 32, seed: 3)
    for kernel in BlockMatrixKernel.supported where kernel.precision == .f32 {
      let weights = try block.weights(kernel: kernel)
      let grid = WindowGrid(height: 28, width: 35, window: 7, shifted: true)
      let bias = WindowAttentionBias(table: block.table(for: grid), heads: 2, grid: grid)
      let x = randomTensor([2, 28, 35, 16], seed: 9)
      var untouched = x
      let scratch = BlockScratch(
        workers: 3, rowCapacity: 8 * 49, channels: 16, wideChannels: 48, tokens: 49, headDim: 8)
      runWindowBlock(
        &untouched, weights: weights, grid: grid, bias: bias, keptWindows: [], keptCount: 0, scratch: scratch,
        threads: 3)
      XCTAssertTrue(
        untouched.values.map(\.bitPattern) == x.values.map(\.bitPattern), "an empty window list changed the map")
      let ids = (0..<(2 * grid.windowCount)).map(Int32.init)
      var first: [Float] = []
      for threads in [1, 2, 3] {
        var runs: [[UInt32]] = []
        for _ in 0..<3 {
          var y = x
          runWindowBlock(
            &y, weights: weights, grid: grid, bias: bias, keptWindows: ids, keptCount: ids.count, scratch: scratch,
            threads: threads)
          runs.append(y.values.map(\.bitPattern))
          if first.isEmpty { first = y.values }
          let result = compare(y.values, first, atol: 1e-5, rtol: 1e-5, label: "\(kernel): threads \(threads) vs 1")
          XCTAssertTrue(result.passed, result.description)
          if case .packedPanels = kernel {
            XCTAssertTrue(
              y.values.map(\.bitPattern) == first.map(\.bitPattern), "packed: threads \(threads) differs from 1 thread")
          }
        }
        XCTAssertTrue(runs[0] == runs[1] && runs[1] == runs[2], "threads \(threads): repeated runs differ")
      }
    }
  }

  /// The schedule: windows left over after equal tiles share one tile; fewer than two windows per
  /// worker, or few or thin windows, share one tile altogether when it holds them; one worker takes
  /// everything in tiles.
  func testPlanSplitsLeftOverWindowsIntoASharedTile() {
    func plan(_ kept: Int, _ threads: Int, perTile: Int = 8, tokens: Int = 49, capacity: Int = 8) -> [Int] {
      let result = BlockKernel.plan(
        keptCount: kept, threads: threads, windowsPerTile: perTile, tokens: tokens, capacity: capacity)
      return [result.tiled, result.shared]
    }
    XCTAssertEqual(plan(9, 2), [8, 1], "stage 3 at 672: 4 windows each, then 1 shared")
    XCTAssertEqual(plan(36, 2), [36, 0])
    XCTAssertEqual(plan(8, 2), [8, 0], "4 windows (196 rows) each")
    XCTAssertEqual(plan(4, 2), [0, 4], "2 windows (98 rows) each are too thin")
    XCTAssertEqual(plan(3, 2), [0, 3], "uneven and fit one tile")
    XCTAssertEqual(plan(1, 2), [0, 1])
    XCTAssertEqual(plan(11, 3), [9, 2])
    XCTAssertEqual(plan(13, 2, tokens: 16), [12, 1])
    XCTAssertEqual(plan(9, 1), [9, 0])
    XCTAssertEqual(plan(0, 2), [0, 0])
    XCTAssertEqual(plan(4, 2, perTile: 2), [4, 0], "packed kernel at 224, stage 2: 2 windows each")
    XCTAssertEqual(plan(9, 2, perTile: 2), [8, 1])
    XCTAssertEqual(plan(2, 2, perTile: 2), [0, 2])
    XCTAssertEqual(plan(3, 2, perTile: 2), [0, 3], "stage 3 at 672, 3 kept: one shared tile, not 2 tiles and 1")
    XCTAssertEqual(plan(5, 3, perTile: 3), [0, 5], "fewer than two per worker")
    XCTAssertEqual(plan(3, 2, perTile: 2, capacity: 2), [2, 1], "3 windows do not fit one tile")
    XCTAssertEqual(plan(6, 3, perTile: 3), [6, 0], "two per worker: tiles")
  }

  /// Tile length follows the kernel (OpenBLAS long, packed short), never below the worker count
  /// and never beyond the scratch.
  func testWindowsPerTileFollowsTheKernel() {
    func perTile(_ kernel: BlockMatrixKernel, tokens: Int = 49, threads: Int = 2, capacity: Int = 8 * 49) -> Int {
      BlockKernel.windowsPerTile(kernel: kernel, tokens: tokens, threads: threads, rowCapacity: capacity)
    }
    XCTAssertEqual(perTile(.openBLAS), 8)
    XCTAssertEqual(perTile(.packedPanels(.swift)), 2)
    XCTAssertEqual(perTile(.packedPanels(.swift), threads: 3), 3)
    XCTAssertEqual(perTile(.packedPanels(.swift), tokens: 16), 6)
    XCTAssertEqual(perTile(.packedPanels(.swift), tokens: 144, capacity: 8 * 144), 2)
    XCTAssertEqual(perTile(.openBLAS, capacity: 4 * 49), 4)
    XCTAssertEqual(perTile(.packedPanels(.swift), threads: 4, capacity: 4 * 49), 4)
  }
}
