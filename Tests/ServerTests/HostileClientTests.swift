// Hostile clients: a corpus of bad requests, each answered with its status and `{"error": …}` naming the
// problem, after each of which the server still answers a good request; oversized bodies and images
// refused before allocation; slow senders timed out; connection floods capped.
import Engine
import Foundation
import Models
import XCTest

@testable import Server

final class HostileClientTests: ServerTestCase {
  private struct BadRequest {
    let name: String
    let body: [UInt8]
    var headers: [(String, String)] = []
    let status: Int
    let fragment: String
  }

  private func images(_ shape: [Any], data: Any, extra: [String: Any] = [:]) -> [UInt8] {
    var input: [String: Any] = ["name": "images", "datatype": "FP32", "shape": shape, "data": data]
    input.merge(extra) { $1 }
    return jsonBytes(["inputs": [input]])
  }

  private func withParameters(_ parameters: [String: Any]) -> [UInt8] {
    jsonInfer(images(), parameters: parameters)
  }

  private func binary(_ json: [String: Any], _ bytes: [UInt8], length: String? = nil) -> (
    body: [UInt8], headers: [(String, String)]
  ) {
    let header = jsonBytes(json)
    return (header + bytes, [("Inference-Header-Content-Length", length ?? "\(header.count)")])
  }

