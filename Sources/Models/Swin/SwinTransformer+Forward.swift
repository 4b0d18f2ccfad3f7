// The forward pass: stem, then per stage the merge and the blocks, each block on the windows its
// pruning ratio keeps (SPARSEVIT.md, "Window activation pruning"), then the head. Importance is
// scored once per stage at its first pruned block; later blocks keep a prefix of the same ranking.
import Engine
import Foundation

/// Options of one forward pass.
public struct ForwardOptions: Sendable {
  /// Workers (default: every online processor).
  public var threads: Int
  /// Whether to return the four stage feature maps.
  public var collectStages: Bool
  /// Whether to return which windows each pruned block kept.
  public var collectWindows: Bool
  /// Receives per-operation timings when set.
  public var profiler: Profiler?
  /// Refuse shapes whose workspace would need more bytes than this (default: half of physical memory).
  public var memoryBudget: Int
  /// How blocks pad, roll and clamp their windows; nil: the model's `windowSemantics`.
  public var windowSemantics: WindowSemantics?

  /// Options with defaults: all cores, logits only, no profiling, half of physical memory.
  public init(
    threads: Int = defaultThreadCount, collectStages: Bool = false, collectWindows: Bool = false,
    profiler: Profiler? = nil, memoryBudget: Int = ForwardOptions.defaultMemoryBudget,
    windowSemantics: WindowSemantics? = nil
  ) {
    self.threads = threads
    self.collectStages = collectStages
    self.collectWindows = collectWindows
    self.profiler = profiler
    self.memoryBudget = memoryBudget
    self.windowSemantics = windowSemantics
  }

  /// Half of the machine's physical memory.
  public static var defaultMemoryBudget: Int {
    Int(min(ProcessInfo.processInfo.physicalMemory / 2, UInt64(Int.max)))
  }
}

/// Kept and total windows of one block, summed over the batch.
public struct WindowUsage: Sendable, Equatable {
  /// Windows the block computed.
  public let kept: Int
  /// Windows of the block's grid (padded map), over the batch.
  public let total: Int
}

/// What a forward pass returns.
public struct SwinOutput: Sendable {
  /// `[batch, classes]`, nil for a backbone without head.
  public let logits: Tensor?
  /// `[batch, C_last]`: final-normed tokens averaged over the map (the head's input).
  public let pooledFeatures: Tensor
  /// When requested: the raw output of each stage, `[batch, H_s, W_s, C_s]` (NHWC).
  public let stages: [Tensor]
  /// When requested and the checkpoint has them (mmdet): each stage output after its own norm.
  public let normalizedStages: [Tensor]
  /// `[stage][block]`: windows computed and windows in total, summed over the batch.
  public let windowUsage: [[WindowUsage]]
  /// When requested: `[stage][block]` → per image the kept window indices, ascending (row-major
  /// over the block's rolled, padded map), or nil for a block that ran on every window.
  public let keptWindows: [[[[Int]]?]]
}

/// Why a forward pass was refused. Nothing is computed or allocated when one is thrown.
public enum InferenceError: Error, Equatable, CustomStringConvertible {
  /// The input is not `[batch ≥ 1, channels, height, width]`.
  case inputShape([Int])
  /// The input's channel count is not the model's.
  case inputChannels(expected: Int, actual: Int)
  /// A side is below the model's minimum (patch size × 2^(stages − 1), 32 for Swin).
  case inputTooSmall(height: Int, width: Int, minimum: Int)
  /// The input holds NaN or ±infinity (count of such values).
  case nonFiniteInput(count: Int)
  /// The pruning ratios do not fit the model.
  case sparsity(SparsityError)
  /// The workspace for this shape would exceed `ForwardOptions.memoryBudget` (bytes).
  case memoryBudget(needed: Int, budget: Int)
  /// `ForwardOptions.threads` below 1.
  case threads(Int)

