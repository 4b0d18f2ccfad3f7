// safetensors checkpoints (Hugging Face's format, as the Rust `safetensors` crate validates it):
// a strict header parser that checks every entry and the exact tiling of the data, F32/F16/BF16
// decoding by copying bytes (the data may be unaligned), and a writer for all three dtypes.

import Engine

/// A safetensors file that could not be read, parsed or written.
///
/// Every message is one line naming the file and, where one is involved, the tensor.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
  /// The file itself could not be read or written.
  case file(FileIOError)
  /// Fewer than the 8 bytes of the little-endian header length.
  case fileTooShort(file: String, size: Int)
  /// The header length is above the reader's cap (`SafeTensorsFile.maxHeaderLength`).
  case headerTooLarge(file: String, headerLength: UInt64, limit: Int)
  /// The header length runs past the end of the file.
  case headerBeyondFile(file: String, headerLength: UInt64, available: Int)
  /// The header bytes are not valid UTF-8.
  case headerNotUTF8(file: String)
  /// The header is not valid JSON; `offset` counts bytes from the start of the header.
  case invalidJSON(file: String, offset: Int, reason: String)
  /// The header is valid JSON but not an object.
  case headerNotObject(file: String, found: String)
  /// A tensor name (or `__metadata__`) appears twice in the header.
  case duplicateName(file: String, name: String)
  /// A tensor's entry is not a JSON object.
  case entryNotObject(file: String, tensor: String, found: String)
  /// A tensor's entry lacks `dtype`, `shape` or `data_offsets`.
  case missingField(file: String, tensor: String, field: String)
  /// A tensor's field has the wrong JSON type (e.g. a numeric `dtype`).
  case mistypedField(file: String, tensor: String, field: String, expected: String, found: String)
  /// A tensor's entry has a field other than `dtype`, `shape` and `data_offsets`.
  case unknownField(file: String, tensor: String, field: String)
  /// A tensor's entry has the same field twice.
  case duplicateField(file: String, tensor: String, field: String)
  /// A dtype other than F32, F16 and BF16.
  case unsupportedDType(file: String, tensor: String, dtype: String)
  /// A shape entry that is not a non-negative integer in `Int` range.
  case badShapeEntry(file: String, tensor: String, index: Int, found: String)
  /// The element count (or byte count) of a shape does not fit in `Int`.
  case elementCountOverflow(file: String, tensor: String, shape: [Int])
  /// `data_offsets` is not two non-negative integers with begin ≤ end.
  case badOffsets(file: String, tensor: String, found: String)
  /// The offsets span a different number of bytes than the dtype and shape need.
  case sizeMismatch(
    file: String, tensor: String, dtype: String, shape: [Int], expectedBytes: Int, actualBytes: Int)
  /// The offsets end past the data section.
  case offsetsBeyondData(file: String, tensor: String, end: Int, dataSize: Int)
  /// Data bytes `start..<end` belong to no tensor; `tensor` is the one that starts at `end`.
  case gap(file: String, tensor: String, start: Int, end: Int)
  /// `second` starts at data byte `start`, before `first` ends at data byte `end`.
  case overlap(file: String, first: String, second: String, start: Int, end: Int)
  /// The tensors end at data byte `dataEnd` but the data section has `dataSize` bytes.
  case trailingBytes(file: String, dataEnd: Int, dataSize: Int)
  /// A tensor holds NaN or infinity: `count` such values, the first at flat index `firstIndex`.
  case nonFinite(file: String, tensor: String, count: Int, firstIndex: Int)
  /// `__metadata__` is not a JSON object.
  case metadataNotObject(file: String, found: String)
  /// A `__metadata__` value is not a string.
  case metadataValueNotString(file: String, key: String, found: String)
  /// A `__metadata__` key appears twice.
  case duplicateMetadataKey(file: String, key: String)
  /// Writing: a tensor may not be called `__metadata__`.
  case reservedName(file: String)
  /// Writing: a dtype other than F32, F16 and BF16 was requested.
  case unsupportedWriteDType(file: String, dtype: String)

  public var description: String {
    switch self {
    case .file(let error):
      return error.description
    case .fileTooShort(let file, let size):
      return "\(file): \(size) bytes, too short for the 8-byte header length"
    case .headerTooLarge(let file, let length, let limit):
      return "\(file): header length \(length) exceeds the \(limit)-byte limit"
    case .headerBeyondFile(let file, let length, let available):
      return "\(file): header length \(length) runs past the end of the file "
        + "(\(available) bytes follow the length field)"
    case .headerNotUTF8(let file):
      return "\(file): header is not valid UTF-8"
    case .invalidJSON(let file, let offset, let reason):
      return "\(file): header is not valid JSON at byte \(offset): \(reason)"
    case .headerNotObject(let file, let found):
      return "\(file): header is \(found), expected a JSON object"
    case .duplicateName(let file, let name):
      return "\(file): '\(printable(name))' appears twice in the header"
    case .entryNotObject(let file, let tensor, let found):
      return "\(file): tensor '\(printable(tensor))' is \(found), "
        + "expected an object with dtype, shape and data_offsets"
    case .missingField(let file, let tensor, let field):
      return "\(file): tensor '\(printable(tensor))' has no '\(field)'"
    case .mistypedField(let file, let tensor, let field, let expected, let found):
      return
        "\(file): tensor '\(printable(tensor))' field '\(field)' is \(found), expected \(expected)"
    case .unknownField(let file, let tensor, let field):
      return "\(file): tensor '\(printable(tensor))' has unexpected field '\(printable(field))'"
    case .duplicateField(let file, let tensor, let field):
      return "\(file): tensor '\(printable(tensor))' has field '\(field)' twice"
    case .unsupportedDType(let file, let tensor, let dtype):
      return "\(file): tensor '\(printable(tensor))' has unknown dtype '\(printable(dtype))' "
        + "(safetensors dtypes: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, …)"
    case .badShapeEntry(let file, let tensor, let index, let found):
      return "\(file): tensor '\(printable(tensor))' shape entry \(index) is \(found), "
        + "expected a non-negative integer"
    case .elementCountOverflow(let file, let tensor, let shape):
      return
        "\(file): tensor '\(printable(tensor))' shape \(shape) has more elements than fit in Int"
    case .badOffsets(let file, let tensor, let found):
      return "\(file): tensor '\(printable(tensor))' data_offsets is \(found), "
        + "expected [begin, end] with 0 ≤ begin ≤ end"
    case .sizeMismatch(let file, let tensor, let dtype, let shape, let expected, let actual):
      return "\(file): tensor '\(printable(tensor))' needs \(expected) bytes (\(dtype) \(shape)) "
        + "but its offsets span \(actual)"
    case .offsetsBeyondData(let file, let tensor, let end, let dataSize):
      return "\(file): tensor '\(printable(tensor))' ends at data byte \(end), "
        + "past the \(dataSize)-byte data section"
    case .gap(let file, let tensor, let start, let end):
      return "\(file): data bytes \(start)..<\(end) belong to no tensor "
        + "(gap before '\(printable(tensor))')"
    case .overlap(let file, let first, let second, let start, let end):
      return "\(file): tensor '\(printable(second))' starts at data byte \(start), "
        + "before '\(printable(first))' ends at \(end)"
    case .trailingBytes(let file, let dataEnd, let dataSize):
      return "\(file): \(dataSize - dataEnd) trailing bytes after the last tensor "
        + "(tensors end at data byte \(dataEnd) of \(dataSize))"
    case .nonFinite(let file, let tensor, let count, let firstIndex):
      return "\(file): tensor '\(printable(tensor))' has \(count) non-finite values (NaN or Inf), "
        + "the first at flat index \(firstIndex)"
    case .metadataNotObject(let file, let found):
      return "\(file): '__metadata__' is \(found), expected an object of strings"
    case .metadataValueNotString(let file, let key, let found):
      return "\(file): '__metadata__' key '\(printable(key))' is \(found), expected a string"
    case .duplicateMetadataKey(let file, let key):
      return "\(file): '__metadata__' has key '\(printable(key))' twice"
    case .reservedName(let file):
      return "\(file): '__metadata__' is reserved and cannot name a tensor"
    case .unsupportedWriteDType(let file, let dtype):
      return "\(file): cannot write dtype '\(printable(dtype))', expected F32, F16 or BF16"
    }
  }
}