  private var corpus: [BadRequest] {
    let small = [Double](repeating: 0.5, count: 3 * 64 * 64)
    let file = (try? Data(contentsOf: Self.fixtures.appendingPathComponent("images/huge.png"))) ?? Data()
    let fp32Header: [String: Any] = [
      "inputs": [
        [
          "name": "images", "datatype": "FP32", "shape": [1, 3, 64, 64],
          "parameters": ["binary_data_size": 3 * 64 * 64 * 4],
        ]
      ]
    ]
    var nan = [UInt8](repeating: 0, count: 3 * 64 * 64 * 4)
    nan[4..<8] = [0, 0, 0xC0, 0x7F]
    let (nanBody, nanHeaders) = binary(fp32Header, nan)
    let (shortBody, shortHeaders) = binary(fp32Header, [UInt8](repeating: 0, count: 100))
    let (extraBody, extraHeaders) = binary(fp32Header, [UInt8](repeating: 0, count: 3 * 64 * 64 * 4 + 3))
    let (overBody, overHeaders) = binary(fp32Header, [], length: "999999")
    let (wordBody, wordHeaders) = binary(fp32Header, [], length: "abc")
    let bytesHeader: [String: Any] = [
      "inputs": [["name": "image_bytes", "datatype": "BYTES", "shape": [1], "parameters": ["binary_data_size": 8]]]
    ]
    let (lyingBody, lyingHeaders) = binary(bytesHeader, [0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3, 4])
    var nested: Any = 0.5
    for _ in 0..<12 { nested = [nested] }
    return [
      BadRequest(name: "not JSON", body: Array("{\"inputs\": [".utf8), status: 400, fragment: "not valid JSON"),
      BadRequest(name: "array root", body: Array("[]".utf8), status: 400, fragment: "must be a JSON object"),
      BadRequest(
        name: "no inputs", body: Array("{}".utf8), status: 400, fragment: "'inputs' must be a non-empty array"),
      BadRequest(
        name: "input not object", body: jsonBytes(["inputs": [1]]), status: 400,
        fragment: "input 0 must be a JSON object"),
      BadRequest(
        name: "no name", body: jsonBytes(["inputs": [["datatype": "FP32"]]]), status: 400, fragment: "no 'name'"),
      BadRequest(
        name: "INT32", body: images([1, 3, 64, 64], data: small, extra: ["datatype": "INT32"]), status: 400,
        fragment: "datatype 'INT32'"),
      BadRequest(
        name: "text in shape", body: images([1, 3, "64", 64], data: small), status: 400,
        fragment: "non-negative integers"),
      BadRequest(
        name: "negative shape", body: images([1, 3, -64, 64], data: small), status: 400,
        fragment: "non-negative integers"),
      BadRequest(
        name: "fraction in shape", body: images([1, 3, 63.5, 64], data: small), status: 400,
        fragment: "non-negative integers"),
      BadRequest(
        name: "huge shape", body: images([1 << 20, 3, 1 << 20, 1 << 20], data: []), status: 413, fragment: "too large"),
      BadRequest(
        name: "too few values", body: images([1, 3, 64, 64], data: [1, 2, 3]), status: 400, fragment: "has 3 elements"),
      BadRequest(
        name: "too many values", body: images([1, 3, 4, 4], data: small), status: 400,
        fragment: "more elements than its shape"),
      BadRequest(
        name: "text in data", body: images([1, 3, 64, 64], data: ["a"]), status: 400, fragment: "must hold numbers"),
      BadRequest(
        name: "bool in data", body: images([1, 3, 64, 64], data: [true]), status: 400, fragment: "must hold numbers"),
      BadRequest(name: "deep nesting", body: images([1], data: nested), status: 400, fragment: "nested too deeply"),
      BadRequest(
        name: "wrong rank", body: images([3, 64, 64], data: small), status: 400,
        fragment: "expected [batch, 3, height, width]"),
      BadRequest(
        name: "two channels", body: images([1, 2, 64, 96], data: small), status: 400, fragment: "expected [batch, 3,"),
      BadRequest(
        name: "too small", body: images([1, 3, 16, 16], data: [Double](repeating: 0, count: 768)), status: 400,
        fragment: "at least 32×32"),
      BadRequest(
        name: "empty batch", body: images([0, 3, 64, 64], data: [Double]()), status: 400, fragment: "holds 0 images"),
      BadRequest(
        name: "two inputs",
        body: jsonBytes([
          "inputs": [
            ["name": "images", "datatype": "FP32", "shape": [1], "data": [1]],
            ["name": "images", "datatype": "FP32", "shape": [1], "data": [1]],
          ]
        ]), status: 400, fragment: "expected one input"),
      BadRequest(
        name: "unknown input",
        body: jsonBytes(["inputs": [["name": "pixels", "datatype": "FP32", "shape": [1], "data": [1]]]]),
        status: 400, fragment: "unknown input 'pixels'"),
      BadRequest(
        name: "unknown output", body: jsonInfer(images(), outputs: [["name": "probs"]]), status: 400,
        fragment: "unknown output 'probs'"),
      BadRequest(
        name: "outputs not array", body: jsonBytes(["inputs": [], "outputs": 3]), status: 400,
        fragment: "'inputs' must be"),
      BadRequest(
        name: "top_k output alone", body: jsonInfer(images(), outputs: [["name": "top_k"]]), status: 400,
        fragment: "needs the request parameter 'top_k'"),
      BadRequest(
        name: "ratio 1.5", body: withParameters(["sparsity": 1.5]), status: 400, fragment: "parameter 'sparsity'"),
      BadRequest(
        name: "unknown preset", body: withParameters(["sparsity": "fast"]), status: 400,
        fragment: "'fast' is not a ratio"),
      BadRequest(
        name: "a path", body: withParameters(["sparsity": "/etc/passwd"]), status: 400, fragment: "is not a ratio"),
      BadRequest(
        name: "short ratios", body: withParameters(["sparsity": ["pruning_ratios": [[0.1]]]]), status: 400,
        fragment: "parameter 'sparsity'"),
      BadRequest(
        name: "bool sparsity", body: withParameters(["sparsity": true]), status: 400, fragment: "parameter 'sparsity'"),
      BadRequest(
        name: "top_k 0", body: withParameters(["top_k": 0]), status: 400, fragment: "'top_k' must be an integer"),
      BadRequest(
        name: "top_k 2.5", body: withParameters(["top_k": 2.5]), status: 400, fragment: "'top_k' must be an integer"),
      BadRequest(name: "top_k beyond classes", body: withParameters(["top_k": 11]), status: 400, fragment: "1…10"),
      BadRequest(
        name: "binary flag text", body: withParameters(["binary_data_output": "yes"]), status: 400,
        fragment: "must be a boolean"),
      BadRequest(
        name: "parameters list",
        body: jsonBytes([
          "inputs": [["name": "images", "datatype": "FP32", "shape": [1], "data": [1]]], "parameters": [1],
        ]),
        status: 400, fragment: "'parameters' must be a JSON object"),
      BadRequest(
        name: "id number",
        body: jsonBytes(["id": 3, "inputs": [["name": "images", "datatype": "FP32", "shape": [1], "data": [1]]]]),
        status: 400, fragment: "'id' must be a string"),
      BadRequest(
        name: "bytes as FP32",
        body: jsonBytes(["inputs": [["name": "image_bytes", "datatype": "FP32", "shape": [1], "data": [1]]]]),
        status: 400, fragment: "must be BYTES"),
      BadRequest(
        name: "not base64",
        body: jsonBytes(["inputs": [["name": "image_bytes", "datatype": "BYTES", "shape": [1], "data": ["#!"]]]]),
        status: 400, fragment: "not base64"),
      BadRequest(
        name: "not an image",
        body: jsonBytes(["inputs": [["name": "image_bytes", "datatype": "BYTES", "shape": [1], "data": ["aGVsbG8="]]]]),
        status: 400, fragment: "image_bytes[0]"),
      BadRequest(
        name: "100000² PNG",
        body: jsonBytes([
          "inputs": [["name": "image_bytes", "datatype": "BYTES", "shape": [1], "data": [file.base64EncodedString()]]]
        ]),
        status: 413, fragment: "100000"),
      BadRequest(
        name: "NaN in binary", body: nanBody, headers: nanHeaders, status: 400,
        fragment: "non-finite value at element 1"),
      BadRequest(
        name: "short binary", body: shortBody, headers: shortHeaders, status: 400, fragment: "remain in the body"),
      BadRequest(
        name: "unclaimed binary", body: extraBody, headers: extraHeaders, status: 400, fragment: "no input claims"),
      BadRequest(
        name: "header past body", body: overBody, headers: overHeaders, status: 400, fragment: "exceeds the body"),
      BadRequest(
        name: "header length word", body: wordBody, headers: wordHeaders, status: 400, fragment: "not a byte count"),
      BadRequest(
        name: "lying element length", body: lyingBody, headers: lyingHeaders, status: 400,
        fragment: "remain in the body"),
      BadRequest(
        name: "gzip", body: jsonInfer(images()), headers: [("Content-Encoding", "gzip")], status: 415,
        fragment: "gzip"),
    ]
  }

