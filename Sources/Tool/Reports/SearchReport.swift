// What `sparsevit search` prints and writes: the latency model, the validation table, the result
// next to the best fitting uniform ratio and dense (predicted and measured), the Pareto front, the
// output document (a sparsity JSON with the search's figures) and the SVG plot.
import Engine
import Foundation
import Models

struct SearchReport {
  let model: SwinTransformer
  let environment: BenchEnvironment
  let options: SearchOptions
  let size: BenchSize
  let calibration: String
  let latencyModel: LatencyModel
  /// Where the latency model is cached (nil: nowhere).
  let latencyModelPath: String?

  // MARK: - Latency model

  func latencyModelSummary() -> String {
    let m = latencyModel
    let residuals = m.residuals.map(abs)
    var text =
      "Latency model: \(m.key.cpu), \(m.key.threads) threads, \(m.key.height)x\(m.key.width), batch \(m.key.batch), "
    text += "engine \(m.key.engine), \(m.key.windowSemantics) window semantics, measured \(m.measured)\n"
    text += String(
      format: "fit to %d configurations (%d outliers left out): residual median %.2f%%, max %.2f%%",
      m.samples.count, m.outliers.count, quantile(residuals, 0.5) * 100, (residuals.max() ?? 0) * 100)
    if let slowest = m.roundFactors.max(), let fastest = m.roundFactors.min() {
      text += String(
        format: "; machine speed across the %d rounds %+.1f%% to %+.1f%% (divided out)", m.roundFactors.count,
        (fastest - 1) * 100, (slowest - 1) * 100)
    }
    text += "\n"
    if m.scale != 1 || m.offset != 0 {
      text += String(
        format: "recalibrated to the machine's speed now: ×%.3f %+.1f ms (the figures below include it)\n",
        m.scale, m.offset * 1000)
    }
    let rows = m.depths.indices.map { stage -> [String] in
      [
        String(stage), String(m.windows[stage]), String(m.depths[stage]),
        String(format: "%.4f", m.scale * m.secondsPerWindow[stage] * 1000),
        String(
          format: "%.1f",
          m.scale * m.secondsPerWindow[stage] * Double(m.windows[stage] * m.key.batch) * 1000),
      ]
    }
    text += renderText(
      headers: ["stage", "windows", "blocks", "ms per window per block", "block ms (dense)"], rows: rows,
      right: [true, true, true, true, true])
    let fastest = m.predictedSeconds(
      (try? PruningRatios.uniform(0.8, depths: m.depths)) ?? .dense(depths: m.depths))
    text += String(
      format:
        "fixed part (stem, merges, head, …) %.1f ms; predicted dense %.1f ms, every ratio 0.8 %.1f ms\n\n",
      (m.offset + m.scale * m.fixedSeconds) * 1000, m.denseSeconds * 1000, fastest * 1000)
    if quantile(residuals, 0.5) > 0.04 {
      text +=
        "Note: the fit is loose (median residual over 4%): the machine was probably busy; re-measure with --remeasure when it is quiet.\n\n"
    }
    return text
  }

  // MARK: - Validation

