// A Swin-style transformer block run on a chosen set of windows only:
//   x ← x + proj(W-MSA(LN1(x))),  x ← x + fc2(GELU(fc1(LN2(x))))
// evaluated per window. The kept windows (all of them for dense inference) are split into tiles of
// packed rows; a worker takes a tile, gathers its tokens (roll and padding folded into the gather,
// LN1 fused), runs the four GEMMs and the attention on the packed rows while they sit in cache, and
// scatters the result back. Windows not in the list are never read or written. When there are
// fewer windows than workers, all workers share one tile and claim chunks of each operation (GEMM
// columns, attention heads, rows) as they go, so a worker the host slows down holds no one up.
import Synchronization

/// Weights of one window-attention transformer block, packed into one array for the kernels.
package struct WindowBlockWeights: Sendable {
  /// Model width `C` (the last axis of the activations).
  package let channels: Int
  /// Attention heads; `channels` is a multiple of it.
  package let heads: Int
  /// `channels / heads`.
  package let headDim: Int
  /// MLP width (`fc1` outputs).
  package let hiddenChannels: Int
  /// How the four weight matrices are stored and multiplied.
  package let kernel: BlockMatrixKernel
  let epsilon1: Float
  let epsilon2: Float

  // One contiguous buffer; the offsets below locate each tensor in it.
  let parameters: [Float]
  // bf16 kernels: the four matrices (`PackedBF16`), the matrix offsets below pointing here; the
  // f32 copies are not kept.
  let bf16Matrices: PairBuffer?
  // Matrices are `[out, in]` (OpenBLAS) or packed (`PackedPanels`, `PackedBF16`), per `kernel`.
  let norm1Weight: Int, norm1Bias: Int  // [C]
  let qkvWeight: Int, qkvBias: Int  // [3C, C], [3C]; query rows pre-scaled by headDim^-1/2
  let projWeight: Int, projBias: Int  // [C, C], [C]
  let norm2Weight: Int, norm2Bias: Int  // [C]
  let fc1Weight: Int, fc1Bias: Int  // [hidden, C], [hidden]
  let fc2Weight: Int, fc2Bias: Int  // [C, hidden], [C]

  /// Checks every shape against `channels` and `heads` (the MLP width is taken from `fc1Weight`);
  /// `name` prefixes tensor names in errors. Weights are PyTorch `[out, in]`; `kernel` picks how
  /// they are stored and multiplied.
  package init(
    channels: Int, heads: Int,
    norm1: LayerNormWeights, qkvWeight: Tensor, qkvBias: Tensor,
    projWeight: Tensor, projBias: Tensor,
    norm2: LayerNormWeights, fc1Weight: Tensor, fc1Bias: Tensor,
    fc2Weight: Tensor, fc2Bias: Tensor,
    name: String, kernel: BlockMatrixKernel = .preferred
  ) throws(ShapeError) {
    precondition(channels > 0 && heads > 0, "WindowBlockWeights: channels \(channels) heads \(heads)")
    if channels % heads != 0 {
      throw ShapeError(name: name + ".attn.relative_position_bias_table", expected: [heads], actual: [channels])
    }
    try ShapeError.check(name + ".norm1.weight", [norm1.channels], expected: [channels])
    try ShapeError.check(name + ".attn.qkv.weight", qkvWeight.shape, expected: [3 * channels, channels])
    try ShapeError.check(name + ".attn.qkv.bias", qkvBias.shape, expected: [3 * channels])
    try ShapeError.check(name + ".attn.proj.weight", projWeight.shape, expected: [channels, channels])
    try ShapeError.check(name + ".attn.proj.bias", projBias.shape, expected: [channels])
    try ShapeError.check(name + ".norm2.weight", [norm2.channels], expected: [channels])
    let hidden = fc1Weight.shape.first ?? 0
    try ShapeError.check(name + ".mlp.fc1.weight", fc1Weight.shape, expected: [max(hidden, 1), channels])
    try ShapeError.check(name + ".mlp.fc1.bias", fc1Bias.shape, expected: [hidden])
    try ShapeError.check(name + ".mlp.fc2.weight", fc2Weight.shape, expected: [channels, hidden])
    try ShapeError.check(name + ".mlp.fc2.bias", fc2Bias.shape, expected: [channels])

    self.channels = channels
    self.heads = heads
    self.headDim = channels / heads
    self.hiddenChannels = hidden
    self.kernel = kernel
    epsilon1 = norm1.epsilon
    epsilon2 = norm2.epsilon

    // timm scales q after the linear layer (q·scale); folding the scale into the query rows of
    // the weight and bias saves a pass and changes results only by float rounding.
    let scale = Float(1 / Double(channels / heads).squareRoot())
    var qkvW = qkvWeight.values
    var qkvB = qkvBias.values
    for i in 0..<(channels * channels) { qkvW[i] *= scale }
    for i in 0..<channels { qkvB[i] *= scale }

    var packed: [Float] = []
    var pairs: [UInt32] = []
    let matrixFloats = [(3 * channels, channels), (channels, channels), (hidden, channels), (channels, hidden)].map {
      PackedPanels.count(outputs: $0.0, inner: $0.1)
    }
    let matrixCount = kernel.precision == .bf16 ? 0 : matrixFloats.reduce(0, +)
    packed.reserveCapacity(matrixCount + 6 * channels + hidden + 4 * channels)
    func append(_ values: [Float]) -> Int {
      let offset = packed.count
      packed.append(contentsOf: values)
      return offset
    }
    func appendMatrix(_ values: [Float], outputs: Int, inner: Int) -> Int {
      switch StoredMatrix.storage(values, outputs: outputs, inner: inner, kernel: kernel) {
      case .floats(let stored): return append(stored)
      case .pairs(let stored):
        let offset = pairs.count
        pairs.append(contentsOf: stored)
        return offset
      }
    }
    norm1Weight = append(norm1.weight)
    norm1Bias = append(norm1.bias)
    self.qkvWeight = appendMatrix(qkvW, outputs: 3 * channels, inner: channels)
    self.qkvBias = append(qkvB)
    self.projWeight = appendMatrix(projWeight.values, outputs: channels, inner: channels)
    self.projBias = append(projBias.values)
    norm2Weight = append(norm2.weight)
    norm2Bias = append(norm2.bias)
    self.fc1Weight = appendMatrix(fc1Weight.values, outputs: hidden, inner: channels)
    self.fc1Bias = append(fc1Bias.values)
    self.fc2Weight = appendMatrix(fc2Weight.values, outputs: channels, inner: hidden)
    self.fc2Bias = append(fc2Bias.values)
    parameters = packed
    bf16Matrices = kernel.precision == .bf16 ? PairBuffer(pairs) : nil
  }

  /// Multiply–accumulate count of the block per window of `tokens` tokens (linear layers and the
  /// two attention products), for FLOP accounting.
  package func macsPerWindow(tokens: Int) -> Int {
    let linear = tokens * channels * (3 * channels + channels + 2 * hiddenChannels)
    let attention = 2 * heads * tokens * tokens * headDim
    return linear + attention
  }
}

