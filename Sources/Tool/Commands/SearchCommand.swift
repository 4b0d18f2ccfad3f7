// `sparsevit search`: the per-block pruning ratios that keep the model closest to dense under a
// latency budget measured on this machine (SparseViT's evolutionary search). Thin: options, the
// cached latency model, calibration images, then the library's search, a timed check and reports.
import Engine
import Foundation
import Models

#if canImport(Glibc)
  import Glibc
#endif

enum SearchCommand {
  static let defaultSize = "672"
  static let defaultIterations = 6
  static let defaultRounds = 7
  static let defaultQuietWait = 120.0
  static let defaultRecalibrateRounds = 0
  /// Default lower bound of the window as a share of the budget.
  static let defaultWindow = 0.9

  static let latencyMs = OptionSpec(
    name: "latency-ms", value: "T",
    help:
      "Latency budget per forward, milliseconds (on this machine, at --size, --batch, --threads)."
  )
  static let minLatencyMs = OptionSpec(
    name: "min-latency-ms", value: "L",
    help:
      "Lower end of the latency window sampled (default: 0.9·T, or less to include the slowest uniform ratio that fits)."
  )
  static let output = OptionSpec(
    name: "output", value: "cfg.json",
    help: "Where to write the best configuration (sparsity JSON, readable by --sparsity).")
  static let size = OptionSpec(
    name: "size", value: "n",
    help:
      "Input size N (square) or HxW (default \(defaultSize), or the --calibration images' size)."
  )
  static let batch = OptionSpec(
    name: "batch", value: "n", help: "Images per forward of the latency budget (default 1).")
  static let calibrationFile = OptionSpec(
    name: "calibration", value: "x.npy",
    help: "Calibration images: float32 (n, 3, H, W), ImageNet-normalized.")
  static let imagesDirectory = OptionSpec(
    name: "images", value: "dir",
    help:
      "Calibration images: the .png/.jpg files of a directory (resized and centre-cropped to --size)."
  )
  static let calibrationCount = OptionSpec(
    name: "calibration-count", value: "n",
    help:
      "Calibration images scored per configuration: the first n given, or n synthetic ones (default: as many as cost two 672² forwards, 1…\(CalibrationSet.maximumDefaultCount): \(CalibrationSet.defaultCount(height: 672, width: 672)) at 672, \(CalibrationSet.defaultCount(height: 224, width: 224)) at 224)."
  )
  static let score = OptionSpec(
    name: "score", value: "metric",
    help:
      "What to maximize: cosine (pooled features), top1 (agreement with dense) or mean (default cosine)."
  )
  static let population = OptionSpec(
    name: "population", value: "n", help: "Configurations per generation (default 100).")
  static let parents = OptionSpec(
    name: "parents", value: "n", help: "Best configurations kept as parents (default 25).")
  static let mutation = OptionSpec(
    name: "mutation", value: "p",
    help: "Probability that mutation redraws a pair's ratio (default 0.1).")
  static let iterations = OptionSpec(
    name: "iterations", value: "n",
    help: "Generations after the initial population (default \(defaultIterations)).")
  static let seed = OptionSpec(
    name: "seed", value: "n",
    help: "Seed of the search and of the synthetic calibration images (default 0).")
  static let plot = OptionSpec(
    name: "plot", value: "file.svg",
    help:
      "Draw score against latency (every configuration, Pareto front, uniform ratios) as SVG.")
  static let latencyModelFile = OptionSpec(
    name: "latency-model", value: "file",
    help:
      "Latency model cache file (default: $XDG_CACHE_HOME or ~/.cache, sparsevit/latency-<hash>.json)."
  )
  static let remeasure = OptionSpec(
    name: "remeasure", value: nil,
    help: "Measure the latency model again even when a cached one applies.")
  static let cacheBusy = OptionSpec(
    name: "cache-busy", value: nil,
    help: "Cache the latency model even when the machine was busy while it was measured.")
  static let rounds = OptionSpec(
    name: "rounds", value: "n",
    help: "Timed rounds per configuration when measuring latency (default \(defaultRounds)).")
  static let recalibrate = OptionSpec(
    name: "recalibrate", value: "n",
    help:
      "Map a cached latency model onto the machine's speed now (×factor + offset) from n rounds of timing dense and every ratio 0.8 (default \(defaultRecalibrateRounds): use it as cached, so that a seed gives the same result; a shared machine's speed drifts by 10–30% over minutes)."
  )
  static let quietWait = OptionSpec(
    name: "quiet-wait", value: "s",
    help:
      "Seconds in all to wait for other processes when they disturb a timed run, before it is repeated (default \(Int(defaultQuietWait)); 0: repeat at once)."
  )
  static let validateCount = OptionSpec(
    name: "validate", value: "n",
    help:
      "Time n random configurations and dense in interleaved rounds and print the latency model's prediction errors, of the time and of the fraction of dense (alone or before a search)."
  )

