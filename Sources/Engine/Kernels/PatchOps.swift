// The dense parts around the blocks: patch embedding (a p×p stride-p convolution as im2col + GEMM,
// then LayerNorm), patch merging (2×2 gather with zero padding, LayerNorm, linear 4C → 2C) and the
// classifier head (LayerNorm, global average pool, linear). Each splits its rows into chunks that the
// workers claim one at a time and gather, normalize and multiply while they are in cache: on a
// shared host one vCPU often runs at half the other's speed, and fixed shares would wait for it.

import Synchronization

/// Per-worker row buffers for the stem and the merges, allocated once and reused.
package final class RowScratch: @unchecked Sendable {
  /// Workers the scratch has slots for.
  package let workers: Int
  /// Floats per worker.
  package let floatsPerWorker: Int
  var storage: [Float]
  /// Next chunk to claim in the current stem or merge.
  let nextChunk = Atomic<Int>(0)

  /// Scratch of `floatsPerWorker` floats for each of `workers` workers.
  package init(workers: Int, floatsPerWorker: Int) {
    precondition(workers > 0 && floatsPerWorker > 0, "RowScratch: workers \(workers) floats \(floatsPerWorker)")
    self.workers = workers
    self.floatsPerWorker = floatsPerWorker
    storage = [Float](repeating: 0, count: workers * floatsPerWorker)
  }

  /// Bytes held.
  package var bytes: Int { storage.count * MemoryLayout<Float>.stride }

  /// Runs `body` with the number of chunks of `rows` rows (`chunkCount`), the scratch, the
  /// profiler's worker clock and the addresses of `input` and `output`, after checking that
  /// `threads` workers have `floats` floats each; `kernel` names the caller in the message.
  func withChunks(
    rows: Int, floats: Int, threads: Int, kernel: String, profiler: Profiler?,
    input: Tensor, output: inout Tensor,
    _ body: (
      _ chunks: Int, _ scratch: UnsafeMutablePointer<Float>, WorkerClock, _ input: UnsafePointer<Float>,
      _ output: UnsafeMutablePointer<Float>
    ) -> Void
  ) {
    precondition(floatsPerWorker >= floats && workers >= threads, "\(kernel): scratch too small")
    let chunks = chunkCount(rows: rows, threads: threads)
    nextChunk.store(0, ordering: .relaxed)
    withWorkerClock(profiler) { clock in
      storage.withUnsafeMutableBufferPointer { scratch in
        input.values.withUnsafeBufferPointer { inBuffer in
          output.values.withUnsafeMutableBufferPointer { outBuffer in
            body(chunks, scratch.baseAddress!, clock, inBuffer.baseAddress!, outBuffer.baseAddress!)
          }
        }
      }
    }
  }
}

/// Most rows a worker handles per chunk in the stem and the merges.
package let rowChunk = 256
/// Fewest rows of a chunk cut for balance alone: below that, each chunk reading the merge's weight
/// again costs more than it evens out.
let balanceChunkRows = 64

/// Chunks for `rows` rows on `threads` workers: at most `rowChunk` rows each, at least one per
/// worker, and up to four per worker when that leaves `balanceChunkRows` rows each, so that a
/// faster worker can take more of them (784 rows at 224: 8 of 98; 49: 2 of 24–25). At most one per
/// row.
@inline(__always)
func chunkCount(rows: Int, threads: Int) -> Int {
  let bySize = (rows + rowChunk - 1) / rowChunk
  let forBalance = min(4 * threads, max(threads, rows / balanceChunkRows))
  return min(rows, max(bySize, forBalance))
}

extension RowScratch {
  /// Runs `body(first, count)` on chunks (`partRange` of `rows` in `chunks`) claimed one at a time
  /// from `nextChunk` (reset by `withChunks`) until none is left.
  @inline(__always)
  func forEachClaimedChunk(rows: Int, chunks: Int, _ body: (_ first: Int, _ count: Int) -> Void) {
    while true {
      let chunk = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
      if chunk >= chunks { return }
      let range = partRange(rows, part: chunk, parts: chunks)
      body(range.lowerBound, range.count)
    }
  }
}

