// Where a model's weights come from: a checkpoint file or seeded random weights. One loader for
// every command and for programs that embed the library.
import Engine

/// The weights to run: a checkpoint file, or seeded random weights of a configuration.
public enum ModelSource: Equatable, Sendable {
  /// A `.safetensors` checkpoint (timm, Microsoft, torchvision or mmdet layout).
  case file(String)
  /// Random weights of `configuration` drawn from `seed` (`SwinTransformer.seeded`).
  case seeded(SwinConfiguration, seed: UInt64)

  /// Loads or builds the model, its blocks' linear layers in `precision` (bf16 needs a CPU with
  /// AVX512_BF16: `ModelLoadError.precision` otherwise), to run in `windowSemantics` (nil: the
  /// layout's; seeded weights are in the timm layout).
  public func load(
    precision: Precision = .f32, windowSemantics: WindowSemantics? = nil
  ) throws(ModelLoadError) -> SwinTransformer {
    switch self {
    case .file(let path): return try SwinTransformer.load(path: path, precision: precision, windowSemantics: windowSemantics)
    case .seeded(let configuration, let seed):
      let model: SwinTransformer
      do {
        model = try SwinTransformer.seeded(configuration, seed: seed, precision: precision)
      } catch {
        throw .precision(error)
      }
      return windowSemantics.map { model.withWindowSemantics($0) } ?? model
    }
  }
}
