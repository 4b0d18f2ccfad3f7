// The latency model: the least-squares fit recovers known coefficients from synthetic timings (exact,
// noisy, with an outlier, batched, with an inseparable regressor), its errors, the cache file and its
// key, and the interleaved timing protocol. Nothing here passes or fails on a measured time.
import Engine
import Foundation
import XCTest

@testable import Models

final class LatencyModelTests: XCTestCase {
  let depths = [2, 2, 6, 2]
  // Swin-T at 672×672: 168², 84², 42², 21² tokens in 7×7 windows.
  let windows = [576, 144, 36, 9]

  func key(batch: Int = 1, threads: Int = 2) throws -> LatencyModelKey {
    try LatencyModelKey(
      cpu: "Test CPU (2 processors)", threads: threads, height: 672, width: 672, batch: batch,
      architecture: "Swin-T",
      engine: "0.1.0 release")
  }

  /// Seconds of a made-up machine: fixed + Σ per-window cost · kept windows.
  struct Truth {
    var fixed = 0.045
    var perWindow = [0.000_17, 0.000_41, 0.001_3, 0.006_5]

    func seconds(_ ratios: [[Double]], windows: [Int], batch: Int = 1) -> Double {
      var total = fixed
      for (stage, values) in ratios.enumerated() {
        let kept = values.reduce(0) { $0 + Int(Double(windows[stage]) * (1 - $1)) }
        total += perWindow[stage] * Double(batch * kept)
      }
      return total
    }
  }

  func assertClose(
    _ actual: Double, _ expected: Double, relative: Double, _ label: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertLessThanOrEqual(
      abs(actual - expected), relative * abs(expected), "\(label): \(actual) vs \(expected)",
      file: file, line: line)
  }

  func testDesignCoversEveryStageAndIsValid() {
    let design = LatencyModel.design(depths: depths)
    XCTAssertEqual(design.count, 29)
    XCTAssertTrue(design[0].isDense)
    XCTAssertTrue(design.contains(try! PruningRatios.uniform(0.8, depths: depths)))
    for stage in depths.indices {
      // Each stage alone at four ratios.
      let alone = design.filter { ratios in
        ratios.ratios.enumerated().allSatisfy {
          $0.offset == stage || $0.element.allSatisfy { $0 == 0 }
        } && !ratios.isDense
      }
      XCTAssertGreaterThanOrEqual(alone.count, 4, "stage \(stage)")
    }
    for ratios in design { XCTAssertNoThrow(try PruningRatios(ratios.ratios, depths: depths)) }
    XCTAssertEqual(LatencyModel.design(depths: depths), design, "the design is seeded")
  }

  func testFitRecoversKnownCoefficientsExactly() throws {
    let truth = Truth()
    let samples = LatencyModel.design(depths: depths).map {
      LatencySample(ratios: $0.ratios, seconds: truth.seconds($0.ratios, windows: windows))
    }
    let model = try LatencyModel.fit(samples: samples, key: key(), depths: depths, windows: windows)
    assertClose(model.fixedSeconds, truth.fixed, relative: 1e-9, "fixed")
    for stage in depths.indices {
      assertClose(
        model.secondsPerWindow[stage], truth.perWindow[stage], relative: 1e-9,
        "per window, stage \(stage)")
    }
    XCTAssertEqual(model.outliers, [])
    // Any configuration, on the grid or not, is predicted exactly.
    var random = SearchRandom(seed: 7)
    for _ in 0..<50 {
      let ratios = depths.map { depth in
        (0..<depth).map { _ in Double(random.integer(below: 95)) / 100 }.sorted()
      }
      let predicted = model.predictedSeconds(try PruningRatios(ratios, depths: depths))
      assertClose(predicted, truth.seconds(ratios, windows: windows), relative: 1e-9, "\(ratios)")
    }
    assertClose(
      model.denseSeconds,
      truth.seconds(PruningRatios.dense(depths: depths).ratios, windows: windows), relative: 1e-12,
      "dense")
  }

