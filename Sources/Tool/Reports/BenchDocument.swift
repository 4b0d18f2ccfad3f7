// The bench's JSON document (schema in its `schema` field) and the text helpers every report uses:
// plain and Markdown tables, numbers rounded for files, CSV fields.
import Engine
import Foundation
import Models

// MARK: - JSON and CSV

extension BenchReport {
  func json(sizes: [SizeMeasurement], runs: [BenchRun]) throws -> [UInt8] {
    let e = environment
    let options = plan.options
    var minTime: Double? = nil
    var iterations: Int? = nil
    switch options.stop {
    case .rounds(let count): iterations = count
    case .minTime(let seconds, _, _): minTime = seconds
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
