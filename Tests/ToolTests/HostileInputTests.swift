// The command against a corpus of hostile inputs made here from the tiny fixtures (truncated,
// bit-flipped, lying and mistyped checkpoints, arrays, sparsity files and images, resource-exhausting
// requests): every case must exit 1 or 64 with one `Error:` line naming the problem, never by a signal,
// and leave no output file behind. Where the library can say what is wrong, the command must print
// exactly the library's message. Also replays Tests/Fixtures/fuzz-crashes and kills a run mid-write.
import Engine
import Foundation
import ImageIO
import Models
import Synchronization
import TestSupport
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// One hostile invocation and what it must end with.
struct HostileCase: Sendable {
  let category: String
  let name: String
  let arguments: [String]
  /// The exit status required (1: failure, 64: usage error).
  let status: Int32
  /// The exact text after `Error: ` when the library can tell it (its error's description).
  let message: String?
  /// Text the first line must contain: the file and the problem.
  let fragments: [String]
  /// Files the failed command must not have created.
  let outputs: [String]
}

final class HostileInputTests: CommandTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
  var tiny: URL { fixtures.appendingPathComponent("tiny") }
  var weights: String { tiny.appendingPathComponent("tiny.timm.f32.safetensors").path }
  var goodInput: String { tiny.appendingPathComponent("dense_64x64_b1.input.npy").path }

  private func write(_ bytes: [UInt8], _ name: String) throws -> String {
    let file = path(name)
    try Data(bytes).write(to: URL(fileURLWithPath: file))
    return file
  }

  private func bytes(_ file: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
  }

  // MARK: - Running the corpus

  /// Runs every case, two at a time (the machine has two cores), then checks each.
  private func run(_ cases: [HostileCase], file: StaticString = #filePath, line: UInt = #line) {
    let results = Mutex<[Int: Result<CommandResult, any Error>]>([:])
    DispatchQueue.concurrentPerform(iterations: cases.count) { index in
      let result = Result { try sparsevit(cases[index].arguments) }
      results.withLock { $0[index] = result }
    }
    let finished = results.withLock { $0 }
    for (index, hostile) in cases.enumerated() {
      let label = "[\(hostile.category)] \(hostile.name)"
      guard case .success(let result) = finished[index] else {
        XCTFail("\(label): could not start sparsevit", file: file, line: line)
        continue
      }
      check(result, hostile, label: label, file: file, line: line)
    }
    let counts = Dictionary(grouping: cases, by: \.category).mapValues(\.count)
    print(
      "hostile corpus: \(cases.count) cases (\(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))"
    )
  }

  private func check(
    _ result: CommandResult, _ hostile: HostileCase, label: String, file: StaticString, line: UInt
  ) {
    XCTAssertFalse(result.crashed, "\(label): ended by a signal: \(result.stderr)", file: file, line: line)
    XCTAssertEqual(result.status, hostile.status, "\(label): \(result.stderr)", file: file, line: line)
    let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false)
    let first = String(lines.first ?? "")
    XCTAssertTrue(first.hasPrefix("Error: "), "\(label): first stderr line '\(first)'", file: file, line: line)
    XCTAssertFalse(
      first.contains(where: \.isNewline), "\(label): line terminator inside '\(first.debugDescription)'", file: file,
      line: line)
    XCTAssertEqual(
      lines.filter { $0.hasPrefix("Error: ") }.count, 1, "\(label): more than one Error line", file: file, line: line)
    if let message = hostile.message {
      XCTAssertEqual(first, "Error: " + message, label, file: file, line: line)
    }
    for fragment in hostile.fragments {
      XCTAssertTrue(
        first.contains(fragment), "\(label): '\(first)' does not mention '\(fragment)'", file: file, line: line)
    }
    if hostile.status == 64 {
      XCTAssertTrue(
        result.stderr.contains("Usage: sparsevit"), "\(label): no usage after a usage error", file: file, line: line)
    }
    for output in hostile.outputs {
      XCTAssertFalse(
        FileManager.default.fileExists(atPath: output), "\(label): left \(output) behind", file: file, line: line)
    }
  }

  /// Where case `name` would write its output.
  private func output(_ name: String, _ ext: String = "npy") -> String {
    path("out-\(name.map { $0.isLetter || $0.isNumber ? $0 : "_" }.map(String.init).joined()).\(ext)")
  }

  // MARK: - Checkpoints (--weights)

  /// `sparsevit run` on a good input with the checkpoint at `file`, which the library must reject:
  /// the command prints the library's own message.
  private func weightsCase(_ name: String, _ file: String, _ fragments: [String], category: String = "safetensors")
    -> HostileCase?
  {
    let message: String
    do {
      _ = try SwinTransformer.load(path: file)
      XCTFail("[\(category)] \(name): the library accepts \(file)")
      return nil
    } catch {
      // Tensor names are quoted as they are in key lists, so a name holding "\n" makes a two-line
      // library message; the command joins the lines with spaces.
      message = error.description.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ")
    }
    let out = output(category + name)
    return HostileCase(
      category: category, name: name, arguments: ["run", "--weights", file, "--input", goodInput, "--output", out],
      status: 1, message: message, fragments: [(file as NSString).lastPathComponent] + fragments, outputs: [out])
  }

  func testCorruptCheckpoints() throws {
    let original = try bytes(weights)
    let checkpoint = try Checkpoint(original)
    var cases: [HostileCase] = []
    func add(_ name: String, _ bytes: [UInt8], _ fragments: String...) throws {
      if let hostile = weightsCase(name, try write(bytes, "w-\(cases.count).safetensors"), fragments) {
        cases.append(hostile)
      }
    }
    let headerEnd = 8 + (0..<8).reduce(0) { $0 | Int(original[$1]) << (8 * $1) }
    let rebuilt = checkpoint.bytes().count

    // Truncated: inside the length field, inside the header, at its end, inside the data.
    for length in [0, 1, 4, 7] { try add("truncated to \(length)", Array(original.prefix(length)), "too short") }
    var generator = SplitMix64(seed: 0x5AFE)
    let insideHeader =
      [8, 9, 100, 5000, headerEnd - 1] + (0..<6).map { _ in Int.random(in: 10..<headerEnd, using: &generator) }
    for length in insideHeader {
      try add("truncated to \(length)", Array(original.prefix(length)), "runs past the end")
    }
    let insideData =
      [headerEnd, headerEnd + 1, headerEnd + 40, original.count - 1]
      + (0..<6).map { _ in Int.random(in: headerEnd..<original.count, using: &generator) }
    for length in insideData { try add("truncated to \(length)", Array(original.prefix(length)), "past the") }
    for layout in ["timm.f16", "timm.bf16", "microsoft.f16", "torchvision.f16", "mmdet.f16"] {
      let other = try bytes(tiny.appendingPathComponent("tiny.\(layout).safetensors").path)
      try add("\(layout) cut in half", Array(other.prefix(other.count / 2)), "past the")
    }

    // The header length field lies.
    let lies: [(UInt64, String)] = [
      (0, "empty header"), (UInt64(checkpoint.headerLength - 1), "not valid JSON"),
      (UInt64(checkpoint.headerLength + 1), "not valid JSON"), (UInt64(rebuilt - 8), "not valid UTF-8"),
      (UInt64(rebuilt - 7), "runs past the end"), (100_000_001, "exceeds the 100000000-byte limit"),
      (1 << 63, "exceeds"), (UInt64.max, "exceeds"),
    ]
    for (length, fragment) in lies { try add("header length \(length)", checkpoint.withLength(length), fragment) }

    // Bit flips in the length field and the header.
    for bit in [3, 7, 13, 20, 31, 40, 55, 63] {
      var flipped = original
      flipped[bit / 8] ^= 1 << UInt8(bit % 8)
      try add("length bit \(bit) flipped", flipped)
    }
    var flips = 0
    while flips < 60 {
      var flipped = original
      let position = Int.random(in: 8..<headerEnd, using: &generator)
      flipped[position] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
      // A flip inside the trailing padding or a digit can still leave a valid file: only rejected ones count.
      guard (try? SwinTransformer.load(path: try write(flipped, "flip.safetensors"))) == nil else { continue }
      try add("header byte \(position) flipped", flipped)
      flips += 1
    }

    // Lying offsets.
    let head = "head.fc.weight"
    let middle = "layers.1.blocks.0.attn.qkv.weight"
    let last = checkpoint.entries.last!.name
    try add("offsets span 4 bytes too many", checkpoint.editing(head) { $0.end += 4 }, "'\(head)' needs 1280 bytes")
    try add(
      "offsets shifted forward",
      checkpoint.editing(middle) {
        $0.begin += 4
        $0.end += 4
      }, "belong to no tensor")
    try add(
      "offsets shifted back",
      checkpoint.editing(middle) {
        $0.begin -= 4
        $0.end -= 4
      }, "before")
    try add(
      "last tensor past the data",
      checkpoint.editing(last) {
        $0.begin += 8
        $0.end += 8
      }, "past the")
    try add("begin after end", checkpoint.replacing(head, offsets: "[1320,40]"), "data_offsets is [1320, 40]")
    try add("negative begin", checkpoint.replacing(head, offsets: "[-40,1280]"), "data_offsets is [-40, 1280]")
    try add("three offsets", checkpoint.replacing(head, offsets: "[40,1320,1320]"), "data_offsets is [40, 1320, 1320]")
    try add("one offset", checkpoint.replacing(head, offsets: "[40]"), "data_offsets is [40]")
    try add("fractional offsets", checkpoint.replacing(head, offsets: "[40.0,1320]"), "data_offsets is [40.0, 1320]")
    try add("offsets beyond Int", checkpoint.replacing(head, offsets: "[40,1e20]"), "data_offsets is [40, 1e20]")
    try add("offsets beyond Int64", checkpoint.replacing(head, offsets: "[0,18446744073709551616]"), "data_offsets")
    try add("end at Int.max", checkpoint.replacing(head, offsets: "[40,9223372036854775807]"), "needs 1280 bytes")
    try add("offsets a string", checkpoint.replacing(head, offsets: "\"40-1320\""), "field 'data_offsets' is")
    try add("offsets null", checkpoint.replacing(head, offsets: "null"), "field 'data_offsets' is")
    try add(
      "two tensors on the same bytes",
      checkpoint.editing(middle) {
        $0.begin = 40
        $0.end = 40 + 768
      }, "starts at data byte")
    try add("all offsets moved by one", checkpoint.moving(by: 1), "data bytes 0..<1 belong to no tensor")
    try add("trailing data", checkpoint.withData(checkpoint.data + [0, 0, 0, 0]), "4 trailing bytes")
    try add("data one byte short", checkpoint.withData(checkpoint.data.dropLast()), "past the")

    // Wrong shapes, in the file format and for the model.
    try add("negative extent", checkpoint.replacing(head, shape: "[-10,32]"), "shape entry 0 is the number -10")
    try add("fractional extent", checkpoint.replacing(head, shape: "[10,32.5]"), "shape entry 1 is")
    try add("string extent", checkpoint.replacing(head, shape: "[\"10\",32]"), "shape entry 0 is")
    try add(
      "overflowing shape", checkpoint.replacing(head, shape: "[4611686018427387904,4611686018427387904]"),
      "more elements than fit")
    try add(
      "shape overflowing in bytes", checkpoint.replacing(head, shape: "[2305843009213693952,4]"),
      "more elements than fit")
    try add("shape a string", checkpoint.replacing(head, shape: "\"10x32\""), "field 'shape' is")
    try add("shape an object", checkpoint.replacing(head, shape: "{\"rows\":10}"), "field 'shape' is")
    try add("one element more", checkpoint.editing(head) { $0.shape = [10, 33] }, "needs 1320 bytes")
    let reshapes: [(String, [Int], String)] = [
      (head, [32, 10], head), (head, [320], head), (head, [1, 10, 32], head),
      ("head.fc.bias", [2, 5], "head.fc.bias"), (middle, [8, 24], middle),
      ("layers.0.blocks.0.norm1.weight", [2, 2], "norm1"),
      ("layers.1.downsample.reduction.weight", [16, 8], "reduction"),
      ("patch_embed.proj.weight", [4, 48], "patch embedding weight has shape [4, 48]"),
      ("patch_embed.proj.weight", [4, 3, 2, 8], "patch embedding weight has shape [4, 3, 2, 8]"),
      ("layers.0.blocks.0.attn.relative_position_bias_table", [13, 13], "relative_position_bias_table"),
      ("layers.0.blocks.0.attn.relative_position_bias_table", [1, 169], "do not split into 169 heads"),
      ("layers.1.blocks.0.mlp.fc1.weight", [256], "fc1"),
    ]
    for (name, shape, fragment) in reshapes {
      try add("\(name) as \(shape)", checkpoint.editing(name) { $0.shape = shape }, fragment)
    }

    // Wrong dtypes.
    try add("I32 weights", checkpoint.editing(head) { $0.dtype = "I32" }, "'\(head)' has dtype I32")
    try add(
      "U8 weights",
      checkpoint.editing(head) {
        $0.dtype = "U8"
        $0.shape = [10, 128]
      }, "dtype U8")
    try add(
      "F64 weights",
      checkpoint.editing(head) {
        $0.dtype = "F64"
        $0.shape = [10, 16]
      }, "dtype F64")
    try add(
      "BOOL weights",
      checkpoint.editing(head) {
        $0.dtype = "BOOL"
        $0.shape = [1280]
      }, "dtype BOOL")
    try add("F16 on F32 bytes", checkpoint.editing(head) { $0.dtype = "F16" }, "needs 640 bytes (F16")
    try add("unknown dtype", checkpoint.editing(head) { $0.dtype = "F33" }, "unknown dtype 'F33'")
    try add("lower-case dtype", checkpoint.editing(head) { $0.dtype = "f32" }, "unknown dtype 'f32'")
    try add("quantized dtype", checkpoint.editing(head) { $0.dtype = "Q4_0" }, "unknown dtype 'Q4_0'")
    try add("numeric dtype", checkpoint.replacing(head, dtype: "4"), "field 'dtype' is")

    // Wrong keys and entries.
    try add(
      "renamed tensor", checkpoint.renaming(head, to: "head.weight"), "missing 1 tensor(s): head.fc.weight",
      "unexpected 1 tensor(s): head.weight")
    try add(
      "dropped tensor", checkpoint.dropping("layers.0.blocks.1.norm2.bias"),
      "missing 1 tensor(s): layers.0.blocks.1.norm2.bias")
    try add("dropped head bias", checkpoint.dropping("head.fc.bias"), "head.fc.bias")
    try add("extra tensor", checkpoint.adding("extra.weight"), "unexpected 1 tensor(s): extra.weight")
    try add("empty name", checkpoint.adding(""), "unexpected 1 tensor(s)")
    try add("name with a control character", checkpoint.adding("odd\\u0001name"), "unexpected 1 tensor(s)")
    try add("name with a line break", checkpoint.adding("two\\nlines"), "unexpected 1 tensor(s)")
    try add("long name", checkpoint.adding(String(repeating: "x", count: 5000)), "unexpected 1 tensor(s)")
    try add("third stage first block missing", checkpoint.droppingAll(prefix: "layers.2.blocks.0."), "unexpected")
    try add(
      "third stage norm missing", checkpoint.droppingAll(prefix: "layers.2.blocks.1.norm2"), "missing 2 tensor(s)")
    try add("merge missing", checkpoint.droppingAll(prefix: "layers.3.downsample."), "missing 3 tensor(s)")
    try add(
      "final norm missing", checkpoint.droppingAll(prefix: "norm."), "missing 2 tensor(s): norm.bias, norm.weight")
    try add("no stage 0", checkpoint.droppingAll(prefix: "layers.0."), "cannot infer the Swin architecture")
    try add("no patch embedding", checkpoint.droppingAll(prefix: "patch_embed."), "patch")
    try add("duplicate name", checkpoint.withMembers(["\"\(head)\":{}"]), "'\(head)' appears twice")
    try add("no tensors", Checkpoint.headerOnly("{}"), "no patch embedding among 0 tensors")
    try add("only metadata", Checkpoint.headerOnly("{\"__metadata__\":{\"format\":\"pt\"}}"), "patch embedding")
    try add("header only, data missing", checkpoint.withData([]), "past the 0-byte data section")
    try add("tensors but no data left", checkpoint.withHeader("{}"), "163008 trailing bytes")
    try add("metadata a list", checkpoint.withMembers(["\"__metadata__\":[1]"]), "'__metadata__' is")
    try add("metadata number value", checkpoint.withMembers(["\"__metadata__\":{\"epoch\":3}"]), "key 'epoch' is")
    try add(
      "metadata key twice", checkpoint.withMembers(["\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}"]), "key 'a' twice")
    try add("metadata twice", checkpoint.withMembers(["\"__metadata__\":{}", "\"__metadata__\":{}"]), "appears twice")
    try add("entry a list", checkpoint.replacing(head, entry: "[1,2]"), "'\(head)' is")
    try add("entry a string", checkpoint.replacing(head, entry: "\"F32\""), "'\(head)' is")
    try add(
      "entry without dtype", checkpoint.replacing(head, entry: "{\"shape\":[10,32],\"data_offsets\":[40,1320]}"),
      "has no 'dtype'")
    try add(
      "entry without shape", checkpoint.replacing(head, entry: "{\"dtype\":\"F32\",\"data_offsets\":[40,1320]}"),
      "has no 'shape'")
    try add(
      "entry without offsets", checkpoint.replacing(head, entry: "{\"dtype\":\"F32\",\"shape\":[10,32]}"),
      "has no 'data_offsets'")
    try add(
      "entry with an extra field",
      checkpoint.replacing(
        head, entry: "{\"dtype\":\"F32\",\"shape\":[10,32],\"data_offsets\":[40,1320],\"stride\":[32,1]}"),
      "unexpected field 'stride'")
    try add(
      "entry with dtype twice",
      checkpoint.replacing(
        head, entry: "{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[10,32],\"data_offsets\":[40,1320]}"),
      "field 'dtype' twice")

    // A header that is not the JSON object it should be.
    try add("header a list", checkpoint.withHeader("[]"), "expected a JSON object")
    try add("header a number", checkpoint.withHeader("5"), "expected a JSON object")
    try add("header not closed", checkpoint.withHeader(String(checkpoint.headerText.dropLast())), "not valid JSON")
    try add(
      "header followed by garbage", checkpoint.withHeader(checkpoint.headerText + "}"), "after the top-level value")
    try add("header padded with NUL", checkpoint.withHeader(checkpoint.headerText + "\0\0\0"), "not valid JSON")
    try add("invalid escape", checkpoint.adding("bad\\qescape"), "invalid escape")
    try add("unpaired surrogate", checkpoint.adding("\\ud800"), "unpaired surrogate")
    try add(
      "deep nesting",
      checkpoint.withMembers([
        "\"__metadata__\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
      ]), "nesting deeper")
    var notUTF8 = checkpoint.withHeader(
      checkpoint.headerText.replacingOccurrences(of: "head.fc.bias", with: "head.fc.bia?"))
    notUTF8[notUTF8.firstIndex(of: UInt8(ascii: "?"))!] = 0xFF
    try add("header not UTF-8", notUTF8, "not valid UTF-8")

    // Non-finite weights, named by tensor, in every stored dtype.
    let nan = Float.nan.bitPattern
    let infinity = Float.infinity.bitPattern
    let negative = (-Float.infinity).bitPattern
    for (name, element, bits) in [
      (head, 0, nan), (middle, 5, infinity), (last, -1, negative), ("patch_embed.proj.weight", 7, nan),
    ] {
      try add(
        "non-finite \(name)", checkpoint.settingFloat(name, element: element, bits: bits), "'\(name)'", "non-finite")
    }
    for dtype in ["f16", "bf16"] {
      let half = try Checkpoint(try bytes(tiny.appendingPathComponent("tiny.timm.\(dtype).safetensors").path))
      try add(
        "\(dtype) infinity", half.settingHalf(head, element: 3, bits: dtype == "f16" ? 0x7C00 : 0x7F80), "'\(head)'",
        "non-finite")
      try add(
        "\(dtype) NaN", half.settingHalf(middle, element: 0, bits: dtype == "f16" ? 0x7E00 : 0x7FC0), "'\(middle)'",
        "non-finite")
    }

    // Not a checkpoint at all.
    try add("empty file", [], "too short")
    try add("an .npy array", try bytes(goodInput), "exceeds")
    try add("a PNG image", try bytes(fixtures.appendingPathComponent("images/small.png").path), "exceeds")
    try add("text", Array("safetensors, honestly\n".utf8), "exceeds")
    XCTAssertGreaterThan(cases.count, 200)
    run(cases)
  }

  /// Paths that are not regular files: refused without blocking on a FIFO or reading a device.
  func testSpecialFilesAsCheckpoint() throws {
    let fifo = path("fifo.safetensors")
    XCTAssertEqual(mkfifo(fifo, 0o600), 0)
    let link = path("dangling.safetensors")
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path("nowhere"))
    let loop = path("loop.safetensors")
    try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
    var cases: [HostileCase] = []
    for file in [fifo, "/dev/null", "/dev/zero"] {
      if let hostile = weightsCase(
        (file as NSString).lastPathComponent, file, ["not a regular file"], category: "special files")
      {
        cases.append(hostile)
      }
    }
    for (file, fragment) in [(link, "no such file"), (loop, "no such file"), (directory.path, "is a directory")] {
      cases.append(
        HostileCase(
          category: "special files", name: file,
          arguments: ["run", "--weights", file, "--input", goodInput, "--output", path("y.npy")],
          status: 64, message: nil, fragments: [fragment, "--weights"], outputs: [path("y.npy")]))
    }
    run(cases)
  }

  // MARK: - Arrays (--input)

  /// An `.npy` file from header text (padded as numpy pads it) and data bytes.
  private func npy(_ header: String, _ data: [UInt8], version: UInt8 = 1, magic: [UInt8]? = nil) -> [UInt8] {
    var text = Array(header.utf8)
    let preamble = version == 1 ? 10 : 12
    while (preamble + text.count + 1) % 64 != 0 { text.append(0x20) }
    text.append(0x0A)
    let length = text.count
    let lengthBytes: [UInt8] =
      version == 1
      ? [UInt8(length & 0xFF), UInt8(length >> 8)]
      : [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), 0, 0]
    return (magic ?? [0x93] + Array("NUMPY".utf8)) + [version, 0] + lengthBytes + text + data
  }

  private func header(descr: String = "'<f4'", fortran: String = "False", shape: String) -> String {
    "{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }"
  }

  /// `sparsevit run` with `--input` the array `bytes`. When the reader rejects it, the command must
  /// print the reader's message; otherwise the fragments name the problem found later.
  private func inputCase(_ name: String, _ bytes: [UInt8], _ fragments: [String], status: Int32 = 1) throws
    -> HostileCase
  {
    let file = try write(bytes, "x-\(UUID().uuidString.prefix(8)).npy")
    var message: String? = nil
    do throws(NumPyError) {
      _ = try readNumPy(path: file)
    } catch {
      message = error.description
    }
    let out = output("npy" + name)
    return HostileCase(
      category: "npy", name: name, arguments: ["run", "--weights", weights, "--input", file, "--output", out],
      status: status, message: message, fragments: fragments, outputs: [out])
  }

  func testCorruptArrays() throws {
    let good = try bytes(goodInput)
    let data = [UInt8](repeating: 0, count: 3 * 64 * 64 * 4)
    let shape = "(1, 3, 64, 64)"
    var cases: [HostileCase] = []
    func add(_ name: String, _ bytes: [UInt8], _ fragments: String..., status: Int32 = 1) throws {
      cases.append(try inputCase(name, bytes, fragments, status: status))
    }

    // Magic and preamble.
    try add("empty", [], "0 bytes, too short for the 10-byte .npy preamble")
    try add("text", Array("hello, numpy".utf8), "missing the \\x93NUMPY magic")
    try add("safetensors bytes", try bytes(weights), "missing the \\x93NUMPY magic")
    try add(
      "PNG bytes", try bytes(fixtures.appendingPathComponent("images/small.png").path), "missing the \\x93NUMPY magic")
    for position in 0..<6 {
      var wrong = good
      wrong[position] ^= 0x20
      try add("magic byte \(position) changed", wrong, "missing the \\x93NUMPY magic")
    }
    for length in [6, 7, 8, 9] { try add("cut to \(length) bytes", Array(good.prefix(length)), "too short") }
    for (major, minor) in [(0, 0), (1, 1), (4, 0), (255, 255), (2, 1)] as [(UInt8, UInt8)] {
      var wrong = good
      wrong[6] = major
      wrong[7] = minor
      try add("version \(major).\(minor)", wrong, "format version \(major).\(minor)")
    }

    // The header length lies.
    var long = npy(header(shape: shape), data, version: 2)
    long.replaceSubrange(8..<12, with: [0xFF, 0xFF, 0xFF, 0xFF])
    try add("v2 header length 4 GB", long, "exceeds the 10000-byte limit")
    long.replaceSubrange(8..<12, with: [0x11, 0x27, 0, 0])
    try add("v2 header length 10001", long, "exceeds the 10000-byte limit")
    var beyond = Array(good.prefix(100))
    beyond[8] = 0xF0
    beyond[9] = 0x00
    try add("header longer than the file", beyond, "runs past the end")
    for length in [10, 50, 127] {
      try add("cut inside the header at \(length)", Array(good.prefix(length)), "runs past the end")
    }
    var shorter = good
    shorter[8] = 100
    try add("header length cut short", shorter, "needs 49152 data bytes (float32) but the file has 49170")
    var zero = good
    zero[8] = 0
    zero[9] = 0
    try add("header length zero", zero, "expected '{'")
    var invalidUTF8 = npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64), '\u{FF}': 1}", data, version: 3)
    if let index = invalidUTF8.firstIndex(of: 0xC3) { invalidUTF8[index] = 0xFF }
    try add("v3 header not UTF-8", invalidUTF8, "not valid UTF-8")

    // The header dict.
    let dicts: [(String, String, String)] = [
      ("not a dict", "['descr', '<f4']", "expected '{'"),
      ("unclosed dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64)", "expected ',' or '}'"),
      ("missing colon", "{'descr' '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64)}", "expected ':'"),
      ("unquoted key", "{descr: '<f4'}", "unexpected name 'descr'"),
      ("integer key", "{1: '<f4'}", "dict keys must be strings"),
      ("escape in a string", "{'descr': '<\\x66\\x34'}", "escape sequences"),
      ("unterminated string", "{'descr': '<f4}", "line break inside a string"),
      (
        "garbage after the dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64)} x",
        "after the dict"
      ),
      (
        "deep nesting", "{'shape': " + String(repeating: "(", count: 40) + String(repeating: ")", count: 40) + "}",
        "nesting deeper"
      ),
      ("missing descr", "{'fortran_order': False, 'shape': (1, 3, 64, 64)}", "header has no 'descr'"),
      ("missing fortran_order", "{'descr': '<f4', 'shape': (1, 3, 64, 64)}", "header has no 'fortran_order'"),
      ("missing shape", "{'descr': '<f4', 'fortran_order': False}", "header has no 'shape'"),
      (
        "extra key", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64), 'strides': (4,)}",
        "unexpected key 'strides'"
      ),
      (
        "duplicate key", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64)}",
        "key 'descr' twice"
      ),
      (
        "key with a NEL", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64), 'a\u{85}': 1}",
        "unexpected key"
      ),
      ("empty dict", "{}", "header has no 'descr'"),
    ]
    for (name, text, fragment) in dicts { try add(name, npy(text, data), fragment) }

    // dtypes, order, shapes.
    let descrs: [(String, String)] = [
      ("'>f4'", "big-endian float32"), ("'<f8'", "float64"), ("'<f2'", "float16"), ("'|u1'", "uint8"),
      ("'<i4'", "int32"), ("'|b1'", "bool"), ("'<c8'", "complex64"), ("'<U3'", "unicode string"),
      ("'f4'", "not a simple dtype"),
      ("'float32'", "not a simple dtype"),
    ]
    for (descr, fragment) in descrs {
      try add("descr \(descr)", npy(header(descr: descr, shape: shape), data), fragment)
    }
    try add("structured descr", npy(header(descr: "[('r', '<f4')]", shape: shape), data), "'descr' is [")
    try add("numeric descr", npy(header(descr: "4", shape: shape), data), "'descr' is 4")
    try add("Fortran order", npy(header(fortran: "True", shape: shape), data), "only C-order")
    try add("fortran_order a string", npy(header(fortran: "'no'", shape: shape), data), "'fortran_order' is 'no'")
    try add("fortran_order None", npy(header(fortran: "None", shape: shape), data), "'fortran_order' is None")
    let shapes: [(String, String)] = [
      ("[1, 3, 64, 64]", "'shape' is [1, 3, 64, 64]"), ("(1, -3, 64, 64)", "'shape' is"),
      ("(1, 3.0, 64, 64)", "'shape' is"),
      ("('1', 3, 64, 64)", "'shape' is"), ("(1, 3, 64, None)", "'shape' is"), ("64", "'shape' is 64"),
      ("(99999999999999999999, 1)", "'shape' is"), ("(4294967296, 4294967296)", "more elements than fit"),
      ("(3037000500, 3037000500)", "more elements than fit"), ("(1, 3, 64, 65)", "needs 49920 data bytes"),
      ("(1, 3, 64, 63)", "needs 48384 data bytes"),
    ]
    for (text, fragment) in shapes { try add("shape \(text)", npy(header(shape: text), data), fragment) }

    // Valid arrays the model cannot take.
    try add(
      "rank 3", npy(header(shape: "(3, 64, 64)"), data), "expected shape (batch, 3, height, width), got [3, 64, 64]")
    try add("rank 5", npy(header(shape: "(1, 1, 3, 64, 64)"), data), "got [1, 1, 3, 64, 64]")
    try add("scalar", npy(header(shape: "()"), [0, 0, 0, 0]), "got []")
    try add("empty vector", npy(header(shape: "(0,)"), []), "got [0]")
    try add(
      "empty batch", npy(header(shape: "(0, 3, 64, 64)"), []),
      "expected [batch, channels, height, width] with batch ≥ 1")
    try add("4 channels", npy(header(shape: "(1, 4, 64, 48)"), data), "input has 4 channels, the model expects 3")
    try add("1 channel", npy(header(shape: "(3, 1, 64, 64)"), data), "input has 1 channels")
    try add("channels last", npy(header(shape: "(1, 64, 64, 3)"), data), "input has 64 channels")
    try add("too small", npy(header(shape: "(1, 3, 8, 8)"), Array(data.prefix(768))), "8×8 pixels")
    try add("too thin", npy(header(shape: "(1, 3, 1, 1024)"), Array(data.prefix(12288))), "1×1024 pixels")

    // A header declaring far more data than the file holds: refused before anything is allocated.
    try add(
      "100000×100000 image, 48 data bytes", npy(header(shape: "(1, 3, 100000, 100000)"), Array(data.prefix(48))),
      "needs 120000000000 data bytes")
    try add("batch 2^40", npy(header(shape: "(1099511627776, 3, 64, 64)"), data), "needs")
    try add("no data", npy(header(shape: shape), []), "needs 49152 data bytes (float32) but the file has 0")

    // Non-finite values.
    for (name, bits, index) in [
      ("NaN", Float.nan.bitPattern, 0), ("infinity", Float.infinity.bitPattern, 777),
      ("-infinity", (-Float.infinity).bitPattern, 12287),
    ] {
      var values = Array(good)
      let offset = good.count - data.count + 4 * index
      for byte in 0..<4 { values[offset + byte] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(byte))) }
      try add("\(name) at \(index)", values, "1 non-finite values", "flat index \(index)")
    }

    // Truncated data and seeded bit flips in the preamble and header.
    var generator = SplitMix64(seed: 0x2E4D)
    for _ in 0..<6 {
      let length = Int.random(in: 128..<good.count, using: &generator)
      try add("cut to \(length) bytes", Array(good.prefix(length)), "needs 49152 data bytes")
    }
    let headerEnd = 128
    var flips = 0
    while flips < 45 {
      var flipped = good
      let position = Int.random(in: 0..<headerEnd, using: &generator)
      flipped[position] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
      guard (try? parseNumPy(flipped, name: "flip")) == nil else { continue }
      try add("byte \(position) flipped", flipped)
      flips += 1
    }
    XCTAssertGreaterThan(cases.count, 130)
    run(cases)
  }

  /// A real file as large as the header claims (sparse on disk, so it costs nothing): refused from
  /// its size before a byte of it is read, and the process never grows.
  func testHugeSparseArrayIsRefusedBeforeReading() throws {
    let file = path("huge.npy")
    let bytes = npy(header(shape: "(1, 3, 100000, 100000)"), [])
    XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
    try handle.truncate(atOffset: UInt64(bytes.count) + 120_000_000_000)
    try handle.close()
    let out = path("huge-out.npy")
    // Under an 8 GB address-space limit: anything sized from the file or its header would fail there.
    run([
      HostileCase(
        category: "resources", name: "120 GB sparse .npy",
        arguments: ["run", "--weights", weights, "--input", file, "--output", out], status: 1, message: nil,
        fragments: ["huge.npy", "over the", "read limit"], outputs: [out])
    ])
    let limited = try sparsevitLimited(["run", "--weights", weights, "--input", file, "--output", out])
    XCTAssertFalse(limited.crashed, limited.stderr)
    XCTAssertEqual(limited.status, 1, limited.stderr)
    XCTAssertTrue(
      limited.stderr.hasPrefix("Error: \(file): cannot read: the file has 120000000128 bytes"), limited.stderr)
  }

  /// `sparsevit` with its address space capped at 8 GB (`ulimit -v`): an allocation sized by a lying
  /// header fails there instead of succeeding lazily. Skipped under a sanitizer (scripts/sanitize.sh),
  /// whose shadow memory needs terabytes of address space.
  private func sparsevitLimited(_ arguments: [String]) throws -> CommandResult {
    let environment = ProcessInfo.processInfo.environment
    if environment["ASAN_OPTIONS"] != nil || environment["TSAN_OPTIONS"] != nil {
      throw XCTSkip("an address-space limit cannot be combined with a sanitizer")
    }
    let binary = Bundle.main.bundleURL.appendingPathComponent("sparsevit").path
    let quoted = ([binary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    return try shell("ulimit -v 8000000 && exec " + quoted.joined(separator: " "))
  }

  /// The shell `exec`s, so a signal shows as the shell's own termination by that signal.
  private func shell(_ command: String) throws -> CommandResult {
    try runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
  }

  func testLyingHeaderIsRefusedWithoutAllocating() throws {
    let file = try write(npy(header(shape: "(1, 3, 100000, 100000)"), [UInt8](repeating: 0, count: 48)), "lying.npy")
    let result = try sparsevitLimited(["run", "--weights", weights, "--input", file, "--output", path("y.npy")])
    XCTAssertFalse(result.crashed, result.stderr)
    XCTAssertEqual(result.status, 1)
    XCTAssertEqual(
      result.stderr.split(separator: "\n").first.map(String.init),
      "Error: \(file): shape [1, 3, 100000, 100000] needs 120000000000 data bytes (float32) but the file has 48")
  }

  // MARK: - Sparsity files (--sparsity)

  func testBadSparsityConfigurations() throws {
    let depths = [2, 2, 2, 2]
    var cases: [HostileCase] = []
    func add(_ name: String, json: [UInt8], _ fragments: [String]) throws {
      let file = try write(json, "s-\(cases.count).json")
      var message: String? = nil
      do throws(SparsityError) {
        _ = try PruningRatios.load(path: file, depths: depths)
        XCTFail("[sparsity] \(name): accepted")
      } catch {
        message = error.description
      }
      let out = output("sparsity\(cases.count)")
      cases.append(
        HostileCase(
          category: "sparsity", name: name,
          arguments: ["run", "--weights", weights, "--input", goodInput, "--output", out, "--sparsity", file],
          status: 1,
          message: message, fragments: fragments, outputs: [out]))
    }
    func add(_ name: String, _ text: String, _ fragments: String...) throws {
      try add(name, json: Array(text.utf8), fragments)
    }
    let notJSON = "not valid JSON"
    // Not JSON.
    for (name, text) in [
      ("empty", ""), ("whitespace", "  \n "), ("garbage", "pruning ratios please"),
      ("truncated", "{\"pruning_ratios\": [[0.1, 0.1], [0"),
      ("single quotes", "{'pruning_ratios': 0.5}"),
      ("NaN literal", "{\"pruning_ratios\": NaN}"), ("Infinity literal", "Infinity"), ("comment", "// dense\n0"),
      ("two documents", "0.1 0.2"), ("unterminated string", "{\"pruning_ratios"),
      ("control character in a string", "{\"a\u{0B}b\": 1"),
      ("bare minus", "-"), ("hex number", "0x10"),
    ] {
      try add(name, text, notJSON)
    }
    try add("invalid UTF-8", json: [0x7B, 0xFF, 0xFE, 0x7D], [notJSON])
    try add(
      "UTF-16", json: [0xFF, 0xFE] + Array("{\"pruning_ratios\": 1.5}".utf8).flatMap { [$0, 0] }, ["must be < 1"])
    try add("deep nesting", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))

    // Wrong structure.
    let noKey = "expected an object with key \"pruning_ratios\""
    for (name, text) in [
      ("a list", "[[0, 0], [0, 0], [0, 0], [0, 0]]"), ("a string", "\"dense\""), ("null", "null"), ("true", "true"),
      ("no key", "{\"ratios\": [[0, 0]]}"), ("key misspelled", "{\"pruning_ratio\": 0.5}"), ("empty object", "{}"),
      ("key in a list", "[{\"pruning_ratios\": 0.5}]"),
    ] {
      try add(name, text, noKey)
    }
    for (name, text, fragment) in [
      ("ratios a string", "{\"pruning_ratios\": \"0.5\"}", "must be a list of per-stage lists"),
      ("ratios null", "{\"pruning_ratios\": null}", "must be a list of per-stage lists"),
      ("ratios a boolean", "{\"pruning_ratios\": false}", "must be a list of per-stage lists"),
      ("ratios an object", "{\"pruning_ratios\": {\"0\": [0, 0]}}", "must be a list of per-stage lists"),
      ("stage a number", "{\"pruning_ratios\": [0.1, 0.1, 0.1, 0.1]}", "\"pruning_ratios\"[0] must be a list"),
      ("stage null", "{\"pruning_ratios\": [[0, 0], null, [0, 0], [0, 0]]}", "\"pruning_ratios\"[1] must be a list"),
      (
        "ratio a string", "{\"pruning_ratios\": [[0, \"0.1\"], [0, 0], [0, 0], [0, 0]]}",
        "[0][1] must be a number, found a string"
      ),
      (
        "ratio null", "{\"pruning_ratios\": [[0, 0], [0, 0], [null, 0], [0, 0]]}", "[2][0] must be a number, found null"
      ),
      (
        "ratio a boolean", "{\"pruning_ratios\": [[0, 0], [0, 0], [0, 0], [0, true]]}",
        "[3][1] must be a number, found a boolean"
      ),
      (
        "ratio a list", "{\"pruning_ratios\": [[[0.1], 0], [0, 0], [0, 0], [0, 0]]}",
        "[0][0] must be a number, found a list"
      ),
      ("ratio an object", "{\"pruning_ratios\": [[0, {}], [0, 0], [0, 0], [0, 0]]}", "found an object"),
    ] {
      try add(name, text, fragment)
    }

    // Structure right, values wrong for this model.
    for (name, text, fragment) in [
      ("no stages", "{\"pruning_ratios\": []}", "sparsity has 0 stages, the model has 4"),
      ("three stages", "{\"pruning_ratios\": [[0, 0], [0, 0], [0, 0]]}", "3 stages"),
      ("five stages", "{\"pruning_ratios\": [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]]}", "5 stages"),
      ("Swin-T depths", "{\"pruning_ratios\": [[0, 0], [0, 0], [0, 0, 0, 0, 0, 0], [0, 0]]}", "stage 2 has 6 ratios"),
      ("empty stage", "{\"pruning_ratios\": [[], [0, 0], [0, 0], [0, 0]]}", "stage 0 has 0 ratios"),
      ("one ratio too many", "{\"pruning_ratios\": [[0, 0], [0, 0], [0, 0], [0, 0, 0]]}", "stage 3 has 3 ratios"),
      (
        "negative", "{\"pruning_ratios\": [[-0.1, 0], [0, 0], [0, 0], [0, 0]]}",
        "stage 0, block 0 is -0.1: ratios must be ≥ 0"
      ),
      ("one", "{\"pruning_ratios\": [[0, 1], [0, 0], [0, 0], [0, 0]]}", "stage 0, block 1 is 1.0: ratios must be < 1"),
      ("above one", "{\"pruning_ratios\": [[0, 0], [0, 0], [0, 0], [0, 7]]}", "must be < 1"),
      ("huge", "{\"pruning_ratios\": [[0, 0], [0, 1e300], [0, 0], [0, 0]]}", "must be < 1"),
      ("overflowing", "{\"pruning_ratios\": [[0, 0], [0, 1e400], [0, 0], [0, 0]]}", "not representable"),
      (
        "decreasing", "{\"pruning_ratios\": [[0, 0], [0.5, 0.25], [0, 0], [0, 0]]}",
        "stage 1, block 1 is 0.25, below the previous block's 0.5"
      ),
      ("uniform negative", "-0.5", "is -0.5: ratios must be ≥ 0"),
      ("uniform one", "1", "must be < 1"),
      ("uniform in an object", "{\"pruning_ratios\": 2.5}", "must be < 1"),
      ("uniform huge", "1e308", "must be < 1"),
    ] {
      try add(name, text, fragment)
    }
    // Seeded truncations and byte changes of a valid file.
    let valid = Array("{\"pruning_ratios\": [[0.25, 0.5], [0, 0], [0.1, 0.2], [0, 0]], \"note\": \"tiny\"}".utf8)
    var generator = SplitMix64(seed: 0x5BA5)
    var mutated = 0
    while mutated < 24 {
      var bytes = valid
      if mutated % 2 == 0 {
        bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
      } else {
        bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
      }
      guard (try? PruningRatios.parse(json: Data(bytes), source: "m", depths: depths)) == nil else { continue }
      try add("mutation \(mutated)", json: bytes, [])
      mutated += 1
    }

    // Ratios given on the command line.
    for (argument, fragment, status) in [
      ("1.5", "must be < 1", 1), ("-0.1", "must be ≥ 0", 1), ("1", "must be < 1", 1), ("nan", "not a finite number", 1),
      ("inf", "not a finite number", 1), ("1e999", "not a finite number", 1), ("cfg1_42ms", "stage 2 has 6 ratios", 1),
      ("cfg9_1ms", "no such file 'cfg9_1ms'", 64), (directory.path, "is a directory", 64),
    ] as [(String, String, Int32)] {
      let out = output("arg\(argument)")
      cases.append(
        HostileCase(
          category: "sparsity", name: "--sparsity \(argument)",
          arguments: ["run", "--weights", weights, "--input", goodInput, "--output", out, "--sparsity", argument],
          status: status, message: nil, fragments: [fragment], outputs: [out]))
    }
    XCTAssertGreaterThan(cases.count, 80)
    run(cases)
  }

  // MARK: - Images (--image)

  func testCorruptImages() throws {
    let images = fixtures.appendingPathComponent("images")
    let png = try bytes(images.appendingPathComponent("small.png").path)
    let jpeg = try bytes(images.appendingPathComponent("cat.jpg").path)
    var cases: [HostileCase] = []
    func add(_ name: String, _ bytes: [UInt8], ext: String, _ fragments: String..., mask: Bool = false) throws {
      let file = try write(bytes, "i-\(cases.count).\(ext)")
      let message: String
      do throws(ImageError) {
        _ = try RGBImage.load(path: file)
        XCTFail("[images] \(name): decodes")
        return
      } catch {
        message = error.description
      }
      let out = output("image\(cases.count)", mask ? "png" : "npy")
      let arguments =
        mask
        ? ["mask", "--weights", weights, "--image", file, "--sparsity", "0.5", "--output", out, "--size", "64"]
        : ["run", "--weights", weights, "--image", file, "--output", out, "--size", "64"]
      cases.append(
        HostileCase(
          category: "images", name: name + (mask ? " (mask)" : ""), arguments: arguments, status: 1, message: message,
          fragments: [(file as NSString).lastPathComponent] + fragments, outputs: [out]))
    }
    for mask in [false, true] {
      try add("empty", [], ext: "png", "empty file", mask: mask)
      try add("text", Array("definitely a picture".utf8), ext: "jpg", "not a PNG or JPEG image", mask: mask)
      try add("PNG signature only", Array(png.prefix(8)), ext: "png", "corrupt or truncated PNG", mask: mask)
      try add("JPEG SOI only", [0xFF, 0xD8, 0xFF], ext: "jpg", "corrupt or truncated JPEG", mask: mask)
    }
    for name in [
      "bad.jpg", "bad_crc.png", "bad_data.png", "bad_scan.jpg", "truncated.jpg", "truncated.png", "not_an_image.png",
      "cat_cmyk.jpg",
    ] {
      try add(
        "fixture \(name)", try bytes(images.appendingPathComponent(name).path), ext: (name as NSString).pathExtension)
    }
    for name in ["huge.png", "huge.jpg"] {
      try add(
        "fixture \(name)", try bytes(images.appendingPathComponent(name).path), ext: (name as NSString).pathExtension,
        "over the limit")
    }
    try add("npy as image", try bytes(goodInput), ext: "png", "not a PNG or JPEG image")
    try add("safetensors as image", try bytes(weights), ext: "jpg", "not a PNG or JPEG image")

    var generator = SplitMix64(seed: 0x1A6E)
    for (format, original, ext) in [("PNG", png, "png"), ("JPEG", jpeg, "jpg")] {
      for _ in 0..<10 {
        let length = Int.random(in: 9..<original.count - 1, using: &generator)
        try add(
          "\(format) cut to \(length)", Array(original.prefix(length)), ext: ext, "corrupt or truncated \(format)")
      }
      var flips = 0
      var attempts = 0
      while flips < 20 && attempts < 2000 {
        attempts += 1
        var flipped = original
        // JPEG entropy data survives most flips; the markers and tables in the first bytes do not.
        let position = Int.random(
          in: 0..<min(original.count, format == "PNG" ? original.count : 700), using: &generator)
        flipped[position] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
        guard (try? RGBImage.decode(flipped)) == nil else { continue }
        try add("\(format) byte \(position) flipped", flipped, ext: ext, mask: flips % 4 == 0)
        flips += 1
      }
      XCTAssertEqual(flips, 20, "\(format): too few rejected flips")
    }
    XCTAssertGreaterThan(cases.count, 60)
    run(cases)
  }

  // MARK: - Resources

  func testResourceLimitsAreRefusedUpFront() throws {
    var cases: [HostileCase] = []
    func add(_ name: String, _ arguments: [String], _ fragments: String..., status: Int32 = 64) {
      cases.append(
        HostileCase(
          category: "resources", name: name, arguments: arguments, status: status, message: nil, fragments: fragments,
          outputs: []))
    }
    let bench = ["bench", "--weights", weights, "--iterations", "1", "--warmup", "0", "--sparsity", "dense"]
    add(
      "bench 100000²", bench + ["--sizes", "100000"], "'--sizes' item 100000x100000 at batch 1 needs about",
      "over the budget")
    add("bench 100000×64", bench + ["--sizes", "100000x64", "--batch", "65536"], "over the budget")
    add(
      "bench largest thin size", bench + ["--sizes", "16777216x32", "--batch", "65536", "--threads", "1024"],
      "over the budget")
    add("bench size too large to parse", bench + ["--sizes", "99999999999999999999"], "is not a size")
    add("bench batch beyond the limit", bench + ["--batch", "1000000"], "'--batch' must be in 1…65536")
    add(
      "run threads beyond the limit",
      ["run", "--weights", weights, "--input", goodInput, "--output", path("t.npy"), "--threads", "100000"],
      "'--threads' must be in 1…1024")
    add(
      "run size beyond the limit",
      [
        "run", "--weights", weights, "--image", fixtures.appendingPathComponent("images/small.png").path, "--size",
        "100000000",
      ], "--size")
    run(cases)
  }

  /// The largest size and batch `bench` parses: the workspace estimate must saturate, not trap.
  func testBenchAtTheLargestSizeAndBatchDoesNotTrap() throws {
    let arguments = [
      "bench", "--weights", weights, "--iterations", "1", "--warmup", "0", "--sparsity", "dense", "--sizes", "16777216",
      "--batch", "65536",
    ]
    let result = try sparsevit(arguments)
    check(
      result,
      HostileCase(
        category: "resources", name: "bench largest size and batch", arguments: arguments, status: 64, message: nil,
        fragments: ["more than any machine has"], outputs: []), label: "bench largest size and batch", file: #filePath,
      line: #line)
  }

  // MARK: - Saved fuzzer findings

  /// Every input scripts/fuzz.sh saved in Tests/Fixtures/fuzz-crashes: the parser it crashed now
  /// throws a one-line error naming the file, and the command reports it.
  func testFuzzCrashesStayFixed() throws {
    let folder = fixtures.appendingPathComponent("fuzz-crashes")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    var cases: [HostileCase] = []
    for name in names.sorted() where !name.hasPrefix(".") && name != "README.md" {
      let file = folder.appendingPathComponent(name).path
      let bytes = try bytes(file)
      let out = output("fuzz" + name)
      let target = String(name.prefix { $0 != "-" })
      let message: String?
      let arguments: [String]
      switch target {
      case "safetensors", "weights":
        message = Result { try SwinTransformer.load(path: file) }.failureDescription
        arguments = ["run", "--weights", file, "--input", goodInput, "--output", out]
      case "numpy":
        message = Result { try parseNumPy(bytes, name: file) }.failureDescription
        arguments = ["run", "--weights", weights, "--input", file, "--output", out]
      case "sparsity":
        message = Result { try PruningRatios.load(path: file, depths: [2, 2, 2, 2]) }.failureDescription
        arguments = ["run", "--weights", weights, "--input", goodInput, "--output", out, "--sparsity", file]
      case "image":
        message = Result { try RGBImage.load(path: file) }.failureDescription
        arguments = ["run", "--weights", weights, "--image", file, "--output", out, "--size", "64"]
      default:
        XCTFail("\(name): unknown fuzz target '\(target)'")
        continue
      }
      guard let message else { continue }  // a valid input (a leak or timeout finding): nothing to reject
      XCTAssertFalse(message.contains(where: \.isNewline), "\(name): \(message.debugDescription)")
      cases.append(
        HostileCase(
          category: "fuzz crashes", name: name, arguments: arguments, status: 1, message: message,
          // Sparsity values are named by stage and block, not by file (there is one per run).
          fragments: target == "sparsity" ? [] : [name],
          outputs: [out]))
    }
    if !cases.isEmpty { run(cases) }
  }

  /// The finding behind sparsity-crash-60d8018b5ee2: ratios are read correctly rounded, so what
  /// `jsonData` writes (shortest round-trip digits) reads back identical.
  func testSparsityNumbersAreReadExactly() throws {
    let depths = [2, 2, 2, 2]
    let nearOne = try PruningRatios.parse(json: Data("0.9999999999999999".utf8), source: "s", depths: depths)
    XCTAssertEqual(nearOne.ratios[0][0], 0.9999999999999999)
    let ratios = [[0.1, 0.30000000000000004], [0, 0.12222222222222219], [0.5, 0.5], [0.7, 0.9999999999999999]]
    let written = try PruningRatios(ratios, depths: depths)
    XCTAssertEqual(try PruningRatios.parse(json: written.jsonData(), source: "s", depths: depths).ratios, ratios)
  }

  // MARK: - Interrupted writes

  /// Kills `sparsevit run --features` at the moment its first file appears, several times: every
  /// visible file left is complete (parses, right shape); only hidden temporary files may be partial.
  func testKilledRunLeavesNoTruncatedFiles() throws {
    let input = path("big.npy")
    try writeNumPy(randomTensor([1, 3, 256, 256], seed: 7), to: input)
    let binary = Bundle.main.bundleURL.appendingPathComponent("sparsevit")
    let expected = [
      "stage0.npy": [1, 64, 64, 4], "stage1.npy": [1, 32, 32, 8], "stage2.npy": [1, 16, 16, 16],
      "stage3.npy": [1, 8, 8, 32],
    ]
    // Kill after the first, second and third entry appears; a run that ends before the kill (or has
    // written all four files already) did not test anything, so it is tried again.
    var caught = 0
    var attempts = 0
    while caught < 3 && attempts < 60 {
      let features = path("features-\(attempts)")
      attempts += 1
      let process = Process()
      process.executableURL = binary
      process.arguments = ["run", "--weights", weights, "--input", input, "--features", features, "--threads", "1"]
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      let deadline = Date().addingTimeInterval(120)
      var atKill: [String] = []
      while process.isRunning && Date() < deadline {
        atKill = (try? FileManager.default.contentsOfDirectory(atPath: features)) ?? []
        if atKill.count > caught { break }
        usleep(100)
      }
      let written = atKill.filter { expected[$0] != nil }.count
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
      if process.terminationReason == .uncaughtSignal && !atKill.isEmpty && written < expected.count {
        caught += 1
      }
      for entry in (try? FileManager.default.contentsOfDirectory(atPath: features)) ?? [] {
        // writeFileAtomically's temporary (".stage0.npy.<UUID>.tmp"): SIGKILL cannot be cleaned up after.
        if entry.hasPrefix(".") {
          XCTAssertTrue(entry.hasSuffix(".tmp"), "unexpected hidden file \(entry)")
          continue
        }
        let tensor = try readNumPy(path: (features as NSString).appendingPathComponent(entry), allowNonFinite: true)
        XCTAssertEqual(tensor.shape, expected[entry], "attempt \(attempts): \(entry)")
      }
    }
    XCTAssertEqual(caught, 3, "killed a run mid-write \(caught) times in \(attempts) attempts")
  }
}

// MARK: - Checkpoint surgery

/// A safetensors file taken apart (header entries in data order, data bytes) to be put back
/// together with one thing wrong.
private struct Checkpoint {
  struct Entry {
    var name: String
    var dtype: String
    var shape: [Int]
    var begin: Int
    var end: Int
    /// Replaces the whole entry's JSON when set.
    var raw: String? = nil

    var json: String {
      raw ?? "{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
    }
  }

  var entries: [Entry]
  var data: [UInt8]
  /// Extra `"key":value` members appended to the header object.
  var members: [String] = []

  init(_ bytes: [UInt8]) throws {
    let length = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
    let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as! [String: Any]
    entries = header.compactMap { name, value -> Entry? in
      guard name != "__metadata__", let entry = value as? [String: Any] else { return nil }
      let offsets = entry["data_offsets"] as! [Int]
      return Entry(
        name: name, dtype: entry["dtype"] as! String, shape: entry["shape"] as! [Int], begin: offsets[0],
        end: offsets[1])
    }.sorted { $0.begin < $1.begin }
    data = Array(bytes[(8 + length)...])
  }

  var headerText: String {
    "{" + (entries.map { "\"\($0.name)\":\($0.json)" } + members).joined(separator: ",") + "}"
  }

  var headerLength: Int { headerText.utf8.count }

  /// The file's bytes with `header` (default: the entries) and the given length field.
  func bytes(header: String? = nil, length: UInt64? = nil) -> [UInt8] {
    let text = Array((header ?? headerText).utf8)
    let field = length ?? UInt64(text.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: field >> (8 * UInt64($0))) } + text + data
  }

  func withLength(_ length: UInt64) -> [UInt8] { bytes(length: length) }

  /// A file of just this header and no data.
  static func headerOnly(_ header: String) -> [UInt8] {
    let text = Array(header.utf8)
    return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(text.count) >> (8 * UInt64($0))) } + text
  }
  func withHeader(_ header: String) -> [UInt8] { bytes(header: header) }

  func withData<C: Collection<UInt8>>(_ data: C) -> [UInt8] {
    var copy = self
    copy.data = Array(data)
    return copy.bytes()
  }

  func withMembers(_ members: [String]) -> [UInt8] {
    var copy = self
    copy.members = members
    return copy.bytes()
  }

  func editing(_ name: String, _ change: (inout Entry) -> Void) -> [UInt8] {
    var copy = self
    change(&copy.entries[copy.entries.firstIndex { $0.name == name }!])
    return copy.bytes()
  }

  func replacing(
    _ name: String, dtype: String? = nil, shape: String? = nil, offsets: String? = nil, entry: String? = nil
  ) -> [UInt8] {
    editing(name) { item in
      item.raw =
        entry
        ?? "{\"dtype\":\(dtype ?? "\"\(item.dtype)\""),\"shape\":\(shape ?? "\(item.shape)"),\"data_offsets\":\(offsets ?? "[\(item.begin),\(item.end)]")}"
    }
  }

  func renaming(_ name: String, to newName: String) -> [UInt8] { editing(name) { $0.name = newName } }

  /// Without the tensors whose names start with `prefix`, their data cut out and the offsets closed up.
  func droppingAll(prefix: String) -> [UInt8] {
    var copy = self
    copy.entries = []
    copy.data = []
    for entry in entries where !entry.name.hasPrefix(prefix) {
      var moved = entry
      moved.begin = copy.data.count
      copy.data += data[entry.begin..<entry.end]
      moved.end = copy.data.count
      copy.entries.append(moved)
    }
    return copy.bytes()
  }

  func dropping(_ name: String) -> [UInt8] { droppingAll(prefix: name) }

  /// With one more F32 tensor of 4 values at the end (`name` is JSON-escaped text).
  func adding(_ name: String) -> [UInt8] {
    var copy = self
    copy.entries.append(Entry(name: name, dtype: "F32", shape: [4], begin: data.count, end: data.count + 16))
    copy.data += [UInt8](repeating: 0, count: 16)
    return copy.bytes()
  }

  func moving(by delta: Int) -> [UInt8] {
    var copy = self
    for index in copy.entries.indices {
      copy.entries[index].begin += delta
      copy.entries[index].end += delta
    }
    copy.data = [UInt8](repeating: 0, count: delta) + data
    return copy.bytes()
  }

  /// With float32 element `element` (negative: from the end) of tensor `name` set to `bits`.
  func settingFloat(_ name: String, element: Int, bits: UInt32) -> [UInt8] {
    let entry = entries.first { $0.name == name }!
    let count = (entry.end - entry.begin) / 4
    let offset = entry.begin + 4 * (element < 0 ? count + element : element)
    var copy = self
    for byte in 0..<4 { copy.data[offset + byte] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(byte))) }
    return copy.bytes()
  }

  func settingHalf(_ name: String, element: Int, bits: UInt16) -> [UInt8] {
    let entry = entries.first { $0.name == name }!
    var copy = self
    copy.data[entry.begin + 2 * element] = UInt8(truncatingIfNeeded: bits)
    copy.data[entry.begin + 2 * element + 1] = UInt8(truncatingIfNeeded: bits >> 8)
    return copy.bytes()
  }
}

extension Result {
  /// The error's description, nil on success.
  fileprivate var failureDescription: String? {
    if case .failure(let error) = self { return String(describing: error) }
    return nil
  }
}
