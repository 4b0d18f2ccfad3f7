// `sparsevit run`: one forward pass on an .npy batch or on a PNG/JPEG image; the top classes to
// stdout, logits (and stage features) to .npy files.
import Engine
import Foundation
import Models

enum RunCommand {
  static let input = OptionSpec(
    name: "input", value: "x.npy", help: "Float32 C-order array (batch, 3, height, width), ImageNet-normalized.")
  static let output = OptionSpec(
    name: "output", value: "y.npy",
    help: "Where to write the float32 logits (batch, classes). Required with '--input' unless '--features' or '--top' is given.")
  static let features = OptionSpec(
    name: "features", value: "dir", help: "Also write stage0.npy … stage3.npy (NHWC stage outputs) to this directory.")
  static let top = OptionSpec(
    name: "top", value: "k", help: "Print the k most likely classes per image (default 5 with '--image').")
  static let verbose = OptionSpec(
    name: "verbose", value: nil, help: "Print per block the ratio and kept/total windows, and the latency.")

  static let spec = CommandSpec(
    name: "run",
    summary: "Run a Swin model on an image or a batch of images: top classes, logits, features.",
    usage: "(--input <x.npy> | --image <file>) [--output <y.npy>] [--weights <file>] [--sparsity <cfg>] [options]",
    options: [
      input, ImageOptions.image, output, features,
      ModelOptions.weights, ModelOptions.modelSeed, ModelOptions.windowSemantics, ModelOptions.seed, ModelOptions.precision, ModelOptions.sparsity, ModelOptions.threads,
      ImageOptions.size, ImageOptions.resize, top, verbose,
    ],
    discussion: """
      '--input' and '--image' are alternatives. An image is decoded (PNG any depth/color type,
      JPEG), resized and normalized like timm's eval transform (see '--resize') to size × size.
      Class names are ImageNet's for 1000-class models (weights/imagenet_classes.txt).

      EXAMPLES:
        sparsevit run --image photo.jpg --weights swin_tiny.safetensors --sparsity cfg2_35ms
        sparsevit run --weights model.safetensors --input x.npy --output logits.npy
        sparsevit run --input x.npy --output y.npy --sparsity cfg2_35ms --verbose
      """)

  static func run(_ options: RunOptions) throws {
    let inputPath = options.inputPath, imagePath = options.imagePath, outputPath = options.outputPath
    let featuresPath = options.featuresPath, requestedTop = options.top, verbose = options.verbose
    let threads = options.threads, preprocessing = options.preprocessing
    let images: Tensor
    if let inputPath {
      images = try readNumPy(path: inputPath)
      guard images.rank == 4 else {
        throw Failure("\(inputPath): expected shape (batch, 3, height, width), got \(images.shape)")
      }
    } else {
      let image = try RGBImage.load(path: imagePath!)
      images = preprocessing.tensor(image)
      if verbose {
        printError(
          "image: \(imagePath!) (\(image.width)×\(image.height)) → \(preprocessing.size)×\(preprocessing.size) (\(preprocessing.resize.rawValue), \(preprocessing.interpolation.rawValue))"
        )
      }
    }
    let model = try ModelOptions.load(
      options.model, precision: options.precision, windowSemantics: options.windowSemantics, verbose: verbose)
    let sparsity = try options.sparsity.map { try ModelOptions.resolveSparsity($0, model: model, spec: spec) }
    let hasHead = model.configuration.classes > 0
    if !hasHead && (outputPath != nil || requestedTop != nil || featuresPath == nil) {
      throw Failure("the checkpoint has no classifier head (\(model.layout.rawValue) backbone): use '--features <dir>' instead of '--output' or '--top'")
    }
    // An image prints its top 5 classes unless told otherwise.
    let top = requestedTop ?? (imagePath != nil && hasHead ? 5 : nil)
    let start = Date()
    let output = try model.forward(
      images, sparsity: sparsity, options: ForwardOptions(threads: threads, collectStages: featuresPath != nil))
    let elapsed = Date().timeIntervalSince(start)
    if verbose {
      let ratios = sparsity ?? .dense(depths: model.configuration.depths)
      for (stage, blocks) in output.windowUsage.enumerated() {
        for (block, usage) in blocks.enumerated() {
          printError(
            "stage \(stage) block \(block): ratio \(ratios.ratios[stage][block]), kept \(usage.kept)/\(usage.total) windows")
        }
      }
      printError(
        String(
          format: "forward: %.1f ms (batch %d, %dx%d, %d threads, %@ window semantics, first run)", elapsed * 1000,
          images.shape[0], images.shape[2], images.shape[3], threads, model.windowSemantics.rawValue))
    }
    if let top {
      printTop(output.topClasses(top), batch: images.shape[0])
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

  /// One table of the top classes per image: rank, class id, softmax probability, logit, name.
  private static func printTop(_ predictions: [[ClassPrediction]], batch: Int) {
    for (image, classes) in predictions.enumerated() {
      if batch > 1 { print("image \(image):") }
      print("rank  class  probability     logit  name")
      for (rank, prediction) in classes.enumerated() {
        print(
          String(format: "%4d  %5d  %11.4f  %8.3f  ", rank + 1, prediction.index, prediction.probability, prediction.logit)
            + prediction.name)
      }
    }
  }
}

/// The options of `run`, parsed once.
struct RunOptions {
  /// Exactly one of `inputPath` and `imagePath` is set.
  let inputPath: String?
  let imagePath: String?
  let outputPath: String?
  let featuresPath: String?
  let top: Int?
  let verbose: Bool
  let model: ModelSource
  let precision: Precision
  /// `--window-semantics`; nil: the checkpoint's.
  let windowSemantics: WindowSemantics?
  let sparsity: String?
  let threads: Int
  let preprocessing: ImagePreprocessing

  init(_ arguments: Arguments) throws(UsageError) {
    inputPath = arguments.string(RunCommand.input)
    imagePath = arguments.string(ImageOptions.image)
    if inputPath != nil && imagePath != nil {
      throw arguments.usage("'--input' and '--image' are alternatives: give one of them")
    }
    guard inputPath != nil || imagePath != nil else { throw arguments.usage("missing '--input <x.npy>' or '--image <file>'") }
    outputPath = arguments.string(RunCommand.output)
    featuresPath = arguments.string(RunCommand.features)
    top = try arguments.integer(RunCommand.top, in: 1...100_000)
    if inputPath != nil {
      if outputPath == nil && featuresPath == nil && top == nil {
        throw arguments.usage("missing '--output <y.npy>' (or '--features <dir>' or '--top <k>')")
      }
      for option in [ImageOptions.size, ImageOptions.resize] where arguments.string(option) != nil {
        throw arguments.usage(
          "'--\(option.name)' applies to '--image', not to '--input' (an .npy input is used as it is)")
      }
    }
    threads = try ModelOptions.threads(arguments)
    preprocessing = try ImageOptions.preprocessing(arguments)
    try ModelOptions.requireFile(arguments, RunCommand.input)
    try ModelOptions.requireFile(arguments, ImageOptions.image)
    model = try ModelOptions.source(arguments)
    precision = try ModelOptions.precision(arguments)
    windowSemantics = try ModelOptions.windowSemantics(arguments)
    sparsity = try ModelOptions.sparsityArgument(arguments)
    verbose = arguments.flag(RunCommand.verbose)
  }
}
