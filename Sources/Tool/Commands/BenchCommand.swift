// `sparsevit bench`: dense versus sparse latency on this machine. Per input size: one cold run per
// configuration (the first creates the workspace), warm-up rounds, then timed rounds that each run
// every configuration once, round-robin in a rotating order so that drift hits all alike; profiled
// passes come after and apart, so the profiler never touches a timed run.
import Engine
import Foundation
import Models

#if canImport(Glibc)
  import Glibc
#endif

enum BenchCommand {
  static let defaultSizes = "672"
  static let defaultSparsity = (["dense"] + PruningRatios.presetNames).joined(separator: ",")
  /// For models the published (Swin-T) presets do not fit.
  static let fallbackSparsity = "dense,0.2,0.4,0.6"
  static let defaultMinTime = 5.0
  static let minimumRounds = 10
  static let maximumRounds = 10_000
  static let profilePasses = 3

  static let sizes = OptionSpec(
    name: "sizes", value: "list",
    help: "Input sizes: comma list of N (square) or HxW, e.g. 224,448,672 or 448x672 (default \(defaultSizes)).")
  static let sparsity = OptionSpec(
    name: "sparsity", value: "list",
    help:
      "Comma list of configurations: ratios in [0, 1), 'dense', presets (\(PruningRatios.presetNames.joined(separator: ", "))) or JSON files (default \(defaultSparsity)). Dense is added as the speedup baseline when missing."
  )
  static let batch = OptionSpec(name: "batch", value: "n", help: "Images per forward (default 1).")
  static let warmup = OptionSpec(
    name: "warmup", value: "n", help: "Untimed warm-up rounds after the cold runs (default 1).")
  static let iterations = OptionSpec(
    name: "iterations", value: "n",
    help: "Timed rounds; each runs every configuration once (default: as many as --min-time needs).")
  static let minTime = OptionSpec(
    name: "min-time", value: "s",
    help:
      "Add rounds until every configuration has s seconds of timed runs, at least \(minimumRounds) rounds (default \(Int(defaultMinTime))).")
  static let inputSeed = OptionSpec(
    name: "input-seed", value: "n", help: "Seed of the random input images (default 0; also with --weights).")
  static let json = OptionSpec(
    name: "json", value: "file", help: "Write every run (statistics, samples, machine) as JSON.")
  static let csv = OptionSpec(name: "csv", value: "file", help: "Write one CSV row per configuration and size.")
  static let markdown = OptionSpec(
    name: "markdown", value: nil, help: "Print the header and tables as Markdown instead of plain text.")
  static let profile = OptionSpec(
    name: "profile", value: nil,
    help: "Also profile \(profilePasses) separate passes per configuration: time per operation, % of the forward.")
  static let plot = OptionSpec(
    name: "plot", value: "file.svg", help: "Draw latency and speedup against sparsity (and against size) as SVG.")

  static let spec = CommandSpec(
    name: "bench",
    summary: "Measure dense and sparse latency on this machine (table, JSON, CSV, profile, plot).",
    usage:
      "[--sizes <list>] [--sparsity <list>] [--batch <n>] [--threads <n>] [--iterations <n> | --min-time <s>] [options]",
    options: [
      sizes, sparsity, batch, ModelOptions.threads, warmup, iterations, minTime,
      ModelOptions.weights, ModelOptions.modelSeed, ModelOptions.windowSemantics, inputSeed, ModelOptions.seed, ModelOptions.precision,
      json, csv, markdown, profile, plot,
    ],
    discussion: """
      PROTOCOL:
        Per size, every configuration runs once cold (reported apart; the first run also creates
        the workspace), then --warmup untimed rounds, then timed rounds. A round runs every
        configuration once, starting one later each round, on the same prepared input. Speedups are
        the dense median over the configuration's median, and the median over rounds of the
        paired ratio (dense time / configuration time of the same round). GFLOP counts the work
        actually computed (kept windows only). Peak RSS is the process high-water mark so far.

      EXAMPLES:
        sparsevit bench
        sparsevit bench --sizes 224,448 --sparsity 0,0.5,cfg2_35ms --iterations 5 --profile
        sparsevit bench --json bench.json --csv bench.csv --plot bench.svg
      """)

