// What `sparsevit bench` reports: the machine and engine header, per-size tables (plain text or
// Markdown), the profile tables with their sum check, and the JSON and CSV files.
import Engine
import Foundation
import Models

#if canImport(Glibc)
  import Glibc
#endif

// MARK: - Machine and engine

/// Where the numbers were measured.
struct BenchEnvironment {
  let engineVersion: String
  let build: String
  let cpuModel: String
  let processors: Int
  let coresOnline: Int
  let physicalMemory: Int
  let operatingSystem: String
  let blasVersion: String
  let blasConfiguration: String
  let blasCore: String
  /// How the blocks' linear layers are multiplied (`BlockMatrixKernel`).
  let blockKernel: String
  let threads: Int
  let weights: String
  let modelName: String
  /// How the blocks pad, roll and clamp their windows (`WindowSemantics`).
  let windowSemantics: String
  let parameters: Int
  let date: String
  let command: [String]

  static var isDebugBuild: Bool {
    #if DEBUG
      true
    #else
      false
    #endif
  }

  static func current(model: SwinTransformer, threads: Int) -> BenchEnvironment {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    var cpuModel = "unknown"
    var processors = 0
    for line in cpuinfo.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard parts.count == 2 else { continue }
      if parts[0] == "processor" { processors += 1 }
      if parts[0] == "model name" && cpuModel == "unknown" { cpuModel = parts[1] }
    }
    let blasConfiguration = BLAS.configuration
    let blasWords = blasConfiguration.split(separator: " ")
    let blasVersion =
      blasWords.count >= 2 && blasWords[0] == "OpenBLAS" ? String(blasWords[1]) : "unknown"
    let formatter = ISO8601DateFormatter()
    return BenchEnvironment(
      engineVersion: Engine.engineVersion, build: isDebugBuild ? "debug" : "release",
      cpuModel: cpuModel,
      processors: max(processors, 1), coresOnline: defaultThreadCount,
      physicalMemory: Int(min(ProcessInfo.processInfo.physicalMemory, UInt64(Int.max))),
      operatingSystem: operatingSystemName(), blasVersion: blasVersion,
      blasConfiguration: blasConfiguration,
      blasCore: BLAS.coreName, blockKernel: model.blockKernel.description, threads: threads, weights: model.source,
      modelName: model.configuration.name, windowSemantics: model.windowSemantics.rawValue,
      parameters: model.parameterCount, date: formatter.string(from: Date()),
      command: CommandLine.arguments)
  }
}

// MARK: - Results

/// One configuration at one size, with everything derived from its samples.
struct BenchRun {
  let label: String
  let argument: String
  let ratios: [[Double]]
  let size: BenchSize
  let batch: Int
  let threads: Int
  let rounds: Int
  /// Timed runs in round order, seconds.
  let samples: [Double]
  let cold: Double
  let summary: SampleSummary
  let imagesPerSecond: Double
  /// Work computed per forward (kept windows only; stem, merges and head dense), 10⁹ FLOP.
  let gflop: Double
  /// The same model and batch, dense.
  let denseGFLOP: Double
  let gflopsPerSecond: Double
  /// Fraction of the blocks' work skipped: 1 − computed block MACs / dense block MACs.
  let blockSparsity: Double
  /// Per stage: kept windows / windows over its blocks and the batch.
  let keptFraction: [Double]
  let keptWindows: [[Int]]
  let totalWindows: [[Int]]
  let isBaseline: Bool
  /// Dense median / this median.
  let speedup: Double
  /// Per round dense time / this time.
  let pairedSpeedup: SampleSummary
  let peakResidentBytes: Int?
  let profile: ProfileMeasurement?