  static let spec = CommandSpec(
    name: "search",
    summary: "Search per-block pruning ratios that fit a latency budget on this machine.",
    usage:
      "--latency-ms <T> --output <cfg.json> [--size <n>] [--batch <n>] [--threads <n>] [--calibration <x.npy> | --images <dir>] [options]",
    options: [
      latencyMs, minLatencyMs, output, size, batch, ModelOptions.threads, ModelOptions.weights,
      ModelOptions.modelSeed, ModelOptions.windowSemantics, ModelOptions.precision, calibrationFile, imagesDirectory, calibrationCount, score, population, parents,
      mutation, iterations, seed, plot, latencyModelFile, remeasure, cacheBusy, rounds, recalibrate,
      quietWait, validateCount,
    ],
    discussion: """
      SEARCH:
        Each W-MSA/SW-MSA pair shares a ratio from {0, 0.1, …, 0.8}, non-decreasing within a stage.
        Generation 0: the uniform ratios inside [L, T] plus random configurations drawn until
        predicted within [L, T]. Each generation keeps the 25 best, adds 50 mutated children and 25
        crossovers (each redrawn until it fits). Every distinct configuration is scored once: how
        close the pruned model stays to dense on the calibration images (mean cosine similarity of
        the pooled features; top-1 agreement of the logits), on synthetic picture-like images when
        none are given. The same seed and latency model give the same result.

      LATENCY MODEL:
        Latency = fixed part + per stage (time per window × windows its blocks compute), fit by
        least squares to 29 configurations (dense; each stage alone at 0.2, 0.4, 0.6, 0.8; every
        stage at those; 8 random ones) timed in 7 interleaved rounds. Each round's speed is divided
        out (median polish: a shared machine drifts by 10–20% within minutes), a configuration's
        time is its median, outliers are left out of the fit. A run during which other processes
        kept over 5% of the CPUs busy (/proc/stat) is repeated after waiting for quiet (at most
        --quiet-wait seconds in all). Measured once per CPU, threads, size, batch, architecture and
        engine build, then read from the cache (not cached when the machine was busy throughout,
        unless --cache-busy).
        --validate n times n random configurations and dense against it: the error of the time
        includes the machine's drift since the model was measured, the error of the fraction of
        dense does not. --recalibrate n maps it onto the machine's speed now (then results depend
        on that speed).

      DEFAULTS AND TIME:
        At 672×672 a forward takes 0.4–0.9 s on two cores. The first run measures the latency model
        (29 × 8 forwards, ~2.5 min on a quiet machine). The search scores each configuration on 2
        images (~0.9 s): ~105 in generation 0, then 15–30 new per generation (children often repeat
        their parents), ~240 in 6 generations (~3.5 min). Then the result, the best fitting uniform
        ratio and dense are timed (1 + 7 rounds). About 7 minutes in all the first time, 4 after.

      EXAMPLES:
        sparsevit search --latency-ms 500 --output cfg.json --plot front.svg
        sparsevit search --validate 20
        sparsevit search --latency-ms 120 --size 224 --images photos/ --output cfg224.json
        sparsevit bench --sparsity cfg.json
      """)