  /// The latency model against `runs` (per configuration, seconds per round) and, timed in the
  /// same rounds, `denseRuns`: errors against the measured time (after dividing out each round's
  /// speed), against the raw median, and of the fraction of dense (time over dense's in the same
  /// round against the predicted fraction: free of the machine's drift since the model was measured).
  func validation(configurations: [PruningRatios], runs: [[Double]], denseRuns: [Double]) -> String {
    let polished = polishRounds(runs)
    let denseDepths = configurations.first?.ratios.map(\.count) ?? []
    let predictedDense = latencyModel.predictedSeconds(PruningRatios.dense(depths: denseDepths))
    var rows: [[String]] = []
    var errors: [Double] = []
    var rawErrors: [Double] = []
    var fractionErrors: [Double] = []
    for (index, (ratios, samples)) in zip(configurations, runs).enumerated() {
      let predicted = latencyModel.predictedSeconds(ratios)
      let measured = polished.seconds[index]
      let median = quantile(samples, 0.5)
      errors.append((predicted - measured) / measured)
      rawErrors.append((predicted - median) / median)
      let (predictedFraction, measuredFraction, fractionError) = fractionOfDense(
        predicted: predicted, predictedDense: predictedDense, runs: samples, denseRuns: denseRuns)
      fractionErrors.append(fractionError)
      rows.append([
        String(index + 1), compactRatios(ratios), String(format: "%.1f", predicted * 1000),
        String(format: "%.1f", measured * 1000), String(format: "%+.1f%%", errors.last! * 100),
        String(format: "%.1f", median * 1000), String(format: "%+.1f%%", rawErrors.last! * 100),
        String(format: "%.3f", predictedFraction), String(format: "%.3f", measuredFraction),
        String(format: "%+.1f%%", fractionErrors.last! * 100),
      ])
    }
    var text =
      "Latency model validation: \(configurations.count) random configurations, \(options.rounds) interleaved rounds each\n"
    text += renderText(
      headers: [
        "#", "ratios (per stage, per block pair)", "predicted ms", "measured ms", "error",
        "raw median ms", "error", "predicted × dense", "measured × dense", "error",
      ], rows: rows,
      right: [true, false, true, true, true, true, true, true, true, true])
    func summary(_ errors: [Double]) -> String {
      let absolute = errors.map(abs)
      return String(
        format: "median %.2f%%, mean %.2f%%, max %.2f%% (mean signed %+.2f%%)", quantile(absolute, 0.5) * 100,
        absolute.reduce(0, +) / Double(max(absolute.count, 1)) * 100, (absolute.max() ?? 0) * 100,
        errors.reduce(0, +) / Double(max(errors.count, 1)) * 100)
    }
    text += "measured ms: median over the rounds after dividing out each round's speed"
    if let slowest = polished.roundFactors.max(), let fastest = polished.roundFactors.min() {
      text += String(format: " (%+.1f%% to %+.1f%%)", (fastest - 1) * 100, (slowest - 1) * 100)
    }
    text += "\nprediction error vs measured: \(summary(errors))\n"
    text += "prediction error vs raw median: \(summary(rawErrors))\n"
    text += String(
      format: "dense: predicted %.1f ms, measured %.1f ms (median) in the same rounds\n",
      predictedDense * 1000, quantile(denseRuns, 0.5) * 1000)
    text += "prediction error of the fraction of dense (drift-free): \(summary(fractionErrors))\n\n"
    return text
  }

  // MARK: - Result

