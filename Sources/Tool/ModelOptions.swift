// Options shared by the commands that run a model: where the weights come from, threads, sparsity,
// window semantics.
import Engine
import Foundation
import Models

enum ModelOptions {
  static let weights = OptionSpec(
    name: "weights", value: "file",
    help: "Swin checkpoint (.safetensors; timm, Microsoft, torchvision or mmdet layout). Default: seeded Swin-T.")
  static let modelSeed = OptionSpec(
    name: "model-seed", value: "n", help: "Seed of the built-in random Swin-T weights when no --weights (default 0).")
  /// The former name of `--model-seed` (in `bench`, of `--model-seed` and `--input-seed` together).
  static let seed = OptionSpec(name: "seed", value: "n", help: "Deprecated: use --model-seed.")
  static let precision = OptionSpec(
    name: "precision", value: "p",
    help: "Arithmetic of the blocks' linear layers: f32 (default) or bf16 (bfloat16 products, f32 sums; needs avx512_bf16).")
  static let threads = OptionSpec(name: "threads", value: "n", help: "Worker threads (default: all \(defaultThreadCount) cores).")
  static let sparsity = OptionSpec(
    name: "sparsity", value: "cfg",
    help: "Pruning ratios: a JSON file, a uniform ratio in [0, 1), 'dense' or a preset (\(PruningRatios.presetNames.joined(separator: ", "))).")

  static let windowSemantics = OptionSpec(
    name: "window-semantics", value: "name",
    help: "How blocks pad and shift windows: \(WindowSemantics.allCases.map(\.rawValue).joined(separator: ", ")) "
      + "(default: the checkpoint's framework; timm and Microsoft: timm, torchvision: torchvision, mmdet: sparsevit).")

  /// `--window-semantics` when the command declares it and it is given; nil: the checkpoint's.
  static func windowSemantics(_ arguments: Arguments) throws(UsageError) -> WindowSemantics? {
    guard arguments.spec.options.contains(windowSemantics), let text = arguments.string(windowSemantics) else {
      return nil
    }
    guard let semantics = WindowSemantics(rawValue: text) else {
      let names = WindowSemantics.allCases.map(\.rawValue).joined(separator: ", ")
      throw arguments.usage("'--window-semantics' must be one of \(names), got '\(text)'")
    }
    return semantics
  }

  /// Usage error unless the file `option` names exists (checked before any work starts).
  static func requireFile(_ arguments: Arguments, _ option: OptionSpec) throws(UsageError) {
    guard let path = arguments.string(option) else { return }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw arguments.usage("'--\(option.name)': no such file '\(path)'")
    }
    if isDirectory.boolValue { throw arguments.usage("'--\(option.name)': '\(path)' is a directory, expected a file") }
  }

  /// `--sparsity` as given, after checking that a value naming a file names an existing one.
  static func sparsityArgument(_ arguments: Arguments) throws(UsageError) -> String? {
    guard let text = arguments.string(sparsity) else { return nil }
    if Double(text) == nil, text != "dense", PruningRatios.presets[text] == nil {
      try requireFile(arguments, sparsity)
    }
    return text
  }

  /// `--weights` (checked to exist), else seeded Swin-T from `--model-seed` or the deprecated
  /// `--seed`; a seed together with `--weights` is a usage error.
  static func source(_ arguments: Arguments) throws(UsageError) -> ModelSource {
    let declared = arguments.spec.options
    let modelSeed = declared.contains(self.modelSeed) ? try arguments.seed(self.modelSeed) : nil
    let oldSeed = declared.contains(seed) ? try arguments.seed(seed) : nil
    if modelSeed != nil && oldSeed != nil {
      throw arguments.usage("'--seed' is the former name of '--model-seed': give '--model-seed' only")
    }
    if let path = arguments.string(weights) {
      try requireFile(arguments, weights)
      if modelSeed != nil {
        throw arguments.usage("'--model-seed' applies to the built-in weights, not to '--weights'")
      }
      if oldSeed != nil { throw arguments.usage("'--seed' applies to the built-in weights, not to '--weights'") }
      return .file(path)
    }
    return .seeded(.swinTiny, seed: modelSeed ?? oldSeed ?? 0)
  }

  /// `--precision` (default f32).
  static func precision(_ arguments: Arguments) throws(UsageError) -> Precision {
    guard let text = arguments.string(precision) else { return .f32 }
    guard let value = Precision(rawValue: text) else {
      throw arguments.usage("'--precision': '\(text)' is not one of \(Precision.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return value
  }

  /// Loads `source` in `precision`, to run in `windowSemantics` (nil: the checkpoint's,
  /// `WeightLayout.windowSemantics`); with `verbose`, what a checkpoint held and how long it took,
  /// on stderr.
  static func load(
    _ source: ModelSource, precision: Precision = .f32, windowSemantics: WindowSemantics?, verbose: Bool = false
  ) throws -> SwinTransformer {
    let start = monotonicSeconds()
    let model = try source.load(precision: precision, windowSemantics: windowSemantics)
    if verbose, case .file(let path) = source {
      printError(
        String(
          format: "Loaded %@ (%@, %@ layout, %@ window semantics, %.1fM parameters) in %.2f s", path,
          model.configuration.name, model.layout.rawValue, model.windowSemantics.rawValue,
          Double(model.parameterCount) / 1e6, monotonicSeconds() - start))
    }
    return model
  }

  static func threads(_ arguments: Arguments) throws(UsageError) -> Int {
    try arguments.integer(threads, default: defaultThreadCount, in: 1...1024)!
  }

  /// `text` (a `--sparsity` value) resolved against the model.
  static func resolveSparsity(_ text: String, model: SwinTransformer, spec: CommandSpec) throws -> PruningRatios {
    do {
      return try PruningRatios.resolve(text, depths: model.configuration.depths)
    } catch .unreadable(let path, let reason) {
      throw spec.usage("cannot read sparsity file '\(path)': \(reason)")
    }
  }
}