/// Per-worker scratch for `runWindowBlock`: packed tile rows and attention buffers, allocated once
/// per (workers, largest block) and reused for every block and every call.
package final class BlockScratch: @unchecked Sendable {
  /// Workers the scratch has slots for.
  package let workers: Int
  /// Rows (tokens) of one tile.
  package let rowCapacity: Int
  let channelCapacity: Int
  let wideCapacity: Int
  let attentionCapacity: Int
  var storage: [Float]
  /// Next tile (tile mode) or chunk of the current operation (shared tile) to claim.
  let nextClaim = Atomic<Int>(0)

  /// Scratch for up to `workers` workers and tiles of `rowCapacity` rows, enough for any block with
  /// at most `channels` channels, `max(3·channels, hidden) ≤ wideChannels`, `tokens` tokens per
  /// window and head dimension `headDim`.
  package init(workers: Int, rowCapacity: Int, channels: Int, wideChannels: Int, tokens: Int, headDim: Int) {
    precondition(
      workers > 0 && rowCapacity >= tokens, "BlockScratch: workers \(workers) rows \(rowCapacity) tokens \(tokens)")
    self.workers = workers
    self.rowCapacity = rowCapacity
    channelCapacity = channels
    wideCapacity = wideChannels
    attentionCapacity = WindowAttentionBias.scratchFloats(tokens: tokens, headDim: headDim)
    let slot = Self.slotFloats(
      rowCapacity: rowCapacity, channels: channels, wideChannels: wideChannels, tokens: tokens, headDim: headDim)
    storage = [Float](repeating: 0, count: workers * slot)
  }

  /// Floats of one worker's slot: a tile's residual, normed and wide rows, then attention scratch.
  package static func slotFloats(rowCapacity: Int, channels: Int, wideChannels: Int, tokens: Int, headDim: Int) -> Int {
    rowCapacity * (2 * channels + wideChannels) + WindowAttentionBias.scratchFloats(tokens: tokens, headDim: headDim)
  }

  var slotFloats: Int { rowCapacity * (2 * channelCapacity + wideCapacity) + attentionCapacity }

  /// Bytes held.
  package var bytes: Int { storage.count * MemoryLayout<Float>.stride }
}

