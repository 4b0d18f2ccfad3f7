// SparseViT per-block window pruning ratios: the JSON format of the paper's configs
// (`{"pruning_ratios": [[…], …]}`), a single uniform ratio, validation against a model, and the
// three published configurations.
import Foundation

/// Why a sparsity configuration was rejected. Messages name the stage, block and value.
public enum SparsityError: Error, Equatable, CustomStringConvertible {
  case unreadable(path: String, reason: String)
  case notJSON(source: String, reason: String)
  case missingKey(source: String)
  case wrongStructure(source: String, reason: String)
  case stageCount(expected: Int, actual: Int)
  case blockCount(stage: Int, expected: Int, actual: Int)
  case notFinite(stage: Int, block: Int)
  case negative(stage: Int, block: Int, value: Double)
  case notBelowOne(stage: Int, block: Int, value: Double)
  case decreasing(stage: Int, block: Int, value: Double, previous: Double)
  case unknownPreset(String)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): "cannot read sparsity file '\(path)': \(reason)"
    case .notJSON(let source, let reason): "\(source): not valid JSON (\(reason))"
    case .missingKey(let source):
      "\(source): expected an object with key \"pruning_ratios\" (a list of per-stage lists of ratios) or a single number"
    case .wrongStructure(let source, let reason): "\(source): \(reason)"
    case .stageCount(let expected, let actual): "sparsity has \(actual) stages, the model has \(expected)"
    case .blockCount(let stage, let expected, let actual):
      "sparsity stage \(stage) has \(actual) ratios, the model's stage \(stage) has \(expected) blocks"
    case .notFinite(let stage, let block): "sparsity ratio at stage \(stage), block \(block) is not a finite number"
    case .negative(let stage, let block, let value):
      "sparsity ratio at stage \(stage), block \(block) is \(value): ratios must be ≥ 0"
    case .notBelowOne(let stage, let block, let value):
      "sparsity ratio at stage \(stage), block \(block) is \(value): ratios must be < 1"
    case .decreasing(let stage, let block, let value, let previous):
      "sparsity ratio at stage \(stage), block \(block) is \(value), below the previous block's \(previous): ratios must not decrease within a stage (later blocks keep a prefix of the same window ranking)"
    case .unknownPreset(let name):
      "unknown sparsity preset '\(name)' (known: \(PruningRatios.presetNames.joined(separator: ", ")))"
    }
  }
}

/// Per-block window pruning ratios: `ratios[stage][block]` is the fraction of windows that block
/// skips, in `[0, 1)`, non-decreasing within each stage.
public struct PruningRatios: Sendable, Equatable, CustomStringConvertible {
  /// One list per stage, one ratio per block.
  public let ratios: [[Double]]

  /// Validates `ratios` against a model with `depths` blocks per stage.
  public init(_ ratios: [[Double]], depths: [Int]) throws(SparsityError) {
    guard ratios.count == depths.count else {
      throw .stageCount(expected: depths.count, actual: ratios.count)
    }
    for (stage, values) in ratios.enumerated() {
      guard values.count == depths[stage] else {
        throw .blockCount(stage: stage, expected: depths[stage], actual: values.count)
      }
      for (block, value) in values.enumerated() {
        guard value.isFinite else { throw .notFinite(stage: stage, block: block) }
        guard value >= 0 else { throw .negative(stage: stage, block: block, value: value) }
        guard value < 1 else { throw .notBelowOne(stage: stage, block: block, value: value) }
        if block > 0 && value < values[block - 1] {
          throw .decreasing(stage: stage, block: block, value: value, previous: values[block - 1])
        }
      }
    }
    self.ratios = ratios
  }

  /// No pruning: every window of every block is computed.
  public static func dense(depths: [Int]) -> PruningRatios {
    PruningRatios(validated: depths.map { [Double](repeating: 0, count: $0) })
  }

  /// Wraps ratios already known to be valid.
  init(validated ratios: [[Double]]) {
    self.ratios = ratios
  }

  /// The same ratio for every block.
  public static func uniform(_ ratio: Double, depths: [Int]) throws(SparsityError) -> PruningRatios {
    try PruningRatios(depths.map { [Double](repeating: ratio, count: $0) }, depths: depths)
  }

  /// Whether there is one ratio per block of a model with `depths` (checked without allocating).
  public func fits(_ depths: [Int]) -> Bool {
    guard ratios.count == depths.count else { return false }
    for stage in 0..<depths.count where ratios[stage].count != depths[stage] { return false }
    return true
  }

  /// Whether every ratio is 0.
  public var isDense: Bool { ratios.allSatisfy { $0.allSatisfy { $0 == 0 } } }

  /// Windows block `block` of a stage with `windows` windows per image keeps: `⌊windows·(1 − r)⌋`,
  /// computed in double exactly like Python's `int(nW * (1 - r))` (0 is allowed).
  public func keptWindows(stage: Int, block: Int, windows: Int) -> Int {
    Int(Double(windows) * (1 - ratios[stage][block]))
  }

