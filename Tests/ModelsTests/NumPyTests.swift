// Tests for NumPy.swift: round trips, byte-exact agreement with numpy.save, hand-built version 1.0,
// 2.0 and 3.0 headers in the styles numpy writes, and every error case.

import Engine
import Foundation
import Models
import TestSupport
import XCTest

final class NumPyTests: XCTestCase {
  private let fileName = "t.npy"
  private let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

  // MARK: Helpers

  /// An `.npy` file from a header text and data; `length` overrides the stored header length.
  private func npy(
    _ header: String, _ data: [UInt8] = [], version: UInt8 = 1, length: Int? = nil
  ) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    let n = length ?? headerBytes.count
    let lengthBytes = version == 1 ? 2 : 4
    return magic + [version, 0] + (0..<lengthBytes).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) }
      + headerBytes + data
  }

  private func dict(descr: String = "'<f4'", fortran: String = "False", shape: String) -> String {
    "{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }"
  }

  private func littleEndian(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in
      (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
    }
  }

  private func parseError(_ bytes: [UInt8], allowNonFinite: Bool = false) -> NumPyError? {
    do throws(NumPyError) {
      _ = try parseNumPy(bytes, name: fileName, allowNonFinite: allowNonFinite)
      return nil
    } catch {
      return error
    }
  }

  private func assertError(
    _ bytes: [UInt8], _ expected: NumPyError, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(parseError(bytes), expected, file: file, line: line)
  }

  /// Asserts the bytes fail with `.headerNotDict` whose reason contains `fragment`.
  private func assertNotDict(
    _ bytes: [UInt8], at expectedOffset: Int? = nil, reason fragment: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    guard case .headerNotDict(let reported, let offset, let reason) = parseError(bytes) else {
      return XCTFail(
        "expected .headerNotDict, got \(String(describing: parseError(bytes)))", file: file,
        line: line)
    }
    XCTAssertEqual(reported, fileName, file: file, line: line)
    if let expectedOffset { XCTAssertEqual(offset, expectedOffset, reason, file: file, line: line) }
    XCTAssertTrue(reason.contains(fragment), reason, file: file, line: line)
  }

  private func temporaryPath() -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("NumPyTests-\(UUID().uuidString).npy").path
    addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
  }

  // MARK: Round trips and numpy agreement

  func testRoundTripsOfEveryRank() throws {
    var generator = SplitMix64(seed: 11)
    for shape in [[], [0], [5], [2, 3], [1, 3, 0, 2], [2, 3, 4, 5]] as [[Int]] {
      let tensor = Tensor(
        shape: shape,
        values: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -5...5, using: &generator) })
      let path = temporaryPath()
      try writeNumPy(tensor, to: path)
      XCTAssertEqual(try readNumPy(path: path), tensor, "shape \(shape)")
    }
  }

  func testEncodingMatchesNumpySaveByteForByte() throws {
    // `np.save(f, np.arange(6, dtype='<f4').reshape(2, 3))` with numpy 1.26 / 2.x.
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    let expected =
      magic + [1, 0, 0x76, 0] + Array(header.utf8)
      + [UInt8](repeating: 0x20, count: 117 - header.utf8.count)
      + [0x0A] + littleEndian([0, 1, 2, 3, 4, 5])
    XCTAssertEqual(expected.count, 152)
    let tensor = Tensor(shape: [2, 3], values: [0, 1, 2, 3, 4, 5])
    XCTAssertEqual(try encodeNumPy(tensor), expected)
  }

  func testHeaderShapesAndAlignment() throws {
    for (shape, text) in [([], "()"), ([7], "(7,)"), ([2, 3, 4], "(2, 3, 4)")] as [([Int], String)] {
      let bytes = try encodeNumPy(Tensor(shape: shape, repeating: 1))
      let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      XCTAssertEqual((10 + headerLength) % 64, 0)
      let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
      XCTAssertTrue(header.hasPrefix(dict(shape: text) + " "), header)
      XCTAssertTrue(header.hasSuffix(" \n"), header)
    }
  }

  func testVersionOneTwoAndThreeHeaders() throws {
    let data = littleEndian([1, -2, 3.5, 4, 5, 6])
    let expected = Tensor(shape: [3, 2], values: [1, -2, 3.5, 4, 5, 6])
    let headers = [
      dict(shape: "(3, 2)"),
      "{\"shape\": (3, 2), \"fortran_order\": False, \"descr\": \"<f4\"}",
      "{'fortran_order':False,'descr':'<f4','shape':(3,2,),}",
      "  {\t'descr' : '<f4' ,\n 'shape' : ( 3 , 2 ) , 'fortran_order' : False }  "
        + String(repeating: " ", count: 40) + "\n",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 2L), }",
    ]
    for version: UInt8 in [1, 2, 3] {
      for header in headers {
        XCTAssertEqual(
          try parseNumPy(npy(header, data, version: version), name: fileName), expected,
          "v\(version) \(header)")
      }
    }
  }

  func testScalarEmptyAndUnicodeHeaders() throws {
    XCTAssertEqual(
      try parseNumPy(npy(dict(shape: "()"), littleEndian([2.5])), name: fileName),
      Tensor(shape: [], values: [2.5]))
    XCTAssertEqual(
      try parseNumPy(npy(dict(shape: "(0, 4)")), name: fileName), Tensor(shape: [0, 4], values: []))
    // Version 3.0 headers are UTF-8; version 1.0 is latin-1, where every byte is a character.
    let unicode = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"
    XCTAssertEqual(
      try parseNumPy(npy(unicode + "  ", littleEndian([1]), version: 3), name: fileName).shape, [1])
    assertError(
      npy("{'descr': 'ä', 'fortran_order': False, 'shape': (1,), }", littleEndian([1]), version: 3),
      .unsupportedDType(file: fileName, descr: "ä"))
    var latin1 = npy("{'descr': '_', 'fortran_order': False, 'shape': (1,), }", littleEndian([1]))
    latin1[latin1.firstIndex(of: UInt8(ascii: "_"))!] = 0xE9
    assertError(latin1, .unsupportedDType(file: fileName, descr: "é"))
  }

  // MARK: Errors: framing

  func testMissingFile() {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("NumPyTests-missing-\(UUID().uuidString).npy").path
    do throws(NumPyError) {
      _ = try readNumPy(path: path)
      XCTFail("expected an error")
    } catch {
      XCTAssertEqual(error, .file(.notFound(path: path)))
    }
  }

  func testBadMagic() {
    assertError(Array("abc".utf8), .badMagic(file: fileName))
    assertError([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x58, 1, 0, 0, 0], .badMagic(file: fileName))
    assertError(Array("PK\u{3}\u{4} zip archive (npz)".utf8), .badMagic(file: fileName))
  }

  func testFileTooShort() {
    assertError([], .fileTooShort(file: fileName, size: 0, needed: 10))
    assertError(Array(magic.prefix(3)), .fileTooShort(file: fileName, size: 3, needed: 10))
    assertError(magic + [1], .fileTooShort(file: fileName, size: 7, needed: 10))
    assertError(magic + [1, 0, 0x76], .fileTooShort(file: fileName, size: 9, needed: 10))
    assertError(magic + [2, 0, 0x76, 0], .fileTooShort(file: fileName, size: 10, needed: 12))
  }

  func testUnsupportedVersion() {
    assertError(magic + [0, 0, 0, 0], .unsupportedVersion(file: fileName, major: 0, minor: 0))
    assertError(magic + [1, 1, 0, 0], .unsupportedVersion(file: fileName, major: 1, minor: 1))
    assertError(magic + [4, 0, 0, 0], .unsupportedVersion(file: fileName, major: 4, minor: 0))
  }

  func testHeaderTooLargeAndBeyondFile() throws {
    assertError(
      npy(dict(shape: "()"), version: 2, length: 10_001),
      .headerTooLarge(file: fileName, headerLength: 10_001, limit: 10_000))
    assertError(
      npy(dict(shape: "()"), version: 3, length: Int(UInt32.max)),
      .headerTooLarge(file: fileName, headerLength: Int(UInt32.max), limit: 10_000))
    let header = dict(shape: "()")
    assertError(
      npy(header, version: 1, length: header.utf8.count + 1),
      .headerBeyondFile(
        file: fileName, headerLength: header.utf8.count + 1, available: header.utf8.count))
    // A numpy file cut inside its header.
    let bytes = try encodeNumPy(Tensor(shape: [2], values: [1, 2]))
    assertError(
      Array(bytes.prefix(40)), .headerBeyondFile(file: fileName, headerLength: 118, available: 30))
  }

  func testHeaderNotADictLiteral() {
    assertNotDict(npy(""), at: 0, reason: "expected '{', found end of header")
    assertNotDict(npy("['descr', '<f4']"), at: 0, reason: "expected '{'")
    assertNotDict(npy("{'descr': '<f4'"), reason: "expected ',' or '}'")
    assertNotDict(npy("{'descr' '<f4'}"), at: 9, reason: "expected ':'")
    assertNotDict(npy("{'descr': '<f4}"), reason: "unterminated string")
    assertNotDict(npy("{'descr': '<f4\n'}"), reason: "line break")
    assertNotDict(npy("{'descr': '<\\x66'}"), reason: "escape sequences")
    assertNotDict(npy("{descr: '<f4'}"), at: 1, reason: "unexpected name 'descr'")
    assertNotDict(npy("{('descr',): 1}"), reason: "dict keys must be strings")
    assertNotDict(npy("{3: 1}"), reason: "dict keys must be strings")
    assertNotDict(npy("{'a': 1,, }"), reason: "expected a value")
    assertNotDict(npy("{'a': 1} {}"), at: 9, reason: "after the dict")
    assertNotDict(npy("{'a': 1}\0"), at: 8, reason: "byte 0x00")
    assertNotDict(npy("{'shape': (2; 3)}"), reason: "expected ',' or ')'")
    assertNotDict(npy("{'shape': @}"), reason: "expected a value")
    assertNotDict(
      npy("{'shape': " + String(repeating: "(", count: 5000) + "}"),
      reason: "nesting deeper than 16")
    assertNotDict(magic + [3, 0, 3, 0, 0, 0, 0x7B, 0xFF, 0x7D], at: 0, reason: "not valid UTF-8")
  }

  // MARK: Errors: keys and values

  func testMissingUnexpectedAndDuplicateKeys() {
    assertError(
      npy("{'fortran_order': False, 'shape': ()}"), .missingKey(file: fileName, key: "descr"))
    assertError(
      npy("{'descr': '<f4', 'shape': ()}"), .missingKey(file: fileName, key: "fortran_order"))
    assertError(
      npy("{'descr': '<f4', 'fortran_order': False}"), .missingKey(file: fileName, key: "shape"))
    assertError(npy("{}"), .missingKey(file: fileName, key: "descr"))
    assertError(
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'strides': (4,)}"),
      .unexpectedKey(file: fileName, key: "strides"))
    assertError(
      npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}"),
      .duplicateKey(file: fileName, key: "descr"))
  }

  func testDescrMustBeAString() {
    assertError(
      npy(dict(descr: "[('x', '<f4'), ('y', '<i4')]", shape: "(1,)")),
      .badDescr(file: fileName, found: "[('x', '<f4'), ('y', '<i4')]"))
    assertError(npy(dict(descr: "4", shape: "(1,)")), .badDescr(file: fileName, found: "4"))
    assertError(npy(dict(descr: "None", shape: "(1,)")), .badDescr(file: fileName, found: "None"))
  }

  func testOnlyLittleEndianFloat32IsSupported() {
    for descr in [
      ">f4", "<f8", "<f2", "|u1", "<i8", "|b1", "=f4", "<c8", "<U10", "|O", "f4", "float32",
    ] {
      assertError(
        npy(dict(descr: "'\(descr)'", shape: "(1,)"), [0, 0, 0, 0]),
        .unsupportedDType(file: fileName, descr: descr))
    }
    XCTAssertEqual(
      NumPyError.unsupportedDType(file: fileName, descr: ">f4").description,
      "t.npy: dtype '>f4' (big-endian float32), expected '<f4' (little-endian float32)")
    XCTAssertEqual(
      NumPyError.unsupportedDType(file: fileName, descr: "<f8").description,
      "t.npy: dtype '<f8' (float64), expected '<f4' (little-endian float32)")
  }

  func testFortranOrder() {
    assertError(
      npy(dict(fortran: "True", shape: "(2, 2)"), littleEndian([1, 2, 3, 4])),
      .fortranOrder(file: fileName))
    assertError(
      npy(dict(fortran: "0", shape: "(1,)")), .badFortranOrder(file: fileName, found: "0"))
    assertError(
      npy(dict(fortran: "'False'", shape: "(1,)")),
      .badFortranOrder(file: fileName, found: "'False'"))
    assertError(
      npy(dict(fortran: "None", shape: "(1,)")), .badFortranOrder(file: fileName, found: "None"))
  }

  func testBadShapes() {
    let cases: [(String, String)] = [
      ("[2, 3]", "[2, 3]"), ("3", "3"), ("(3)", "3"), ("(-1,)", "(-1,)"), ("(2.5,)", "(2.5,)"),
      ("('a',)", "('a',)"), ("(True,)", "(True,)"), ("(2, (3,))", "(2, (3,))"), ("(03,)", "(03,)"),
      ("(99999999999999999999,)", "(99999999999999999999,)"), ("None", "None"),
      ("'(2,)'", "'(2,)'"),
      ("(+2,)", "(+2,)"), ("(1e3,)", "(1e3,)"),
    ]
    for (shape, found) in cases {
      assertError(npy(dict(shape: shape)), .badShape(file: fileName, found: found))
    }
  }

  func testElementCountOverflow() {
    assertError(
      npy(dict(shape: "(\(Int.max), 2)")),
      .elementCountOverflow(file: fileName, shape: [Int.max, 2]))
    assertError(
      npy(dict(shape: "(\(1 << 62),)")), .elementCountOverflow(file: fileName, shape: [1 << 62]))
  }

  func testDataSizeMustMatchTheShape() {
    let short = npy(dict(shape: "(2, 3)"), littleEndian([1, 2, 3, 4, 5]))
    assertError(
      short, .dataSizeMismatch(file: fileName, shape: [2, 3], expectedBytes: 24, actualBytes: 20))
    let long = npy(dict(shape: "(2, 3)"), littleEndian([1, 2, 3, 4, 5, 6]) + [0])
    assertError(
      long, .dataSizeMismatch(file: fileName, shape: [2, 3], expectedBytes: 24, actualBytes: 25))
    let scalar = npy(dict(shape: "()"))
    assertError(
      scalar, .dataSizeMismatch(file: fileName, shape: [], expectedBytes: 4, actualBytes: 0))
  }

  func testNonFiniteValuesAreAnErrorByDefault() throws {
    let bytes = npy(dict(shape: "(2, 2)"), littleEndian([0, -.infinity, .nan, 1]))
    assertError(bytes, .nonFinite(file: fileName, count: 2, firstIndex: 1))
    let tensor = try parseNumPy(bytes, name: fileName, allowNonFinite: true)
    XCTAssertEqual(tensor.values[1], -.infinity)
    XCTAssertTrue(tensor.values[2].isNaN)
    let path = temporaryPath()
    try writeNumPy(Tensor(shape: [1], values: [.infinity]), to: path)
    do throws(NumPyError) {
      _ = try readNumPy(path: path)
      XCTFail("expected an error")
    } catch {
      XCTAssertEqual(error, .nonFinite(file: path, count: 1, firstIndex: 0))
    }
    XCTAssertEqual(try readNumPy(path: path, allowNonFinite: true).values, [.infinity])
  }

  func testWriteErrors() {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("NumPyTests-\(UUID().uuidString)/missing/out.npy").path
    do throws(NumPyError) {
      try writeNumPy(Tensor(shape: [1], values: [1]), to: path)
      XCTFail("expected an error")
    } catch {
      guard case .file(.unwritable(let reported, _)) = error else {
        return XCTFail("expected .file(.unwritable), got \(error)")
      }
      XCTAssertEqual(reported, path)
    }
    // A rank so high that the header would pass the reader's cap.
    let tall = Tensor(shape: [Int](repeating: 1, count: 4000), values: [1])
    do throws(NumPyError) {
      _ = try encodeNumPy(tall, name: "tall.npy")
      XCTFail("expected an error")
    } catch {
      guard case .headerTooLarge("tall.npy", let length, 10_000) = error else {
        return XCTFail("expected .headerTooLarge, got \(error)")
      }
      XCTAssertGreaterThan(length, 10_000)
    }
  }

  // MARK: Hostile input

  func testMutatedFilesNeverCrash() throws {
    let valid = try encodeNumPy(Tensor(shape: [3, 4], values: (0..<12).map(Float.init)))
    var generator = SplitMix64(seed: 12)
    var failures = 0
    for trial in 0..<3000 {
      var bytes = valid
      if trial % 2 == 0 {
        bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
      } else {
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
          let i = Int.random(in: 0..<128, using: &generator)
          bytes[i] = UInt8.random(in: 0...255, using: &generator)
        }
      }
      if parseError(bytes, allowNonFinite: true) != nil { failures += 1 }
    }
    XCTAssertGreaterThan(failures, 1500)
  }

  func testMessagesAreOneLineAndNameTheFile() {
    let errors: [NumPyError] = [
      .badMagic(file: fileName), .fileTooShort(file: fileName, size: 3, needed: 10),
      .unsupportedVersion(file: fileName, major: 4, minor: 0),
      .headerTooLarge(file: fileName, headerLength: 20_000, limit: 10_000),
      .headerBeyondFile(file: fileName, headerLength: 118, available: 30),
      .headerNotDict(file: fileName, offset: 3, reason: "unterminated string"),
      .missingKey(file: fileName, key: "shape"), .unexpectedKey(file: fileName, key: "a\nb"),
      .duplicateKey(file: fileName, key: "descr"), .badDescr(file: fileName, found: "[…]"),
      .unsupportedDType(file: fileName, descr: ">f4"), .badFortranOrder(file: fileName, found: "0"),
      .fortranOrder(file: fileName), .badShape(file: fileName, found: "[2, 3]"),
      .elementCountOverflow(file: fileName, shape: [Int.max, 2]),
      .dataSizeMismatch(file: fileName, shape: [2, 3], expectedBytes: 24, actualBytes: 20),
      .nonFinite(file: fileName, count: 2, firstIndex: 1),
    ]
    for error in errors {
      XCTAssertTrue(error.description.hasPrefix("\(fileName): "), error.description)
      XCTAssertFalse(error.description.contains("\n"), error.description)
    }
  }
}
