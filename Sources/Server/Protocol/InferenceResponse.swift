// KServe v2 response bodies: server and model metadata, and the infer response (JSON `data`, or for
// outputs asked as binary a JSON header followed by the raw little-endian bytes, its length in
// `Inference-Header-Content-Length`).
import Engine
import Foundation
import Models

enum ServiceMetadata {
  static let version = "0.3.0"

  static func server() -> [UInt8] {
    encode(["name": "sparsevit", "version": version, "extensions": ["binary_tensor_data", "sparsity", "top_k"]])
  }

  /// Every output the model can return.
  static func outputNames(_ model: SwinTransformer) -> [String] {
    let configuration = model.configuration
    return (configuration.classes > 0 ? ["logits", "top_k"] : []) + ["pooled_features"]
      + (0..<configuration.stageCount).map { "stage\($0)" }
  }

  static func model(name: String, model: SwinTransformer) -> [UInt8] {
    let configuration = model.configuration
    var outputs: [[String: Any]] = []
    if configuration.classes > 0 {
      outputs.append(["name": "logits", "datatype": "FP32", "shape": [-1, configuration.classes]])
      outputs.append(["name": "top_k", "datatype": "BYTES", "shape": [-1, -1]])
    }
    outputs.append(["name": "pooled_features", "datatype": "FP32", "shape": [-1, configuration.featureChannels]])
    for stage in 0..<configuration.stageCount {
      outputs.append([
        "name": "stage\(stage)", "datatype": "FP32", "shape": [-1, -1, -1, configuration.channels(stage: stage)],
      ])
    }
    return encode([
      "name": name, "versions": ["1"], "platform": "sparsevit_swift",
      "parameters": ["architecture": configuration.name, "layout": model.layout.rawValue],
      "inputs": [
        ["name": "images", "datatype": "FP32", "shape": [-1, configuration.inputChannels, -1, -1]],
        ["name": "image_bytes", "datatype": "BYTES", "shape": [-1]],
      ],
      "outputs": outputs,
    ])
  }

  static func encode(_ object: [String: Any]) -> [UInt8] {
    Array(
      (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        ?? Data("{}".utf8))
  }
}

extension InferencePlan {
  /// The infer response for `result`.
  func response(_ result: JobResult, modelName: String) -> HTTPResponse {
    var entries: [[String: Any]] = []
    var binary: [UInt8] = []
    for output in outputs {
      let (datatype, shape, payload) = tensor(named: output.name, result)
      var entry: [String: Any] = ["name": output.name, "datatype": datatype, "shape": shape]
      if output.binary {
        let bytes = payload.bytes
        entry["parameters"] = ["binary_data_size": bytes.count]
        binary.append(contentsOf: bytes)
      } else {
        entry["data"] = payload.json
      }
      entries.append(entry)
    }
    var root: [String: Any] = [
      "model_name": modelName, "model_version": "1", "outputs": entries,
      "parameters": [
        "sparsity": result.sparsityLabel, "kept_window_fraction": result.keptWindowFraction,
        "batch_size": result.batchImages, "queue_ms": result.queueSeconds * 1000,
        "compute_ms": result.computeSeconds * 1000,
      ] as [String: Any],
    ]
    if let level = result.level, var parameters = root["parameters"] as? [String: Any] {
      parameters["sparsity_level"] = level
      root["parameters"] = parameters
    }
    if let requestID { root["id"] = requestID }
    let header = ServiceMetadata.encode(root)
    guard !binary.isEmpty || outputs.contains(where: \.binary) else { return .json(200, header) }
    return HTTPResponse(
      status: 200,
      headers: [("Content-Type", "application/octet-stream"), ("Inference-Header-Content-Length", "\(header.count)")],
      body: header + binary)
  }

  private enum Payload {
    case floats([Float])
    case strings([String])

    var json: [Any] {
      switch self {
      case .floats(let values): values.map { Double($0) }
      case .strings(let values): values
      }
    }

    /// FP32 little-endian, or BYTES as 4-byte little-endian length + bytes per element.
    var bytes: [UInt8] {
      var bytes: [UInt8] = []
      switch self {
      case .floats(let values):
        bytes.reserveCapacity(values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
      case .strings(let values):
        for value in values {
          let utf8 = Array(value.utf8)
          withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
          bytes.append(contentsOf: utf8)
        }
      }
      return bytes
    }
  }

  private func tensor(named name: String, _ result: JobResult) -> (String, [Int], Payload) {
    switch name {
    case "logits":
      let logits = result.logits!
      return ("FP32", logits.shape, .floats(logits.values))
    case "pooled_features":
      return ("FP32", result.pooledFeatures.shape, .floats(result.pooledFeatures.values))
    case "top_k":
      // Triton's classification format: "probability:index:name".
      let predictions = ClassPrediction.top(topK ?? 1, logits: result.logits!)
      let strings = predictions.flatMap { $0.map { "\($0.probability):\($0.index):\($0.name)" } }
      return ("BYTES", [predictions.count, topK ?? 1], .strings(strings))
    default:
      let stage = result.stages[Int(name.dropFirst("stage".count))!]
      return ("FP32", stage.shape, .floats(stage.values))
    }
  }
}