  func testFitIgnoresAnOutlierAndAveragesNoise() throws {
    let truth = Truth()
    var random = SearchRandom(seed: 11)
    var samples = LatencyModel.design(depths: depths).map { ratios -> LatencySample in
      // ±0.5% deterministic noise.
      let noise = 1 + (random.unit() - 0.5) * 0.01
      return LatencySample(
        ratios: ratios.ratios, seconds: truth.seconds(ratios.ratios, windows: windows) * noise)
    }
    // Another process slowed one configuration down by half.
    let disturbed = 9
    samples[disturbed] = LatencySample(
      ratios: samples[disturbed].ratios, seconds: samples[disturbed].seconds * 1.5)
    let model = try LatencyModel.fit(samples: samples, key: key(), depths: depths, windows: windows)
    XCTAssertEqual(model.outliers, [disturbed])
    for stage in depths.indices {
      assertClose(
        model.secondsPerWindow[stage], truth.perWindow[stage], relative: 0.05,
        "per window, stage \(stage)")
    }
    for ratios in LatencyModel.design(depths: depths) {
      assertClose(
        model.predictedSeconds(ratios), truth.seconds(ratios.ratios, windows: windows),
        relative: 0.01, "\(ratios)")
    }
    XCTAssertEqual(model.residuals.count, samples.count - 1)
    XCTAssertLessThan(model.residuals.map(abs).max()!, 0.01)
  }

  func testRecalibrationFollowsTheMachinesSpeed() throws {
    let truth = Truth()
    let samples = LatencyModel.design(depths: depths).map {
      LatencySample(ratios: $0.ratios, seconds: truth.seconds($0.ratios, windows: windows))
    }
    let model = try LatencyModel.fit(samples: samples, key: key(), depths: depths, windows: windows)
    XCTAssertEqual(model.scale, 1)
    XCTAssertEqual(model.offset, 0)
    let dense = PruningRatios.dense(depths: depths)
    let fastest = try PruningRatios.uniform(0.8, depths: depths)
    let middle = try PruningRatios.uniform(0.4, depths: depths)
    // Now the machine is 10% slower and every forward costs 20 ms more.
    func now(_ ratios: PruningRatios) -> Double { 0.020 + 1.1 * model.predictedSeconds(ratios) }
    let recalibrated = model.recalibrated([(dense, now(dense)), (fastest, now(fastest))])
    XCTAssertEqual(recalibrated.scale, 1.1, accuracy: 1e-9)
    XCTAssertEqual(recalibrated.offset, 0.020, accuracy: 1e-9)
    XCTAssertEqual(recalibrated.predictedSeconds(middle), now(middle), accuracy: 1e-9)
    // One configuration: a factor only.
    let single = model.recalibrated([(dense, 2 * model.predictedSeconds(dense))])
    XCTAssertEqual(single.scale, 2, accuracy: 1e-12)
    XCTAssertEqual(single.offset, 0)
    XCTAssertEqual(model.recalibrated([]), model)
    // Residuals describe the fit, not the recalibration, which is not stored.
    XCTAssertEqual(recalibrated.residuals, model.residuals)
    let decoded = try JSONDecoder().decode(LatencyModel.self, from: recalibrated.jsonData())
    XCTAssertEqual(decoded, model)
  }

  func testFitScalesKeptWindowsByTheBatch() throws {
    let truth = Truth()
    let samples = LatencyModel.design(depths: depths).map {
      LatencySample(
        ratios: $0.ratios, seconds: truth.seconds($0.ratios, windows: windows, batch: 3))
    }
    let model = try LatencyModel.fit(
      samples: samples, key: key(batch: 3), depths: depths, windows: windows)
    for stage in depths.indices {
      assertClose(
        model.secondsPerWindow[stage], truth.perWindow[stage], relative: 1e-9, "stage \(stage)")
    }
  }

