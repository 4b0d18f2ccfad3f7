// LayerNorm rows against a double-precision reference, over odd and real widths.
import Foundation
import TestSupport
import XCTest

@testable import Engine

final class LayerNormTests: XCTestCase {
  func testMatchesDoubleReference() throws {
    for channels in [1, 3, 7, 8, 9, 16, 17, 96, 383, 768, 1536] {
      let rows = 5
      let x = randomTensor([rows, channels], in: -3...5, seed: UInt64(channels))
      let weight = randomTensor([channels], in: 0.5...1.5, seed: 1), bias = randomTensor([channels], seed: 2)
      let norm = try LayerNormWeights(weight: weight, bias: bias, channels: channels, name: "n")
      let y = layerNorm(x, norm)
      var expected: [Float] = []
      for r in 0..<rows {
        let row = x.values[r * channels..<(r + 1) * channels].map(Double.init)
        let mean = row.reduce(0, +) / Double(channels)
        let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(channels)
        for c in 0..<channels {
          expected.append(
            Float((row[c] - mean) / (variance + 1e-5).squareRoot() * Double(weight.values[c]) + Double(bias.values[c])))
        }
      }
      let result = compare(y.values, expected, atol: 2e-6, rtol: 2e-6, label: "layerNorm \(channels)")
      XCTAssertTrue(result.passed, result.description)
    }
  }

  func testShapeErrorsNameTheTensor() {
    XCTAssertThrowsError(
      try LayerNormWeights(weight: Tensor(shape: [4]), bias: Tensor(shape: [5]), channels: 4, name: "stage.norm")
    ) { error in
      XCTAssertEqual(error as? ShapeError, ShapeError(name: "stage.norm.bias", expected: [4], actual: [5]))
      XCTAssertEqual("\(error)", "tensor 'stage.norm.bias' has shape [5], expected [4]")
    }
  }
}
