// What `sparsevit eval` reports: a header and one table row per configuration on stdout, the same
// numbers as JSON (with the counts behind each share and the unreadable files) and as CSV.
import Foundation
import Models

/// Formats one evaluation's results.
struct EvalReport {
  let evaluation: Evaluation
  let result: EvaluationResult
  let dataset: ImageDataset
  let weights: String
  let threads: Int

  var records: [EvaluationRecord] { result.records }
  var hasLabels: Bool { result.labelled > 0 }
  var hasHead: Bool { evaluation.model.configuration.classes > 0 }
  var denseSeconds: Double? { records[0].secondsPerImage }

  /// Dense seconds per image over this configuration's (nil without timings).
  func speedup(_ record: EvaluationRecord) -> Double? {
    guard let dense = denseSeconds, let seconds = record.secondsPerImage, seconds > 0 else { return nil }
    return dense / seconds
  }

  /// What quality means here: top-1 accuracy with labels, else agreement with dense, else (no
  /// head) cosine similarity; per record, nil when unknown.
  var quality: (title: String, values: [Double?]) {
    if hasLabels { return ("top-1 accuracy (%)", records.map { $0.tally.top1Accuracy.map { $0 * 100 } }) }
    if hasHead { return ("top-1 agreement with dense (%)", records.map { $0.tally.top1Agreement.map { $0 * 100 } }) }
    return ("cosine similarity with dense", records.map { $0.tally.meanCosine })
  }

  /// What cost means here: latency per image when timed, else GFLOP per image.
  var cost: (title: String, values: [Double?]) {
    if records.allSatisfy({ $0.secondsPerImage != nil }) {
      return ("latency per image (ms, median of timed batches)", records.map { $0.secondsPerImage.map { $0 * 1000 } })
    }
    return ("GFLOP per image (not timed: fewer than two full batches)", records.map { $0.gflopPerImage })
  }

  /// Records on the Pareto front of quality against cost (no other is both cheaper and better).
  var paretoRecords: Set<Int> {
    let known = records.indices.filter { quality.values[$0] != nil && cost.values[$0] != nil }
    let front = paretoFront(latencies: known.map { cost.values[$0]! }, scores: known.map { quality.values[$0]! })
    return Set(front.map { known[$0] })
  }

  var sizeLabel: String {
    let p = evaluation.preprocessing
    let crop = p.resize == .centerCrop ? "crop \(formatNumber(p.cropFraction))" : p.resize.rawValue
    return "\(p.size)x\(p.size) (\(crop), \(p.interpolation.rawValue))"
  }

  // MARK: - Table

  func text() -> String {
    let model = evaluation.model.configuration.name
    var lines = [
      "model     \(model), weights \(weights), \(evaluation.model.precision.rawValue)",
      "input     \(sizeLabel), batch \(evaluation.batch), \(threads) thread\(threads == 1 ? "" : "s")",
      "images    \(dataset.directory) (\(dataset.layout.rawValue)): \(result.images) evaluated, \(result.labelled) labelled, \(result.unreadable.count) unreadable",
      "timing    " + timingText(),
      "",
    ]
    let (headers, rows) = table()
    let right = headers.indices.map { $0 != 0 }
    lines.append(renderText(headers: headers, rows: rows, right: right).trimmingCharacters(in: .newlines))
    lines.append("(\(legend()))")
    return lines.joined(separator: "\n") + "\n"
  }

  func timingText() -> String {
    let build = BenchEnvironment.isDebugBuild ? "DEBUG build: latencies mean nothing" : "release build"
    guard result.timedBatches > 0 else {
      return "no batch timed (the first batch is the cold round): give at least \(2 * evaluation.batch) images; \(build)"
    }
    return
      "\(result.timedBatches) timed batch\(result.timedBatches == 1 ? "" : "es") of \(evaluation.batch) (first batch cold, not timed; round-robin, rotating start), \(String(format: "%.1f", result.seconds)) s in all; \(build)"
  }

  func table() -> (headers: [String], rows: [[String]]) {
    var headers = ["config"]
    if hasLabels { headers += ["top-1", "top-5"] }
    if hasHead { headers += ["agree", "top-5 ovl"] }
    headers += ["cosine", "kept", "GFLOP", "ms/img", "speedup"]
    let rows = records.map { record -> [String] in
      let tally = record.tally
      var row = [record.configuration.label]
      if hasLabels { row += [percent(tally.top1Accuracy), percent(tally.top5Accuracy)] }
      if hasHead { row += [percent(tally.top1Agreement), percent(tally.top5Overlap)] }
      row += [
        String(format: "%.4f", tally.meanCosine), percent(record.keptWindowFraction),
        String(format: record.gflopPerImage >= 1 ? "%.2f" : "%.4f", record.gflopPerImage),
        record.secondsPerImage.map { String(format: "%.1f", $0 * 1000) } ?? "—",
        speedup(record).map { String(format: "%.2fx", $0) } ?? "—",
      ]
      return row
    }
    return (headers, rows)
  }

  func legend() -> String {
    var parts: [String] = []
    if hasLabels { parts.append("top-1/top-5 = accuracy on the \(result.labelled) labelled images") }
    if hasHead {
      parts.append("agree = top-1 class same as dense; top-5 ovl = share of dense's top 5 kept")
    }
    parts.append("cosine = pooled features vs dense; kept = windows computed")
    parts.append("ms/img = median over timed batches of forward time / batch; speedup = dense ms / ms")
    return parts.joined(separator: "; ")
  }