/// The tensors of a safetensors file, decoded to float32.
public struct SafeTensorsFile: Sendable {
  /// Every tensor by name, converted to float32 with its stored shape.
  public let tensors: [String: Tensor]
  /// The dtype each tensor was stored in (`"F32"`, `"F16"` or `"BF16"`).
  public let dtypes: [String: String]
  /// The free-form `__metadata__` strings (empty when the file has none).
  public let metadata: [String: String]
  /// Tensors of other dtypes (integer buffers such as `relative_position_index`, F64, …): checked
  /// for layout but not decoded, by name with their dtype and shape.
  public let otherTensors: [String: (dtype: String, shape: [Int])]

  /// Largest header accepted, as in the Rust `safetensors` crate (100 MB).
  public static let maxHeaderLength = 100_000_000

  /// The dtypes read and written, with their sizes in bytes.
  static let dtypeSizes: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2]

  /// Every dtype of the safetensors format with its size: the layout of any of them is checked,
  /// only `dtypeSizes` are decoded.
  static let layoutSizes: [String: Int] = [
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
  ]

  /// Reads and validates the safetensors file at `path`.
  ///
  /// NaN or infinite values are an error unless `allowNonFinite` is set.
  public static func load(path: String, allowNonFinite: Bool = false) throws(SafeTensorsError)
    -> SafeTensorsFile
  {
    let bytes: [UInt8]
    do throws(FileIOError) { bytes = try readFile(path) } catch { throw .file(error) }
    return try parse(bytes, name: path, allowNonFinite: allowNonFinite)
  }

  /// Validates and decodes the bytes of a safetensors file; `name` labels error messages.
  ///
  /// Checks, in order: the header length, UTF-8 and JSON of the header, each entry (fields, dtype,
  /// shape, offsets and byte size), that the tensors tile the data exactly, then the values.
  public static func parse(_ bytes: [UInt8], name: String, allowNonFinite: Bool = false)
    throws(SafeTensorsError) -> SafeTensorsFile
  {
    guard bytes.count >= 8 else { throw .fileTooShort(file: name, size: bytes.count) }
    var headerLength: UInt64 = 0
    for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
    if headerLength > UInt64(maxHeaderLength) {
      throw .headerTooLarge(file: name, headerLength: headerLength, limit: maxHeaderLength)
    }
    if headerLength > UInt64(bytes.count - 8) {
      throw .headerBeyondFile(file: name, headerLength: headerLength, available: bytes.count - 8)
    }
    let dataStart = 8 + Int(headerLength)
    let dataSize = bytes.count - dataStart
    guard String(validating: bytes[8..<dataStart], as: UTF8.self) != nil else {
      throw .headerNotUTF8(file: name)
    }

    var parser = HeaderParser(bytes: bytes, start: 8, end: dataStart, file: name)
    let header = try parser.parseHeader()

    // Every tensor: bytes inside the data section, then the tensors must tile it exactly.
    for entry in header.entries where entry.end > dataSize {
      throw .offsetsBeyondData(file: name, tensor: entry.name, end: entry.end, dataSize: dataSize)
    }
    let ordered = header.entries.sorted {
      ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name)
    }
    var covered = 0
    var previous = ""
    for entry in ordered {
      if entry.begin > covered {
        throw .gap(file: name, tensor: entry.name, start: covered, end: entry.begin)
      }
      if entry.begin < covered {
        throw .overlap(
          file: name, first: previous, second: entry.name, start: entry.begin, end: covered)
      }
      covered = entry.end
      previous = entry.name
    }
    if covered != dataSize {
      throw .trailingBytes(file: name, dataEnd: covered, dataSize: dataSize)
    }

    var tensors: [String: Tensor] = [:]
    var dtypes: [String: String] = [:]
    var others: [String: (dtype: String, shape: [Int])] = [:]
    tensors.reserveCapacity(ordered.count)
    dtypes.reserveCapacity(ordered.count)
    for entry in ordered {
      guard dtypeSizes[entry.dtype] != nil else {
        others[entry.name] = (entry.dtype, entry.shape)
        continue
      }
      let values = decode(
        bytes, at: dataStart + entry.begin, count: entry.count, dtype: entry.dtype)
      if !allowNonFinite, let (count, first) = nonFiniteSummary(values) {
        throw .nonFinite(file: name, tensor: entry.name, count: count, firstIndex: first)
      }
      tensors[entry.name] = Tensor(shape: entry.shape, values: values)
      dtypes[entry.name] = entry.dtype
    }
    return SafeTensorsFile(tensors: tensors, dtypes: dtypes, metadata: header.metadata, otherTensors: others)
  }

  /// Writes `tensors` (names sorted, header space-padded to a multiple of 8) atomically to `path`.
  ///
  /// `dtype` is `"F32"`, `"F16"` or `"BF16"`; narrowing rounds to nearest, ties to even.
  public static func write(
    _ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String,
    dtype: String = "F32"
  ) throws(SafeTensorsError) {
    let bytes = try encode(tensors, metadata: metadata, dtype: dtype, name: path)
    do throws(FileIOError) { try writeFileAtomically(bytes, to: path) } catch { throw .file(error) }
  }

  /// The bytes of a safetensors file holding `tensors`, as `write` stores them; `name` labels
  /// error messages.
  public static func encode(
    _ tensors: [String: Tensor], metadata: [String: String] = [:], dtype: String = "F32",
    name: String = "safetensors"
  ) throws(SafeTensorsError) -> [UInt8] {
    guard let size = dtypeSizes[dtype] else {
      throw .unsupportedWriteDType(file: name, dtype: dtype)
    }
    if tensors["__metadata__"] != nil { throw .reservedName(file: name) }

    let names = tensors.keys.sorted()
    var json = "{"
    var fields: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
      fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
    }
    var offset = 0
    for tensorName in names {
      let tensor = tensors[tensorName]!
      let end = offset + tensor.count * size
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      fields.append(
        "\(jsonString(tensorName)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],"
          + "\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    json += fields.joined(separator: ",") + "}"
    var header = Array(json.utf8)
    // Pad with spaces so the data starts 8-byte aligned (JSON ignores trailing whitespace).
    while header.count % 8 != 0 { header.append(0x20) }

    var bytes = [UInt8](repeating: 0, count: 8 + header.count + offset)
    let headerLength = UInt64(header.count)
    for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: headerLength >> (8 * UInt64(i))) }
    bytes.replaceSubrange(8..<(8 + header.count), with: header)
    var position = 8 + header.count
    for tensorName in names {
      let values = tensors[tensorName]!.values
      switch dtype {
      case "F32":
        storeLittleEndian(values, into: &bytes, at: position)
        position += 4 * values.count
      default:
        let narrow = dtype == "F16" ? floatToHalf : floatToBFloat16
        for value in values {
          let bits = narrow(value)
          bytes[position] = UInt8(truncatingIfNeeded: bits)
          bytes[position + 1] = UInt8(truncatingIfNeeded: bits >> 8)
          position += 2
        }
      }
    }
    return bytes
  }

  /// Decodes `count` little-endian values of `dtype` starting at `start` (any alignment).
  private static func decode(_ bytes: [UInt8], at start: Int, count: Int, dtype: String) -> [Float]
  {
    switch dtype {
    case "F32":
      return littleEndianFloats(bytes, at: start, count: count)
    case "F16":
      return (0..<count).map { i in
        let o = start + 2 * i
        return halfToFloat(UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8)
      }
    default:  // BF16: the upper half of a float32.
      return (0..<count).map { i in
        let o = start + 2 * i
        return Float(bitPattern: UInt32(bytes[o]) << 16 | UInt32(bytes[o + 1]) << 24)
      }
    }
  }
}

