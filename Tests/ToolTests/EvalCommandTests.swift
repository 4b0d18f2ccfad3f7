// `sparsevit eval` as a user runs it on the committed pictures (Tests/Fixtures/eval) and the tiny
// checkpoint: the table, JSON, CSV and plot agree with each other and add up; unreadable files are
// listed and skipped; bad labels, an empty folder and bad options fail with one `Error:` line.
import Foundation
import Models
import TestSupport
import XCTest

final class EvalCommandTests: CommandTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
  var weights: String { fixtures.appendingPathComponent("tiny/tiny.timm.f32.safetensors").path }
  var pictures: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.appendingPathComponent("eval").path)) ?? [])
      .filter { $0.hasPrefix("picture") }.sorted()
  }

  /// `eval` on the tiny checkpoint at 112×112 with `extra` arguments.
  func evalArguments(_ images: String, _ extra: [String]) -> [String] {
    ["eval", "--weights", weights, "--images", images, "--size", "112", "--threads", "2"] + extra
  }

  func copy(_ names: [String], from folder: String = "eval", to target: String) throws -> String {
    let path = self.path(target)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    for name in names {
      try FileManager.default.copyItem(
        atPath: fixtures.appendingPathComponent("\(folder)/\(name)").path, toPath: path + "/" + name)
    }
    return path
  }

  private func assertFailure(
    _ arguments: [String], status: Int32, contains fragment: String, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    try assertOneLineFailure(
      arguments, status: status, contains: fragment, usage: "Usage: sparsevit eval", file: file, line: line)
  }

  func testClassFoldersWithAClassFileGiveTheTableJSONCSVAndPlot() throws {
    // Ten classes with WordNet ids; the pictures sorted into two of them.
    let classes = (0..<10).map { String(format: "n%08d class%d", 500 + $0, $0) }.joined(separator: "\n")
    try classes.write(toFile: path("classes.txt"), atomically: true, encoding: .utf8)
    _ = try copy(Array(pictures.prefix(3)), to: "val/n00000503")
    _ = try copy(Array(pictures.suffix(3)), to: "val/n00000507")
    let result = try sparsevit(
      evalArguments(
        path("val"),
        [
          "--classes", path("classes.txt"), "--sparsity", "dense,0,0.8", "--batch", "2", "--json", path("e.json"),
          "--csv", path("e.csv"), "--plot", path("e.svg"),
        ]))
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n").map(String.init)
    XCTAssertTrue(
      lines.contains {
        $0.hasPrefix("images") && $0.contains("(class folders): 6 evaluated, 6 labelled, 0 unreadable")
      }, result.stdout)
    let header = try XCTUnwrap(lines.first { $0.hasPrefix("config") })
    XCTAssertEqual(
      header.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "),
      "config top-1 top-5 agree top-5 ovl cosine kept GFLOP ms/img speedup")
    let dense = try XCTUnwrap(lines.first { $0.hasPrefix("dense ") }).split(separator: " ")
    XCTAssertEqual(dense[3], "100.0%", "dense agreement")
    XCTAssertEqual(dense[5], "1.0000", "dense cosine")

    struct Document: Decodable {
      struct Counts: Decodable {
        let images: Int
        let labelled: Int
        let top1Correct: Int
        let top1Agreements: Int
      }
      struct Configuration: Decodable {
        let label: String
        let top1Accuracy: Double?
        let top1Agreement: Double?
        let meanCosine: Double
        let msPerImage: Double?
        let counts: Counts
      }
      let images: Int
      let labelled: Int
      let timedBatches: Int
      let unreadable: [[String: String]]
      let configurations: [Configuration]
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    let document = try decoder.decode(Document.self, from: Data(contentsOf: URL(fileURLWithPath: path("e.json"))))
    XCTAssertEqual(document.configurations.map(\.label), ["dense", "uniform 0", "uniform 0.8"])
    XCTAssertEqual(document.images, 6)
    XCTAssertEqual(document.labelled, 6)
    XCTAssertEqual(document.timedBatches, 2)
    XCTAssertTrue(document.unreadable.isEmpty)
    let records = document.configurations
    XCTAssertEqual(records[0].top1Agreement, 1)
    XCTAssertEqual(records[1].top1Agreement, 1)
    XCTAssertEqual(records[1].meanCosine, records[0].meanCosine)
    XCTAssertEqual(records[1].top1Accuracy, records[0].top1Accuracy)
    XCTAssertLessThan(try XCTUnwrap(records[2].top1Agreement), 1)
    for record in records {
      XCTAssertEqual(record.counts.images, 6)
      XCTAssertEqual(record.counts.labelled, 6)
      // The JSON rounds shares to 6 decimals.
      XCTAssertEqual(try XCTUnwrap(record.top1Accuracy), Double(record.counts.top1Correct) / 6, accuracy: 1e-6)
      XCTAssertEqual(try XCTUnwrap(record.top1Agreement), Double(record.counts.top1Agreements) / 6, accuracy: 1e-6)
      XCTAssertNotNil(record.msPerImage)
    }
    let csv = try String(contentsOfFile: path("e.csv"), encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(csv.count, 4)
    XCTAssertTrue(csv[0].hasPrefix("label,images,labelled,top1_accuracy,"))
    XCTAssertTrue(csv[3].hasPrefix("uniform 0.8,6,6,"))
    let svg = try String(contentsOfFile: path("e.svg"), encoding: .utf8)
    XCTAssertTrue(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
    XCTAssertTrue(svg.contains("top-1 accuracy (%)") && svg.contains("Pareto front"))
    XCTAssertTrue(svg.contains(">uniform 0.8</text>"))
  }

  func testUnlabelledFolderWithUnreadableFilesReportsAgreementOnly() throws {
    let folder = try copy(Array(pictures.prefix(2)), to: "flat")
    for name in ["not_an_image.png", "truncated.jpg"] {
      try FileManager.default.copyItem(
        atPath: fixtures.appendingPathComponent("images/\(name)").path, toPath: folder + "/" + name)
    }
    let result = try sparsevit(evalArguments(folder, ["--sparsity", "0.5", "--json", path("e.json")]))
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.contains("(unlabelled): 2 evaluated, 0 labelled, 2 unreadable"), result.stdout)
    let header = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("config") })
    XCTAssertFalse(header.contains("top-1"), "no accuracy columns without labels: \(header)")
    XCTAssertTrue(result.stdout.contains("uniform 0.5"))
    XCTAssertTrue(
      result.stderr.contains("Skipped unreadable image \(folder)/not_an_image.png: not a PNG or JPEG image"),
      result.stderr)
    XCTAssertTrue(
      result.stderr.contains("Skipped unreadable image \(folder)/truncated.jpg: corrupt or truncated JPEG"),
      result.stderr)
    let json =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("e.json")))) as! [String: Any]
    XCTAssertEqual((json["unreadable"] as! [Any]).count, 2)
    XCTAssertEqual(json["images"] as? Int, 2)
  }

  func testLabelsFileAndLimit() throws {
    let folder = try copy(pictures, to: "flat")
    let labels = pictures.enumerated().map { "\($1),\($0 % 10)" }.joined(separator: "\n")
    try ("file,label\n" + labels + "\n").write(toFile: path("labels.csv"), atomically: true, encoding: .utf8)
    let result = try sparsevit(
      evalArguments(
        folder,
        [
          "--labels", path("labels.csv"), "--sparsity", "dense", "--limit", "4", "--batch", "2", "--crop-fraction",
          "0.9",
        ]))
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.contains("112x112 (crop 0.9, bicubic)"), result.stdout)
    XCTAssertTrue(result.stdout.contains("(labels file): 4 evaluated, 4 labelled, 0 unreadable"), result.stdout)
    XCTAssertTrue(result.stderr.contains("Evaluating 4 of 6 images"), result.stderr)
  }

  func testRefusals() throws {
    let folder = try copy(Array(pictures.prefix(2)), to: "flat")
    try "file,label\n\(pictures[0]),3\n\(pictures[1]),zebra\n".write(
      toFile: path("bad.csv"), atomically: true, encoding: .utf8)
    try assertFailure(
      evalArguments(folder, ["--labels", path("bad.csv")]), status: 1,
      contains: "bad.csv:3: 'zebra' names no class (expected a class index 0…9; give '--classes' to use names)")
    let empty = try copy([], to: "empty")
    try assertFailure(evalArguments(empty, []), status: 1, contains: "'\(empty)' holds no images")
    // Found out while running: after the progress lines, the error names the first file.
    let broken = try copy(["bad.jpg"], from: "images", to: "broken")
    let unreadable = try sparsevit(evalArguments(broken, []))
    XCTAssertEqual(unreadable.status, 1)
    let last = unreadable.stderr.split(separator: "\n").last ?? ""
    XCTAssertTrue(last.hasPrefix("Error: none of the 1 image(s) could be read (\(broken)/bad.jpg: "), unreadable.stderr)
    _ = try copy([pictures[0]], to: "val/zebra")
    try assertFailure(
      evalArguments(path("val"), []), status: 1, contains: "folder 'zebra': 'zebra' names no class")
    try assertFailure(evalArguments(path("missing"), []), status: 64, contains: "'--images': no such directory")
    try assertFailure(["eval", "--weights", weights], status: 64, contains: "missing '--images <dir>'")
    try assertFailure(evalArguments(folder, ["--batch", "0"]), status: 64, contains: "'--batch' must be in 1…4096")
    try assertFailure(
      evalArguments(folder, ["--sparsity", "dense,nope"]), status: 64,
      contains: "'--sparsity' item 'nope' is not a ratio")
    try assertFailure(
      evalArguments(folder, ["--sparsity", "cfg1_42ms"]), status: 64, contains: "'--sparsity' item 'cfg1_42ms'")
    try assertFailure(
      evalArguments(folder, ["--json", path("same"), "--csv", path("same")]), status: 64,
      contains: "must name different files")
    try assertFailure(
      evalArguments(folder, ["--resize", "direct", "--crop-fraction", "0.9"]), status: 64,
      contains: "'--crop-fraction' applies to '--resize crop' only")
    try "a\nb\n".write(toFile: path("two.txt"), atomically: true, encoding: .utf8)
    try assertFailure(
      evalArguments(folder, ["--classes", path("two.txt")]), status: 1, contains: "has 2 classes, the model has 10")
  }
}
