// libFuzzer target for `parseNumPy(_:name:)`: any bytes either give a tensor whose value count
// matches its shape (and that `encodeNumPy` writes back to bytes that parse to the same tensor), or
// throw a `NumPyError` with a one-line message naming the file. Built and run by scripts/fuzz.sh.
import Engine
import Models

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumPy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  do throws(NumPyError) {
    let tensor = try parseNumPy(bytes, name: "fuzz.npy", allowNonFinite: true)
    if tensor.values.count != tensor.shape.reduce(1, *) {
      fatalError("\(tensor.values.count) values for shape \(tensor.shape)")
    }
    let again = try parseNumPy(encodeNumPy(tensor), name: "fuzz.npy", allowNonFinite: true)
    if again.shape != tensor.shape || again.values.map(\.bitPattern) != tensor.values.map(\.bitPattern) {
      fatalError("encodeNumPy does not round-trip shape \(tensor.shape)")
    }
  } catch {
    checkMessage(error.description, names: "fuzz.npy", of: "\(error)")
  }
  return 0
}
