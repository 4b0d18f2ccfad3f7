// `sparsevit eval`: dense versus pruned configurations on the user's own images: accuracy (when
// labelled), agreement with dense and latency from the same run, as a table, JSON, CSV and a plot.
import Engine
import Foundation
import Models

#if canImport(Glibc)
  import Glibc
#endif

enum EvalCommand {
  static let defaultSparsity = (["dense"] + PruningRatios.presetNames).joined(separator: ",")

  static let images = OptionSpec(
    name: "images", value: "dir",
    help: "Images (.png, .jpg, .jpeg): one subfolder per class (ImageNet layout), or a flat folder.")
  static let labels = OptionSpec(
    name: "labels", value: "file.csv",
    help: "Labels of a flat folder: 'file,label' lines (label: WordNet id, class index or name).")
  static let classes = OptionSpec(
    name: "classes", value: "file",
    help:
      "Class list, one per line in index order: 'name' or 'wnid name' (default: ImageNet's names and WordNet ids for 1000-class models)."
  )
  static let sparsity = OptionSpec(
    name: "sparsity", value: "list",
    help:
      "Comma list of configurations: ratios in [0, 1), 'dense', presets (\(PruningRatios.presetNames.joined(separator: ", "))) or JSON files (default \(defaultSparsity)). Dense is always evaluated: it is the reference."
  )
  static let cropFraction = OptionSpec(
    name: "crop-fraction", value: "f",
    help:
      "Share of the resized shorter side the centre crop keeps (timm's crop_pct; default 0.875, timm's pretrained Swin configs use 0.9)."
  )
  static let batch = OptionSpec(name: "batch", value: "n", help: "Images per forward (default 1).")
  static let limit = OptionSpec(
    name: "limit", value: "n", help: "Evaluate the first n images only (class folders: taken in turn from each class).")
  static let json = OptionSpec(
    name: "json", value: "file", help: "Write every configuration's results and the unreadable files as JSON.")
  static let csv = OptionSpec(name: "csv", value: "file", help: "Write one CSV row per configuration.")
  static let plot = OptionSpec(
    name: "plot", value: "file.svg",
    help: "Draw accuracy (or agreement without labels) against latency, Pareto front marked, as SVG.")

  static let spec = CommandSpec(
    name: "eval",
    summary: "Accuracy and agreement with dense next to latency, on a folder of your images.",
    usage:
      "--images <dir> [--labels <file.csv>] [--classes <file>] [--weights <file>] [--sparsity <list>] [--size <n>] [--batch <n>] [options]",
    options: [
      images, labels, classes, ModelOptions.weights, ModelOptions.modelSeed, ModelOptions.seed, ModelOptions.precision,
      ModelOptions.windowSemantics, sparsity,
      ImageOptions.size, ImageOptions.resize, cropFraction, batch, ModelOptions.threads, limit, json, csv, plot,
    ],
    discussion: """
      INPUT:
        --images DIR with one subfolder per class (n01440764/, … as ImageNet's val folder sorted
        into classes; folder names may also be class indices or class names) is labelled by its
        folders. A flat folder is labelled by --labels, or unlabelled: then only agreement with
        dense is reported. Images are decoded, preprocessed as 'run --image' does (--size,
        --resize) and run a batch at a time. Unreadable images are listed and skipped.

      MEASURES (per configuration):
        top-1 / top-5 accuracy against the labels; agree = share of images whose top-1 class is
        dense's; top-5 ovl = mean share of dense's top 5 in the configuration's top 5; cosine = mean
        cosine similarity of the pooled features with dense; kept = windows computed / windows;
        GFLOP per image; ms/img = median over timed batches of forward time / batch. Dense runs
        once per batch and is the reference of every configuration.
        Timing follows 'bench': the first batch is the cold round (not timed); every later full
        batch is a timed round running every configuration once, round-robin, starting one later
        each round. Use a release build and at least a few batches.

      EXAMPLES:
        sparsevit eval --weights swin_tiny.safetensors --images imagenet/val --limit 1000 --batch 4
        sparsevit eval --images photos/ --labels photos.csv --sparsity dense,cfg2_35ms,0.6 --size 672
        sparsevit eval --images photos/ --json eval.json --csv eval.csv --plot eval.svg
      """)