  static func run(_ options: BenchOptions) throws {
    let model = try ModelOptions.load(
      options.model, precision: options.precision, windowSemantics: options.windowSemantics)
    let configurations = try options.configurations(for: model)
    try options.checkSizes(for: model)
    if BenchEnvironment.isDebugBuild {
      printError(
        "WARNING: this sparsevit is a DEBUG build: its timings mean nothing. Build with 'swift build -c release'."
      )
    }

    let environment = BenchEnvironment.current(model: model, threads: options.threads)
    let plan = BenchPlan(options: options, configurations: configurations, seed: options.inputSeed)
    let report = BenchReport(environment: environment, plan: plan, markdown: options.markdown)
    emit(report.header())

    let runner = BenchRunner(model: model, plan: plan)
    var sizes: [SizeMeasurement] = []
    for size in options.sizes {
      let measurement = try runner.measure(height: size.height, width: size.width)
      sizes.append(measurement)
      runner.progress.finish()
      let runs = BenchRun.runs(
        measurement, configuration: model.configuration, threads: options.threads, semantics: model.windowSemantics)
      emit(report.table(measurement, runs: runs))
      if options.profile { emit(report.profileTable(measurement, runs: runs)) }
    }
    runner.progress.finish()
    let runs = sizes.flatMap {
      BenchRun.runs(
        $0, configuration: model.configuration, threads: options.threads, semantics: model.windowSemantics)
    }
    emit(report.footer(runs))

    if let path = options.jsonPath {
      try writeOutput(report.json(sizes: sizes, runs: runs), to: path, what: "JSON")
    }
    if let path = options.csvPath {
      try writeOutput(Array(report.csv(runs).utf8), to: path, what: "CSV")
    }
    if let path = options.plotPath {
      let svg = SVGPlot(runs: runs, title: report.plotTitle, subtitle: report.plotSubtitle).render()
      try writeOutput(Array(svg.utf8), to: path, what: "plot")
    }
  }
}

// MARK: - Options

/// A configuration to measure: its label in tables, the argument it came from, its ratios.
struct BenchConfiguration {
  let label: String
  let argument: String
  let ratios: PruningRatios
}

/// One input size.
struct BenchSize: Equatable {
  let height: Int
  let width: Int
  var label: String { "\(height)x\(width)" }
}

/// The bench options, checked as far as possible before the model is loaded.
struct BenchOptions {
  let spec: CommandSpec
  let model: ModelSource
  let precision: Precision
  /// `--window-semantics`; nil: the checkpoint's.
  let windowSemantics: WindowSemantics?
  let sizes: [BenchSize]
  /// Raw `--sparsity` items, nil when the option was not given.
  let sparsityItems: [String]?
  let batch: Int
  let threads: Int
  let warmup: Int
  let stop: TimingStop
  let profile: Bool
  let markdown: Bool
  let jsonPath: String?
  let csvPath: String?
  let plotPath: String?
  let inputSeed: UInt64

  init(_ arguments: Arguments) throws(UsageError) {
    spec = arguments.spec
    sizes = try parseSizes(arguments.string(BenchCommand.sizes) ?? BenchCommand.defaultSizes, spec: spec)
    sparsityItems = try arguments.string(BenchCommand.sparsity).map { text throws(UsageError) in
      try Self.sparsityItems(text, spec: arguments.spec)
    }
    batch = try arguments.integer(BenchCommand.batch, default: 1, in: 1...65_536)!
    threads = try ModelOptions.threads(arguments)
    warmup = try arguments.integer(BenchCommand.warmup, default: 1, in: 0...1_000)!
    if arguments.string(BenchCommand.iterations) != nil && arguments.string(BenchCommand.minTime) != nil {
      throw arguments.usage("give either '--iterations <n>' or '--min-time <s>', not both")
    }
    if let rounds = try arguments.integer(BenchCommand.iterations, in: 1...BenchCommand.maximumRounds) {
      stop = .rounds(rounds)
    } else {
      let seconds = try arguments.number(BenchCommand.minTime, default: BenchCommand.defaultMinTime, in: 0...86_400)!
      stop = .minTime(
        seconds: seconds, minimumRounds: BenchCommand.minimumRounds, maximumRounds: BenchCommand.maximumRounds)
    }
    profile = arguments.flag(BenchCommand.profile)
    markdown = arguments.flag(BenchCommand.markdown)
    jsonPath = try checkedWritablePath(arguments, BenchCommand.json)
    csvPath = try checkedWritablePath(arguments, BenchCommand.csv)
    plotPath = try checkedWritablePath(arguments, BenchCommand.plot)
    let outputs = [jsonPath, csvPath, plotPath].compactMap { $0 }
    if Set(outputs).count != outputs.count {
      throw arguments.usage("'--json', '--csv' and '--plot' must name different files")
    }
    model = try ModelOptions.source(arguments)
    precision = try ModelOptions.precision(arguments)
    windowSemantics = try ModelOptions.windowSemantics(arguments)
    // The deprecated `--seed` seeded the weights and the input alike.
    let oldSeed = try arguments.seed(ModelOptions.seed)
    let seed = try arguments.seed(BenchCommand.inputSeed)
    if oldSeed != nil && seed != nil {
      throw arguments.usage("'--seed' is the former name of '--model-seed' and '--input-seed': give those only")
    }
    inputSeed = seed ?? oldSeed ?? 0
  }

