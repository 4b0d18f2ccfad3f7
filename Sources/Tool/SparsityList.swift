// A `--sparsity` comma list of configurations (bench, eval): each item a ratio, 'dense', a preset or
// a JSON file, checked before the model loads, then resolved against its depths with unique labels.
import Foundation
import Models

enum SparsityList {
  /// Dense and every published preset: the default list of a model the presets fit.
  static let defaultList = (["dense"] + PruningRatios.presetNames).joined(separator: ",")
  /// For models the published (Swin-T) presets do not fit.
  static let fallbackList = "dense,0.2,0.4,0.6"

  /// The items of `text` (the value of `option`), each a ratio, 'dense', a preset or an existing file.
  static func items(_ text: String, option: OptionSpec, spec: CommandSpec) throws(UsageError) -> [String] {
    let items = try splitList(text, option: option, spec: spec)
    for item in items where !isBuiltIn(item) {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: item, isDirectory: &isDirectory) else {
        throw spec.usage(
          "'--\(option.name)' item '\(item)' is not a ratio, 'dense', a preset (\(PruningRatios.presetNames.joined(separator: ", "))) or an existing JSON file"
        )
      }
      if isDirectory.boolValue {
        throw spec.usage("'--\(option.name)' item '\(item)' is a directory, expected a JSON file")
      }
    }
    return items
  }

  /// Whether every published preset fits a model of `depths`.
  static func presetsFit(depths: [Int]) -> Bool {
    PruningRatios.presetNames.allSatisfy { (try? PruningRatios.preset($0, depths: depths)) != nil }
  }

  /// The items of `list` (a default above).
  static func split(_ list: String) -> [String] { list.split(separator: ",").map(String.init) }

  /// `items` resolved against `depths`, each labelled by `sparsityLabel`; a label already taken, or
  /// one `isReserved(label, item)` refuses, gets " #2", " #3"…
  static func resolve(
    _ items: [String], depths: [Int], spec: CommandSpec,
    reserving isReserved: (_ label: String, _ item: String) -> Bool = { _, _ in false }
  ) throws(UsageError) -> [(label: String, item: String, ratios: PruningRatios)] {
    var result: [(label: String, item: String, ratios: PruningRatios)] = []
    for item in items {
      let ratios: PruningRatios
      do {
        ratios = try PruningRatios.resolve(item, depths: depths)
      } catch {
        throw spec.usage("'--sparsity' item '\(item)': \(error.description)")
      }
      var label = sparsityLabel(item)
      if result.contains(where: { $0.label == label }) || isReserved(label, item) {
        var index = 2
        while result.contains(where: { $0.label == "\(label) #\(index)" }) { index += 1 }
        label += " #\(index)"
      }
      result.append((label, item, ratios))
    }
    return result
  }

  /// Whether `item` names a sparsity without a file: a number, 'dense' or a preset.
  private static func isBuiltIn(_ item: String) -> Bool {
    Double(item) != nil || item == "dense" || PruningRatios.presets[item] != nil
  }
}

/// The table label of a `--sparsity` item.
func sparsityLabel(_ item: String) -> String {
  if Double(item) != nil { return "uniform \(item)" }
  if item == "dense" || PruningRatios.presets[item] != nil { return item }
  return ((item as NSString).lastPathComponent as NSString).deletingPathExtension
}