  static func run(_ options: EvalOptions) throws {
    // Everything that can be refused (weights, labels, configurations) is checked before a line
    // is printed, so that a refusal is the one `Error:` line.
    let start = monotonicSeconds()
    let model = try ModelOptions.load(
      options.model, precision: options.precision, windowSemantics: options.windowSemantics)
    let loadSeconds = monotonicSeconds() - start
    let dataset = try options.dataset(for: model)
    let evaluation: Evaluation
    do {
      evaluation = try Evaluation(
        model: model, configurations: try options.configurations(for: model), preprocessing: options.preprocessing,
        batch: options.batch, options: ForwardOptions(threads: options.threads))
    } catch let error as EvaluationError {
      throw Failure(error)
    }
    if BenchEnvironment.isDebugBuild {
      printError("WARNING: this sparsevit is a DEBUG build: its latencies mean nothing. Build with 'swift build -c release'.")
    }
    switch options.model {
    case .file(let path):
      printError(
        String(
          format: "Loaded %@ (%@, %@ layout, %.1fM parameters) in %.2f s", path, model.configuration.name,
          model.layout.rawValue, Double(model.parameterCount) / 1e6, loadSeconds))
    case .seeded(_, let seed):
      printError(
        "Note: no '--weights': using seeded random \(model.configuration.name) weights (seed \(seed)); accuracy against real labels means nothing."
      )
    }
    printError(describe(dataset) + "; \(evaluation.configurations.count) configurations, batch \(options.batch)")
    let progress = EvalProgressLine()
    let result: EvaluationResult
    do {
      result = try evaluation.run(dataset) { progress.update($0) }
    } catch {
      progress.finish()
      throw Failure(error)
    }
    progress.finish()
    for image in result.unreadable {
      printError("Skipped unreadable image \(image.name): \(image.reason)")
    }
    let report = EvalReport(
      evaluation: evaluation, result: result, dataset: dataset, weights: model.source,
      threads: options.threads)
    print(report.text(), terminator: "")
    if let path = options.jsonPath { try writeOutput(try report.json(), to: path, what: "JSON") }
    if let path = options.csvPath { try writeOutput(report.csv().utf8, to: path, what: "CSV") }
    if let path = options.plotPath { try writeOutput(EvalPlot(report: report).render().utf8, to: path, what: "plot") }
  }

  private static func describe(_ dataset: ImageDataset) -> String {
    let limited = dataset.count < dataset.available ? "\(dataset.count) of \(dataset.available)" : "\(dataset.count)"
    var text = "Evaluating \(limited) images of \(dataset.directory) (\(dataset.layout.rawValue))"
    if dataset.unlisted > 0 { text += ", \(dataset.unlisted) image(s) of the folder not in the labels file ignored" }
    return text
  }
}

/// The eval options, checked before the model is loaded.
struct EvalOptions {
  let spec: CommandSpec
  let model: ModelSource
  let precision: Precision
  /// `--window-semantics`; nil: the checkpoint's.
  let windowSemantics: WindowSemantics?
  let imagesPath: String
  let labelsPath: String?
  let classesPath: String?
  /// Raw `--sparsity` items, nil when the option was not given.
  let sparsityItems: [String]?
  let preprocessing: ImagePreprocessing
  let batch: Int
  let threads: Int
  let limit: Int?
  let jsonPath: String?
  let csvPath: String?
  let plotPath: String?