  static func run(_ options: SearchOptions) throws {
    if BenchEnvironment.isDebugBuild {
      printError(
        "WARNING: this sparsevit is a DEBUG build: its latency model means nothing. Build with 'swift build -c release'."
      )
    }
    let model = try ModelOptions.load(
      options.model, precision: options.precision, windowSemantics: options.windowSemantics, verbose: true)
    let calibration = try options.calibrationImages(for: model)
    let size = calibration.size
    let environment = BenchEnvironment.current(model: model, threads: options.threads)
    let key: LatencyModelKey
    do {
      key = try LatencyModelKey.current(
        model: model, threads: options.threads, height: size.height, width: size.width, batch: options.batch)
    } catch {
      throw Failure(error)
    }
    let cachePath = options.latencyModelPath ?? LatencyModelCache.path(for: key)
    var (latency, cached) = try latencyModel(model: model, key: key, path: cachePath, options: options)
    if cached && options.recalibrateRounds > 0 {
      latency = try recalibrate(model: model, latency: latency, options: options)
    }
    let report = SearchReport(
      model: model, environment: environment, options: options, size: size,
      calibration: calibration.label,
      latencyModel: latency, latencyModelPath: cachePath)
    emit(report.latencyModelSummary())

    if let count = options.validate {
      emit(
        try validate(model: model, latency: latency, count: count, options: options, report: report)
      )
    }
    guard let budget = options.latencySeconds else { return }
    let (result, minSeconds, start) = try search(
      model: model, latency: latency, budget: budget, calibration: calibration, options: options)
    let measured = try timeResult(result, model: model, size: size, options: options)
    emit(
      report.result(
        result, budget: budget, minimum: minSeconds, measured: measured,
        seconds: monotonicSeconds() - start))
    let document = report.outputDocument(
      result, budget: budget, minimum: minSeconds, measured: measured)
    try writeOutput(
      result.best.ratios.jsonData(extra: document), to: options.outputPath!, what: "configuration")
    if let plotPath = options.plotPath {
      let svg = SearchPlot(
        result: result, budget: budget, minimum: minSeconds, measured: measured,
        title: report.plotTitle, subtitle: report.plotSubtitle
      ).render()
      try writeOutput(Data(svg.utf8), to: plotPath, what: "plot")
    }
  }

  /// The evolutionary search within [minimum, `budget`] (minimum from the options or
  /// `defaultMinimum`), scored on the calibration images, with progress on stderr; also when the
  /// search itself started (after the reference forward).
  static func search(
    model: SwinTransformer, latency: LatencyModel, budget: Double, calibration: Calibration,
    options: SearchOptions
  ) throws -> (SearchResult, minSeconds: Double, start: Double) {
    let space = try SearchSpace(depths: model.configuration.depths)
    let minSeconds =
      options.minLatencySeconds ?? defaultMinimum(budget: budget, space: space, latency: latency)
    var parameters = SearchParameters(maxSeconds: budget, minSeconds: minSeconds)
    parameters.population = options.population
    parameters.parents = options.parents
    parameters.mutationProbability = options.mutation
    parameters.iterations = options.iterations
    parameters.seed = options.seed
    let search = try RatioSearch(space: space, parameters: parameters)
    try search.checkFeasible(latency: latency.predictedSeconds)

    printError(
      "Scoring against dense on \(calibration.label); reference forward…")
    let scorer = try FidelityScorer(
      model: model, images: calibration.images, metric: options.metric)
    printError(
      String(
        format:
          "Searching %.1f–%.1f ms (dense predicted %.1f ms): population %d, parents %d, mutation %.2f, %d generations, seed %llu",
        minSeconds * 1000, budget * 1000, latency.denseSeconds * 1000, options.population,
        options.parents, options.mutation,
        options.iterations, options.seed))
    let start = monotonicSeconds()
    let progress = ProgressLine(total: nil)
    let result = try search.run(
      latency: latency.predictedSeconds, scorer: scorer,
      progress: { event in
        switch event {
        case .scored(let candidate, let count):
          progress.step(
            String(
              format: "scored %d configurations (last %.1f ms, %@)", count,
              candidate.predictedSeconds * 1000, formatScore(candidate.score)))
        case .generation(let summary):
          progress.finish()
          printError(
            String(
              format:
                "generation %d/%d: %d new, %d scored, best %@ at %.1f ms predicted (%@ elapsed)",
              summary.index,
              options.iterations, summary.newlyScored, summary.totalScored,
              formatScore(summary.best.score),
              summary.best.predictedSeconds * 1000, formatDuration(monotonicSeconds() - start)))
        }
      })
    progress.finish()
    return (result, minSeconds, start)
  }

