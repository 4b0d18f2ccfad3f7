// PNG/JPEG decoding against PIL's decodings (Tests/Fixtures/images, scripts/make_image_fixtures.py),
// PNG encoding round trips, and every rejection path: truncated, corrupt, unsupported, mislabelled
// and oversized files give a typed error naming the file, never a crash.
import Engine
import Foundation
import ImageIO
import TestSupport
import XCTest

final class ImageCodecTests: XCTestCase {
  let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/images")

  private func bytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
  }

  private func decode(_ name: String, maxPixels: Int = 100_000_000) throws -> DecodedImage {
    try ImageCodec.decode(bytes(name), name: name, maxPixels: maxPixels)
  }

  /// Decodes `name` and `name.expected.png` (PIL's `convert("RGB")` of it) and compares them
  /// element-wise within `tolerance` levels.
  private func assertMatchesPIL(_ name: String, tolerance: Float, file: StaticString = #filePath, line: UInt = #line)
    throws
  {
    let image = try decode(name)
    let expected = try decode(name + ".expected.png")
    XCTAssertEqual(image.width, expected.width, name, file: file, line: line)
    XCTAssertEqual(image.height, expected.height, name, file: file, line: line)
    let comparison = compare(
      image.pixels.map(Float.init), expected.pixels.map(Float.init), atol: Double(tolerance), rtol: 0, label: name)
    XCTAssertTrue(comparison.passed, comparison.description, file: file, line: line)
  }

  private func assertThrows(
    _ name: String, maxPixels: Int = 100_000_000, file: StaticString = #filePath, line: UInt = #line,
    _ check: (ImageError) -> Bool
  ) throws {
    let data = try bytes(name)
    do throws(ImageError) {
      let image = try ImageCodec.decode(data, name: name, maxPixels: maxPixels)
      XCTFail("\(name) decoded to \(image.width)×\(image.height), expected an error", file: file, line: line)
    } catch {
      XCTAssertTrue(check(error), "\(name): unexpected error \(error)", file: file, line: line)
      XCTAssertTrue(
        error.description.hasPrefix(name + ": "), "message does not name the file: \(error)", file: file, line: line)
    }
  }

  // MARK: - Decoding

  func testPNGLayoutsDecodeLikePIL() throws {
    // 8-bit gray, 1-bit gray, gray + alpha, palette, RGBA (alpha dropped): byte-identical.
    for name in ["gray8.png", "gray1.png", "gray_alpha.png", "palette.png", "rgba.png"] {
      try assertMatchesPIL(name, tolerance: 0)
    }
    // 16-bit: libpng rounds 65535 → 255 scaling, PIL keeps the high byte.
    try assertMatchesPIL("rgb16.png", tolerance: 1)
  }

  func testJPEGDecodesLikePIL() throws {
    // Same IDCT (islow) and fancy upsampling as PIL's libjpeg-turbo.
    for name in ["cat.jpg", "cat_progressive.jpg", "cat_gray.jpg"] {
      try assertMatchesPIL(name, tolerance: 0)
    }
    let gray = try decode("cat_gray.jpg")
    for pixel in 0..<gray.width * gray.height {
      XCTAssertEqual(gray.pixels[3 * pixel], gray.pixels[3 * pixel + 1])
      XCTAssertEqual(gray.pixels[3 * pixel], gray.pixels[3 * pixel + 2])
    }
  }

  func testPhotoSizes() throws {
    let photo = try decode("coffee.png")
    XCTAssertEqual([photo.width, photo.height, photo.pixels.count], [120, 80, 120 * 80 * 3])
    let cat = try decode("cat.jpg")
    XCTAssertEqual([cat.width, cat.height], [150, 100])
  }

  // MARK: - Encoding

  func testPNGRoundTrip() throws {
    var generator = SplitMix64(seed: 7)
    for (width, height) in [(1, 1), (3, 2), (17, 5), (64, 33)] {
      let pixels = (0..<width * height * 3).map { _ in UInt8.random(in: 0...255, using: &generator) }
      let encoded = try ImageCodec.encodePNG(width: width, height: height, pixels: pixels, name: "round trip")
      XCTAssertEqual(ImageFormat(signature: encoded), .png)
      let decoded = try ImageCodec.decode(encoded, name: "round trip", maxPixels: width * height)
      XCTAssertEqual([decoded.width, decoded.height], [width, height])
      XCTAssertEqual(decoded.pixels, pixels, "\(width)×\(height)")
    }
  }

  func testEncodeRejectsBadArguments() {
    XCTAssertThrowsError(try ImageCodec.encodePNG(width: 2, height: 2, pixels: [0, 1, 2], name: "x")) { error in
      XCTAssertEqual(error as? ImageError, .pixelCount(width: 2, height: 2, expected: 12, actual: 3))
    }
    XCTAssertThrowsError(try ImageCodec.encodePNG(width: 0, height: 2, pixels: [], name: "x.png")) { error in
      XCTAssertTrue(String(describing: error).contains("0×2"), "\(error)")
    }
  }

  // MARK: - Rejections

  func testCorruptAndTruncatedFilesAreTypedErrors() throws {
    try assertThrows("truncated.png") { if case .corrupt(_, "PNG", _) = $0 { true } else { false } }
    try assertThrows("bad_crc.png") {
      if case .corrupt(_, "PNG", let reason) = $0 { reason.contains("CRC") } else { false }
    }
    try assertThrows("truncated.jpg") { if case .corrupt(_, "JPEG", _) = $0 { true } else { false } }
    try assertThrows("bad_data.png") { if case .corrupt(_, "PNG", _) = $0 { true } else { false } }
    try assertThrows("bad.jpg") { if case .corrupt(_, "JPEG", _) = $0 { true } else { false } }
    try assertThrows("bad_scan.jpg") { if case .corrupt(_, "JPEG", _) = $0 { true } else { false } }
  }

  func testUnrecognizedAndUnsupportedFiles() throws {
    try assertThrows("not_an_image.png") { error in
      guard case .unrecognizedFormat(_, let signature) = error else { return false }
      return signature.contains("This is") && error.description.contains("not a PNG or JPEG image")
    }
    try assertThrows("cat_cmyk.jpg") { error in
      if case .unsupported(_, "JPEG", let reason) = error { reason.contains("CMYK") } else { false }
    }
    XCTAssertThrowsError(try ImageCodec.decode([], name: "empty.png", maxPixels: 10)) { error in
      XCTAssertEqual(error as? ImageError, .empty(name: "empty.png"))
    }
  }

  func testDeclaredSizeOverTheLimitIsRefusedBeforeDecoding() throws {
    try assertThrows("huge.png") {
      $0 == .tooLarge(name: "huge.png", width: 100_000, height: 100_000, maxPixels: 100_000_000)
    }
    try assertThrows("huge.jpg") {
      $0 == .tooLarge(name: "huge.jpg", width: 60_000, height: 60_000, maxPixels: 100_000_000)
    }
    try assertThrows("coffee.png", maxPixels: 9_599) {
      $0 == .tooLarge(name: "coffee.png", width: 120, height: 80, maxPixels: 9_599)
    }
    XCTAssertNoThrow(try decode("coffee.png", maxPixels: 9_600))
    try assertThrows("cat.jpg", maxPixels: 100) {
      $0 == .tooLarge(name: "cat.jpg", width: 150, height: 100, maxPixels: 100)
    }
    let message = ImageError.tooLarge(name: "huge.png", width: 100_000, height: 100_000, maxPixels: 100_000_000)
      .description
    XCTAssertEqual(message, "huge.png: 100000×100000 pixels (10000 megapixels) is over the limit of 100 megapixels")
    XCTAssertEqual(
      ImageError.tooLarge(name: "cat.jpg", width: 150, height: 100, maxPixels: 100).description,
      "cat.jpg: 150×100 = 15000 pixels is over the limit of 100 pixels")
  }

  /// Every prefix and many single-byte corruptions of a PNG and a JPEG: each either decodes to the
  /// right size or throws; none crashes, hangs or returns garbage sizes.
  func testDamagedFilesNeverCrash() throws {
    for name in ["coffee.png", "cat.jpg", "cat_progressive.jpg"] {
      let original = try bytes(name)
      var damaged: [[UInt8]] = stride(from: 0, to: original.count, by: max(1, original.count / 97)).map {
        Array(original.prefix($0))
      }
      var generator = SplitMix64(seed: 11)
      for _ in 0..<60 {
        var copy = original
        let index = Int.random(in: 0..<copy.count, using: &generator)
        copy[index] ^= UInt8.random(in: 1...255, using: &generator)
        damaged.append(copy)
      }
      for data in damaged {
        do {
          let image = try ImageCodec.decode(data, name: name, maxPixels: 1_000_000)
          XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
          XCTAssertLessThanOrEqual(image.width * image.height, 1_000_000)
        } catch {
          XCTAssertTrue(error.description.hasPrefix(name), "\(error)")
        }
      }
    }
  }
}
