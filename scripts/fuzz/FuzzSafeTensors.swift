// libFuzzer target for `SafeTensorsFile.parse(_:name:)`: any bytes either parse into tensors whose
// value counts match their shapes, or throw a `SafeTensorsError` with a one-line message naming the
// file. Built and run by scripts/fuzz.sh.
import Engine
import Models

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  do throws(SafeTensorsError) {
    let file = try SafeTensorsFile.parse(bytes, name: "fuzz.safetensors", allowNonFinite: size % 2 == 0)
    for (name, tensor) in file.tensors where tensor.values.count != tensor.shape.reduce(1, *) {
      fatalError("tensor '\(name)': \(tensor.values.count) values for shape \(tensor.shape)")
    }
    if Set(file.tensors.keys).count + file.otherTensors.count
      != Set(file.tensors.keys).union(file.otherTensors.keys).count
    {
      fatalError("a tensor is listed both as decoded and as other")
    }
  } catch {
    checkMessage(error.description, names: "fuzz.safetensors", of: "\(error)")
  }
  return 0
}
