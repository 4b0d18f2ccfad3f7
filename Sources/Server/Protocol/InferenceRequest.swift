// The KServe v2 (Open Inference Protocol) infer request: JSON tensors, or the binary tensor data
// extension (a JSON header of `Inference-Header-Content-Length` bytes, then each binary input's bytes
// in input order). Every size is checked against the body before anything is allocated.
import Foundation

/// A request the server refuses: HTTP status and the message of `{"error": …}`.
public struct RequestError: Error, Equatable, CustomStringConvertible {
  public let status: Int
  public let message: String

  public init(_ status: Int, _ message: String) {
    self.status = status
    self.message = message
  }

  static func bad(_ message: String) -> RequestError { RequestError(400, message) }
  public var description: String { message }
}

/// One decoded input tensor.
public struct InputTensor: Sendable, Equatable {
  public enum Payload: Sendable, Equatable {
    /// FP32 elements, row-major.
    case floats([Float])
    /// BYTES elements.
    case bytes([[UInt8]])
  }
  public let name: String
  public let datatype: String
  public let shape: [Int]
  public let payload: Payload
}

/// An output the client asked for, and whether it wants it as binary data.
public struct RequestedOutput: Sendable, Equatable {
  public let name: String
  public let binary: Bool
}

/// A request parameter value (KServe v2 parameters are strings, numbers, booleans; `sparsity` may
/// also be the sparsity-file JSON object, kept as its serialized bytes).
public enum ParameterValue: Sendable, Equatable {
  case string(String)
  case number(Double)
  case bool(Bool)
  case object([UInt8])
}

/// A decoded infer request.
public struct InferenceRequest: Sendable, Equatable {
  public let id: String?
  public let inputs: [InputTensor]
  /// nil: the default outputs.
  public let outputs: [RequestedOutput]?
  /// `binary_data_output` request parameter: default encoding of the outputs.
  public let binaryOutput: Bool
  public let parameters: [String: ParameterValue]
}

/// Decodes infer request bodies. Pure: no I/O, no model; the fuzz target calls it directly.
public enum InferenceRequestDecoder {
  /// Most elements one tensor may declare (the body bounds the real data anyway).
  public static let maxElements = 1 << 30

