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

  func render() -> String {
    let records = report.records
    let (yTitle, ys) = report.quality
    let (xTitle, xs) = report.cost
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
    // Percentages stay within 0…100, and equal values (e.g. all 0% on unrelated labels) get a
    // 10-point band instead of an axis around zero.
    let percent = yTitle.hasSuffix("(%)")
    var lowY = points.map(\.2).min()!, highY = points.map(\.2).max()!
    if percent && highY - lowY < 1 { (lowY, highY) = (lowY - 5, highY + 5) }
    lowY = max(0, lowY - (highY - lowY) * 0.15)
    if percent { highY = min(100, highY) }
    let yAxis = Axis.linear(lowY, highY, pixels: PixelRange(lowerBound: bottom - 10, upperBound: top + 24))
    drawTicks(&svg, x: xAxis, y: yAxis, box: (left, right, top, bottom))
    svg.text(xTitle, x: (left + right) / 2, y: bottom + 40, size: 12, anchor: "middle")
    svg.text(yTitle, x: 24, y: (top + bottom) / 2, size: 12, anchor: "middle", rotate: true)

    let onFront = report.paretoRecords
    let front = points.filter { onFront.contains($0.0) }.sorted { $0.1 < $1.1 }
    let frontColor = "#17becf"
    svg.polyline(front.map { (xAxis.map($0.1), yAxis.map($0.2)) }, color: frontColor, width: 2, dash: "6,4")
    for point in front { ring(&svg, x: xAxis.map(point.1), y: yAxis.map(point.2), color: frontColor) }
    var placed: [(Double, Double, Double, Double)] = []
    for (order, point) in points.enumerated() {
      let label = records[point.0].configuration.label
      let paper = PruningRatios.presetNames.contains(label)
      let color = point.0 == 0 ? SVGPlot.baselineColor : SVGPlot.palette[order % SVGPlot.palette.count]
      let x = xAxis.map(point.1), y = yAxis.map(point.2)
      svg.marker(MarkerShape.allCases[order % MarkerShape.allCases.count], x: x, y: y, color: color)
      let text = paper ? "\(label) (paper)" : label
      let position = labelPosition(text, x: x, y: y, placed: &placed, box: (left, right, top, bottom))
      svg.text(
        text, x: position.x, y: position.y, size: 11, weight: paper ? "bold" : "normal",
        anchor: position.anchor, halo: true)
    }
    svg.line(from: (left + 12, top + 14), to: (left + 36, top + 14), color: frontColor, width: 2, dash: "6,4")
    svg.text(
      "Pareto front: no other configuration is both faster and better (ringed)", x: left + 42, y: top + 18, size: 11)
    svg.close()
    return svg.text
  }

  /// A circle outline of radius 9 around a point (as a polyline: `SVGWriter` draws filled markers).
  private func ring(_ svg: inout SVGWriter, x: Double, y: Double, color: String) {
    let steps = 24
    svg.polyline(
      (0...steps).map { step in
        let angle = 2 * Double.pi * Double(step) / Double(steps)
        return (x + 9 * cos(angle), y + 9 * sin(angle))
      }, color: color, width: 1.5)
  }

  /// Where a point's label goes: above right, below right, above left or below left of it, the first
  /// that overlaps no label placed before and stays in the box (else above right). Widths are
  /// estimated at 6.3 px per character of 11 px text.
  private func labelPosition(
    _ text: String, x: Double, y: Double, placed: inout [(Double, Double, Double, Double)],
    box: (left: Double, right: Double, top: Double, bottom: Double)
  ) -> (x: Double, y: Double, anchor: String) {
    let width = Double(text.count) * 6.3, height = 13.0
    let candidates: [(Double, Double, String)] = [
      (x + 9, y - 8, "start"), (x + 9, y + 17, "start"), (x - 9, y - 8, "end"), (x - 9, y + 17, "end"),
    ]
    func rectangle(_ candidate: (Double, Double, String)) -> (Double, Double, Double, Double) {
      let x0 = candidate.2 == "start" ? candidate.0 : candidate.0 - width
      return (x0, candidate.1 - height + 3, x0 + width, candidate.1 + 3)
    }
    func fits(_ r: (Double, Double, Double, Double)) -> Bool {
      r.0 >= box.left && r.2 <= box.right && r.1 >= box.top && r.3 <= box.bottom
        && !placed.contains { r.0 < $0.2 && $0.0 < r.2 && r.1 < $0.3 && $0.1 < r.3 }
    }
    let chosen = candidates.first { fits(rectangle($0)) } ?? candidates[0]
    placed.append(rectangle(chosen))
    return (chosen.0, chosen.1, chosen.2)
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
