// Everything a forward pass writes, sized once per (batch, height, width, threads) and reused:
// stage activations, per-worker scratch, window geometry and bias tables, pruning buffers. A pool
// hands each concurrent forward its own workspace, so the model itself stays immutable.
import Engine
import Synchronization

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

  init(model: SwinTransformer, key: WorkspaceKey) {
    let configuration = model.configuration
    self.key = key
    let sizes = configuration.stageSizes(height: key.height, width: key.width)
    self.sizes = sizes
    var grids: [[WindowGrid]] = []
    var biases: [[WindowAttentionBias]] = []
    var activations: [Tensor] = []
    var maxWindows = 1, maxTokens = 1, maxPixels = 1
    for (stage, size) in sizes.enumerated() {
      let pair = [false, true].map {
        WindowGrid(
          height: size.height, width: size.width, window: configuration.window, shifted: $0, semantics: key.semantics)
      }
      grids.append(pair)
      biases.append(
        model.stages[stage].blocks.enumerated().map { block, weights in
          let grid = pair[block % 2]
          let table = resizedRelativePositionTable(
            weights.table, side: weights.tableSide, heads: weights.weights.heads,
            windowHeight: grid.windowHeight, windowWidth: grid.windowWidth)
          return WindowAttentionBias(table: table, heads: weights.weights.heads, grid: grid)
        })
      activations.append(Tensor(shape: [key.batch, size.height, size.width, configuration.channels(stage: stage)]))
      maxWindows = max(maxWindows, pair[0].windowCount, pair[1].windowCount)
      maxTokens = max(maxTokens, pair[0].windowTokens)
      maxPixels = max(maxPixels, size.height * size.width)
    }
    self.grids = grids
    self.biases = biases
    self.activations = activations
    let shape = Workspace.scratchShape(configuration, threads: key.threads, maxTokens: maxTokens)
    blockScratch = BlockScratch(
      workers: key.threads, rowCapacity: shape.rows, channels: shape.channels, wideChannels: shape.wide,
      tokens: maxTokens, headDim: shape.headDim)
    rowScratch = RowScratch(workers: key.threads, floatsPerWorker: shape.rowFloats)
    kept = [Int32](repeating: 0, count: key.batch * maxWindows)
    activity = [Float](repeating: 0, count: key.batch * maxPixels)
    scores = [Double](repeating: 0, count: key.batch * maxWindows)
    rankings = [[Int32]](repeating: [Int32](repeating: 0, count: key.batch * maxWindows), count: 2)
    pooled = Tensor(shape: [key.batch, configuration.featureChannels])
  }

  /// Sizes of the per-worker scratch for a model and thread count.
  static func scratchShape(
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

  /// Bytes a workspace for this shape would allocate, computed without allocating it. Saturates at
  /// `Int.max` for shapes no machine could hold (any size and batch is safe to ask about).
  static func estimatedBytes(_ configuration: SwinConfiguration, key: WorkspaceKey) -> Int {
    var total = Saturating(0)
    let sizes = configuration.stageSizes(height: key.height, width: key.width)
    var maxWindows = Saturating(1), maxPixels = Saturating(1)
    let clampedSide = key.semantics.clampsWindow ? max(sizes[0].height, sizes[0].width) : configuration.window
    let maxTokens = min(configuration.window, clampedSide) * configuration.window
    for (stage, size) in sizes.enumerated() {
      let pixels = Saturating(size.height) * size.width
      total = total + pixels * key.batch * configuration.channels(stage: stage) * 4  // activations
      let grid = WindowGrid(
        height: max(size.height, 1), width: max(size.width, 1), window: configuration.window, shifted: false,
        semantics: key.semantics)
      maxWindows = max(maxWindows, Saturating(grid.windowCount))
      maxPixels = max(maxPixels, pixels)
      let padded = (grid.windowTokens + 7) / 8 * 8
      // Bias tables: up to 4 mask classes per block.
      total = total + Saturating(configuration.depths[stage]) * 4 * configuration.heads[stage] * grid.windowTokens * padded * 4
    }
    let shape = scratchShape(configuration, threads: key.threads, maxTokens: maxTokens)
    let perWorker =
      Saturating(shape.rows) * (2 * shape.channels + shape.wide) + shape.rowFloats
      + Saturating(maxTokens) * (shape.headDim + maxTokens + 8)
    total = total + perWorker * key.threads * 4  // block and row scratch
    total = total + maxPixels * key.batch * 4  // activity map
    total = total + maxWindows * key.batch * (3 * 4 + 8)  // kept ids, rankings, scores
    return total.value
  }

  /// Bytes held.
  var bytes: Int {
    activations.reduce(0) { $0 + $1.count * 4 } + blockScratch.bytes + rowScratch.bytes
      + biases.joined().reduce(0) { $0 + $1.classes * $1.heads * $1.tokens * $1.paddedTokens * 4 }
      + kept.count * 4 + activity.count * 4 + scores.count * 8 + rankings.count * kept.count * 4 + pooled.count * 4
  }
}

/// Idle workspaces by shape, handed to one forward at a time.
final class WorkspacePool: Sendable {
  private let idle = Mutex<[Workspace]>([])
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
