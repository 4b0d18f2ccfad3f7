// The safetensors header: a single-pass JSON parser that knows the schema, checks every entry
// (fields, dtype, shape, offsets, byte size) and reports the first problem in file order.

/// One validated header entry: where the tensor's bytes are and what they hold.
struct HeaderEntry {
  let name: String
  let dtype: String
  let shape: [Int]
  /// Element count, the product of `shape`.
  let count: Int
  /// Byte range within the data section.
  let begin: Int
  let end: Int
}

/// A JSON value that was checked and skipped, kept only to describe it in error messages.
private enum SkippedValue {
  case object, array
  case boolean(Bool)
  case null
  case string(String)
  case number(String)

  /// "the number 1.5", "an array": for sentences.
  var phrase: String {
    switch self {
    case .object: "an object"
    case .array: "an array"
    case .boolean(let value): "\(value)"
    case .null: "null"
    case .string(let text): "the string \"\(abbreviated(text))\""
    case .number(let literal): "the number \(abbreviated(literal))"
    }
  }

  /// "1.5", "[…]": for listing array elements.
  var compact: String {
    switch self {
    case .object: "{…}"
    case .array: "[…]"
    case .boolean(let value): "\(value)"
    case .null: "null"
    case .string(let text): "\"\(abbreviated(text))\""
    case .number(let literal): abbreviated(literal)
    }
  }
}

/// A single-pass parser for the safetensors header that knows its schema.
///
/// It builds nothing it does not need (other values are checked and skipped), limits nesting to
/// `maxDepth` so hostile input cannot exhaust the stack, and reports the first problem in file
/// order. The bytes are known to be valid UTF-8.
struct HeaderParser: HeaderScanner {
  let bytes: [UInt8]
  /// First header byte.
  let start: Int
  /// One past the last header byte.
  let end: Int
  let file: String
  var position: Int

  static let maxDepth = 64

  init(bytes: [UInt8], start: Int, end: Int, file: String) {
    self.bytes = bytes
    self.start = start
    self.end = end
    self.file = file
    self.position = start
  }

  mutating func parseHeader() throws(SafeTensorsError)
    -> (entries: [HeaderEntry], metadata: [String: String])
  {
    skipWhitespace()
    guard let first = current else { throw syntax("empty header, expected a JSON object") }
    if first != UInt8(ascii: "{") {
      let found = try skipValue(depth: 1)
      try expectEnd()
      throw .headerNotObject(file: file, found: found.phrase)
    }
    position += 1
    var entries: [HeaderEntry] = []
    var metadata: [String: String] = [:]
    var seen: Set<String> = []
    try parseMembers(closing: "}") { (parser, key) throws(SafeTensorsError) in
      guard seen.insert(key).inserted else { throw .duplicateName(file: parser.file, name: key) }
      if key == "__metadata__" {
        metadata = try parser.parseMetadata()
      } else {
        entries.append(try parser.parseEntry(name: key))
      }
    }
    try expectEnd()
    return (entries, metadata)
  }

  /// `{"key": "value", …}` with string values only.
  private mutating func parseMetadata() throws(SafeTensorsError) -> [String: String] {
    skipWhitespace()
    guard current == UInt8(ascii: "{") else {
      throw .metadataNotObject(file: file, found: try skipValue(depth: 2).phrase)
    }
    position += 1
    var metadata: [String: String] = [:]
    try parseMembers(closing: "}") { (parser, key) throws(SafeTensorsError) in
      parser.skipWhitespace()
      guard parser.current == UInt8(ascii: "\"") else {
        let found = try parser.skipValue(depth: 3).phrase
        throw .metadataValueNotString(file: parser.file, key: key, found: found)
      }
      let value = try parser.parseString()
      guard metadata.updateValue(value, forKey: key) == nil else {
        throw .duplicateMetadataKey(file: parser.file, key: key)
      }
    }
    return metadata
  }

