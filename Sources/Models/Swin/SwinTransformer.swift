// Swin Transformer v1 (timm `swin_transformer.py` semantics) built from named weights, with
// SparseViT window activation pruning (mit-han-lab/sparsevit) as the one forward path: a dense
// forward is the pruned forward with every window kept.
import Engine
import Foundation

/// One transformer block: its weights and the relative position bias table it was trained with.
struct SwinBlock: Sendable {
  let weights: WindowBlockWeights
  /// `[side·side, heads]` relative position bias table for a square window (`side = 2w − 1`).
  let table: [Float]
  let tableSide: Int
}

/// One stage: an optional patch merge that opens it, then its blocks.
struct SwinStage: Sendable {
  let merge: PatchMergeWeights?
  let blocks: [SwinBlock]
}

/// An immutable Swin Transformer. Safe to share across threads and tasks: each forward checks out
/// its own workspace from a pool, so concurrent calls run in parallel without locking each other.
public struct SwinTransformer: Sendable {
  /// The architecture, inferred from the weights.
  public let configuration: SwinConfiguration
  /// The checkpoint layout the weights came in.
  public let layout: WeightLayout
  /// Where the weights came from (a path, or "seeded(…)").
  public let source: String
  /// How the blocks pad, roll and clamp their windows unless a forward asks otherwise: by default
  /// the semantics of the framework the layout comes from (`WeightLayout.windowSemantics`).
  public private(set) var windowSemantics: WindowSemantics
  /// How the blocks' linear layers are multiplied.
  package var blockKernel: BlockMatrixKernel { stages.first?.blocks.first?.weights.kernel ?? .preferred }
  /// The arithmetic of the blocks' linear layers, chosen at load.
  public var precision: Precision { blockKernel.precision }
  /// The micro-kernel of the blocks' linear layers (ISA and tile), as reports print it.
  public var kernelDescription: String { blockKernel.description }

  let embedding: PatchEmbedWeights
  let stages: [SwinStage]
  /// Final LayerNorm before pooling (timm `norm`; for mmdet backbones the last stage norm).
  let finalNorm: LayerNormWeights
  /// The classifier (timm `head.fc`); nil for backbones.
  let head: ClassifierHead?
  /// mmdet backbones: LayerNorm of each stage output (`backbone.norm0…3`).
  let stageNorms: [LayerNormWeights]?
  let workspaces: WorkspacePool

  /// Number of weights (parameters), the recomputed buffers excluded.
  public let parameterCount: Int

  /// Builds a model from named tensors in any supported layout (detected from the names).
  ///
  /// Loading is strict: every tensor the architecture needs must be present with the right shape,
  /// and every tensor present must be used, except the `relative_position_index`/`attn_mask`
  /// buffers (recomputed) and, in mmdet detector checkpoints, tensors outside `backbone.`.
  /// `windowSemantics` nil: the layout's (`WeightLayout.windowSemantics`).
  public init(
    tensors: [String: Tensor], source: String = "tensors", windowSemantics: WindowSemantics? = nil
  ) throws(WeightLoadError) {
    try self.init(tensors: tensors, source: source, kernel: .preferred)
    if let windowSemantics { self.windowSemantics = windowSemantics }
  }

  /// The same model (sharing its weights) run in `semantics` by default.
  public func withWindowSemantics(_ semantics: WindowSemantics) -> SwinTransformer {
    var model = self
    model.windowSemantics = semantics
    return model
  }

  /// The same, with the blocks' matrix kernel chosen (tests and kernel comparisons).
  package init(tensors: [String: Tensor], source: String, kernel: BlockMatrixKernel) throws(WeightLoadError) {
    BLAS.prepare()
    let canonical = try canonicalize(tensors)
    let configuration = try inferConfiguration(canonical.tensors, fileName: canonical.fileName)
    var bag = TensorBag(canonical.tensors)
    let names = requiredNames(configuration, layout: canonical.layout, available: canonical.tensors)
    let missing = names.filter { canonical.tensors[$0] == nil }
    let unexpected = Set(canonical.tensors.keys).subtracting(names)
    if !missing.isEmpty || !unexpected.isEmpty {
      throw .keys(
        missing: missing.map(canonical.fileName).sorted(), unexpected: unexpected.map(canonical.fileName).sorted())
    }
    for (name, tensor) in canonical.tensors where !tensor.values.allSatisfy({ $0.isFinite }) {
      throw .nonFinite(tensor: canonical.fileName(name))
    }
    do {
      try self.init(configuration: configuration, bag: &bag, layout: canonical.layout, source: source, kernel: kernel)
    } catch {
      throw .shape(ShapeError(name: canonical.fileName(error.name), expected: error.expected, actual: error.actual))
    }
  }