  func testInseparableRegressorIsSetToZero() throws {
    // Samples that never prune the last stage: its kept windows are the same everywhere, so the
    // fit cannot tell its cost from the fixed part. It gets 0 and the fixed part takes it over.
    let truth = Truth()
    let design = LatencyModel.design(depths: depths).filter { $0.ratios[3].allSatisfy { $0 == 0 } }
    XCTAssertGreaterThanOrEqual(design.count, 8)
    let samples = design.map {
      LatencySample(ratios: $0.ratios, seconds: truth.seconds($0.ratios, windows: windows))
    }
    let model = try LatencyModel.fit(samples: samples, key: key(), depths: depths, windows: windows)
    XCTAssertEqual(model.secondsPerWindow[3], 0)
    assertClose(model.fixedSeconds, truth.fixed + truth.perWindow[3] * 18, relative: 1e-9, "fixed")
    for ratios in design {
      assertClose(
        model.predictedSeconds(ratios), truth.seconds(ratios.ratios, windows: windows),
        relative: 1e-9, "\(ratios)")
    }
  }

  func testPolishingTakesOutTheSpeedOfEachRound() {
    // Four configurations over five rounds; the machine is 10% slower in round 1 and 15% faster in
    // round 3, and one run of configuration 2 was disturbed.
    let times = [0.2, 0.35, 0.5, 0.8]
    let factors = [1.0, 1.1, 1.0, 0.85, 1.0]
    var runs = times.map { time in factors.map { time * $0 } }
    runs[2][4] *= 1.6
    let polished = polishRounds(runs)
    for (index, time) in times.enumerated() {
      XCTAssertEqual(polished.seconds[index], time, accuracy: 1e-9 * time, "configuration \(index)")
    }
    for (index, factor) in factors.enumerated() {
      XCTAssertEqual(polished.roundFactors[index], factor, accuracy: 1e-9, "round \(index)")
    }
    // Too little to compare: plain medians.
    XCTAssertEqual(polishRounds([[1, 3, 2], [4, 5, 6]]).seconds, [2, 5])
    XCTAssertEqual(polishRounds([[1], [2], [3]]).roundFactors, [1])
    XCTAssertEqual(polishRounds([]).seconds, [])
  }

  func testFitErrorsNameTheProblem() throws {
    let truth = Truth()
    let design = LatencyModel.design(depths: depths)
    let samples = design.map {
      LatencySample(ratios: $0.ratios, seconds: truth.seconds($0.ratios, windows: windows))
    }
    XCTAssertThrowsError(
      try LatencyModel.fit(
        samples: Array(samples.prefix(4)), key: key(), depths: depths, windows: windows)
    ) {
      XCTAssertEqual($0 as? LatencyModelError, .tooFewSamples(samples: 4, parameters: 5))
    }
    // The same configuration timed ten times is one distinct sample.
    XCTAssertThrowsError(
      try LatencyModel.fit(
        samples: Array(repeating: samples[0], count: 10), key: key(), depths: depths,
        windows: windows)
    ) {
      XCTAssertEqual($0 as? LatencyModelError, .tooFewSamples(samples: 1, parameters: 5))
    }
    var bad = samples
    bad[3] = LatencySample(ratios: bad[3].ratios, seconds: 0)
    XCTAssertThrowsError(
      try LatencyModel.fit(samples: bad, key: key(), depths: depths, windows: windows)
    ) {
      XCTAssertEqual($0 as? LatencyModelError, .badSample(index: 3, seconds: 0))
    }
    bad = samples
    bad[4] = LatencySample(ratios: [[0, 0], [0, 0]], seconds: 1)
    XCTAssertThrowsError(
      try LatencyModel.fit(samples: bad, key: key(), depths: depths, windows: windows)
    ) { error in
      guard case .sampleShape(let index, let reason)? = error as? LatencyModelError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(index, 4)
      XCTAssertTrue(reason.contains("[2, 2]"), reason)
    }
    XCTAssertThrowsError(
      try LatencyModel.fit(samples: samples, key: key(), depths: depths, windows: [1, 2])
    ) {
      XCTAssertTrue(
        ($0 as? LatencyModelError)?.description.contains("one of each per stage") ?? false, "\($0)")
    }
  }

