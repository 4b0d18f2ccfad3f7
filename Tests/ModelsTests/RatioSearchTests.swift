// The ratio search: the space (pairs equal, non-decreasing, on the grid), rejection sampling inside
// the latency window of a synthetic latency model, mutation and crossover keep validity, the same
// seed gives the same search, the Pareto front, the pluggable score, the fidelity and accuracy
// scorers on a tiny model, and the synthetic calibration pictures. Deterministic throughout.
import Engine
import Foundation
import TestSupport
import XCTest

@testable import Models

final class RatioSearchTests: XCTestCase {
  let depths = [2, 2, 6, 2]
  var space: SearchSpace { try! SearchSpace(depths: depths) }

  /// A made-up latency: 1 s dense, each stage's share saved in proportion to its blocks' ratios.
  func syntheticLatency(_ ratios: PruningRatios) -> Double {
    let shares = [0.25, 0.2, 0.35, 0.1]
    var seconds = 0.1
    for (stage, values) in ratios.ratios.enumerated() {
      seconds += shares[stage] * values.reduce(0) { $0 + (1 - $1) } / Double(values.count)
    }
    return seconds
  }

  /// A made-up score: pruning early stages hurts least, late stages most.
  func syntheticScore(_ ratios: PruningRatios) -> ConfigurationScore {
    let weights = [0.05, 0.1, 0.2, 0.4]
    var loss = 0.0
    for (stage, values) in ratios.ratios.enumerated() {
      loss += weights[stage] * values.reduce(0) { $0 + $1 * $1 } / Double(values.count)
    }
    return ConfigurationScore(value: 1 - loss, details: ["loss": loss])
  }

  /// Pairs equal, non-decreasing within each stage, every value on the grid, accepted by `PruningRatios`.
  func assertInSpace(
    _ ratios: PruningRatios, _ space: SearchSpace, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertNoThrow(try PruningRatios(ratios.ratios, depths: space.depths), file: file, line: line)
    for stage in ratios.ratios {
      for block in stride(from: 0, to: stage.count - 1, by: 2) {
        XCTAssertEqual(
          stage[block], stage[block + 1], "pair \(block / 2) of \(stage)", file: file, line: line)
      }
      for value in stage {
        XCTAssertTrue(
          space.choices.contains(value), "\(value) not on the grid", file: file, line: line)
      }
      XCTAssertEqual(stage, stage.sorted(), "decreasing: \(stage)", file: file, line: line)
    }
  }

  // MARK: - Space

