// The request decoder on its own: JSON tensors flat or nested, the binary extension for FP32 and BYTES,
// parameters and outputs, and client strings kept to one short line in messages.
import Foundation
import XCTest

@testable import Server

final class InferenceRequestTests: XCTestCase {
  func testJSONTensorsFlatOrNested() throws {
    for data: Any in [[1, 2, 3, 4, 5, 6], [[1, 2, 3], [4, 5, 6]], [[[1], [2], [3]], [[4], [5], [6]]]] {
      let body = jsonBytes([
        "id": "r1", "inputs": [["name": "images", "datatype": "FP32", "shape": [2, 3], "data": data]],
        "outputs": [["name": "logits", "parameters": ["binary_data": true]], ["name": "stage0"]],
        "parameters": ["sparsity": ["pruning_ratios": 0.5], "top_k": 2, "binary_data_output": false],
      ])
      let request = try InferenceRequestDecoder.decode(body: body, headerLength: nil)
      XCTAssertEqual(request.id, "r1")
      XCTAssertEqual(request.inputs[0].payload, .floats([1, 2, 3, 4, 5, 6]))
      XCTAssertEqual(
        request.outputs,
        [RequestedOutput(name: "logits", binary: true), RequestedOutput(name: "stage0", binary: false)])
      XCTAssertEqual(request.parameters["top_k"], .number(2))
      XCTAssertEqual(request.parameters["sparsity"], .object(Array("{\"pruning_ratios\":0.5}".utf8)))
    }
  }

  func testBinaryExtensionFP32AndBytes() throws {
    var floats: [UInt8] = []
    for value: Float in [1.5, -2, 0.25] {
      withUnsafeBytes(of: value.bitPattern.littleEndian) { floats.append(contentsOf: $0) }
    }
    let elements: [UInt8] = [3, 0, 0, 0, 0x61, 0x62, 0x63, 0, 0, 0, 0, 1, 0, 0, 0, 0xFF]
    let header = jsonBytes([
      "inputs": [
        ["name": "a", "datatype": "FP32", "shape": [3], "parameters": ["binary_data_size": floats.count]],
        ["name": "b", "datatype": "BYTES", "shape": [3], "parameters": ["binary_data_size": elements.count]],
      ],
      "parameters": ["binary_data_output": true],
    ])
    let request = try InferenceRequestDecoder.decode(body: header + floats + elements, headerLength: "\(header.count)")
    XCTAssertEqual(request.inputs[0].payload, .floats([1.5, -2, 0.25]))
    XCTAssertEqual(request.inputs[1].payload, .bytes([[0x61, 0x62, 0x63], [], [0xFF]]))
    XCTAssertTrue(request.binaryOutput)
    XCTAssertNil(request.outputs)
  }

  func testClientStringsStayOneShortLine() throws {
    let name = "evil\nname\u{1B}[31m" + String(repeating: "x", count: 200)
    let body = jsonBytes(["inputs": [["name": name, "datatype": "INT8\r\n", "shape": [1], "data": [1]]]])
    XCTAssertThrowsError(try InferenceRequestDecoder.decode(body: body, headerLength: nil)) { error in
      let message = (error as? RequestError)?.message ?? ""
      XCTAssertFalse(message.contains(where: \.isNewline), message)
      XCTAssertFalse(message.contains("\u{1B}"), message)
      XCTAssertTrue(message.contains("evil\\nname"), message)
      XCTAssertLessThan(message.count, 200, message)
    }
    XCTAssertEqual(shown("plain name"), "plain name")
  }
}