  /// The result timed against dense and the best fitting uniform ratio, interleaved.
  static func timeResult(
    _ result: SearchResult, model: SwinTransformer, size: BenchSize, options: SearchOptions
  ) throws -> [MeasuredConfiguration] {
    let depths = model.configuration.depths
    var checked: [(label: String, ratios: PruningRatios)] = [
      ("dense", .dense(depths: depths)), ("search result", result.best.ratios),
    ]
    if let uniform = result.bestUniform {
      checked.append(
        (
          "uniform \(formatRatio(uniform.ratio))",
          try PruningRatios.uniform(uniform.ratio, depths: depths)
        ))
    }
    printError(
      "Timing the result, dense and the best fitting uniform ratio (\(options.rounds) interleaved rounds)…"
    )
    let input = SyntheticImages.batch(
      count: options.batch, height: size.height, width: size.width, seed: options.seed)
    let forward = ForwardOptions(threads: options.threads)
    let timingProgress = ProgressLine(total: checked.count * (1 + options.rounds))
    let timer = QuietTimer(patience: options.quietWait)
    let runs = try timeConfigurations(
      model, input: input, configurations: checked.map(\.ratios), options: forward,
      rounds: options.rounds, time: timer.time,
      progress: { done, total in timingProgress.step("timing \(done)/\(total)") })
    timingProgress.finish()
    printError(timer.summary)
    return zip(checked, runs).map {
      MeasuredConfiguration(label: $0.label, ratios: $0.ratios, runs: $1)
    }
  }

  /// The lower end of the window: 0.9·T, lowered to the predicted latency of the slowest uniform
  /// configuration within T, so that the best fitting uniform ratio is always a candidate.
  static func defaultMinimum(budget: Double, space: SearchSpace, latency: LatencyModel) -> Double {
    let uniform = space.choices.indices.map {
      latency.predictedSeconds(space.ratios(space.uniform($0)))
    }
    let slowestFitting = uniform.filter { $0 <= budget }.max() ?? 0
    return min(defaultWindow * budget, slowestFitting)
  }

