// `sparsevit mask`: the SparseViT paper's visualization of one image: per stage the windows that
// window pruning kept drawn bright and the pruned ones dimmed, as one PNG.
import Engine
import Foundation
import Models

enum MaskCommand {
  static let output = OptionSpec(
    name: "output", value: "mask.png", help: "Where to write the picture (PNG, replaced atomically).")

  static let spec = CommandSpec(
    name: "mask",
    summary: "Draw which windows pruning keeps for an image (one PNG, a panel per stage).",
    usage: "--image <file> --sparsity <cfg> --output <mask.png> [--weights <file>] [--size <n>] [options]",
    options: [
      ImageOptions.image,
      ModelOptions.sparsity,
      output,
      ModelOptions.weights, ModelOptions.modelSeed, ModelOptions.windowSemantics, ModelOptions.seed, ModelOptions.precision, ImageOptions.size, ImageOptions.resize, ModelOptions.threads,
    ],
    discussion: """
      Each stage is a column. A stage gets one panel per distinct pruning ratio of its blocks, drawn
      for the first block with that ratio (later blocks keep a prefix of the same window ranking);
      an unpruned stage shows every window kept. Shifted blocks prune windows of the rolled map, so
      their windows wrap around the edges. Panels show the preprocessed model input, enlarged to at
      least 224 pixels. The kept/total windows of every panel are also printed.

      EXAMPLES:
        sparsevit mask --image photo.jpg --sparsity cfg2_35ms --output mask.png
        sparsevit mask --image photo.png --sparsity 0.5 --output mask.png --size 448
      """)

  static func run(_ options: MaskOptions) throws {
    let image = try RGBImage.load(path: options.imagePath)
    let model = try ModelOptions.load(
      options.model, precision: options.precision, windowSemantics: options.windowSemantics)
    let sparsity = try ModelOptions.resolveSparsity(options.sparsity, model: model, spec: spec)
    let preprocessing = options.preprocessing
    let mask = try model.pruningMask(
      for: image, sparsity: sparsity, preprocessing: preprocessing, options: ForwardOptions(threads: options.threads),
      caption: "sparsity \(options.sparsity)")
    let outputPath = options.outputPath, imagePath = options.imagePath, sparsityArgument = options.sparsity
    try mask.picture.writePNG(to: outputPath)
    for panel in mask.panels {
      let blocks = panel.blocks.map(String.init).joined(separator: ",")
      print(
        "stage \(panel.stage) blocks \(blocks): ratio \(panel.ratio), kept \(panel.keptWindows)/\(panel.totalWindows) windows"
          + " (block \(panel.block) drawn\(panel.shifted ? ", shifted" : ""))")
    }
    printError(
      "wrote \(outputPath) (\(mask.picture.width)×\(mask.picture.height), \(imagePath) at \(preprocessing.size)×\(preprocessing.size), sparsity \(sparsityArgument))"
    )
  }
}

/// The options of `mask`, parsed once.
struct MaskOptions {
  let imagePath: String
  let sparsity: String
  let outputPath: String
  let model: ModelSource
  let precision: Precision
  /// `--window-semantics`; nil: the checkpoint's.
  let windowSemantics: WindowSemantics?
  let threads: Int
  let preprocessing: ImagePreprocessing

  init(_ arguments: Arguments) throws(UsageError) {
    imagePath = try arguments.required(ImageOptions.image)
    _ = try arguments.required(ModelOptions.sparsity)
    outputPath = try arguments.required(MaskCommand.output)
    threads = try ModelOptions.threads(arguments)
    preprocessing = try ImageOptions.preprocessing(arguments)
    try ModelOptions.requireFile(arguments, ImageOptions.image)
    model = try ModelOptions.source(arguments)
    precision = try ModelOptions.precision(arguments)
    windowSemantics = try ModelOptions.windowSemantics(arguments)
    sparsity = try ModelOptions.sparsityArgument(arguments)!
  }
}

/// Options of the commands that read an image file.
enum ImageOptions {
  static let image = OptionSpec(name: "image", value: "file", help: "A PNG or JPEG image (any size; RGB, grayscale or palette).")
  static let size = OptionSpec(name: "size", value: "n", help: "Side of the square model input in pixels (default 224).")
  static let resize = OptionSpec(
    name: "resize", value: "mode",
    help: "'crop': resize the shorter side to size/0.875 (bicubic) and take the centre (timm's eval transform, default); 'direct': resize to size × size.")

  /// `--size` and `--resize` as preprocessing (usage errors for bad values).
  static func preprocessing(_ arguments: Arguments) throws(UsageError) -> ImagePreprocessing {
    let size = try arguments.integer(Self.size, default: 224, in: 1...8192)!
    let modeText = arguments.string(resize) ?? ImagePreprocessing.Resize.centerCrop.rawValue
    guard let mode = ImagePreprocessing.Resize(rawValue: modeText) else {
      throw arguments.usage("'--resize' must be 'crop' or 'direct', got '\(modeText)'")
    }
    do {
      return try ImagePreprocessing(size: size, resize: mode)
    } catch {
      throw arguments.usage(error.description)
    }
  }
}
