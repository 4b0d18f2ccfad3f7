// Tests for SafeTensors.swift: round trips in F32/F16/BF16, a file written by the Python
// `safetensors` package, exact half-precision conversions, and every error case on hand-built bytes.

import Engine
import Foundation
import Models
import TestSupport
import XCTest

final class SafeTensorsTests: XCTestCase {
  private let fileName = "t.safetensors"

  // MARK: Helpers

  /// A safetensors file from a header text and data bytes; `length` overrides the header length.
  private func file(_ header: String, _ data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    let n = length ?? UInt64(headerBytes.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + headerBytes + data
  }

  /// One header entry as JSON.
  private func entry(_ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
    "{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
  }

  private func littleEndian(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in
      (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
    }
  }

  private func littleEndian(_ values: [UInt16]) -> [UInt8] {
    values.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
  }

  private func parseError(_ bytes: [UInt8], allowNonFinite: Bool = false) -> SafeTensorsError? {
    do throws(SafeTensorsError) {
      _ = try SafeTensorsFile.parse(bytes, name: fileName, allowNonFinite: allowNonFinite)
      return nil
    } catch {
      return error
    }
  }

  private func assertError(
    _ bytes: [UInt8], _ expected: SafeTensorsError, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertEqual(parseError(bytes), expected, file: file, line: line)
  }

  /// Asserts the bytes fail with `.invalidJSON`, optionally at a given header offset.
  private func assertInvalidJSON(
    _ bytes: [UInt8], at expectedOffset: Int? = nil, reason fragment: String = "",
    file: StaticString = #filePath, line: UInt = #line
  ) {
    guard case .invalidJSON(let reported, let offset, let reason) = parseError(bytes) else {
      return XCTFail(
        "expected .invalidJSON, got \(String(describing: parseError(bytes)))", file: file,
        line: line)
    }
    XCTAssertEqual(reported, fileName, file: file, line: line)
    if let expectedOffset { XCTAssertEqual(offset, expectedOffset, reason, file: file, line: line) }
    XCTAssertTrue(reason.contains(fragment), reason, file: file, line: line)
  }

  /// The data section of an encoded file.
  private func dataSection(_ bytes: [UInt8]) -> [UInt8] {
    let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
    return Array(bytes[(8 + n)...])
  }

  /// The half bits `SafeTensorsFile.encode` writes for each value.
  private func encodedHalves(_ values: [Float], dtype: String) throws -> [UInt16] {
    let bytes = try SafeTensorsFile.encode(
      ["x": Tensor(shape: [values.count], values: values)], dtype: dtype)
    let data = dataSection(bytes)
    return (0..<values.count).map { UInt16(data[2 * $0]) | UInt16(data[2 * $0 + 1]) << 8 }
  }

  /// Decodes half bits through a hand-built file.
  private func decodedHalves(_ bits: [UInt16], dtype: String) throws -> [Float] {
    let bytes = file(
      "{\"x\":\(entry(dtype, [bits.count], 0, 2 * bits.count))}", littleEndian(bits))
    return try SafeTensorsFile.parse(bytes, name: fileName, allowNonFinite: true).tensors["x"]!
      .values
  }

  private func temporaryPath() -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString).safetensors").path
    addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
  }

  private func randomTensors(seed: UInt64) -> [String: Tensor] {
    var generator = SplitMix64(seed: seed)
    let shapes: [String: [Int]] = [
      "layers.0.blocks.1.attn.qkv.weight": [12, 4], "head.fc.bias": [7], "scalar": [],
      "empty": [0, 3], "patch_embed.proj.weight": [2, 3, 2, 2], "odd": [1, 1, 5],
    ]
    return shapes.mapValues { shape in
      Tensor(
        shape: shape,
        values: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -3...3, using: &generator) })
    }
  }

  // MARK: Round trips

  func testF32RoundTripIsExactWithMetadata() throws {
    let tensors = randomTensors(seed: 1)
    let path = temporaryPath()
    try SafeTensorsFile.write(
      tensors, metadata: ["format": "pt", "note": "a \"quoted\"\nline"], to: path)
    let loaded = try SafeTensorsFile.load(path: path)
    XCTAssertEqual(loaded.tensors, tensors)
    XCTAssertEqual(loaded.dtypes, tensors.mapValues { _ in "F32" })
    XCTAssertEqual(loaded.metadata, ["format": "pt", "note": "a \"quoted\"\nline"])
  }

  func testWrittenHeaderIsSortedAndPaddedToEightBytes() throws {
    let bytes = try SafeTensorsFile.encode(randomTensors(seed: 2))
    let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
    XCTAssertEqual(n % 8, 0)
    let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
    let names = [
      "empty", "head.fc.bias", "layers.0.blocks.1.attn.qkv.weight", "odd",
      "patch_embed.proj.weight", "scalar",
    ]
    let positions = names.map { header.range(of: "\"\($0)\"")!.lowerBound }
    XCTAssertEqual(positions, positions.sorted())
    XCTAssertTrue(
      header.hasPrefix("{\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}"))
  }

  func testF16AndBF16RoundTripsOfRepresentableValuesAreExact() throws {
    // Values with at most 7 significant bits, in range for both formats.
    var generator = SplitMix64(seed: 3)
    let values = (0..<200).map { _ in
      let mantissa = Float(Int.random(in: -127...127, using: &generator))
      return mantissa
        * Float(sign: .plus, exponent: Int.random(in: -12...8, using: &generator), significand: 1)
    }
    let tensors = [
      "w": Tensor(shape: [10, 20], values: values), "s": Tensor(shape: [], values: [0.5]),
    ]
    for dtype in ["F16", "BF16"] {
      let path = temporaryPath()
      try SafeTensorsFile.write(tensors, to: path, dtype: dtype)
      let loaded = try SafeTensorsFile.load(path: path)
      XCTAssertEqual(loaded.tensors, tensors, dtype)
      XCTAssertEqual(loaded.dtypes, ["w": dtype, "s": dtype])
    }
  }

  func testNarrowRoundTripsStayWithinHalfAnUlp() throws {
    var generator = SplitMix64(seed: 4)
    let values = (0..<1000).map { _ in Float.random(in: -100...100, using: &generator) }
    let tensors = ["x": Tensor(shape: [values.count], values: values)]
    // Half an ulp relative for normal numbers; F16 subnormals are off by at most 2⁻²⁵.
    for (dtype, ulp, atol) in [("F16", 0x1p-10, 0x1p-25), ("BF16", 0x1p-7, 0)]
      as [(String, Double, Double)]
    {
      let loaded = try SafeTensorsFile.parse(
        SafeTensorsFile.encode(tensors, dtype: dtype), name: fileName)
      let comparison = compare(
        loaded.tensors["x"]!.values, values, atol: atol, rtol: ulp / 2, label: dtype)
      XCTAssertTrue(comparison.passed, comparison.description)
    }
  }

  func testZeroElementAndRankZeroTensors() throws {
    let header =
      "{\"e\":\(entry("F32", [2, 0, 5], 0, 0)),\"s\":\(entry("F32", [], 0, 4)),"
      + "\"f\":\(entry("F16", [0], 4, 4))}"
    let loaded = try SafeTensorsFile.parse(
      file(header, littleEndian([1.5] as [Float])), name: fileName)
    XCTAssertEqual(loaded.tensors["e"], Tensor(shape: [2, 0, 5], values: []))
    XCTAssertEqual(loaded.tensors["s"], Tensor(shape: [], values: [1.5]))
    XCTAssertEqual(loaded.tensors["f"], Tensor(shape: [0], values: []))
    XCTAssertEqual(loaded.dtypes["f"], "F16")
    XCTAssertEqual(loaded.metadata, [:])
  }

  func testEmptyFileHasNoTensors() throws {
    let loaded = try SafeTensorsFile.parse(file("{}      "), name: fileName)
    XCTAssertTrue(loaded.tensors.isEmpty)
    let written = try SafeTensorsFile.parse(SafeTensorsFile.encode([:]), name: fileName)
    XCTAssertTrue(written.tensors.isEmpty)
  }

  func testUnalignedDataIsCopied() throws {
    // An odd-length header puts the data at an odd byte, and the F32 tensor follows an F16.
    let header = "{\"h\":\(entry("F16", [1], 0, 2)),\"w\":\(entry("F32", [2], 2, 10))} "
    let data =
      littleEndian([0x3C00] as [UInt16]) + littleEndian([-1.25, Float(bitPattern: 0x0020_ABCD)])
    XCTAssertEqual((8 + header.utf8.count) % 2, 1)
    let loaded = try SafeTensorsFile.parse(file(header, data), name: fileName)
    XCTAssertEqual(loaded.tensors["h"]!.values, [1])
    XCTAssertEqual(
      loaded.tensors["w"]!.values.map(\.bitPattern), [(-1.25 as Float).bitPattern, 0x0020_ABCD])
  }

  func testFileWrittenByPythonSafetensors() throws {
    // safetensors 0.4 `save({"w": f16 [[1, -2.5], [0.1, 65504]], "b": bf16 [1, -0.1, 3e38],
    // "s": f32 0.25, "z": f32 zeros(0, 3)}, metadata={"format": "pt"})`: tensors ordered by
    // alignment, not name, so the offsets are not in name order.
    let hex =
      "00010000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074227d2c2273223a"
      + "7b226474797065223a22463332222c227368617065223a5b5d2c22646174615f6f666673657473223a5b302c"
      + "345d7d2c227a223a7b226474797065223a22463332222c227368617065223a5b302c335d2c22646174615f6f"
      + "666673657473223a5b342c345d7d2c2262223a7b226474797065223a2242463136222c227368617065223a5b"
      + "335d2c22646174615f6f666673657473223a5b342c31305d7d2c2277223a7b226474797065223a2246313622"
      + "2c227368617065223a5b322c325d2c22646174615f6f666673657473223a5b31302c31385d7d7d2020202020"
      + "0000803e803fcdbd627f003c00c1662eff7b"
    let bytes = stride(from: 0, to: hex.count, by: 2).map { offset -> UInt8 in
      let start = hex.index(hex.startIndex, offsetBy: offset)
      return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
    }
    XCTAssertEqual(bytes.count, 282)
    let loaded = try SafeTensorsFile.parse(bytes, name: fileName)
    XCTAssertEqual(loaded.metadata, ["format": "pt"])
    XCTAssertEqual(loaded.dtypes, ["w": "F16", "b": "BF16", "s": "F32", "z": "F32"])
    XCTAssertEqual(loaded.tensors["s"], Tensor(shape: [], values: [0.25]))
    XCTAssertEqual(loaded.tensors["z"], Tensor(shape: [0, 3], values: []))
    XCTAssertEqual(
      loaded.tensors["b"],
      Tensor(
        shape: [3], values: [1, Float(bitPattern: 0xBDCD_0000), Float(bitPattern: 0x7F62_0000)]))
    XCTAssertEqual(
      loaded.tensors["w"], Tensor(shape: [2, 2], values: [1, -2.5, 0.0999755859375, 65504]))
    // Our writer produces the same value bits.
    let rewritten = try SafeTensorsFile.parse(
      SafeTensorsFile.encode(["b": Tensor(shape: [3], values: [1, -0.1, 3e38])], dtype: "BF16"),
      name: fileName)
    XCTAssertEqual(rewritten.tensors["b"], loaded.tensors["b"])
    XCTAssertEqual(
      try encodedHalves([1, -2.5, 0.1, 65504], dtype: "F16"), [0x3C00, 0xC100, 0x2E66, 0x7BFF])
  }

  func testEscapedAndUnicodeNames() throws {
    let header =
      "{\"a\\\"b\\\\c\\/\\n\":\(entry("F32", [], 0, 4)),"
      + "\"\\u00e4\\ud83d\\ude00\":\(entry("F32", [], 4, 8)),\"ü\":\(entry("F32", [], 8, 12))}"
    let loaded = try SafeTensorsFile.parse(
      file(header, littleEndian([1, 2, 3] as [Float])), name: fileName)
    XCTAssertEqual(loaded.tensors["a\"b\\c/\n"]?.values, [1])
    XCTAssertEqual(loaded.tensors["ä😀"]?.values, [2])
    XCTAssertEqual(loaded.tensors["ü"]?.values, [3])
    // The writer escapes what needs escaping and reads back the same names.
    let tensors = [
      "q\"\\\n\t\u{1}": Tensor(shape: [1], values: [4]), "ä😀": Tensor(shape: [], values: [5]),
    ]
    XCTAssertEqual(
      try SafeTensorsFile.parse(SafeTensorsFile.encode(tensors), name: fileName).tensors, tensors)
  }

  func testWhitespaceAndFieldOrderAreFree() throws {
    let header =
      " \n{ \"x\" : { \"shape\" : [ 2 ] ,\t\"data_offsets\" : [ 0 , 8 ] , \"dtype\" : \"F32\" } }\r\n  "
    let loaded = try SafeTensorsFile.parse(
      file(header, littleEndian([1, 2] as [Float])), name: fileName)
    XCTAssertEqual(loaded.tensors["x"]?.values, [1, 2])
  }

  // MARK: Half precision

  func testHalfDecodingOfSpecialValues() throws {
    let bits: [UInt16] = [
      0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xC000, 0x7BFF, 0x3555, 0x7C00,
      0xFC00,
    ]
    let expected: [Float] = [
      0, -0.0, 0x1p-24, -0x1p-24, 1023 * 0x1p-24, 0x1p-14, 1, -2, 65504, 0.333251953125,
      .infinity, -.infinity,
    ]
    let decoded = try decodedHalves(bits, dtype: "F16")
    XCTAssertEqual(decoded.map(\.bitPattern), expected.map(\.bitPattern))
    let nans = try decodedHalves([0x7E00, 0x7C01, 0xFE00, 0x7FFF], dtype: "F16")
    XCTAssertTrue(nans.allSatisfy(\.isNaN))
    XCTAssertEqual(nans.map { $0.sign }, [.plus, .plus, .minus, .plus])
  }

  func testEveryHalfBitPatternSurvivesTheFile() throws {
    // The conversions are the stdlib's; this checks the byte plumbing around them: every one of the
    // 65,536 patterns read from a file and written back gives the same bits (NaNs stay NaN).
    let bits = (0...UInt16.max).map { $0 }
    let decoded = try decodedHalves(bits, dtype: "F16")
    let encoded = try encodedHalves(decoded, dtype: "F16")
    let mismatches = zip(bits, encoded).filter { original, written in
      let isNaN = original & 0x7C00 == 0x7C00 && original & 0x03FF != 0
      return isNaN ? !(written & 0x7C00 == 0x7C00 && written & 0x03FF != 0) : written != original
    }
    XCTAssertEqual(
      mismatches.count, 0, "first: half 0x\(String(mismatches.first?.0 ?? 0, radix: 16))")
  }

  func testHalfEncodingRoundsToNearestEven() throws {
    let cases: [(Float, UInt16)] = [
      (65504, 0x7BFF), (65519.99, 0x7BFF), (65520, 0x7C00), (1e6, 0x7C00), (-1e6, 0xFC00),
      (.infinity, 0x7C00), (-.infinity, 0xFC00), (0x1p-25, 0x0000), (-0x1p-25, 0x8000),
      (0x1.000002p-25, 0x0001), (3 * 0x1p-25, 0x0002), (5 * 0x1p-25, 0x0002), (0x1p-24, 0x0001),
      (1 + 0x1p-11, 0x3C00), (1 + 3 * 0x1p-11, 0x3C02), (0x1.ffcp-15, 0x0400), (1e-10, 0x0000),
      (0x1.ffep-15, 0x0400), (2047 * 0x1p-25, 0x0400),
    ]
    XCTAssertEqual(try encodedHalves(cases.map(\.0), dtype: "F16"), cases.map(\.1))
    let nan = try encodedHalves([.nan], dtype: "F16")[0]
    XCTAssertEqual(nan & 0x7C00, 0x7C00)
    XCTAssertNotEqual(nan & 0x03FF, 0)
  }

  func testBFloat16DecodingAndRounding() throws {
    let decoded = try decodedHalves(
      [0x3F80, 0xC040, 0x0001, 0x7F80, 0xFF80, 0x7F7F], dtype: "BF16")
    XCTAssertEqual(
      decoded.map(\.bitPattern),
      [0x3F80_0000, 0xC040_0000, 0x0001_0000, 0x7F80_0000, 0xFF80_0000, 0x7F7F_0000])
    let cases: [(Float, UInt16)] = [
      (1, 0x3F80), (1 + 0x1p-8, 0x3F80), (1 + 3 * 0x1p-8, 0x3F82), (1 + 0x1.2p-8, 0x3F81),
      (-1 - 0x1p-8, 0xBF80), (.greatestFiniteMagnitude, 0x7F80), (.infinity, 0x7F80),
      (Float(bitPattern: 0x0000_8000), 0x0000), (Float(bitPattern: 0x0001_8000), 0x0002),
    ]
    XCTAssertEqual(try encodedHalves(cases.map(\.0), dtype: "BF16"), cases.map(\.1))
    let nan = try encodedHalves([Float(bitPattern: 0x7F80_0001)], dtype: "BF16")[0]
    XCTAssertTrue(Float(bitPattern: UInt32(nan) << 16).isNaN)
  }

  // MARK: Errors: file and header framing

  func testMissingFile() {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("SafeTensorsTests-missing-\(UUID().uuidString)").path
    do throws(SafeTensorsError) {
      _ = try SafeTensorsFile.load(path: path)
      XCTFail("expected an error")
    } catch {
      XCTAssertEqual(error, .file(.notFound(path: path)))
    }
  }

  func testFileTooShort() {
    assertError([], .fileTooShort(file: fileName, size: 0))
    assertError([2, 0, 0, 0, 0, 0, 0], .fileTooShort(file: fileName, size: 7))
  }

  func testHeaderLengthAboveCap() {
    assertError(
      file("{}", length: 100_000_001),
      .headerTooLarge(file: fileName, headerLength: 100_000_001, limit: 100_000_000))
    assertError(
      file("{}", length: UInt64.max),
      .headerTooLarge(file: fileName, headerLength: UInt64.max, limit: 100_000_000))
  }

  func testHeaderLengthBeyondFile() throws {
    assertError(
      file("{}", length: 3), .headerBeyondFile(file: fileName, headerLength: 3, available: 2))
    // A valid file cut inside its header.
    let bytes = try SafeTensorsFile.encode(randomTensors(seed: 6))
    assertError(
      Array(bytes.prefix(20)),
      .headerBeyondFile(file: fileName, headerLength: UInt64(dataStart(bytes) - 8), available: 12))
  }

  private func dataStart(_ bytes: [UInt8]) -> Int {
    8 + (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
  }

  func testHeaderNotUTF8() {
    assertError([3, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0xFF, 0x7D], .headerNotUTF8(file: fileName))
    // An overlong encoding of '"' is not UTF-8 either.
    assertError([4, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0xC0, 0xA2, 0x7D], .headerNotUTF8(file: fileName))
  }

  func testInvalidJSON() {
    assertInvalidJSON(file(""), at: 0, reason: "empty header")
    assertInvalidJSON(file("   "), at: 3, reason: "empty header")
    assertInvalidJSON(file("{\"a\":"), at: 5, reason: "end of header")
    assertInvalidJSON(file("{\"a\" 1}"), at: 5, reason: "expected ':'")
    assertInvalidJSON(file("{\"__metadata__\":{},}"), at: 19, reason: "expected a string key")
    assertInvalidJSON(file("{a:1}"), at: 1, reason: "expected a string key")
    assertInvalidJSON(file("{\"a"), reason: "unterminated string")
    assertInvalidJSON(file("{\"a\\q\":1}"), reason: "invalid escape")
    assertInvalidJSON(file("{\"a\\ud800\":1}"), reason: "unpaired surrogate")
    assertInvalidJSON(file("{\"a\\udc00\":1}"), reason: "unpaired surrogate")
    assertInvalidJSON(file("{\"a\\u12\":1}"), reason: "hex digit")
    assertInvalidJSON(file("{\"a\tb\":1}"), at: 3, reason: "control character")
    assertInvalidJSON(file("{} {}"), at: 3, reason: "after the top-level value")
    assertInvalidJSON(file("{}\0\0\0"), at: 2, reason: "byte 0x00")
    assertInvalidJSON(file("{\"x\":{\"shape\":[01]}}"), reason: "expected ',' or ']'")
    assertInvalidJSON(file("{\"x\":{\"shape\":[1.]}}"), reason: "digit after '.'")
    assertInvalidJSON(file("{\"x\":{\"shape\":[-]}}"), reason: "expected a digit")
    assertInvalidJSON(file("{\"x\":{\"shape\":[1e]}}"), reason: "exponent")
    assertInvalidJSON(file("{\"x\":{\"shape\":[+1]}}"), reason: "expected a value")
    assertInvalidJSON(file("{\"x\":{\"dtype\":tru}}"), reason: "expected 'true'")
    assertInvalidJSON(file("{\"__metadata__\":{\"k\":NaN}}"), reason: "expected a value")
  }

  func testDeepNestingIsRejectedWithoutRecursingForever() {
    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    assertInvalidJSON(file(deep), reason: "nesting deeper than 64")
    assertInvalidJSON(file("{\"__metadata__\":\(deep)}"), reason: "nesting deeper than 64")
    assertInvalidJSON(file("{\"x\":{\"dtype\":\(deep)}}"), reason: "nesting deeper than 64")
  }

  func testHeaderNotObject() {
    assertError(file("[1, 2]"), .headerNotObject(file: fileName, found: "an array"))
    assertError(file("\"F32\"  "), .headerNotObject(file: fileName, found: "the string \"F32\""))
    assertError(file("3"), .headerNotObject(file: fileName, found: "the number 3"))
    assertError(file("null"), .headerNotObject(file: fileName, found: "null"))
  }

  // MARK: Errors: entries

  func testDuplicateNames() {
    let header = "{\"a\":\(entry("F32", [], 0, 4)),\"a\":\(entry("F32", [], 4, 8))}"
    assertError(
      file(header, [UInt8](repeating: 0, count: 8)), .duplicateName(file: fileName, name: "a"))
    assertError(
      file("{\"__metadata__\":{},\"__metadata__\":{}}"),
      .duplicateName(file: fileName, name: "__metadata__"))
  }

  func testEntryNotObject() {
    assertError(
      file("{\"a\":[0,4]}"), .entryNotObject(file: fileName, tensor: "a", found: "an array"))
    assertError(
      file("{\"a\":\"F32\"}"),
      .entryNotObject(file: fileName, tensor: "a", found: "the string \"F32\""))
  }

  func testMissingFields() {
    assertError(
      file("{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}"),
      .missingField(file: fileName, tensor: "a", field: "dtype"))
    assertError(
      file("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}"),
      .missingField(file: fileName, tensor: "a", field: "shape"))
    assertError(
      file("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}"),
      .missingField(file: fileName, tensor: "a", field: "data_offsets"))
    assertError(file("{\"a\":{}}"), .missingField(file: fileName, tensor: "a", field: "dtype"))
  }

  func testMistypedFields() {
    assertError(
      file("{\"a\":{\"dtype\":4}}"),
      .mistypedField(
        file: fileName, tensor: "a", field: "dtype", expected: "a string", found: "the number 4"))
    assertError(
      file("{\"a\":{\"shape\":\"2x3\"}}"),
      .mistypedField(
        file: fileName, tensor: "a", field: "shape", expected: "an array of integers",
        found: "the string \"2x3\""))
    assertError(
      file("{\"a\":{\"data_offsets\":{\"begin\":0}}}"),
      .mistypedField(
        file: fileName, tensor: "a", field: "data_offsets", expected: "an array of two integers",
        found: "an object"))
    assertError(
      file("{\"a\":{\"shape\":null}}"),
      .mistypedField(
        file: fileName, tensor: "a", field: "shape", expected: "an array of integers", found: "null"
      ))
  }

  func testUnknownAndDuplicateFields() {
    assertError(
      file("{\"a\":{\"dtype\":\"F32\",\"strides\":[1]}}"),
      .unknownField(file: fileName, tensor: "a", field: "strides"))
    assertError(
      file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\"}}"),
      .duplicateField(file: fileName, tensor: "a", field: "dtype"))
  }

  func testUnsupportedDType() {
    for dtype in ["f32", "F128", "Q4_0", "float", ""] {
      assertError(
        file("{\"w\":\(entry(dtype, [1], 0, 4))}", [0, 0, 0, 0]),
        .unsupportedDType(file: fileName, tensor: "w", dtype: dtype))
    }
  }

  /// Integer and other non-float tensors (e.g. `relative_position_index` buffers) are checked for
  /// layout and listed apart, not decoded.
  func testOtherDTypesAreListedNotDecoded() throws {
    let bytes = file(
      "{\"index\":\(entry("I64", [2], 0, 16)),\"w\":\(entry("F32", [1], 16, 20)),\"flag\":\(entry("BOOL", [3], 20, 23))}",
      [UInt8](repeating: 0, count: 16) + [0, 0, 128, 63] + [1, 0, 1])
    let parsed = try SafeTensorsFile.parse(bytes, name: fileName)
    XCTAssertEqual(parsed.tensors.keys.sorted(), ["w"])
    XCTAssertEqual(parsed.tensors["w"]?.values, [1])
    XCTAssertEqual(parsed.otherTensors["index"]?.dtype, "I64")
    XCTAssertEqual(parsed.otherTensors["index"]?.shape, [2])
    XCTAssertEqual(parsed.otherTensors["flag"]?.dtype, "BOOL")
    // Their byte sizes are still checked.
    assertError(
      file("{\"index\":\(entry("I64", [2], 0, 12))}", [UInt8](repeating: 0, count: 12)),
      .sizeMismatch(file: fileName, tensor: "index", dtype: "I64", shape: [2], expectedBytes: 16, actualBytes: 12))
  }

  func testBadShapeEntries() {
    let cases: [(String, Int, String)] = [
      ("[-1]", 0, "the number -1"), ("[2, 1.5]", 1, "the number 1.5"),
      ("[2.0]", 0, "the number 2.0"),
      ("[1e2]", 0, "the number 1e2"), ("[\"3\"]", 0, "the string \"3\""), ("[true]", 0, "true"),
      ("[null]", 0, "null"), ("[[2]]", 0, "an array"),
      ("[1, 99999999999999999999]", 1, "the number 99999999999999999999"),
      ("[1, 2, 3, -9223372036854775808]", 3, "the number -9223372036854775808"),
    ]
    for (shape, index, found) in cases {
      assertError(
        file(
          "{\"w\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[0,4]}}", [0, 0, 0, 0]),
        .badShapeEntry(file: fileName, tensor: "w", index: index, found: found))
    }
  }

  func testElementCountOverflow() {
    let huge = Int.max / 2 + 1
    for shape in [[Int.max, 2], [huge, huge, 0], [1 << 62], [1 << 31, 1 << 31]] {
      assertError(
        file("{\"w\":\(entry("F32", shape, 0, 4))}", [0, 0, 0, 0]),
        .elementCountOverflow(file: fileName, tensor: "w", shape: shape))
    }
    // Zero first keeps every partial product zero, as `Tensor` computes it: a valid empty tensor.
    let loaded = try? SafeTensorsFile.parse(
      file("{\"w\":\(entry("F32", [0, huge, huge], 0, 0))}"), name: fileName)
    XCTAssertEqual(loaded?.tensors["w"]?.count, 0)
  }

  func testBadOffsets() {
    let cases: [(String, String)] = [
      ("[4]", "[4]"), ("[]", "[]"), ("[0, 4, 8]", "[0, 4, 8]"), ("[8, 4]", "[8, 4]"),
      ("[-4, 0]", "[-4, 0]"), ("[0, \"4\"]", "[0, \"4\"]"), ("[0, 4.0]", "[0, 4.0]"),
      ("[0, 1e30]", "[0, 1e30]"), ("[0, null]", "[0, null]"), ("[[0], {}]", "[[…], {…}]"),
      ("[0, 99999999999999999999]", "[0, 99999999999999999999]"),
      ("[1, 2, 3, 4, 5, 6]", "[1, 2, 3, 4, …]"),
    ]
    for (offsets, found) in cases {
      assertError(
        file(
          "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\(offsets)}}", [0, 0, 0, 0]),
        .badOffsets(file: fileName, tensor: "w", found: found))
    }
  }

  func testSizeMismatch() {
    let header = "{\"head.fc.weight\":\(entry("F32", [1000, 768], 0, 12))}"
    let error = parseError(file(header, [UInt8](repeating: 0, count: 12)))
    XCTAssertEqual(
      error,
      .sizeMismatch(
        file: fileName, tensor: "head.fc.weight", dtype: "F32", shape: [1000, 768],
        expectedBytes: 3_072_000, actualBytes: 12))
    XCTAssertEqual(
      error?.description,
      "t.safetensors: tensor 'head.fc.weight' needs 3072000 bytes (F32 [1000, 768]) but its offsets span 12"
    )
    assertError(
      file("{\"h\":\(entry("F16", [3], 0, 12))}", [UInt8](repeating: 0, count: 12)),
      .sizeMismatch(
        file: fileName, tensor: "h", dtype: "F16", shape: [3], expectedBytes: 6, actualBytes: 12))
  }

  func testOffsetsBeyondData() throws {
    assertError(
      file("{\"w\":\(entry("F32", [2], 0, 8))}", [0, 0, 0, 0]),
      .offsetsBeyondData(file: fileName, tensor: "w", end: 8, dataSize: 4))
    // A valid file with its last data byte cut off.
    let bytes = try SafeTensorsFile.encode(["a": Tensor(shape: [2], values: [1, 2])])
    assertError(
      Array(bytes.dropLast()), .offsetsBeyondData(file: fileName, tensor: "a", end: 8, dataSize: 7))
  }

  func testGaps() {
    assertError(
      file("{\"w\":\(entry("F32", [1], 4, 8))}", [UInt8](repeating: 0, count: 8)),
      .gap(file: fileName, tensor: "w", start: 0, end: 4))
    let header = "{\"a\":\(entry("F32", [1], 0, 4)),\"b\":\(entry("F32", [1], 6, 10))}"
    assertError(
      file(header, [UInt8](repeating: 0, count: 10)),
      .gap(file: fileName, tensor: "b", start: 4, end: 6))
  }

  func testOverlaps() {
    let header = "{\"a\":\(entry("F32", [2], 0, 8)),\"b\":\(entry("F32", [2], 4, 12))}"
    assertError(
      file(header, [UInt8](repeating: 0, count: 12)),
      .overlap(file: fileName, first: "a", second: "b", start: 4, end: 8))
    let same = "{\"a\":\(entry("F32", [1], 0, 4)),\"b\":\(entry("F32", [1], 0, 4))}"
    assertError(
      file(same, [UInt8](repeating: 0, count: 4)),
      .overlap(file: fileName, first: "a", second: "b", start: 0, end: 4))
    // An empty tensor may sit at a boundary but not inside another tensor's bytes.
    let inside = "{\"a\":\(entry("F32", [2], 0, 8)),\"e\":\(entry("F32", [0], 4, 4))}"
    assertError(
      file(inside, [UInt8](repeating: 0, count: 8)),
      .overlap(file: fileName, first: "a", second: "e", start: 4, end: 8))
    let boundary = "{\"a\":\(entry("F32", [2], 0, 8)),\"e\":\(entry("F32", [0], 8, 8))}"
    XCTAssertNil(parseError(file(boundary, [UInt8](repeating: 0, count: 8))))
  }

  func testTrailingBytes() {
    assertError(
      file("{\"w\":\(entry("F32", [1], 0, 4))}", [0, 0, 0, 0, 0]),
      .trailingBytes(file: fileName, dataEnd: 4, dataSize: 5))
    assertError(file("{}", [1, 2, 3]), .trailingBytes(file: fileName, dataEnd: 0, dataSize: 3))
  }

  func testNonFiniteValuesAreAnErrorByDefault() throws {
    let values: [Float] = [1, .nan, 2, .infinity, -.infinity]
    let f32 = file("{\"a.weight\":\(entry("F32", [5], 0, 20))}", littleEndian(values))
    assertError(f32, .nonFinite(file: fileName, tensor: "a.weight", count: 3, firstIndex: 1))
    let loaded = try SafeTensorsFile.parse(f32, name: fileName, allowNonFinite: true)
    XCTAssertEqual(loaded.tensors["a.weight"]!.values[3], .infinity)
    assertError(
      file("{\"h\":\(entry("F16", [3], 0, 6))}", littleEndian([0, 0, 0x7C00] as [UInt16])),
      .nonFinite(file: fileName, tensor: "h", count: 1, firstIndex: 2))
    assertError(
      file("{\"b\":\(entry("BF16", [2], 0, 4))}", littleEndian([0xFFC1, 0] as [UInt16])),
      .nonFinite(file: fileName, tensor: "b", count: 1, firstIndex: 0))
    // Written files keep non-finite values; reading them back is what refuses.
    let path = temporaryPath()
    try SafeTensorsFile.write(["n": Tensor(shape: [1], values: [.nan])], to: path)
    do throws(SafeTensorsError) {
      _ = try SafeTensorsFile.load(path: path)
      XCTFail("expected an error")
    } catch {
      XCTAssertEqual(error, .nonFinite(file: path, tensor: "n", count: 1, firstIndex: 0))
    }
    XCTAssertTrue(
      try SafeTensorsFile.load(path: path, allowNonFinite: true).tensors["n"]!.values[0].isNaN)
  }

  // MARK: Errors: metadata and writing

  func testMetadataErrors() {
    assertError(
      file("{\"__metadata__\":[]}"), .metadataNotObject(file: fileName, found: "an array"))
    assertError(
      file("{\"__metadata__\":\"pt\"}"),
      .metadataNotObject(file: fileName, found: "the string \"pt\""))
    assertError(
      file("{\"__metadata__\":{\"epochs\":300}}"),
      .metadataValueNotString(file: fileName, key: "epochs", found: "the number 300"))
    assertError(
      file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}"),
      .duplicateMetadataKey(file: fileName, key: "a"))
  }

  func testWriteErrors() {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)/missing/out.safetensors").path
    let tensors = ["a": Tensor(shape: [1], values: [1])]
    func writeError(_ tensors: [String: Tensor], dtype: String = "F32") -> SafeTensorsError? {
      do throws(SafeTensorsError) {
        try SafeTensorsFile.write(tensors, to: path, dtype: dtype)
        return nil
      } catch {
        return error
      }
    }
    XCTAssertEqual(
      writeError(tensors, dtype: "F64"), .unsupportedWriteDType(file: path, dtype: "F64"))
    XCTAssertEqual(
      writeError(["__metadata__": Tensor(shape: [], values: [1])]), .reservedName(file: path))
    guard case .file(.unwritable(let reported, _)) = writeError(tensors) else {
      return XCTFail("expected .file(.unwritable)")
    }
    XCTAssertEqual(reported, path)
  }

  // MARK: Hostile input

  func testMutatedFilesNeverCrash() throws {
    // Truncations, byte flips and header-length lies of a valid file must each fail cleanly or
    // parse; the point is that none of them traps.
    let valid = try SafeTensorsFile.encode(
      randomTensors(seed: 7), metadata: ["k": "v"], dtype: "F16")
    var generator = SplitMix64(seed: 8)
    var failures = 0
    for trial in 0..<3000 {
      var bytes = valid
      switch trial % 3 {
      case 0:
        bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
      case 1:
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
          let i = Int.random(in: 0..<dataStart(valid), using: &generator)
          bytes[i] = UInt8.random(in: 0...255, using: &generator)
        }
      default:
        let n = UInt64.random(in: 0...UInt64(bytes.count), using: &generator)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
      }
      if parseError(bytes, allowNonFinite: true) != nil { failures += 1 }
    }
    XCTAssertGreaterThan(failures, 1000)
  }

  func testMessagesAreOneLineAndNameTheFile() {
    let errors: [SafeTensorsError] = [
      .fileTooShort(file: fileName, size: 3), .headerNotUTF8(file: fileName),
      .headerTooLarge(file: fileName, headerLength: 1 << 40, limit: 100_000_000),
      .headerBeyondFile(file: fileName, headerLength: 100, available: 4),
      .invalidJSON(file: fileName, offset: 3, reason: "unterminated string"),
      .headerNotObject(file: fileName, found: "an array"),
      .duplicateName(file: fileName, name: "a\nb"),
      .entryNotObject(file: fileName, tensor: "a", found: "null"),
      .missingField(file: fileName, tensor: "a", field: "dtype"),
      .mistypedField(
        file: fileName, tensor: "a", field: "dtype", expected: "a string", found: "null"),
      .unknownField(file: fileName, tensor: "a", field: "x"),
      .duplicateField(file: fileName, tensor: "a", field: "shape"),
      .unsupportedDType(file: fileName, tensor: "a", dtype: "F128"),
      .badShapeEntry(file: fileName, tensor: "a", index: 0, found: "the number -1"),
      .elementCountOverflow(file: fileName, tensor: "a", shape: [Int.max, 2]),
      .badOffsets(file: fileName, tensor: "a", found: "[4]"),
      .sizeMismatch(
        file: fileName, tensor: "a", dtype: "F16", shape: [3], expectedBytes: 6, actualBytes: 4),
      .offsetsBeyondData(file: fileName, tensor: "a", end: 8, dataSize: 4),
      .gap(file: fileName, tensor: "a", start: 0, end: 4),
      .overlap(file: fileName, first: "a", second: "b", start: 4, end: 8),
      .trailingBytes(file: fileName, dataEnd: 4, dataSize: 5),
      .nonFinite(file: fileName, tensor: "a", count: 2, firstIndex: 7),
      .metadataNotObject(file: fileName, found: "an array"),
      .metadataValueNotString(file: fileName, key: "k", found: "true"),
      .duplicateMetadataKey(file: fileName, key: "k"), .reservedName(file: fileName),
      .unsupportedWriteDType(file: fileName, dtype: "I8"),
    ]
    for error in errors {
      XCTAssertTrue(error.description.hasPrefix("\(fileName): "), error.description)
      XCTAssertFalse(error.description.contains("\n"), error.description)
    }
    XCTAssertEqual(
      SafeTensorsError.file(.notFound(path: "/x/y.safetensors")).description,
      "/x/y.safetensors: no such file")
  }
}