  public var description: String {
    switch self {
    case .inputShape(let shape): "input has shape \(shape), expected [batch, channels, height, width] with batch ≥ 1"
    case .inputChannels(let expected, let actual): "input has \(actual) channels, the model expects \(expected)"
    case .inputTooSmall(let height, let width, let minimum):
      "input is \(height)×\(width) pixels, the model needs at least \(minimum)×\(minimum)"
    case .nonFiniteInput(let count): "input contains \(count) NaN or infinite value(s)"
    case .sparsity(let error): error.description
    case .memoryBudget(let needed, let budget):
      "this input needs about \(megabytes(needed)) of working memory, over the budget of \(megabytes(budget))"
    case .threads(let count): "thread count must be at least 1, got \(count)"
    }
  }
}

func megabytes(_ bytes: Int) -> String {
  bytes == Int.max ? "more than any machine has" : String(format: "%.0f MB", Double(bytes) / 1_048_576)
}

extension SwinTransformer {
  /// Runs the model on `images` (`[batch, 3, height, width]`, NCHW, ImageNet-normalized) with the
  /// given per-block pruning ratios (nil: dense).
  public func forward(
    _ images: Tensor, sparsity: PruningRatios? = nil, options: ForwardOptions = ForwardOptions()
  ) throws(InferenceError) -> SwinOutput {
    let key = try validate(images, sparsity: sparsity, options: options)
    let workspace = try checkoutWorkspace(key, budget: options.memoryBudget)
    defer { workspaces.giveBack(workspace) }
    options.profiler?.beginForward()
    let output = run(images, ratios: sparsity, workspace: workspace, options: options)
    options.profiler?.endForward()
    return output
  }

  /// `forward` without a sparsity argument: `model(images)`.
  public func callAsFunction(_ images: Tensor, sparsity: PruningRatios? = nil) throws(InferenceError) -> SwinOutput {
    try forward(images, sparsity: sparsity)
  }

  /// Bytes of working memory a forward at this shape allocates (on top of the weights), in the
  /// model's window semantics unless `semantics` is given.
  public func workspaceBytes(
    batch: Int, height: Int, width: Int, threads: Int = defaultThreadCount, semantics: WindowSemantics? = nil
  ) -> Int {
    let key = WorkspaceKey(
      batch: batch, height: height, width: width, threads: threads, semantics: semantics ?? windowSemantics)
    return Workspace.estimatedBytes(configuration, key: key)
  }

  /// Checks a forward's arguments without allocating anything.
  func validate(
    _ images: Tensor, sparsity: PruningRatios?, options: ForwardOptions
  ) throws(InferenceError) -> WorkspaceKey {
    guard images.rank == 4, images.shape[0] >= 1 else { throw .inputShape(images.shape) }
    guard images.shape[1] == configuration.inputChannels else {
      throw .inputChannels(expected: configuration.inputChannels, actual: images.shape[1])
    }
    let height = images.shape[2], width = images.shape[3]
    let minimum = configuration.minimumInputSide
    guard height >= minimum, width >= minimum else {
      throw .inputTooSmall(height: height, width: width, minimum: minimum)
    }
    guard options.threads >= 1 else { throw .threads(options.threads) }
    if let ratios = sparsity, !ratios.fits(configuration.depths) {
      do {
        _ = try PruningRatios(ratios.ratios, depths: configuration.depths)
      } catch {
        throw .sparsity(error)
      }
    }
    let nonFinite = images.nonFiniteCount
    if nonFinite > 0 { throw .nonFiniteInput(count: nonFinite) }
    return WorkspaceKey(
      batch: images.shape[0], height: height, width: width, threads: options.threads,
      semantics: options.windowSemantics ?? windowSemantics)
  }

  func checkoutWorkspace(_ key: WorkspaceKey, budget: Int) throws(InferenceError) -> Workspace {
    if let workspace = workspaces.checkout(key) { return workspace }
    let needed = Workspace.estimatedBytes(configuration, key: key)
    if needed > budget { throw .memoryBudget(needed: needed, budget: budget) }
    return Workspace(model: self, key: key)
  }

