// A folder of images to evaluate on, as file names and labels only (pixels are read a batch at a
// time by the evaluation): ImageNet-style class subfolders, a flat folder with a `file,label` CSV,
// or a flat folder without labels. Every label is resolved before any image is decoded.
import Foundation

/// Why a data set could not be listed. Thrown before any image is decoded.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
  /// The path is missing or not a directory.
  case notADirectory(path: String)
  /// The directory could not be listed.
  case unreadableDirectory(path: String, reason: String)
  /// No image files where they were looked for.
  case empty(path: String)
  /// Images both at the top level and in subfolders: neither layout fits.
  case mixedLayout(path: String, looseImages: Int, folders: [String])
  /// A folder name or a label that names no class (`place`: "folder 'x'" or "labels.csv:3").
  case unknownLabel(label: String, place: String, accepted: String)
  /// A label that is the name of several classes.
  case ambiguousLabel(label: String, place: String, classes: [Int])
  /// The labels file could not be read or is malformed (`line` 1-based, nil for the whole file).
  case labelsFile(path: String, line: Int?, reason: String)

  public var description: String {
    switch self {
    case .notADirectory(let path): "'\(path)' is not a directory of images"
    case .unreadableDirectory(let path, let reason): "cannot list '\(path)': \(reason)"
    case .empty(let path):
      "'\(path)' holds no images (.png, .jpg or .jpeg files, directly or in class subfolders)"
    case .mixedLayout(let path, let loose, let folders):
      "'\(path)' has \(loose) image(s) at its top level and class subfolders (\(listed(folders))): use one layout"
    case .unknownLabel(let label, let place, let accepted):
      "\(place): '\(label)' names no class (expected \(accepted))"
    case .ambiguousLabel(let label, let place, let classes):
      "\(place): '\(label)' is the name of classes \(classes.map(String.init).joined(separator: " and ")): use the class index or WordNet id"
    case .labelsFile(let path, let line, let reason):
      line.map { "\(path):\($0): \(reason)" } ?? "labels file '\(path)': \(reason)"
    }
  }
}

/// The images an evaluation reads, one at a time, with their classes when known.
public protocol EvaluationSource {
  /// Number of images.
  var count: Int { get }
  /// How image `index` is named in messages (a path).
  func name(_ index: Int) -> String
  /// The class of image `index`, nil when unlabelled.
  func label(_ index: Int) -> Int?
  /// Decodes image `index`; throws when it cannot be read or decoded.
  func image(_ index: Int) throws -> RGBImage
}

/// Image files of a directory and their labels; decoded only when asked for.
public struct ImageDataset: EvaluationSource, Sendable {
  /// How the directory is organized.
  public enum Layout: String, Sendable {
    /// One subfolder per class, named by WordNet id, class index or class name.
    case classFolders = "class folders"
    /// Files and labels listed in a CSV file.
    case labelsFile = "labels file"
    /// Image files without labels (agreement with dense only).
    case unlabelled
  }

  /// One image: its path relative to the directory and its class.
  public struct Entry: Sendable, Equatable {
    /// Relative to `directory` (or absolute, when the labels file says so).
    public let path: String
    /// Class index, nil when unlabelled.
    public let label: Int?
  }

  /// File name extensions read as images (compared without case).
  public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

  /// The directory.
  public let directory: String
  /// How it is organized.
  public let layout: Layout
  /// The images, in evaluation order.
  public let entries: [Entry]
  /// Images found in all (before `limit`).
  public let available: Int
  /// Image files of the directory the labels file does not list (0 for other layouts).
  public let unlisted: Int

  /// Lists `directory`. With `labelsFile` (a `file,label` CSV; an optional header line; files relative
  /// to the directory) the images are the CSV's rows; otherwise subfolders holding images are
  /// classes, or else the top-level images are unlabelled. Class folders are interleaved (the first
  /// image of every class, then the second…) so that `limit` keeps every class represented.
  /// Without `classes` (a model without a head) class folders are read unlabelled.
  public init(
    directory: String, labelsFile: String? = nil, classes: ClassList?, limit: Int? = nil
  ) throws(DatasetError) {
    precondition(limit.map { $0 >= 1 } ?? true, "ImageDataset: limit \(limit!)")
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw .notADirectory(path: directory)
    }
    self.directory = directory
    let top = try listDirectory(directory)
    let looseImages = top.files.filter(isImageFile)
    let all: [Entry]
    if let labelsFile {
      precondition(classes != nil, "ImageDataset: a labels file needs a class list")
      layout = .labelsFile
      all = try readLabels(labelsFile, classes: classes!)
      guard !all.isEmpty else { throw .labelsFile(path: labelsFile, line: nil, reason: "lists no images") }
      let listed = Set(all.map(\.path))
      unlisted = looseImages.filter { !listed.contains($0) }.count
    } else {
      unlisted = 0
      var folders: [(name: String, files: [String])] = []
      for folder in top.folders {
        let files = try listDirectory((directory as NSString).appendingPathComponent(folder)).files.filter(isImageFile)
        if !files.isEmpty { folders.append((folder, files)) }
      }
      if !folders.isEmpty && !looseImages.isEmpty {
        throw .mixedLayout(path: directory, looseImages: looseImages.count, folders: folders.map(\.name))
      }
      if folders.isEmpty {
        layout = .unlabelled
        all = looseImages.map { Entry(path: $0, label: nil) }
      } else {
        layout = .classFolders
        let labels = try folders.map { folder throws(DatasetError) -> Int? in
          guard let classes else { return nil }
          return try resolve(folder.name, place: "folder '\(folder.name)'", classes: classes)
        }
        all = interleave(folders.map { $0.files.count }).map { folder, rank in
          Entry(path: folders[folder].name + "/" + folders[folder].files[rank], label: labels[folder])
        }
      }
      guard !all.isEmpty else { throw .empty(path: directory) }
    }
    available = all.count
    entries = limit.map { Array(all.prefix($0)) } ?? all
  }

  public var count: Int { entries.count }

  /// Images with a label.
  public var labelled: Int { entries.count { $0.label != nil } }

  public func name(_ index: Int) -> String { fullPath(index) }

  public func label(_ index: Int) -> Int? { entries[index].label }

  public func image(_ index: Int) throws -> RGBImage { try RGBImage.load(path: fullPath(index)) }

  private func fullPath(_ index: Int) -> String {
    let path = entries[index].path
    return path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
  }
}