  func testKeyNamesItsFileStably() throws {
    let base = try key()
    // FNV-1a of the description: fixed for a given key on every run and platform.
    XCTAssertEqual(base.fileName, try key().fileName)
    XCTAssertTrue(
      base.fileName.hasPrefix("latency-") && base.fileName.hasSuffix(".json"), base.fileName)
    XCTAssertEqual(base.fileName.count, "latency-".count + 16 + ".json".count)
    XCTAssertNotEqual(base.fileName, try key(threads: 1).fileName)
    XCTAssertNotEqual(base.fileName, try key(batch: 2).fileName)
    let sparsevit = try LatencyModelKey(
      cpu: base.cpu, threads: base.threads, height: base.height, width: base.width, batch: base.batch,
      architecture: base.architecture, engine: base.engine, windowSemantics: .sparsevit)
    XCTAssertNotEqual(base.fileName, sparsevit.fileName)
    XCTAssertEqual(
      base.description,
      "cpu=Test CPU (2 processors) threads=2 size=672x672 batch=1 model=Swin-T engine=0.1.0 release windows=timm"
    )
    XCTAssertThrowsError(
      try LatencyModelKey(
        cpu: "x", threads: 0, height: 1, width: 1, batch: 1, architecture: "a", engine: "e")
    ) {
      XCTAssertEqual(
        $0 as? LatencyModelError, .invalidParameter(what: "threads", value: "0", expected: "≥ 1"))
    }
    XCTAssertThrowsError(
      try LatencyModelKey(
        cpu: "x", threads: 1, height: 0, width: 5, batch: 1, architecture: "a", engine: "e"))
    XCTAssertThrowsError(
      try LatencyModelKey(
        cpu: "x", threads: 1, height: 5, width: 5, batch: 0, architecture: "a", engine: "e"))
  }

  /// The build fingerprint hashes the program's bytes: the same bytes give the same digits (the
  /// FNV-1a test vector of "a" included), one changed byte gives others, a missing file none.
  func testBuildFingerprintFollowsTheBytes() throws {
    XCTAssertEqual(hexDigits(fnv1a("a".utf8)), "af63dc4c8601ec8c")
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let first = directory.appendingPathComponent("one").path, second = directory.appendingPathComponent("two").path
    try writeFileAtomically([1, 2, 3, 4], to: first)
    try writeFileAtomically([1, 2, 3, 5], to: second)
    let fingerprint = try XCTUnwrap(LatencyModelKey.buildFingerprint(path: first))
    XCTAssertEqual(fingerprint, hexDigits(fnv1a([1, 2, 3, 4] as [UInt8])))
    XCTAssertEqual(fingerprint.count, 16)
    XCTAssertEqual(LatencyModelKey.buildFingerprint(path: first), fingerprint)
    XCTAssertNotEqual(LatencyModelKey.buildFingerprint(path: second), fingerprint)
    XCTAssertNil(LatencyModelKey.buildFingerprint(path: directory.appendingPathComponent("missing").path))
    XCTAssertNotNil(LatencyModelKey.buildFingerprint(), "the running test binary")
  }

  func testCacheFileRoundTripAndErrors() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "latency-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let truth = Truth()
    let samples = LatencyModel.design(depths: depths).map { ratios in
      LatencySample(
        ratios: ratios.ratios,
        runs: [1.1, 1.0, 1.2].map { $0 * truth.seconds(ratios.ratios, windows: windows) })
    }
    let model = try LatencyModel.fit(
      samples: samples, key: key(), depths: depths, windows: windows,
      measured: "2026-01-01T00:00:00Z")
    let path = directory.appendingPathComponent(model.key.fileName).path
    try model.save(to: path)
    XCTAssertEqual(try LatencyModel.load(path: path), model)

