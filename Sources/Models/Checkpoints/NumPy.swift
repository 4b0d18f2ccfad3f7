// NumPy `.npy` arrays (format versions 1.0, 2.0 and 3.0, numpy/lib/format.py), restricted to
// little-endian float32 in C order: the golden inputs and outputs exchanged with the Python tools.

import Engine

/// An `.npy` file that could not be read, parsed or written.
///
/// Every message is one line naming the file.
public enum NumPyError: Error, Equatable, CustomStringConvertible {
  /// The file itself could not be read or written.
  case file(FileIOError)
  /// The file does not start with `\x93NUMPY`.
  case badMagic(file: String)
  /// The file ends inside the fixed preamble (magic, version, header length) of `needed` bytes.
  case fileTooShort(file: String, size: Int, needed: Int)
  /// A format version other than 1.0, 2.0 and 3.0.
  case unsupportedVersion(file: String, major: UInt8, minor: UInt8)
  /// The header is longer than the reader's cap (`maxNumPyHeaderLength`).
  case headerTooLarge(file: String, headerLength: Int, limit: Int)
  /// The header length runs past the end of the file.
  case headerBeyondFile(file: String, headerLength: Int, available: Int)
  /// The header is not a Python dict literal; `offset` counts bytes from the start of the header.
  case headerNotDict(file: String, offset: Int, reason: String)
  /// The header lacks `descr`, `fortran_order` or `shape`.
  case missingKey(file: String, key: String)
  /// The header has a key other than `descr`, `fortran_order` and `shape`.
  case unexpectedKey(file: String, key: String)
  /// The header has the same key twice.
  case duplicateKey(file: String, key: String)
  /// `descr` is not a string (a structured dtype, for instance); `found` is its Python repr.
  case badDescr(file: String, found: String)
  /// A dtype other than little-endian float32 (`'<f4'`).
  case unsupportedDType(file: String, descr: String)
  /// `fortran_order` is not `True` or `False`.
  case badFortranOrder(file: String, found: String)
  /// `fortran_order` is `True`: column-major data is not supported.
  case fortranOrder(file: String)
  /// `shape` is not a tuple of non-negative integers.
  case badShape(file: String, found: String)
  /// The element count (or byte count) of the shape does not fit in `Int`.
  case elementCountOverflow(file: String, shape: [Int])
  /// The data after the header is not exactly product(shape) · 4 bytes.
  case dataSizeMismatch(file: String, shape: [Int], expectedBytes: Int, actualBytes: Int)
  /// The array holds NaN or infinity: `count` such values, the first at flat index `firstIndex`.
  case nonFinite(file: String, count: Int, firstIndex: Int)

  public var description: String {
    switch self {
    case .file(let error):
      return error.description
    case .badMagic(let file):
      return "\(file): not a NumPy .npy file (missing the \\x93NUMPY magic)"
    case .fileTooShort(let file, let size, let needed):
      return "\(file): \(size) bytes, too short for the \(needed)-byte .npy preamble"
    case .unsupportedVersion(let file, let major, let minor):
      return "\(file): .npy format version \(major).\(minor), expected 1.0, 2.0 or 3.0"
    case .headerTooLarge(let file, let length, let limit):
      return "\(file): header length \(length) exceeds the \(limit)-byte limit"
    case .headerBeyondFile(let file, let length, let available):
      return "\(file): header length \(length) runs past the end of the file "
        + "(\(available) bytes follow the preamble)"
    case .headerNotDict(let file, let offset, let reason):
      return "\(file): header is not a Python dict literal at byte \(offset): \(reason)"
    case .missingKey(let file, let key):
      return "\(file): header has no '\(key)'"
    case .unexpectedKey(let file, let key):
      return "\(file): header has unexpected key '\(abbreviated(key))', "
        + "expected only 'descr', 'fortran_order' and 'shape'"
    case .duplicateKey(let file, let key):
      return "\(file): header has key '\(abbreviated(key))' twice"
    case .badDescr(let file, let found):
      return "\(file): 'descr' is \(found), expected the string '<f4'"
    case .unsupportedDType(let file, let descr):
      return "\(file): dtype '\(abbreviated(descr))' (\(dtypeName(descr))), "
        + "expected '<f4' (little-endian float32)"
    case .badFortranOrder(let file, let found):
      return "\(file): 'fortran_order' is \(found), expected False"
    case .fortranOrder(let file):
      return "\(file): 'fortran_order' is True, only C-order arrays are supported"
    case .badShape(let file, let found):
      return "\(file): 'shape' is \(found), expected a tuple of non-negative integers"
    case .elementCountOverflow(let file, let shape):
      return "\(file): shape \(shape) has more elements than fit in Int"
    case .dataSizeMismatch(let file, let shape, let expected, let actual):
      return
        "\(file): shape \(shape) needs \(expected) data bytes (float32) but the file has \(actual)"
    case .nonFinite(let file, let count, let firstIndex):
      return
        "\(file): \(count) non-finite values (NaN or Inf), the first at flat index \(firstIndex)"
    }
  }
}