  func result(
    _ result: SearchResult, budget: Double, minimum: Double, measured: [MeasuredConfiguration],
    seconds: Double
  ) -> String {
    var text = String(
      format:
        "Search: budget %.1f ms (window %.1f–%.1f ms), %d configurations scored on %@ in %@\n\n",
      budget * 1000,
      minimum * 1000, budget * 1000, result.candidates.count, calibration, formatDuration(seconds))
    var rows: [[String]] = []
    func scoreCells(_ score: ConfigurationScore?) -> [String] {
      guard let score else { return ["—", "—", "—"] }
      return [
        String(format: "%.5f", score.value),
        score.details["cosine"].map { String(format: "%.5f", $0) } ?? "—",
        score.details["top1_agreement"].map { String(format: "%.2f", $0) } ?? "—",
      ]
    }
    let dense = measured.first { $0.ratios.isDense }
    for entry in measured {
      let score: ConfigurationScore?
      let predicted = latencyModel.predictedSeconds(entry.ratios)
      if entry.ratios == result.best.ratios {
        score = result.best.score
      } else if entry.ratios.isDense {
        score = ConfigurationScore(value: 1, details: ["cosine": 1, "top1_agreement": 1])
      } else {
        score = result.bestUniform?.score
      }
      let fits =
        entry.median <= budget
        ? "yes" : String(format: "no (+%.1f%%)", (entry.median / budget - 1) * 100)
      let paired = dense.map { pairedRatio(entry.runs, $0.runs) }
      rows.append(
        [
          entry.label, compactRatios(entry.ratios), String(format: "%.1f", predicted * 1000),
          String(format: "%.1f", entry.median * 1000),
          String(format: "%.1f", entry.minimum * 1000),
          paired.map { String(format: "%.3f", $0) } ?? "—", fits,
        ] + scoreCells(score))
    }
    text += renderText(
      headers: [
        "configuration", "ratios (per stage, per block pair)", "predicted ms", "measured ms",
        "min ms", "× dense", "within T", "score", "cosine", "top-1",
      ],
      rows: rows, right: [false, false, true, true, true, true, false, true, true, true])
    text +=
      "(measured: median of the rounds; × dense: median over rounds of the time over dense's time in the same round)\n"
    if let dense, let best = measured.first(where: { $0.ratios == result.best.ratios }) {
      text += String(
        format: "Budget %.1f ms = %.3f × the measured dense %.1f ms; the result measured %.3f × dense.\n",
        budget * 1000, budget / dense.median, dense.median * 1000, pairedRatio(best.runs, dense.runs))
    }
    if let uniform = result.bestUniform, let uniformScore = uniform.score {
      let difference = result.best.score.value - uniformScore.value
      text += String(
        format:
          "The search result scores %.5f, the best uniform ratio within the budget (%@) %.5f: %@%.5f.\n",
        result.best.score.value, formatRatio(uniform.ratio), uniformScore.value,
        difference >= 0 ? "+" : "", difference)
    } else {
      text += "No uniform ratio fits the budget.\n"
    }
    if let best = measured.first(where: { $0.ratios == result.best.ratios }),
      best.median > budget * 1.03
    {
      text += String(
        format:
          "Warning: the result measured %.1f ms, over the budget by more than 3%%: the machine may be busy, or the latency model stale (--remeasure).\n",
        best.median * 1000)
    }

    text += "\nUniform ratios:\n"
    text += renderText(
      headers: ["ratio", "predicted ms", "within T", "score", "cosine", "top-1"],
      rows: result.uniform.map { u in
        [
          formatRatio(u.ratio), String(format: "%.1f", u.predictedSeconds * 1000),
          u.fits ? "yes" : "no",
        ] + scoreCells(u.score)
      }, right: [true, true, false, true, true, true])

    text +=
      "\nPareto front (predicted latency vs score; \(result.paretoFront.count) of \(result.candidates.count) configurations):\n"
    text += renderText(
      headers: [
        "predicted ms", "score", "cosine", "top-1", "generation",
        "ratios (per stage, per block pair)",
      ],
      rows: result.paretoFront.map { c in
        [String(format: "%.1f", c.predictedSeconds * 1000)] + scoreCells(c.score) + [
          String(c.generation), compactRatios(c.ratios),
        ]
      }, right: [true, true, true, true, true, false])

    text += "\nGenerations:\n"
    text += renderText(
      headers: ["generation", "new", "scored", "best score", "predicted ms"],
      rows: result.generations.map { g in
        [
          String(g.index), String(g.newlyScored), String(g.totalScored),
          String(format: "%.5f", g.best.score.value),
          String(format: "%.1f", g.best.predictedSeconds * 1000),
        ]
      }, right: [true, true, true, true, true])
    return text + "\n"
  }

  // MARK: - Output document

  /// Keys written next to `pruning_ratios` (PruningRatios.parse ignores them).
  func outputDocument(
    _ result: SearchResult, budget: Double, minimum: Double, measured: [MeasuredConfiguration]
  ) -> [String: Any] {
    func ms(_ seconds: Double) -> Double { rounded(seconds * 1000, 2) }
    func scoreObject(_ score: ConfigurationScore) -> [String: Any] {
      var object: [String: Any] = ["value": rounded(score.value, 6)]
      for (name, value) in score.details { object[name] = rounded(value, 6) }
      return object
    }
    var document: [String: Any] = [
      "name": "search_\(Int((budget * 1000).rounded()))ms_\(size.label)",
      "resolution": [size.height, size.width],
      "batch": options.batch,
      "threads": options.threads,
      "latency_budget_ms": ms(budget),
      "latency_window_ms": [ms(minimum), ms(budget)],
      "predicted_latency_ms": ms(result.best.predictedSeconds),
      "dense_predicted_latency_ms": ms(result.denseSeconds),
      "score": scoreObject(result.best.score),
      "score_metric": options.metric.rawValue,
      "calibration": calibration,
      "model": "\(model.configuration.name) (\(model.source))",
      "cpu": latencyModel.key.cpu,
      "search": [
        "seed": Int(options.seed), "population": options.population, "parents": options.parents,
        "mutation_probability": options.mutation, "iterations": options.iterations,
        "scored": result.candidates.count,
      ] as [String: Any],
      "pareto_front": result.paretoFront.map { c -> [String: Any] in
        [
          "pruning_ratios": c.ratios.ratios, "predicted_latency_ms": ms(c.predictedSeconds),
          "score": rounded(c.score.value, 6),
        ]
      },
    ]
    if let latencyModelPath { document["latency_model"] = latencyModelPath }
    if let entry = measured.first(where: { $0.ratios == result.best.ratios }) {
      document["measured_latency_ms"] = ms(entry.median)
      document["measured_latency_min_ms"] = ms(entry.minimum)
      if let dense = measured.first(where: { $0.ratios.isDense }) {
        document["measured_fraction_of_dense"] = rounded(pairedRatio(entry.runs, dense.runs), 4)
      }
    }
    if let dense = measured.first(where: { $0.ratios.isDense }) {
      document["dense_measured_latency_ms"] = ms(dense.median)
    }
    if let uniform = result.bestUniform, let score = uniform.score {
      var baseline: [String: Any] = [
        "ratio": uniform.ratio, "predicted_latency_ms": ms(uniform.predictedSeconds),
        "score": scoreObject(score),
      ]
      if let entry = measured.first(where: { $0.label == "uniform \(formatRatio(uniform.ratio))" })
      {
        baseline["measured_latency_ms"] = ms(entry.median)
      }
      document["uniform_baseline"] = baseline
    }
    return document
  }