private func isImageFile(_ name: String) -> Bool {
  ImageDataset.imageExtensions.contains((name as NSString).pathExtension.lowercased())
}

/// Sorted visible entries of `path`: subdirectories and other files.
private func listDirectory(_ path: String) throws(DatasetError) -> (folders: [String], files: [String]) {
  let names: [String]
  do {
    names = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
  } catch {
    throw .unreadableDirectory(path: path, reason: (error as NSError).localizedDescription)
  }
  var folders: [String] = []
  var files: [String] = []
  for name in names {
    var isDirectory: ObjCBool = false
    let full = (path as NSString).appendingPathComponent(name)
    _ = FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory)
    if isDirectory.boolValue { folders.append(name) } else { files.append(name) }
  }
  return (folders, files)
}

/// `(group, rank)` pairs: rank 0 of every group, then rank 1 of every group that has one, …
private func interleave(_ counts: [Int]) -> [(Int, Int)] {
  var order: [(Int, Int)] = []
  for rank in 0..<(counts.max() ?? 0) {
    for (group, count) in counts.enumerated() where rank < count { order.append((group, rank)) }
  }
  return order
}

private func resolve(_ label: String, place: String, classes: ClassList) throws(DatasetError) -> Int {
  switch classes.match(label) {
  case .index(let index): return index
  case .none: throw .unknownLabel(label: label, place: place, accepted: classes.accepted)
  case .ambiguous(let indices): throw .ambiguousLabel(label: label, place: place, classes: indices)
  }
}

/// The rows of a `file,label` CSV (fields may be double-quoted; a first line whose file column is
/// `file`, `filename`, `image` or `path` is a header).
private func readLabels(_ path: String, classes: ClassList) throws(DatasetError) -> [ImageDataset.Entry] {
  let text: String
  do {
    text = try String(contentsOfFile: path, encoding: .utf8)
  } catch {
    throw .labelsFile(path: path, line: nil, reason: (error as NSError).localizedDescription)
  }
  var entries: [ImageDataset.Entry] = []
  var seen: [String: Int] = [:]
  for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
    let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
    let number = index + 1
    if line.isEmpty { continue }
    guard let fields = csvFields(line), fields.count == 2 else {
      throw .labelsFile(path: path, line: number, reason: "expected two fields 'file,label', got '\(line)'")
    }
    let file = fields[0].trimmingCharacters(in: .whitespaces)
    let label = fields[1].trimmingCharacters(in: .whitespaces)
    if number == 1 && ["file", "filename", "image", "path"].contains(file.lowercased()) { continue }
    guard !file.isEmpty else { throw .labelsFile(path: path, line: number, reason: "empty file name") }
    guard !label.isEmpty else { throw .labelsFile(path: path, line: number, reason: "no label for '\(file)'") }
    if let first = seen[file] {
      throw .labelsFile(path: path, line: number, reason: "'\(file)' is already listed on line \(first)")
    }
    seen[file] = number
    entries.append(.init(path: file, label: try resolve(label, place: "\(path):\(number)", classes: classes)))
  }
  return entries
}

/// The fields of one CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote), nil when a quote is
/// left open.
private func csvFields(_ line: String) -> [String]? {
  var fields: [String] = []
  var field = ""
  var quoted = false
  var characters = line.makeIterator()
  while let character = characters.next() {
    if quoted {
      if character == "\"" {
        // A doubled quote is a literal one; a single one closes the field.
        var lookahead = characters
        if lookahead.next() == "\"" {
          field.append("\"")
          characters = lookahead
        } else {
          quoted = false
        }
      } else {
        field.append(character)
      }
    } else if character == "\"" && field.allSatisfy(\.isWhitespace) {
      field = ""
      quoted = true
    } else if character == "," {
      fields.append(field)
      field = ""
    } else {
      field.append(character)
    }
  }
  if quoted { return nil }
  fields.append(field)
  return fields
}

private func listed(_ names: [String]) -> String {
  names.count <= 3 ? names.joined(separator: ", ") : names.prefix(3).joined(separator: ", ") + ", …"
}