/// Largest header accepted, as numpy's own reader (`format._MAX_HEADER_SIZE`).
public let maxNumPyHeaderLength = 10_000

/// Reads the `.npy` file at `path` as a float32 tensor of its stored shape.
///
/// NaN or infinite values are an error unless `allowNonFinite` is set.
public func readNumPy(path: String, allowNonFinite: Bool = false) throws(NumPyError) -> Tensor {
  let bytes: [UInt8]
  do throws(FileIOError) { bytes = try readFile(path) } catch { throw .file(error) }
  return try parseNumPy(bytes, name: path, allowNonFinite: allowNonFinite)
}

/// Validates and decodes the bytes of an `.npy` file; `name` labels error messages.
///
/// Accepts what numpy writes: versions 1.0–3.0, header keys in any order, either quote style,
/// trailing commas and `()` for a scalar (a rank-0 tensor with one element).
public func parseNumPy(_ bytes: [UInt8], name: String, allowNonFinite: Bool = false)
  throws(NumPyError) -> Tensor
{
  let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
  guard bytes.prefix(6).elementsEqual(magic.prefix(min(6, bytes.count))) else {
    throw .badMagic(file: name)
  }
  guard bytes.count >= 8 else { throw .fileTooShort(file: name, size: bytes.count, needed: 10) }
  let major = bytes[6]
  let minor = bytes[7]
  guard minor == 0, (1...3).contains(major) else {
    throw .unsupportedVersion(file: name, major: major, minor: minor)
  }
  // Version 1.0 stores the header length in 2 bytes, later versions in 4.
  let lengthBytes = major == 1 ? 2 : 4
  let preamble = 8 + lengthBytes
  guard bytes.count >= preamble else {
    throw .fileTooShort(file: name, size: bytes.count, needed: preamble)
  }
  var headerLength = 0
  for i in 0..<lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
  if headerLength > maxNumPyHeaderLength {
    throw .headerTooLarge(file: name, headerLength: headerLength, limit: maxNumPyHeaderLength)
  }
  if headerLength > bytes.count - preamble {
    throw .headerBeyondFile(
      file: name, headerLength: headerLength, available: bytes.count - preamble)
  }
  let dataStart = preamble + headerLength
  // Versions 1.0 and 2.0 are latin-1, 3.0 is UTF-8.
  if major == 3, String(validating: bytes[preamble..<dataStart], as: UTF8.self) == nil {
    throw .headerNotDict(file: name, offset: 0, reason: "header is not valid UTF-8")
  }

  var parser = PythonLiteralParser(
    bytes: bytes, start: preamble, end: dataStart, file: name, utf8: major == 3)
  let header = try parser.parseDict()

  var seen: Set<String> = []
  var descr: PythonValue?
  var fortranOrder: PythonValue?
  var shapeValue: PythonValue?
  for (key, value) in header {
    guard seen.insert(key).inserted else { throw .duplicateKey(file: name, key: key) }
    switch key {
    case "descr": descr = value
    case "fortran_order": fortranOrder = value
    case "shape": shapeValue = value
    default: throw .unexpectedKey(file: name, key: key)
    }
  }
  guard let descr else { throw .missingKey(file: name, key: "descr") }
  guard let fortranOrder else { throw .missingKey(file: name, key: "fortran_order") }
  guard let shapeValue else { throw .missingKey(file: name, key: "shape") }

  guard case .string(let dtype) = descr else { throw .badDescr(file: name, found: descr.repr) }
  guard dtype == "<f4" else { throw .unsupportedDType(file: name, descr: dtype) }
  guard case .boolean(let isFortran) = fortranOrder else {
    throw .badFortranOrder(file: name, found: fortranOrder.repr)
  }
  if isFortran { throw .fortranOrder(file: name) }
  guard case .tuple(let extents) = shapeValue else {
    throw .badShape(file: name, found: shapeValue.repr)
  }
  var shape: [Int] = []
  for extent in extents {
    guard case .integer(let literal) = extent, let value = Int(literal) else {
      throw .badShape(file: name, found: shapeValue.repr)
    }
    shape.append(value)
  }

  guard let (count, byteCount) = checkedSize(of: shape, elementSize: 4) else {
    throw .elementCountOverflow(file: name, shape: shape)
  }
  if byteCount != bytes.count - dataStart {
    throw .dataSizeMismatch(
      file: name, shape: shape, expectedBytes: byteCount, actualBytes: bytes.count - dataStart)
  }
  let values = littleEndianFloats(bytes, at: dataStart, count: count)
  if !allowNonFinite, let (count, first) = nonFiniteSummary(values) {
    throw .nonFinite(file: name, count: count, firstIndex: first)
  }
  return Tensor(shape: shape, values: values)
}