  // MARK: - Plot

  var plotTitle: String {
    "Pruning-ratio search: score vs predicted latency (\(model.configuration.name), \(size.label), batch \(options.batch), \(options.threads) threads)"
  }

  var plotSubtitle: String {
    "\(environment.cpuModel); score: \(options.metric.rawValue) vs dense on \(calibration); seed \(options.seed)"
  }
}

// MARK: - Formatting helpers

/// Per stage, the ratio of each block pair (`0.3 | 0 | 0.1 0.2 0.2 | 0`); every block when a pair
/// differs.
func compactRatios(_ ratios: PruningRatios) -> String {
  ratios.ratios.map { stage in
    let pairsEqual = stride(from: 0, to: stage.count - 1, by: 2).allSatisfy {
      stage[$0] == stage[$0 + 1]
    }
    let shown = pairsEqual ? stride(from: 0, to: stage.count, by: 2).map { stage[$0] } : stage
    return shown.map(formatRatio).joined(separator: " ")
  }.joined(separator: " | ")
}

/// `score (cosine …, top-1 …)`.
func formatScore(_ score: ConfigurationScore) -> String {
  var text = String(format: "%.5f", score.value)
  var parts: [String] = []
  if let cosine = score.details["cosine"], cosine != score.value {
    parts.append(String(format: "cosine %.5f", cosine))
  }
  if let top1 = score.details["top1_agreement"] { parts.append(String(format: "top-1 %.2f", top1)) }
  if !parts.isEmpty { text += " (" + parts.joined(separator: ", ") + ")" }
  return text
}

/// A configuration's time as a fraction of dense, predicted (`predicted / predictedDense`) and
/// measured (median over rounds of its time over dense's in the same round), and the relative error
/// of the prediction. A uniform change of the machine's speed changes neither fraction.
func fractionOfDense(predicted: Double, predictedDense: Double, runs: [Double], denseRuns: [Double])
  -> (predicted: Double, measured: Double, error: Double)
{
  let predictedFraction = predicted / predictedDense
  let measuredFraction = pairedRatio(runs, denseRuns)
  return (predictedFraction, measuredFraction, (predictedFraction - measuredFraction) / measuredFraction)
}

// MARK: - SVG

/// Score against predicted latency for every scored configuration, the Pareto front, the uniform
/// ratios, the result (predicted and measured) and the budget; beside it the best score per
/// generation.
struct SearchPlot {
  let result: SearchResult
  let budget: Double
  let minimum: Double
  let measured: [MeasuredConfiguration]
  let title: String
  let subtitle: String

  static let width = 1000.0
  static let height = 560.0
  static let frontColor = "#4e79a7"
  static let uniformColor = "#f28e2b"
  static let resultColor = "#e15759"
  static let cloudColor = "#b9b9b9"
  static let laterCloudColor = "#8fb3d9"

  func render() -> String {
    var svg = SVGWriter()
    svg.open(width: SearchPlot.width, height: SearchPlot.height)
    svg.text(title, x: 20, y: 26, size: 15, weight: "bold")
    svg.text(subtitle, x: 20, y: 46, size: 12, color: "#555555")
    legend(&svg, y: 70)
    scatter(&svg, left: 80, right: 690, top: 100, bottom: SearchPlot.height - 60)
    convergence(
      &svg, left: 780, right: SearchPlot.width - 20, top: 100, bottom: SearchPlot.height - 60)
    svg.close()
    return svg.text
  }