  /// `{"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}`, fields in any order.
  private mutating func parseEntry(name: String) throws(SafeTensorsError) -> HeaderEntry {
    skipWhitespace()
    guard current == UInt8(ascii: "{") else {
      throw .entryNotObject(file: file, tensor: name, found: try skipValue(depth: 2).phrase)
    }
    position += 1
    var dtype: String?
    var shape: [Int]?
    var offsets: (begin: Int, end: Int)?
    var seen: Set<String> = []
    try parseMembers(closing: "}") { (parser, field) throws(SafeTensorsError) in
      guard seen.insert(field).inserted else {
        throw .duplicateField(file: parser.file, tensor: name, field: field)
      }
      switch field {
      case "dtype": dtype = try parser.parseDType(tensor: name)
      case "shape": shape = try parser.parseShape(tensor: name)
      case "data_offsets": offsets = try parser.parseOffsets(tensor: name)
      default: throw .unknownField(file: parser.file, tensor: name, field: field)
      }
    }
    guard let dtype else { throw .missingField(file: file, tensor: name, field: "dtype") }
    guard let shape else { throw .missingField(file: file, tensor: name, field: "shape") }
    guard let offsets else { throw .missingField(file: file, tensor: name, field: "data_offsets") }

    guard let (count, byteCount) = checkedSize(of: shape, elementSize: SafeTensorsFile.layoutSizes[dtype]!)
    else { throw .elementCountOverflow(file: file, tensor: name, shape: shape) }
    if byteCount != offsets.end - offsets.begin {
      throw .sizeMismatch(
        file: file, tensor: name, dtype: dtype, shape: shape, expectedBytes: byteCount,
        actualBytes: offsets.end - offsets.begin)
    }
    return HeaderEntry(
      name: name, dtype: dtype, shape: shape, count: count, begin: offsets.begin,
      end: offsets.end)
  }

  private mutating func parseDType(tensor: String) throws(SafeTensorsError) -> String {
    skipWhitespace()
    guard current == UInt8(ascii: "\"") else {
      throw .mistypedField(
        file: file, tensor: tensor, field: "dtype", expected: "a string",
        found: try skipValue(depth: 3).phrase)
    }
    let dtype = try parseString()
    guard SafeTensorsFile.layoutSizes[dtype] != nil else {
      throw .unsupportedDType(file: file, tensor: tensor, dtype: dtype)
    }
    return dtype
  }

  private mutating func parseShape(tensor: String) throws(SafeTensorsError) -> [Int] {
    try openArray(tensor: tensor, field: "shape", expected: "an array of integers")
    var shape: [Int] = []
    try parseElements { (parser) throws(SafeTensorsError) in
      let element = try parser.parseInteger(depth: 4)
      guard case .integer(let extent) = element, extent >= 0 else {
        throw .badShapeEntry(
          file: parser.file, tensor: tensor, index: shape.count, found: element.phrase)
      }
      shape.append(extent)
    }
    return shape
  }

  private mutating func parseOffsets(tensor: String) throws(SafeTensorsError)
    -> (begin: Int, end: Int)
  {
    try openArray(tensor: tensor, field: "data_offsets", expected: "an array of two integers")
    var elements: [IntegerOrOther] = []
    try parseElements { (parser) throws(SafeTensorsError) in
      // Keep only what the message needs: the first few elements of a long array.
      let element = try parser.parseInteger(depth: 4)
      if elements.count <= 4 { elements.append(element) }
    }
    if elements.count == 2, case .integer(let begin) = elements[0],
      case .integer(let end) = elements[1], begin >= 0, begin <= end
    {
      return (begin, end)
    }
    let listed = elements.prefix(4).map(\.compact) + (elements.count > 4 ? ["…"] : [])
    throw .badOffsets(file: file, tensor: tensor, found: "[\(listed.joined(separator: ", "))]")
  }

  /// Moves past the `[` that opens `field`'s value, or throws that the field holds something else.
  private mutating func openArray(tensor: String, field: String, expected: String)
    throws(SafeTensorsError)
  {
    skipWhitespace()
    guard current == UInt8(ascii: "[") else {
      throw .mistypedField(
        file: file, tensor: tensor, field: field, expected: expected,
        found: try skipValue(depth: 3).phrase)
    }
    position += 1
  }