/// The bytes of an `.npy` file holding `tensor`, exactly as `numpy.save` writes a C-order
/// float32 array: version 1.0, the data starting at a multiple of 64 bytes.
public func encodeNumPy(_ tensor: Tensor, name: String = "npy") throws(NumPyError) -> [UInt8] {
  let shape =
    switch tensor.shape.count {
    case 0: "()"
    case 1: "(\(tensor.shape[0]),)"
    default: "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
    }
  var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }".utf8)
  // As numpy: pad with spaces and end with a newline so that 10 + header length is a multiple of
  // 64 (a full 64 spaces when it already is).
  let padding = 64 - (10 + header.count + 1) % 64
  header += [UInt8](repeating: 0x20, count: padding) + [0x0A]
  guard header.count <= maxNumPyHeaderLength else {
    throw .headerTooLarge(file: name, headerLength: header.count, limit: maxNumPyHeaderLength)
  }
  var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
  bytes += [UInt8(truncatingIfNeeded: header.count), UInt8(truncatingIfNeeded: header.count >> 8)]
  bytes += header
  let dataStart = bytes.count
  bytes += [UInt8](repeating: 0, count: 4 * tensor.count)
  storeLittleEndian(tensor.values, into: &bytes, at: dataStart)
  return bytes
}

/// Writes `tensor` as an `.npy` file (see `encodeNumPy`) atomically to `path`.
public func writeNumPy(_ tensor: Tensor, to path: String) throws(NumPyError) {
  let bytes = try encodeNumPy(tensor, name: path)
  do throws(FileIOError) { try writeFileAtomically(bytes, to: path) } catch { throw .file(error) }
}

