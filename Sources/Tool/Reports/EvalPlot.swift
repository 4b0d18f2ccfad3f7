// The eval plot, hand-written SVG with the bench plot's axes and markers: accuracy (or agreement
// with dense, without labels) against latency per image, one point per configuration, the Pareto
// front drawn through the points no other beats on both, the paper's configurations named in bold.
import Foundation
import Models

/// Quality against cost of an evaluation's configurations.
struct EvalPlot {
  let report: EvalReport

  static let width = 760.0
  static let height = 500.0

  /// What the y axis shows: its title and each record's value (nil: not plotted).
  private var quality: (title: String, values: [Double?]) {
    let records = report.records
    if report.hasLabels { return ("top-1 accuracy (%)", records.map { $0.tally.top1Accuracy.map { $0 * 100 } }) }
    if report.hasHead { return ("top-1 agreement with dense (%)", records.map { $0.tally.top1Agreement.map { $0 * 100 } }) }
    return ("cosine similarity with dense", records.map { $0.tally.meanCosine })
  }

  /// What the x axis shows: latency when timed, else GFLOP per image.
  private var cost: (title: String, values: [Double?]) {
    let records = report.records
    if records.allSatisfy({ $0.secondsPerImage != nil }) {
      return ("latency per image (ms, median of timed batches)", records.map { $0.secondsPerImage.map { $0 * 1000 } })
    }
    return ("GFLOP per image (not timed: fewer than two full batches)", records.map { $0.gflopPerImage })
  }

  func render() -> String {
    let records = report.records
    let (yTitle, ys) = quality
    let (xTitle, xs) = cost
    let points = records.indices.compactMap { index -> (Int, Double, Double)? in
      guard let x = xs[index], let y = ys[index] else { return nil }
      return (index, x, y)
    }
    var svg = SVGWriter()
    svg.open(width: EvalPlot.width, height: EvalPlot.height)
    let model = report.evaluation.model.configuration.name
    svg.text("\(model): \(yTitle.components(separatedBy: " (")[0]) vs cost", x: 20, y: 26, size: 16, weight: "bold")
    svg.text(
      "\(report.result.images) images of \(report.dataset.directory), \(report.sizeLabel), batch \(report.evaluation.batch)",
      x: 20, y: 46, size: 12, color: "#555555")
    let left = 90.0, right = EvalPlot.width - 30, top = 70.0, bottom = EvalPlot.height - 60
    svg.rectangle(x: left, y: top, width: right - left, height: bottom - top, fill: "#fbfbfb", stroke: "#bbbbbb")
    guard !points.isEmpty else {
      svg.close()
      return svg.text
    }
    let xAxis = Axis.linear(
      0, points.map(\.1).max()! * 1.08, pixels: PixelRange(lowerBound: left + 10, upperBound: right - 10))
    let lowY = points.map(\.2).min()!, highY = points.map(\.2).max()!
    let yAxis = Axis.linear(
      max(0, lowY - max(1e-3, (highY - lowY) * 0.15)), highY, pixels: PixelRange(lowerBound: bottom - 10, upperBound: top + 10),
      headroom: 0.06)
    drawTicks(&svg, x: xAxis, y: yAxis, box: (left, right, top, bottom))
    svg.text(xTitle, x: (left + right) / 2, y: bottom + 40, size: 12, anchor: "middle")
    svg.text(yTitle, x: 24, y: (top + bottom) / 2, size: 12, anchor: "middle", rotate: true)

    let front = paretoFront(latencies: points.map(\.1), scores: points.map(\.2)).map { points[$0] }
    svg.polyline(front.map { (xAxis.map($0.1), yAxis.map($0.2)) }, color: "#59a14f", width: 2, dash: "6,4")
    for point in front {
      svg.marker(.circle, x: xAxis.map(point.1), y: yAxis.map(point.2), color: "#59a14f")
    }
    for (order, point) in points.enumerated() {
      let label = records[point.0].configuration.label
      let paper = PruningRatios.presetNames.contains(label)
      let color = point.0 == 0 ? SVGPlot.baselineColor : SVGPlot.palette[order % SVGPlot.palette.count]
      let x = xAxis.map(point.1), y = yAxis.map(point.2)
      svg.marker(MarkerShape.allCases[order % MarkerShape.allCases.count], x: x, y: y, color: color)
      svg.text(
        paper ? "\(label) (paper)" : label, x: x + 9, y: y - 8, size: 11, weight: paper ? "bold" : "normal",
        halo: true)
    }
    svg.line(from: (right - 200, top + 16), to: (right - 176, top + 16), color: "#59a14f", width: 2, dash: "6,4")
    svg.text("Pareto front (no point is better on both)", x: right - 170, y: top + 20, size: 11)
    svg.close()
    return svg.text
  }

  private func drawTicks(
    _ svg: inout SVGWriter, x: Axis, y: Axis, box: (left: Double, right: Double, top: Double, bottom: Double)
  ) {
    for tick in x.ticks {
      let px = x.map(tick)
      guard px >= box.left && px <= box.right else { continue }
      svg.line(from: (px, box.top), to: (px, box.bottom), color: "#e6e6e6", width: 1)
      svg.text(x.format(tick), x: px, y: box.bottom + 18, size: 11, anchor: "middle")
    }
    for tick in y.ticks {
      let py = y.map(tick)
      guard py >= box.top && py <= box.bottom else { continue }
      svg.line(from: (box.left, py), to: (box.right, py), color: "#e6e6e6", width: 1)
      svg.text(y.format(tick), x: box.left - 8, y: py + 4, size: 11, anchor: "end")
    }
  }
}
