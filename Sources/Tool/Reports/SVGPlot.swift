// The bench plot, hand-written SVG (no dependencies): latency and speedup against sparsity, and
// against input size when several sizes were measured. One colour and marker per configuration.
import Foundation

/// Latency and speedup charts of a bench's runs.
struct SVGPlot {
  let runs: [BenchRun]
  let title: String
  let subtitle: String

  static let width = 1000.0
  static let panelHeight = 360.0
  static let palette = [
    "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
    "#ff9da7", "#bab0ac",
  ]
  static let baselineColor = "#222222"

  func render() -> String {
    let labels = orderedUnique(runs.map(\.label))
    let sizes = orderedUnique(runs.map(\.size.label))
    let severalSizes = sizes.count > 1
    var svg = SVGWriter()
    let legend = legendEntries(labels: labels, severalSizes: severalSizes)
    let legendRows = layoutLegend(legend, width: SVGPlot.width - 40)
    let top = 64 + Double(legendRows.count) * 20 + 8
    let height = top + (severalSizes ? 2 : 1) * SVGPlot.panelHeight + 10
    svg.open(width: SVGPlot.width, height: height)
    svg.text(title, x: 20, y: 26, size: 16, weight: "bold")
    svg.text(subtitle, x: 20, y: 46, size: 12, color: "#555555")
    for (row, entries) in legendRows.enumerated() {
      for (entry, x) in entries {
        drawLegendEntry(&svg, entry, x: 20 + x, y: 64 + Double(row) * 20)
      }
    }
    let half = (SVGPlot.width - 20) / 2
    let frames = [
      Frame(x: 10, y: top, width: half, height: SVGPlot.panelHeight),
      Frame(x: 10 + half, y: top, width: half, height: SVGPlot.panelHeight),
      Frame(x: 10, y: top + SVGPlot.panelHeight, width: half, height: SVGPlot.panelHeight),
      Frame(x: 10 + half, y: top + SVGPlot.panelHeight, width: half, height: SVGPlot.panelHeight),
    ]
    latencyAgainstSparsity(&svg, frames[0], labels: labels, sizes: sizes)
    speedupAgainstSparsity(&svg, frames[1], labels: labels, sizes: sizes)
    if severalSizes {
      latencyAgainstSize(&svg, frames[2], labels: labels)
      speedupAgainstSize(&svg, frames[3], labels: labels)
    }
    svg.close()
    return svg.text
  }

  // MARK: - Panels

  private func latencyAgainstSparsity(
    _ svg: inout SVGWriter, _ frame: Frame, labels: [String], sizes: [String]
  ) {
    let xs = runs.map(\.blockSparsity)
    let lows = runs.map { $0.summary.p10 * 1000 }
    let highs = runs.map { $0.summary.p90 * 1000 }
    let logY = sizes.count > 1 && (highs.max()! / lows.min()!) > 5
    let x = Axis.linear(0, max(0.1, xs.max()!), pixels: frame.dataX)
    let y =
      logY
      ? Axis.logarithmic(lows.min()!, highs.max()!, pixels: frame.plotY)
      : Axis.linear(0, highs.max()!, pixels: frame.plotY, headroom: 0.04)
    drawAxes(
      &svg, frame, x: x, y: y, title: "Latency vs sparsity",
      xTitle: "skipped block work (share of window MACs not computed)",
      yTitle: "median latency (ms\(logY ? ", log scale" : ""))", xFormat: percent)
    var sizeLabels: [(String, Double, Double)] = []
    for size in sizes {
      let points = runs.filter { $0.size.label == size }.sorted {
        $0.blockSparsity < $1.blockSparsity
      }
      svg.polyline(
        points.map { (x.map($0.blockSparsity), y.map($0.summary.median * 1000)) }, color: "#999999",
        width: 1.2)
      if sizes.count > 1, let first = points.first {
        sizeLabels.append(
          (size, x.map(first.blockSparsity) + 8, y.map(first.summary.median * 1000) - 8))
      }
      for run in points {
        let color = color(of: run.label, in: labels)
        let px = x.map(run.blockSparsity)
        svg.errorBar(
          x: px, low: y.map(run.summary.p10 * 1000), high: y.map(run.summary.p90 * 1000),
          color: color)
        svg.marker(
          shape(of: run.label, in: labels), x: px, y: y.map(run.summary.median * 1000), color: color
        )
      }
    }
    for (text, px, py) in separated(sizeLabels) {
      svg.text(text, x: px, y: py, size: 11, color: "#555555", halo: true)
    }
  }