    XCTAssertThrowsError(
      try LatencyModel.load(path: directory.appendingPathComponent("absent.json").path)
    ) {
      guard case .file(.notFound)? = $0 as? LatencyModelError else { return XCTFail("\($0)") }
    }
    let garbage = directory.appendingPathComponent("garbage.json").path
    try Data("{\"formatVersion\": 2}".utf8).write(to: URL(fileURLWithPath: garbage))
    XCTAssertThrowsError(try LatencyModel.load(path: garbage)) {
      XCTAssertEqual($0 as? LatencyModelError, .unreadable(path: garbage, reason: "missing key 'key' in the top level"))
    }
    let text = directory.appendingPathComponent("text.json").path
    try Data("latency".utf8).write(to: URL(fileURLWithPath: text))
    XCTAssertThrowsError(try LatencyModel.load(path: text)) {
      XCTAssertEqual($0 as? LatencyModelError, .unreadable(path: text, reason: "not JSON"))
    }
    var object = try JSONSerialization.jsonObject(with: model.jsonData()) as! [String: Any]
    object["formatVersion"] = 99
    let future = directory.appendingPathComponent("future.json").path
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: future))
    XCTAssertThrowsError(try LatencyModel.load(path: future)) {
      XCTAssertEqual(
        $0 as? LatencyModelError, .unreadable(path: future, reason: "format version 99, expected 2")
      )
    }
  }

  func testSampleUsesTheMedianOfItsRuns() {
    // As `sparsevit bench` reports latency; two slowed-down runs of five do not move it far.
    let sample = LatencySample(ratios: [[0]], runs: [0.50, 0.90, 0.51, 1.40, 0.52])
    XCTAssertEqual(sample.seconds, 0.52, accuracy: 1e-12)
  }

  func testMeasureRunsTheProtocolOnATinyModel() throws {
    let configuration = SwinConfiguration(embedDim: 8, depths: [2, 2], heads: [1, 2], classes: 5)
    let model = SwinTransformer.seeded(configuration, seed: 3)
    let key = try LatencyModelKey(
      cpu: "test", threads: 1, height: 56, width: 56, batch: 1,
      architecture: configuration.description, engine: "test")
    let input = SyntheticImages.batch(count: 1, height: 56, width: 56, seed: 1)
    var calls = 0
    var timed = 0
    let forwards = LatencyModel.design(depths: [2, 2]).count * 3
    let timedForwards = LatencyModel.design(depths: [2, 2]).count * 2
    // The injected timer is used for every forward; its values (not the clock's) are what is fit.
    let model1 = try LatencyModel.measure(
      model: model, input: input, key: key, rounds: 2,
      time: { body in
        try body()
        timed += 1
        return 0.001 * Double(timed)
      },
      progress: { done, total in
        calls = done
        XCTAssertEqual(total, forwards)
      })
    XCTAssertEqual(calls, forwards)
    // The warm-up round is not timed.
    XCTAssertEqual(timed, timedForwards)
    XCTAssertEqual(model1.windows, [4, 1])
    XCTAssertEqual(model1.samples.count, LatencyModel.design(depths: [2, 2]).count)
    XCTAssertTrue(model1.samples.allSatisfy { $0.runs.count == 2 && $0.seconds > 0 })
    // The default timer measures wall time.
    XCTAssertTrue(
      try LatencyModel.measure(model: model, input: input, key: key, rounds: 1).samples.allSatisfy {
        $0.seconds > 0
      })
    XCTAssertEqual(model1.key, key)
    XCTAssertThrowsError(try LatencyModel.measure(model: model, input: input, key: key, rounds: 0))
    let wrongInput = SyntheticImages.batch(count: 2, height: 56, width: 56, seed: 1)
    XCTAssertThrowsError(
      try LatencyModel.measure(model: model, input: wrongInput, key: key, rounds: 1)
    ) {
      XCTAssertTrue("\($0)".contains("timing input shape"), "\($0)")
    }
  }
}
