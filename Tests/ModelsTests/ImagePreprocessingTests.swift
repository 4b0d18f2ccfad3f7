// Preprocessing against timm/torchvision references computed once with PIL (Tests/Fixtures/images,
// scripts/make_image_fixtures.py): centre crop and direct resize, bicubic and bilinear, shrinking
// and enlarging; crop rounding, normalization arithmetic, batching and parameter validation.
import Engine
import Foundation
import ImageIO
import Models
import TestSupport
import XCTest

final class ImagePreprocessingTests: XCTestCase {
  let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/images")

  private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  private func assertMatchesReference(
    _ image: String, _ preprocessing: ImagePreprocessing, reference: String, file: StaticString = #filePath,
    line: UInt = #line
  ) throws {
    let input = try preprocessing.tensor(RGBImage.load(path: path(image)))
    let expected = try readNumPy(path: path(reference))
    XCTAssertEqual(input.shape, expected.shape, reference, file: file, line: line)
    // Same fixed-point resampling and float32 arithmetic as PIL + torch: exact.
    let comparison = compare(input.values, expected.values, atol: 0, rtol: 0, label: reference)
    XCTAssertTrue(comparison.passed, comparison.description, file: file, line: line)
  }

  func testTimmCenterCropBicubic() throws {
    // 120×80 → shorter side ⌊56 / 0.875⌋ = 64 → 96×64 → centre 56×56.
    let preprocessing = try ImagePreprocessing(size: 56)
    XCTAssertEqual(preprocessing.resizedShorterSide, 64)
    XCTAssertTrue(preprocessing.resizedSize(width: 120, height: 80) == (96, 64))
    try assertMatchesReference("coffee.png", preprocessing, reference: "coffee.crop56.bicubic.npy")
  }

  func testTimmCenterCropBilinear() throws {
    try assertMatchesReference(
      "coffee.png", ImagePreprocessing(size: 56, interpolation: .bilinear), reference: "coffee.crop56.bilinear.npy")
  }

  func testDirectResize() throws {
    try assertMatchesReference(
      "coffee.png", ImagePreprocessing(size: 56, resize: .direct), reference: "coffee.direct56.bicubic.npy")
  }

  func testEnlargingCenterCrop() throws {
    // 48×32 → shorter side ⌊40 / 0.875⌋ = 45 → 67×45 (enlarged) → centre 40×40.
    let preprocessing = try ImagePreprocessing(size: 40)
    XCTAssertTrue(preprocessing.resizedSize(width: 48, height: 32) == (67, 45))
    try assertMatchesReference("small.png", preprocessing, reference: "small.crop40.bicubic.npy")
  }

  func testStandardIsTimmAt224() throws {
    let standard = ImagePreprocessing.standard
    XCTAssertEqual(standard, try ImagePreprocessing())
    XCTAssertEqual(standard.size, 224)
    XCTAssertEqual(standard.resizedShorterSide, 256)
    XCTAssertEqual(standard.resize, .centerCrop)
    XCTAssertEqual(standard.interpolation, .bicubic)
    // torchvision Resize(256) of the 451×300 sample: int(256 · 451 / 300) = 384.
    XCTAssertTrue(standard.resizedSize(width: 300, height: 451) == (256, 384))
    XCTAssertTrue(standard.resizedSize(width: 451, height: 300) == (384, 256))
  }

  /// With nothing to resample (crop fraction 1, shorter side already `size`) the crop offsets
  /// follow torchvision: `int(round((W − size) / 2))` with Python's half-to-even rounding.
  func testCropOffsetsRoundHalfToEven() throws {
    let preprocessing = try ImagePreprocessing(size: 4, cropFraction: 1)
    for (width, left) in [(5, 0), (6, 1), (7, 2), (9, 2), (4, 0)] {
      // Column x has red = x, so the crop's first red value is its left offset.
      var pixels: [UInt8] = []
      for _ in 0..<4 { for x in 0..<width { pixels += [UInt8(x), 0, 0] } }
      let image = try RGBImage(width: width, height: 4, pixels: pixels)
      let cropped = preprocessing.resized(image)
      XCTAssertEqual([cropped.width, cropped.height], [4, 4])
      XCTAssertEqual(cropped[x: 0, y: 0].red, UInt8(left), "width \(width)")
      XCTAssertEqual(cropped[x: 3, y: 3].red, UInt8(left + 3), "width \(width)")
    }
  }

