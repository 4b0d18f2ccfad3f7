// Relative position bias tables at a clamped window. When a stage's map is smaller than the window,
// timm shrinks the window to the map and, loading a checkpoint, resizes the bias table with
// `resize_rel_pos_bias_table` (timm/layers/pos_embed_rel.py): source samples placed on a geometric
// progression, then bilinear interpolation at the integer offsets of the new window
// (`RegularGridInterpolator`, float32). This ports that computation operation for operation so the
// engine matches timm at every input size.
import Foundation

/// A block's relative position bias table resized for a `windowHeight × windowWidth` window.
///
/// - Parameters:
///   - table: `[side · side, heads]`, the checkpoint's table for a square window (`side = 2w − 1`).
/// - Returns: `[(2·windowHeight − 1)·(2·windowWidth − 1), heads]`; the table itself when it already
///   has that square shape.
func resizedRelativePositionTable(
  _ table: [Float], side: Int, heads: Int, windowHeight: Int, windowWidth: Int
) -> [Float] {
  let targetHeight = 2 * windowHeight - 1, targetWidth = 2 * windowWidth - 1
  if targetHeight == side && targetWidth == side { return table }
  let sourceRows = samplePositions(source: side, target: targetHeight)
  let sourceColumns = samplePositions(source: side, target: targetWidth)
  // Target offsets −⌊t/2⌋ … ⌊t/2⌋ (torch.arange(-t, t + 0.1, 1.0)).
  let rows = (0..<targetHeight).map { Float($0 - targetHeight / 2) }
  let columns = (0..<targetWidth).map { Float($0 - targetWidth / 2) }
  let rowWeights = rows.map { linearWeights(at: $0, points: sourceRows) }
  let columnWeights = columns.map { linearWeights(at: $0, points: sourceColumns) }

  var resized = [Float](repeating: 0, count: targetHeight * targetWidth * heads)
  for head in 0..<heads {
    for (i, row) in rowWeights.enumerated() {
      for (j, column) in columnWeights.enumerated() {
        // Same operation order as RegularGridInterpolator: corners (0,0), (0,1), (1,0), (1,1), each
        // weighted by the product of the opposite distances, then one division.
        var numerator: Float = 0
        for corner in 0..<4 {
          let upperRow = corner >> 1 == 0, leftColumn = corner & 1 == 0
          let r = upperRow ? row.left : row.right
          let c = leftColumn ? column.left : column.right
          let weight =
            (upperRow ? row.distanceRight : row.distanceLeft)
            * (leftColumn ? column.distanceRight : column.distanceLeft)
          numerator += table[(r * side + c) * heads + head] * weight
        }
        let denominator = row.total * column.total
        resized[(i * targetWidth + j) * heads + head] = numerator / denominator
      }
    }
  }
  return resized
}

/// Where timm places the `source` samples of one axis (`_calc` in resize_rel_pos_bias_table): a
/// geometric progression of spacings whose ratio q is found by bisection, symmetric around 0, then
/// rounded to float32 as `torch.tensor` does.
private func samplePositions(source: Int, target: Int) -> [Float] {
  func geometricProgression(_ a: Double, _ r: Double, _ n: Int) -> Double {
    a * (1.0 - pow(r, Double(n))) / (1.0 - r)
  }
  var left = 1.01, right = 1.5, q = 0.0
  while right - left > 1e-6 {
    q = (left + right) / 2.0
    if geometricProgression(1, q, source / 2) > Double(target / 2) {
      right = q
    } else {
      left = q
    }
  }
  var distances: [Double] = []
  var current = 1.0
  for i in 0..<(source / 2) {
    distances.append(current)
    current += pow(q, Double(i + 1))
  }
  let positions = distances.reversed().map { -$0 } + [0] + distances
  return positions.map { Float($0) }
}

private struct LinearWeights {
  let left: Int, right: Int
  let distanceLeft: Float, distanceRight: Float
  var total: Float { distanceLeft + distanceRight }
}

/// The bracketing samples of `x` and its distances to them, as RegularGridInterpolator computes
/// them (torch.bucketize, clamped indices, negative distances zeroed, both-zero set to 1).
private func linearWeights(at x: Float, points: [Float]) -> LinearWeights {
  var right = points.firstIndex { x <= $0 } ?? points.count
  if right >= points.count { right = points.count - 1 }
  let left = min(max(right - 1, 0), points.count - 1)
  var distanceLeft = x - points[left]
  var distanceRight = points[right] - x
  if distanceLeft < 0 { distanceLeft = 0 }
  if distanceRight < 0 { distanceRight = 0 }
  if distanceLeft == 0 && distanceRight == 0 {
    distanceLeft = 1
    distanceRight = 1
  }
  return LinearWeights(left: left, right: right, distanceLeft: distanceLeft, distanceRight: distanceRight)
}
