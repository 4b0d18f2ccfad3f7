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
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
    } catch {
      throw .notJSON(source: source, reason: firstLine(of: error))
    }
    if let number = jsonNumber(object) { return try uniform(number, depths: depths) }
    guard let dictionary = object as? [String: Any] else { throw .missingKey(source: source) }
    guard let value = dictionary["pruning_ratios"] else { throw .missingKey(source: source) }
    if let number = jsonNumber(value) { return try uniform(number, depths: depths) }
    guard let stages = value as? [Any] else {
      throw .wrongStructure(source: source, reason: "\"pruning_ratios\" must be a list of per-stage lists of numbers")
    }
    var ratios: [[Double]] = []
    for (stage, entry) in stages.enumerated() {
      guard let blocks = entry as? [Any] else {
        throw .wrongStructure(source: source, reason: "\"pruning_ratios\"[\(stage)] must be a list of numbers")
      }
      var values: [Double] = []
      for (block, item) in blocks.enumerated() {
        guard let number = jsonNumber(item) else {
          throw .wrongStructure(
            source: source, reason: "\"pruning_ratios\"[\(stage)][\(block)] must be a number, found \(describe(item))")
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

/// A JSON number as Double (JSONSerialization gives NSNumber; booleans are rejected).
private func jsonNumber(_ value: Any) -> Double? {
  guard let number = value as? NSNumber, !isBoolean(number) else { return nil }
  return number.doubleValue
}

/// JSON `true`/`false` arrive as NSNumber too; their Objective-C type code is "c" (char).
private func isBoolean(_ number: NSNumber) -> Bool {
  String(cString: number.objCType) == "c"
}

private func describe(_ value: Any) -> String {
  switch value {
  case is String: "a string"
  case is [Any]: "a list"
  case is [String: Any]: "an object"
  case is NSNull: "null"
  case let number as NSNumber where isBoolean(number): "a boolean"
  default: "\(value)"
  }
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
