// The KServe v2 endpoints end to end over loopback: health, metadata, infer (JSON, binary, image
// files, sparsity, top_k, stage maps), the API key, metrics and draining. Results are checked against
// the model called directly.
import Engine
import Foundation
import Models
import TestSupport
import XCTest

@testable import Server

final class InferenceServiceTests: ServerTestCase {
  func testHealthAndMetadata() throws {
    try start()
    for path in [
      "/v2/health/live", "/v2/health/ready", "/v2/models/sparsevit/ready", "/v2/models/sparsevit/versions/1/ready",
    ] {
      XCTAssertEqual(try rawRequest(port: port, method: "GET", path: path)?.status, 200, path)
    }
    let server = try XCTUnwrap(try rawRequest(port: port, method: "GET", path: "/v2"))
    XCTAssertEqual(server.json?["name"] as? String, "sparsevit")
    XCTAssertEqual(server.json?["extensions"] as? [String], ["binary_tensor_data", "sparsity", "top_k"])
    let metadata = try XCTUnwrap(try rawRequest(port: port, method: "GET", path: "/v2/models/sparsevit"))
    XCTAssertEqual(metadata.status, 200)
    let inputs = try XCTUnwrap(metadata.json?["inputs"] as? [[String: Any]])
    XCTAssertEqual(inputs.map { $0["name"] as? String }, ["images", "image_bytes"])
    let outputs = try XCTUnwrap(metadata.json?["outputs"] as? [[String: Any]])
    let logits = try XCTUnwrap(outputs.first { $0["name"] as? String == "logits" })
    XCTAssertEqual(logits["shape"] as? [Int], [-1, model.configuration.classes])
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/v2/models/other")?.status, 404)
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/v2/models/sparsevit/versions/2")?.status, 404)
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/nowhere")?.status, 404)
    XCTAssertEqual(try rawRequest(port: port, method: "POST", path: "/v2/health/live")?.status, 405)
  }

  func testInferJSONMatchesTheModel() throws {
    try start()
    let input = images(batch: 2)
    let response = try infer(jsonInfer(input, parameters: ["top_k": 3]))
    XCTAssertEqual(response.status, 200, response.text)
    let expected = try model.forward(input, options: ForwardOptions(threads: 2))
    assertClose(try outputData(response, "logits"), expected.logits!.values, "logits")
    let parameters = try XCTUnwrap(response.json?["parameters"] as? [String: Any])
    XCTAssertEqual(parameters["sparsity"] as? String, "dense")
    XCTAssertEqual(parameters["kept_window_fraction"] as? Double, 1)
    let outputs = try XCTUnwrap(response.json?["outputs"] as? [[String: Any]])
    let top = try XCTUnwrap(outputs.first { $0["name"] as? String == "top_k" })
    XCTAssertEqual(top["shape"] as? [Int], [2, 3])
    let best = expected.topClasses(3)
    let strings = try XCTUnwrap(top["data"] as? [String])
    XCTAssertEqual(strings.map { Int($0.split(separator: ":")[1]) }, best.flatMap { $0.map(\.index) })
  }