// MARK: - Half-precision conversions

/// IEEE binary16 bits to float32, exactly (every half value is a float32 value).
func halfToFloat(_ half: UInt16) -> Float {
  let sign = UInt32(half & 0x8000) << 16
  let exponent = UInt32(half >> 10) & 0x1F
  let mantissa = UInt32(half & 0x3FF)
  switch exponent {
  case 0:
    // Zero or subnormal: mantissa · 2⁻²⁴, a normal float32 (or zero), so the product is exact.
    return Float(bitPattern: sign | (Float(mantissa) * 0x1p-24).bitPattern)
  case 0x1F:
    // Infinity (mantissa 0) or NaN; the NaN payload moves to the top of the float32 mantissa.
    return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
  default:
    // Normal: rebias the exponent from 15 to 127.
    return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
  }
}

/// float32 to IEEE binary16 bits, rounding to nearest, ties to even; overflow gives infinity.
func floatToHalf(_ value: Float) -> UInt16 {
  let bits = value.bitPattern
  let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
  let magnitude = bits & 0x7FFF_FFFF
  if magnitude >= 0x7F80_0000 {
    // Infinity, or NaN kept quiet with the top of its payload.
    return magnitude == 0x7F80_0000
      ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
  }
  // 65520 = 65504 + half an ulp: from here on the value rounds (ties to even) to infinity.
  if magnitude >= 0x477F_F000 { return sign | 0x7C00 }
  if magnitude >= 0x3880_0000 {
    // Normal half (≥ 2⁻¹⁴): rebias the exponent, keep 10 mantissa bits, round on the other 13.
    // A carry out of the mantissa correctly bumps the exponent.
    var half = (magnitude - 0x3800_0000) >> 13
    let rest = magnitude & 0x1FFF
    if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }
    return sign | UInt16(truncatingIfNeeded: half)
  }
  // Subnormal half: count units of 2⁻²⁴. Below 2⁻²⁵ everything rounds to zero.
  let exponent = Int(magnitude >> 23)
  if exponent < 102 { return sign }
  let mantissa = (magnitude & 0x7F_FFFF) | 0x80_0000  // value = mantissa · 2^(exponent − 150)
  let shift = UInt32(126 - exponent)  // 14...24
  var half = mantissa >> shift
  let rest = mantissa & ((1 << shift) - 1)
  let halfway: UInt32 = 1 << (shift - 1)
  if rest > halfway || (rest == halfway && half & 1 == 1) { half += 1 }
  return sign | UInt16(truncatingIfNeeded: half)
}