/// A plain-words name for a numpy dtype string, for messages: `'>f4'` → "big-endian float32".
private func dtypeName(_ descr: String) -> String {
  let characters = Array(descr)
  guard characters.count >= 3, "<>|=".contains(characters[0]),
    let size = Int(String(characters[2...])), size > 0, size <= 64
  else { return "not a simple dtype" }
  let order = characters[0] == ">" ? "big-endian " : ""
  switch characters[1] {
  case "f": return "\(order)float\(size * 8)"
  case "i": return "\(order)int\(size * 8)"
  case "u": return "\(order)uint\(size * 8)"
  case "c": return "\(order)complex\(size * 8)"
  case "b": return "bool"
  case "U": return "unicode string"
  case "S": return "byte string"
  default: return "unsupported kind '\(printable(String(characters[1])))'"
  }
}

// MARK: - Header parsing

/// A Python literal as it may appear in an `.npy` header.
private enum PythonValue {
  case string(String)
  case boolean(Bool)
  case none
  /// Digits as written (a trailing `L` from Python 2 dropped); may exceed `Int`.
  case integer(String)
  /// Any other number-like token (`1.5`, `-3`, `1e3`), as written.
  case otherNumber(String)
  case tuple([PythonValue])
  case list([PythonValue])
  case dict([(String, PythonValue)])

  /// The value as Python would print it (long strings and collections abbreviated).
  var repr: String {
    switch self {
    case .string(let text): "'\(abbreviated(text))'"
    case .boolean(let value): value ? "True" : "False"
    case .none: "None"
    case .integer(let literal), .otherNumber(let literal): abbreviated(literal)
    case .tuple(let items):
      items.count == 1 ? "(\(items[0].repr),)" : "(\(Self.list(items)))"
    case .list(let items): "[\(Self.list(items))]"
    case .dict(let items): items.isEmpty ? "{}" : "{…}"
    }
  }

  private static func list(_ items: [PythonValue]) -> String {
    let shown = items.prefix(8).map(\.repr) + (items.count > 8 ? ["…"] : [])
    return shown.joined(separator: ", ")
  }
}

/// A parser for the small subset of Python literals numpy writes into headers: dicts, tuples,
/// lists, quoted strings without escapes, integers, `True`, `False` and `None`.
///
/// The header is at most `maxNumPyHeaderLength` bytes and nesting is limited to `maxDepth`, so
/// hostile input can neither exhaust memory nor the stack.
private struct PythonLiteralParser: HeaderScanner {
  let bytes: [UInt8]
  /// First header byte.
  let start: Int
  /// One past the last header byte.
  let end: Int
  let file: String
  /// Strings are UTF-8 (version 3.0), else latin-1.
  let utf8: Bool
  var position: Int

  static let maxDepth = 16

  init(bytes: [UInt8], start: Int, end: Int, file: String, utf8: Bool) {
    self.bytes = bytes
    self.start = start
    self.end = end
    self.file = file
    self.utf8 = utf8
    self.position = start
  }

  /// The header's top-level dict, keys in file order; only whitespace may follow it.
  mutating func parseDict() throws(NumPyError) -> [(String, PythonValue)] {
    skipWhitespace()
    guard current == UInt8(ascii: "{") else { throw syntax("expected '{', found \(found)") }
    guard case .dict(let items) = try parseValue(depth: 1) else {
      throw syntax("expected a dict")
    }
    skipWhitespace()
    if position < end { throw syntax("unexpected \(found) after the dict") }
    return items
  }