  private init(
    configuration: SwinConfiguration, bag: inout TensorBag, layout: WeightLayout, source: String,
    kernel: BlockMatrixKernel
  ) throws(ShapeError) {
    self.configuration = configuration
    self.layout = layout
    self.source = source
    windowSemantics = layout.windowSemantics
    let stem = configuration.embedDim
    embedding = try PatchEmbedWeights(
      weight: bag["patch_embed.proj.weight"], bias: bag["patch_embed.proj.bias"],
      norm: LayerNormWeights(
        weight: bag["patch_embed.norm.weight"], bias: bag["patch_embed.norm.bias"], channels: stem,
        name: "patch_embed.norm"),
      name: "patch_embed", kernel: kernel.precision == .f32 ? kernel : .preferred)
    var stages: [SwinStage] = []
    for stage in 0..<configuration.stageCount {
      let channels = configuration.channels(stage: stage)
      var merge: PatchMergeWeights? = nil
      if stage > 0 {
        let prefix = "layers.\(stage).downsample"
        let input = configuration.channels(stage: stage - 1)
        merge = try PatchMergeWeights(
          inputChannels: input,
          norm: LayerNormWeights(
            weight: bag[prefix + ".norm.weight"], bias: bag[prefix + ".norm.bias"], channels: 4 * input,
            name: prefix + ".norm"),
          reduction: bag[prefix + ".reduction.weight"], name: prefix, kernel: kernel)
        try ShapeError.check(
          prefix + ".reduction.weight", bag[prefix + ".reduction.weight"].shape, expected: [channels, 4 * input])
      }
      var blocks: [SwinBlock] = []
      for block in 0..<configuration.depths[stage] {
        let prefix = "layers.\(stage).blocks.\(block)"
        let heads = configuration.heads[stage]
        let weights = try WindowBlockWeights(
          channels: channels, heads: heads,
          norm1: LayerNormWeights(
            weight: bag[prefix + ".norm1.weight"], bias: bag[prefix + ".norm1.bias"], channels: channels,
            name: prefix + ".norm1"),
          qkvWeight: bag[prefix + ".attn.qkv.weight"], qkvBias: bag[prefix + ".attn.qkv.bias"],
          projWeight: bag[prefix + ".attn.proj.weight"], projBias: bag[prefix + ".attn.proj.bias"],
          norm2: LayerNormWeights(
            weight: bag[prefix + ".norm2.weight"], bias: bag[prefix + ".norm2.bias"], channels: channels,
            name: prefix + ".norm2"),
          fc1Weight: bag[prefix + ".mlp.fc1.weight"], fc1Bias: bag[prefix + ".mlp.fc1.bias"],
          fc2Weight: bag[prefix + ".mlp.fc2.weight"], fc2Bias: bag[prefix + ".mlp.fc2.bias"],
          name: prefix, kernel: kernel)
        let table = bag[prefix + ".attn.relative_position_bias_table"]
        let side = tableSide(rows: table.shape.first ?? 0)
        guard table.rank == 2, table.shape[1] == heads, let side else {
          let rows = (2 * configuration.window - 1) * (2 * configuration.window - 1)
          throw ShapeError(
            name: prefix + ".attn.relative_position_bias_table", expected: [rows, heads], actual: table.shape)
        }
        blocks.append(SwinBlock(weights: weights, table: table.values, tableSide: side))
      }
      stages.append(SwinStage(merge: merge, blocks: blocks))
    }
    self.stages = stages
    let last = configuration.featureChannels
    if layout == .mmdet {
      var norms: [LayerNormWeights] = []
      for stage in 0..<configuration.stageCount {
        let prefix = "stage_norms.\(stage)"
        norms.append(
          try LayerNormWeights(
            weight: bag[prefix + ".weight"], bias: bag[prefix + ".bias"],
            channels: configuration.channels(stage: stage), name: prefix))
      }
      stageNorms = norms
      finalNorm = norms[norms.count - 1]
    } else {
      stageNorms = nil
      finalNorm = try LayerNormWeights(weight: bag["norm.weight"], bias: bag["norm.bias"], channels: last, name: "norm")
    }
    if configuration.classes > 0 {
      let weight = bag["head.fc.weight"], bias = bag["head.fc.bias"]
      try ShapeError.check("head.fc.weight", weight.shape, expected: [configuration.classes, last])
      try ShapeError.check("head.fc.bias", bias.shape, expected: [configuration.classes])
      head = ClassifierHead(weight: weight, bias: bias, kernel: kernel.precision == .f32 ? kernel : .preferred)
    } else {
      head = nil
    }
    parameterCount = bag.usedElementCount
    workspaces = WorkspacePool()
  }
}