  func testNormalizationArithmetic() throws {
    let preprocessing = try ImagePreprocessing(size: 1, resize: .direct)
    let image = try RGBImage(width: 1, height: 1, pixels: [0, 128, 255])
    let tensor = preprocessing.tensor(image)
    XCTAssertEqual(tensor.shape, [1, 3, 1, 1])
    let expected: [Float] = [
      (0 / 255 - 0.485) / 0.229, (Float(128) / 255 - 0.456) / 0.224, (Float(255) / 255 - 0.406) / 0.225,
    ]
    XCTAssertEqual(tensor.values, expected)
    let custom = try ImagePreprocessing(size: 1, resize: .direct, mean: [0, 0, 0], std: [1, 1, 1])
    XCTAssertEqual(custom.tensor(image).values, [0, Float(128) / 255, 1])
  }

  func testBatchStacksImages() throws {
    let preprocessing = try ImagePreprocessing(size: 32)
    let coffee = try RGBImage.load(path: path("coffee.png")), cat = try RGBImage.load(path: path("cat.jpg"))
    let batch = preprocessing.tensor([coffee, cat])
    XCTAssertEqual(batch.shape, [2, 3, 32, 32])
    XCTAssertEqual(Array(batch.values[0..<3 * 32 * 32]), preprocessing.tensor(coffee).values)
    XCTAssertEqual(Array(batch.values[(3 * 32 * 32)...]), preprocessing.tensor(cat).values)
    XCTAssertEqual(preprocessing.tensor([]).shape, [0, 3, 32, 32])
  }

  /// A 1-pixel-high strip would be resized to 1 × 36,571 · 20,000 pixels before cropping; only the
  /// crop is computed, so it stays small and fast.
  func testExtremeAspectRatioComputesOnlyTheCrop() throws {
    let strip = try RGBImage(width: 20_000, height: 1, pixels: [UInt8](repeating: 200, count: 60_000))
    let preprocessing = try ImagePreprocessing(size: 32)
    let picture = preprocessing.resized(strip)
    XCTAssertEqual([picture.width, picture.height], [32, 32])
    XCTAssertTrue(picture.pixels.allSatisfy { $0 == 200 }, "a constant image stays constant")
  }

  func testParameterValidation() {
    func message(_ body: () throws(ImageError) -> ImagePreprocessing) -> String {
      do {
        _ = try body()
        return "no error"
      } catch {
        return error.description
      }
    }
    XCTAssertEqual(
      message { () throws(ImageError) in try ImagePreprocessing(size: 0) },
      "preprocessing size is 0, expected 1…65536 pixels")
    XCTAssertTrue(
      message { () throws(ImageError) in try ImagePreprocessing(cropFraction: 0) }.hasPrefix("crop fraction is 0.0"))
    XCTAssertTrue(message { () throws(ImageError) in try ImagePreprocessing(cropFraction: 1.5) }.contains("(0, 1]"))
    XCTAssertTrue(
      message { () throws(ImageError) in try ImagePreprocessing(cropFraction: .nan) }.contains("crop fraction"))
    XCTAssertTrue(
      message { () throws(ImageError) in try ImagePreprocessing(mean: [0.5, 0.5]) }.contains("3 finite values"))
    XCTAssertTrue(message { () throws(ImageError) in try ImagePreprocessing(std: [1, 0, 1]) }.contains("3 positive"))
  }