  /// The forward on a checked-out workspace; `ratios` nil is dense. After the first call at a shape
  /// the only allocations are those of the returned output.
  private func run(_ images: Tensor, ratios: PruningRatios?, workspace: Workspace, options: ForwardOptions)
    -> SwinOutput
  {
    let threads = workspace.key.threads, batch = workspace.key.batch
    let profiler = options.profiler
    profiler?.beginStage(0)
    // A stage pruned from its first block is scored on the stem's or merge's output, which
    // computes the activity while its rows are in cache.
    func scoresFirstBlock(_ stage: Int) -> Bool { (ratios?.ratios[stage].first ?? 0) > 0 }
    if scoresFirstBlock(0) {
      embedPatches(
        images, weights: embedding, into: &workspace.activations[0], activity: &workspace.activity,
        scratch: workspace.rowScratch, threads: threads, profiler: profiler)
    } else {
      embedPatches(
        images, weights: embedding, into: &workspace.activations[0], scratch: workspace.rowScratch,
        threads: threads, profiler: profiler)
    }
    var usage: [[WindowUsage]] = []
    usage.reserveCapacity(stages.count)
    var keptWindows: [[[[Int]]?]] = []
    for (stageIndex, stage) in stages.enumerated() {
      if stageIndex > 0 { profiler?.beginStage(stageIndex) }
      if let merge = stage.merge {
        let input = workspace.activations[stageIndex - 1]
        if scoresFirstBlock(stageIndex) {
          mergePatches(
            input, weights: merge, into: &workspace.activations[stageIndex], activity: &workspace.activity,
            scratch: workspace.rowScratch, threads: threads, profiler: profiler)
        } else {
          mergePatches(
            input, weights: merge, into: &workspace.activations[stageIndex], scratch: workspace.rowScratch,
            threads: threads, profiler: profiler)
        }
      }
      var scoring = false
      var rankedUnshifted = false, rankedShifted = false
      var stageUsage: [WindowUsage] = []
      stageUsage.reserveCapacity(stage.blocks.count)
      var stageKept: [[[Int]]?] = []
      for (blockIndex, block) in stage.blocks.enumerated() {
        let ratio = ratios?.ratios[stageIndex][blockIndex] ?? 0
        let parity = blockIndex % 2
        let grid = workspace.grids[stageIndex][parity]
        let windows = grid.windowCount
        var keptCount = batch * windows
        if ratio > 0 && !scoring {
          scoring = true
          if blockIndex > 0 {  // block 0's activity came with the stem or the merge
            timed(.scoring, profiler) {
              meanAbsoluteActivation(workspace.activations[stageIndex], into: &workspace.activity, threads: threads)
            }
          }
        }
        if scoring {
          // Both parities share one ranking when the stage is too small to shift.
          let rankingIndex = workspace.grids[stageIndex][0] == grid ? 0 : parity
          if rankingIndex == 0 ? !rankedUnshifted : !rankedShifted {
            if rankingIndex == 0 { rankedUnshifted = true } else { rankedShifted = true }
            timed(.scoring, profiler) { rankWindows(workspace, grid: grid, batch: batch, into: rankingIndex) }
          }
          let keep = ratios?.keptWindows(stage: stageIndex, block: blockIndex, windows: windows) ?? windows
          timed(.scoring, profiler) {
            selectWindows(workspace, ranking: rankingIndex, windows: windows, batch: batch, keep: keep)
          }
          keptCount = batch * keep
          if options.collectWindows {
            stageKept.append(
              (0..<batch).map { image in (0..<keep).map { Int(workspace.kept[image * keep + $0]) - image * windows } })
          }
        } else {
          if options.collectWindows { stageKept.append(nil) }
          for id in 0..<keptCount { workspace.kept[id] = Int32(id) }
        }
        runWindowBlock(
          &workspace.activations[stageIndex], weights: block.weights, grid: grid,
          bias: workspace.biases[stageIndex][blockIndex], keptWindows: workspace.kept, keptCount: keptCount,
          scratch: workspace.blockScratch, threads: threads, profiler: profiler)
        stageUsage.append(WindowUsage(kept: keptCount, total: batch * windows))
      }
      usage.append(stageUsage)
      if options.collectWindows { keptWindows.append(stageKept) }
    }
    var logits: Tensor? = nil
    timed(.head, profiler) {
      normalizedAveragePool(
        workspace.activations[stages.count - 1], norm: finalNorm, into: &workspace.pooled,
        scratch: workspace.rowScratch)
      if let head {
        var result = Tensor(shape: [batch, configuration.classes])
        head.run(workspace.pooled, into: &result, threads: threads)
        logits = result
      }
    }
    var stageOutputs: [Tensor] = []
    var normalized: [Tensor] = []
    if options.collectStages {
      stageOutputs = workspace.activations.map { Tensor(shape: $0.shape, values: Array($0.values[...])) }
      if let stageNorms {
        normalized = zip(stageOutputs, stageNorms).map { layerNorm($0, $1) }
      }
    }
    return SwinOutput(
      logits: logits,
      pooledFeatures: Tensor(shape: workspace.pooled.shape, values: Array(workspace.pooled.values[...])),
      stages: stageOutputs, normalizedStages: normalized, windowUsage: usage, keptWindows: keptWindows)
  }
}