  func testSpaceIsThePapers() throws {
    XCTAssertEqual(space.choices, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    XCTAssertEqual(space.pairCounts, [1, 1, 3, 1])
    // 9 · 9 · C(11, 3) · 9: a stage of three pairs has 165 non-decreasing sequences.
    XCTAssertEqual(space.count, 9 * 9 * 165 * 9)
    XCTAssertEqual(try SearchSpace(depths: [3, 1]).pairCounts, [2, 1])
    // The published configurations are points of the space.
    for name in PruningRatios.presetNames {
      let ratios = try PruningRatios.preset(name, depths: depths)
      let genome = try XCTUnwrap(space.genome(ratios), name)
      XCTAssertEqual(space.ratios(genome), ratios)
    }
  }

  func testRandomGenomesAreValidAndRoundTrip() {
    var random = SearchRandom(seed: 1)
    var seen = Set<Genome>()
    for _ in 0..<2000 {
      let genome = space.randomGenome(using: &random)
      XCTAssertTrue(space.isValid(genome), "\(genome)")
      let ratios = space.ratios(genome)
      assertInSpace(ratios, space)
      XCTAssertEqual(space.genome(ratios), genome)
      seen.insert(genome)
    }
    XCTAssertGreaterThan(seen.count, 1500, "random genomes should rarely repeat")
    // Odd depths: the last pair has one block.
    let odd = try! SearchSpace(depths: [3, 1])
    for _ in 0..<200 { assertInSpace(odd.ratios(odd.randomGenome(using: &random)), odd) }
  }

  func testInvalidPointsAreRejected() throws {
    XCTAssertFalse(space.isValid(Genome([[1], [0], [3, 2, 4], [0]])), "decreasing")
    XCTAssertFalse(space.isValid(Genome([[9], [0], [0, 0, 0], [0]])), "off the grid")
    XCTAssertFalse(space.isValid(Genome([[-1], [0], [0, 0, 0], [0]])), "negative")
    XCTAssertFalse(space.isValid(Genome([[0], [0], [0, 0], [0]])), "too few pairs")
    XCTAssertFalse(space.isValid(Genome([[0], [0], [0, 0, 0]])), "too few stages")
    // Not points of the space: a pair split, a ratio off the grid, too large.
    XCTAssertNil(
      space.genome(
        try PruningRatios([[0.1, 0.2], [0, 0], [0, 0, 0, 0, 0, 0], [0, 0]], depths: depths)))
    XCTAssertNil(space.genome(try PruningRatios.uniform(0.25, depths: depths)))
    XCTAssertNil(space.genome(try PruningRatios.uniform(0.9, depths: depths)))
    XCTAssertNil(space.genome(try PruningRatios([[0, 0], [0, 0]], depths: [2, 2])))
    XCTAssertThrowsError(try SearchSpace(depths: depths, choices: [0.2, 0.1])) {
      XCTAssertTrue("\($0)".contains("ascending distinct ratios in [0, 1)"), "\($0)")
    }
    XCTAssertThrowsError(try SearchSpace(depths: depths, choices: [0, 1]))
    XCTAssertThrowsError(try SearchSpace(depths: [2, 0]))
    XCTAssertThrowsError(try SearchSpace(depths: []))
  }

  func testMutationAndCrossoverKeepValidity() {
    var random = SearchRandom(seed: 2)
    for _ in 0..<1000 {
      let a = space.randomGenome(using: &random)
      let b = space.randomGenome(using: &random)
      let mutated = space.mutate(a, probability: 0.3, using: &random)
      XCTAssertTrue(space.isValid(mutated), "\(mutated)")
      let child = space.crossover(a, b, using: &random)
      XCTAssertTrue(space.isValid(child), "\(child)")
      // Each stage of the child is made of the parents' values at the same positions.
      for stage in depths.indices {
        var pool = a.pairs[stage] + b.pairs[stage]
        for value in child.pairs[stage] {
          let index = try! XCTUnwrap(pool.firstIndex(of: value))
          pool.remove(at: index)
        }
      }
      XCTAssertEqual(space.mutate(a, probability: 0, using: &random), a)
      XCTAssertTrue(space.isValid(space.mutate(a, probability: 1, using: &random)))
      XCTAssertEqual(space.crossover(a, a, using: &random), a)
    }
  }

  func testRandomNumbersAreFixedBySeed() {
    var a = SearchRandom(seed: 42)
    var b = SearchRandom(seed: 42)
    let first = (0..<5).map { _ in a.next() }
    XCTAssertEqual(first, (0..<5).map { _ in b.next() })
    // SplitMix64's published first output for seed 0.
    var zero = SearchRandom(seed: 0)
    XCTAssertEqual(zero.next(), 0xE220_A839_7B1D_CDAF)
    var counts = [Int](repeating: 0, count: 9)
    for _ in 0..<9000 { counts[a.integer(below: 9)] += 1 }
    XCTAssertTrue(counts.allSatisfy { $0 > 850 && $0 < 1150 }, "\(counts)")
    for _ in 0..<1000 {
      let u = a.unit()
      XCTAssertTrue(u >= 0 && u < 1)
    }
  }

  // MARK: - Search

  func search(_ parameters: SearchParameters, scorer: (any ConfigurationScorer)? = nil) throws
    -> SearchResult
  {
    try RatioSearch(space: space, parameters: parameters).run(
      latency: syntheticLatency, scorer: scorer ?? ClosureScorer(syntheticScore))
  }

  func testRejectionSamplingRespectsTheWindow() throws {
    let parameters = SearchParameters(
      maxSeconds: 0.7, minSeconds: 0.65, population: 40, parents: 10, iterations: 4, seed: 3)
    var events = 0
    let result = try RatioSearch(space: space, parameters: parameters).run(
      latency: syntheticLatency, scorer: ClosureScorer(syntheticScore),
      progress: { _ in events += 1 })
    XCTAssertGreaterThan(events, 0)
    let uniformGenomes = Set((0..<space.choices.count).map { space.uniform($0) })
    for candidate in result.candidates {
      XCTAssertTrue(space.isValid(candidate.genome))
      assertInSpace(candidate.ratios, space)
      XCTAssertEqual(candidate.predictedSeconds, syntheticLatency(candidate.ratios))
      if !uniformGenomes.contains(candidate.genome) {
        XCTAssertTrue(
          (0.65...0.7).contains(candidate.predictedSeconds),
          "\(candidate.ratios): \(candidate.predictedSeconds)")
      }
    }
    XCTAssertTrue((0.65...0.7).contains(result.best.predictedSeconds))
    // The best is the best in the window of everything scored.
    let inWindow = result.candidates.filter { (0.65...0.7).contains($0.predictedSeconds) }
    XCTAssertEqual(result.best.score.value, inWindow.map(\.score.value).max())
    // Uniform baselines: predicted for every non-zero ratio, scored exactly when within the maximum.
    XCTAssertEqual(result.uniform.map(\.ratio), Array(space.choices.dropFirst()))
    for uniform in result.uniform {
      XCTAssertEqual(uniform.fits, uniform.predictedSeconds <= 0.7)
      XCTAssertEqual(uniform.score != nil, uniform.fits)
    }
    XCTAssertEqual(result.generations.map(\.index), Array(0...4))
    // The best so far never gets worse.
    let bests = result.generations.map(\.best.score.value)
    XCTAssertEqual(bests, bests.sorted())
  }

  func testSameSeedSameSearchOtherSeedOtherSearch() throws {
    let parameters = SearchParameters(
      maxSeconds: 0.6, minSeconds: 0.5, population: 30, parents: 8, iterations: 3, seed: 9)
    let first = try search(parameters)
    let second = try search(parameters)
    XCTAssertEqual(first.candidates, second.candidates)
    XCTAssertEqual(first.best, second.best)
    var other = parameters
    other.seed = 10
    XCTAssertNotEqual(try search(other).candidates.map(\.genome), first.candidates.map(\.genome))
  }

  func testSearchFindsTheOptimumOfASmallSpace() throws {
    // Two stages of two blocks: 81 configurations; brute force knows the answer.
    let small = try SearchSpace(depths: [2, 2])
    func latency(_ ratios: PruningRatios) -> Double {
      0.1 + 0.6 * (1 - ratios.ratios[0][0]) + 0.3 * (1 - ratios.ratios[1][0])
    }
    func score(_ ratios: PruningRatios) -> ConfigurationScore {
      ConfigurationScore(
        value: 1 - 0.1 * ratios.ratios[0][0] * ratios.ratios[0][0] - 0.5 * ratios.ratios[1][0]
          * ratios.ratios[1][0])
    }
    let parameters = SearchParameters(
      maxSeconds: 0.7, minSeconds: 0, population: 16, parents: 4, mutationProbability: 0.5,
      iterations: 10, seed: 5)
    let result = try RatioSearch(space: small, parameters: parameters).run(
      latency: latency, scorer: ClosureScorer(score))
    var best: (Double, Genome)? = nil
    for a in 0..<9 {
      for b in 0..<9 {
        let genome = Genome([[a], [b]])
        let ratios = small.ratios(genome)
        guard latency(ratios) <= 0.7 else { continue }
        if best == nil || score(ratios).value > best!.0 { best = (score(ratios).value, genome) }
      }
    }
    XCTAssertEqual(result.best.genome, best!.1)
    XCTAssertGreaterThanOrEqual(result.best.score.value, result.bestUniform!.score!.value)
  }

  func testResultIsNeverWorseThanTheBestFittingUniformRatio() throws {
    // The window includes the slowest uniform ratio within the budget, which joins generation 0.
    // Uniform 0.4 is predicted at 0.64 s, 0.3 at 0.73 s.
    let parameters = SearchParameters(
      maxSeconds: 0.66, minSeconds: 0.6, population: 20, parents: 5, iterations: 2, seed: 4)
    let result = try search(parameters)
    let uniform = try XCTUnwrap(result.bestUniform)
    XCTAssertEqual(uniform.ratio, 0.4)
    XCTAssertGreaterThanOrEqual(result.best.score.value, uniform.score!.value)
  }

  func testImpossibleAndEmptyWindowsAreErrors() throws {
    let fastest = syntheticLatency(try PruningRatios.uniform(0.8, depths: depths))
    XCTAssertThrowsError(try search(SearchParameters(maxSeconds: fastest * 0.99))) { error in
      guard case .impossibleBudget(_, let seconds, let ratio)? = error as? SearchError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(seconds, fastest)
      XCTAssertEqual(ratio, 0.8)
      XCTAssertTrue("\(error)".hasPrefix("impossible latency budget"), "\(error)")
    }
    XCTAssertThrowsError(try search(SearchParameters(maxSeconds: 5, minSeconds: 2))) { error in
      guard case .lowerBoundAboveDense(2, let dense)? = error as? SearchError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(dense, syntheticLatency(.dense(depths: depths)))
    }
    // A window between two neighbouring grid points holds nothing (uniform seeding off, few draws).
    let parameters = SearchParameters(
      maxSeconds: 0.500_000_02, minSeconds: 0.500_000_01, maxDraws: 50, includeUniform: false)
    XCTAssertThrowsError(try search(parameters)) {
      XCTAssertEqual(
        $0 as? SearchError,
        .emptyWindow(minSeconds: 0.500_000_01, maxSeconds: 0.500_000_02, draws: 50))
    }
  }

  func testParametersAreValidated() {
    func message(_ change: (inout SearchParameters) -> Void) -> String {
      var parameters = SearchParameters(maxSeconds: 1)
      change(&parameters)
      do {
        try parameters.validate()
        return ""
      } catch {
        return error.description
      }
    }
    XCTAssertEqual(message { _ in }, "")
    XCTAssertTrue(message { $0.maxSeconds = 0 }.hasPrefix("maximum latency is 0.0 s"))
    XCTAssertTrue(message { $0.minSeconds = 1 }.hasPrefix("minimum latency is 1.0 s"))
    XCTAssertEqual(message { $0.population = 1 }, "population is 1, expected ≥ 2")
    XCTAssertEqual(message { $0.parents = 101 }, "parents is 101, expected 1…100 (the population)")
    XCTAssertTrue(message { $0.mutationProbability = 1.5 }.hasPrefix("mutation probability is 1.5"))
    XCTAssertTrue(message { $0.mutationShare = -0.1 }.hasPrefix("mutation share is -0.1"))
    XCTAssertEqual(message { $0.iterations = -1 }, "iterations is -1, expected ≥ 0")
    XCTAssertEqual(SearchParameters(maxSeconds: 1).mutations, 50)
    XCTAssertEqual(SearchParameters(maxSeconds: 1).crossovers, 25)
  }

  // MARK: - Pareto front

  func testParetoFrontMatchesBruteForce() {
    var random = SearchRandom(seed: 8)
    for _ in 0..<50 {
      let count = 1 + random.integer(below: 40)
      // Coarse values so that ties happen.
      let latencies = (0..<count).map { _ in Double(random.integer(below: 10)) }
      let scores = (0..<count).map { _ in Double(random.integer(below: 10)) }
      let front = paretoFront(latencies: latencies, scores: scores)
      let dominated = { (i: Int) in
        latencies.indices.contains { j in
          latencies[j] <= latencies[i] && scores[j] >= scores[i]
            && (latencies[j] < latencies[i] || scores[j] > scores[i])
        }
      }
      let expected = Set(
        latencies.indices.filter { !dominated($0) }.map { "\(latencies[$0]),\(scores[$0])" })
      XCTAssertEqual(Set(front.map { "\(latencies[$0]),\(scores[$0])" }), expected)
      XCTAssertEqual(front.count, expected.count, "one point per distinct front position")
      XCTAssertEqual(front.map { latencies[$0] }, front.map { latencies[$0] }.sorted())
    }
    XCTAssertEqual(
      paretoFront(latencies: [3, 1, 2, 2, 4], scores: [0.9, 0.5, 0.7, 0.8, 0.85]), [1, 3, 0])
    XCTAssertEqual(paretoFront(latencies: [], scores: []), [])
  }

  // MARK: - Scores

  func testTheScoreIsPluggableAndEachConfigurationIsScoredOnce() throws {
    final class CountingScorer: ConfigurationScorer {
      var calls: [PruningRatios] = []
      func score(_ ratios: PruningRatios) throws -> ConfigurationScore {
        calls.append(ratios)
        // Prefer pruning stage 3 over the others: the opposite of the synthetic score.
        return ConfigurationScore(
          value: ratios.ratios[3][0] - ratios.ratios[0][0], details: ["custom": 1])
      }
    }
    let scorer = CountingScorer()
    let parameters = SearchParameters(
      maxSeconds: 0.8, minSeconds: 0.7, population: 30, parents: 8, iterations: 4, seed: 6)
    let result = try RatioSearch(space: space, parameters: parameters).run(
      latency: syntheticLatency, scorer: scorer)
    XCTAssertEqual(scorer.calls.count, result.candidates.count)
    XCTAssertEqual(
      Set(scorer.calls.map { space.genome($0)! }).count, scorer.calls.count,
      "a configuration was scored twice")
    XCTAssertEqual(result.best.score.details["custom"], 1)
    XCTAssertGreaterThan(result.best.ratios.ratios[3][0], result.best.ratios.ratios[0][0])

    struct Failing: Error {}
    XCTAssertThrowsError(
      try RatioSearch(space: space, parameters: parameters).run(
        latency: syntheticLatency, scorer: ClosureScorer { _ in throw Failing() })
    ) { XCTAssertTrue($0 is Failing) }
  }

  func testMeanCosineSimilarity() {
    let a = Tensor(shape: [3, 2], values: [1, 0, 0, 2, 0, 0])
    let b = Tensor(shape: [3, 2], values: [2, 0, 1, 1, 0, 0])
    // Rows: identical direction (1), 45° (√½), both zero (1).
    XCTAssertEqual(meanCosineSimilarity(a, b), (1 + 0.5.squareRoot() + 1) / 3, accuracy: 1e-12)
    XCTAssertEqual(
      meanCosineSimilarity(
        Tensor(shape: [1, 2], values: [0, 0]), Tensor(shape: [1, 2], values: [1, 0])), 0)
    XCTAssertEqual(topClasses(Tensor(shape: [2, 3], values: [1, 3, 3, 5, 0, -1])), [1, 0])
  }

  func tinyModel() throws -> SwinTransformer {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent()
      .appendingPathComponent("Fixtures/tiny")
    return try SwinTransformer.load(
      path: fixtures.appendingPathComponent("tiny.timm.f32.safetensors").path)
  }

  func testFidelityScorerOnTheTinyModel() throws {
    let model = try tinyModel()
    let images = SyntheticImages.batch(count: 2, height: 112, width: 112, seed: 1)
    let scorer = try FidelityScorer(model: model, images: images, threads: 1)
    let dense = try scorer.score(.dense(depths: model.configuration.depths))
    XCTAssertEqual(dense.value, 1, accuracy: 1e-12)
    XCTAssertEqual(dense.details["top1_agreement"], 1)
    let pruned = try scorer.score(
      try PruningRatios.uniform(0.8, depths: model.configuration.depths))
    XCTAssertLessThan(pruned.value, 1)
    XCTAssertEqual(pruned.value, pruned.details["cosine"])
    let mixed = try FidelityScorer(model: model, images: images, metric: .mean, threads: 1)
    let mixedScore = try mixed.score(
      try PruningRatios.uniform(0.8, depths: model.configuration.depths))
    XCTAssertEqual(
      mixedScore.value, (mixedScore.details["cosine"]! + mixedScore.details["top1_agreement"]!) / 2,
      accuracy: 1e-12)
    // Deterministic: the same configuration scores the same.
    XCTAssertEqual(
      try scorer.score(try PruningRatios.uniform(0.5, depths: model.configuration.depths)),
      try scorer.score(try PruningRatios.uniform(0.5, depths: model.configuration.depths)))
  }

  func testTop1NeedsAHead() throws {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent()
      .appendingPathComponent("Fixtures/tiny")
    let backbone = try SwinTransformer.load(
      path: fixtures.appendingPathComponent("tiny.mmdet.f16.safetensors").path)
    XCTAssertEqual(backbone.configuration.classes, 0)
    let images = SyntheticImages.batch(count: 1, height: 64, width: 64, seed: 1)
    XCTAssertThrowsError(
      try FidelityScorer(model: backbone, images: images, metric: .top1, threads: 1)
    ) {
      XCTAssertEqual($0 as? SearchError, .noClassifierHead)
    }
    // Cosine needs no head.
    let scorer = try FidelityScorer(model: backbone, images: images, threads: 1)
    XCTAssertNil(
      try scorer.score(.dense(depths: backbone.configuration.depths)).details["top1_agreement"])
    XCTAssertThrowsError(try AccuracyScorer(model: backbone, images: images, labels: [0])) {
      XCTAssertEqual($0 as? SearchError, .noClassifierHead)
    }
  }

  func testAccuracyScorerForLabelledData() throws {
    let model = try tinyModel()
    let images = SyntheticImages.batch(count: 3, height: 64, width: 64, seed: 2)
    let dense = try model.forward(images, options: ForwardOptions(threads: 1))
    let labels = topClasses(dense.logits!)
    let scorer = try AccuracyScorer(model: model, images: images, labels: labels, threads: 1)
    XCTAssertEqual(try scorer.score(.dense(depths: model.configuration.depths)).value, 1)
    let wrong = labels.map { ($0 + 1) % model.configuration.classes }
    XCTAssertEqual(
      try AccuracyScorer(model: model, images: images, labels: wrong, threads: 1).score(
        .dense(depths: model.configuration.depths)
      ).value, 0)
    XCTAssertThrowsError(try AccuracyScorer(model: model, images: images, labels: [0, 1])) {
      XCTAssertTrue("\($0)".contains("2 labels for images of shape [3, 3, 64, 64]"), "\($0)")
    }
    XCTAssertThrowsError(try AccuracyScorer(model: model, images: images, labels: [0, 1, 10])) {
      XCTAssertTrue("\($0)".contains("label 10 is not a class of the model (0…9)"), "\($0)")
    }
  }

  // MARK: - Synthetic calibration pictures

  func testSyntheticPicturesAreSeededAndPictureLike() throws {
    let a = SyntheticImages.picture(width: 112, height: 96, seed: 5)
    XCTAssertEqual(a, SyntheticImages.picture(width: 112, height: 96, seed: 5))
    XCTAssertNotEqual(a, SyntheticImages.picture(width: 112, height: 96, seed: 6))
    XCTAssertEqual(a.width, 112)
    XCTAssertEqual(a.height, 96)
    // Picture-like, not white noise: neighbouring pixels are much closer than random pixel pairs.
    var neighbour = 0.0
    var spread = 0.0
    var count = 0.0
    var luminance = [Double](repeating: 0, count: a.width * a.height)
    for pixel in luminance.indices {
      for channel in 0..<3 { luminance[pixel] += Double(a.pixels[3 * pixel + channel]) }
    }
    for y in 0..<a.height {
      for x in 0..<(a.width - 1) {
        let here: Double = luminance[y * a.width + x]
        let right: Double = luminance[y * a.width + x + 1]
        let elsewhere: Double = luminance[(y * 7919 + x * 104_729) % luminance.count]
        neighbour += abs(right - here)
        spread += abs(elsewhere - here)
        count += 1
      }
    }
    XCTAssertLessThan(
      neighbour / count, 0.3 * spread / count,
      "neighbours differ by \(neighbour / count), random pairs by \(spread / count)")
    // Window importance varies: the activity (mean |x − local mean|) of 7×7 patches is far from constant.
    var activities: [Double] = []
    for wy in 0..<(a.height / 7) {
      for wx in 0..<(a.width / 7) {
        var values: [Double] = []
        for y in 0..<7 {
          for x in 0..<7 { values.append(luminance[(wy * 7 + y) * a.width + wx * 7 + x]) }
        }
        let mean = values.reduce(0, +) / 49
        activities.append(values.reduce(0) { $0 + abs($1 - mean) } / 49)
      }
    }
    let meanActivity = activities.reduce(0, +) / Double(activities.count)
    let deviation =
      (activities.reduce(0) { $0 + ($1 - meanActivity) * ($1 - meanActivity) }
      / Double(activities.count)).squareRoot()
    XCTAssertGreaterThan(
      deviation / meanActivity, 0.3, "patch activity hardly varies: \(deviation / meanActivity)")

    let batch = SyntheticImages.batch(count: 2, height: 40, width: 48, seed: 3)
    XCTAssertEqual(batch.shape, [2, 3, 40, 48])
    XCTAssertTrue(batch.values.allSatisfy { $0.isFinite && abs($0) < 3 })
    // Image i of a batch is the picture of seed + i, normalized.
    let second = ImagePreprocessing.standard.normalized(
      SyntheticImages.picture(width: 48, height: 40, seed: 4))
    XCTAssertEqual(Array(batch.values[(3 * 40 * 48)...]), second.values)
  }
}
