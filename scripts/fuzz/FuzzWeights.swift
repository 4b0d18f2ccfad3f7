// libFuzzer target for weight loading past the file format: bytes that parse as safetensors go to
// `SwinTransformer(tensors:)` (layout detection, architecture inference, every shape check), which
// either builds a model or throws a `WeightLoadError` with a one-line message. Seeded with the tiny
// checkpoints in every layout. Built and run by scripts/fuzz.sh.
import Engine
import Models

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWeights(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  guard let file = try? SafeTensorsFile.parse(bytes, name: "fuzz.safetensors") else { return 0 }
  do throws(WeightLoadError) {
    let model = try SwinTransformer(tensors: file.tensors, source: "fuzz.safetensors")
    if model.parameterCount <= 0 { fatalError("model without parameters") }
  } catch {
    checkMessage(error.description, names: nil, of: "\(error)")
  }
  return 0
}