  /// The items of a `--sparsity` list, each a ratio, 'dense', a preset or an existing file.
  private static func sparsityItems(_ text: String, spec: CommandSpec) throws(UsageError) -> [String] {
    let items = try splitList(text, option: BenchCommand.sparsity, spec: spec)
    for item in items where !isBuiltInSparsity(item) {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: item, isDirectory: &isDirectory) else {
        throw spec.usage(
          "'--sparsity' item '\(item)' is not a ratio, 'dense', a preset (\(PruningRatios.presetNames.joined(separator: ", "))) or an existing JSON file"
        )
      }
      if isDirectory.boolValue {
        throw spec.usage("'--sparsity' item '\(item)' is a directory, expected a JSON file")
      }
    }
    return items
  }

  /// The configurations to measure, dense first when it had to be added as the baseline.
  func configurations(for model: SwinTransformer) throws -> [BenchConfiguration] {
    let depths = model.configuration.depths
    let presetsFit = PruningRatios.presetNames.allSatisfy {
      (try? PruningRatios.preset($0, depths: depths)) != nil
    }
    var items = sparsityItems ?? []
    if sparsityItems == nil {
      items = (presetsFit ? BenchCommand.defaultSparsity : BenchCommand.fallbackSparsity).split(
        separator: ","
      ).map(String.init)
      if !presetsFit {
        printError(
          "Note: the published presets are for Swin-T depths (2, 2, 6, 2); this model has \(depths): measuring \(BenchCommand.fallbackSparsity)"
        )
      }
    }
    var result: [BenchConfiguration] = []
    for item in items {
      let ratios: PruningRatios
      do {
        ratios = try PruningRatios.resolve(item, depths: depths)
      } catch {
        throw spec.usage("'--sparsity' item '\(item)': \(error.description)")
      }
      var label = sparsityLabel(item)
      if result.contains(where: { $0.label == label }) {
        var index = 2
        while result.contains(where: { $0.label == "\(label) #\(index)" }) { index += 1 }
        label += " #\(index)"
      }
      result.append(BenchConfiguration(label: label, argument: item, ratios: ratios))
    }
    if !result.contains(where: { $0.ratios.isDense }) {
      printError("Note: adding 'dense' as the baseline of the speedups")
      result.insert(
        BenchConfiguration(label: "dense", argument: "dense", ratios: .dense(depths: depths)), at: 0
      )
    }
    return result
  }

  /// Refuses sizes below the model's minimum and shapes whose workspace and input would not fit the
  /// forward's memory budget, before anything is allocated.
  func checkSizes(for model: SwinTransformer) throws {
    let minimum = model.configuration.minimumInputSide
    let budget = ForwardOptions.defaultMemoryBudget
    for size in sizes {
      guard size.height >= minimum, size.width >= minimum else {
        throw spec.usage(
          "'--sizes' item \(size.label) is below the model's minimum of \(minimum)x\(minimum) pixels"
        )
      }
      let workspace = model.workspaceBytes(
        batch: batch, height: size.height, width: size.width, threads: threads)
      let input = inputBytes(
        batch: batch, height: size.height, width: size.width,
        channels: model.configuration.inputChannels)
      let (needed, overflow) = workspace.addingReportingOverflow(input)
      if overflow || needed > budget {
        throw spec.usage(
          "'--sizes' item \(size.label) at batch \(batch) needs about \(formatBytes(overflow ? Int.max : needed)) of working memory, over the budget of \(formatBytes(budget)) (half of physical memory)"
        )
      }
    }
  }
}

/// Whether `item` names a sparsity without a file: a number, 'dense' or a preset.
private func isBuiltInSparsity(_ item: String) -> Bool {
  Double(item) != nil || item == "dense" || PruningRatios.presets[item] != nil
}

/// The table label of a `--sparsity` item.
func sparsityLabel(_ item: String) -> String {
  if Double(item) != nil { return "uniform \(item)" }
  if item == "dense" || PruningRatios.presets[item] != nil { return item }
  return ((item as NSString).lastPathComponent as NSString).deletingPathExtension
}