  init(_ arguments: Arguments) throws(UsageError) {
    spec = arguments.spec
    imagesPath = try arguments.required(EvalCommand.images)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: imagesPath, isDirectory: &isDirectory) else {
      throw arguments.usage("'--images': no such directory '\(imagesPath)'")
    }
    guard isDirectory.boolValue else {
      throw arguments.usage("'--images': '\(imagesPath)' is a file, expected a directory of images")
    }
    labelsPath = arguments.string(EvalCommand.labels)
    classesPath = arguments.string(EvalCommand.classes)
    try ModelOptions.requireFile(arguments, EvalCommand.labels)
    try ModelOptions.requireFile(arguments, EvalCommand.classes)
    if let text = arguments.string(EvalCommand.sparsity) {
      let items = try splitList(text, option: EvalCommand.sparsity, spec: spec)
      for item in items where Double(item) == nil && item != "dense" && PruningRatios.presets[item] == nil {
        guard FileManager.default.fileExists(atPath: item) else {
          throw arguments.usage(
            "'--sparsity' item '\(item)' is not a ratio, 'dense', a preset (\(PruningRatios.presetNames.joined(separator: ", "))) or an existing JSON file"
          )
        }
      }
      sparsityItems = items
    } else {
      sparsityItems = nil
    }
    let basic = try ImageOptions.preprocessing(arguments)
    if let fraction = try arguments.number(EvalCommand.cropFraction, in: 0.01...1) {
      if basic.resize != .centerCrop { throw arguments.usage("'--crop-fraction' applies to '--resize crop' only") }
      do {
        preprocessing = try ImagePreprocessing(
          size: basic.size, resize: basic.resize, interpolation: basic.interpolation, cropFraction: fraction)
      } catch {
        throw arguments.usage(error.description)
      }
    } else {
      preprocessing = basic
    }
    batch = try arguments.integer(EvalCommand.batch, default: 1, in: 1...4096)!
    threads = try ModelOptions.threads(arguments)
    limit = try arguments.integer(EvalCommand.limit, in: 1...Int.max)
    jsonPath = try checkedWritablePath(arguments, EvalCommand.json)
    csvPath = try checkedWritablePath(arguments, EvalCommand.csv)
    plotPath = try checkedWritablePath(arguments, EvalCommand.plot)
    let outputs = [jsonPath, csvPath, plotPath].compactMap { $0 }
    if Set(outputs).count != outputs.count {
      throw arguments.usage("'--json', '--csv' and '--plot' must name different files")
    }
    model = try ModelOptions.source(arguments)
    precision = try ModelOptions.precision(arguments)
    windowSemantics = try ModelOptions.windowSemantics(arguments)
  }

  /// The images and their labels: every label is resolved here, before any image is decoded.
  func dataset(for model: SwinTransformer) throws -> ImageDataset {
    let classCount = model.configuration.classes
    if classCount == 0 && (labelsPath != nil || classesPath != nil) {
      throw Failure(
        "the checkpoint has no classifier head (\(model.layout.rawValue) backbone): it cannot be scored against labels; drop '--labels'/'--classes' to compare pooled features with dense"
      )
    }
    do {
      let classes: ClassList? =
        classCount == 0 ? nil : try classesPath.map { path throws(ClassListError) in
          try ClassList.load(path: path, classes: classCount)
        } ?? .standard(classes: classCount)
      return try ImageDataset(directory: imagesPath, labelsFile: labelsPath, classes: classes, limit: limit)
    } catch {
      throw Failure(error)
    }
  }

  /// The configurations of `--sparsity` (default: dense and the presets that fit the model).
  func configurations(for model: SwinTransformer) throws -> [EvaluationConfiguration] {
    let depths = model.configuration.depths
    let items =
      sparsityItems
      ?? (PruningRatios.presetNames.allSatisfy { (try? PruningRatios.preset($0, depths: depths)) != nil }
        ? EvalCommand.defaultSparsity : BenchCommand.fallbackSparsity).split(separator: ",").map(String.init)
    var result: [EvaluationConfiguration] = []
    for item in items {
      let ratios: PruningRatios
      do {
        ratios = try PruningRatios.resolve(item, depths: depths)
      } catch {
        throw spec.usage("'--sparsity' item '\(item)': \(error.description)")
      }
      var label = sparsityLabel(item)
      if result.contains(where: { $0.label == label }) || (label == "dense" && item != "dense") {
        var index = 2
        while result.contains(where: { $0.label == "\(label) #\(index)" }) { index += 1 }
        label += " #\(index)"
      }
      result.append(EvaluationConfiguration(label: label, ratios: ratios))
    }
    return result
  }
}

/// Progress on stderr: images done, images per second and the time left; rewritten in place on a
/// terminal (after 2 s, at most 10 times a second), otherwise a plain line at most every 30 s.
final class EvalProgressLine {
  private let isTerminal = isatty(STDERR_FILENO) == 1
  private var last = -Double.infinity
  private var shown = false

  func update(_ progress: EvaluationProgress) {
    let elapsed = progress.elapsed
    guard progress.done < progress.total, elapsed > 0 else { return }
    let rate = Double(progress.done) / elapsed
    let left = Double(progress.total - progress.done) / max(rate, 1e-9)
    var text = String(
      format: "[%d/%d] %.2f images/s, %@ left", progress.done, progress.total, rate, formatDuration(left))
    if progress.unreadable > 0 { text += ", \(progress.unreadable) unreadable" }
    if isTerminal {
      guard elapsed >= 2, elapsed - last >= 0.1 else { return }
      FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
      shown = true
    } else {
      guard elapsed >= 10, elapsed - last >= 30 else { return }
      printError(text)
    }
    last = elapsed
  }

  /// Clears the in-place line.
  func finish() {
    if isTerminal && shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    shown = false
  }
}