  static func runs(
    _ measurement: SizeMeasurement, configuration: SwinConfiguration, threads: Int,
    semantics: WindowSemantics = .timm
  ) -> [BenchRun] {
    let size = measurement.size
    let stageSizes = configuration.stageSizes(height: size.height, width: size.width)
    let baselineIndex =
      measurement.configurations.firstIndex { $0.configuration.ratios.isDense } ?? 0
    let baseline = measurement.configurations[baselineIndex]
    let baselineMedian = SampleSummary(baseline.samples).median
    let denseMACs =
      configuration.denseMACs(height: size.height, width: size.width, semantics: semantics) * measurement.batch
    return measurement.configurations.enumerated().map { index, measured in
      let summary = SampleSummary(measured.samples)
      let kept = measured.usage.map { $0.map(\.kept) }
      let total = measured.usage.map { $0.map(\.total) }
      let macs = configuration.computedMACs(
        height: size.height, width: size.width, batch: measurement.batch, keptWindows: kept, semantics: semantics)
      var blockComputed = 0
      var blockDense = 0
      for stage in kept.indices {
        for block in kept[stage].indices {
          let (h, w) = stageSizes[stage]
          blockComputed += configuration.blockMACs(
            stage: stage, block: block, height: h, width: w, keptWindows: kept[stage][block], semantics: semantics)
          blockDense += configuration.blockMACs(
            stage: stage, block: block, height: h, width: w, keptWindows: total[stage][block], semantics: semantics)
        }
      }
      let gflop = 2 * Double(macs) / 1e9
      return BenchRun(
        label: measured.configuration.label, argument: measured.configuration.argument,
        ratios: measured.configuration.ratios.ratios, size: size, batch: measurement.batch,
        threads: threads,
        rounds: measurement.rounds, samples: measured.samples, cold: measured.cold,
        summary: summary,
        imagesPerSecond: Double(measurement.batch) / summary.median, gflop: gflop,
        denseGFLOP: 2 * Double(denseMACs) / 1e9,
        gflopsPerSecond: gflop / summary.median,
        blockSparsity: blockDense > 0 ? 1 - Double(blockComputed) / Double(blockDense) : 0,
        keptFraction: zip(kept, total).map {
          Double($0.reduce(0, +)) / Double(max(1, $1.reduce(0, +)))
        },
        keptWindows: kept, totalWindows: total, isBaseline: index == baselineIndex,
        speedup: baselineMedian / summary.median,
        pairedSpeedup: SampleSummary(
          pairedRatios(baseline: baseline.samples, candidate: measured.samples)),
        peakResidentBytes: measurement.peakResidentBytes, profile: measured.profile)
    }
  }
}

// MARK: - Text and Markdown

/// Formats the header, tables and files of one bench.
struct BenchReport {
  let environment: BenchEnvironment
  let plan: BenchPlan
  let markdown: Bool

  /// Relative p10–p90 spread above which a run is flagged as noisy.
  static let noisySpread = 0.10
  /// How far the profile's parts may be from the measured forward time.
  static let profileTolerance = 0.05

  func header() -> String {
    let e = environment
    let options = plan.options
    var rows: [(String, String)] = []
    if BenchEnvironment.isDebugBuild {
      rows.append(
        ("WARNING", "DEBUG BUILD: these timings mean nothing; build with 'swift build -c release'"))
    }
    rows.append(("engine", "sparsevit \(e.engineVersion), \(e.build) build, \(e.date)"))
    rows.append(
      (
        "cpu",
        "\(e.cpuModel), \(e.processors) processors (\(e.coresOnline) online), \(formatBytes(e.physicalMemory)) memory, \(e.operatingSystem)"
      ))
    rows.append(
      (
        "openblas",
        "\(e.blasConfiguration) (core \(e.blasCore)), one thread inside each engine worker"
      ))
    rows.append(("gemm", "block linear layers: \(e.blockKernel)"))
    rows.append(("threads", "\(e.threads) engine workers"))
    rows.append(
      (
        "weights",
        "\(e.weights): \(e.modelName), \(String(format: "%.2f", Double(e.parameters) / 1e6))M parameters, "
          + "\(e.windowSemantics) window semantics"
      ))
    rows.append(
      (
        "input",
        "batch \(plan.batch), \(options.sizes.map(\.label).joined(separator: ", ")), random uniform [-2, 2) (seed \(plan.seed))"
      ))
    let baseline = plan.configurations.first { $0.ratios.isDense }?.label ?? "dense"
    rows.append(
      (
        "configs",
        plan.configurations.map(\.label).joined(separator: ", ")
          + " (speedup baseline: \(baseline))"
      ))
    rows.append(("protocol", protocolText()))
    if markdown {
      return "## sparsevit bench\n\n"
        + rows.map { "- **\($0.0)**: \($0.1.replacingOccurrences(of: "|", with: "\\|"))" }.joined(
          separator: "\n") + "\n"
    }
    return rows.map { $0.0.padding(toLength: 10, withPad: " ", startingAt: 0) + $0.1 }.joined(
      separator: "\n") + "\n"
  }

