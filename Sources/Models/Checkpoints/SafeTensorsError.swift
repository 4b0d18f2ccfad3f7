// The errors of the safetensors reader and writer: one case per check, each message one line
// naming the file and, where one is involved, the tensor.

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