/// Image, row and column of output pixel `pixel` of a `[batch, outHeight, outWidth]` map.
@inline(__always)
func pixelCoordinates(_ pixel: Int, outHeight: Int, outWidth: Int) -> (n: Int, i: Int, j: Int) {
  (pixel / (outHeight * outWidth), pixel / outWidth % outHeight, pixel % outWidth)
}

// MARK: - Patch embedding

/// Patch embedding: a `patch × patch` convolution with stride `patch`, then LayerNorm.
package struct PatchEmbedWeights: Sendable {
  /// Input channels (3 for RGB).
  package let inputChannels: Int
  /// Patch side.
  package let patch: Int
  /// Output channels (embedding width).
  package let channels: Int
  /// `[channels, inputChannels·patch·patch]`, columns ordered (c, kh, kw), stored for an f32 kernel.
  let weight: StoredMatrix
  let bias: [Float]  // [channels]
  let norm: LayerNormWeights  // [channels]

  /// Checks `weight` is `[channels, inputChannels, patch, patch]` and the rest `[channels]`; stores
  /// the weight for `kernel` (an f32 one: the stem's inner size, 3·4·4, is too small to gain from bf16).
  package init(
    weight: Tensor, bias: Tensor, norm: LayerNormWeights, name: String, kernel: BlockMatrixKernel = .preferred
  ) throws(ShapeError) {
    precondition(kernel.precision == .f32, "PatchEmbedWeights: the stem runs in f32, not on \(kernel)")
    guard weight.rank == 4, weight.shape[2] == weight.shape[3], weight.shape.allSatisfy({ $0 > 0 }) else {
      throw ShapeError(name: name + ".proj.weight", expected: [norm.channels, 3, 4, 4], actual: weight.shape)
    }
    channels = weight.shape[0]
    inputChannels = weight.shape[1]
    patch = weight.shape[2]
    try ShapeError.check(name + ".proj.bias", bias.shape, expected: [channels])
    try ShapeError.check(name + ".norm.weight", [norm.channels], expected: [channels])
    self.weight = StoredMatrix(
      weight.values, outputs: channels, inner: inputChannels * patch * patch, kernel: kernel)
    self.bias = bias.values
    self.norm = norm
  }

  /// Floats of `RowScratch` one worker needs.
  package var scratchFloats: Int { rowChunk * inputChannels * patch * patch }
}

/// `output[b, i, j, :] = LN(W · patch(b, i, j) + bias)` for every `patch × patch` patch; a partial
/// patch at the bottom/right edge is dropped, as a strided convolution does.
///
/// - Parameters:
///   - images: `[batch, inputChannels, height, width]` (NCHW).
///   - output: `[batch, height / patch, width / patch, channels]`.
package func embedPatches(
  _ images: Tensor, weights: PatchEmbedWeights, into output: inout Tensor,
  scratch: RowScratch, threads: Int, profiler: Profiler? = nil
) {
  embedPatches(images, weights: weights, into: &output, scratch: scratch, threads: threads, profiler: profiler, nil)
}

/// `embedPatches` that also writes `meanAbsoluteRows` of every output pixel into `activity`
/// (at least `batch·H·W` floats) while the rows are in cache: the window scores of a stage pruned
/// from its first block.
package func embedPatches(
  _ images: Tensor, weights: PatchEmbedWeights, into output: inout Tensor, activity: inout [Float],
  scratch: RowScratch, threads: Int, profiler: Profiler? = nil
) {
  let pixels = images.shape[0] * (images.shape[2] / weights.patch) * (images.shape[3] / weights.patch)
  withActivity(&activity, pixels: pixels, kernel: "embedPatches") { pointer in
    embedPatches(
      images, weights: weights, into: &output, scratch: scratch, threads: threads, profiler: profiler, pointer)
  }
}