  /// An array element that should be an integer: its value, or what it was instead.
  private enum IntegerOrOther {
    case integer(Int)
    case other(SkippedValue)

    var phrase: String {
      switch self {
      case .integer(let value): "the number \(value)"
      case .other(let value): value.phrase
      }
    }

    var compact: String {
      switch self {
      case .integer(let value): "\(value)"
      case .other(let value): value.compact
      }
    }
  }

  /// An integer literal in `Int` range; fractions, exponents and huge values come back as other.
  private mutating func parseInteger(depth: Int) throws(SafeTensorsError) -> IntegerOrOther {
    let value = try skipValue(depth: depth)
    if case .number(let literal) = value, let integer = Int(literal) { return .integer(integer) }
    return .other(value)
  }

  // MARK: JSON grammar

  /// Parses `"key": value` pairs up to `closing`, after the opening brace; `member` parses each
  /// value and must consume it.
  private mutating func parseMembers(
    closing: Unicode.Scalar,
    _ member: (inout HeaderParser, String) throws(SafeTensorsError) -> Void
  ) throws(SafeTensorsError) {
    skipWhitespace()
    if current == UInt8(ascii: closing) {
      position += 1
      return
    }
    while true {
      skipWhitespace()
      guard current == UInt8(ascii: "\"") else {
        throw syntax("expected a string key, found \(found)")
      }
      let key = try parseString()
      try expect(":")
      try member(&self, key)
      skipWhitespace()
      switch current {
      case UInt8(ascii: ","): position += 1
      case UInt8(ascii: closing):
        position += 1
        return
      default: throw syntax("expected ',' or '\(closing)', found \(found)")
      }
    }
  }

  /// Parses array elements up to `]`, after the opening bracket; `element` must consume each.
  private mutating func parseElements(
    _ element: (inout HeaderParser) throws(SafeTensorsError) -> Void
  ) throws(SafeTensorsError) {
    skipWhitespace()
    if current == UInt8(ascii: "]") {
      position += 1
      return
    }
    while true {
      try element(&self)
      skipWhitespace()
      switch current {
      case UInt8(ascii: ","): position += 1
      case UInt8(ascii: "]"):
        position += 1
        return
      default: throw syntax("expected ',' or ']', found \(found)")
      }
    }
  }

  /// Checks one JSON value of any type and moves past it.
  private mutating func skipValue(depth: Int) throws(SafeTensorsError) -> SkippedValue {
    let byte = try valueStart(depth: depth)
    switch byte {
    case UInt8(ascii: "{"):
      position += 1
      try parseMembers(closing: "}") { (parser, _) throws(SafeTensorsError) in
        _ = try parser.skipValue(depth: depth + 1)
      }
      return .object
    case UInt8(ascii: "["):
      position += 1
      try parseElements { (parser) throws(SafeTensorsError) in
        _ = try parser.skipValue(depth: depth + 1)
      }
      return .array
    case UInt8(ascii: "\""):
      return .string(try parseString())
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return .number(try parseNumber())
    case UInt8(ascii: "t"):
      try expectWord("true")
      return .boolean(true)
    case UInt8(ascii: "f"):
      try expectWord("false")
      return .boolean(false)
    case UInt8(ascii: "n"):
      try expectWord("null")
      return .null
    default:
      throw syntax("expected a value, found \(found)")
    }
  }

