// Options shared by the commands that run a model: where the weights come from, threads, sparsity,
// window semantics.
import Engine
import Foundation
import Models

enum ModelOptions {
  static let weights = OptionSpec(
    name: "weights", value: "file",
    help: "Swin checkpoint (.safetensors; timm, Microsoft, torchvision or mmdet layout). Default: seeded Swin-T.")
  static let seed = OptionSpec(name: "seed", value: "n", help: "Seed of the built-in random weights (default 0).")
  static let threads = OptionSpec(name: "threads", value: "n", help: "Worker threads (default: all \(defaultThreadCount) cores).")
  static let sparsity = OptionSpec(
    name: "sparsity", value: "cfg",
    help: "Pruning ratios: a JSON file, a uniform ratio in [0, 1), 'dense' or a preset (\(PruningRatios.presetNames.joined(separator: ", "))).")

  static let windowSemantics = OptionSpec(
    name: "window-semantics", value: "name",
    help: "How blocks pad and shift windows: \(WindowSemantics.allCases.map(\.rawValue).joined(separator: ", ")) "
      + "(default: the checkpoint's framework; timm and Microsoft: timm, torchvision: torchvision, mmdet: sparsevit).")

  /// `--window-semantics` (nil when not given).
  static func windowSemantics(_ arguments: Arguments) throws(UsageError) -> WindowSemantics? {
    guard let text = arguments.string("window-semantics") else { return nil }
    guard let semantics = WindowSemantics(rawValue: text) else {
      let names = WindowSemantics.allCases.map(\.rawValue).joined(separator: ", ")
      throw arguments.usage("'--window-semantics' must be one of \(names), got '\(text)'")
    }
    return semantics
  }

  /// Usage error unless the file `--name` names exists (checked before any work starts).
  static func requireFile(_ arguments: Arguments, _ name: String) throws(UsageError) {
    guard let path = arguments.string(name) else { return }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw arguments.usage("'--\(name)': no such file '\(path)'")
    }
    if isDirectory.boolValue { throw arguments.usage("'--\(name)': '\(path)' is a directory, expected a file") }
  }

  /// Checks the common file options (`--weights`, a `--sparsity` that is a path) exist.
  static func requireFiles(_ arguments: Arguments) throws(UsageError) {
    try requireFile(arguments, "weights")
    if let sparsity = arguments.string("sparsity"), Double(sparsity) == nil, sparsity != "dense",
      PruningRatios.presets[sparsity] == nil
    {
      try requireFile(arguments, "sparsity")
    }
  }

  /// The model `--weights` names, or seeded Swin-T, in the `--window-semantics` asked for; with
  /// `verbose`, what was loaded on stderr.
  static func model(
    _ arguments: Arguments, verbose: Bool = false, seedOption: String = "seed"
  ) throws -> SwinTransformer {
    let semantics = try windowSemantics(arguments)
    if let path = arguments.string("weights") {
      if arguments.string(seedOption) != nil {
        throw arguments.usage("'--\(seedOption)' applies to the built-in weights, not to '--weights'")
      }
      let start = Date()
      let model = try SwinTransformer.load(path: path, windowSemantics: semantics)
      if verbose {
        printError(
        String(
          format: "Loaded %@ (%@, %@ layout, %@ window semantics, %.1fM parameters) in %.2f s", path,
          model.configuration.name, model.layout.rawValue, model.windowSemantics.rawValue,
          Double(model.parameterCount) / 1e6, Date().timeIntervalSince(start)))
      }
      return model
    }
    let seed = try arguments.integer(seedOption, default: 0, in: 0...Int.max)!
    let model = SwinTransformer.seeded(.swinTiny, seed: UInt64(seed))
    return semantics.map { model.withWindowSemantics($0) } ?? model
  }

  static func threads(_ arguments: Arguments) throws(UsageError) -> Int {
    try arguments.integer("threads", default: defaultThreadCount, in: 1...1024)!
  }

  /// `--sparsity` resolved against the model (nil when not given).
  static func sparsity(_ arguments: Arguments, model: SwinTransformer) throws -> PruningRatios? {
    guard let text = arguments.string("sparsity") else { return nil }
    do {
      return try PruningRatios.resolve(text, depths: model.configuration.depths)
    } catch .unreadable(let path, let reason) {
      throw arguments.usage("cannot read sparsity file '\(path)': \(reason)")
    }
  }
}