  private func speedupAgainstSparsity(
    _ svg: inout SVGWriter, _ frame: Frame, labels: [String], sizes: [String]
  ) {
    let xs = runs.map(\.blockSparsity)
    let values: [Double] =
      runs.flatMap { run -> [Double] in
        [run.speedup, run.pairedSpeedup.p10, run.pairedSpeedup.p90, run.denseGFLOP / run.gflop]
      } + [1]
    let x = Axis.linear(0, max(0.1, xs.max()!), pixels: frame.dataX)
    let y = Axis.linear(
      min(values.min()!, 0.9), max(values.max()!, 1.1), pixels: frame.plotY, headroom: 0.04)
    drawAxes(
      &svg, frame, x: x, y: y, title: "Speedup vs sparsity",
      xTitle: "skipped block work (share of window MACs not computed)",
      yTitle: "speedup over dense (paired median, ×)", xFormat: percent)
    svg.line(
      from: (frame.plotX.lowerBound, y.map(1)), to: (frame.plotX.upperBound, y.map(1)),
      color: SVGPlot.baselineColor, width: 1, dash: "2,3")
    var sizeLabels: [(String, Double, Double)] = []
    for size in sizes {
      let points = runs.filter { $0.size.label == size }.sorted {
        $0.blockSparsity < $1.blockSparsity
      }
      svg.polyline(
        points.map { (x.map($0.blockSparsity), y.map($0.denseGFLOP / $0.gflop)) }, color: "#777777",
        width: 1.2, dash: "6,4")
      svg.polyline(
        points.map { (x.map($0.blockSparsity), y.map($0.pairedSpeedup.median)) }, color: "#999999",
        width: 1.2)
      if sizes.count > 1, let last = points.last {
        sizeLabels.append(
          (size, x.map(last.blockSparsity) - 10, y.map(last.pairedSpeedup.median) + 16))
      }
      for run in points {
        let color = color(of: run.label, in: labels)
        let px = x.map(run.blockSparsity)
        if !run.isBaseline {
          svg.errorBar(
            x: px, low: y.map(run.pairedSpeedup.p10), high: y.map(run.pairedSpeedup.p90),
            color: color)
        }
        svg.marker(
          shape(of: run.label, in: labels), x: px, y: y.map(run.pairedSpeedup.median), color: color)
      }
    }
    for (text, px, py) in separated(sizeLabels) {
      svg.text(text, x: px, y: py, size: 11, color: "#555555", anchor: "end", halo: true)
    }
  }

  /// Labels moved down where needed so that no two are closer than a line of text.
  private func separated(_ labels: [(String, Double, Double)]) -> [(String, Double, Double)] {
    var placed: [(String, Double, Double)] = []
    for label in labels.sorted(by: { $0.2 < $1.2 }) {
      var y = label.2
      if let previous = placed.last, y - previous.2 < 13 { y = previous.2 + 13 }
      placed.append((label.0, label.1, y))
    }
    return placed
  }

  private func latencyAgainstSize(_ svg: inout SVGWriter, _ frame: Frame, labels: [String]) {
    let pixels = runs.map { Double($0.size.height * $0.size.width) }
    let lows = runs.map { $0.summary.p10 * 1000 }
    let highs = runs.map { $0.summary.p90 * 1000 }
    let x = Axis.logarithmic(pixels.min()!, pixels.max()!, pixels: frame.dataX, ticks: sizeTicks())
    let y = Axis.logarithmic(lows.min()!, highs.max()!, pixels: frame.plotY)
    drawAxes(
      &svg, frame, x: x, y: y, title: "Latency vs input size",
      xTitle: "input size (pixels per image, log scale)",
      yTitle: "median latency (ms, log scale)", xFormat: sizeLabel)
    for label in labels {
      let points = runs.filter { $0.label == label }.sorted {
        $0.size.height * $0.size.width < $1.size.height * $1.size.width
      }
      let color = color(of: label, in: labels)
      svg.polyline(
        points.map {
          (x.map(Double($0.size.height * $0.size.width)), y.map($0.summary.median * 1000))
        }, color: color, width: 1.5)
      for run in points {
        let px = x.map(Double(run.size.height * run.size.width))
        svg.errorBar(
          x: px, low: y.map(run.summary.p10 * 1000), high: y.map(run.summary.p90 * 1000),
          color: color)
        svg.marker(
          shape(of: label, in: labels), x: px, y: y.map(run.summary.median * 1000), color: color)
      }
    }
  }

