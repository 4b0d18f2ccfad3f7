// NVIDIA's tritonclient (PyPI, installed into a venv by scripts/tritonclient_env.sh) against the server:
// health, metadata, infer with JSON and binary tensors, image files and parameters. Fails, not skips,
// when the client cannot be installed.
import Engine
import Foundation
import Models
import XCTest

@testable import Server

final class TritonClientTests: ServerTestCase {
  static let root = fixtures.deletingLastPathComponent().deletingLastPathComponent()

  private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String)
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes at once: a full stderr pipe would otherwise block the child.
    let errors = ErrorReader(err.fileHandleForReading)
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, stdout, errors.text())
  }

  func testTritonClientHealthMetadataAndInfer() throws {
    let environment = try run("/bin/bash", [Self.root.appendingPathComponent("scripts/tritonclient_env.sh").path])
    guard environment.status == 0 else {
      return XCTFail("cannot install tritonclient[http] (scripts/tritonclient_env.sh): \(environment.stderr)")
    }
    let python = String(decoding: environment.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    try start()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "sparsevit-triton-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let input = images(seed: 11)
    let inputPath = directory.appendingPathComponent("x.npy").path
    try writeNumPy(input, to: inputPath)
    let image = Self.fixtures.appendingPathComponent("images/cat.jpg").path
    let check = try run(
      python,
      [
        Self.root.appendingPathComponent("scripts/tritonclient_check.py").path, "--url", "127.0.0.1:\(port)",
        "--model", "sparsevit", "--input", inputPath, "--image", image,
      ])
    XCTAssertEqual(check.status, 0, "tritonclient_check.py failed: \(check.stderr)")
    let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: check.stdout) as? [String: Any], check.stderr)
    for key in ["live", "ready", "model_ready"] { XCTAssertEqual(result[key] as? Bool, true, key) }
    XCTAssertEqual(result["server_name"] as? String, "sparsevit")
    XCTAssertEqual(result["inputs"] as? [String], ["images", "image_bytes"])
    XCTAssertEqual(result["unknown_model"] as? String, "404")

    let dense = try model.forward(input, options: ForwardOptions(threads: 2))
    for encoding in ["json", "binary"] {
      assertClose(floats(result[encoding + "_logits"]), dense.logits!.values, "\(encoding) logits")
      assertClose(floats(result[encoding + "_pooled"]), dense.pooledFeatures.values, "\(encoding) pooled")
      XCTAssertEqual((result[encoding + "_parameters"] as? [String: Any])?["sparsity"] as? String, "dense")
    }
    let half = try PruningRatios.uniform(0.5, depths: model.configuration.depths)
    let sparse = try model.forward(input, sparsity: half, options: ForwardOptions(threads: 2))
    assertClose(floats(result["sparse_logits"]), sparse.logits!.values, "sparse logits")
    XCTAssertEqual((result["sparse_parameters"] as? [String: Any])?["sparsity"] as? String, "uniform 0.5")
    let top = try XCTUnwrap(result["top_k"] as? [String])
    XCTAssertEqual(top.map { Int($0.split(separator: ":")[1]) }, sparse.topClasses(3)[0].map(\.index))
    let picture = try model.forward(
      try RGBImage.load(path: image), preprocessing: try ImagePreprocessing(size: 64),
      options: ForwardOptions(threads: 2))
    assertClose(floats(result["image_logits"]), picture.logits!.values, "image logits")
  }

  private func floats(_ value: Any?) -> [Float] { (value as? [NSNumber])?.map(\.floatValue) ?? [] }
}

/// Drains a pipe on its own thread.
final class ErrorReader: @unchecked Sendable {
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
