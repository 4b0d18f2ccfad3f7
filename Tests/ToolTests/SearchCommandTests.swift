// `sparsevit search` as a user runs it: usage errors (64) and failures (1) with one `Error:` line,
// never a crash; bad calibration files; and a small end-to-end search on the tiny checkpoint whose
// latency model is measured, then replaced by known coefficients so the budget is the same on every
// machine (no outcome depends on a measured time).
import Engine
import Foundation
import Models
import TestSupport
import XCTest

final class SearchCommandTests: CommandTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
  var weights: String { fixtures.appendingPathComponent("tiny/tiny.timm.f32.safetensors").path }

  private func assertFailure(
    _ arguments: [String], status: Int32, contains fragment: String, file: StaticString = #filePath,
    line: UInt = #line
  ) throws {
    let result = try sparsevit(["search"] + arguments)
    XCTAssertFalse(result.crashed, "crashed: \(arguments)", file: file, line: line)
    XCTAssertEqual(result.status, status, "\(arguments): \(result.stderr)", file: file, line: line)
    let errorLine =
      result.stderr.split(separator: "\n").first { $0.hasPrefix("Error: ") }.map(String.init) ?? ""
    XCTAssertTrue(
      errorLine.contains(fragment),
      "'\(errorLine)' does not mention '\(fragment)'\n\(result.stderr)", file: file, line: line)
    if status == 64 {
      XCTAssertTrue(
        result.stderr.contains("Usage: sparsevit search"), "no usage after a usage error",
        file: file, line: line)
    }
  }

  func testHelp() throws {
    let help = try sparsevit(["search", "--help"])
    XCTAssertEqual(help.status, 0)
    for option in [
      "--latency-ms <T>", "--min-latency-ms <L>", "--calibration <x.npy>", "--images <dir>",
      "--validate <n>", "--plot <file.svg>",
    ] {
      XCTAssertTrue(help.stdout.contains(option), option)
    }
    XCTAssertTrue(try sparsevit([]).stdout.contains("search"))
  }

  func testUsageErrors() throws {
    let out = path("cfg.json")
    try assertFailure([], status: 64, contains: "missing '--latency-ms <T>'")
    try assertFailure(
      ["--latency-ms", "100"], status: 64, contains: "missing '--output <cfg.json>'")
    try assertFailure(
      ["--latency-ms", "0", "--output", out], status: 64, contains: "'--latency-ms' must be between"
    )
    try assertFailure(
      ["--latency-ms", "fast", "--output", out], status: 64,
      contains: "'--latency-ms' expects a number")
    try assertFailure(
      ["--latency-ms", "100", "--min-latency-ms", "100", "--output", out], status: 64,
      contains: "must be below")
    try assertFailure(
      ["--validate", "2", "--min-latency-ms", "10"], status: 64,
      contains: "'--min-latency-ms' needs '--latency-ms'")
    try assertFailure(["--validate", "0"], status: 64, contains: "'--validate' must be in 1")
    try assertFailure(
      [
        "--latency-ms", "100", "--output", out, "--calibration", path("x.npy"), "--images",
        directory.path,
      ], status: 64,
      contains: "either '--calibration <x.npy>' or '--images <dir>'")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--calibration", path("absent.npy")], status: 64,
      contains: "no such file")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--images", path("absent")], status: 64,
      contains: "no such directory")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--images", weights], status: 64,
      contains: "is a file")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--score", "accuracy"], status: 64,
      contains: "'--score' must be cosine, top1 or mean")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--population", "20", "--parents", "30"], status: 64,
      contains: "must not exceed")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--mutation", "1.5"], status: 64,
      contains: "'--mutation' must be between 0.0 and 1.0")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--size", "224,448"], status: 64,
      contains: "'--size' takes one size")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--size", "big"], status: 64,
      contains: "is not a size")
    try assertFailure(
      ["--latency-ms", "100", "--output", directory.path], status: 64, contains: "names a directory"
    )
    try assertFailure(
      ["--latency-ms", "100", "--output", path("no/such/dir/cfg.json")], status: 64,
      contains: "does not exist")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--plot", out], status: 64,
      contains: "different files")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--weights", weights, "--model-seed", "1"],
      status: 64, contains: "'--model-seed' applies")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--threads", "0"], status: 64,
      contains: "'--threads' must be in 1")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--bogus"], status: 64,
      contains: "unknown option '--bogus'")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--quiet-wait", "-1"], status: 64,
      contains: "'--quiet-wait' must be between 0.0 and 86400.0")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--rounds", "0"], status: 64, contains: "'--rounds' must be in 1")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--size", "448x224", "--images", directory.path],
      status: 64, contains: "square")
    try assertFailure(
      ["--latency-ms", "100", "--output", out, "--weights", weights, "--size", "16"], status: 64,
      contains: "below the model's minimum")
    XCTAssertFalse(FileManager.default.fileExists(atPath: out))
  }

  /// An `.npy` file of float64 values, which the engine does not read.
  private func writeFloat64NumPy(shape: [Int], to path: String) throws {
    var header =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", ")),), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] =
      [0x93] + Array("NUMPY".utf8) + [
        1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8),
      ]
    bytes += Array(header.utf8)
    bytes += [UInt8](repeating: 0, count: 8 * shape.reduce(1, *))
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  func testBadCalibrationFilesFailWithOneLine() throws {
    let common = [
      "--latency-ms", "100", "--output", path("cfg.json"), "--weights", weights, "--latency-model",
      path("cache.json"),
    ]
    try writeFloat64NumPy(shape: [1, 3, 64, 64], to: path("f64.npy"))
    try assertFailure(
      common + ["--calibration", path("f64.npy")], status: 1, contains: "dtype '<f8'")
    try writeNumPy(Tensor(shape: [3, 64, 64]), to: path("rank3.npy"))
    try assertFailure(
      common + ["--calibration", path("rank3.npy")], status: 1,
      contains: "expected (n, 3, height, width)")
    try writeNumPy(Tensor(shape: [2, 4, 64, 64]), to: path("rgba.npy"))
    try assertFailure(
      common + ["--calibration", path("rgba.npy")], status: 1,
      contains: "4 channels, the model expects 3")
    try writeNumPy(Tensor(shape: [1, 3, 64, 64]), to: path("small.npy"))
    try assertFailure(
      common + ["--calibration", path("small.npy"), "--size", "96"], status: 1,
      contains: "are 64x64, the search is at 96x96")
    try writeNumPy(Tensor(shape: [1, 3, 16, 16]), to: path("tiny.npy"))
    try assertFailure(
      common + ["--calibration", path("tiny.npy")], status: 64,
      contains: "below the model's minimum")
    try Data("not numpy".utf8).write(to: URL(fileURLWithPath: path("text.npy")))
    try assertFailure(
      common + ["--calibration", path("text.npy")], status: 1, contains: "text.npy")
    var values = [Float](repeating: 0, count: 3 * 64 * 64)
    values[5] = .nan
    try writeNumPy(Tensor(shape: [1, 3, 64, 64], values: values), to: path("nan.npy"))
    try assertFailure(
      common + ["--calibration", path("nan.npy")], status: 1, contains: "non-finite")

    let empty = directory.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    try Data("x".utf8).write(to: empty.appendingPathComponent("notes.txt"))
    try assertFailure(
      common + ["--images", empty.path, "--size", "64"], status: 1,
      contains: "has no .png, .jpg or .jpeg files")
    let broken = directory.appendingPathComponent("broken")
    try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      at: fixtures.appendingPathComponent("images/bad.jpg"),
      to: broken.appendingPathComponent("a.jpg"))
    try assertFailure(
      common + ["--images", broken.path, "--size", "64"], status: 1, contains: "a.jpg")
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: path("cache.json")),
      "nothing is measured before the inputs are checked")
  }

  /// Replaces the coefficients of a cached latency model (keeping its key) so that predictions do
  /// not depend on this machine's timings: 1 ms fixed, 0.2 ms per window.
  private func installKnownCoefficients(_ cache: String) throws -> LatencyModel {
    var object =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cache)))
      as! [String: Any]
    object["fixedSeconds"] = 0.001
    object["secondsPerWindow"] = [0.000_2, 0.000_2, 0.000_2, 0.000_2]
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: cache))
    return try LatencyModel.load(path: cache)
  }

  func testEndToEndSearchOnTheTinyCheckpoint() throws {
    let cache = path("latency.json")
    // 1. Measure (and validate) the latency model of this machine for the tiny model at 64×64.
    let measured = try sparsevit([
      "search", "--weights", weights, "--size", "64", "--validate", "2", "--rounds", "1", "--quiet-wait", "0",
      "--cache-busy",
      "--threads", "1", "--latency-model", cache,
    ])
    XCTAssertEqual(measured.status, 0, measured.stderr)
    XCTAssertTrue(measured.stderr.contains("Measuring the latency model"), measured.stderr)
    XCTAssertTrue(
      measured.stdout.contains("Latency model validation: 2 random configurations"), measured.stdout
    )
    XCTAssertTrue(measured.stdout.contains("prediction error vs measured"), measured.stdout)
    XCTAssertTrue(
      measured.stdout.contains("prediction error of the fraction of dense (drift-free)"), measured.stdout)
    let model = try installKnownCoefficients(cache)
    XCTAssertEqual(model.windows, [9, 4, 1, 1])
    let depths = [2, 2, 2, 2]
    let dense = model.denseSeconds
    let fastest = model.predictedSeconds(try PruningRatios.uniform(0.8, depths: depths))
    let budget = (fastest + 0.6 * (dense - fastest)) * 1000

    // 2. Search under a budget between the fastest configuration and dense.
    let arguments = [
      "search", "--weights", weights, "--size", "64", "--latency-ms", String(budget), "--threads",
      "1", "--latency-model", cache,
      "--population", "12", "--parents", "4", "--iterations", "2", "--rounds", "1", "--quiet-wait", "0", "--cache-busy",
      "--recalibrate", "0", "--seed", "3",
      "--calibration-count", "2",
    ]
    let first = try sparsevit(
      arguments + ["--output", path("first.json"), "--plot", path("first.svg")])
    XCTAssertEqual(first.status, 0, first.stderr)
    XCTAssertTrue(first.stderr.contains("Using the latency model in \(cache)"), first.stderr)
    XCTAssertTrue(first.stderr.contains("generation 2/2"), first.stderr)
    for section in [
      "Uniform ratios:", "Pareto front", "Generations:", "search result",
      "best uniform ratio within the budget",
    ] {
      XCTAssertTrue(first.stdout.contains(section), "stdout lacks '\(section)':\n\(first.stdout)")
    }
    let ratios = try PruningRatios.load(path: path("first.json"), depths: depths)
    XCTAssertNotNil(
      try SearchSpace(depths: depths).genome(ratios), "\(ratios) is not a point of the search space"
    )
    let document =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: path("first.json")))) as! [String: Any]
    let predicted = try XCTUnwrap(document["predicted_latency_ms"] as? Double)
    XCTAssertLessThanOrEqual(predicted, budget + 0.01)
    XCTAssertEqual(predicted, model.predictedSeconds(ratios) * 1000, accuracy: 0.01)
    XCTAssertNotNil(document["measured_latency_ms"] as? Double)
    XCTAssertEqual(document["resolution"] as? [Int], [64, 64])
    XCTAssertEqual(document["threads"] as? Int, 1)
    let score = try XCTUnwrap(document["score"] as? [String: Any])
    let value = try XCTUnwrap(score["value"] as? Double)
    XCTAssertTrue(value > 0 && value <= 1 + 1e-9, "\(value)")
    let baseline = try XCTUnwrap(document["uniform_baseline"] as? [String: Any])
    let baselineScore = try XCTUnwrap((baseline["score"] as? [String: Any])?["value"] as? Double)
    XCTAssertGreaterThanOrEqual(value, baselineScore)
    XCTAssertFalse((document["pareto_front"] as? [Any] ?? []).isEmpty)
    let svg = try String(contentsOfFile: path("first.svg"), encoding: .utf8)
    XCTAssertTrue(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
    XCTAssertTrue(svg.contains("Pareto front"))

    // 3. The same seed and latency model give the same result.
    let second = try sparsevit(arguments + ["--output", path("second.json")])
    XCTAssertEqual(second.status, 0, second.stderr)
    let again =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: path("second.json")))) as! [String: Any]
    XCTAssertEqual(try PruningRatios.load(path: path("second.json"), depths: depths), ratios)
    XCTAssertEqual(again["predicted_latency_ms"] as? Double, predicted)
    XCTAssertEqual((again["score"] as? [String: Any])?["value"] as? Double, value)

    // 4. The result is a sparsity file `bench` reads.
    let bench = try sparsevit([
      "bench", "--weights", weights, "--sizes", "64", "--sparsity", path("first.json"),
      "--iterations", "1", "--threads", "1",
    ])
    XCTAssertEqual(bench.status, 0, bench.stderr)
    XCTAssertTrue(bench.stdout.contains("first"), bench.stdout)

    // 5. A cached model can be mapped onto the machine's speed now.
    let scaled = try sparsevit([
      "search", "--weights", weights, "--size", "64", "--validate", "1", "--rounds", "1", "--threads", "1",
      "--latency-model", cache, "--quiet-wait", "0", "--cache-busy", "--recalibrate", "1",
    ])
    XCTAssertEqual(scaled.status, 0, scaled.stderr)
    XCTAssertTrue(scaled.stderr.contains("Recalibration (1 rounds): dense"), scaled.stderr)
    XCTAssertTrue(scaled.stdout.contains("recalibrated to the machine's speed now"), scaled.stdout)

    // 6. Budgets no configuration can meet.
    try assertFailure(
      Array(arguments.dropFirst()).map { $0 == String(budget) ? String(fastest * 500) : $0 } + [
        "--output", path("x.json"),
      ], status: 1,
      contains: "impossible latency budget")
    try assertFailure(
      Array(arguments.dropFirst()).map { $0 == String(budget) ? String(dense * 3000) : $0 }
        + ["--min-latency-ms", String(dense * 2000), "--output", path("x.json")],
      status: 1, contains: "above the dense model's predicted")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.json")))
  }

  func testUnusableCacheIsMeasuredAgain() throws {
    let cache = path("garbage.json")
    try Data("{not json".utf8).write(to: URL(fileURLWithPath: cache))
    let result = try sparsevit([
      "search", "--weights", weights, "--size", "64", "--validate", "1", "--rounds", "1", "--quiet-wait", "0",
      "--cache-busy",
      "--threads", "1", "--latency-model", cache,
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stderr.contains("Note: ignoring"), result.stderr)
    XCTAssertNoThrow(try LatencyModel.load(path: cache))
  }
}