  func protocolText() -> String {
    let options = plan.options
    let timed: String
    switch options.stop {
    case .rounds(let count): timed = "\(count) timed round\(count == 1 ? "" : "s")"
    case .minTime(let seconds, let minimum):
      timed =
        "timed rounds until ≥\(formatNumber(seconds)) s per configuration (≥\(minimum) rounds)"
    }
    var text =
      "per size: 1 cold run per configuration, \(options.warmup) warm-up round\(options.warmup == 1 ? "" : "s"), then \(timed); round-robin, rotating start"
    if plan.profilePasses > 0 {
      text += "; then \(plan.profilePasses) profiled passes per configuration (not timed)"
    }
    return text
  }

  func table(_ measurement: SizeMeasurement, runs: [BenchRun]) -> String {
    let decimals = millisecondDecimals(runs.map(\.summary.min))
    func ms(_ seconds: Double) -> String { String(format: "%.\(decimals)f", seconds * 1000) }
    let headers = [
      "config", "median", "p10", "p90", "min", "IQM", "cold", "img/s", "GFLOP", "GFLOP/s",
      "speedup", "paired", "kept/stage",
    ]
    let rows = runs.map { run in
      [
        run.label, ms(run.summary.median), ms(run.summary.p10), ms(run.summary.p90),
        ms(run.summary.min),
        ms(run.summary.interquartileMean), ms(run.cold), formatRate(run.imagesPerSecond),
        String(format: "%.2f", run.gflop),
        String(format: "%.1f", run.gflopsPerSecond), String(format: "%.2fx", run.speedup),
        String(format: "%.2fx", run.pairedSpeedup.median),
        run.keptFraction.map { String(format: "%.2f", $0) }.joined(separator: " "),
      ]
    }
    let right = headers.indices.map { $0 != 0 && $0 != headers.count - 1 }
    let rss = measurement.peakResidentBytes.map { ", peak RSS \(formatBytes($0))" } ?? ""
    let title =
      "\(measurement.size.label), batch \(measurement.batch): \(measurement.rounds) rounds in \(String(format: "%.1f", measurement.seconds)) s\(rss)"
    let legend =
      "times in ms; speedup = dense median / median; paired = median over rounds of dense time / time of the same round; GFLOP = work computed (kept windows); kept/stage = fraction of windows computed per stage"
    if markdown {
      return "\n### \(title)\n\n" + renderMarkdown(headers: headers, rows: rows, right: right)
        + "\n_\(legend)._\n"
    }
    return "\n\(title)\n" + renderText(headers: headers, rows: rows, right: right) + "(\(legend))\n"
  }