  private func legend(_ svg: inout SVGWriter, y: Double) {
    var x = 20.0
    func entry(_ label: String, draw: (inout SVGWriter, Double) -> Void) {
      draw(&svg, x + 12)
      svg.text(label, x: x + 28, y: y + 4, size: 12)
      x += 40 + Double(label.count) * 6.6
    }
    entry("configurations scored (grey: generation 0)") { svg, cx in
      svg.rectangle(
        x: cx - 1.5, y: y - 1.5, width: 3, height: 3, fill: SearchPlot.laterCloudColor,
        stroke: SearchPlot.laterCloudColor)
    }
    entry("Pareto front") { svg, cx in
      svg.line(from: (cx - 12, y), to: (cx + 12, y), color: SearchPlot.frontColor, width: 1.5)
      svg.marker(.circle, x: cx, y: y, color: SearchPlot.frontColor)
    }
    entry("uniform ratio") { svg, cx in
      svg.marker(.square, x: cx, y: y, color: SearchPlot.uniformColor)
    }
    entry("result (▲ measured)") { svg, cx in
      svg.marker(.diamond, x: cx, y: y, color: SearchPlot.resultColor)
    }
    entry("budget") { svg, cx in
      svg.line(from: (cx - 12, y), to: (cx + 12, y), color: "#222222", width: 1.2, dash: "6,4")
    }
  }

  private func scatter(
    _ svg: inout SVGWriter, left: Double, right: Double, top: Double, bottom: Double
  ) {
    let fitting = result.uniform.filter { $0.score != nil }
    let latencies =
      result.candidates.map(\.predictedSeconds) + fitting.map(\.predictedSeconds)
      + measured.map(\.median) + [budget, result.denseSeconds]
    let scores = result.candidates.map(\.score.value) + [1]
    let x = Axis.linear(
      latencies.min()! * 1000, latencies.max()! * 1000,
      pixels: PixelRange(lowerBound: left, upperBound: right), headroom: 0.02)
    let y = Axis.linear(
      scores.min()!, 1, pixels: PixelRange(lowerBound: bottom, upperBound: top), headroom: 0.03)
    frame(&svg, x: x, y: y, left: left, right: right, top: top, bottom: bottom)
    svg.text(
      "Score vs latency", x: (left + right) / 2, y: top - 10, size: 14, weight: "bold",
      anchor: "middle")
    svg.text(
      "latency per forward (ms): predicted; ▲ measured after the search", x: (left + right) / 2, y: bottom + 38, size: 12,
      anchor: "middle")
    svg.text(
      "score (1 = dense)", x: left - 58, y: (top + bottom) / 2, size: 12, anchor: "middle",
      rotate: true)

    // Window and budget.
    let budgetX = x.map(budget * 1000)
    svg.line(from: (budgetX, top), to: (budgetX, bottom), color: "#222222", width: 1.2, dash: "6,4")
    svg.text(
      String(format: "budget %.0f ms", budget * 1000), x: budgetX + 4, y: top + 14, size: 11,
      halo: true)
    if minimum > 0 {
      let minimumX = x.map(minimum * 1000)
      svg.line(
        from: (minimumX, top), to: (minimumX, bottom), color: "#777777", width: 1, dash: "2,3")
      svg.text(
        "window from", x: minimumX - 4, y: top + 14, size: 11, color: "#555555", anchor: "end",
        halo: true)
    }
    for candidate in result.candidates {
      let color = candidate.generation == 0 ? SearchPlot.cloudColor : SearchPlot.laterCloudColor
      svg.rectangle(
        x: x.map(candidate.predictedSeconds * 1000) - 1.5, y: y.map(candidate.score.value) - 1.5,
        width: 3, height: 3, fill: color,
        stroke: color)
    }
    let front = result.paretoFront
    svg.polyline(
      front.map { (x.map($0.predictedSeconds * 1000), y.map($0.score.value)) },
      color: SearchPlot.frontColor, width: 1.5)
    for point in front {
      svg.marker(
        .circle, x: x.map(point.predictedSeconds * 1000), y: y.map(point.score.value),
        color: SearchPlot.frontColor)
    }
    for uniform in fitting {
      let px = x.map(uniform.predictedSeconds * 1000)
      let py = y.map(uniform.score!.value)
      svg.marker(.square, x: px, y: py, color: SearchPlot.uniformColor)
      svg.text(
        formatRatio(uniform.ratio), x: px + 8, y: py + 14, size: 11, color: "#9a5a12", halo: true)
    }
    // Dense.
    let denseX = x.map(result.denseSeconds * 1000)
    let denseY = y.map(1)
    svg.marker(.circle, x: denseX, y: denseY, color: "#222222")
    svg.text("dense", x: denseX - 8, y: denseY + 16, size: 11, anchor: "end", halo: true)
    // The result: predicted (diamond) and measured (triangle) joined.
    let best = result.best
    let bestY = y.map(best.score.value)
    if let timed = measured.first(where: { $0.ratios == best.ratios }) {
      svg.line(
        from: (x.map(best.predictedSeconds * 1000), bestY), to: (x.map(timed.median * 1000), bestY),
        color: SearchPlot.resultColor, width: 1.5)
      svg.marker(.triangle, x: x.map(timed.median * 1000), y: bestY, color: SearchPlot.resultColor)
    }
    svg.marker(
      .diamond, x: x.map(best.predictedSeconds * 1000), y: bestY, color: SearchPlot.resultColor)
    svg.text(
      String(format: "result %.4f", best.score.value), x: x.map(best.predictedSeconds * 1000) - 10,
      y: bestY - 12, size: 11,
      color: "#a11d1f", anchor: "end", halo: true)
    if let uniform = result.bestUniform, let score = uniform.score,
      let timed = measured.first(where: { $0.label == "uniform \(formatRatio(uniform.ratio))" })
    {
      let py = y.map(score.value)
      svg.line(
        from: (x.map(uniform.predictedSeconds * 1000), py), to: (x.map(timed.median * 1000), py),
        color: SearchPlot.uniformColor, width: 1.5)
      svg.marker(.triangle, x: x.map(timed.median * 1000), y: py, color: SearchPlot.uniformColor)
    }
  }