private func embedPatches(
  _ images: Tensor, weights: PatchEmbedWeights, into output: inout Tensor,
  scratch: RowScratch, threads: Int, profiler: Profiler?, _ activity: UnsafeMutablePointer<Float>?
) {
  let batch = images.shape[0], inputChannels = weights.inputChannels
  let height = images.shape[2], width = images.shape[3], patch = weights.patch
  let outHeight = height / patch, outWidth = width / patch, channels = weights.channels
  precondition(
    images.rank == 4 && images.shape[1] == inputChannels
      && output.hasShape(batch, outHeight, outWidth, channels),
    "embedPatches: images \(images.shape), output \(output.shape)")
  let rows = batch * outHeight * outWidth
  scratch.withChunks(
    rows: rows, floats: weights.scratchFloats, threads: threads, kernel: "embedPatches", profiler: profiler,
    input: images, output: &output
  ) { chunks, scratchBase, clock, image, out in
    weights.bias.withUnsafeBufferPointer { b in
      weights.norm.withUnsafeParameters { gamma, beta in
        var kernel = StemKernel(
          image: image, out: out, weight: weights.weight, bias: b.baseAddress!, gamma: gamma, beta: beta,
          epsilon: weights.norm.epsilon, scratch: scratchBase, floatsPerWorker: scratch.floatsPerWorker,
          inputChannels: inputChannels, height: height, width: width, patch: patch, outHeight: outHeight,
          outWidth: outWidth, channels: channels, rows: rows, chunks: chunks, parts: min(threads, chunks),
          claims: scratch, activity: activity, clock: clock)
        parallelParts(kernel.parts, &kernel) { raw, worker in
          forkContext(raw, as: StemKernel.self).pointee.run(worker: worker)
        }
      }
    }
  }
}

/// The stem's state for its workers (lives inside `embedPatches`'s buffer closures).
struct StemKernel {
  let image: UnsafePointer<Float>  // [batch, inputChannels, height, width]
  let out: UnsafeMutablePointer<Float>  // [batch, outHeight, outWidth, channels]
  let weight: StoredMatrix  // [channels, inputChannels·patch·patch]
  let bias: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>  // [channels]
  let epsilon: Float
  let scratch: UnsafeMutablePointer<Float>
  let floatsPerWorker: Int
  let inputChannels: Int, height: Int, width: Int, patch: Int
  let outHeight: Int, outWidth: Int, channels: Int
  let rows: Int, chunks: Int, parts: Int
  let claims: RowScratch
  let activity: UnsafeMutablePointer<Float>?  // [rows], when scoring
  let clock: WorkerClock

