// A small command-line parser in the style of swift-argument-parser (which cannot be fetched here):
// `--kebab-case value` options, boolean flags, `-h/--help`, errors as `Error: …`, usage, help hint.
import Foundation

/// One option or flag a command accepts. Options are declared once, as `static let`s, and read by
/// that declaration (`arguments.string(ModelOptions.weights)`), so a misspelt name does not compile.
struct OptionSpec: Equatable {
  /// Long name without dashes (`weights`).
  let name: String
  /// Placeholder of the value (`file`), nil for a flag.
  let value: String?
  let help: String
}

/// What a command accepts and how to describe it.
struct CommandSpec {
  let name: String
  let summary: String
  let usage: String
  let options: [OptionSpec]
  /// Extra help text after the options (examples, notes).
  var discussion: String = ""

  var helpText: String {
    var text = "OVERVIEW: \(summary)\n\nUSAGE: sparsevit \(name) \(usage)\n\nOPTIONS:\n"
    for option in options + [OptionSpec(name: "help", value: nil, help: "Show help information.")] {
      let label = "  --\(option.name)" + (option.value.map { " <\($0)>" } ?? "")
      let padded =
        label.count < 30
        ? label.padding(toLength: 30, withPad: " ", startingAt: 0) : label + "\n" + String(repeating: " ", count: 30)
      text += padded + option.help + "\n"
    }
    if !discussion.isEmpty { text += "\n" + discussion + "\n" }
    return text
  }
}

/// A mistake in how the command was called (exit 64).
struct UsageError: Error, CustomStringConvertible {
  let message: String
  let command: CommandSpec?
  var description: String { message }
}

extension CommandSpec {
  /// A usage error of this command.
  func usage(_ message: String) -> UsageError { UsageError(message: message, command: self) }
}

/// A failure while doing the work (exit 1).
struct Failure: Error, CustomStringConvertible {
  let message: String
  init(_ message: String) { self.message = message }
  init(_ error: any Error) { self.message = String(describing: error) }
  var description: String { message }
}

/// Parsed options of one command.
struct Arguments {
  let spec: CommandSpec
  private var values: [String: String] = [:]
  private var flags: Set<String> = []

  /// Parses `arguments` (without the command name) against `spec`.
  init(_ arguments: [String], spec: CommandSpec) throws(UsageError) {
    self.spec = spec
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      guard argument.hasPrefix("--"), argument.count > 2 else {
        throw UsageError(message: "unexpected argument '\(argument)'", command: spec)
      }
      var name = String(argument.dropFirst(2))
      var inline: String? = nil
      if let equals = name.firstIndex(of: "=") {
        inline = String(name[name.index(after: equals)...])
        name = String(name[..<equals])
      }
      guard let option = spec.options.first(where: { $0.name == name }) else {
        throw UsageError(message: "unknown option '--\(name)'", command: spec)
      }
      if option.value == nil {
        if inline != nil { throw UsageError(message: "flag '--\(name)' takes no value", command: spec) }
        flags.insert(name)
      } else {
        let value: String
        if let inline {
          value = inline
        } else {
          index += 1
          guard index < arguments.count else {
            throw UsageError(message: "missing value for '--\(name) <\(option.value!)>'", command: spec)
          }
          value = arguments[index]
        }
        if values[name] != nil { throw UsageError(message: "option '--\(name)' given twice", command: spec) }
        values[name] = value
      }
      index += 1
    }
  }

  /// The raw value of `option`, if given.
  func string(_ option: OptionSpec) -> String? { values[declared(option)] }

  /// Whether flag `option` was given.
  func flag(_ option: OptionSpec) -> Bool { flags.contains(declared(option)) }

  /// `option` as an integer within `range`, or `defaultValue`.
  func integer(
    _ option: OptionSpec, default defaultValue: Int? = nil, in range: ClosedRange<Int> = Int.min...Int.max
  ) throws(UsageError) -> Int? {
    let name = declared(option)
    guard let text = values[name] else { return defaultValue }
    guard let value = Int(text) else { throw usage("'--\(name)' expects an integer, got '\(text)'") }
    guard range.contains(value) else { throw usage("'--\(name)' must be in \(describe(range)), got \(value)") }
    return value
  }

  /// `option` as a seed (a non-negative integer), nil when not given.
  func seed(_ option: OptionSpec) throws(UsageError) -> UInt64? {
    try integer(option, in: 0...Int.max).map { UInt64($0) }
  }

  /// `option` as a number within `range`, or `defaultValue`.
  func number(
    _ option: OptionSpec, default defaultValue: Double? = nil,
    in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
  ) throws(UsageError) -> Double? {
    let name = declared(option)
    guard let text = values[name] else { return defaultValue }
    guard let value = Double(text), value.isFinite else { throw usage("'--\(name)' expects a number, got '\(text)'") }
    guard range.contains(value) else {
      throw usage("'--\(name)' must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
    }
    return value
  }

  /// `option` required.
  func required(_ option: OptionSpec) throws(UsageError) -> String {
    guard let value = values[declared(option)] else {
      throw usage("missing '--\(option.name)\(option.value.map { " <\($0)>" } ?? "")'")
    }
    return value
  }

  /// The name of `option`, which the command must declare: reading an option the command does not
  /// accept is a programming error, caught by the first test that runs the command.
  private func declared(_ option: OptionSpec) -> String {
    precondition(spec.options.contains(option), "'--\(option.name)' is not an option of '\(spec.name)'")
    return option.name
  }

  func usage(_ message: String) -> UsageError { spec.usage(message) }

  private func describe(_ range: ClosedRange<Int>) -> String {
    if range.upperBound == Int.max { return "\(range.lowerBound)…" }
    return "\(range.lowerBound)…\(range.upperBound)"
  }
}

/// Writes a line to standard error.
func printError(_ text: String) {
  FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `--name <file>` when given, after checking that it can be written: not a directory, in an
/// existing writable directory (checked before any long work, not after it).
func checkedWritablePath(_ arguments: Arguments, _ option: OptionSpec) throws(UsageError) -> String? {
  guard let path = arguments.string(option) else { return nil }
  let name = option.name
  var isDirectory: ObjCBool = false
  if path.isEmpty { throw arguments.usage("'--\(name)' needs a file name") }
  if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
    throw arguments.usage("'--\(name)' names a directory ('\(path)'), expected a file")
  }
  let parent = (path as NSString).deletingLastPathComponent
  let directory = parent.isEmpty ? "." : parent
  guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
    isDirectory.boolValue
  else {
    throw arguments.usage(
      "cannot write '--\(name)' file '\(path)': directory '\(directory)' does not exist")
  }
  guard access(directory, W_OK) == 0 else {
    throw arguments.usage(
      "cannot write '--\(name)' file '\(path)': directory '\(directory)' is not writable")
  }
  return path
}

/// The report files `--json`, `--csv` and `--plot`, each checked as `checkedWritablePath` does and
/// refused when two name the same file.
func checkedReportPaths(
  _ arguments: Arguments, json: OptionSpec, csv: OptionSpec, plot: OptionSpec
) throws(UsageError) -> (json: String?, csv: String?, plot: String?) {
  let paths = (
    json: try checkedWritablePath(arguments, json), csv: try checkedWritablePath(arguments, csv),
    plot: try checkedWritablePath(arguments, plot)
  )
  let given = [paths.json, paths.csv, paths.plot].compactMap { $0 }
  if Set(given).count != given.count {
    throw arguments.usage("'--\(json.name)', '--\(csv.name)' and '--\(plot.name)' must name different files")
  }
  return paths
}