  /// The cached latency model when it applies, otherwise a new measurement (then cached).
  static func latencyModel(
    model: SwinTransformer, key: LatencyModelKey, path: String?, options: SearchOptions
  ) throws -> (LatencyModel, cached: Bool) {
    if let path, !options.remeasure {
      switch LatencyModelCache.lookup(path: path, key: key) {
      case .hit(let cached):
        printError("Using the latency model in \(path) (measured \(cached.measured))")
        return (cached, true)
      case .absent: break
      case .otherKey(let other):
        printError("Note: \(path) was measured for \(other), this search needs \(key): measuring again")
      case .unusable(let error):
        printError("Note: ignoring \(error.description): measuring again")
      }
    }
    let design = LatencyModel.design(depths: model.configuration.depths)
    printError(
      "Measuring the latency model of this machine: \(design.count) configurations × (1 + \(options.rounds) rounds) at \(key.height)x\(key.width), batch \(key.batch), \(key.threads) threads (once; cached)…"
    )
    let input = SyntheticImages.batch(
      count: key.batch, height: key.height, width: key.width, seed: 0)
    let progress = ProgressLine(total: design.count * (1 + options.rounds))
    let start = monotonicSeconds()
    let timer = QuietTimer(patience: options.quietWait)
    let measured = try LatencyModel.measure(
      model: model, input: input, key: key, design: design, rounds: options.rounds,
      time: timer.time,
      progress: { done, total in progress.step("latency model \(done)/\(total)") })
    progress.finish()
    printError("Measured in \(formatDuration(monotonicSeconds() - start)). \(timer.summary)")
    if !LatencyModelCache.mayStore(measuredWith: timer, force: options.cacheBusy) {
      printError(
        "Warning: the machine was busy throughout: this latency model is used for this run but not cached. Measure again when the machine is quiet."
      )
      return (measured, false)
    }
    if let path {
      do {
        try LatencyModelCache.store(measured, at: path)
        printError("Saved the latency model to \(path)")
      } catch {
        printError(
          "Warning: cannot cache the latency model (\(error)); it will be measured again next time")
      }
    }
    return (measured, false)
  }

  /// The cached model mapped onto the machine's speed now (`LatencyModel.recalibrated`): dense and
  /// every ratio 0.8, the ends of the range, timed in `--recalibrate` interleaved rounds.
  static func recalibrate(model: SwinTransformer, latency: LatencyModel, options: SearchOptions) throws
    -> LatencyModel
  {
    let depths = model.configuration.depths
    let configurations = [PruningRatios.dense(depths: depths), try PruningRatios.uniform(0.8, depths: depths)]
    let input = SyntheticImages.batch(
      count: options.batch, height: latency.key.height, width: latency.key.width, seed: 0)
    let timer = QuietTimer(patience: options.quietWait)
    let runs = try timeConfigurations(
      model, input: input, configurations: configurations, options: ForwardOptions(threads: options.threads),
      rounds: options.recalibrateRounds, time: timer.time)
    let measured = zip(configurations, runs).map { (ratios: $0, seconds: quantile($1, 0.5)) }
    let recalibrated = latency.recalibrated(measured)
    printError(
      String(
        format:
          "Recalibration (%d rounds): dense %.1f ms and every ratio 0.8 %.1f ms now, predicted %.1f and %.1f: predictions ×%.3f %+.1f ms for this run.",
        options.recalibrateRounds, measured[0].seconds * 1000, measured[1].seconds * 1000,
        latency.predictedSeconds(configurations[0]) * 1000, latency.predictedSeconds(configurations[1]) * 1000,
        recalibrated.scale, recalibrated.offset * 1000))
    if timer.disturbed > 0 { printError(timer.summary) }
    return recalibrated
  }

  /// Times `count` random configurations of the search space and compares with the predictions.
  static func validate(
    model: SwinTransformer, latency: LatencyModel, count: Int, options: SearchOptions,
    report: SearchReport
  ) throws -> String {
    let space = try SearchSpace(depths: model.configuration.depths)
    var random = SearchRandom(seed: options.seed ^ 0x7A11_DA7E)
    let configurations = (0..<count).map { _ in space.ratios(space.randomGenome(using: &random)) }
    // Dense runs in every round too: the time of each configuration over dense's in the same round
    // is free of the machine's drift since the model was measured.
    let dense = PruningRatios.dense(depths: model.configuration.depths)
    let input = SyntheticImages.batch(
      count: options.batch, height: latency.key.height, width: latency.key.width, seed: options.seed
    )
    let forward = ForwardOptions(threads: options.threads)
    printError(
      "Validating the latency model on \(count) random configurations and dense (1 + \(options.rounds) interleaved rounds)…"
    )
    let progress = ProgressLine(total: (count + 1) * (1 + options.rounds))
    let timer = QuietTimer(patience: options.quietWait)
    let runs = try timeConfigurations(
      model, input: input, configurations: configurations + [dense], options: forward, rounds: options.rounds,
      time: timer.time,
      progress: { done, total in progress.step("validation \(done)/\(total)") })
    progress.finish()
    printError(timer.summary)
    return report.validation(configurations: configurations, runs: Array(runs.dropLast()), denseRuns: runs.last!)
  }
}