  /// Decodes `body`; `headerLength` is the `Inference-Header-Content-Length` value when present.
  public static func decode(body: [UInt8], headerLength: String?) throws(RequestError) -> InferenceRequest {
    var jsonEnd = body.count
    if let headerLength {
      guard let length = Int(headerLength.trimmingCharacters(in: .whitespaces)), length >= 0 else {
        throw .bad("Inference-Header-Content-Length '\(shown(headerLength))' is not a byte count")
      }
      guard length <= body.count else {
        throw .bad("Inference-Header-Content-Length \(length) exceeds the body of \(body.count) bytes")
      }
      jsonEnd = length
    }
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: Data(body[0..<jsonEnd]), options: [])
    } catch {
      throw .bad("request body is not valid JSON")
    }
    guard let root = object as? [String: Any] else { throw .bad("request body must be a JSON object") }
    var binary = BinaryCursor(bytes: body, offset: jsonEnd)
    guard let rawInputs = root["inputs"] as? [Any], !rawInputs.isEmpty else {
      throw .bad("'inputs' must be a non-empty array")
    }
    var inputs: [InputTensor] = []
    for (index, raw) in rawInputs.enumerated() {
      inputs.append(try decodeInput(raw, index: index, binary: &binary))
    }
    guard binary.remaining == 0 else {
      throw .bad("\(binary.remaining) bytes of binary data follow the inputs that no input claims")
    }
    let parameters = try decodeParameters(root["parameters"], label: "request")
    var binaryOutput = false
    if let value = parameters["binary_data_output"] {
      guard case .bool(let flag) = value else { throw .bad("parameter 'binary_data_output' must be a boolean") }
      binaryOutput = flag
    }
    let id: String?
    switch root["id"] {
    case nil: id = nil
    case let text as String: id = text
    default: throw .bad("'id' must be a string")
    }
    return InferenceRequest(
      id: id, inputs: inputs, outputs: try decodeOutputs(root["outputs"], binaryDefault: binaryOutput),
      binaryOutput: binaryOutput, parameters: parameters)
  }

  private static func decodeInput(_ raw: Any, index: Int, binary: inout BinaryCursor) throws(RequestError)
    -> InputTensor
  {
    guard let input = raw as? [String: Any] else { throw .bad("input \(index) must be a JSON object") }
    guard let rawName = input["name"] as? String else { throw .bad("input \(index) has no 'name' string") }
    let name = shown(rawName)
    guard let datatype = input["datatype"] as? String else { throw .bad("input '\(name)' has no 'datatype' string") }
    let shape = try decodeShape(input["shape"], label: "input '\(name)'")
    let count = try elementCount(shape, label: "input '\(name)'")
    let parameters = try decodeParameters(input["parameters"], label: "input '\(name)'")
    var binarySize: Int? = nil
    if let value = parameters["binary_data_size"] {
      guard case .number(let size) = value, size >= 0, size <= Double(Int32.max), size == size.rounded() else {
        throw .bad("input '\(name)': 'binary_data_size' must be a byte count")
      }
      binarySize = Int(size)
    }
    switch datatype {
    case "FP32":
      let values = try decodeFloats(
        input, name: name, shape: shape, count: count, binarySize: binarySize, binary: &binary)
      return InputTensor(name: name, datatype: datatype, shape: shape, payload: .floats(values))
    case "BYTES":
      let elements = try decodeElements(input, name: name, count: count, binarySize: binarySize, binary: &binary)
      guard elements.count == count else {
        throw .bad("input '\(name)' has \(elements.count) BYTES elements, shape \(shape) needs \(count)")
      }
      return InputTensor(name: name, datatype: datatype, shape: shape, payload: .bytes(elements))
    default:
      throw .bad("input '\(name)' has datatype '\(shown(datatype))', expected FP32 or BYTES")
    }
  }

  /// FP32 elements from the binary part (little-endian) or from JSON `data` (flat or nested).
  private static func decodeFloats(
    _ input: [String: Any], name: String, shape: [Int], count: Int, binarySize: Int?, binary: inout BinaryCursor
  ) throws(RequestError) -> [Float] {
    if let binarySize {
      guard input["data"] == nil else { throw .bad("input '\(name)' has both 'data' and 'binary_data_size'") }
      guard binarySize == count * 4 else {
        throw .bad("input '\(name)': binary_data_size \(binarySize) != 4 × \(count) elements of shape \(shape)")
      }
      return floats(littleEndian: try binary.take(binarySize, label: name))
    }
    guard let data = input["data"] else { throw .bad("input '\(name)' has neither 'data' nor 'binary_data_size'") }
    var values: [Float] = []
    values.reserveCapacity(min(count, 1 << 20))
    try flattenNumbers(data, into: &values, limit: count, label: name, depth: 0)
    guard values.count == count else {
      throw .bad("input '\(name)' has \(values.count) elements, shape \(shape) needs \(count)")
    }
    return values
  }

  /// BYTES elements: in the binary part each is a 4-byte little-endian length and its bytes; in JSON
  /// each is a base64 string (files are not UTF-8).
  private static func decodeElements(
    _ input: [String: Any], name: String, count: Int, binarySize: Int?, binary: inout BinaryCursor
  ) throws(RequestError) -> [[UInt8]] {
    var elements: [[UInt8]] = []
    if let binarySize {
      guard input["data"] == nil else { throw .bad("input '\(name)' has both 'data' and 'binary_data_size'") }
      var element = BinaryCursor(bytes: try binary.take(binarySize, label: name), offset: 0)
      while element.remaining > 0 {
        guard elements.count < count else { throw .bad("input '\(name)' holds more than \(count) BYTES elements") }
        let lengthBytes = try element.take(4, label: name)
        let length =
          Int(lengthBytes[0]) | Int(lengthBytes[1]) << 8 | Int(lengthBytes[2]) << 16 | Int(lengthBytes[3]) << 24
        elements.append(try element.take(length, label: name))
      }
      return elements
    }
    guard let data = input["data"] as? [Any] else {
      throw .bad("input '\(name)': BYTES 'data' must be an array of strings")
    }
    for item in data {
      guard elements.count < count else { throw .bad("input '\(name)' holds more than \(count) BYTES elements") }
      guard let text = item as? String else { throw .bad("input '\(name)': BYTES elements must be strings") }
      guard let decoded = Data(base64Encoded: text) else {
        throw .bad("input '\(name)': BYTES element is not base64 (send raw bytes with the binary extension)")
      }
      elements.append(Array(decoded))
    }
    return elements
  }

  private static func decodeShape(_ raw: Any?, label: String) throws(RequestError) -> [Int] {
    guard let items = raw as? [Any], items.count <= 8 else {
      throw .bad("\(label): 'shape' must be an array of at most 8 integers")
    }
    var shape: [Int] = []
    for item in items {
      guard let number = item as? NSNumber, !isBoolean(number), let value = exactInt(number), value >= 0 else {
        throw .bad("\(label): 'shape' must hold non-negative integers")
      }
      shape.append(value)
    }
    return shape
  }

  private static func elementCount(_ shape: [Int], label: String) throws(RequestError) -> Int {
    var count = 1
    for side in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: side)
      guard !overflow, product <= maxElements else { throw RequestError(413, "\(label): shape \(shape) is too large") }
      count = product
    }
    return count
  }

  private static func flattenNumbers(
    _ raw: Any, into values: inout [Float], limit: Int, label: String, depth: Int
  ) throws(RequestError) {
    if let items = raw as? [Any] {
      guard depth < 8 else { throw .bad("input '\(label)': 'data' is nested too deeply") }
      for item in items { try flattenNumbers(item, into: &values, limit: limit, label: label, depth: depth + 1) }
      return
    }
    guard let number = raw as? NSNumber, !isBoolean(number) else {
      throw .bad("input '\(label)': FP32 'data' must hold numbers")
    }
    guard values.count < limit else { throw .bad("input '\(label)' has more elements than its shape") }
    values.append(number.floatValue)
  }

  static func decodeParameters(_ raw: Any?, label: String) throws(RequestError) -> [String: ParameterValue] {
    guard let raw else { return [:] }
    guard let object = raw as? [String: Any] else { throw .bad("\(label) 'parameters' must be a JSON object") }
    var parameters: [String: ParameterValue] = [:]
    for (key, value) in object {
      switch value {
      case let text as String: parameters[key] = .string(text)
      case let number as NSNumber:
        parameters[key] = isBoolean(number) ? .bool(number.boolValue) : .number(number.doubleValue)
      case let nested as [String: Any]:
        guard let data = try? JSONSerialization.data(withJSONObject: nested, options: [.sortedKeys]) else {
          throw .bad("\(label) parameter '\(shown(key))' cannot be read")
        }
        parameters[key] = .object(Array(data))
      default: throw .bad("\(label) parameter '\(shown(key))' must be a string, number, boolean or object")
      }
    }
    return parameters
  }

  private static func decodeOutputs(_ raw: Any?, binaryDefault: Bool) throws(RequestError) -> [RequestedOutput]? {
    guard let raw else { return nil }
    guard let items = raw as? [Any] else { throw .bad("'outputs' must be an array") }
    var outputs: [RequestedOutput] = []
    for (index, item) in items.enumerated() {
      guard let output = item as? [String: Any], let name = output["name"] as? String else {
        throw .bad("output \(index) must be an object with a 'name' string")
      }
      let parameters = try decodeParameters(output["parameters"], label: "output '\(shown(name))'")
      var binary = binaryDefault
      if let value = parameters["binary_data"] {
        guard case .bool(let flag) = value else {
          throw .bad("output '\(shown(name))': 'binary_data' must be a boolean")
        }
        binary = flag
      }
      outputs.append(RequestedOutput(name: name, binary: binary))
    }
    return outputs
  }

  private static func floats(littleEndian bytes: [UInt8]) -> [Float] {
    var values = [Float](repeating: 0, count: bytes.count / 4)
    for index in values.indices {
      let base = index * 4
      let bits =
        UInt32(bytes[base]) | UInt32(bytes[base + 1]) << 8 | UInt32(bytes[base + 2]) << 16
        | UInt32(bytes[base + 3]) << 24
      values[index] = Float(bitPattern: bits)
    }
    return values
  }
}

