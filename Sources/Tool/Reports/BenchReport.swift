// What `sparsevit bench` reports: the machine and engine header, per-size tables (plain text or
// Markdown), the profile tables with their sum check, and the JSON and CSV files.
import Engine
import Foundation
import Models

#if canImport(Glibc)
  import Glibc
#endif

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
    rows.append(("vector", vectorKernelsDescription))
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
    case .minTime(let seconds, let minimum, _):
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
    for run in runs where !run.isBaseline && abs(run.speedup / run.pairedSpeedup.median - 1) > 0.05 {
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
}