  private func speedupAgainstSize(_ svg: inout SVGWriter, _ frame: Frame, labels: [String]) {
    let pixels = runs.map { Double($0.size.height * $0.size.width) }
    let values: [Double] =
      runs.flatMap { run -> [Double] in [run.speedup, run.pairedSpeedup.p10, run.pairedSpeedup.p90]
      } + [1]
    let x = Axis.logarithmic(pixels.min()!, pixels.max()!, pixels: frame.dataX, ticks: sizeTicks())
    let y = Axis.linear(
      min(values.min()!, 0.9), max(values.max()!, 1.1), pixels: frame.plotY, headroom: 0.04)
    drawAxes(
      &svg, frame, x: x, y: y, title: "Speedup vs input size",
      xTitle: "input size (pixels per image, log scale)",
      yTitle: "speedup over dense (paired median, ×)", xFormat: sizeLabel)
    svg.line(
      from: (frame.plotX.lowerBound, y.map(1)), to: (frame.plotX.upperBound, y.map(1)),
      color: SVGPlot.baselineColor, width: 1, dash: "2,3")
    for label in labels where !runs.contains(where: { $0.label == label && $0.isBaseline }) {
      let points = runs.filter { $0.label == label }.sorted {
        $0.size.height * $0.size.width < $1.size.height * $1.size.width
      }
      let color = color(of: label, in: labels)
      svg.polyline(
        points.map {
          (x.map(Double($0.size.height * $0.size.width)), y.map($0.pairedSpeedup.median))
        },
        color: color, width: 1.5)
      for run in points {
        let px = x.map(Double(run.size.height * run.size.width))
        svg.errorBar(
          x: px, low: y.map(run.pairedSpeedup.p10), high: y.map(run.pairedSpeedup.p90), color: color
        )
        svg.marker(
          shape(of: label, in: labels), x: px, y: y.map(run.pairedSpeedup.median), color: color)
      }
    }
  }

  // MARK: - Axes and legend

  private func drawAxes(
    _ svg: inout SVGWriter, _ frame: Frame, x: Axis, y: Axis, title: String, xTitle: String,
    yTitle: String,
    xFormat: (Double, Axis) -> String
  ) {
    let left = frame.plotX.lowerBound
    let right = frame.plotX.upperBound
    let top = frame.plotY.upperBound
    let bottom = frame.plotY.lowerBound
    svg.rectangle(
      x: left, y: top, width: right - left, height: bottom - top, fill: "#fbfbfb", stroke: "#bbbbbb"
    )
    svg.text(
      title, x: (left + right) / 2, y: frame.y + 22, size: 14, weight: "bold", anchor: "middle")
    svg.gridAndAxes(
      x: x, y: y, xTicks: x.ticks, left: left, right: right, top: top, bottom: bottom,
      xLabel: { xFormat($0, x) })
    svg.text(xTitle, x: (left + right) / 2, y: bottom + 38, size: 12, anchor: "middle")
    svg.text(
      yTitle, x: frame.x + 16, y: (top + bottom) / 2, size: 12, anchor: "middle", rotate: true)
  }

  private enum LegendEntry {
    case configuration(String, shape: MarkerShape, color: String)
    case line(String, color: String, dash: String?)
  }

  private func legendEntries(labels: [String], severalSizes: Bool) -> [LegendEntry] {
    labels.map {
      LegendEntry.configuration(
        $0, shape: shape(of: $0, in: labels), color: color(of: $0, in: labels))
    } + [
      .line(
        severalSizes ? "measured (one line per size)" : "measured",
        color: "#999999", dash: nil),
      .line("FLOP-proportional speedup", color: "#777777", dash: "6,4"),
      .line("dense (1×)", color: SVGPlot.baselineColor, dash: "2,3"),
    ]
  }

