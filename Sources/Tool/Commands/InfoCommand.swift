// `sparsevit info`: what a checkpoint holds and what the engine will run.
import Engine
import Foundation
import Models

enum InfoCommand {
  static let spec = CommandSpec(
    name: "info",
    summary: "Describe a checkpoint (architecture, layout, parameters) and the machine.",
    usage: "[--weights <file>]",
    options: [
      ModelOptions.weights, ModelOptions.modelSeed, ModelOptions.windowSemantics, ModelOptions.seed,
      ModelOptions.precision,
    ])

  static func run(_ options: InfoOptions) throws {
    let model = try options.model.load(verbose: true)
    let c = model.configuration
    print("weights:      \(model.source)")
    print("layout:       \(model.layout.rawValue)")
    print("windows:      \(model.windowSemantics.rawValue) semantics (padding, shift and clamp of the windows)")
    print(
      "architecture: \(c.name): embed \(c.embedDim), depths \(c.depths), heads \(c.heads), window \(c.window), patch \(c.patchSize)"
    )
    print("classes:      \(c.classes == 0 ? "none (backbone)" : String(c.classes))")
    print(String(format: "parameters:   %.3fM (%d)", Double(model.parameterCount) / 1e6, model.parameterCount))
    print("precision:    \(model.precision)")
    print("kernel:       \(model.kernelDescription)")
    print("vector:       \(vectorKernelsDescription)")
    print("CPU features: \(CPUFeatures.current.names.joined(separator: ", "))")
    print("OpenBLAS:     \(BLAS.configuration) (core \(BLAS.coreName))")
    print("threads:      \(defaultThreadCount) available")
  }
}

/// The options of `info`, parsed once.
struct InfoOptions {
  let model: ModelChoice

  init(_ arguments: Arguments) throws(UsageError) {
    model = try ModelChoice(arguments)
  }
}