  func profileTable(_ measurement: SizeMeasurement, runs: [BenchRun]) -> String {
    let profiled = runs.filter { $0.profile != nil }
    guard let passes = profiled.first?.profile?.passes else { return "" }
    let decimals = millisecondDecimals(profiled.map { $0.profile!.measured })
    let title =
      "Profile \(measurement.size.label), batch \(measurement.batch): ms per forward (mean of \(passes) profiled passes per configuration) and % of the measured forward"
    var headers = ["operation"]
    var rows: [[String]] = ProfileOperation.allCases.map { [$0.label] }
    var sumRow = ["sum of parts"]
    var measuredRow = ["measured"]
    var checks: [String] = []
    for run in profiled {
      let profile = run.profile!
      let total = profile.measured
      let sum = ProfileOperation.allCases.reduce(0) { $0 + (profile.parts[$1] ?? 0) }
      for (row, op) in ProfileOperation.allCases.enumerated() {
        let seconds = profile.parts[op] ?? 0
        rows[row] += cells(seconds, of: total, decimals: decimals)
      }
      headers += markdown ? [run.label] : [run.label, "%"]
      sumRow += cells(sum, of: total, decimals: decimals)
      let measuredText = String(format: "%.\(decimals)f", total * 1000)
      measuredRow += markdown ? [measuredText] : [measuredText, ""]
      let ratio = total > 0 ? sum / total : 0
      let ok = abs(ratio - 1) <= BenchReport.profileTolerance
      checks.append("\(run.label) \(String(format: "%.1f", ratio * 100))% \(ok ? "ok" : "FAILED")")
    }
    rows.append(sumRow)
    rows.append(measuredRow)
    let right = headers.indices.map { $0 != 0 }
    let check =
      "check: sum of parts / measured forward within \(Int(BenchReport.profileTolerance * 100))%: "
      + checks.joined(separator: ", ")
    let note =
      "per operation over all stages; idle/sync = wall time not spent in any operation, averaged over workers"
    let stageTables = profiled.map { stageTable($0, decimals: decimals) }.joined()
    if markdown {
      return "\n#### \(title)\n\n" + renderMarkdown(headers: headers, rows: rows, right: right)
        + "\n\(check)\n\n_\(note)._\n" + stageTables
    }
    return "\n\(title)\n" + renderText(headers: headers, rows: rows, right: right) + check
      + "\n(\(note))\n" + stageTables
  }

  /// One configuration's profile split by stage: ms per forward, operations × stages.
  func stageTable(_ run: BenchRun, decimals: Int) -> String {
    guard let profile = run.profile, !profile.stages.isEmpty else { return "" }
    let title = "Profile by stage, \(run.label): ms per forward (stem counts in stage 0, head in the last stage)"
    let headers = ["operation"] + profile.stages.indices.map { "stage \($0)" } + ["total"]
    var rows: [[String]] = []
    for op in ProfileOperation.allCases {
      let values = profile.stages.map { $0[op] ?? 0 }
      if values.allSatisfy({ $0 == 0 }) { continue }
      rows.append([op.label] + (values + [values.reduce(0, +)]).map { String(format: "%.\(decimals)f", $0 * 1000) })
    }
    let totals = profile.stages.map { $0.values.reduce(0, +) }
    rows.append(["stage total"] + (totals + [totals.reduce(0, +)]).map { String(format: "%.\(decimals)f", $0 * 1000) })
    let right = headers.indices.map { $0 != 0 }
    if markdown {
      return "\n#### \(title)\n\n" + renderMarkdown(headers: headers, rows: rows, right: right)
    }
    return "\n\(title)\n" + renderText(headers: headers, rows: rows, right: right)
  }

  private func cells(_ seconds: Double, of total: Double, decimals: Int) -> [String] {
    let share = total > 0 ? seconds / total * 100 : 0
    let time = String(format: "%.\(decimals)f", seconds * 1000)
    if markdown { return [String(format: "%@ (%.1f%%)", time, share)] }
    return [time, String(format: "%.1f%%", share)]
  }

