// The classes a data set's labels name: index (the logit column), name and WordNet id. A label is
// matched as a WordNet id, then as a class index, then as a name, so that ImageNet folders named
// `n01440764`, `0` or `tench` all mean class 0.
import Foundation

/// Why a class list could not be read or a label names no class.
public enum ClassListError: Error, Equatable, CustomStringConvertible {
  /// The class file could not be read.
  case unreadable(path: String, reason: String)
  /// A line of the class file is malformed (1-based line number).
  case badLine(path: String, line: Int, reason: String)
  /// The class file lists a different number of classes than the model has.
  case count(path: String, classes: Int, expected: Int)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): "cannot read class list '\(path)': \(reason)"
    case .badLine(let path, let line, let reason): "\(path):\(line): \(reason)"
    case .count(let path, let classes, let expected):
      "class list '\(path)' has \(classes) classes, the model has \(expected)"
    }
  }
}

/// The classes of a classifier, index = logit column.
public struct ClassList: Sendable, Equatable {
  /// Class names, index = class id.
  public let names: [String]
  /// WordNet ids (`n01440764`), index = class id; empty when the list has none.
  public let wordNetIDs: [String]
  /// Where the list came from (for messages); nil for classes known by index only.
  public let source: String?

  /// A list of `names` (and, when not empty, one WordNet id per name).
  public init(names: [String], wordNetIDs: [String] = [], source: String?) {
    precondition(
      wordNetIDs.isEmpty || wordNetIDs.count == names.count,
      "ClassList: \(wordNetIDs.count) WordNet ids for \(names.count) names")
    self.names = names
    self.wordNetIDs = wordNetIDs
    self.source = source
  }

  /// ImageNet-1k: torchvision's names (weights/imagenet_classes.txt) and the WordNet ids.
  public static let imageNet = ClassList(
    names: ImageNetClasses.names, wordNetIDs: ImageNetClasses.wordNetIDs,
    source: "weights/imagenet_classes.txt")

  /// ImageNet's list for a 1000-class model, otherwise classes named by their index only.
  public static func standard(classes: Int) -> ClassList {
    classes == ImageNetClasses.names.count
      ? imageNet : ClassList(names: (0..<classes).map { "class \($0)" }, source: nil)
  }

  /// Number of classes.
  public var count: Int { names.count }

  /// Reads a class file: one class per line in index order, either `name` or `wnid name` (a
  /// WordNet id `n` + 8 digits, then whitespace, then the name). Blank lines are refused, since
  /// they would shift every later index. `classes` is the model's count.
  public static func load(path: String, classes: Int) throws(ClassListError) -> ClassList {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    if lines.last == "" { lines.removeLast() }
    var names: [String] = []
    var ids: [String] = []
    for (index, line) in lines.enumerated() {
      guard !line.isEmpty else {
        throw .badLine(path: path, line: index + 1, reason: "blank line (one class per line, in index order)")
      }
      let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
      let hasID = isWordNetID(parts[0])
      if index > 0 && hasID != !ids.isEmpty {
        throw .badLine(
          path: path, line: index + 1,
          reason: hasID
            ? "starts with a WordNet id while line 1 does not (give 'wnid name' on every line or on none)"
            : "no WordNet id while line 1 starts with one (give 'wnid name' on every line or on none)")
      }
      if hasID {
        ids.append(String(parts[0]))
        names.append(parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : String(parts[0]))
      } else {
        names.append(line)
      }
    }
    guard names.count == classes else { throw .count(path: path, classes: names.count, expected: classes) }
    return ClassList(names: names, wordNetIDs: ids, source: path)
  }

  /// What a label names.
  public enum Match: Equatable, Sendable {
    /// One class.
    case index(Int)
    /// No class.
    case none
    /// Several classes share this name.
    case ambiguous([Int])
  }

  /// The class `label` names: a WordNet id of the list, a class index `0..<count`, or a name
  /// (exact, else ignoring case).
  public func match(_ label: String) -> Match {
    let text = label.trimmingCharacters(in: .whitespaces)
    if isWordNetID(text[...]) {
      if let index = wordNetIDs.firstIndex(of: text) { return .index(index) }
    }
    if !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) {
      if let index = Int(text), index < count { return .index(index) }
      return .none
    }
    var found = names.indices.filter { names[$0] == text }
    if found.isEmpty { found = names.indices.filter { names[$0].lowercased() == text.lowercased() } }
    switch found.count {
    case 0: return .none
    case 1: return .index(found[0])
    default: return .ambiguous(found)
    }
  }

  /// How a label may be written, for messages.
  public var accepted: String {
    guard let source else { return "a class index 0…\(count - 1); give '--classes' to use names" }
    let kinds = (wordNetIDs.isEmpty ? [] : ["a WordNet id"]) + ["a class index 0…\(count - 1)", "a class name"]
    return kinds.joined(separator: ", ") + " of \(source)"
  }
}

/// Whether `text` is a WordNet noun id: `n` and 8 digits.
func isWordNetID(_ text: Substring) -> Bool {
  text.count == 9 && text.first == "n" && text.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
}
