// safetensors checkpoints (Hugging Face's format, as the Rust `safetensors` crate validates it):
// a strict header parser that checks every entry and the exact tiling of the data, F32/F16/BF16
// decoding by copying bytes (the data may be unaligned), and a writer for all three dtypes.

import Engine

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
        let narrow = dtype == "F16" ? { Float16($0).bitPattern } : floatToBFloat16
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
  private static func decode(_ bytes: [UInt8], at start: Int, count: Int, dtype: String) -> [Float] {
    switch dtype {
    case "F32":
      return littleEndianFloats(bytes, at: start, count: count)
    case "F16":
      return (0..<count).map { i in
        let o = start + 2 * i
        return Float(Float16(bitPattern: UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8))
      }
    default:  // BF16: the upper half of a float32.
      return (0..<count).map { i in
        let o = start + 2 * i
        return Float(bitPattern: UInt32(bytes[o]) << 16 | UInt32(bytes[o + 1]) << 24)
      }
    }
  }
}

/// float32 to bfloat16 bits (the upper 16 bits), rounding to nearest, ties to even.
func floatToBFloat16(_ value: Float) -> UInt16 {
  let bits = value.bitPattern
  if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
  let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
  return UInt16(truncatingIfNeeded: rounded >> 16)
}

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