  private func percent(_ value: Double?) -> String {
    value.map { String(format: "%.1f%%", $0 * 100) } ?? "—"
  }

  // MARK: - Files

  func json() throws -> [UInt8] {
    let front = paretoRecords
    let document = EvalDocument(
      schema: "sparsevit-eval/1", command: CommandLine.arguments, weights: weights,
      model: evaluation.model.configuration.name, precision: evaluation.model.precision.rawValue,
      size: evaluation.preprocessing.size,
      resize: evaluation.preprocessing.resize.rawValue, cropFraction: evaluation.preprocessing.cropFraction,
      interpolation: evaluation.preprocessing.interpolation.rawValue, batch: evaluation.batch, threads: threads,
      build: BenchEnvironment.isDebugBuild ? "debug" : "release", directory: dataset.directory,
      layout: dataset.layout.rawValue, images: result.images, labelled: result.labelled,
      timedBatches: result.timedBatches, seconds: rounded(result.seconds, 3),
      unreadable: result.unreadable.map { .init(file: $0.name, reason: $0.reason) },
      configurations: records.enumerated().map { index, record in
        let t = record.tally
        return EvalDocument.Configuration(
          label: record.configuration.label, pruningRatios: record.configuration.ratios.ratios,
          paretoFront: front.contains(index),
          top1Accuracy: t.top1Accuracy.map { rounded($0, 6) }, top5Accuracy: t.top5Accuracy.map { rounded($0, 6) },
          top1Agreement: t.top1Agreement.map { rounded($0, 6) }, top5Overlap: t.top5Overlap.map { rounded($0, 6) },
          meanCosine: rounded(t.meanCosine, 8), keptWindowFraction: rounded(record.keptWindowFraction, 6),
          gflopPerImage: rounded(record.gflopPerImage, 4),
          msPerImage: record.secondsPerImage.map { rounded($0 * 1000, 3) },
          coldMsPerImage: record.coldSecondsPerImage.map { rounded($0 * 1000, 3) },
          speedup: speedup(record).map { rounded($0, 4) },
          latencySamplesMs: record.latencySamples.map { rounded($0 * 1000, 3) },
          counts: .init(
            images: t.images, labelled: t.labelled, top1Correct: t.top1Correct, top5Correct: t.top5Correct,
            top1Agreements: t.top1Agreements, top5Shared: t.top5Shared, top5Slots: t.top5Slots,
            keptWindows: record.keptWindows, totalWindows: record.totalWindows))
      })
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return Array(try encoder.encode(document)) + [UInt8(ascii: "\n")]
  }

  func csv() -> String {
    let headers = [
      "label", "images", "labelled", "top1_accuracy", "top5_accuracy", "top1_agreement", "top5_overlap",
      "mean_cosine", "kept_window_fraction", "gflop_per_image", "ms_per_image", "speedup", "pareto_front", "size",
      "batch", "pruning_ratios",
    ]
    let front = paretoRecords
    func number(_ value: Double?, _ decimals: Int) -> String { value.map { formatNumber(rounded($0, decimals)) } ?? "" }
    let lines = records.enumerated().map { index, record -> String in
      let t = record.tally
      return [
        csvCell(record.configuration.label), "\(t.images)", "\(t.labelled)", number(t.top1Accuracy, 6),
        number(t.top5Accuracy, 6), number(t.top1Agreement, 6), number(t.top5Overlap, 6), number(t.meanCosine, 8),
        number(record.keptWindowFraction, 6), number(record.gflopPerImage, 4),
        number(record.secondsPerImage.map { $0 * 1000 }, 3), number(speedup(record), 4),
        front.contains(index) ? "1" : "0", "\(evaluation.preprocessing.size)", "\(evaluation.batch)",
        csvCell(record.configuration.ratios.ratios.description),
      ].joined(separator: ",")
    }
    return ([headers.joined(separator: ",")] + lines).joined(separator: "\n") + "\n"
  }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
private func csvCell(_ text: String) -> String {
  guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
  return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// The `--json` file.
private struct EvalDocument: Encodable {
  struct Unreadable: Encodable {
    let file: String
    let reason: String
  }
  struct Counts: Encodable {
    let images: Int
    let labelled: Int
    let top1Correct: Int
    let top5Correct: Int
    let top1Agreements: Int
    let top5Shared: Int
    let top5Slots: Int
    let keptWindows: Int
    let totalWindows: Int
  }
  struct Configuration: Encodable {
    let label: String
    let pruningRatios: [[Double]]
    let paretoFront: Bool
    let top1Accuracy: Double?
    let top5Accuracy: Double?
    let top1Agreement: Double?
    let top5Overlap: Double?
    let meanCosine: Double
    let keptWindowFraction: Double
    let gflopPerImage: Double
    let msPerImage: Double?
    let coldMsPerImage: Double?
    let speedup: Double?
    let latencySamplesMs: [Double]
    let counts: Counts
  }
  let schema: String
  let command: [String]
  let weights: String
  let model: String
  let precision: String
  let size: Int
  let resize: String
  let cropFraction: Double
  let interpolation: String
  let batch: Int
  let threads: Int
  let build: String
  let directory: String
  let layout: String
  let images: Int
  let labelled: Int
  let timedBatches: Int
  let seconds: Double
  let unreadable: [Unreadable]
  let configurations: [Configuration]
}