/// A configuration timed after the search.
struct MeasuredConfiguration {
  let label: String
  let ratios: PruningRatios
  let runs: [Double]
  var median: Double { quantile(runs, 0.5) }
  var minimum: Double { runs.min() ?? 0 }
}

/// Calibration images and how to describe them.
struct Calibration {
  let images: Tensor
  let size: BenchSize
  let label: String
}

// MARK: - Options

/// The search options, checked before the model is loaded.
struct SearchOptions {
  let spec: CommandSpec
  let model: ModelSource
  let precision: Precision
  /// `--window-semantics`; nil: the checkpoint's.
  let windowSemantics: WindowSemantics?
  let latencySeconds: Double?
  let minLatencySeconds: Double?
  let outputPath: String?
  let plotPath: String?
  let size: BenchSize?
  let batch: Int
  let threads: Int
  let calibrationPath: String?
  let imagesPath: String?
  let calibrationCount: Int?
  let metric: FidelityScorer.Metric
  let population: Int
  let parents: Int
  let mutation: Double
  let iterations: Int
  let seed: UInt64
  let latencyModelPath: String?
  let remeasure: Bool
  /// Whether a latency model measured on a busy machine is cached all the same.
  let cacheBusy: Bool
  let rounds: Int
  let quietWait: Double
  let recalibrateRounds: Int
  let validate: Int?

  init(_ arguments: Arguments) throws(UsageError) {
    spec = arguments.spec
    (latencySeconds, minLatencySeconds, validate) = try Self.latencyWindow(arguments)
    outputPath = try checkedWritablePath(arguments, SearchCommand.output)
    if latencySeconds != nil && outputPath == nil {
      throw arguments.usage("missing '--output <cfg.json>'")
    }
    plotPath = try checkedWritablePath(arguments, SearchCommand.plot)
    if let plotPath, plotPath == outputPath {
      throw arguments.usage("'--output' and '--plot' must name different files")
    }
    size = try Self.singleSize(arguments)
    batch = try arguments.integer(SearchCommand.batch, default: 1, in: 1...4096)!
    threads = try ModelOptions.threads(arguments)
    model = try ModelOptions.source(arguments)
    precision = try ModelOptions.precision(arguments)
    windowSemantics = try ModelOptions.windowSemantics(arguments)
    calibrationPath = arguments.string(SearchCommand.calibrationFile)
    imagesPath = arguments.string(SearchCommand.imagesDirectory)
    if calibrationPath != nil && imagesPath != nil {
      throw arguments.usage("give either '--calibration <x.npy>' or '--images <dir>', not both")
    }
    try ModelOptions.requireFile(arguments, SearchCommand.calibrationFile)
    if let imagesPath { try Self.checkImagesDirectory(imagesPath, size: size, arguments) }
    calibrationCount = try arguments.integer(SearchCommand.calibrationCount, in: 1...4096)
    let metricName = arguments.string(SearchCommand.score) ?? "cosine"
    guard let metric = FidelityScorer.Metric(rawValue: metricName) else {
      throw arguments.usage("'--score' must be cosine, top1 or mean, got '\(metricName)'")
    }
    self.metric = metric
    population = try arguments.integer(SearchCommand.population, default: 100, in: 2...100_000)!
    parents = try arguments.integer(SearchCommand.parents, default: min(25, population), in: 1...100_000)!
    if parents > population {
      throw arguments.usage(
        "'--parents' (\(parents)) must not exceed '--population' (\(population))")
    }
    mutation = try arguments.number(SearchCommand.mutation, default: 0.1, in: 0...1)!
    iterations = try arguments.integer(
      SearchCommand.iterations, default: SearchCommand.defaultIterations, in: 0...10_000)!
    seed = try arguments.seed(SearchCommand.seed) ?? 0
    latencyModelPath = try checkedWritablePath(arguments, SearchCommand.latencyModelFile)
    remeasure = arguments.flag(SearchCommand.remeasure)
    cacheBusy = arguments.flag(SearchCommand.cacheBusy)
    rounds = try arguments.integer(SearchCommand.rounds, default: SearchCommand.defaultRounds, in: 1...1000)!
    quietWait = try arguments.number(SearchCommand.quietWait, default: SearchCommand.defaultQuietWait, in: 0...86_400)!
    recalibrateRounds = try arguments.integer(
      SearchCommand.recalibrate, default: SearchCommand.defaultRecalibrateRounds, in: 0...1000)!
  }