  /// Entries with their x offsets, wrapped into rows of at most `width` pixels.
  private func layoutLegend(_ entries: [LegendEntry], width: Double) -> [[(LegendEntry, Double)]] {
    var rows: [[(LegendEntry, Double)]] = [[]]
    var x = 0.0
    for entry in entries {
      let text: String
      switch entry {
      case .configuration(let label, _, _): text = label
      case .line(let label, _, _): text = label
      }
      let entryWidth = 34 + Double(text.count) * 6.6 + 18
      if x + entryWidth > width && !rows[rows.count - 1].isEmpty {
        rows.append([])
        x = 0
      }
      rows[rows.count - 1].append((entry, x))
      x += entryWidth
    }
    return rows
  }

  private func drawLegendEntry(_ svg: inout SVGWriter, _ entry: LegendEntry, x: Double, y: Double) {
    switch entry {
    case .configuration(let label, let shape, let color):
      svg.line(from: (x, y), to: (x + 24, y), color: color, width: 1.5)
      svg.marker(shape, x: x + 12, y: y, color: color)
      svg.text(label, x: x + 30, y: y + 4, size: 12)
    case .line(let label, let color, let dash):
      svg.line(from: (x, y), to: (x + 24, y), color: color, width: 1.5, dash: dash)
      svg.text(label, x: x + 30, y: y + 4, size: 12)
    }
  }

  private func color(of label: String, in labels: [String]) -> String {
    if runs.contains(where: { $0.label == label && $0.isBaseline }) { return SVGPlot.baselineColor }
    let index =
      labels.filter { l in !runs.contains { $0.label == l && $0.isBaseline } }.firstIndex(of: label)
      ?? 0
    return SVGPlot.palette[index % SVGPlot.palette.count]
  }

  private func shape(of label: String, in labels: [String]) -> MarkerShape {
    MarkerShape.allCases[(labels.firstIndex(of: label) ?? 0) % MarkerShape.allCases.count]
  }

  /// Measured sizes as x ticks of the size panels.
  private func sizeTicks() -> [Double] {
    orderedUnique(runs.map { $0.size.height * $0.size.width }).map(Double.init)
  }

  private func sizeLabel(_ pixels: Double, _ axis: Axis) -> String {
    guard let run = runs.first(where: { Double($0.size.height * $0.size.width) == pixels }) else {
      return axis.format(pixels)
    }
    return run.size.height == run.size.width ? "\(run.size.height)²" : run.size.label
  }

  private func percent(_ value: Double, _ axis: Axis) -> String {
    let step = axis.ticks.count > 1 ? axis.ticks[1] - axis.ticks[0] : 0.1
    return String(format: step * 100 < 1 ? "%.1f%%" : "%.0f%%", value * 100)
  }
}

// MARK: - Geometry

/// A panel's box and its plotting area (y grows downwards: `plotY.lowerBound` is the bottom pixel).
private struct Frame {
  let x: Double
  let y: Double
  let width: Double
  let height: Double

  var plotX: ClosedRange<Double> { (x + 72)...(x + width - 18) }
  /// Where x values go: inset from the frame so points at the ends are not drawn over the axes.
  var dataX: ClosedRange<Double> { (plotX.lowerBound + 14)...(plotX.upperBound - 14) }
  /// Pixel range from bottom (lowerBound) to top (upperBound), stored as (bottom, top).
  var plotY: PixelRange { PixelRange(lowerBound: y + height - 58, upperBound: y + 36) }
}

/// Two pixel positions for an axis's lower and upper value (need not be increasing).
struct PixelRange {
  let lowerBound: Double
  let upperBound: Double
}

/// A linear or logarithmic axis with tick values.
struct Axis {
  let lower: Double
  let upper: Double
  let logarithmic: Bool
  let pixels: PixelRange
  let ticks: [Double]
  /// Decimals of the tick labels.
  let decimals: Int

  /// A linear axis over rounded bounds with 1-2-2.5-5 steps (about 5 ticks).
  static func linear(_ low: Double, _ high: Double, pixels: ClosedRange<Double>) -> Axis {
    linear(
      low, high, pixels: PixelRange(lowerBound: pixels.lowerBound, upperBound: pixels.upperBound))
  }