  func testInferBinaryMatchesTheModel() throws {
    try start()
    let input = images(seed: 7)
    var binary: [UInt8] = []
    for value in input.values { withUnsafeBytes(of: value.bitPattern.littleEndian) { binary.append(contentsOf: $0) } }
    let header = jsonBytes([
      "inputs": [
        ["name": "images", "datatype": "FP32", "shape": input.shape, "parameters": ["binary_data_size": binary.count]]
      ],
      "outputs": [["name": "logits", "parameters": ["binary_data": true]], ["name": "pooled_features"]],
    ])
    let response = try infer(header + binary, headers: [("Inference-Header-Content-Length", "\(header.count)")])
    XCTAssertEqual(response.status, 200, response.text)
    let length = try XCTUnwrap(Int(response.headers["inference-header-content-length"] ?? ""))
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body[0..<length])) as? [String: Any])
    let outputs = try XCTUnwrap(json["outputs"] as? [[String: Any]])
    let size = try XCTUnwrap((outputs[0]["parameters"] as? [String: Any])?["binary_data_size"] as? Int)
    XCTAssertEqual(size, model.configuration.classes * 4)
    XCTAssertEqual(response.body.count, length + size)
    let logits = stride(from: length, to: length + size, by: 4).map { offset in
      Float(
        bitPattern: UInt32(response.body[offset]) | UInt32(response.body[offset + 1]) << 8
          | UInt32(response.body[offset + 2]) << 16 | UInt32(response.body[offset + 3]) << 24)
    }
    let expected = try model.forward(input, options: ForwardOptions(threads: 2))
    assertClose(logits, expected.logits!.values, "binary logits")
    let pooled = try XCTUnwrap(outputs[1]["data"] as? [NSNumber]).map(\.floatValue)
    assertClose(pooled, expected.pooledFeatures.values, "pooled features")
  }

  func testImageBytesArePreprocessedAsRunDoes() throws {
    try start()
    let file = try Data(contentsOf: Self.fixtures.appendingPathComponent("images/cat.jpg"))
    let body = jsonBytes([
      "inputs": [["name": "image_bytes", "datatype": "BYTES", "shape": [1], "data": [file.base64EncodedString()]]],
      "outputs": [["name": "logits"], ["name": "stage3"]],
    ])
    let response = try infer(body)
    XCTAssertEqual(response.status, 200, response.text)
    let image = try RGBImage.decode(Array(file))
    let expected = try model.forward(
      image, preprocessing: try ImagePreprocessing(size: 64), options: ForwardOptions(threads: 2, collectStages: true))
    assertClose(try outputData(response, "logits"), expected.logits!.values, "image logits")
    assertClose(try outputData(response, "stage3"), expected.stages[3].values, "stage 3")
  }

  func testRequestedSparsityIsUsedAndReported() throws {
    try start()
    let input = images(seed: 3)
    for (parameter, label, ratios) in [
      (0.5 as Any, "uniform 0.5", try PruningRatios.uniform(0.5, depths: model.configuration.depths)),
      ("0.25", "uniform 0.25", try PruningRatios.uniform(0.25, depths: model.configuration.depths)),
      (["pruning_ratios": 0.75], "custom", try PruningRatios.uniform(0.75, depths: model.configuration.depths)),
    ] {
      let response = try infer(jsonInfer(input, parameters: ["sparsity": parameter]))
      XCTAssertEqual(response.status, 200, response.text)
      let parameters = try XCTUnwrap(response.json?["parameters"] as? [String: Any])
      XCTAssertEqual(parameters["sparsity"] as? String, label)
      let expected = try model.forward(input, sparsity: ratios, options: ForwardOptions(threads: 2))
      XCTAssertEqual(
        try XCTUnwrap(parameters["kept_window_fraction"] as? Double), keptFraction(expected.windowUsage),
        accuracy: 1e-12)
      assertClose(try outputData(response, "logits"), expected.logits!.values, label)
    }
  }

  func testAPIKeyGuardsEverythingButHealth() throws {
    try start { $0.service.apiKey = "s3cret" }
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/v2/health/live")?.status, 200)
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/v2/health/ready")?.status, 200)
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/v2")?.status, 401)
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/metrics")?.status, 401)
    XCTAssertEqual(try infer(jsonInfer(images())).status, 401)
    XCTAssertEqual(try infer(jsonInfer(images()), headers: [("Authorization", "Bearer s3creT")]).status, 401)
    XCTAssertEqual(try infer(jsonInfer(images()), headers: [("Authorization", "Bearer s3cret")]).status, 200)
    XCTAssertTrue(constantTimeEqual("abc", "abc"))
    XCTAssertFalse(constantTimeEqual("abc", "abd"))
    XCTAssertFalse(constantTimeEqual("abc", "abcd"))
    XCTAssertFalse(constantTimeEqual("", "a"))
  }

  func testMetricsCountRequestsBatchesAndLevels() throws {
    try start()
    XCTAssertEqual(try infer(jsonInfer(images())).status, 200)
    XCTAssertEqual(try infer(jsonInfer(images(), parameters: ["sparsity": 0.5])).status, 200)
    XCTAssertEqual(try infer(Array("{".utf8)).status, 400)
    let text = try XCTUnwrap(try rawRequest(port: port, method: "GET", path: "/metrics")).text
    for line in [
      "sparsevit_requests_total{endpoint=\"infer\",code=\"200\"} 2",
      "sparsevit_requests_total{endpoint=\"infer\",code=\"400\"} 1",
      "sparsevit_infer_latency_seconds_count 2", "sparsevit_queue_images 0",
      "sparsevit_level_requests_total{level=\"dense\"} 1", "sparsevit_level_requests_total{level=\"uniform 0.5\"} 1",
      "sparsevit_batches_total{size=\"1\"} 2",
    ] {
      XCTAssertTrue(text.contains(line + "\n"), "metrics lack '\(line)':\n\(text)")
    }
  }

  func testDrainingRefusesNewWorkAndAnswersReadyWith503() throws {
    try start()
    server!.service.beginDraining()
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/v2/health/ready")?.status, 503)
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/v2/health/live")?.status, 200)
    XCTAssertEqual(try infer(jsonInfer(images())).status, 503)
  }
}