// MARK: - Architecture inference

/// `side` such that `rows == side²` with `side` odd (a table for a square window), else nil.
func tableSide(rows: Int) -> Int? {
  guard rows > 0 else { return nil }
  let side = Int(Double(rows).squareRoot().rounded())
  return side * side == rows && side % 2 == 1 ? side : nil
}

/// Reads the architecture off the canonical (timm) tensor shapes.
///
/// `fileName` gives the checkpoint's own name of a timm name, for messages.
func inferConfiguration(
  _ tensors: [String: Tensor], fileName: (String) -> String = { $0 }
) throws(WeightLoadError) -> SwinConfiguration {
  guard let stem = tensors["patch_embed.proj.weight"], stem.rank == 4, stem.shape[2] == stem.shape[3],
    stem.shape.allSatisfy({ $0 > 0 })
  else {
    let shape = tensors["patch_embed.proj.weight"]?.shape ?? []
    throw .architecture("patch embedding weight has shape \(shape), expected [embed, channels, patch, patch]")
  }
  let embed = stem.shape[0]
  var depths: [Int] = []
  while tensors["layers.\(depths.count).blocks.0.norm1.weight"] != nil {
    let stage = depths.count
    var blocks = 0
    while tensors["layers.\(stage).blocks.\(blocks).norm1.weight"] != nil { blocks += 1 }
    depths.append(blocks)
  }
  guard !depths.isEmpty else {
    throw .architecture("no blocks found ('\(fileName("layers.0.blocks.0.norm1.weight"))' is missing)")
  }
  var heads: [Int] = []
  var hidden: [Int] = []
  var window = 0
  for stage in depths.indices {
    let prefix = "layers.\(stage).blocks.0"
    let tableName = prefix + ".attn.relative_position_bias_table"
    guard let table = tensors[tableName], table.rank == 2, table.shape[1] > 0 else {
      throw .architecture("'\(fileName(tableName))' is missing or not [positions, heads]")
    }
    guard let side = tableSide(rows: table.shape[0]) else {
      throw .architecture(
        "'\(fileName(tableName))' has \(table.shape[0]) rows, expected (2·window − 1)² for a square window")
    }
    if stage == 0 { window = (side + 1) / 2 }
    heads.append(table.shape[1])
    guard let fc1 = tensors[prefix + ".mlp.fc1.weight"], fc1.rank == 2 else {
      throw .architecture("'\(fileName(prefix + ".mlp.fc1.weight"))' is missing or not a matrix")
    }
    hidden.append(fc1.shape[0])
    let channels = tensors[prefix + ".norm1.weight"]?.count ?? 0
    if channels != embed << stage {
      throw .architecture(
        "stage \(stage) has \(channels) channels, expected \(embed << stage) (embed \(embed) doubled per stage)")
    }
    if channels % table.shape[1] != 0 {
      throw .architecture("stage \(stage): \(channels) channels do not split into \(table.shape[1]) heads")
    }
  }
  var configuration = SwinConfiguration(
    inputChannels: stem.shape[1], patchSize: stem.shape[2], embedDim: embed, depths: depths, heads: heads,
    window: window, classes: tensors["head.fc.weight"]?.shape.first ?? 0)
  configuration.hiddenChannels = hidden
  return configuration
}