  public var description: String {
    "[" + ratios.map { "[" + $0.map { String($0) }.joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
  }

  // MARK: - Parsing

  /// Parses a sparsity JSON document: `{"pruning_ratios": [[…], …]}` (other keys are ignored),
  /// `{"pruning_ratios": r}` or a bare number `r` (the same ratio everywhere). `source` names the
  /// document in errors.
  public static func parse(json: Data, source: String, depths: [Int]) throws(SparsityError) -> PruningRatios {
    // JSONSerialization says best what is wrong and where; JSONDecoder reads numbers exactly.
    let object: JSONValue
    do {
      _ = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
      object = try JSONDecoder().decode(JSONValue.self, from: json)
    } catch {
      // Foundation quotes the offending input, which may hold control characters.
      throw .notJSON(source: source, reason: printable(jsonReason(error)))
    }
    if case .number(let number) = object { return try uniform(number, depths: depths) }
    guard case .object(let dictionary) = object, let value = dictionary["pruning_ratios"] else {
      throw .missingKey(source: source)
    }
    if case .number(let number) = value { return try uniform(number, depths: depths) }
    guard case .list(let stages) = value else {
      throw .wrongStructure(source: source, reason: "\"pruning_ratios\" must be a list of per-stage lists of numbers")
    }
    var ratios: [[Double]] = []
    for (stage, entry) in stages.enumerated() {
      guard case .list(let blocks) = entry else {
        throw .wrongStructure(source: source, reason: "\"pruning_ratios\"[\(stage)] must be a list of numbers")
      }
      var values: [Double] = []
      for (block, item) in blocks.enumerated() {
        guard case .number(let number) = item else {
          throw .wrongStructure(
            source: source, reason: "\"pruning_ratios\"[\(stage)][\(block)] must be a number, found \(item.phrase)")
        }
        values.append(number)
      }
      ratios.append(values)
    }
    return try PruningRatios(ratios, depths: depths)
  }

  /// Reads and parses a sparsity JSON file.
  public static func load(path: String, depths: [Int]) throws(SparsityError) -> PruningRatios {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw .unreadable(path: path, reason: firstLine(of: error))
    }
    return try parse(json: data, source: path, depths: depths)
  }

  /// A ratio, a preset name or a JSON file path, as the command line takes it.
  public static func resolve(_ argument: String, depths: [Int]) throws(SparsityError) -> PruningRatios {
    if let number = Double(argument) { return try uniform(number, depths: depths) }
    if argument == "dense" { return dense(depths: depths) }
    if let preset = presets[argument] { return try PruningRatios(preset, depths: depths) }
    return try load(path: argument, depths: depths)
  }

  // MARK: - Published configurations

  /// The paper's configurations for Swin-T (Mask R-CNN at 672×672), by name.
  public static let presets: [String: [[Double]]] = [
    "cfg1_42ms": [[0.3, 0.3], [0, 0], [0.1, 0.1, 0.2, 0.2, 0.2, 0.2], [0, 0]],
    "cfg2_35ms": [[0.6, 0.6], [0, 0], [0.2, 0.2, 0.4, 0.4, 0.5, 0.5], [0, 0]],
    "cfg3_33ms": [[0.7, 0.7], [0, 0], [0.2, 0.2, 0.4, 0.4, 0.5, 0.5], [0, 0]],
  ]

  /// Preset names in order.
  public static let presetNames = ["cfg1_42ms", "cfg2_35ms", "cfg3_33ms"]

  /// A published configuration validated against `depths` (they are for Swin-T's 2, 2, 6, 2).
  public static func preset(_ name: String, depths: [Int]) throws(SparsityError) -> PruningRatios {
    guard let ratios = presets[name] else { throw .unknownPreset(name) }
    return try PruningRatios(ratios, depths: depths)
  }

  /// The document `parse` reads back: `{"pruning_ratios": …}` plus `extra` keys.
  public func jsonData(extra: [String: Any] = [:]) -> Data {
    var object = extra
    object["pruning_ratios"] = ratios
    // Only JSON-representable values are stored, so serialization cannot fail.
    return (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
  }
}

/// A JSON value as `JSONDecoder` reads it. Numbers come out correctly rounded, which
/// `JSONSerialization` does not guarantee: on Linux it reads "0.9999999999999999" as 1.0 and
/// "0.30000000000000004" as 0.3000000000000001, so a configuration written by `jsonData` (shortest
/// round-trip digits) could come back with different ratios and different kept-window counts.
private indirect enum JSONValue: Decodable {
  case number(Double)
  case boolean(Bool)
  case string(String)
  case null
  case list([JSONValue])
  case object([String: JSONValue])

  init(from decoder: any Decoder) throws {
    // The decoder has checked the syntax of the whole document already: only the type is unknown.
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .boolean(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .list(value)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }

  /// What the value is, for messages.
  var phrase: String {
    switch self {
    case .number(let value): "\(value)"
    case .boolean: "a boolean"
    case .string: "a string"
    case .null: "null"
    case .list: "a list"
    case .object: "an object"
    }
  }
}

/// Why a document was rejected: JSONSerialization's words, or for a document only `JSONDecoder`
/// refuses, its scanner's when it gave them.
private func jsonReason(_ error: any Error) -> String {
  guard case DecodingError.dataCorrupted(let context) = error else { return firstLine(of: error) }
  return context.underlyingError.map { firstLine(of: $0) } ?? context.debugDescription
}

/// A one-line reason for a Foundation error: JSONSerialization's debug description, the POSIX
/// reason of a file error, else the first line of the description.
func firstLine(of error: any Error) -> String {
  let ns = error as NSError
  if let debug = ns.userInfo[NSDebugDescriptionErrorKey] as? String { return debug }
  if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
    let reason = strerror(Int32(underlying.code))
  {
    return String(cString: reason)
  }
  let text = ns.domain == NSCocoaErrorDomain ? ns.localizedDescription : String(describing: error)
  return String(text.split(separator: "\n", maxSplits: 1).first ?? Substring(text))
}