  /// Worker `worker` claims chunks of rows: im2col, GEMM on the bias, LayerNorm.
  func run(worker: Int) {
    let start = clock.start()
    let inner = inputChannels * patch * patch
    let columns = scratch + worker * floatsPerWorker
    claims.forEachClaimedChunk(rows: rows, chunks: chunks) { first, count in
      // im2col: one row of `inner` values per output pixel, ordered (c, kh, kw).
      for r in 0..<count {
        let (n, i, j) = pixelCoordinates(first + r, outHeight: outHeight, outWidth: outWidth)
        var column = columns + r * inner
        for c in 0..<inputChannels {
          for kh in 0..<patch {
            let source = image + ((n * inputChannels + c) * height + i * patch + kh) * width + j * patch
            if patch == 4 {  // Swin's stem: one 16-byte move instead of a memmove call
              UnsafeMutableRawPointer(column).storeBytes(
                of: UnsafeRawPointer(source).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            } else {
              column.update(from: source, count: patch)
            }
            column += patch
          }
        }
      }
      let target = out + first * channels
      for r in 0..<count { (target + r * channels).update(from: bias, count: channels) }
      weight.multiply(rows: count, columns, lda: inner, beta: 1, into: target, ldc: channels)
      for r in 0..<count {
        let row = target + r * channels
        layerNormRow(row, count: channels, gamma: gamma, beta: beta, epsilon: epsilon, into: row)
      }
      if let activity { meanAbsoluteRows(target, rows: count, channels: channels, into: activity + first) }
    }
    clock.lap(.stem, worker: worker, since: start)
  }
}

// MARK: - Patch merging

/// Patch merging: 2×2 neighbours concatenated (channel `(dh + 2·dw)·C + c`), LayerNorm(4C),
/// linear 4C → outChannels without bias.
package struct PatchMergeWeights: Sendable {
  /// Channels of the input map.
  package let inputChannels: Int
  /// Channels of the output map.
  package let outputChannels: Int
  let norm: LayerNormWeights  // [4·inputChannels]
  /// `[outputChannels, 4·inputChannels]`, stored for the blocks' kernel (bf16 in bf16 precision).
  let reduction: StoredMatrix

  /// Checks `norm` is over `4·inputChannels` and `reduction` is `[outputChannels, 4·inputChannels]`;
  /// stores `reduction` for `kernel`, which must run on this CPU.
  package init(
    inputChannels: Int, norm: LayerNormWeights, reduction: Tensor, name: String,
    kernel: BlockMatrixKernel = .preferred
  ) throws(ShapeError) {
    try ShapeError.check(name + ".norm.weight", [norm.channels], expected: [4 * inputChannels])
    guard reduction.rank == 2, reduction.shape[0] > 0 else {
      throw ShapeError(
        name: name + ".reduction.weight", expected: [2 * inputChannels, 4 * inputChannels], actual: reduction.shape)
    }
    try ShapeError.check(
      name + ".reduction.weight", reduction.shape, expected: [reduction.shape[0], 4 * inputChannels])
    self.inputChannels = inputChannels
    self.outputChannels = reduction.shape[0]
    self.norm = norm
    self.reduction = StoredMatrix(
      reduction.values, outputs: reduction.shape[0], inner: 4 * inputChannels, kernel: kernel)
  }

  /// Floats of `RowScratch` one worker needs.
  package var scratchFloats: Int { rowChunk * 4 * inputChannels }
}

/// Merges 2×2 patches: `input [batch, H, W, C]` → `output [batch, ⌈H/2⌉, ⌈W/2⌉, outputChannels]`,
/// odd sides zero-padded at the bottom/right first.
package func mergePatches(
  _ input: Tensor, weights: PatchMergeWeights, into output: inout Tensor,
  scratch: RowScratch, threads: Int, profiler: Profiler? = nil
) {
  mergePatches(input, weights: weights, into: &output, scratch: scratch, threads: threads, profiler: profiler, nil)
}

/// `mergePatches` that also writes `meanAbsoluteRows` of every output pixel into `activity` (at
/// least `batch·⌈H/2⌉·⌈W/2⌉` floats), as `embedPatches(_:weights:into:activity:…)` does.
package func mergePatches(
  _ input: Tensor, weights: PatchMergeWeights, into output: inout Tensor, activity: inout [Float],
  scratch: RowScratch, threads: Int, profiler: Profiler? = nil
) {
  let pixels = input.shape[0] * ((input.shape[1] + 1) / 2) * ((input.shape[2] + 1) / 2)
  withActivity(&activity, pixels: pixels, kernel: "mergePatches") { pointer in
    mergePatches(
      input, weights: weights, into: &output, scratch: scratch, threads: threads, profiler: profiler, pointer)
  }
}

private func mergePatches(
  _ input: Tensor, weights: PatchMergeWeights, into output: inout Tensor,
  scratch: RowScratch, threads: Int, profiler: Profiler?, _ activity: UnsafeMutablePointer<Float>?
) {
  let batch = input.shape[0], height = input.shape[1], width = input.shape[2], channels = weights.inputChannels
  let outHeight = (height + 1) / 2, outWidth = (width + 1) / 2, outChannels = weights.outputChannels
  precondition(
    input.rank == 4 && input.shape[3] == channels && output.hasShape(batch, outHeight, outWidth, outChannels),
    "mergePatches: input \(input.shape), output \(output.shape)")
  let rows = batch * outHeight * outWidth
  scratch.withChunks(
    rows: rows, floats: weights.scratchFloats, threads: threads, kernel: "mergePatches", profiler: profiler,
    input: input, output: &output
  ) { chunks, scratchBase, clock, x, out in
    weights.norm.withUnsafeParameters { gamma, beta in
      var kernel = MergeKernel(
        x: x, out: out, reduction: weights.reduction, gamma: gamma, beta: beta, epsilon: weights.norm.epsilon,
        scratch: scratchBase, floatsPerWorker: scratch.floatsPerWorker, height: height, width: width,
        channels: channels, outHeight: outHeight, outWidth: outWidth, outChannels: outChannels, rows: rows,
        chunks: chunks, parts: min(threads, chunks), claims: scratch, activity: activity, clock: clock)
      parallelParts(kernel.parts, &kernel) { raw, worker in
        forkContext(raw, as: MergeKernel.self).pointee.run(worker: worker)
      }
    }
  }
}

/// A merge's state for its workers (lives inside `mergePatches`'s buffer closures).
struct MergeKernel {
  let x: UnsafePointer<Float>  // [batch, height, width, channels]
  let out: UnsafeMutablePointer<Float>  // [batch, outHeight, outWidth, outChannels]
  let reduction: StoredMatrix  // [outChannels, 4·channels]
  let gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>  // [4·channels]
  let epsilon: Float
  let scratch: UnsafeMutablePointer<Float>
  let floatsPerWorker: Int
  let height: Int, width: Int, channels: Int
  let outHeight: Int, outWidth: Int, outChannels: Int
  let rows: Int, chunks: Int, parts: Int
  let claims: RowScratch
  let activity: UnsafeMutablePointer<Float>?  // [rows], when scoring
  let clock: WorkerClock