  private func convergence(
    _ svg: inout SVGWriter, left: Double, right: Double, top: Double, bottom: Double
  ) {
    let generations = result.generations
    guard !generations.isEmpty else { return }
    let scores =
      generations.map(\.best.score.value) + (result.bestUniform?.score.map { [$0.value] } ?? [])
    let x = Axis.linear(
      0, Double(max(1, generations.last!.index)),
      pixels: PixelRange(lowerBound: left, upperBound: right))
    let y = Axis.linear(
      scores.min()!, scores.max()!, pixels: PixelRange(lowerBound: bottom, upperBound: top),
      headroom: 0.05)
    frame(&svg, x: x, y: y, left: left, right: right, top: top, bottom: bottom)
    svg.text(
      "Best score per generation", x: (left + right) / 2, y: top - 10, size: 14, weight: "bold",
      anchor: "middle")
    svg.text("generation", x: (left + right) / 2, y: bottom + 38, size: 12, anchor: "middle")
    if let uniform = result.bestUniform, let score = uniform.score {
      let py = y.map(score.value)
      svg.line(
        from: (left, py), to: (right, py), color: SearchPlot.uniformColor, width: 1.2, dash: "6,4")
      svg.text(
        "uniform \(formatRatio(uniform.ratio))", x: right - 4, y: py + 14, size: 11,
        color: "#9a5a12", anchor: "end", halo: true)
    }
    svg.polyline(
      generations.map { (x.map(Double($0.index)), y.map($0.best.score.value)) },
      color: SearchPlot.resultColor, width: 1.5)
    for generation in generations {
      svg.marker(
        .diamond, x: x.map(Double(generation.index)), y: y.map(generation.best.score.value),
        color: SearchPlot.resultColor)
    }
  }

  private func frame(
    _ svg: inout SVGWriter, x: Axis, y: Axis, left: Double, right: Double, top: Double,
    bottom: Double
  ) {
    svg.rectangle(
      x: left, y: top, width: right - left, height: bottom - top, fill: "#fbfbfb", stroke: "#bbbbbb"
    )
    svg.gridAndAxes(
      x: x, y: y, xTicks: x.ticks.filter { $0 >= x.lower - 1e-9 && $0 <= x.upper + 1e-9 }, left: left,
      right: right, top: top, bottom: bottom, xLabel: x.format)
  }
}
