// `sparsevit serve` as a process: usage errors, the seeded-weights notice, and SIGTERM with requests
// queued (every accepted request is answered, one log line each, exit 0).
import Foundation
import Models
import XCTest

final class ServeCommandTests: CommandTestCase {
  let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/tiny/tiny.timm.f32.safetensors").path

  func testUsageErrors() throws {
    for (arguments, fragment) in [
      (["--port", "70000"], "'--port' must be in 0…65535"),
      (["--ladder", "0,0.5"], "'--ladder' applies with '--slo-ms'"),
      (["--latency-model", weights], "'--latency-model' applies with '--slo-ms'"),
      (["--slo-ms", "100", "--latency-model", weights], "'--latency-model'"),
      (["--api-key-file", path("missing")], "no such file"),
      (["--model-name", "a/b"], "'--model-name'"),
      (["--slo-ms", "100", "--ladder", "0,fast"], "'--ladder' entry 'fast'"),
      (["--max-batch", "0"], "'--max-batch' must be in 1…256"),
    ] {
      let result = try sparsevit(["serve", "--weights", weights] + arguments)
      XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
      XCTAssertTrue(result.stderr.contains(fragment), "\(arguments): \(result.stderr)")
    }
  }

  func testSIGTERMAnswersEveryQueuedRequestAndExitsZero() throws {
    let process = Process()
    process.executableURL = Bundle.main.bundleURL.appendingPathComponent("sparsevit")
    // A one-minute batch window: the requests wait in the queue until SIGTERM drains it.
    process.arguments = [
      "serve", "--weights", weights, "--port", "0", "--max-batch", "64", "--batch-window-ms", "60000", "--threads", "2",
    ]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { process.terminate() } }
    var log = ""
    while !log.contains("on http://") {
      let chunk = err.fileHandleForReading.availableData
      guard !chunk.isEmpty else { break }
      log += String(decoding: chunk, as: UTF8.self)
    }
    let match = try XCTUnwrap(log.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression), log)
    let port = try XCTUnwrap(Int(log[match].split(separator: ":")[1]))
    let rest = ErrorPipeReader(err.fileHandleForReading)

    let count = 6
    let body = Array(
      try JSONSerialization.data(withJSONObject: [
        "inputs": [
          [
            "name": "images", "datatype": "FP32", "shape": [1, 3, 32, 32],
            "data": [Double](repeating: 0.1, count: 3072),
          ]
        ]
      ]))
    let statuses = StatusList()
    let group = DispatchGroup()
    for _ in 0..<count {
      group.enter()
      Thread.detachNewThread {
        statuses.append(httpStatus(port: port, method: "POST", path: "/v2/models/sparsevit/infer", body: body))
        group.leave()
      }
    }
    // Wait (bounded) until all requests are queued, as /metrics reports.
    var queued = 0
    for _ in 0..<1000 where queued < count {
      let metrics = httpBody(port: port, path: "/metrics")
      queued =
        metrics.split(separator: "\n").first { $0.hasPrefix("sparsevit_queue_images ") }
        .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
      if queued < count { usleep(10_000) }
    }
    XCTAssertEqual(queued, count)
    kill(process.processIdentifier, SIGTERM)
    group.wait()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .exit)
    XCTAssertEqual(process.terminationStatus, 0)
    XCTAssertEqual(statuses.values, Array(repeating: 200, count: count))
    let lines = rest.text().split(separator: "\n")
    XCTAssertEqual(lines.filter { $0.contains("\"endpoint\":\"infer\"") && $0.contains("\"status\":200") }.count, count)
    XCTAssertTrue(lines.contains { $0.contains("serve: stopped") })
  }

  func testSeededWeightsAreAnnounced() throws {
    let process = Process()
    process.executableURL = Bundle.main.bundleURL.appendingPathComponent("sparsevit")
    process.arguments = ["serve", "--port", "0", "--quiet"]
    let err = Pipe()
    process.standardError = err
    try process.run()
    var log = ""
    while !log.contains("on http://") {
      let chunk = err.fileHandleForReading.availableData
      guard !chunk.isEmpty else { break }
      log += String(decoding: chunk, as: UTF8.self)
    }
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    XCTAssertTrue(log.contains("seeded random Swin-T weights"), log)
    XCTAssertEqual(process.terminationStatus, 0)
  }
}

private final class StatusList: @unchecked Sendable {
  private let lock = NSLock()
  private var list: [Int] = []
  func append(_ value: Int) { lock.withLock { list.append(value) } }
  var values: [Int] { lock.withLock { list } }
}

private final class ErrorPipeReader: @unchecked Sendable {
  private var data = Data()
  private let done = DispatchSemaphore(value: 0)

  init(_ handle: FileHandle) {
    Thread.detachNewThread { [self] in
      data = handle.readDataToEndOfFile()
      done.signal()
    }
  }

  func text() -> String {
    done.wait()
    return String(decoding: data, as: UTF8.self)
  }
}

/// One request over a fresh loopback connection: the status (0 when there was no answer).
private func httpStatus(port: Int, method: String, path: String, body: [UInt8] = []) -> Int {
  let response = httpExchange(port: port, method: method, path: path, body: body)
  guard let line = response.split(separator: "\r\n").first, line.split(separator: " ").count >= 2 else { return 0 }
  return Int(line.split(separator: " ")[1]) ?? 0
}

private func httpBody(port: Int, path: String) -> String {
  let response = httpExchange(port: port, method: "GET", path: path)
  guard let range = response.range(of: "\r\n\r\n") else { return "" }
  return String(response[range.upperBound...])
}

private func httpExchange(port: Int, method: String, path: String, body: [UInt8] = []) -> String {
  let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(socket) }
  var timeout = timeval(tv_sec: 60, tv_usec: 0)
  setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = in_port_t(UInt16(port)).bigEndian
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  let connected = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  guard connected == 0 else { return "" }
  let request =
    Array("\(method) \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
    + body
  var offset = 0
  while offset < request.count {
    let sent = request[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    if sent <= 0 { return "" }
    offset += sent
  }
  var data: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 65536)
  while true {
    let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
    if count <= 0 { break }
    data.append(contentsOf: buffer[0..<count])
  }
  return String(decoding: data, as: UTF8.self)
}