  /// Worker `worker` claims chunks of output rows: 2×2 gather (zeros past the edge) with
  /// LayerNorm, then the reduction GEMM.
  func run(worker: Int) {
    let start = clock.start()
    let inner = 4 * channels
    let gathered = scratch + worker * floatsPerWorker
    claims.forEachClaimedChunk(rows: rows, chunks: chunks) { first, count in
      let target = out + first * outChannels
      if reduction.takesRoundedRows {
        // AMX: each row gathered and normalized in L1, then rounded straight into the tiles' rows.
        let rounded = UnsafeMutableRawPointer(gathered + inner).assumingMemoryBound(to: UInt32.self)
        for r in 0..<count {
          gatherNorm(first + r, into: gathered)
          roundRowToBF16(gathered, count: inner, into: rounded + r * inner / 2)
        }
        (rounded + count * inner / 2).update(repeating: 0, count: ((count + 15) / 16 * 16 - count) * inner / 2)
        reduction.multiplyRounded(rows: count, rounded, beta: 0, into: target, ldc: outChannels)
      } else {
        for r in 0..<count { gatherNorm(first + r, into: gathered + r * inner) }
        reduction.multiply(rows: count, gathered, lda: inner, beta: 0, into: target, ldc: outChannels)
      }
      if let activity { meanAbsoluteRows(target, rows: count, channels: outChannels, into: activity + first) }
    }
    clock.lap(.merge, worker: worker, since: start)
  }