  func testEveryBadRequestGetsItsErrorAndTheServerStillAnswers() throws {
    try start()
    let good = jsonInfer(images())
    for bad in corpus {
      let response = try infer(bad.body, headers: bad.headers)
      XCTAssertEqual(response.status, bad.status, "\(bad.name): \(response.text)")
      let message = response.error ?? ""
      XCTAssertTrue(message.contains(bad.fragment), "\(bad.name): '\(message)' does not mention '\(bad.fragment)'")
      XCTAssertEqual(try infer(good).status, 200, "good request after '\(bad.name)'")
    }
    XCTAssertEqual(try infer(good, model: "other").status, 404)
    XCTAssertEqual(try rawRequest(port: port, method: "GET", path: "/v2/models/sparsevit/infer")?.status, 405)
    for garbage in [
      "GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "POST /v2 HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
      "\u{0}\u{1}\r\n\r\n",
    ] {
      _ = try rawExchange(port: port, bytes: Array(garbage.utf8))
      XCTAssertEqual(try infer(good).status, 200, "good request after \(garbage.debugDescription)")
    }
  }

  func testOversizedBodiesAndWorkspacesAreRefusedBeforeAllocation() throws {
    try start {
      $0.http.maxBodyBytes = 1 << 20
    }
    // The declared length alone is refused: the body is never sent.
    let declared = try rawExchange(
      port: port,
      bytes: Array("POST /v2/models/sparsevit/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000000\r\n\r\n".utf8))
    XCTAssertEqual(declared?.status, 413)
    // Chunked bodies have no length up front: refused once they pass the limit.
    let connection = try RawConnection(port: port)
    connection.send(
      Array(
        "POST /v2/models/sparsevit/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          .utf8))
    let chunk = [UInt8](repeating: 0x20, count: 256 << 10)
    for _ in 0..<5 where connection.send(Array("40000\r\n".utf8) + chunk + Array("\r\n".utf8)) {}
    connection.send(Array("0\r\n\r\n".utf8))
    XCTAssertEqual(parseResponse(connection.readToEnd().bytes)?.status, 413)
    // A binary body past the limit, with a truthful Content-Length: 413 before it is read.
    let tensor = Tensor(shape: [1, 3, 512, 512], repeating: 0)
    var binaryBody = jsonBytes([
      "inputs": [
        [
          "name": "images", "datatype": "FP32", "shape": tensor.shape,
          "parameters": ["binary_data_size": tensor.count * 4],
        ]
      ]
    ])
    let headerLength = binaryBody.count
    binaryBody += [UInt8](repeating: 0, count: tensor.count * 4)
    let large = try infer(binaryBody, headers: [("Inference-Header-Content-Length", "\(headerLength)")])
    XCTAssertEqual(large.status, 413, large.text)
    XCTAssertTrue(large.error?.contains("body") ?? false, large.text)
    XCTAssertEqual(try infer(jsonInfer(images())).status, 200)
  }

  func testWorkspaceOverTheBudgetIs413() throws {
    // One byte short of what a full batch of 32² images needs.
    let needed = model.workspaceBytes(batch: 4, height: 32, width: 32, threads: 2)
    try start { $0.batching.memoryBudget = needed - 1 }
    let response = try infer(jsonInfer(images()))
    XCTAssertEqual(response.status, 413, response.text)
    XCTAssertTrue(response.error?.contains("working memory") ?? false, response.text)
  }

  func testSlowSendersAreTimedOut() throws {
    try start { $0.http.connectionTimeoutSeconds = 1 }
    let headersOnly = try RawConnection(port: port)
    headersOnly.send(Array("POST /v2/models/sparsevit/infer HTTP/1.1\r\nHost: x\r\n".utf8))
    let bodyShort = try RawConnection(port: port)
    bodyShort.send(
      Array("POST /v2/models/sparsevit/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"in".utf8))
    // The server closes both (the client's own 60 s guard would report `closedByPeer == false`).
    XCTAssertTrue(headersOnly.readToEnd().closedByPeer)
    XCTAssertTrue(bodyShort.readToEnd().closedByPeer)
    XCTAssertEqual(try infer(jsonInfer(images())).status, 200)
  }

  func testConnectionFloodsHitTheCap() throws {
    try start {
      $0.http.maxConnections = 8
      $0.http.threads = 1
    }
    // Past the cap the server stops accepting: the rest wait in the kernel's backlog, unserved.
    var held: [RawConnection] = []
    for _ in 0..<24 {
      let connection = try RawConnection(port: port)
      connection.send(Array("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n".utf8))
      held.append(connection)
    }
    // Bounded polling until the server holds the cap, then a few more looks: never more than 8.
    var most = 0
    for _ in 0..<4000 where most < 8 {
      most = max(most, server!.openConnections)
      if most < 8 { usleep(5_000) }
    }
    for _ in 0..<20 {
      most = max(most, server!.openConnections)
      usleep(2_000)
    }
    XCTAssertEqual(most, 8)
    held.removeAll()
    // Closed connections free their slots (the server sees the close on its next poll).
    var status: Int? = nil
    for _ in 0..<500 where status != 200 {
      status = try rawRequest(port: port, method: "GET", path: "/v2/health/live")?.status
      if status != 200 { usleep(10_000) }
    }
    XCTAssertEqual(status, 200)
  }
}