  /// A JSON string literal, escapes resolved.
  private mutating func parseString() throws(SafeTensorsError) -> String {
    position += 1  // the opening quote, checked by the caller
    let contentStart = position
    // Fast path: no escapes, so the content is the bytes themselves.
    while position < end {
      let byte = bytes[position]
      if byte == UInt8(ascii: "\"") {
        position += 1
        return String(decoding: bytes[contentStart..<(position - 1)], as: UTF8.self)
      }
      if byte == UInt8(ascii: "\\") { break }
      if byte < 0x20 { throw syntax("control character 0x\(hex(byte)) in a string") }
      position += 1
    }
    var content = Array(bytes[contentStart..<position])
    while position < end {
      let byte = bytes[position]
      position += 1
      switch byte {
      case UInt8(ascii: "\""):
        return String(decoding: content, as: UTF8.self)
      case UInt8(ascii: "\\"):
        guard position < end else { break }
        let escape = bytes[position]
        position += 1
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): content.append(escape)
        case UInt8(ascii: "b"): content.append(0x08)
        case UInt8(ascii: "f"): content.append(0x0C)
        case UInt8(ascii: "n"): content.append(0x0A)
        case UInt8(ascii: "r"): content.append(0x0D)
        case UInt8(ascii: "t"): content.append(0x09)
        case UInt8(ascii: "u"):
          var scalar = try parseHex4()
          if (0xD800..<0xDC00).contains(scalar) {
            // A high surrogate must be followed by an escaped low surrogate.
            guard position + 1 < end, bytes[position] == UInt8(ascii: "\\"),
              bytes[position + 1] == UInt8(ascii: "u")
            else { throw syntax("unpaired surrogate \\u\(hex(scalar))") }
            position += 2
            let low = try parseHex4()
            guard (0xDC00..<0xE000).contains(low) else {
              throw syntax("unpaired surrogate \\u\(hex(scalar))")
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
          } else if (0xDC00..<0xE000).contains(scalar) {
            throw syntax("unpaired surrogate \\u\(hex(scalar))")
          }
          // Surrogates are handled above, so every remaining value is a scalar.
          guard let unicode = Unicode.Scalar(scalar) else { throw syntax("invalid \\u escape") }
          UTF8.encode(unicode) { content.append($0) }
        default:
          position -= 1
          // `found` shows a control byte in hex, so the message stays on one line.
          throw syntax("invalid escape: backslash followed by \(found)")
        }
      case 0..<0x20:
        position -= 1
        throw syntax("control character 0x\(hex(byte)) in a string")
      default:
        content.append(byte)
      }
    }
    throw syntax("unterminated string")
  }

  /// Four hex digits of a `\u` escape.
  private mutating func parseHex4() throws(SafeTensorsError) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let byte = current else { throw syntax("unterminated \\u escape") }
      let digit: UInt32
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
      default: throw syntax("expected a hex digit in a \\u escape, found \(found)")
      }
      value = value << 4 | digit
      position += 1
    }
    return value
  }

  /// A JSON number literal, checked against the grammar and returned as written.
  private mutating func parseNumber() throws(SafeTensorsError) -> String {
    let literalStart = position
    if current == UInt8(ascii: "-") { position += 1 }
    guard let lead = current, isDigit(lead) else {
      throw syntax("expected a digit, found \(found)")
    }
    position += 1
    if lead != UInt8(ascii: "0") { skipDigits() }
    if current == UInt8(ascii: ".") {
      position += 1
      guard let digit = current, isDigit(digit) else {
        throw syntax("expected a digit after '.', found \(found)")
      }
      skipDigits()
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
      position += 1
      if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
      guard let digit = current, isDigit(digit) else {
        throw syntax("expected a digit in the exponent, found \(found)")
      }
      skipDigits()
    }
    return String(decoding: bytes[literalStart..<position], as: UTF8.self)
  }

  private func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
  }

  private mutating func skipDigits() {
    while position < end, isDigit(bytes[position]) { position += 1 }
  }

  private mutating func expectWord(_ word: String) throws(SafeTensorsError) {
    for byte in word.utf8 {
      guard current == byte else { throw syntax("expected '\(word)', found \(found)") }
      position += 1
    }
  }

  /// Only whitespace (the writer's space padding) may follow the top-level value.
  private mutating func expectEnd() throws(SafeTensorsError) {
    skipWhitespace()
    if position < end { throw syntax("unexpected \(found) after the top-level value") }
  }

  func syntax(_ reason: String) -> SafeTensorsError {
    .invalidJSON(file: file, offset: position - start, reason: reason)
  }
}