  /// Output pixel `pixel`'s 2×2 neighbours (zeros past the edge) into `row [4·channels]`, then
  /// LayerNorm of it in place.
  @inline(__always)
  func gatherNorm(_ pixel: Int, into row: UnsafeMutablePointer<Float>) {
    let (n, i, j) = pixelCoordinates(pixel, outHeight: outHeight, outWidth: outWidth)
    for quadrant in 0..<4 {
      let dh = quadrant & 1, dw = quadrant >> 1
      let h = 2 * i + dh, w = 2 * j + dw
      let target = row + quadrant * channels
      if h < height && w < width {
        target.update(from: x + ((n * height + h) * width + w) * channels, count: channels)
      } else {
        target.update(repeating: 0, count: channels)
      }
    }
    layerNormRow(row, count: 4 * channels, gamma: gamma, beta: beta, epsilon: epsilon, into: row)
  }
}

// MARK: - Head

/// Final LayerNorm of every token, then the mean over tokens: `[batch, H, W, C]` → `[batch, C]`.
/// Uses the first `C` floats of worker 0's scratch.
package func normalizedAveragePool(
  _ input: Tensor, norm: LayerNormWeights, into pooled: inout Tensor, scratch: RowScratch
) {
  let batch = input.shape[0], channels = norm.channels
  precondition(
    input.rank == 4 && input.shape[3] == channels && pooled.hasShape(batch, channels)
      && scratch.floatsPerWorker >= channels,
    "normalizedAveragePool: input \(input.shape), pooled \(pooled.shape)")
  let tokens = input.shape[1] * input.shape[2]
  input.values.withUnsafeBufferPointer { inBuffer in
    pooled.values.withUnsafeMutableBufferPointer { outBuffer in
      norm.withUnsafeParameters { gamma, beta in
        scratch.storage.withUnsafeMutableBufferPointer { scratchBuffer in
          let row = scratchBuffer.baseAddress!
          for n in 0..<batch {
            let sum = outBuffer.baseAddress! + n * channels
            sum.update(repeating: 0, count: channels)
            for t in 0..<tokens {
              row.update(from: inBuffer.baseAddress! + (n * tokens + t) * channels, count: channels)
              layerNormRow(row, count: channels, gamma: gamma, beta: beta, epsilon: norm.epsilon, into: row)
              addRow(sum, row, count: channels)
            }
            let inverse = 1 / Float(tokens)
            for c in 0..<channels { sum[c] *= inverse }
          }
        }
      }
    }
  }
}

/// The classifier `logits = pooled · Wᵀ + b`, its weight stored for an f32 kernel (the head stays f32
/// in every precision) and its output columns split over the workers.
package struct ClassifierHead: Sendable {
  /// `[classes, features]`.
  let weight: StoredMatrix
  let bias: [Float]  // [classes]

  /// `weight [classes, features]` and `bias [classes]`, checked by the caller; `kernel` is an f32
  /// kernel this CPU runs.
  package init(weight: Tensor, bias: Tensor, kernel: BlockMatrixKernel) {
    precondition(
      weight.rank == 2 && bias.hasShape(weight.shape[0]) && kernel.precision == .f32,
      "ClassifierHead: weight \(weight.shape), bias \(bias.shape), \(kernel)")
    self.weight = StoredMatrix(weight.values, outputs: weight.shape[0], inner: weight.shape[1], kernel: kernel)
    self.bias = bias.values
  }

  /// `logits [batch, classes]` of `pooled [batch, features]`.
  package func run(_ pooled: Tensor, into logits: inout Tensor, threads: Int) {
    let batch = pooled.shape[0], classes = weight.outputs
    precondition(
      pooled.hasShape(batch, weight.inner) && logits.hasShape(batch, classes),
      "ClassifierHead: pooled \(pooled.shape), logits \(logits.shape)")
    pooled.values.withUnsafeBufferPointer { x in
      logits.values.withUnsafeMutableBufferPointer { y in
        bias.withUnsafeBufferPointer { b in
          // Parts of at least 256 classes: below that a fork costs more than the product.
          var job = HeadJob(
            head: self, x: x.baseAddress!, y: y.baseAddress!, bias: b.baseAddress!, batch: batch,
            parts: max(1, min(threads, classes / 256)))
          parallelParts(job.parts, &job) { raw, part in forkContext(raw, as: HeadJob.self).pointee.run(part: part) }
        }
      }
    }
  }
}

/// One worker's columns of `ClassifierHead.run`.
private struct HeadJob {
  let head: ClassifierHead
  let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>
  let batch: Int, parts: Int

  func run(part: Int) {
    let classes = head.weight.outputs
    let columns = alignedPartRange(classes, part: part, parts: parts, alignment: 2 * PackedPanels.width)
    if columns.isEmpty { return }
    for row in 0..<batch {
      (y + row * classes + columns.lowerBound).update(from: bias + columns.lowerBound, count: columns.count)
    }
    head.weight.multiply(
      rows: batch, columns: columns, x, lda: head.weight.inner, beta: 1, into: y + columns.lowerBound, ldc: classes)
  }
}

/// Runs `body` with the address of `activity` after checking that it holds `pixels` floats (the
/// fused-scoring overloads of the stem and the merges); `kernel` names the caller in the message.
private func withActivity(
  _ activity: inout [Float], pixels: Int, kernel: String, _ body: (UnsafeMutablePointer<Float>?) -> Void
) {
  precondition(activity.count >= pixels, "\(kernel): activity \(activity.count) < \(pixels) pixels")
  activity.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

/// Runs `body` with the profiler's worker counters, or with a clock that records nothing.
func withWorkerClock(_ profiler: Profiler?, _ body: (WorkerClock) -> Void) {
  if let profiler { profiler.withCounters(body) } else { body(.off) }
}