  /// Notes on what should make a reader doubt the numbers.
  func footer(_ runs: [BenchRun]) -> String {
    var notes: [String] = []
    if BenchEnvironment.isDebugBuild {
      notes.append("WARNING: DEBUG build: the timings above mean nothing.")
    }
    for run in runs where run.summary.relativeSpread > BenchReport.noisySpread {
      notes.append(
        "\(run.size.label) \(run.label): p10–p90 spread is \(Int((run.summary.relativeSpread * 100).rounded()))% of the median (busy machine or few rounds; try a longer --min-time)"
      )
    }
    for run in runs where !run.isBaseline && abs(run.speedup / run.pairedSpeedup.median - 1) > 0.05
    {
      notes.append(
        "\(run.size.label) \(run.label): speedup from medians (\(String(format: "%.2f", run.speedup))x) and paired (\(String(format: "%.2f", run.pairedSpeedup.median))x) differ by more than 5%: drift during the run"
      )
    }
    guard !notes.isEmpty else { return "" }
    if markdown {
      return "\n" + notes.map { "> **note**: \($0)" }.joined(separator: "\n>\n") + "\n"
    }
    return "\n" + notes.map { "note: \($0)" }.joined(separator: "\n") + "\n"
  }

  var plotTitle: String {
    "sparsevit bench: \(environment.modelName) at \(plan.options.sizes.map(\.label).joined(separator: ", ")), batch \(plan.batch), \(environment.threads) threads"
  }

  var plotSubtitle: String {
    "\(environment.weights); \(environment.cpuModel), engine \(environment.engineVersion) \(environment.build), OpenBLAS \(environment.blasVersion) (\(environment.blasCore)); latency median and speedup paired median, bars p10–p90"
  }

  // MARK: - Files

  func json(sizes: [SizeMeasurement], runs: [BenchRun]) throws -> [UInt8] {
    let e = environment
    let options = plan.options
    var minTime: Double? = nil
    var iterations: Int? = nil
    switch options.stop {
    case .rounds(let count): iterations = count
    case .minTime(let seconds, _): minTime = seconds
    }
    let document = BenchDocument(
      schema: "sparsevit-bench/1", date: e.date, command: e.command,
      machine: .init(
        cpuModel: e.cpuModel, processors: e.processors, coresOnline: e.coresOnline,
        physicalMemoryMib: mebibytes(e.physicalMemory), os: e.operatingSystem),
      engine: .init(
        version: e.engineVersion, build: e.build, blasVersion: e.blasVersion,
        blasConfiguration: e.blasConfiguration,
        blasCore: e.blasCore, blockKernel: e.blockKernel, threads: e.threads, weights: e.weights, model: e.modelName,
        parameters: e.parameters),
      protocol: .init(
        batch: plan.batch, warmupRounds: options.warmup, iterations: iterations, minTimeS: minTime,
        minRounds: minTime == nil ? nil : BenchCommand.minimumRounds,
        profilePasses: plan.profilePasses,
        order: "round-robin, start rotates by one each round",
        input: "uniform [-2, 2), seed \(plan.seed)",
        timer: "CLOCK_MONOTONIC around model.forward"),
      sizes: sizes.map {
        .init(
          height: $0.size.height, width: $0.size.width, rounds: $0.rounds,
          seconds: rounded($0.seconds, 3), peakRssMib: $0.peakResidentBytes.map(mebibytes))
      },
      runs: runs.map(RunEntry.init))
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return Array(try encoder.encode(document)) + [UInt8(ascii: "\n")]
  }

