// Tests for FileIO.swift: whole-file reads with their error cases and atomic writes that leave
// no temporary files behind, whether they succeed or fail.

import Foundation
import Models
import XCTest

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

final class FileIOTests: XCTestCase {
  /// A fresh, empty directory for one test, removed afterwards.
  private func makeDirectory() throws -> String {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("FileIOTests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
    return directory
  }

  private func readError(_ path: String) -> FileIOError? {
    do throws(FileIOError) {
      _ = try readFile(path)
      return nil
    } catch {
      return error
    }
  }

  private func writeError(_ bytes: [UInt8], _ path: String) -> FileIOError? {
    do throws(FileIOError) {
      try writeFileAtomically(bytes, to: path)
      return nil
    } catch {
      return error
    }
  }

  func testWriteThenReadReturnsTheBytes() throws {
    let path = try makeDirectory() + "/data.bin"
    let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
    try writeFileAtomically(bytes, to: path)
    XCTAssertEqual(try readFile(path), bytes)
  }

  func testEmptyFileReadsAsNoBytes() throws {
    let path = try makeDirectory() + "/empty"
    try writeFileAtomically([], to: path)
    XCTAssertEqual(try readFile(path), [])
  }

  func testOverwriteReplacesTheWholeFileAndLeavesNoTemporaries() throws {
    let directory = try makeDirectory()
    let path = directory + "/data.bin"
    try writeFileAtomically([UInt8](repeating: 7, count: 4096), to: path)
    try writeFileAtomically([1, 2, 3], to: path)
    XCTAssertEqual(try readFile(path), [1, 2, 3])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["data.bin"])
  }

  func testReadThroughSymbolicLink() throws {
    let directory = try makeDirectory()
    try writeFileAtomically([9, 8], to: directory + "/target")
    try FileManager.default.createSymbolicLink(
      atPath: directory + "/link", withDestinationPath: directory + "/target")
    XCTAssertEqual(try readFile(directory + "/link"), [9, 8])
  }

  func testReadMissingFile() throws {
    let path = try makeDirectory() + "/missing.bin"
    XCTAssertEqual(readError(path), .notFound(path: path))
    XCTAssertEqual(readError(path)?.description, "\(path): no such file")
  }

  func testReadDanglingSymbolicLinkIsMissing() throws {
    let directory = try makeDirectory()
    try FileManager.default.createSymbolicLink(
      atPath: directory + "/link", withDestinationPath: directory + "/nowhere")
    XCTAssertEqual(readError(directory + "/link"), .notFound(path: directory + "/link"))
  }

  func testReadDirectory() throws {
    let directory = try makeDirectory()
    XCTAssertEqual(readError(directory), .isDirectory(path: directory))
  }

  func testReadFIFOIsRejectedWithoutBlocking() throws {
    let path = try makeDirectory() + "/pipe"
    guard mkfifo(path, 0o600) == 0 else { throw XCTSkip("mkfifo is not available here") }
    XCTAssertEqual(readError(path), .notRegularFile(path: path))
  }

  func testReadUnreadableFile() throws {
    // /proc/self/mem is a regular file whose first page cannot be read, even by root.
    let path: String
    if FileManager.default.fileExists(atPath: "/proc/self/mem") {
      path = "/proc/self/mem"
    } else if geteuid() != 0 {
      path = try makeDirectory() + "/secret"
      try writeFileAtomically([1], to: path)
      try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
    } else {
      throw XCTSkip("no way to make an unreadable file as root on this system")
    }
    guard case .unreadable(let reported, let reason) = readError(path) else {
      return XCTFail("expected .unreadable, got \(String(describing: readError(path)))")
    }
    XCTAssertEqual(reported, path)
    XCTAssertFalse(reason.isEmpty)
  }

  func testWriteIntoMissingDirectory() throws {
    let path = try makeDirectory() + "/no/such/dir/data.bin"
    guard case .unwritable(let reported, let reason) = writeError([1], path) else {
      return XCTFail("expected .unwritable")
    }
    XCTAssertEqual(reported, path)
    XCTAssertTrue(reason.contains("does not exist"), reason)
  }

  func testFailedRenameRemovesTheTemporaryFile() throws {
    // A directory stands where the file should go: the rename fails after the data was written.
    let directory = try makeDirectory()
    let path = directory + "/occupied"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    XCTAssertTrue(FileManager.default.createFile(atPath: path + "/keep", contents: Data([1])))
    guard case .unwritable(let reported, _) = writeError([1, 2, 3], path) else {
      return XCTFail("expected .unwritable")
    }
    XCTAssertEqual(reported, path)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["occupied"])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path), ["keep"])
  }

  func testMessagesNameThePathOnOneLine() {
    let errors: [FileIOError] = [
      .notFound(path: "a\nb"), .isDirectory(path: "a\nb"), .notRegularFile(path: "a\nb"),
      .unreadable(path: "a\nb", reason: "Input/output error"),
      .unwritable(path: "a\nb", reason: "Permission denied"),
    ]
    for error in errors {
      XCTAssertTrue(error.description.hasPrefix("a\\u{a}b: "), error.description)
      XCTAssertFalse(error.description.contains("\n"), error.description)
    }
  }
}