  /// `headroom`: share of the span added above `high` before rounding, so that the largest value
  /// is not drawn on the frame.
  static func linear(_ low: Double, _ high: Double, pixels: PixelRange, headroom: Double = 0)
    -> Axis
  {
    var low = low
    var high = high
    if high - low < 1e-12 {
      low -= 0.5
      high += 0.5
    }
    high += (high - low) * headroom
    let step = niceStep((high - low) / 5)
    let lower = (low / step).rounded(.down) * step
    let upper = (high / step).rounded(.up) * step
    let count = Int(((upper - lower) / step).rounded())
    let ticks = (0...count).map { lower + Double($0) * step }
    let decimals =
      (0...9).first {
        abs(step * pow(10, Double($0)) - (step * pow(10, Double($0))).rounded()) < 1e-6
      } ?? 9
    return Axis(
      lower: lower, upper: upper, logarithmic: false, pixels: pixels, ticks: ticks,
      decimals: decimals)
  }

  /// A log axis from the 1-2-5 value below `low` to the one above `high`, ticks at 1-2-5 values
  /// (only decades when that would be too many) or at the given values.
  static func logarithmic(
    _ low: Double, _ high: Double, pixels: ClosedRange<Double>, ticks given: [Double]? = nil
  ) -> Axis {
    logarithmic(
      low, high, pixels: PixelRange(lowerBound: pixels.lowerBound, upperBound: pixels.upperBound),
      ticks: given)
  }

  static func logarithmic(
    _ low: Double, _ high: Double, pixels: PixelRange, ticks given: [Double]? = nil
  ) -> Axis {
    if let given {
      // Pad 8% of the span (in log space, at least 0.3 decades) on both sides: end points stay off the frame.
      let span = max(log10(high / low), 0.3)
      let lower = low / pow(10, span * 0.08)
      let upper = high * pow(10, span * 0.08)
      return Axis(
        lower: lower, upper: upper, logarithmic: true, pixels: pixels, ticks: given, decimals: 0)
    }
    let candidates = (-3...9).flatMap { exponent in
      [1.0, 2, 5].map { $0 * pow(10, Double(exponent)) }
    }
    let lower = candidates.last { $0 <= low * (1 + 1e-9) } ?? low
    let upper = candidates.first { $0 >= high * (1 - 1e-9) } ?? high
    var ticks = candidates.filter { $0 >= lower * (1 - 1e-9) && $0 <= upper * (1 + 1e-9) }
    if ticks.count > 9 {
      ticks = ticks.filter { abs(log10($0) - log10($0).rounded()) < 1e-9 }
    }
    let smallest = ticks.min() ?? lower
    let decimals = smallest >= 1 ? 0 : Int((-log10(smallest)).rounded(.up))
    return Axis(
      lower: lower, upper: upper, logarithmic: true, pixels: pixels, ticks: ticks,
      decimals: decimals)
  }

  func map(_ value: Double) -> Double {
    let fraction =
      logarithmic
      ? (log10(max(value, 1e-300)) - log10(lower)) / (log10(upper) - log10(lower))
      : (value - lower) / (upper - lower)
    return pixels.lowerBound + fraction * (pixels.upperBound - pixels.lowerBound)
  }

  func format(_ value: Double) -> String {
    String(format: "%.\(logarithmic ? (value >= 1 ? 0 : decimals) : decimals)f", value)
  }
}

/// The 1, 2, 2.5 or 5 × 10^k at or above `raw`.
func niceStep(_ raw: Double) -> Double {
  let magnitude = pow(10, log10(raw).rounded(.down))
  for factor in [1.0, 2, 2.5, 5, 10] where factor * magnitude >= raw * (1 - 1e-9) {
    return factor * magnitude
  }
  return 10 * magnitude
}

func orderedUnique<T: Hashable>(_ values: [T]) -> [T] {
  var seen = Set<T>()
  return values.filter { seen.insert($0).inserted }
}

// MARK: - SVG text

enum MarkerShape: CaseIterable {
  case circle, square, triangle, diamond, downTriangle
}

/// Accumulates SVG elements.
struct SVGWriter {
  private(set) var text = ""

  mutating func open(width: Double, height: Double) {
    text += """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
      <rect width="100%" height="100%" fill="#ffffff"/>

      """
  }

  mutating func close() { text += "</svg>\n" }