  func csv(_ runs: [BenchRun]) -> String {
    let stages = runs.first?.keptFraction.count ?? 0
    var headers = [
      "label", "argument", "height", "width", "batch", "threads", "rounds", "median_ms", "p10_ms",
      "p90_ms", "min_ms",
      "max_ms", "mean_ms", "iqm_ms", "cold_ms", "images_per_s", "gflop", "dense_gflop", "gflops",
      "block_sparsity",
      "speedup_vs_dense", "speedup_paired_median", "speedup_paired_p10", "speedup_paired_p90",
    ]
    headers += (0..<stages).map { "kept_fraction_stage\($0)" }
    headers += ["peak_rss_mib", "sparsity"]
    var lines = [headers.joined(separator: ",")]
    for run in runs {
      var fields = [
        run.label, run.argument, "\(run.size.height)", "\(run.size.width)", "\(run.batch)",
        "\(run.threads)", "\(run.rounds)",
      ]
      fields += [
        run.summary.median, run.summary.p10, run.summary.p90, run.summary.min, run.summary.max,
        run.summary.mean,
        run.summary.interquartileMean, run.cold,
      ].map { formatNumber(rounded($0 * 1000, 3)) }
      fields += [
        rounded(run.imagesPerSecond, 4), rounded(run.gflop, 4), rounded(run.denseGFLOP, 4),
        rounded(run.gflopsPerSecond, 3),
        rounded(run.blockSparsity, 4), rounded(run.speedup, 4),
        rounded(run.pairedSpeedup.median, 4),
        rounded(run.pairedSpeedup.p10, 4), rounded(run.pairedSpeedup.p90, 4),
      ].map(formatNumber)
      fields += run.keptFraction.map { formatNumber(rounded($0, 4)) }
      fields += [
        run.peakResidentBytes.map { formatNumber(mebibytes($0)) } ?? "", jsonRatios(run.ratios),
      ]
      lines.append(fields.map(csvField).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }
}

// MARK: - JSON document

private struct BenchDocument: Encodable {
  struct Machine: Encodable {
    let cpuModel: String
    let processors: Int
    let coresOnline: Int
    let physicalMemoryMib: Double
    let os: String
  }
  struct EngineInfo: Encodable {
    let version: String
    let build: String
    let blasVersion: String
    let blasConfiguration: String
    let blasCore: String
    let blockKernel: String
    let threads: Int
    let weights: String
    let model: String
    let parameters: Int
  }
  struct ProtocolInfo: Encodable {
    let batch: Int
    let warmupRounds: Int
    let iterations: Int?
    let minTimeS: Double?
    let minRounds: Int?
    let profilePasses: Int
    let order: String
    let input: String
    let timer: String
  }
  struct SizeEntry: Encodable {
    let height: Int
    let width: Int
    let rounds: Int
    let seconds: Double
    let peakRssMib: Double?
  }
  let schema: String
  let date: String
  let command: [String]
  let machine: Machine
  let engine: EngineInfo
  let `protocol`: ProtocolInfo
  let sizes: [SizeEntry]
  let runs: [RunEntry]
}

private struct RunEntry: Encodable {
  struct Profile: Encodable {
    let passes: Int
    let measuredMs: Double
    let partsMs: [String: Double]
    let partsSumMs: Double
    /// Per stage: operation → ms per forward.
    let stagesMs: [[String: Double]]
  }
  let label: String
  let argument: String
  let sparsity: [[Double]]
  let batch: Int
  let height: Int
  let width: Int
  let threads: Int
  let rounds: Int
  let medianMs: Double
  let p10Ms: Double
  let p90Ms: Double
  let minMs: Double
  let maxMs: Double
  let meanMs: Double
  let iqmMs: Double
  let coldMs: Double
  let samplesMs: [Double]
  let imagesPerS: Double
  let gflop: Double
  let denseGflop: Double
  let gflops: Double
  let blockSparsity: Double
  let keptFraction: [Double]
  let keptWindows: [[Int]]
  let totalWindows: [[Int]]
  let baseline: Bool
  let speedupVsDense: Double
  let speedupPairedMedian: Double
  let speedupPairedP10: Double
  let speedupPairedP90: Double
  let peakRssMib: Double?
  let profile: Profile?

  init(_ run: BenchRun) {
    func ms(_ seconds: Double) -> Double { rounded(seconds * 1000, 3) }
    label = run.label
    argument = run.argument
    sparsity = run.ratios
    batch = run.batch
    height = run.size.height
    width = run.size.width
    threads = run.threads
    rounds = run.rounds
    medianMs = ms(run.summary.median)
    p10Ms = ms(run.summary.p10)
    p90Ms = ms(run.summary.p90)
    minMs = ms(run.summary.min)
    maxMs = ms(run.summary.max)
    meanMs = ms(run.summary.mean)
    iqmMs = ms(run.summary.interquartileMean)
    coldMs = ms(run.cold)
    samplesMs = run.samples.map(ms)
    imagesPerS = rounded(run.imagesPerSecond, 4)
    gflop = rounded(run.gflop, 4)
    denseGflop = rounded(run.denseGFLOP, 4)
    gflops = rounded(run.gflopsPerSecond, 3)
    blockSparsity = rounded(run.blockSparsity, 4)
    keptFraction = run.keptFraction.map { rounded($0, 4) }
    keptWindows = run.keptWindows
    totalWindows = run.totalWindows
    baseline = run.isBaseline
    speedupVsDense = rounded(run.speedup, 4)
    speedupPairedMedian = rounded(run.pairedSpeedup.median, 4)
    speedupPairedP10 = rounded(run.pairedSpeedup.p10, 4)
    speedupPairedP90 = rounded(run.pairedSpeedup.p90, 4)
    peakRssMib = run.peakResidentBytes.map(mebibytes)
    profile = run.profile.map { profile in
      Profile(
        passes: profile.passes, measuredMs: ms(profile.measured),
        partsMs: Dictionary(
          uniqueKeysWithValues: ProfileOperation.allCases.map {
            ($0.label, ms(profile.parts[$0] ?? 0))
          }),
        partsSumMs: ms(profile.parts.values.reduce(0, +)),
        stagesMs: profile.stages.map { stage in
          Dictionary(uniqueKeysWithValues: ProfileOperation.allCases.map { ($0.label, ms(stage[$0] ?? 0)) })
        })
    }
  }
}

// MARK: - Formatting helpers

/// Columns padded to their widest cell, a dashed rule under the header.
func renderText(headers: [String], rows: [[String]], right: [Bool]) -> String {
  var widths = headers.map(\.count)
  for row in rows {
    for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
  }
  func line(_ cells: [String]) -> String {
    cells.enumerated().map { index, cell in
      let pad = String(repeating: " ", count: widths[index] - cell.count)
      return right[index] ? pad + cell : cell + pad
    }.joined(separator: "  ").replacingOccurrences(
      of: "\\s+$", with: "", options: .regularExpression)
  }
  let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
  return ([line(headers), rule] + rows.map(line)).joined(separator: "\n") + "\n"
}

/// A GitHub-flavoured Markdown table.
func renderMarkdown(headers: [String], rows: [[String]], right: [Bool]) -> String {
  func line(_ cells: [String]) -> String {
    "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ")
      + " |"
  }
  let rule = "|" + right.map { $0 ? " ---: |" : " --- |" }.joined()
  return ([line(headers), rule] + rows.map(line)).joined(separator: "\n") + "\n"
}

/// Decimals that keep about four significant digits for the fastest time of a table.
func millisecondDecimals(_ seconds: [Double]) -> Int {
  let fastest = (seconds.min() ?? 1) * 1000
  if fastest >= 100 { return 1 }
  if fastest >= 10 { return 2 }
  return 3
}

func formatMilliseconds(_ seconds: Double) -> String {
  String(format: seconds >= 0.1 ? "%.1f ms" : "%.2f ms", seconds * 1000)
}

func formatRate(_ value: Double) -> String {
  String(format: value >= 100 ? "%.0f" : value >= 10 ? "%.1f" : "%.2f", value)
}

/// A number without trailing zeros (`5`, `0.25`).
func formatNumber(_ value: Double) -> String {
  if value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
  return String(value)
}

func rounded(_ value: Double, _ decimals: Int) -> Double {
  let scale = pow(10, Double(decimals))
  return (value * scale).rounded() / scale
}

private func mebibytes(_ bytes: Int) -> Double { rounded(Double(bytes) / 1_048_576, 1) }

private func csvField(_ text: String) -> String {
  guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
    return text
  }
  return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// `[[0.3,0.3],[0,0]]`: ratios as compact JSON.
private func jsonRatios(_ ratios: [[Double]]) -> String {
  "["
    + ratios.map { "[" + $0.map(formatNumber).joined(separator: ",") + "]" }.joined(separator: ",")
    + "]"
}