/// The canonical names a model of `configuration` consumes.
func requiredNames(
  _ configuration: SwinConfiguration, layout: WeightLayout, available: [String: Tensor]
) -> Set<String> {
  var names: Set<String> = [
    "patch_embed.proj.weight", "patch_embed.proj.bias", "patch_embed.norm.weight", "patch_embed.norm.bias",
  ]
  for stage in 0..<configuration.stageCount {
    if stage > 0 {
      let prefix = "layers.\(stage).downsample"
      names.formUnion([prefix + ".norm.weight", prefix + ".norm.bias", prefix + ".reduction.weight"])
    }
    for block in 0..<configuration.depths[stage] {
      let prefix = "layers.\(stage).blocks.\(block)."
      for suffix in [
        "norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
        "attn.relative_position_bias_table", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
        "mlp.fc2.weight", "mlp.fc2.bias",
      ] {
        names.insert(prefix + suffix)
      }
    }
  }
  if layout == .mmdet {
    for stage in 0..<configuration.stageCount {
      names.formUnion(["stage_norms.\(stage).weight", "stage_norms.\(stage).bias"])
    }
  } else {
    names.formUnion(["norm.weight", "norm.bias"])
  }
  if configuration.classes > 0 || available["head.fc.bias"] != nil {
    names.formUnion(["head.fc.weight", "head.fc.bias"])
  }
  return names
}

/// Named tensors handed out to layer initializers; tracks how many weights were used.
struct TensorBag {
  private let tensors: [String: Tensor]
  private(set) var usedElementCount = 0
  private var used: Set<String> = []

  init(_ tensors: [String: Tensor]) { self.tensors = tensors }

  /// The tensor named `name` (present: presence was checked before building).
  subscript(name: String) -> Tensor {
    mutating get {
      let tensor = tensors[name] ?? Tensor(shape: [0])
      if used.insert(name).inserted { usedElementCount += tensor.count }
      return tensor
    }
  }
}

// MARK: - Loading from a file

/// Why a checkpoint file could not become a model.
public enum ModelLoadError: Error, Equatable, CustomStringConvertible {
  /// The file could not be read or is not a valid safetensors file.
  case file(SafeTensorsError)
  /// The tensors do not form a supported Swin model.
  case weights(path: String, WeightLoadError)
  /// This CPU has no kernel for the requested precision.
  case precision(UnsupportedPrecisionError)

  public var description: String {
    switch self {
    case .file(let error): error.description
    case .weights(let path, let error): "\(path): \(error)"
    case .precision(let error): error.description
    }
  }
}

extension SwinTransformer {
  /// Loads a safetensors checkpoint (F32, F16 or BF16) in any supported layout, its blocks' linear
  /// layers packed for `precision` (bf16 needs a CPU with AVX512_BF16; checked before reading), to
  /// run in `windowSemantics` (nil: the layout's, see `WeightLayout.windowSemantics`).
  public static func load(
    path: String, precision: Precision = .f32, windowSemantics: WindowSemantics? = nil
  ) throws(ModelLoadError) -> SwinTransformer {
    let kernel: BlockMatrixKernel
    do {
      kernel = try BlockMatrixKernel.preferred(for: precision)
    } catch {
      throw .precision(error)
    }
    let file: SafeTensorsFile
    do {
      file = try SafeTensorsFile.load(path: path)
    } catch {
      throw .file(error)
    }
    // Integer buffers (relative_position_index) are recomputed; any other non-float tensor is
    // something this engine cannot use.
    for (name, stored) in file.otherTensors.sorted(by: { $0.key < $1.key })
    where !(name.hasSuffix("relative_position_index") || name.hasSuffix("attn_mask")) {
      throw .weights(path: path, .dtype(tensor: name, dtype: stored.dtype))
    }
    do {
      let model = try SwinTransformer(tensors: file.tensors, source: path, kernel: kernel)
      return windowSemantics.map { model.withWindowSemantics($0) } ?? model
    } catch {
      throw .weights(path: path, error)
    }
  }
}