  mutating func text(
    _ content: String, x: Double, y: Double, size: Double, color: String = "#222222",
    weight: String = "normal",
    anchor: String = "start", rotate: Bool = false, halo: Bool = false
  ) {
    let transform = rotate ? " transform=\"rotate(-90 \(f(x)) \(f(y)))\"" : ""
    // A white outline under the glyphs keeps labels readable where they cross lines.
    let outline = halo ? " stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\"" : ""
    text +=
      "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" fill=\"\(color)\" font-weight=\"\(weight)\" text-anchor=\"\(anchor)\"\(outline)\(transform)>\(escaped(content))</text>\n"
  }

  mutating func line(
    from a: (Double, Double), to b: (Double, Double), color: String, width: Double,
    dash: String? = nil
  ) {
    let dashes = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
    text +=
      "<line x1=\"\(f(a.0))\" y1=\"\(f(a.1))\" x2=\"\(f(b.0))\" y2=\"\(f(b.1))\" stroke=\"\(color)\" stroke-width=\"\(f(width))\"\(dashes)/>\n"
  }

  mutating func polyline(
    _ points: [(Double, Double)], color: String, width: Double, dash: String? = nil
  ) {
    guard points.count > 1 else { return }
    let dashes = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
    let list = points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
    text +=
      "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(f(width))\"\(dashes)/>\n"
  }

  mutating func rectangle(
    x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String
  ) {
    text +=
      "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"\(fill)\" stroke=\"\(stroke)\"/>\n"
  }

  /// A vertical bar from `low` to `high` with short caps.
  mutating func errorBar(x: Double, low: Double, high: Double, color: String) {
    line(from: (x, low), to: (x, high), color: color, width: 1.2)
    line(from: (x - 4, low), to: (x + 4, low), color: color, width: 1.2)
    line(from: (x - 4, high), to: (x + 4, high), color: color, width: 1.2)
  }

  mutating func marker(_ shape: MarkerShape, x: Double, y: Double, color: String) {
    let r = 5.0
    let style = "fill=\"\(color)\" stroke=\"#ffffff\" stroke-width=\"1\""
    switch shape {
    case .circle:
      text += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(r))\" \(style)/>\n"
    case .square:
      text +=
        "<rect x=\"\(f(x - r))\" y=\"\(f(y - r))\" width=\"\(f(2 * r))\" height=\"\(f(2 * r))\" \(style)/>\n"
    case .triangle:
      polygon(
        [(x, y - r * 1.2), (x + r * 1.1, y + r * 0.8), (x - r * 1.1, y + r * 0.8)], style: style)
    case .diamond:
      polygon(
        [(x, y - r * 1.3), (x + r * 1.3, y), (x, y + r * 1.3), (x - r * 1.3, y)], style: style)
    case .downTriangle:
      polygon(
        [(x, y + r * 1.2), (x + r * 1.1, y - r * 0.8), (x - r * 1.1, y - r * 0.8)], style: style)
    }
  }

  private mutating func polygon(_ points: [(Double, Double)], style: String) {
    text +=
      "<polygon points=\"\(points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\" \(style)/>\n"
  }

  private func f(_ value: Double) -> String {
    value.isFinite ? String(format: "%.1f", value) : "0"
  }

  private func escaped(_ content: String) -> String {
    content.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}

extension SVGWriter {
  /// Grid lines, ticks and tick labels of both axes over the plot area, then the two axis lines.
  mutating func gridAndAxes(
    x: Axis, y: Axis, xTicks: [Double], left: Double, right: Double, top: Double, bottom: Double,
    xLabel: (Double) -> String
  ) {
    for tick in xTicks {
      let px = x.map(tick)
      line(from: (px, top), to: (px, bottom), color: "#e6e6e6", width: 1)
      line(from: (px, bottom), to: (px, bottom + 5), color: "#555555", width: 1)
      text(xLabel(tick), x: px, y: bottom + 18, size: 11, anchor: "middle")
    }
    for tick in y.ticks {
      let py = y.map(tick)
      line(from: (left, py), to: (right, py), color: "#e6e6e6", width: 1)
      line(from: (left - 5, py), to: (left, py), color: "#555555", width: 1)
      text(y.format(tick), x: left - 8, y: py + 4, size: 11, anchor: "end")
    }
    line(from: (left, bottom), to: (right, bottom), color: "#555555", width: 1)
    line(from: (left, top), to: (left, bottom), color: "#555555", width: 1)
  }
}