  /// `--latency-ms`, `--min-latency-ms` (below it) and `--validate`: at least one of the first and last.
  private static func latencyWindow(_ arguments: Arguments) throws(UsageError) -> (Double?, Double?, Int?) {
    let latencySeconds = try arguments.number(SearchCommand.latencyMs, in: 0.001...86_400_000).map { $0 / 1000 }
    let minLatencySeconds = try arguments.number(SearchCommand.minLatencyMs, in: 0...86_400_000).map { $0 / 1000 }
    let validate = try arguments.integer(SearchCommand.validateCount, in: 1...10_000)
    if latencySeconds == nil && validate == nil {
      throw arguments.usage(
        "missing '--latency-ms <T>' (or '--validate <n>' to check the latency model only)")
    }
    if let minimum = minLatencySeconds {
      guard let maximum = latencySeconds else {
        throw arguments.usage("'--min-latency-ms' needs '--latency-ms'")
      }
      if minimum >= maximum {
        throw arguments.usage(
          "'--min-latency-ms' (\(formatMilliseconds(minimum))) must be below '--latency-ms' (\(formatMilliseconds(maximum)))"
        )
      }
    }
    return (latencySeconds, minLatencySeconds, validate)
  }

  /// `--size` as one size, nil when not given.
  private static func singleSize(_ arguments: Arguments) throws(UsageError) -> BenchSize? {
    guard let text = arguments.string(SearchCommand.size) else { return nil }
    let sizes = try parseSizes(text, spec: arguments.spec)
    guard sizes.count == 1 else {
      throw arguments.usage("'--size' takes one size, got '\(text)'")
    }
    return sizes[0]
  }

  /// `--images` names a directory, and the search size (when given) is square.
  private static func checkImagesDirectory(
    _ imagesPath: String, size: BenchSize?, _ arguments: Arguments
  ) throws(UsageError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: imagesPath, isDirectory: &isDirectory) else {
      throw arguments.usage("'--images': no such directory '\(imagesPath)'")
    }
    if !isDirectory.boolValue {
      throw arguments.usage(
        "'--images': '\(imagesPath)' is a file, expected a directory of images")
    }
    if let size, size.height != size.width {
      throw arguments.usage(
        "'--images' needs a square '--size' (images are resized and centre-cropped), got \(size.label)"
      )
    }
  }

  /// The calibration images from `--calibration`, `--images` or synthetic, checked against the
  /// model and the size; the search size is `--size`, else the `.npy` images' size, else 672.
  func calibrationImages(for model: SwinTransformer) throws -> Calibration {
    let source: CalibrationSet.Source =
      calibrationPath.map { .numpy(path: $0) } ?? imagesPath.map { .directory(path: $0) } ?? .synthetic(seed: seed)
    do {
      let set = try CalibrationSet.load(
        source, size: size.map { ($0.height, $0.width) }, count: calibrationCount, configuration: model.configuration)
      return Calibration(images: set.images, size: BenchSize(height: set.height, width: set.width), label: set.label)
    } catch .belowMinimum(let height, let width, let minimum) {
      throw spec.usage("'--size' \(height)x\(width) is below the model's minimum of \(minimum)x\(minimum) pixels")
    } catch {
      throw Failure(error)
    }
  }

}