/// Runs one block on the windows listed in `keptWindows[0..<keptCount]` and leaves every other
/// token of `activations` untouched.
///
/// - Parameters:
///   - activations: `[batch, grid.height, grid.width, channels]`, updated in place.
///   - keptWindows: window ids `image · grid.windowCount + window`, ascending, no repeats.
///   - threads: workers to use (≤ `scratch.workers`).
package func runWindowBlock(
  _ activations: inout Tensor,
  weights: WindowBlockWeights, grid: WindowGrid, bias: WindowAttentionBias,
  keptWindows: [Int32], keptCount: Int,
  scratch: BlockScratch, threads: Int, profiler: Profiler? = nil
) {
  let channels = weights.channels
  precondition(
    activations.rank == 4 && activations.shape[1] == grid.height && activations.shape[2] == grid.width
      && activations.shape[3] == channels,
    "runWindowBlock: activations \(activations.shape) vs grid \(grid.height)x\(grid.width)x\(channels)")
  precondition(
    bias.tokens == grid.windowTokens && bias.heads == weights.heads, "runWindowBlock: bias table does not fit the grid")
  precondition(keptCount >= 0 && keptCount <= keptWindows.count, "runWindowBlock: keptCount \(keptCount)")
  precondition(
    threads >= 1 && threads <= scratch.workers, "runWindowBlock: threads \(threads) vs scratch \(scratch.workers)")
  precondition(
    channels <= scratch.channelCapacity && max(3 * channels, weights.hiddenChannels) <= scratch.wideCapacity
      && WindowAttentionBias.scratchFloats(tokens: grid.windowTokens, headDim: weights.headDim)
        <= scratch.attentionCapacity
      && grid.windowTokens <= scratch.rowCapacity,
    "runWindowBlock: scratch too small for this block")
  if keptCount == 0 { return }

  withWorkerClock(profiler) { clock in
    activations.values.withUnsafeMutableBufferPointer { xBuffer in
      weights.parameters.withUnsafeBufferPointer { pBuffer in
        bias.values.withUnsafeBufferPointer { biasBuffer in
          keptWindows.withUnsafeBufferPointer { keptBuffer in
            scratch.storage.withUnsafeMutableBufferPointer { scratchBuffer in
              let windowsPerTile = BlockKernel.windowsPerTile(
                kernel: weights.kernel, tokens: grid.windowTokens, threads: threads, rowCapacity: scratch.rowCapacity)
              let plan = BlockKernel.plan(
                keptCount: keptCount, threads: threads, windowsPerTile: windowsPerTile, tokens: grid.windowTokens,
                capacity: scratch.rowCapacity / grid.windowTokens)
              // The kernel for `count` kept windows from `first` on, in tiles or in one shared tile.
              func makeKernel(first: Int, count: Int, cooperative: Bool) -> BlockKernel {
                BlockKernel(
                  x: xBuffer.baseAddress!, parameters: pBuffer.baseAddress!, bias: biasBuffer.baseAddress!,
                  kept: keptBuffer.baseAddress! + first, keptCount: count, windowsPerTile: windowsPerTile,
                  cooperative: cooperative,
                  scratch: scratchBuffer.baseAddress!, scratchLayout: scratch, weights: weights, grid: grid,
                  biasLayout: bias, threads: threads, clock: clock)
              }
              if plan.tiled > 0 {
                var kernel = makeKernel(first: 0, count: plan.tiled, cooperative: false)
                scratch.nextClaim.store(0, ordering: .relaxed)
                parallelParts(min(threads, kernel.tileCount), &kernel) { raw, worker in
                  forkContext(raw, as: BlockKernel.self).pointee.runTiles(worker: worker)
                }
              }
              if plan.shared > 0 {
                // One tile in slot 0; the workers claim each operation's chunks, joined in between.
                var kernel = makeKernel(first: plan.tiled, count: plan.shared, cooperative: true)
                for step in 0..<BlockKernel.steps {
                  kernel.step = step
                  scratch.nextClaim.store(0, ordering: .relaxed)
                  parallelParts(threads, &kernel) { raw, worker in
                    forkContext(raw, as: BlockKernel.self).pointee.runCooperativeStep(worker: worker)
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

/// Everything one block's workers need: the scoped buffers' addresses, the block's sizes and the
/// tile plan. Lives only inside `runWindowBlock`'s buffer closures.
struct BlockKernel {
  let x: UnsafeMutablePointer<Float>  // [batch, height, width, channels]
  let p: UnsafePointer<Float>  // WindowBlockWeights.parameters
  let biasBase: UnsafePointer<Float>  // [classes, heads, tokens, paddedTokens]
  let kept: UnsafePointer<Int32>  // [keptCount] window ids
  let keptCount: Int
  let scratchBase: UnsafeMutablePointer<Float>
  let weights: WindowBlockWeights
  let grid: WindowGrid
  let clock: WorkerClock

  let channels: Int, heads: Int, headDim: Int, hidden: Int
  let tokens: Int, paddedTokens: Int, classStride: Int, windowCount: Int
  let normalizesPadding: Bool
  let wideStride: Int, slotFloats: Int, rowCapacity: Int, attentionCapacity: Int
  let threads: Int
  /// Tiles of at most `windowsPerTile` windows, a multiple of `threads` of them; 1 for the
  /// shared tile, whose operations are split by columns/rows over the workers (see `plan`).
  let tileCount: Int
  /// The shared tile's bf16 kernel when its GEMM steps read activations rounded once for all chunks
  /// (`vdpbf16ps` or its model; nil for tiles, f32 and AMX). Each step that writes a GEMM's input
  /// (LayerNorms, attention, GELU) rounds its own rows or columns of it into worker 1's slot, unused
  /// in this mode: every chunk of a 49-row shared tile otherwise rounded the whole input again (at
  /// 224, stage 3's rounding was half of all the forward's).
  let sharedPairs: BF16ISA?
  /// Cooperative mode: the operation the workers run next.
  var step = 0
  /// Where the tile or chunk counter lives (the scratch's `nextClaim`).
  let claims: BlockScratch

  /// The profile label of each step of `runStep`, in order.
  static let operations: [ProfileOperation] = [
    .gatherNorm, .qkv, .attention, .projection, .gatherNorm, .mlpUp, .mlpDown, .scatter,
  ]
  static let steps = operations.count
  /// Tiles thinner than this run OpenBLAS's GEMMs well below its peak (98 rows: ~10% slower per
  /// flop than 196 on Zen 3); fewer kept windows than that per worker share one tile. (With
  /// packed weights, thin tiles and the shared tile measured the same, so one rule serves both.)
  static let minimumTileRows = 196
  /// Output columns per chunk of a shared tile's GEMM (two 16-wide panels twice over; 6 chunks for
  /// 384 columns, 24 for 1536), rows per chunk of its row operations.
  static let chunkColumns = 64, chunkRows = 32

  init(
    x: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    kept: UnsafePointer<Int32>, keptCount: Int, windowsPerTile: Int, cooperative: Bool,
    scratch: UnsafeMutablePointer<Float>, scratchLayout: BlockScratch,
    weights: WindowBlockWeights, grid: WindowGrid, biasLayout: WindowAttentionBias, threads: Int, clock: WorkerClock
  ) {
    self.x = x
    self.p = parameters
    self.biasBase = bias
    self.kept = kept
    self.keptCount = keptCount
    self.scratchBase = scratch
    self.weights = weights
    self.grid = grid
    self.clock = clock
    channels = weights.channels
    heads = weights.heads
    headDim = weights.headDim
    hidden = weights.hiddenChannels
    tokens = grid.windowTokens
    paddedTokens = biasLayout.paddedTokens
    classStride = heads * tokens * paddedTokens
    windowCount = grid.windowCount
    normalizesPadding = grid.semantics.normalizesPadding
    wideStride = max(3 * channels, hidden)
    claims = scratchLayout
    slotFloats = scratchLayout.slotFloats
    rowCapacity = scratchLayout.rowCapacity
    attentionCapacity = scratchLayout.attentionCapacity
    self.threads = threads
    if cooperative, threads > 1, headDim % 2 == 0, let isa = weights.kernel.bf16ISA, isa != .amx {
      sharedPairs = isa
    } else {
      sharedPairs = nil
    }
    tileCount =
      cooperative
      ? 1 : BlockKernel.tileCount(keptCount: keptCount, windowsPerTile: windowsPerTile, threads: threads)
  }

  /// Tiles for `keptCount` windows of at most `windowsPerTile` each: with several workers, a
  /// multiple of `threads` of them (at most one per window), so every worker gets the same count.
  static func tileCount(keptCount: Int, windowsPerTile: Int, threads: Int) -> Int {
    let minimumTiles = (keptCount + windowsPerTile - 1) / windowsPerTile
    return threads > 1 ? min(keptCount, (minimumTiles + threads - 1) / threads * threads) : minimumTiles
  }

  /// Windows per tile: as many as make `kernel.preferredTileRows` rows, at least `threads` (so a
  /// shared tile of fewer windows than workers always fits) and at most what the scratch holds.
  static func windowsPerTile(kernel: BlockMatrixKernel, tokens: Int, threads: Int, rowCapacity: Int) -> Int {
    min(rowCapacity / tokens, max(threads, kernel.preferredTileRows / tokens))
  }

  /// How a block's `keptCount` windows are run: the first `tiled` in tiles (a multiple of `threads`
  /// of them, so every worker gets the same share), the other `shared` in one shared tile whose
  /// operations the workers run in chunks they claim.
  ///
  /// All windows share one tile when they fit in it (`capacity` windows) and are fewer than two per
  /// worker: tiles would each read the whole block's weights, which at the last stage come from
  /// memory (3 kept windows at 672: 2 tiles and a shared window read them 3 times; one shared tile
  /// once, 2–5% faster in paired runs). They also share one when tiles would leave workers unequal
  /// or thin (under `minimumTileRows` rows each, where OpenBLAS's per-call packing of the weights
  /// dominates). Otherwise the `keptCount mod threads` windows left over share a tile after the
  /// others (9 windows on 2 workers: 4 each, then 1 together), so no worker waits while another runs
  /// an extra window. One tile per worker beats the shared tile when the workers run at the same
  /// speed (224, stage 2: 4 windows, 2.5–5% faster in paired runs), since each keeps its rows in
  /// its own cache.
  static func plan(
    keptCount: Int, threads: Int, windowsPerTile: Int, tokens: Int, capacity: Int
  ) -> (tiled: Int, shared: Int) {
    precondition(
      keptCount >= 0 && threads >= 1 && windowsPerTile >= threads && capacity >= windowsPerTile,
      "BlockKernel.plan: \(keptCount) \(threads) \(windowsPerTile) \(capacity)")
    if threads == 1 { return (keptCount, 0) }
    if keptCount < 2 * threads && keptCount <= capacity { return (0, keptCount) }
    if keptCount <= windowsPerTile
      && (keptCount % threads != 0 || keptCount / threads * tokens < minimumTileRows)
    {
      return (0, keptCount)
    }
    let leftOver = keptCount % threads
    return (keptCount - leftOver, leftOver)
  }

  // MARK: Buffers of the tile held in `slot`

  @inline(__always) func residual(_ slot: Int) -> UnsafeMutablePointer<Float> { scratchBase + slot * slotFloats }
  @inline(__always) func normed(_ slot: Int) -> UnsafeMutablePointer<Float> {
    scratchBase + slot * slotFloats + rowCapacity * channels
  }
  @inline(__always) func wide(_ slot: Int) -> UnsafeMutablePointer<Float> {
    scratchBase + slot * slotFloats + 2 * rowCapacity * channels
  }
  /// The shared tile's rounded GEMM inputs (`sharedPairs`): `[rows, ⌈C/2⌉]` pairs of the
  /// LayerNorm and attention outputs, `[rows, ⌈hidden/2⌉]` of the GELU output.
  @inline(__always) func narrowPairs() -> UnsafeMutablePointer<UInt32> {
    UnsafeMutableRawPointer(normed(1)).assumingMemoryBound(to: UInt32.self)
  }
  @inline(__always) func widePairs() -> UnsafeMutablePointer<UInt32> {
    UnsafeMutableRawPointer(wide(1)).assumingMemoryBound(to: UInt32.self)
  }

  /// With `sharedPairs`: rows `rows` × columns `columns` (even start) of `a` (`lda` apart) rounded
  /// into `pairs` (`ldr` pairs apart).
  @inline(__always)
  func shareRounded(
    _ a: UnsafePointer<Float>, lda: Int, rows: Range<Int>, columns: Range<Int>,
    into pairs: UnsafeMutablePointer<UInt32>, ldr: Int
  ) {
    guard let isa = sharedPairs, !rows.isEmpty else { return }
    roundRowsToBF16(
      rows: rows.count, inner: columns.count, a + rows.lowerBound * lda + columns.lowerBound, lda: lda,
      into: pairs + rows.lowerBound * ldr + columns.lowerBound / 2, ldr: ldr, isa: isa)
  }

  @inline(__always) func attentionScratch(_ worker: Int) -> UnsafeMutablePointer<Float> {
    scratchBase + (worker + 1) * slotFloats - attentionCapacity
  }

  /// The offset (in floats) of the pixel token `token` of kept window `windowId` reads, or −1 for
  /// padding (`WindowGrid.sourcePixel`).
  @inline(__always)
  func source(_ windowId: Int, _ token: Int) -> Int {
    let image = windowId / windowCount
    guard let pixel = grid.sourcePixel(window: windowId - image * windowCount, token: token) else { return -1 }
    return (image * grid.height * grid.width + pixel) * channels
  }

  // MARK: Schedules

  /// Tile mode: the worker claims tiles in order and runs the whole block on each in its slot.
  func runTiles(worker: Int) {
    while true {
      let tile = claims.nextClaim.wrappingAdd(1, ordering: .relaxed).oldValue
      if tile >= tileCount { return }
      let windows = largerFirstPartRange(keptCount, part: tile, parts: tileCount)
      let first = windows.lowerBound, count = windows.count
      var t = clock.start()
      for step in 0..<BlockKernel.steps {
        runStep(step, first: first, count: count, slot: worker, part: 0, parts: 1, worker: worker)
        t = clock.lap(BlockKernel.operations[step], worker: worker, since: t)
      }
    }
  }

  /// Cooperative mode: the worker claims chunks of operation `step` on the shared tile (slot 0)
  /// until none is left.
  func runCooperativeStep(worker: Int) {
    let start = clock.start()
    let chunks = chunkCount(step)
    while true {
      let chunk = claims.nextClaim.wrappingAdd(1, ordering: .relaxed).oldValue
      if chunk >= chunks { break }
      runStep(step, first: 0, count: keptCount, slot: 0, part: chunk, parts: chunks, worker: worker)
    }
    clock.lap(BlockKernel.operations[step], worker: worker, since: start)
  }

  /// Chunks of operation `step` on the shared tile: `chunkColumns` output columns of a GEMM, one
  /// (window, head) pair of the attention, `chunkRows` rows of the others; at least one per worker.
  /// OpenBLAS packs its operands again on every call, so its GEMMs keep one chunk per worker.
  func chunkCount(_ step: Int) -> Int {
    let columns: Int
    switch step {
    case 1: columns = 3 * channels
    case 3, 6: columns = channels
    case 5: columns = hidden
    case 2: return keptCount * heads
    default: return max(threads, keptCount * tokens / BlockKernel.chunkRows)
    }
    if case .openBLAS = weights.kernel { return threads }
    return max(threads, columns / BlockKernel.chunkColumns)
  }

  /// Runs operation `step` of the block's `steps`, in order, on `part` of `parts` of the tile of kept
  /// windows `first ..< first + count` held in `slot` (profiled as `operations[step]`).
  @inline(__always)
  func runStep(_ step: Int, first: Int, count: Int, slot: Int, part: Int, parts: Int, worker: Int) {
    switch step {
    case 0: gatherNorm(first: first, count: count, slot: slot, part: part, parts: parts)
    case 1: queryKeyValue(count: count, slot: slot, part: part, parts: parts)
    case 2: attention(first: first, count: count, slot: slot, part: part, parts: parts, worker: worker)
    case 3: projection(count: count, slot: slot, part: part, parts: parts)
    case 4: secondNorm(count: count, slot: slot, part: part, parts: parts)
    case 5: mlpUp(count: count, slot: slot, part: part, parts: parts)
    case 6: mlpDown(count: count, slot: slot, part: part, parts: parts)
    default: scatter(first: first, count: count, slot: slot, part: part, parts: parts)
    }
  }

  // MARK: The block's operations on one tile, each over its `part` of `parts`

  /// `c[:, columns] = a[m, k] · w[columns, :]ᵀ + beta · c[:, columns]` for the matrix
  /// `w [outputs, k]` at float `weight` of the parameters; `columns` starts at a multiple of 16.
  /// With `sharedPairs`, `rounded` (`⌈k/2⌉` pairs per row) is `a` already rounded.
  @inline(__always)
  func multiply(
    rows m: Int, columns: Range<Int>, inner k: Int, _ a: UnsafePointer<Float>, lda: Int,
    rounded: UnsafePointer<UInt32>, weight: Int, outputs: Int, beta: Float, into c: UnsafeMutablePointer<Float>,
    ldc: Int
  ) {
    let pairs = weights.bf16Matrices?.base
    if let isa = sharedPairs, let pairs {
      multiplyRoundedPanelsBF16(
        rows: m, columns: columns.count, inner: k, rounded: rounded, ldr: (k + 1) / 2, packed: pairs + weight,
        outputs: outputs, first: columns.lowerBound, beta: beta, into: c + columns.lowerBound, ldc: ldc, isa: isa)
      return
    }
    multiplyStored(
      kernel: weights.kernel, rows: m, columns: columns.count, inner: k, a, lda: lda,
      floats: pairs == nil ? p + weight : nil, pairs: pairs.map { $0 + weight }, outputs: outputs,
      first: columns.lowerBound, beta: beta, into: c + columns.lowerBound, ldc: ldc)
  }

  /// Gathers the tile's tokens into `residual` and LN1 of them into `normed`. A padding token is
  /// zero in `residual`; in `normed` it is zero, or LN1 of zero (its bias β) when the semantics pads
  /// before LN1.
  func gatherNorm(first: Int, count: Int, slot: Int, part: Int, parts: Int) {
    let rows = partRange(count * tokens, part: part, parts: parts)
    let r = residual(slot), y = normed(slot)
    for row in rows {
      let offset = source(Int(kept[first + row / tokens]), row % tokens)
      let residualRow = r + row * channels, normedRow = y + row * channels
      if offset < 0 {
        residualRow.update(repeating: 0, count: channels)
        if normalizesPadding {
          normedRow.update(from: p + weights.norm1Bias, count: channels)
        } else {
          normedRow.update(repeating: 0, count: channels)
        }
      } else {
        residualRow.update(from: x + offset, count: channels)
        layerNormRow(
          residualRow, count: channels, gamma: p + weights.norm1Weight, beta: p + weights.norm1Bias,
          epsilon: weights.epsilon1, into: normedRow)
      }
    }
    shareRounded(y, lda: channels, rows: rows, columns: 0..<channels, into: narrowPairs(), ldr: (channels + 1) / 2)
  }

  /// `wide[:, 0..<3C] = normed · Wqkvᵀ` (biases are added inside the attention).
  func queryKeyValue(count: Int, slot: Int, part: Int, parts: Int) {
    let columns = alignedPartRange(3 * channels, part: part, parts: parts, alignment: PackedPanels.width)
    multiply(
      rows: count * tokens, columns: columns, inner: channels, normed(slot), lda: channels, rounded: narrowPairs(),
      weight: weights.qkvWeight, outputs: 3 * channels, beta: 0, into: wide(slot), ldc: wideStride)
  }

  /// Window attention of every (window, head) pair of the part, into `normed` (in the bf16 precision,
  /// with bf16 products on the linear layers' bf16 kernel).
  func attention(first: Int, count: Int, slot: Int, part: Int, parts: Int, worker: Int) {
    let pairs = partRange(count * heads, part: part, parts: parts)
    let qkv = wide(slot), out = normed(slot)
    for pair in pairs {
      let window = pair / heads, head = pair - pair / heads * heads
      let windowId = Int(kept[first + window])
      let maskClass = grid.maskClass(ofWindow: windowId % windowCount)
      let rows = qkv + window * tokens * wideStride + head * headDim
      attendWindowHead(
        query: rows, key: rows + channels, value: rows + 2 * channels,
        rowStride: wideStride,
        queryBias: p + weights.qkvBias + head * headDim,
        keyBias: p + weights.qkvBias + channels + head * headDim,
        valueBias: p + weights.qkvBias + 2 * channels + head * headDim,
        tokens: tokens, paddedTokens: paddedTokens, headDim: headDim,
        bias: biasBase + maskClass * classStride + head * tokens * paddedTokens,
        scratch: attentionScratch(worker),
        into: out + window * tokens * channels + head * headDim, outputStride: channels,
        bf16: weights.kernel.bf16ISA)
      shareRounded(
        out, lda: channels, rows: window * tokens..<(window + 1) * tokens,
        columns: head * headDim..<(head + 1) * headDim, into: narrowPairs(), ldr: (channels + 1) / 2)
    }
  }

  /// `residual += attention · Wprojᵀ` (the projection bias is added with LN2).
  func projection(count: Int, slot: Int, part: Int, parts: Int) {
    let columns = alignedPartRange(channels, part: part, parts: parts, alignment: PackedPanels.width)
    multiply(
      rows: count * tokens, columns: columns, inner: channels, normed(slot), lda: channels, rounded: narrowPairs(),
      weight: weights.projWeight, outputs: channels, beta: 1, into: residual(slot), ldc: channels)
  }

  /// `residual += projection bias`, then LN2 of it into `normed`.
  func secondNorm(count: Int, slot: Int, part: Int, parts: Int) {
    let rows = partRange(count * tokens, part: part, parts: parts)
    let r = residual(slot), y = normed(slot)
    for row in rows {
      let residualRow = r + row * channels
      addRow(residualRow, p + weights.projBias, count: channels)
      layerNormRow(
        residualRow, count: channels, gamma: p + weights.norm2Weight, beta: p + weights.norm2Bias,
        epsilon: weights.epsilon2, into: y + row * channels)
    }
    shareRounded(y, lda: channels, rows: rows, columns: 0..<channels, into: narrowPairs(), ldr: (channels + 1) / 2)
  }

  /// `wide[:, part] = GELU(normed · W1ᵀ + b1)` for the part's hidden columns.
  func mlpUp(count: Int, slot: Int, part: Int, parts: Int) {
    let columns = alignedPartRange(hidden, part: part, parts: parts, alignment: PackedPanels.width)
    let h = wide(slot)
    let rows = count * tokens
    multiply(
      rows: rows, columns: columns, inner: channels, normed(slot), lda: channels, rounded: narrowPairs(),
      weight: weights.fc1Weight, outputs: hidden, beta: 0, into: h, ldc: wideStride)
    for row in 0..<rows {
      addBiasGELU(
        h + row * wideStride + columns.lowerBound, bias: p + weights.fc1Bias + columns.lowerBound,
        count: columns.count)
    }
    shareRounded(h, lda: wideStride, rows: 0..<rows, columns: columns, into: widePairs(), ldr: (hidden + 1) / 2)
  }

  /// `residual += hidden · W2ᵀ` (the fc2 bias is added in the scatter).
  func mlpDown(count: Int, slot: Int, part: Int, parts: Int) {
    let columns = alignedPartRange(channels, part: part, parts: parts, alignment: PackedPanels.width)
    multiply(
      rows: count * tokens, columns: columns, inner: hidden, wide(slot), lda: wideStride, rounded: widePairs(),
      weight: weights.fc2Weight, outputs: channels, beta: 1, into: residual(slot), ldc: channels)
  }

  /// Writes `residual + fc2 bias` back to the map for every non-padding token.
  func scatter(first: Int, count: Int, slot: Int, part: Int, parts: Int) {
    let rows = partRange(count * tokens, part: part, parts: parts)
    let r = residual(slot)
    for row in rows {
      let offset = source(Int(kept[first + row / tokens]), row % tokens)
      if offset >= 0 {
        addRow(r + row * channels, p + weights.fc2Bias, into: x + offset, count: channels)
      }
    }
  }
}
