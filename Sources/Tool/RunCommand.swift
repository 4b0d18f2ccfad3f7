// `sparsevit run`: one forward pass on an .npy batch, logits (and stage features) to .npy files.
import Engine
import Foundation
import Models

enum RunCommand {
  static let spec = CommandSpec(
    name: "run",
    summary: "Run a Swin model on a batch of images and write the logits.",
    usage: "--input <x.npy> --output <y.npy> [--weights <file>] [--sparsity <cfg>] [options]",
    options: [
      OptionSpec(name: "input", value: "x.npy", help: "Float32 C-order array (batch, 3, height, width), ImageNet-normalized."),
      OptionSpec(name: "output", value: "y.npy", help: "Where to write the float32 logits (batch, classes)."),
      OptionSpec(name: "features", value: "dir", help: "Also write stage0.npy … stage3.npy (NHWC stage outputs) to this directory."),
      ModelOptions.weights, ModelOptions.seed, ModelOptions.sparsity, ModelOptions.threads,
      OptionSpec(name: "verbose", value: nil, help: "Print per block the ratio and kept/total windows, and the latency."),
    ],
    discussion: """
      EXAMPLES:
        sparsevit run --weights model.safetensors --input x.npy --output logits.npy
        sparsevit run --input x.npy --output y.npy --sparsity cfg2_35ms --verbose
      """)

  static func run(_ arguments: Arguments) throws {
    let inputPath = try arguments.required("input")
    let outputPath = arguments.string("output")
    let featuresPath = arguments.string("features")
    if outputPath == nil && featuresPath == nil { throw arguments.usage("missing '--output <y.npy>' (or '--features <dir>')") }
    let threads = try ModelOptions.threads(arguments)
    try ModelOptions.requireFile(arguments, "input")
    try ModelOptions.requireFiles(arguments)
    let images = try readNumPy(path: inputPath)
    guard images.rank == 4 else {
      throw Failure("\(inputPath): expected shape (batch, 3, height, width), got \(images.shape)")
    }
    let model = try ModelOptions.model(arguments, verbose: arguments.flag("verbose"))
    let sparsity = try ModelOptions.sparsity(arguments, model: model)
    if outputPath != nil && model.configuration.classes == 0 {
      throw Failure("the checkpoint has no classifier head (\(model.layout.rawValue) backbone): use '--features <dir>' instead of '--output'")
    }
    let start = Date()
    let output = try model.forward(
      images, sparsity: sparsity, options: ForwardOptions(threads: threads, collectStages: featuresPath != nil))
    let elapsed = Date().timeIntervalSince(start)
    if arguments.flag("verbose") {
      let ratios = sparsity ?? .dense(depths: model.configuration.depths)
      for (stage, blocks) in output.windowUsage.enumerated() {
        for (block, usage) in blocks.enumerated() {
          printError(
            "stage \(stage) block \(block): ratio \(ratios.ratios[stage][block]), kept \(usage.kept)/\(usage.total) windows")
        }
      }
      printError(String(format: "forward: %.1f ms (batch %d, %dx%d, %d threads, first run)", elapsed * 1000, images.shape[0], images.shape[2], images.shape[3], threads))
    }
    if let outputPath, let logits = output.logits {
      try writeNumPy(logits, to: outputPath)
    }
    if let featuresPath {
      try FileManager.default.createDirectory(atPath: featuresPath, withIntermediateDirectories: true)
      for (index, stage) in output.stages.enumerated() {
        try writeNumPy(stage, to: (featuresPath as NSString).appendingPathComponent("stage\(index).npy"))
      }
      for (index, stage) in output.normalizedStages.enumerated() {
        try writeNumPy(stage, to: (featuresPath as NSString).appendingPathComponent("stage\(index).normed.npy"))
      }
    }
  }
}
