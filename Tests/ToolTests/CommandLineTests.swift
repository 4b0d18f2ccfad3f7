// The `sparsevit` command as a user runs it: exit status 0 / 64 (usage) / 1 (failure), one
// `Error:` line on stderr, results on stdout and in files. Runs the built executable.
import Engine
import Foundation
import Models
import TestSupport
import XCTest

/// Runs the `sparsevit` executable next to the test bundle.
struct CommandResult {
  let status: Int32
  let stdout: String
  let stderr: String
  /// Whether the process ended by a signal (a crash) rather than exiting.
  let crashed: Bool
}

func sparsevit(_ arguments: [String]) throws -> CommandResult {
  try runProcess(Bundle.main.bundleURL.appendingPathComponent("sparsevit"), arguments)
}

/// Runs `executable` with `arguments` to completion, capturing both output streams.
func runProcess(_ executable: URL, _ arguments: [String]) throws -> CommandResult {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  let out = Pipe(), err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let stdout = out.fileHandleForReading.readDataToEndOfFile()
  let stderr = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return CommandResult(
    status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
    stderr: String(decoding: stderr, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
}

/// A command test with a fresh scratch directory per test (removed afterwards).
class CommandTestCase: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "sparsevit-\(String(describing: type(of: self)))-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  /// `name` inside the scratch directory.
  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  /// Runs `sparsevit arguments` and checks it failed cleanly: no crash, exit `status`, a first stderr
  /// line `Error: …` mentioning `fragment`, exactly that one line for a failure (1), and `usage`
  /// after a usage error (64).
  func assertOneLineFailure(
    _ arguments: [String], status: Int32, contains fragment: String, usage: String,
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let result = try sparsevit(arguments)
    XCTAssertFalse(result.crashed, "crashed: \(arguments)", file: file, line: line)
    XCTAssertEqual(result.status, status, "\(arguments): \(result.stderr)", file: file, line: line)
    let lines = result.stderr.split(separator: "\n")
    let first = lines.first.map(String.init) ?? ""
    XCTAssertTrue(first.hasPrefix("Error: "), "first stderr line: \(first)", file: file, line: line)
    XCTAssertTrue(first.contains(fragment), "'\(first)' does not mention '\(fragment)'", file: file, line: line)
    if status == 1 {
      XCTAssertEqual(lines.count, 1, "one line for a failure: \(result.stderr)", file: file, line: line)
    }
    if status == 64 { XCTAssertTrue(result.stderr.contains(usage), file: file, line: line) }
  }
}

final class CommandLineTests: CommandTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/tiny")
  var weights: String { fixtures.appendingPathComponent("tiny.timm.f32.safetensors").path }

  private func assertFailure(
    _ arguments: [String], status: Int32, contains fragment: String, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let result = try sparsevit(arguments)
    XCTAssertFalse(result.crashed, "crashed: \(arguments)", file: file, line: line)
    XCTAssertEqual(result.status, status, "\(arguments): \(result.stderr)", file: file, line: line)
    let firstLine = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
    XCTAssertTrue(firstLine.hasPrefix("Error: "), "first stderr line: \(firstLine)", file: file, line: line)
    XCTAssertTrue(firstLine.contains(fragment), "'\(firstLine)' does not mention '\(fragment)'", file: file, line: line)
    if status == 64 {
      XCTAssertTrue(result.stderr.contains("Usage: sparsevit"), "no usage after a usage error", file: file, line: line)
    }
  }

  func testHelpAndUnknownCommand() throws {
    let overview = try sparsevit([])
    XCTAssertEqual(overview.status, 0)
    XCTAssertTrue(overview.stdout.contains("USAGE: sparsevit <command>"))
    let help = try sparsevit(["run", "--help"])
    XCTAssertEqual(help.status, 0)
    XCTAssertTrue(help.stdout.contains("--sparsity <cfg>"))
    let unknown = try sparsevit(["frobnicate"])
    XCTAssertEqual(unknown.status, 64)
    XCTAssertTrue(unknown.stderr.hasPrefix("Error: unknown command 'frobnicate'"))
  }

  func testSeedOptionsOfBenchAndRun() throws {
    let help = try sparsevit(["bench", "--help"])
    XCTAssertTrue(help.stdout.contains("--model-seed <n>") && help.stdout.contains("--input-seed <n>"), help.stdout)
    let bench = [
      "bench", "--sizes", "64", "--sparsity", "dense", "--iterations", "1", "--warmup", "0", "--threads", "1",
    ]
    try assertFailure(
      bench + ["--weights", weights, "--model-seed", "1"], status: 64, contains: "'--model-seed' applies")
    try assertFailure(bench + ["--weights", weights, "--seed", "1"], status: 64, contains: "'--seed' applies")
    try assertFailure(bench + ["--model-seed", "1", "--seed", "2"], status: 64, contains: "former name")
    try assertFailure(bench + ["--input-seed", "1", "--seed", "2"], status: 64, contains: "former name")
    try assertFailure(bench + ["--input-sed", "1"], status: 64, contains: "unknown option '--input-sed'")
    try assertFailure(bench + ["--input-seed", "-1"], status: 64, contains: "'--input-seed' must be in 0…")
    try assertFailure(
      ["info", "--weights", weights, "--model-seed", "2"], status: 64, contains: "'--model-seed' applies")
    // The input seed works with a checkpoint and is reported in the header.
    let seeded = try sparsevit(bench + ["--weights", weights, "--input-seed", "7"])
    XCTAssertEqual(seeded.status, 0, seeded.stderr)
    XCTAssertTrue(seeded.stdout.contains("(seed 7)"), seeded.stdout)
  }

  /// `--precision`: an unknown value is a usage error; bf16 runs and is reported where the CPU has
  /// AVX512_BF16, and fails naming the missing feature where it does not.
  func testPrecisionOption() throws {
    try assertFailure(
      ["info", "--weights", weights, "--precision", "f16"], status: 64,
      contains: "'--precision': 'f16' is not one of f32, bf16")
    let f32 = try sparsevit(["info", "--weights", weights])
    XCTAssertEqual(f32.status, 0, f32.stderr)
    XCTAssertTrue(f32.stdout.contains("precision:    f32"), f32.stdout)
    let bench = [
      "bench", "--weights", weights, "--sizes", "64", "--sparsity", "dense", "--iterations", "1", "--warmup", "0",
      "--precision", "bf16",
    ]
    if CPUFeatures.current.contains(.avx512BF16) {
      let info = try sparsevit(["info", "--weights", weights, "--precision", "bf16"])
      XCTAssertEqual(info.status, 0, info.stderr)
      XCTAssertTrue(
        info.stdout.contains("precision:    bf16") && info.stdout.contains("kernel:       bf16, packed pairs"),
        info.stdout)
      let run = try sparsevit(bench)
      XCTAssertEqual(run.status, 0, run.stderr)
      XCTAssertTrue(run.stdout.contains("block linear layers: bf16"), run.stdout)
    } else {
      try assertFailure(bench, status: 1, contains: "needs a CPU with avx512_bf16")
      try assertFailure(["info", "--precision", "bf16"], status: 1, contains: "needs a CPU with avx512_bf16")
    }
  }

  func testRunWritesLogitsAndFeatures() throws {
    let manifest = try loadManifest(fixtures)
    let fixture = manifest.cases.first { $0.name == "dense_75x100_b2" }!
    let input = fixtures.appendingPathComponent(fixture.input).path
    let result = try sparsevit([
      "run", "--weights", weights, "--input", input, "--output", path("y.npy"), "--features", path("features"),
      "--threads", "2", "--sparsity", "0.5", "--verbose",
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stderr.contains("stage 0 block 0: ratio 0.5, kept"), result.stderr)
    let logits = try readNumPy(path: path("y.npy"))
    XCTAssertEqual(logits.shape, [2, 10])
    for stage in 0..<4 {
      XCTAssertEqual(try readNumPy(path: path("features/stage\(stage).npy")).shape.first, 2)
    }
    // Dense through the command equals the library's dense forward.
    XCTAssertEqual(
      try sparsevit(["run", "--weights", weights, "--input", input, "--output", path("dense.npy"), "--threads", "1"])
        .status, 0)
    let model = try SwinTransformer.load(path: weights)
    let expected = try model.forward(try readNumPy(path: input), options: ForwardOptions(threads: 1))
    XCTAssertEqual(try readNumPy(path: path("dense.npy")).values, expected.logits!.values)
  }

  func testUsageErrors() throws {
    try assertFailure(["run", "--output", path("y.npy")], status: 64, contains: "missing '--input <x.npy>'")
    try assertFailure(
      ["run", "--input", "x.npy", "--output", "y.npy", "--bogus"], status: 64, contains: "unknown option '--bogus'")
    try assertFailure(
      ["run", "--input", "x.npy", "--output", "y.npy", "--threads", "0"], status: 64,
      contains: "'--threads' must be in 1")
    try assertFailure(
      ["run", "--input", "x.npy", "--output", "y.npy", "--threads", "two"], status: 64, contains: "expects an integer")
    try assertFailure(["run", "--input"], status: 64, contains: "missing value for '--input <x.npy>'")
    try assertFailure(
      ["run", "--input", path("absent.npy"), "--output", path("y.npy")], status: 64, contains: "absent.npy")
    try assertFailure(
      ["run", "--input", path("absent.npy"), "--output", path("y.npy"), "--weights", path("absent.safetensors")],
      status: 64, contains: "absent")
  }

  /// Every command that runs a model takes `--window-semantics`; an unknown name is a usage error;
  /// `info` prints the semantics in use: the layout's by default, the one asked for otherwise.
  func testWindowSemanticsOption() throws {
    for command in ["run", "bench", "search", "mask", "info", "eval", "serve"] {
      XCTAssertTrue(try sparsevit([command, "--help"]).stdout.contains("--window-semantics"), command)
    }
    for command in ["info", "bench"] {
      try assertFailure(
        [command, "--window-semantics", "detectron"], status: 64, contains: "'--window-semantics' must be one of")
    }
    let mmdet = fixtures.appendingPathComponent("tiny.mmdet.f16.safetensors").path
    let byLayout = try sparsevit(["info", "--weights", mmdet])
    XCTAssertEqual(byLayout.status, 0, byLayout.stderr)
    XCTAssertTrue(byLayout.stdout.contains("windows:      sparsevit semantics"), byLayout.stdout)
    let asked = try sparsevit(["info", "--weights", mmdet, "--window-semantics", "mmdet"])
    XCTAssertTrue(asked.stdout.contains("windows:      mmdet semantics"), asked.stdout)
  }

  func testBadInputsFailWithOneLine() throws {
    let good = fixtures.appendingPathComponent("dense_64x64_b1.input.npy").path
    // Wrong rank, wrong channel count, too small, non-finite.
    try writeNumPy(Tensor(shape: [3, 64, 64]), to: path("rank3.npy"))
    try writeNumPy(Tensor(shape: [1, 4, 64, 64]), to: path("rgba.npy"))
    try writeNumPy(Tensor(shape: [1, 3, 16, 64]), to: path("small.npy"))
    try assertFailure(
      ["run", "--weights", weights, "--input", path("rank3.npy"), "--output", path("y.npy")], status: 1,
      contains: "(batch, 3, height, width)")
    try assertFailure(
      ["run", "--weights", weights, "--input", path("rgba.npy"), "--output", path("y.npy")], status: 1,
      contains: "4 channels")
    try assertFailure(
      ["run", "--weights", weights, "--input", path("small.npy"), "--output", path("y.npy")], status: 1,
      contains: "16×64 pixels")
    // Not an .npy at all, and float64 data.
    try Data("hello".utf8).write(to: URL(fileURLWithPath: path("text.npy")))
    try assertFailure(
      ["run", "--weights", weights, "--input", path("text.npy"), "--output", path("y.npy")], status: 1,
      contains: "text.npy")
    var float64: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 64, 64), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    float64 += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
    float64 += [UInt8](repeating: 0, count: 3 * 64 * 64 * 8)
    try Data(float64).write(to: URL(fileURLWithPath: path("f8.npy")))
    try assertFailure(
      ["run", "--weights", weights, "--input", path("f8.npy"), "--output", path("y.npy")], status: 1, contains: "'<f8'")
    // A truncated checkpoint and a non-checkpoint.
    let bytes = try Data(contentsOf: URL(fileURLWithPath: weights))
    try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path("half.safetensors")))
    try assertFailure(
      ["run", "--weights", path("half.safetensors"), "--input", good, "--output", path("y.npy")], status: 1,
      contains: "half.safetensors")
    // Bad sparsity configurations.
    try Data(#"{"pruning_ratios": [[0.5, 0.2], [0, 0], [0, 0], [0, 0]]}"#.utf8).write(
      to: URL(fileURLWithPath: path("decreasing.json")))
    try assertFailure(
      ["run", "--weights", weights, "--input", good, "--output", path("y.npy"), "--sparsity", path("decreasing.json")],
      status: 1, contains: "stage 0, block 1 is 0.2")
    try assertFailure(
      ["run", "--weights", weights, "--input", good, "--output", path("y.npy"), "--sparsity", "1.5"], status: 1,
      contains: "must be < 1")
    try Data("not json".utf8).write(to: URL(fileURLWithPath: path("bad.json")))
    try assertFailure(
      ["run", "--weights", weights, "--input", good, "--output", path("y.npy"), "--sparsity", path("bad.json")],
      status: 1, contains: "not valid JSON")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("y.npy")), "a failed run left an output file")
  }
}