/// Items of a comma list, refusing empty ones (`224,,448`).
func splitList(_ text: String, option: OptionSpec, spec: CommandSpec) throws(UsageError) -> [String] {
  let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
    $0.trimmingCharacters(in: .whitespaces)
  }
  if items.contains(where: \.isEmpty) {
    throw spec.usage(
      "'--\(option.name)' has an empty item in '\(text)' (expected a comma list without blanks)")
  }
  return items
}

/// `224,448x672` as sizes: N for N×N, HxW (or H×W) otherwise; no duplicates.
func parseSizes(_ text: String, spec: CommandSpec) throws(UsageError) -> [BenchSize] {
  var sizes: [BenchSize] = []
  for item in try splitList(text, option: BenchCommand.sizes, spec: spec) {
    let parts = item.lowercased().split(separator: "x", omittingEmptySubsequences: false)
      .flatMap { $0.split(separator: "×", omittingEmptySubsequences: false) }
    let numbers = parts.compactMap { part in
      Int(part).flatMap { $0 > 0 && $0 <= 1 << 24 ? $0 : nil }
    }
    guard numbers.count == parts.count, numbers.count == 1 || numbers.count == 2 else {
      throw spec.usage(
        "'--sizes' item '\(item)' is not a size (expected N or HxW with positive integers, e.g. 672 or 448x672)"
      )
    }
    let size = BenchSize(height: numbers[0], width: numbers.last!)
    if sizes.contains(size) { throw spec.usage("'--sizes' lists \(size.label) twice") }
    sizes.append(size)
  }
  return sizes
}

/// Bytes of a float32 `[batch, channels, height, width]` input, `Int.max` on overflow.
func inputBytes(batch: Int, height: Int, width: Int, channels: Int) -> Int {
  var total = 4
  for factor in [batch, channels, height, width] {
    let (product, overflow) = total.multipliedReportingOverflow(by: factor)
    if overflow { return Int.max }
    total = product
  }
  return total
}

// MARK: - Measurement

/// What the whole bench does, shared by the runner and the report.
struct BenchPlan {
  let options: BenchOptions
  let configurations: [BenchConfiguration]
  let seed: UInt64

  var batch: Int { options.batch }
  var threads: Int { options.threads }
  /// Profiled passes per configuration and size (0 without `--profile`).
  var profilePasses: Int { options.profile ? BenchCommand.profilePasses : 0 }

  /// Forward passes of the whole bench when known in advance (fixed rounds).
  var totalForwards: Int? {
    guard case .rounds(let rounds) = options.stop else { return nil }
    return options.sizes.count * configurations.count
      * (1 + options.warmup + rounds + profilePasses)
  }
}

/// One configuration's runs at one size.
struct ConfigurationMeasurement {
  let configuration: BenchConfiguration
  /// Seconds of the first run at this size.
  var cold: Double = 0
  /// Seconds of each timed run, in round order.
  var samples: [Double] = []
  /// Kept and total windows of every block (the same on every run of the same input).
  var usage: [[WindowUsage]] = []
  var profile: ProfileMeasurement? = nil
}

/// Profiled passes of one configuration: per operation and measured from outside, seconds per pass.
struct ProfileMeasurement {
  let passes: Int
  /// Seconds per forward per operation, summing to the profiled forward time.
  let parts: [ProfileOperation: Double]
  /// Per stage (stem in stage 0, head in the last), seconds per forward per operation.
  let stages: [[ProfileOperation: Double]]
  let measured: Double
}

/// Everything measured at one size.
struct SizeMeasurement {
  let size: BenchSize
  let batch: Int
  let rounds: Int
  let warmupRounds: Int
  let configurations: [ConfigurationMeasurement]
  /// VmHWM after this size, bytes (nil where /proc is missing).
  let peakResidentBytes: Int?
  /// Wall seconds spent at this size.
  let seconds: Double
}

/// Runs the protocol on one model.
final class BenchRunner {
  let model: SwinTransformer
  let plan: BenchPlan
  let progress: ProgressLine

  init(model: SwinTransformer, plan: BenchPlan) {
    self.model = model
    self.plan = plan
    progress = ProgressLine(total: plan.totalForwards)
  }

