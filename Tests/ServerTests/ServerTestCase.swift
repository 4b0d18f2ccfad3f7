// A server on the tiny fixture model, started on a free loopback port for each test and stopped after.
import Engine
import Foundation
import Models
import TestSupport
import XCTest

@testable import Server

class ServerTestCase: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
  static let model = try! SwinTransformer.load(
    path: fixtures.appendingPathComponent("tiny/tiny.timm.f32.safetensors").path)

  var server: InferenceServer?
  var port: Int { server!.port }
  var model: SwinTransformer { Self.model }

  /// The configuration tests start from: port 0, batch 4, 2 ms window, 64 px images, no log lines.
  func configuration() throws -> ServerConfiguration {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.batching = BatchingOptions(maxBatch: 4, windowSeconds: 0.002, threads: 2)
    configuration.service.logRequests = false
    configuration.service.preprocessing = try ImagePreprocessing(size: 64)
    return configuration
  }

  func start(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
    var configuration = try configuration()
    configure(&configuration)
    server = try InferenceServer(model: model, configuration: configuration)
  }

  override func tearDown() {
    server?.shutdown(grace: 5)
    server = nil
    super.tearDown()
  }

  /// A deterministic `[batch, 3, size, size]` input in [-2, 2] (32: the tiny model's smallest, fastest).
  func images(batch: Int = 1, size: Int = 32, seed: UInt64 = 1) -> Tensor {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    let values = (0..<(batch * 3 * size * size)).map { _ -> Float in
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      return Float(state % 4001) / 1000 - 2
    }
    return Tensor(shape: [batch, 3, size, size], values: values)
  }

  /// An infer request with `images` as JSON data.
  func jsonInfer(_ tensor: Tensor, parameters: [String: Any] = [:], outputs: [[String: Any]]? = nil) -> [UInt8] {
    var root: [String: Any] = [
      "inputs": [
        ["name": "images", "datatype": "FP32", "shape": tensor.shape, "data": tensor.values.map { Double($0) }]
      ]
    ]
    if !parameters.isEmpty { root["parameters"] = parameters }
    if let outputs { root["outputs"] = outputs }
    return jsonBytes(root)
  }

  func infer(_ body: [UInt8], headers: [(String, String)] = [], model name: String = "sparsevit") throws -> RawResponse
  {
    let response = try rawRequest(
      port: port, method: "POST", path: "/v2/models/\(name)/infer", headers: headers, body: body)
    return try XCTUnwrap(response, "no response")
  }

  /// The float `data` of output `name` of a JSON response.
  func outputData(_ response: RawResponse, _ name: String) throws -> [Float] {
    let outputs = try XCTUnwrap(response.json?["outputs"] as? [[String: Any]], response.text)
    let output = try XCTUnwrap(outputs.first { $0["name"] as? String == name }, "no output \(name)")
    let data = try XCTUnwrap(output["data"] as? [NSNumber])
    return data.map(\.floatValue)
  }

  func assertClose(
    _ actual: [Float], _ expected: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    guard actual.count == expected.count else {
      return XCTFail("\(label): \(actual.count) values, expected \(expected.count)", file: file, line: line)
    }
    let comparison = compare(actual, expected, atol: 1e-5, rtol: 1e-5, label: label)
    XCTAssertTrue(comparison.passed, comparison.description, file: file, line: line)
  }
}
