// libFuzzer target for the server's request decoder (`InferenceRequestDecoder.decode`): any body either
// decodes to inputs whose payload matches their shape, or throws a `RequestError` with status 400 or
// 413 and a one-line message. An input starting with 0xB1 gives the next two bytes (little-endian) as
// `Inference-Header-Content-Length`, so the binary extension is fuzzed too. Built and run by scripts/fuzz.sh.
import Foundation
import Server

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInferenceRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  var body = fuzzBytes(data, size)
  var headerLength: String? = nil
  if body.count >= 3, body[0] == 0xB1 {
    headerLength = String(Int(body[1]) | Int(body[2]) << 8)
    body.removeFirst(3)
  }
  do throws(RequestError) {
    let request = try InferenceRequestDecoder.decode(body: body, headerLength: headerLength)
    for input in request.inputs {
      let count = input.shape.reduce(1, *)
      switch input.payload {
      case .floats(let values):
        if values.count != count { fatalError("\(input.name): \(values.count) floats for \(input.shape)") }
      case .bytes(let elements):
        if elements.count != count { fatalError("\(input.name): \(elements.count) elements for \(input.shape)") }
      }
    }
  } catch {
    if error.status != 400 && error.status != 413 { fatalError("status \(error.status) for \(error.message)") }
    checkMessage(error.message, names: nil, of: "RequestError")
  }
  return 0
}