/// A client's string as error messages show it: control characters escaped, at most 64 characters.
func shown(_ text: String) -> String {
  var result = ""
  for scalar in text.unicodeScalars.prefix(64) {
    result +=
      scalar.properties.generalCategory == .control || scalar.properties.isWhitespace && scalar != " "
      ? scalar.escaped(asASCII: true) : String(scalar)
  }
  return text.unicodeScalars.count > 64 ? result + "…" : result
}

/// JSON booleans arrive as NSNumber too; they are not numbers here.
func isBoolean(_ number: NSNumber) -> Bool {
  String(cString: number.objCType) == "c" || type(of: number) == type(of: NSNumber(value: true))
}

/// The integer a JSON number holds exactly, nil for fractions and out-of-range values.
func exactInt(_ number: NSNumber) -> Int? {
  let value = number.doubleValue
  guard value.isFinite, value == value.rounded(), abs(value) < 9.0e15 else { return nil }
  return Int(value)
}

/// Reads consecutive slices of the binary part of a body.
struct BinaryCursor {
  let bytes: [UInt8]
  var offset: Int

  var remaining: Int { bytes.count - offset }

  mutating func take(_ count: Int, label: String) throws(RequestError) -> [UInt8] {
    guard count >= 0, count <= remaining else {
      throw .bad("input '\(label)' needs \(count) bytes of binary data, \(remaining) remain in the body")
    }
    defer { offset += count }
    return Array(bytes[offset..<(offset + count)])
  }
}