/// float32 to bfloat16 bits (the upper 16 bits), rounding to nearest, ties to even.
func floatToBFloat16(_ value: Float) -> UInt16 {
  let bits = value.bitPattern
  if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
  let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
  return UInt16(truncatingIfNeeded: rounded >> 16)
}

// MARK: - Header parsing

/// One validated header entry: where the tensor's bytes are and what they hold.
private struct HeaderEntry {
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
private struct HeaderParser {
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

    // Multiply left to right exactly as `Tensor` does, so an accepted shape can never trap there.
    var count = 1
    for extent in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: extent)
      if overflow { throw .elementCountOverflow(file: file, tensor: name, shape: shape) }
      count = product
    }
    let elementSize = SafeTensorsFile.layoutSizes[dtype]!
    let (byteCount, overflow) = count.multipliedReportingOverflow(by: elementSize)
    if overflow { throw .elementCountOverflow(file: file, tensor: name, shape: shape) }
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
    skipWhitespace()
    guard current == UInt8(ascii: "[") else {
      throw .mistypedField(
        file: file, tensor: tensor, field: "shape", expected: "an array of integers",
        found: try skipValue(depth: 3).phrase)
    }
    position += 1
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
    skipWhitespace()
    guard current == UInt8(ascii: "[") else {
      throw .mistypedField(
        file: file, tensor: tensor, field: "data_offsets", expected: "an array of two integers",
        found: try skipValue(depth: 3).phrase)
    }
    position += 1
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
    guard depth <= Self.maxDepth else {
      throw syntax("nesting deeper than \(Self.maxDepth) levels")
    }
    skipWhitespace()
    guard let byte = current else { throw syntax("expected a value, found end of header") }
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

  private mutating func expect(_ byte: Unicode.Scalar) throws(SafeTensorsError) {
    skipWhitespace()
    guard current == UInt8(ascii: byte) else { throw syntax("expected '\(byte)', found \(found)") }
    position += 1
  }

  /// Only whitespace (the writer's space padding) may follow the top-level value.
  private mutating func expectEnd() throws(SafeTensorsError) {
    skipWhitespace()
    if position < end { throw syntax("unexpected \(found) after the top-level value") }
  }

  private mutating func skipWhitespace() {
    while position < end {
      switch bytes[position] {
      case 0x20, 0x09, 0x0A, 0x0D: position += 1
      default: return
      }
    }
  }

  private var current: UInt8? { position < end ? bytes[position] : nil }

  /// The byte at the cursor, for messages.
  private var found: String {
    guard let byte = current else { return "end of header" }
    if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
    return "byte 0x\(hex(byte))"
  }

  private func syntax(_ reason: String) -> SafeTensorsError {
    .invalidJSON(file: file, offset: position - start, reason: reason)
  }
}

// MARK: - Text helpers

/// `text` as a JSON string literal (quotes, backslashes and control characters escaped).
private func jsonString(_ text: String) -> String {
  var result = "\""
  for scalar in text.unicodeScalars {
    switch scalar {
    case "\"": result += "\\\""
    case "\\": result += "\\\\"
    case "\n": result += "\\n"
    case "\r": result += "\\r"
    case "\t": result += "\\t"
    case _ where scalar.value < 0x20: result += "\\u00" + hex(UInt8(scalar.value))
    default: result.unicodeScalars.append(scalar)
    }
  }
  return result + "\""
}

/// Two (or four, for `UInt32`) upper-case hex digits.
private func hex<T: BinaryInteger>(_ value: T) -> String {
  let digits = String(value, radix: 16, uppercase: true)
  let width = T.self == UInt8.self ? 2 : 4
  return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
