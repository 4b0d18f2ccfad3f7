// `sparsevit eval`: dense versus pruned configurations on the user's own images: accuracy (when
// labelled), agreement with dense and latency from the same run, as a table, JSON, CSV and a plot.
import Engine
import Foundation
import Models

#if canImport(Glibc)
  import Glibc
#endif

enum EvalCommand {
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
    let model = try options.model.load()
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
      printError(
        "WARNING: this sparsevit is a DEBUG build: its latencies mean nothing. Build with 'swift build -c release'.")
    }
    switch options.model.source {
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
  let model: ModelChoice
  let imagesPath: String
  let labelsPath, classesPath: String?
  /// Raw `--sparsity` items, nil when the option was not given.
  let sparsityItems: [String]?
  let preprocessing: ImagePreprocessing
  let batch, threads: Int
  let limit: Int?
  let jsonPath, csvPath, plotPath: String?

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
    sparsityItems = try arguments.string(EvalCommand.sparsity).map { text throws(UsageError) in
      try SparsityList.items(text, option: EvalCommand.sparsity, spec: arguments.spec)
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
    (jsonPath, csvPath, plotPath) = try checkedReportPaths(
      arguments, json: EvalCommand.json, csv: EvalCommand.csv, plot: EvalCommand.plot)
    model = try ModelChoice(arguments)
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
        classCount == 0
        ? nil
        : try classesPath.map { path throws(ClassListError) in
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
      ?? SparsityList.split(
        SparsityList.presetsFit(depths: depths) ? SparsityList.defaultList : SparsityList.fallbackList)
    // "dense" names the reference: a file called dense.json is numbered.
    return try SparsityList.resolve(items, depths: depths, spec: spec) { label, item in
      label == "dense" && item != "dense"
    }.map { EvaluationConfiguration(label: $0.label, ratios: $0.ratios) }
  }
}

/// Progress on stderr: images done, images per second and the time left, throttled as `StatusLine`
/// does.
final class EvalProgressLine {
  private let line = StatusLine()

  func update(_ progress: EvaluationProgress) {
    let elapsed = progress.elapsed
    guard progress.done < progress.total, elapsed > 0 else { return }
    let rate = Double(progress.done) / elapsed
    let left = Double(progress.total - progress.done) / max(rate, 1e-9)
    var text = String(
      format: "[%d/%d] %.2f images/s, %@ left", progress.done, progress.total, rate, formatDuration(left))
    if progress.unreadable > 0 { text += ", \(progress.unreadable) unreadable" }
    line.show(text, elapsed: elapsed)
  }

  /// Clears the in-place line.
  func finish() { line.finish() }
}
