// What the safetensors (JSON) and .npy (Python literal) header parsers share: a cursor over the
// header bytes, and the overflow-checked size of a shape.

/// A cursor over the header bytes `start..<end` of a file, for a hand-written parser.
protocol HeaderScanner {
  /// The error a syntax problem becomes.
  associatedtype Failure: Error
  var bytes: [UInt8] { get }
  /// First header byte.
  var start: Int { get }
  /// One past the last header byte.
  var end: Int { get }
  var position: Int { get set }
  /// Deepest nesting of values accepted, so hostile input cannot exhaust the stack.
  static var maxDepth: Int { get }
  /// The error for a syntax problem at the cursor.
  func syntax(_ reason: String) -> Failure
}

extension HeaderScanner {
  /// The byte at the cursor, nil at the end of the header.
  var current: UInt8? { position < end ? bytes[position] : nil }

  /// The byte at the cursor, for messages: a quoted printable character or its hex value.
  var found: String {
    guard let byte = current else { return "end of header" }
    if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
    return "byte 0x\(hex(byte))"
  }

  /// Moves past spaces, tabs and line ends.
  mutating func skipWhitespace() {
    while position < end {
      switch bytes[position] {
      case 0x20, 0x09, 0x0A, 0x0D: position += 1
      default: return
      }
    }
  }

  /// The first byte of a value nested `depth` deep, after whitespace; throws past `maxDepth` or
  /// at the end of the header.
  mutating func valueStart(depth: Int) throws(Failure) -> UInt8 {
    guard depth <= Self.maxDepth else { throw syntax("nesting deeper than \(Self.maxDepth) levels") }
    skipWhitespace()
    guard let byte = current else { throw syntax("expected a value, found end of header") }
    return byte
  }

  /// Moves past `byte` (after whitespace), or throws that something else was found.
  mutating func expect(_ byte: Unicode.Scalar) throws(Failure) {
    skipWhitespace()
    guard current == UInt8(ascii: byte) else { throw syntax("expected '\(byte)', found \(found)") }
    position += 1
  }
}

/// The element count of `shape` and its size in bytes, or nil when either overflows `Int`.
///
/// Multiplies left to right exactly as `Tensor` does, so an accepted shape can never trap there.
func checkedSize(of shape: [Int], elementSize: Int) -> (count: Int, bytes: Int)? {
  var count = 1
  for extent in shape {
    let (product, overflow) = count.multipliedReportingOverflow(by: extent)
    if overflow { return nil }
    count = product
  }
  let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
  return overflow ? nil : (count, bytes)
}

/// Two (or four, for wider integers) upper-case hex digits.
func hex<T: BinaryInteger>(_ value: T) -> String {
  let digits = String(value, radix: 16, uppercase: true)
  let width = T.self == UInt8.self ? 2 : 4
  return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
