// Everything a forward pass writes, sized once per (batch, height, width, threads) and reused:
// stage activations, per-worker scratch, window geometry and bias tables, pruning buffers. A pool
// hands each concurrent forward its own workspace, so the model itself stays immutable.
import Engine

/// What determines a workspace's sizes.
struct WorkspaceKey: Hashable, Sendable {
  let batch: Int
  let height: Int
  let width: Int
  let threads: Int
  /// How the blocks pad, roll and clamp their windows.
  let semantics: WindowSemantics
}

/// Windows a worker's tile can hold (rows = windows · tokens per window): the longest tile any
/// block kernel asks for (`BlockMatrixKernel.preferredTileRows`, 392 rows for OpenBLAS).
let tileWindows = 8

/// Scratch and geometry for one forward shape.
final class Workspace: @unchecked Sendable {
  let key: WorkspaceKey
  /// Token map of each stage.
  let sizes: [(height: Int, width: Int)]
  /// `[stage][block % 2]`: the unshifted and the shifted window grid of each stage.
  let grids: [[WindowGrid]]
  /// `[stage][block]`: relative position bias plus shift mask of each block at its grid.
  let biases: [[WindowAttentionBias]]
  /// `[stage]`: `[batch, H_s, W_s, C_s]`, each block updates its stage's map in place.
  var activations: [Tensor]
  let blockScratch: BlockScratch
  let rowScratch: RowScratch
  /// Kept window ids of the current block (`image · nW + window`), ascending.
  var kept: [Int32]
  /// Mean |x| per token of the current stage, `[batch, H_s, W_s]`.
  var activity: [Float]
  /// Window scores of one grid, `[batch, nW]`.
  var scores: [Double]
  /// `[block % 2]`: per image, windows ordered by descending score (`[batch, nW]`).
  var rankings: [[Int32]]
  /// `[batch, C_last]`.
  var pooled: Tensor

  convenience init(model: SwinTransformer, key: WorkspaceKey) {
    self.init(configuration: model.configuration, key: key) { stage, block in
      let weights = model.stages[stage].blocks[block]
      return (weights.table, weights.tableSide)
    }
  }

  /// A workspace for `configuration`; `table(stage, block)` is a block's relative position bias
  /// table, `[side·side, heads]`, with its side.
  init(
    configuration: SwinConfiguration, key: WorkspaceKey,
    table: (_ stage: Int, _ block: Int) -> (values: [Float], side: Int)
  ) {
    let plan = WorkspacePlan(configuration, key: key)
    self.key = key
    sizes = plan.sizes
    grids = plan.grids
    biases = plan.grids.enumerated().map { stage, pair in
      let heads = configuration.heads[stage]
      return (0..<configuration.depths[stage]).map { block in
        let grid = pair[block % 2]
        let stored = table(stage, block)
        let resized = resizedRelativePositionTable(
          stored.values, side: stored.side, heads: heads, windowHeight: grid.windowHeight,
          windowWidth: grid.windowWidth)
        return WindowAttentionBias(table: resized, heads: heads, grid: grid)
      }
    }
    activations = plan.sizes.enumerated().map { stage, size in
      Tensor(shape: [key.batch, size.height, size.width, configuration.channels(stage: stage)])
    }
    let scratch = plan.scratch
    blockScratch = BlockScratch(
      workers: key.threads, rowCapacity: scratch.rows, channels: scratch.channels,
      wideChannels: scratch.wide, tokens: plan.maxTokens, headDim: scratch.headDim)
    rowScratch = RowScratch(workers: key.threads, floatsPerWorker: scratch.rowFloats)
    kept = [Int32](repeating: 0, count: key.batch * plan.maxWindows)
    activity = [Float](repeating: 0, count: key.batch * plan.maxPixels)
    scores = [Double](repeating: 0, count: key.batch * plan.maxWindows)
    rankings = [[Int32]](repeating: [Int32](repeating: 0, count: key.batch * plan.maxWindows), count: 2)
    pooled = Tensor(shape: [key.batch, configuration.featureChannels])
  }

  /// Bytes a workspace for this shape would allocate, computed without allocating it. Saturates at
  /// `Int.max` for shapes no machine could hold (any size and batch is safe to ask about).
  static func estimatedBytes(_ configuration: SwinConfiguration, key: WorkspaceKey) -> Int {
    WorkspacePlan(configuration, key: key).bytes
  }

  /// Bytes held, counted from the buffers themselves.
  var bytes: Int {
    let tensors = activations.reduce(0) { $0 + $1.count } + pooled.count
    return 4 * (tensors + activity.count + kept.count + rankings.joined().count) + 8 * scores.count
      + blockScratch.bytes + rowScratch.bytes + biases.joined().reduce(0) { $0 + $1.bytes }
  }
}

/// Every size a workspace allocates for one shape, computed without allocating: `Workspace.init`
/// sizes its buffers from it and `estimatedBytes` sums its `buffers`, so the two cannot drift.
/// A new buffer goes into `buffers` and into `Workspace.init`; the estimate test checks both.
struct WorkspacePlan {
  /// Token map of each stage.
  let sizes: [(height: Int, width: Int)]
  /// `[stage][block % 2]`: the unshifted and the shifted window grid of each stage.
  let grids: [[WindowGrid]]
  let maxWindows: Int
  let maxTokens: Int
  let maxPixels: Int
  /// Per-worker scratch: tile rows, widest channels, widest `max(3C, hidden)`, head dim, and the
  /// floats of a stem/merge row chunk.
  let scratch: (rows: Int, channels: Int, wide: Int, headDim: Int, rowFloats: Int)
  /// Every buffer: what it holds, its element count (saturating) and its element size in bytes.
  let buffers: [(name: String, count: Saturating, elementBytes: Int)]