  func testImageValueValidation() {
    XCTAssertThrowsError(try RGBImage(width: 2, height: 2, pixels: [1, 2, 3])) { error in
      XCTAssertEqual(error as? ImageError, .pixelCount(width: 2, height: 2, expected: 12, actual: 3))
    }
    XCTAssertThrowsError(try RGBImage(width: 0, height: 2, pixels: [])) { error in
      XCTAssertTrue(String(describing: error).contains("0×2"))
    }
  }

  func testLoadAndWritePNG() throws {
    let missing = directory.appendingPathComponent("absent.png").path
    XCTAssertThrowsError(try RGBImage.load(path: missing)) { error in
      XCTAssertEqual(error as? ImageError, .unreadable(path: missing, reason: "no such file"))
    }
    XCTAssertThrowsError(try RGBImage.load(path: directory.path)) { error in
      XCTAssertEqual(String(describing: error), "\(directory.path): cannot read: is a directory, expected a file")
    }
    let image = try RGBImage.load(path: path("cat.jpg"))
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("rgbimage-\(UUID().uuidString).png").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    try image.writePNG(to: output)
    XCTAssertEqual(try RGBImage.load(path: output), image)
    XCTAssertEqual(try RGBImage.decode(image.pngData()), image)
    XCTAssertThrowsError(try image.writePNG(to: "/nonexistent-directory/x.png")) { error in
      guard case .unwritable(let path, _) = error as? ImageError else { return XCTFail("\(error)") }
      XCTAssertEqual(path, "/nonexistent-directory/x.png")
    }
  }

  // MARK: - Class names and top-k (ImageNetClasses.swift; here because the brief lists no test file for it)

  func testClassNamesMatchTheShippedList() throws {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
      .appendingPathComponent("weights/imagenet_classes.txt")
    let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
      .dropLast()
    XCTAssertEqual(lines.map(String.init), ImageNetClasses.names)
    XCTAssertEqual(ImageNetClasses.names.count, 1000)
    XCTAssertEqual(ImageNetClasses.name(of: 0), "tench")
    XCTAssertEqual(ImageNetClasses.name(of: 281), "tabby")
    XCTAssertEqual(ImageNetClasses.name(of: 999), "toilet tissue")
    XCTAssertNil(ImageNetClasses.name(of: 1000))
  }

  func testTopClasses() {
    let logits = Tensor(shape: [2, 4], values: [1, 3, 3, -2, 0, 0, 0, 0])
    let top = ClassPrediction.top(3, logits: logits, names: ["a", "b", "c"])
    XCTAssertEqual(top.count, 2)
    // Ties keep the lower class id first; a class without a name is "class <id>".
    XCTAssertEqual(top[0].map(\.index), [1, 2, 0])
    XCTAssertEqual(top[0].map(\.name), ["b", "c", "a"])
    XCTAssertEqual(top[1].map(\.index), [0, 1, 2])
    let total = exp(1.0) + 2 * exp(3.0) + exp(-2.0)
    XCTAssertEqual(Double(top[0][0].probability), exp(3.0) / total, accuracy: 1e-6)
    XCTAssertEqual(top[1].map(\.probability), [0.25, 0.25, 0.25])
    XCTAssertEqual(
      ClassPrediction.top(10, logits: logits)[0].map(\.name), ["class 1", "class 2", "class 0", "class 3"])
    XCTAssertEqual(ClassPrediction.top(0, logits: logits), [[], []])
    // Large logits do not overflow the softmax.
    let large = ClassPrediction.top(1, logits: Tensor(shape: [1, 2], values: [1000, 999]))
    XCTAssertEqual(Double(large[0][0].probability), 1 / (1 + exp(-1.0)), accuracy: 1e-6)
    // 1000 classes: ImageNet names by default.
    var values = [Float](repeating: 0, count: 1000)
    values[281] = 5
    XCTAssertEqual(ClassPrediction.top(1, logits: Tensor(shape: [1, 1000], values: values))[0][0].name, "tabby")
  }
}