/// Per image, window indices of `grid` by descending score (ties: lower index first), into
/// `workspace.rankings[slot]`.
private func rankWindows(_ workspace: Workspace, grid: WindowGrid, batch: Int, into slot: Int) {
  windowScores(workspace.activity, batch: batch, grid: grid, into: &workspace.scores)
  let windows = grid.windowCount
  for image in 0..<batch {
    let base = image * windows
    for window in 0..<windows { workspace.rankings[slot][base + window] = Int32(window) }
    let scores = workspace.scores
    heapSort(&workspace.rankings[slot], from: base, count: windows) { a, b in
      let sa = scores[base + Int(a)], sb = scores[base + Int(b)]
      return sa > sb || (sa == sb && a < b)
    }
  }
}

/// The first `keep` windows of each image's ranking, ascending, as global ids into `workspace.kept`.
private func selectWindows(_ workspace: Workspace, ranking slot: Int, windows: Int, batch: Int, keep: Int) {
  for image in 0..<batch {
    let from = image * windows, to = image * keep
    for i in 0..<keep { workspace.kept[to + i] = workspace.rankings[slot][from + i] + Int32(from) }
    heapSort(&workspace.kept, from: to, count: keep) { $0 < $1 }
  }
}

/// Times `body` as operation `op` on worker 0 (the calling thread) when profiling.
private func timed(_ op: ProfileOperation, _ profiler: Profiler?, _ body: () -> Void) {
  guard let profiler else {
    body()
    return
  }
  profiler.time(op, body)
}

/// In-place heap sort of `array[from..<from + count]` by `before`, without allocating.
func heapSort(_ array: inout [Int32], from: Int, count: Int, by before: (Int32, Int32) -> Bool) {
  func siftDown(_ start: Int, _ end: Int) {
    var root = start
    while 2 * root + 1 < end {
      var child = 2 * root + 1
      if child + 1 < end && before(array[from + child], array[from + child + 1]) { child += 1 }
      if before(array[from + root], array[from + child]) {
        array.swapAt(from + root, from + child)
        root = child
      } else {
        return
      }
    }
  }
  if count < 2 { return }
  for start in stride(from: count / 2 - 1, through: 0, by: -1) { siftDown(start, count) }
  for end in stride(from: count - 1, to: 0, by: -1) {
    array.swapAt(from, from + end)
    siftDown(0, end)
  }
}
