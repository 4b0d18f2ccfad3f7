// The architecture of a Swin Transformer (v1, timm semantics), read off the weight shapes so that
// Swin-T, -S and -B (and smaller test models) all load without being told which they are.
import Engine

/// Hyperparameters of a Swin Transformer.
public struct SwinConfiguration: Codable, Sendable, Equatable, CustomStringConvertible {
  /// Input channels (3 for RGB).
  public var inputChannels: Int
  /// Side of the square patches of the stem (4).
  public var patchSize: Int
  /// Width of stage 0 (96 for Swin-T); stage s has `embedDim · 2^s` channels.
  public var embedDim: Int
  /// Blocks per stage ((2, 2, 6, 2) for Swin-T).
  public var depths: [Int]
  /// Attention heads per stage ((3, 6, 12, 24) for Swin-T).
  public var heads: [Int]
  /// Window side before clamping (7).
  public var window: Int
  /// MLP width per stage (4 × channels for Swin-T).
  public var hiddenChannels: [Int]
  /// Classifier outputs; 0 for a backbone without head.
  public var classes: Int

  public init(
    inputChannels: Int = 3, patchSize: Int = 4, embedDim: Int, depths: [Int], heads: [Int],
    window: Int = 7, mlpRatio: Int = 4, classes: Int
  ) {
    self.inputChannels = inputChannels
    self.patchSize = patchSize
    self.embedDim = embedDim
    self.depths = depths
    self.heads = heads
    self.window = window
    self.hiddenChannels = depths.indices.map { mlpRatio * embedDim << $0 }
    self.classes = classes
  }

  /// Swin-T: embed 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), window 7, 1000 classes.
  public static let swinTiny = SwinConfiguration(embedDim: 96, depths: [2, 2, 6, 2], heads: [3, 6, 12, 24], classes: 1000)
  /// Swin-S: embed 96, depths (2, 2, 18, 2), heads (3, 6, 12, 24).
  public static let swinSmall = SwinConfiguration(embedDim: 96, depths: [2, 2, 18, 2], heads: [3, 6, 12, 24], classes: 1000)
  /// Swin-B: embed 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32).
  public static let swinBase = SwinConfiguration(embedDim: 128, depths: [2, 2, 18, 2], heads: [4, 8, 16, 32], classes: 1000)

  /// Number of stages.
  public var stageCount: Int { depths.count }

  /// Channels of stage `stage`.
  public func channels(stage: Int) -> Int { embedDim << stage }

  /// Channels of the final feature map (input of the head).
  public var featureChannels: Int { channels(stage: stageCount - 1) }

  /// Token map of each stage for an input of `height × width` pixels: the stem divides by the patch
  /// size (rounding down, as a strided convolution), each merge halves (rounding up, after padding).
  public func stageSizes(height: Int, width: Int) -> [(height: Int, width: Int)] {
    var h = height / patchSize, w = width / patchSize
    var sizes: [(height: Int, width: Int)] = []
    for stage in 0..<stageCount {
      if stage > 0 {
        h = (h + 1) / 2
        w = (w + 1) / 2
      }
      sizes.append((h, w))
    }
    return sizes
  }

  /// Smallest input side accepted: every stage needs at least one token.
  public var minimumInputSide: Int { patchSize << (stageCount - 1) }

  public var description: String {
    "Swin(embed \(embedDim), depths \(depths), heads \(heads), window \(window), classes \(classes))"
  }

  /// A short name when the configuration is a known one.
  public var name: String {
    var architecture = self
    architecture.classes = 1000
    switch architecture {
    case .swinTiny: return "Swin-T"
    case .swinSmall: return "Swin-S"
    case .swinBase: return "Swin-B"
    default: return "Swin(embed \(embedDim), depths \(depths.map(String.init).joined(separator: ",")))"
    }
  }

  /// Multiply–accumulates of the dense model at `height × width`, batch 1 (linear layers, convolution
  /// and attention products, as `torch.utils.flop_counter` counts them; FLOPs are twice this), with
  /// windows as `semantics` pads them.
  public func denseMACs(height: Int, width: Int, semantics: WindowSemantics = .timm) -> Int {
    let sizes = stageSizes(height: height, width: width)
    var macs = sizes[0].height * sizes[0].width * embedDim * inputChannels * patchSize * patchSize
    for stage in 0..<stageCount {
      let c = channels(stage: stage), tokens = sizes[stage].height * sizes[stage].width
      if stage > 0 { macs += tokens * 4 * channels(stage: stage - 1) * c }
      for block in 0..<depths[stage] {
        macs += blockMACs(
          stage: stage, block: block, height: sizes[stage].height, width: sizes[stage].width, keptWindows: nil,
          semantics: semantics)
      }
    }
    macs += featureChannels * classes
    return macs
  }

  /// Multiply–accumulates actually computed by a forward at `height × width` whose blocks computed
  /// `keptWindows[stage][block]` windows summed over a batch of `batch` images (stem, merges and
  /// head are dense). FLOPs are twice this.
  public func computedMACs(
    height: Int, width: Int, batch: Int, keptWindows: [[Int]], semantics: WindowSemantics = .timm
  ) -> Int {
    let sizes = stageSizes(height: height, width: width)
    var macs = batch * sizes[0].height * sizes[0].width * embedDim * inputChannels * patchSize * patchSize
    for stage in 0..<stageCount {
      let c = channels(stage: stage), tokens = sizes[stage].height * sizes[stage].width
      if stage > 0 { macs += batch * tokens * 4 * channels(stage: stage - 1) * c }
      for block in 0..<depths[stage] {
        macs += blockMACs(
          stage: stage, block: block, height: sizes[stage].height, width: sizes[stage].width,
          keptWindows: keptWindows[stage][block], semantics: semantics)
      }
    }
    return macs + batch * featureChannels * classes
  }

  /// Multiply–accumulates of one block on a `height × width` map when `keptWindows` of its windows
  /// are computed (nil: all), with windows as `semantics` pads them. Padding tokens count, as they
  /// are computed.
  public func blockMACs(
    stage: Int, block: Int, height: Int, width: Int, keptWindows: Int?, semantics: WindowSemantics = .timm
  ) -> Int {
    let grid = WindowGrid(height: height, width: width, window: window, shifted: block % 2 == 1, semantics: semantics)
    let c = channels(stage: stage), hidden = hiddenChannels[stage]
    let windows = keptWindows ?? grid.windowCount
    let tokens = grid.windowTokens
    let linear = tokens * c * (4 * c + 2 * hidden)
    let attention = 2 * tokens * tokens * c
    return windows * (linear + attention)
  }
}
