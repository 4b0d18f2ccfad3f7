// Whole-file reads and atomic writes shared by the weight and array formats (every failure names the
// path; a write replaces the target completely or not at all), plus their float32 and message helpers.

import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file that could not be read or written.
public enum FileIOError: Error, Equatable, CustomStringConvertible {
  /// Nothing exists at the path (or a symbolic link points nowhere).
  case notFound(path: String)
  /// The path names a directory where a file was expected.
  case isDirectory(path: String)
  /// The path names a FIFO, socket or device: reading one could block or never end.
  case notRegularFile(path: String)
  /// The file exists but reading it failed; `reason` is the system's explanation.
  case unreadable(path: String, reason: String)
  /// Creating, writing or renaming into place failed; `reason` is the system's explanation.
  case unwritable(path: String, reason: String)

  public var description: String {
    switch self {
    case .notFound(let path): "\(printable(path)): no such file"
    case .isDirectory(let path): "\(printable(path)): is a directory, expected a file"
    case .notRegularFile(let path):
      "\(printable(path)): not a regular file (FIFO, socket or device)"
    case .unreadable(let path, let reason): "\(printable(path)): cannot read: \(reason)"
    case .unwritable(let path, let reason): "\(printable(path)): cannot write: \(reason)"
    }
  }
}

/// Largest file `readFile` reads by default: a quarter of physical memory, so that the bytes and
/// the float32 values decoded from them together stay within half of it.
public var defaultReadLimit: Int {
  Int(min(ProcessInfo.processInfo.physicalMemory / 4, UInt64(Int.max)))
}

/// Reads the whole file at `path` into memory; a file over `limit` bytes (a sparse file can claim
/// terabytes) is refused from its size, before anything is allocated.
public func readFile(_ path: String, limit: Int = defaultReadLimit) throws(FileIOError) -> [UInt8] {
  let manager = FileManager.default
  var isDirectory: ObjCBool = false
  // `fileExists` follows symbolic links, so a dangling link reads as missing.
  guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
    throw .notFound(path: path)
  }
  if isDirectory.boolValue { throw .isDirectory(path: path) }
  // `attributesOfItem` does not follow links: ask about the file the link resolves to.
  let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
  let attributes = try? manager.attributesOfItem(atPath: resolved)
  if let type = attributes?[.type] as? FileAttributeType, type != .typeRegular {
    throw .notRegularFile(path: path)
  }
  if let size = (attributes?[.size] as? NSNumber)?.uint64Value, size > UInt64(max(limit, 0)) {
    throw .unreadable(
      path: path,
      reason: "the file has \(size) bytes, over the \(limit)-byte read limit")
  }
  do {
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
  } catch {
    throw .unreadable(path: path, reason: systemReason(error))
  }
}

/// Writes `bytes` to `path` so that the target is either the old file or the complete new one.
///
/// The bytes go to a hidden temporary file in the same directory (same file system, so the rename
/// is atomic), are flushed to disk, then renamed over the target. On any failure the temporary
/// file is removed and the target is left as it was.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(FileIOError) {
  let target = URL(fileURLWithPath: path)
  let directory = target.deletingLastPathComponent()
  let temporary = directory.appendingPathComponent(
    ".\(target.lastPathComponent).\(UUID().uuidString).tmp")
  let manager = FileManager.default
  // open(2) rather than FileManager.createFile, which writes through a temporary of its own
  // (".dat.nosync…") that a killed process would leave behind as well.
  let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
  guard descriptor >= 0 else {
    let reason =
      manager.fileExists(atPath: directory.path)
      ? "cannot create a temporary file in \(directory.path)"
      : "directory \(directory.path) does not exist"
    throw .unwritable(path: path, reason: reason)
  }
  do {
    let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    do {
      try handle.write(contentsOf: Data(bytes))
      try handle.synchronize()
      try handle.close()
    } catch {
      try? handle.close()
      throw error
    }
  } catch {
    try? manager.removeItem(at: temporary)
    throw .unwritable(path: path, reason: systemReason(error))
  }
  if rename(temporary.path, target.path) != 0 {
    let reason = String(cString: strerror(errno))
    try? manager.removeItem(at: temporary)
    throw .unwritable(path: path, reason: reason)
  }
}

/// The POSIX explanation buried in a Foundation error ("Permission denied"), else its description.
private func systemReason(_ error: any Error) -> String {
  if let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? POSIXError {
    return String(cString: strerror(underlying.code.rawValue))
  }
  if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
  return (error as NSError).localizedDescription
}

// MARK: - Message helpers shared by the file formats

/// `text` with control characters escaped, so an error message stays on one line.
///
/// Escapes C0, DEL and C1 controls (latin-1 `.npy` headers can hold NEL, 0x85) and the Unicode
/// line and paragraph separators: every scalar for which a `Character` could be a newline.
func printable(_ text: String) -> String {
  guard text.unicodeScalars.contains(where: needsEscape) else {
    return text
  }
  var result = ""
  for scalar in text.unicodeScalars {
    if needsEscape(scalar) {
      result += "\\u{\(String(scalar.value, radix: 16))}"
    } else {
      result.unicodeScalars.append(scalar)
    }
  }
  return result
}

private func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
  scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
    || scalar.value == 0x2029
}

/// At most 40 characters of `text`, printable, for quoting a found value in an error message.
func abbreviated(_ text: String) -> String {
  let head = text.prefix(41)
  return printable(head.count > 40 ? String(head.prefix(40)) + "…" : text)
}

// MARK: - Float32 bytes shared by the file formats

/// `count` little-endian float32 values starting at byte `start`, copied (any alignment).
func littleEndianFloats(_ bytes: [UInt8], at start: Int, count: Int) -> [Float] {
  (0..<count).map { i in
    let o = start + 4 * i
    let bits =
      UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16
      | UInt32(bytes[o + 3]) << 24
    return Float(bitPattern: bits)
  }
}

/// Stores `values` as little-endian float32 into `bytes` from byte `start` on.
func storeLittleEndian(_ values: [Float], into bytes: inout [UInt8], at start: Int) {
  var position = start
  for value in values {
    let bits = value.bitPattern
    bytes[position] = UInt8(truncatingIfNeeded: bits)
    bytes[position + 1] = UInt8(truncatingIfNeeded: bits >> 8)
    bytes[position + 2] = UInt8(truncatingIfNeeded: bits >> 16)
    bytes[position + 3] = UInt8(truncatingIfNeeded: bits >> 24)
    position += 4
  }
}

/// How many of `values` are NaN or infinite and the flat index of the first; nil when none are.
func nonFiniteSummary(_ values: [Float]) -> (count: Int, firstIndex: Int)? {
  var count = 0
  var first = -1
  for (index, value) in values.enumerated() where !value.isFinite {
    if first < 0 { first = index }
    count += 1
  }
  return count == 0 ? nil : (count, first)
}