  func measure(height: Int, width: Int) throws -> SizeMeasurement {
    let start = monotonicSeconds()
    let size = BenchSize(height: height, width: width)
    let input = seededInput(
      batch: plan.batch, channels: model.configuration.inputChannels, height: height, width: width,
      seed: plan.seed)
    let options = ForwardOptions(threads: plan.threads)
    let configurations = plan.configurations
    var results = configurations.map { ConfigurationMeasurement(configuration: $0) }

    let times = try timeInterleaved(
      count: configurations.count, warmup: plan.options.warmup, stop: plan.options.stop
    ) { index, phase in
      let (seconds, output) = try timedForward(input, configurations[index], options)
      if phase == .cold { results[index].usage = output.windowUsage }
      progress.step(
        "\(size.label) \(configurations[index].label) \(formatMilliseconds(seconds)) (\(phaseText(phase)))")
      return seconds
    }
    for index in configurations.indices {
      results[index].cold = times.cold[index]
      results[index].samples = times.samples[index]
    }
    let rounds = times.rounds
    if plan.profilePasses > 0 {
      let profilers = configurations.map { _ in Profiler(workers: plan.threads) }
      var measured = [Double](repeating: 0, count: configurations.count)
      for pass in 0..<plan.profilePasses {
        for index in roundOrder(pass, count: configurations.count) {
          var profiled = options
          profiled.profiler = profilers[index]
          let (seconds, _) = try timedForward(input, configurations[index], profiled)
          measured[index] += seconds
          progress.step(
            "\(size.label) \(configurations[index].label) \(formatMilliseconds(seconds)) (profiled)"
          )
        }
      }
      for index in configurations.indices {
        let passes = Double(profilers[index].passes)
        results[index].profile = ProfileMeasurement(
          passes: profilers[index].passes,
          parts: profilers[index].seconds.mapValues { $0 / passes },
          stages: profilers[index].secondsByStage.map { $0.mapValues { $0 / passes } },
          measured: measured[index] / passes)
      }
    }
    return SizeMeasurement(
      size: size, batch: plan.batch, rounds: rounds, warmupRounds: plan.options.warmup,
      configurations: results,
      peakResidentBytes: peakResidentBytes(), seconds: monotonicSeconds() - start)
  }

  /// One forward timed from outside: the input is ready and the workspace exists after the first call.
  private func timedForward(
    _ input: Tensor, _ configuration: BenchConfiguration, _ options: ForwardOptions
  ) throws -> (Double, SwinOutput) {
    let start = monotonicSeconds()
    let output: SwinOutput
    do {
      output = try model.forward(input, sparsity: configuration.ratios, options: options)
    } catch {
      throw Failure(
        "\(configuration.label) at \(input.shape[2])x\(input.shape[3]): \(error.description)")
    }
    return (monotonicSeconds() - start, output)
  }

  private func phaseText(_ phase: TimingPhase) -> String {
    switch phase {
    case .cold: return "cold"
    case .warmup: return "warm-up"
    case .timed(let round):
      if case .rounds(let count) = plan.options.stop { return "round \(round + 1)/\(count)" }
      return "round \(round + 1)"
    }
  }
}

/// A deterministic input `[batch, channels, height, width]` with values uniform in [−2, 2)
/// (the range of ImageNet-normalized pixels).
func seededInput(batch: Int, channels: Int, height: Int, width: Int, seed: UInt64) -> Tensor {
  var generator = SplitMix64(seed: seed ^ 0x1A9E_7B00)
  let count = batch * channels * height * width
  var values = [Float](repeating: 0, count: count)
  for i in 0..<count { values[i] = Float(Double(generator.next() >> 40) * 0x1p-24 * 4 - 2) }
  return Tensor(shape: [batch, channels, height, width], values: values)
}

// MARK: - Progress

/// Progress on stderr: a line rewritten in place on a terminal (after 2 s, at most 10 times a second),
/// otherwise a plain line at most every 30 s, so CI logs stay short.
final class ProgressLine {
  private let total: Int?
  private let isTerminal = isatty(STDERR_FILENO) == 1
  private let start = monotonicSeconds()
  private var last = 0.0
  private var done = 0
  private var shown = false

  init(total: Int?) { self.total = total }

  func step(_ text: @autoclosure () -> String) {
    done += 1
    let now = monotonicSeconds()
    let elapsed = now - start
    let counter = total.map { "[\(done)/\($0)]" } ?? "[\(done)]"
    if isTerminal {
      guard elapsed >= 2, now - last >= 0.1 else { return }
      FileHandle.standardError.write(Data("\r\u{1B}[K\(counter) \(text())".utf8))
      shown = true
    } else {
      guard elapsed >= 10, now - last >= 30 else { return }
      printError("\(counter) \(text())")
    }
    last = now
  }

  /// Clears the in-place line.
  func finish() {
    if isTerminal && shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    shown = false
  }
}
