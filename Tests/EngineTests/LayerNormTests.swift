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

  /// Every copy this CPU runs against the Double reference, and the C copies bit for bit against
  /// each other (and against the Swift code where it is built with FMA, as scripts/build.sh does).
  func testEveryCopyAgrees() throws {
    for isa in VectorISA.allCases where !isa.isSupported {
      print("LayerNormTests: skipping the \(isa) copy: this CPU lacks it")
    }
    let supported = VectorISA.allCases.filter(\.isSupported)
    for channels in [1, 7, 8, 9, 15, 16, 17, 24, 31, 96, 383, 768, 1536] {
      let x = randomTensor([channels], in: -3...5, seed: UInt64(100 + channels)).values
      let weight = randomTensor([channels], in: 0.5...1.5, seed: 3).values
      let bias = randomTensor([channels], seed: 4).values
      var outputs: [VectorISA: [Float]] = [:]
      for isa in supported {
        var input = x, output = [Float](repeating: .nan, count: channels)
        layerNormRow(&input, count: channels, gamma: weight, beta: bias, epsilon: 1e-5, into: &output, isa: isa)
        outputs[isa] = output
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { row in
          layerNormRow(
            row.baseAddress!, count: channels, gamma: weight, beta: bias, epsilon: 1e-5, into: row.baseAddress!,
            isa: isa)
        }
        XCTAssertEqual(inPlace.map(\.bitPattern), output.map(\.bitPattern), "\(isa) in place, \(channels)")
      }
      let mean = x.map(Double.init).reduce(0, +) / Double(channels)
      let variance = x.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(channels)
      let expected = (0..<channels).map {
        Float((Double(x[$0]) - mean) / (variance + 1e-5).squareRoot() * Double(weight[$0]) + Double(bias[$0]))
      }
      for (isa, output) in outputs {
        let result = compare(output, expected, atol: 2e-6, rtol: 2e-6, label: "layerNorm \(isa) \(channels)")
        XCTAssertTrue(result.passed, result.description)
      }
      if let wide = outputs[.avx512], let narrow = outputs[.avx2] {
        XCTAssertEqual(wide.map(\.bitPattern), narrow.map(\.bitPattern), "avx512 vs avx2, \(channels)")
      }
      #if SPARSEVIT_FMA
        if let narrow = outputs[.avx2], let swift = outputs[.swift] {
          XCTAssertEqual(narrow.map(\.bitPattern), swift.map(\.bitPattern), "avx2 vs Swift (FMA), \(channels)")
        }
      #endif
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
