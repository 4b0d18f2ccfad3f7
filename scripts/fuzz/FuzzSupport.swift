// Shared by every fuzz target: what an error must look like. A message that breaks this contract is
// a finding, reported through `fatalError` (kept in -O builds, unlike `precondition`'s message).

/// Stops the run (a libFuzzer crash) unless `message` is one non-empty line naming `name`.
///
/// "One line" means no Unicode line terminator at all (`\n`, `\r`, VT, FF, NEL, U+2028/2029): the
/// command prints it after `Error: ` and callers log it as a single record.
func checkMessage(_ message: String, names name: String?, of error: String) {
  if message.isEmpty { fatalError("\(error): empty message") }
  if message.contains(where: \.isNewline) {
    fatalError("\(error): message spans lines: \(message.debugDescription)")
  }
  if let name, !message.contains(name) {
    fatalError("\(error): message does not name '\(name)': \(message.debugDescription)")
  }
  if message.count > 2_000 {
    fatalError("\(error): message of \(message.count) characters: \(message.prefix(200))…")
  }
}

/// The input as an array, as the parsers take it.
func fuzzBytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
  Array(UnsafeBufferPointer(start: data, count: size))
}