  private mutating func parseValue(depth: Int) throws(NumPyError) -> PythonValue {
    let byte = try valueStart(depth: depth)
    switch byte {
    case UInt8(ascii: "{"):
      position += 1
      var items: [(String, PythonValue)] = []
      try parseSequence(closing: "}") { (parser) throws(NumPyError) in
        parser.skipWhitespace()
        guard case .string(let key) = try parser.parseValue(depth: depth + 1) else {
          throw parser.syntax("dict keys must be strings")
        }
        try parser.expect(":")
        items.append((key, try parser.parseValue(depth: depth + 1)))
      }
      return .dict(items)
    case UInt8(ascii: "("):
      position += 1
      var items: [PythonValue] = []
      var sawComma = false
      try parseSequence(closing: ")", sawComma: &sawComma) { (parser) throws(NumPyError) in
        items.append(try parser.parseValue(depth: depth + 1))
      }
      // `(3)` is just the number 3 in Python; a one-element tuple needs its comma.
      if items.count == 1 && !sawComma { return items[0] }
      return .tuple(items)
    case UInt8(ascii: "["):
      position += 1
      var items: [PythonValue] = []
      try parseSequence(closing: "]") { (parser) throws(NumPyError) in
        items.append(try parser.parseValue(depth: depth + 1))
      }
      return .list(items)
    case UInt8(ascii: "'"), UInt8(ascii: "\""):
      return .string(try parseString())
    case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return parseNumber()
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"):
      let wordStart = position
      while let byte = current, isWordByte(byte) { position += 1 }
      let word = String(decoding: bytes[wordStart..<position], as: UTF8.self)
      switch word {
      case "True": return .boolean(true)
      case "False": return .boolean(false)
      case "None": return .none
      default:
        position = wordStart
        throw syntax("unexpected name '\(abbreviated(word))'")
      }
    default:
      throw syntax("expected a value, found \(found)")
    }
  }

  /// Comma-separated items up to `closing`, a trailing comma allowed; after the opening bracket.
  private mutating func parseSequence(
    closing: Unicode.Scalar, _ item: (inout PythonLiteralParser) throws(NumPyError) -> Void
  ) throws(NumPyError) {
    var sawComma = false
    try parseSequence(closing: closing, sawComma: &sawComma, item)
  }

  private mutating func parseSequence(
    closing: Unicode.Scalar, sawComma: inout Bool,
    _ item: (inout PythonLiteralParser) throws(NumPyError) -> Void
  ) throws(NumPyError) {
    while true {
      skipWhitespace()
      if current == UInt8(ascii: closing) {
        position += 1
        return
      }
      try item(&self)
      skipWhitespace()
      switch current {
      case UInt8(ascii: ","):
        position += 1
        sawComma = true
      case UInt8(ascii: closing):
        position += 1
        return
      default:
        throw syntax("expected ',' or '\(closing)', found \(found)")
      }
    }
  }

  /// A quoted string without escapes (numpy never writes any).
  private mutating func parseString() throws(NumPyError) -> String {
    let quote = bytes[position]
    position += 1
    let contentStart = position
    while let byte = current, byte != quote {
      if byte == UInt8(ascii: "\\") { throw syntax("escape sequences are not supported") }
      if byte == 0x0A || byte == 0x0D { throw syntax("line break inside a string") }
      position += 1
    }
    guard current == quote else { throw syntax("unterminated string") }
    let content = bytes[contentStart..<position]
    position += 1
    if utf8 { return String(decoding: content, as: UTF8.self) }
    var text = ""
    for byte in content { text.unicodeScalars.append(Unicode.Scalar(byte)) }  // latin-1
    return text
  }

  /// An integer (`12`, Python 2's `12L`) or another number-like token kept for messages.
  private mutating func parseNumber() -> PythonValue {
    let tokenStart = position
    position += 1
    while let byte = current, isWordByte(byte) || byte == UInt8(ascii: ".") { position += 1 }
    var literal = String(decoding: bytes[tokenStart..<position], as: UTF8.self)
    if literal.count > 1, literal.last == "L" || literal.last == "l" { literal.removeLast() }
    // Python rejects leading zeros ("03"), so only "0" may start with one.
    let isInteger =
      literal.utf8.allSatisfy { (0x30...0x39).contains($0) }
      && !(literal.count > 1 && literal.first == "0")
    return isInteger ? .integer(literal) : .otherNumber(literal)
  }

  private func isWordByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"):
      true
    default: false
    }
  }

  func syntax(_ reason: String) -> NumPyError {
    .headerNotDict(file: file, offset: position - start, reason: reason)
  }
}
