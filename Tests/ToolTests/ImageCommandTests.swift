// `sparsevit run --image` and `sparsevit mask` as a user runs them, on real PNG and JPEG photos
// (Tests/Fixtures/images): top classes on stdout, logits equal to the library's, a readable mask
// PNG; corrupt, unsupported, mislabelled and oversized images fail with one `Error:` line.
import Engine
import Foundation
import Models
import TestSupport
import XCTest

final class ImageCommandTests: CommandTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
  var weights: String { fixtures.appendingPathComponent("tiny/tiny.timm.f32.safetensors").path }

  private func image(_ name: String) -> String { fixtures.appendingPathComponent("images/\(name)").path }

  private func assertFailure(
    _ arguments: [String], status: Int32, contains fragment: String, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    try assertOneLineFailure(
      arguments, status: status, contains: fragment, usage: "Usage: sparsevit", file: file, line: line)
  }

  /// `rank class probability logit name` rows of the top table.
  private func topRows(_ stdout: String) -> [[String]] {
    stdout.split(separator: "\n").dropFirst().map { line in
      let fields = line.split(separator: " ").map(String.init)
      return Array(fields.prefix(4)) + [fields.dropFirst(4).joined(separator: " ")]
    }
  }

  func testRunImagePrintsTopClassesForPNGAndJPEG() throws {
    for name in ["coffee.png", "cat.jpg", "cat_gray.jpg", "palette.png", "rgb16.png"] {
      let result = try sparsevit([
        "run", "--image", image(name), "--weights", weights, "--size", "64", "--top", "3", "--threads", "1",
      ])
      XCTAssertEqual(result.status, 0, "\(name): \(result.stderr)")
      let lines = result.stdout.split(separator: "\n")
      XCTAssertEqual(lines.first, "rank  class  probability     logit  name", name)
      let rows = topRows(result.stdout)
      XCTAssertEqual(rows.map { $0[0] }, ["1", "2", "3"], name)
      // The tiny model has 10 classes: names are "class <id>".
      for row in rows { XCTAssertEqual(row[4], "class \(row[1])", name) }
      let probabilities = rows.map { Double($0[2])! }
      XCTAssertEqual(probabilities, probabilities.sorted(by: >), name)
    }
  }

  /// The command's logits equal the library's forward on the same decoded, preprocessed image.
  func testRunImageLogitsEqualTheLibrarys() throws {
    for (resize, mode) in [("crop", ImagePreprocessing.Resize.centerCrop), ("direct", .direct)] {
      let result = try sparsevit([
        "run", "--image", image("cat.jpg"), "--weights", weights, "--size", "72", "--resize", resize, "--threads", "1",
        "--sparsity", "0.5", "--output", path("y.npy"), "--features", path("features"), "--verbose",
      ])
      XCTAssertEqual(result.status, 0, result.stderr)
      XCTAssertTrue(result.stderr.contains("→ 72×72 (\(resize), bicubic)"), result.stderr)
      let model = try SwinTransformer.load(path: weights)
      let expected = try model.forward(
        RGBImage.load(path: image("cat.jpg")), preprocessing: ImagePreprocessing(size: 72, resize: mode),
        sparsity: .uniform(0.5, depths: model.configuration.depths), options: ForwardOptions(threads: 1))
      XCTAssertEqual(try readNumPy(path: path("y.npy")).values, expected.logits!.values, resize)
      XCTAssertEqual(try readNumPy(path: path("features/stage0.npy")).shape, [1, 18, 18, 4])
    }
  }

  /// The default model (seeded Swin-T, 1000 classes) prints ImageNet class names.
  func testRunImageWithImageNetNames() throws {
    let result = try sparsevit(["run", "--image", image("cat.jpg"), "--size", "32", "--threads", "2"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let rows = topRows(result.stdout)
    XCTAssertEqual(rows.count, 5)
    for row in rows { XCTAssertEqual(row[4], ImageNetClasses.names[Int(row[1])!]) }
  }

  /// A backbone without a head (mmdet layout) gives stage features for an image, no classes.
  func testRunImageOnABackbone() throws {
    let backbone = fixtures.appendingPathComponent("tiny/tiny.mmdet.f16.safetensors").path
    let result = try sparsevit([
      "run", "--image", image("coffee.png"), "--weights", backbone, "--size", "64", "--features", path("f"),
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertEqual(result.stdout, "")
    XCTAssertEqual(try readNumPy(path: path("f/stage3.normed.npy")).shape, [1, 2, 2, 32])
    try assertFailure(
      ["run", "--image", image("coffee.png"), "--weights", backbone, "--size", "64"], status: 1,
      contains: "no classifier head")
  }

  func testMaskWritesAPanelPerStage() throws {
    let sparsity = path("cfg.json")
    try Data(#"{"pruning_ratios": [[0.5, 0.5], [0, 0], [0.25, 0.5], [0, 0]]}"#.utf8).write(
      to: URL(fileURLWithPath: sparsity))
    for name in ["cat.jpg", "coffee.png"] {
      let output = path("\(name).mask.png")
      let result = try sparsevit([
        "mask", "--image", image(name), "--sparsity", sparsity, "--output", output, "--weights", weights, "--size",
        "96",
      ])
      XCTAssertEqual(result.status, 0, result.stderr)
      let lines = result.stdout.split(separator: "\n").map(String.init)
      XCTAssertEqual(lines.count, 5, result.stdout)
      XCTAssertTrue(lines[0].hasPrefix("stage 0 blocks 0,1: ratio 0.5, kept 8/16 windows"), lines[0])
      XCTAssertTrue(lines[1].hasPrefix("stage 1 blocks 0,1: ratio 0.0, kept 4/4 windows"), lines[1])
      XCTAssertTrue(result.stderr.contains("wrote \(output)"), result.stderr)
      let picture = try RGBImage.load(path: output)
      XCTAssertGreaterThan(picture.width, 4 * 288)
    }
  }

  func testUsageErrors() throws {
    try assertFailure(["run", "--image", image("cat.jpg"), "--input", "x.npy"], status: 64, contains: "alternatives")
    try assertFailure(
      ["run", "--weights", weights], status: 64, contains: "missing '--input <x.npy>' or '--image <file>'")
    try assertFailure(["run", "--image", path("absent.png")], status: 64, contains: "absent.png")
    try assertFailure(
      ["run", "--image", image("cat.jpg"), "--resize", "stretch"], status: 64, contains: "'crop' or 'direct'")
    try assertFailure(["run", "--image", image("cat.jpg"), "--top", "0"], status: 64, contains: "'--top' must be in 1")
    try assertFailure(
      ["run", "--image", image("cat.jpg"), "--size", "0"], status: 64, contains: "'--size' must be in 1")
    let input = fixtures.appendingPathComponent("tiny/dense_64x64_b1.input.npy").path
    try assertFailure(
      ["run", "--input", input, "--output", path("y.npy"), "--size", "64"], status: 64,
      contains: "'--size' applies to '--image'")
    try assertFailure(
      ["mask", "--image", image("cat.jpg"), "--output", path("m.png")], status: 64,
      contains: "missing '--sparsity <cfg>'")
    try assertFailure(
      ["mask", "--image", image("cat.jpg"), "--sparsity", "0.5"], status: 64, contains: "missing '--output <mask.png>'")
    try assertFailure(
      ["mask", "--sparsity", "0.5", "--output", path("m.png")], status: 64, contains: "missing '--image <file>'")
  }

  func testBadImagesFailWithOneLine() throws {
    let cases: [(String, String)] = [
      ("not_an_image.png", "not a PNG or JPEG image"),
      ("truncated.png", "corrupt or truncated PNG image"),
      ("bad_crc.png", "CRC"),
      ("truncated.jpg", "corrupt or truncated JPEG image"),
      ("bad.jpg", "corrupt or truncated JPEG image"),
      ("cat_cmyk.jpg", "CMYK"),
      ("huge.png", "100000×100000 pixels"),
      ("huge.jpg", "60000×60000 pixels"),
    ]
    for (name, fragment) in cases {
      try assertFailure(
        ["run", "--image", image(name), "--weights", weights, "--size", "64"], status: 1, contains: fragment)
      try assertFailure(
        ["run", "--image", image(name), "--weights", weights, "--size", "64"], status: 1, contains: name)
      try assertFailure(
        ["mask", "--image", image(name), "--weights", weights, "--sparsity", "0.5", "--output", path("m.png")],
        status: 1,
        contains: fragment)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("m.png")), "a failed mask left an output file")
    // A model that cannot take the image size: the model's message, exit 1.
    try assertFailure(
      ["run", "--image", image("cat.jpg"), "--weights", weights, "--size", "16"], status: 1, contains: "16×16 pixels")
    // Nowhere to write the picture.
    try assertFailure(
      [
        "mask", "--image", image("cat.jpg"), "--weights", weights, "--sparsity", "0.5", "--size", "64", "--output",
        path("no/dir/m.png"),
      ],
      status: 1, contains: "cannot write")
  }
}