  init(_ configuration: SwinConfiguration, key: WorkspaceKey) {
    sizes = configuration.stageSizes(height: key.height, width: key.width)
    grids = sizes.map { size in
      [false, true].map {
        WindowGrid(
          height: max(size.height, 1), width: max(size.width, 1), window: configuration.window,
          shifted: $0, semantics: key.semantics)
      }
    }
    maxWindows = grids.joined().map(\.windowCount).max() ?? 1
    maxTokens = grids.joined().map(\.windowTokens).max() ?? 1
    let pixels = sizes.map { Saturating(max($0.height, 1)) * max($0.width, 1) }
    maxPixels = (pixels.max() ?? Saturating(1)).value
    scratch = Self.scratchShape(configuration, threads: key.threads, maxTokens: maxTokens)

    let batch = key.batch, threads = key.threads
    var buffers: [(name: String, count: Saturating, elementBytes: Int)] = []
    for stage in sizes.indices {
      let channels = configuration.channels(stage: stage)
      buffers.append(("activations \(stage)", pixels[stage] * batch * channels, 4))
      for block in 0..<configuration.depths[stage] {
        let grid = grids[stage][block % 2]
        let floats = WindowAttentionBias.floatCount(heads: configuration.heads[stage], grid: grid)
        buffers.append(("bias \(stage).\(block)", Saturating(floats), 4))
      }
    }
    let slot = BlockScratch.slotFloats(
      rowCapacity: scratch.rows, channels: scratch.channels, wideChannels: scratch.wide,
      tokens: maxTokens, headDim: scratch.headDim)
    buffers += [
      ("block scratch", Saturating(slot) * threads, 4),
      ("row scratch", Saturating(scratch.rowFloats) * threads, 4),
      ("kept", Saturating(maxWindows) * batch, 4),
      ("activity", Saturating(maxPixels) * batch, 4),
      ("scores", Saturating(maxWindows) * batch, 8),
      ("rankings", Saturating(maxWindows) * batch * 2, 4),
      ("pooled", Saturating(batch) * configuration.featureChannels, 4),
    ]
    self.buffers = buffers
  }

  /// Bytes of all buffers, saturating at `Int.max`.
  var bytes: Int { buffers.reduce(Saturating(0)) { $0 + $1.count * $1.elementBytes }.value }

  /// Sizes of the per-worker scratch for a model and thread count.
  private static func scratchShape(
    _ configuration: SwinConfiguration, threads: Int, maxTokens: Int
  ) -> (rows: Int, channels: Int, wide: Int, headDim: Int, rowFloats: Int) {
    let stages = 0..<configuration.stageCount
    let channels = configuration.featureChannels
    let wide = stages.map { max(3 * configuration.channels(stage: $0), configuration.hiddenChannels[$0]) }.max() ?? 0
    let headDim = stages.map { configuration.channels(stage: $0) / configuration.heads[$0] }.max() ?? 1
    // A cooperative tile holds up to threads − 1 windows, a normal tile `tileWindows`.
    let rows = max(tileWindows, threads) * maxTokens
    let stemFloats = rowChunk * configuration.inputChannels * configuration.patchSize * configuration.patchSize
    let mergeFloats = stages.dropFirst().map { rowChunk * 4 * configuration.channels(stage: $0 - 1) }.max() ?? 0
    let rowFloats = max(stemFloats, mergeFloats, channels)
    return (rows, channels, wide, headDim, rowFloats)
  }
}

/// Idle workspaces by shape, handed to one forward at a time.
final class WorkspacePool: Sendable {
  private let idle = Locked<[Workspace]>([])
  /// Idle workspaces kept for reuse; the least recently returned go first.
  let capacity = 4

  /// An idle workspace for `key`, or nil.
  func checkout(_ key: WorkspaceKey) -> Workspace? {
    idle.withLock { idle in
      guard let index = idle.lastIndex(where: { $0.key == key }) else { return nil }
      return idle.remove(at: index)
    }
  }

  /// Returns a workspace for reuse.
  func giveBack(_ workspace: Workspace) {
    idle.withLock { idle in
      idle.append(workspace)
      if idle.count > capacity { idle.removeFirst() }
    }
  }
}

/// Non-negative integer arithmetic that sticks at `Int.max` instead of trapping on overflow.
struct Saturating: Comparable {
  let value: Int

  init(_ value: Int) { self.value = value }

  static func + (a: Saturating, b: Saturating) -> Saturating {
    let (sum, overflow) = a.value.addingReportingOverflow(b.value)
    return Saturating(overflow ? Int.max : sum)
  }

  static func + (a: Saturating, b: Int) -> Saturating { a + Saturating(b) }

  static func * (a: Saturating, b: Int) -> Saturating {
    let (product, overflow) = a.value.multipliedReportingOverflow(by: b)
    return Saturating(overflow ? Int.max : product)
  }

  static func < (a: Saturating, b: Saturating) -> Bool { a.value < b.value }
}
