// SparseViT's search for per-block pruning ratios (Chen et al. 2023, §3.3; SPARSEVIT.md, "The paper's
// search"): each W-MSA/SW-MSA pair shares a ratio from {0, 0.1, …, 0.8}, non-decreasing within a
// stage; an evolutionary search (OFA's EvolutionFinder: parents, mutation, then crossover) over
// configurations drawn by rejection until their predicted latency is within [min, max]. The score
// is pluggable; the default one measures how close the pruned model stays to the dense one.
import Engine

/// Why a search could not run. Messages name the value and what was expected.
public enum SearchError: Error, Equatable, CustomStringConvertible {
  /// A search parameter outside its range.
  case invalidParameter(what: String, value: String, expected: String)
  /// Even the fastest configuration of the space (every ratio at its maximum) is over the budget.
  case impossibleBudget(maxSeconds: Double, fastestSeconds: Double, fastestRatio: Double)
  /// The lower latency bound is above the dense model's latency.
  case lowerBoundAboveDense(minSeconds: Double, denseSeconds: Double)
  /// Rejection sampling found no configuration with a predicted latency in the window.
  case emptyWindow(minSeconds: Double, maxSeconds: Double, draws: Int)
  /// The score needs logits and the model has no classifier head.
  case noClassifierHead
  /// Calibration images that do not fit the model or the search.
  case calibration(String)

  public var description: String {
    switch self {
    case .invalidParameter(let what, let value, let expected):
      "\(what) is \(value), expected \(expected)"
    case .impossibleBudget(let maxSeconds, let fastestSeconds, let ratio):
      "impossible latency budget: \(milliseconds(maxSeconds)) is below the fastest configuration of the search space (every ratio \(ratio)), predicted at \(milliseconds(fastestSeconds))"
    case .lowerBoundAboveDense(let minSeconds, let denseSeconds):
      "the lower latency bound \(milliseconds(minSeconds)) is above the dense model's predicted \(milliseconds(denseSeconds)): no configuration can be that slow"
    case .emptyWindow(let minSeconds, let maxSeconds, let draws):
      "no configuration of the search space is predicted between \(milliseconds(minSeconds)) and \(milliseconds(maxSeconds)) in \(draws) random draws: widen the window (lower the minimum latency)"
    case .noClassifierHead:
      "the model has no classifier head, so top-1 agreement cannot be scored: score by cosine similarity"
    case .calibration(let reason): reason
    }
  }
}

/// `seconds` as "123.4 ms".
func milliseconds(_ seconds: Double) -> String {
  let value = seconds * 1000
  return value < 10
    ? "\(Double(Int((value * 100).rounded())) / 100) ms"
    : "\(Double(Int((value * 10).rounded())) / 10) ms"
}

// MARK: - Random numbers

/// The search's random numbers: SplitMix64 with explicit integer and real draws, so that a seed
/// gives the same search on every platform and Swift version (the standard library's `random(in:)`
/// algorithms are not promised to stay the same).
public struct SearchRandom: Sendable {
  private var bits: SplitMix64

  /// A generator whose every draw follows from `seed`.
  public init(seed: UInt64) { bits = SplitMix64(seed: seed) }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 { bits.next() }

  /// An integer in `0..<bound` (`bound ≥ 1`): the high word of a 64 × 64-bit product (Lemire's
  /// multiply-shift; the bias is below 2⁻⁵⁰ for the small bounds used here).
  public mutating func integer(below bound: Int) -> Int {
    precondition(bound >= 1, "SearchRandom.integer: bound \(bound)")
    return Int(UInt64(bound).multipliedFullWidth(by: next()).high)
  }

  /// A real number in `[0, 1)` with 53 random bits.
  public mutating func unit() -> Double {
    Double(next() >> 11) * 0x1p-53
  }
}

// MARK: - Search space

/// A point of the search space: per stage, per W-MSA/SW-MSA pair (blocks `2i` and `2i + 1`), the
/// index of its ratio in `SearchSpace.choices`, non-decreasing within each stage.
public struct Genome: Hashable, Sendable, Comparable, CustomStringConvertible {
  /// `pairs[stage][pair]`: index into the choices.
  public let pairs: [[Int]]

  /// Wraps choice indices (not validated: see `SearchSpace.isValid`).
  public init(_ pairs: [[Int]]) { self.pairs = pairs }

  /// Lexicographic order (the search's last tie-break).
  public static func < (a: Genome, b: Genome) -> Bool {
    let x = a.pairs.joined()
    let y = b.pairs.joined()
    return x.lexicographicallyPrecedes(y)
  }

  public var description: String { pairs.description }
}

/// The configurations the search may return (SPARSEVIT.md): each W-MSA/SW-MSA pair of a stage shares
/// one ratio from `choices`, ratios are non-decreasing within a stage. A stage with an odd number of
/// blocks ends with a pair of one block.
public struct SearchSpace: Sendable, Equatable {
  /// Blocks per stage.
  public let depths: [Int]
  /// The ratios a pair may take, ascending (default 0, 0.1, …, 0.8).
  public let choices: [Double]

  /// The paper's grid: 0, 0.1, …, 0.8.
  public static let paperChoices = (0...8).map { Double($0) / 10 }

  /// Validates `choices`: ascending, distinct, in `[0, 1)`, at least one; `depths` positive.
  public init(depths: [Int], choices: [Double] = SearchSpace.paperChoices) throws(SearchError) {
    guard !depths.isEmpty, depths.allSatisfy({ $0 >= 1 }) else {
      throw .invalidParameter(
        what: "depths", value: "\(depths)", expected: "at least one stage, each with ≥ 1 block")
    }
    guard !choices.isEmpty, choices.allSatisfy({ $0.isFinite && $0 >= 0 && $0 < 1 }),
      zip(choices, choices.dropFirst()).allSatisfy({ $0 < $1 })
    else {
      throw .invalidParameter(
        what: "ratio choices", value: "\(choices)", expected: "ascending distinct ratios in [0, 1)")
    }
    self.depths = depths
    self.choices = choices
  }

  /// The paper's space for `depths` (positive, checked by the caller).
  init(unchecked depths: [Int]) {
    self.depths = depths
    self.choices = SearchSpace.paperChoices
  }

  /// Pairs per stage: `⌈depth / 2⌉`.
  public var pairCounts: [Int] { depths.map { ($0 + 1) / 2 } }

  /// Number of configurations in the space: per stage, the non-decreasing sequences of
  /// `pairs` choices, `C(choices + pairs − 1, pairs)`, multiplied over stages.
  public var count: Double {
    pairCounts.reduce(1.0) { total, pairs in
      var combinations = 1.0
      for i in 0..<pairs { combinations = combinations * Double(choices.count + i) / Double(i + 1) }
      return total * combinations.rounded()
    }
  }

  /// Whether `genome` is a point of this space.
  public func isValid(_ genome: Genome) -> Bool {
    genome.pairs.map(\.count) == pairCounts
      && genome.pairs.allSatisfy { stage in
        stage.allSatisfy { $0 >= 0 && $0 < choices.count }
          && zip(stage, stage.dropFirst()).allSatisfy { $0 <= $1 }
      }
  }

  /// The per-block ratios of `genome` (must be valid): block `b` takes pair `b / 2`'s ratio.
  public func ratios(_ genome: Genome) -> PruningRatios {
    precondition(
      isValid(genome), "SearchSpace.ratios: \(genome) is not in the space of depths \(depths)")
    return PruningRatios(
      validated: depths.indices.map { stage in
        (0..<depths[stage]).map { choices[genome.pairs[stage][$0 / 2]] }
      })
  }

  /// The genome of `ratios` when they are a point of this space (pairs equal, values on the grid).
  public func genome(_ ratios: PruningRatios) -> Genome? {
    guard ratios.ratios.map(\.count) == depths else { return nil }
    var pairs: [[Int]] = []
    for (stage, values) in ratios.ratios.enumerated() {
      var stagePairs: [Int] = []
      for pair in 0..<pairCounts[stage] {
        let block = 2 * pair
        guard let index = choices.firstIndex(of: values[block]) else { return nil }
        if block + 1 < values.count && values[block + 1] != values[block] { return nil }
        stagePairs.append(index)
      }
      pairs.append(stagePairs)
    }
    let genome = Genome(pairs)
    return isValid(genome) ? genome : nil
  }

  /// Every pair at choice `index`.
  public func uniform(_ index: Int) -> Genome {
    Genome(pairCounts.map { [Int](repeating: index, count: $0) })
  }

  /// A random point: per stage, independent uniform choices sorted ascending.
  public func randomGenome(using random: inout SearchRandom) -> Genome {
    Genome(
      pairCounts.map { count in
        (0..<count).map { _ in random.integer(below: choices.count) }.sorted()
      })
  }

  /// `genome` with each pair redrawn uniformly with probability `probability`, then each stage
  /// sorted so that it stays non-decreasing.
  public func mutate(_ genome: Genome, probability: Double, using random: inout SearchRandom)
    -> Genome
  {
    Genome(
      genome.pairs.map { stage in
        stage.map { random.unit() < probability ? random.integer(below: choices.count) : $0 }
          .sorted()
      })
  }

  /// Each pair from `a` or `b` with equal probability, then each stage sorted.
  public func crossover(_ a: Genome, _ b: Genome, using random: inout SearchRandom) -> Genome {
    Genome(
      zip(a.pairs, b.pairs).map { stageA, stageB in
        zip(stageA, stageB).map { random.integer(below: 2) == 0 ? $0 : $1 }.sorted()
      })
  }
}

// MARK: - Scores

/// How good a configuration is; higher `value` is better.
public struct ConfigurationScore: Sendable, Equatable {
  /// What the search maximizes.
  public let value: Double
  /// Named measurements behind it (for reports), e.g. `cosine`, `top1_agreement`, `accuracy`.
  public let details: [String: Double]

  /// A score `value` (higher is better) and the measurements behind it.
  public init(value: Double, details: [String: Double] = [:]) {
    self.value = value
    self.details = details
  }
}

/// Scores a pruning configuration. The search calls it once per distinct configuration.
public protocol ConfigurationScorer {
  /// The score of `ratios` (higher is better).
  func score(_ ratios: PruningRatios) throws -> ConfigurationScore
}

/// A scorer from a closure: `ClosureScorer { ratios in … }`.
public struct ClosureScorer: ConfigurationScorer {
  private let body: (PruningRatios) throws -> ConfigurationScore

  /// Scores with `body`.
  public init(_ body: @escaping (PruningRatios) throws -> ConfigurationScore) { self.body = body }

  /// `body(ratios)`.
  public func score(_ ratios: PruningRatios) throws -> ConfigurationScore { try body(ratios) }
}

/// How close the pruned model stays to the dense one on calibration images: the mean over images of
/// the cosine similarity of the pooled final features (`[batch, C]`, the head's input), and the
/// share of images whose top-1 class is unchanged.
public struct FidelityScorer: ConfigurationScorer {
  /// What the score's `value` is.
  public enum Metric: String, Sendable, CaseIterable {
    /// Mean cosine similarity of the pooled features (continuous: ranks close configurations).
    case cosine
    /// Top-1 agreement of the logits with the dense model's.
    case top1
    /// The mean of the two.
    case mean
  }

  /// The model scored (dense and pruned).
  public let model: SwinTransformer
  /// `[n, 3, height, width]`, ImageNet-normalized.
  public let images: Tensor
  /// What `score(_:)` returns as its value.
  public let metric: Metric
  /// Options of the scoring forwards.
  public let options: ForwardOptions
  /// The dense model's pooled features, `[n, C]`.
  public let denseFeatures: Tensor
  /// The dense model's top-1 class per image (empty without a head).
  public let denseClasses: [Int]

  /// Runs the dense model on `images` once (the reference).
  public init(
    model: SwinTransformer, images: Tensor, metric: Metric = .cosine,
    threads: Int = defaultThreadCount
  )
    throws
  {
    if metric != .cosine && model.configuration.classes == 0 { throw SearchError.noClassifierHead }
    self.model = model
    self.images = images
    self.metric = metric
    self.options = ForwardOptions(threads: threads)
    let dense = try model.forward(images, options: options)
    denseFeatures = dense.pooledFeatures
    denseClasses = dense.logits.map(topClasses) ?? []
  }

  /// One forward of the calibration images with `ratios`, compared with the dense reference.
  public func score(_ ratios: PruningRatios) throws -> ConfigurationScore {
    let output = try model.forward(images, sparsity: ratios, options: options)
    let cosine = meanCosineSimilarity(output.pooledFeatures, denseFeatures)
    var details = ["cosine": cosine]
    var agreement: Double? = nil
    if let logits = output.logits, !denseClasses.isEmpty {
      let classes = topClasses(logits)
      let same = zip(classes, denseClasses).filter { $0 == $1 }.count
      agreement = Double(same) / Double(classes.count)
      details["top1_agreement"] = agreement
    }
    let value =
      switch metric {
      case .cosine: cosine
      case .top1: agreement ?? 0
      case .mean: (cosine + (agreement ?? 0)) / 2
      }
    return ConfigurationScore(value: value, details: details)
  }
}

/// Top-1 accuracy of the pruned model against known labels: the scorer for a user with labelled data.
public struct AccuracyScorer: ConfigurationScorer {
  /// The model scored.
  public let model: SwinTransformer
  /// `[n, 3, height, width]`, ImageNet-normalized.
  public let images: Tensor
  /// The true class of each image.
  public let labels: [Int]
  /// Options of the scoring forwards.
  public let options: ForwardOptions

  /// Checks that there is one label per image, each a class of the model.
  public init(
    model: SwinTransformer, images: Tensor, labels: [Int], threads: Int = defaultThreadCount
  ) throws(SearchError) {
    guard model.configuration.classes > 0 else { throw .noClassifierHead }
    guard images.rank == 4, images.shape[0] == labels.count else {
      throw .calibration(
        "\(labels.count) labels for images of shape \(images.shape), expected one label per image")
    }
    if let bad = labels.first(where: { $0 < 0 || $0 >= model.configuration.classes }) {
      throw .calibration(
        "label \(bad) is not a class of the model (0…\(model.configuration.classes - 1))")
    }
    self.model = model
    self.images = images
    self.labels = labels
    self.options = ForwardOptions(threads: threads)
  }

  /// Share of the images whose top-1 class with `ratios` is their label.
  public func score(_ ratios: PruningRatios) throws -> ConfigurationScore {
    let output = try model.forward(images, sparsity: ratios, options: options)
    let classes = output.logits.map(topClasses) ?? []
    let accuracy =
      Double(zip(classes, labels).filter { $0 == $1 }.count) / Double(max(labels.count, 1))
    return ConfigurationScore(value: accuracy, details: ["accuracy": accuracy])
  }
}

/// Mean over rows of the cosine similarity of `a` and `b` (`[n, C]` each), accumulated in Double.
/// Two zero rows count as identical (1); one zero row against a non-zero one as 0.
public func meanCosineSimilarity(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(
    a.shape == b.shape && a.rank == 2, "meanCosineSimilarity: shapes \(a.shape) and \(b.shape)")
  let rows = a.shape[0]
  let columns = a.shape[1]
  guard rows > 0 else { return 1 }
  var total = 0.0
  for row in 0..<rows {
    var ab = 0.0
    var aa = 0.0
    var bb = 0.0
    for column in 0..<columns {
      let x = Double(a.values[row * columns + column])
      let y = Double(b.values[row * columns + column])
      ab += x * y
      aa += x * x
      bb += y * y
    }
    total +=
      aa == 0 && bb == 0 ? 1 : (aa == 0 || bb == 0 ? 0 : ab / (aa.squareRoot() * bb.squareRoot()))
  }
  return total / Double(rows)
}

/// Per row of `[n, classes]` logits, the index of the largest (the first of equal ones).
func topClasses(_ logits: Tensor) -> [Int] {
  ClassPrediction.top(1, logits: logits, names: []).map { $0.first?.index ?? 0 }
}

// MARK: - Search

/// The knobs of the evolutionary search (defaults: the paper's population, parents and mutation
/// probability; OFA's half of each generation by mutation).
public struct SearchParameters: Sendable, Equatable {
  /// Largest predicted latency allowed, seconds.
  public var maxSeconds: Double
  /// Smallest predicted latency allowed, seconds (0: none).
  public var minSeconds: Double
  /// Configurations per generation.
  public var population: Int
  /// Best configurations kept as parents of the next generation.
  public var parents: Int
  /// Probability that mutation redraws a pair's ratio.
  public var mutationProbability: Double
  /// Share of each generation made by mutating a parent; the rest (after the parents) by crossover.
  public var mutationShare: Double
  /// Generations bred after the initial population.
  public var iterations: Int
  /// Seed of every random choice.
  public var seed: UInt64
  /// Draws allowed per sample before rejection sampling gives up.
  public var maxDraws: Int
  /// Whether the uniform configurations inside the window join the initial population (so the
  /// result is never worse than the best of them).
  public var includeUniform: Bool

  /// The parameters, not yet validated (`validate()`; `RatioSearch` validates them).
  public init(
    maxSeconds: Double, minSeconds: Double = 0, population: Int = 100, parents: Int = 25,
    mutationProbability: Double = 0.1, mutationShare: Double = 0.5, iterations: Int = 6,
    seed: UInt64 = 0,
    maxDraws: Int = 10_000, includeUniform: Bool = true
  ) {
    self.maxSeconds = maxSeconds
    self.minSeconds = minSeconds
    self.population = population
    self.parents = parents
    self.mutationProbability = mutationProbability
    self.mutationShare = mutationShare
    self.iterations = iterations
    self.seed = seed
    self.maxDraws = maxDraws
    self.includeUniform = includeUniform
  }

  /// Throws for the first parameter outside its range.
  public func validate() throws(SearchError) {
    guard maxSeconds.isFinite, maxSeconds > 0 else {
      throw .invalidParameter(
        what: "maximum latency", value: "\(maxSeconds) s", expected: "a positive time")
    }
    guard minSeconds.isFinite, minSeconds >= 0, minSeconds < maxSeconds else {
      throw .invalidParameter(
        what: "minimum latency", value: "\(minSeconds) s",
        expected: "≥ 0 and below the maximum \(maxSeconds) s")
    }
    guard population >= 2 else {
      throw .invalidParameter(what: "population", value: String(population), expected: "≥ 2")
    }
    guard parents >= 1, parents <= population else {
      throw .invalidParameter(
        what: "parents", value: String(parents), expected: "1…\(population) (the population)")
    }
    guard mutationProbability.isFinite, mutationProbability >= 0, mutationProbability <= 1 else {
      throw .invalidParameter(
        what: "mutation probability", value: "\(mutationProbability)",
        expected: "a probability in [0, 1]")
    }
    guard mutationShare.isFinite, mutationShare >= 0, mutationShare <= 1 else {
      throw .invalidParameter(
        what: "mutation share", value: "\(mutationShare)", expected: "a share in [0, 1]")
    }
    guard iterations >= 0 else {
      throw .invalidParameter(what: "iterations", value: String(iterations), expected: "≥ 0")
    }
    guard maxDraws >= 1 else {
      throw .invalidParameter(what: "draws per sample", value: String(maxDraws), expected: "≥ 1")
    }
  }

  /// Children made by mutation per generation.
  public var mutations: Int {
    min(population - parents, Int((Double(population) * mutationShare).rounded()))
  }
  /// Children made by crossover per generation.
  public var crossovers: Int { population - parents - mutations }
}

/// A scored configuration.
public struct SearchCandidate: Sendable, Equatable {
  /// Its point of the search space.
  public let genome: Genome
  /// Its per-block ratios.
  public let ratios: PruningRatios
  /// Predicted seconds per forward.
  public let predictedSeconds: Double
  /// Its score.
  public let score: ConfigurationScore
  /// Generation in which it was first scored (0: initial population and uniform baselines).
  public let generation: Int

  /// Whether `self` ranks before `other`: higher score, then lower latency, then smaller genome.
  public func ranks(before other: SearchCandidate) -> Bool {
    if score.value != other.score.value { return score.value > other.score.value }
    if predictedSeconds != other.predictedSeconds {
      return predictedSeconds < other.predictedSeconds
    }
    return genome < other.genome
  }
}

/// A uniform configuration (every block at one ratio) as the baseline of a search.
public struct UniformBaseline: Sendable, Equatable {
  /// The ratio of every block.
  public let ratio: Double
  /// Predicted seconds per forward.
  public let predictedSeconds: Double
  /// Whether its predicted latency is within the maximum.
  public let fits: Bool
  /// Scored when it fits.
  public let score: ConfigurationScore?
}

/// Summary of one generation.
public struct GenerationSummary: Sendable, Equatable {
  /// 0 for the initial population.
  public let index: Int
  /// Configurations scored for the first time in this generation.
  public let newlyScored: Int
  /// Distinct configurations scored so far.
  public let totalScored: Int
  /// Best configuration within the window so far.
  public let best: SearchCandidate
}

/// What the search reports while it runs.
public enum SearchEvent: Sendable {
  /// A configuration was scored for the first time (`count` so far).
  case scored(SearchCandidate, count: Int)
  /// A generation is complete.
  case generation(GenerationSummary)
}

/// Everything a search found.
public struct SearchResult: Sendable {
  /// The best configuration whose predicted latency is within the window.
  public let best: SearchCandidate
  /// Every configuration scored, in the order it was scored.
  public let candidates: [SearchCandidate]
  /// The candidates no other beats on both latency and score, by ascending latency.
  public let paretoFront: [SearchCandidate]
  /// Uniform ratios (every choice but 0): prediction, and score when within the maximum.
  public let uniform: [UniformBaseline]
  /// Per generation: the best so far.
  public let generations: [GenerationSummary]
  /// Predicted seconds of the dense model.
  public let denseSeconds: Double
  /// Predicted seconds of the fastest configuration of the space (every ratio at its maximum).
  public let fastestSeconds: Double

  /// The best-scoring uniform configuration within the maximum latency.
  public var bestUniform: UniformBaseline? {
    uniform.filter { $0.fits && $0.score != nil }.max { a, b in
      a.score!.value != b.score!.value ? a.score!.value < b.score!.value : a.ratio > b.ratio
    }
  }
}

/// The evolutionary search for per-block pruning ratios under a latency window.
///
/// Generation 0 is the uniform configurations inside the window (when `includeUniform`) plus random
/// configurations drawn by rejection until each is predicted within `[minSeconds, maxSeconds]`.
/// Each generation keeps the `parents` best distinct configurations, adds `mutations` children (a
/// random parent, mutated, redrawn until it fits the window) then `crossovers` children (two
/// random parents crossed, redrawn until it fits). Each distinct configuration is scored once.
public struct RatioSearch {
  /// Where configurations are drawn from.
  public let space: SearchSpace
  /// Window, population and evolution settings.
  public let parameters: SearchParameters

  /// Validates `parameters`.
  public init(space: SearchSpace, parameters: SearchParameters) throws(SearchError) {
    try parameters.validate()
    self.space = space
    self.parameters = parameters
  }

  /// Throws unless the window can hold a configuration: the maximum must not be below the fastest
  /// configuration of the space (every ratio at its maximum), the minimum not above dense. Returns
  /// the predicted seconds of the fastest configuration and of dense. `run` checks this first.
  @discardableResult
  public func checkFeasible(latency: (PruningRatios) -> Double) throws(SearchError) -> (
    fastest: Double, dense: Double
  ) {
    let fastestRatio = space.choices[space.choices.count - 1]
    let fastestSeconds = latency(space.ratios(space.uniform(space.choices.count - 1)))
    let denseSeconds = latency(.dense(depths: space.depths))
    if parameters.maxSeconds < fastestSeconds {
      throw .impossibleBudget(
        maxSeconds: parameters.maxSeconds, fastestSeconds: fastestSeconds,
        fastestRatio: fastestRatio)
    }
    if parameters.minSeconds > max(denseSeconds, fastestSeconds) {
      throw .lowerBoundAboveDense(minSeconds: parameters.minSeconds, denseSeconds: denseSeconds)
    }
    return (fastestSeconds, denseSeconds)
  }

  /// Runs the search. `latency(ratios)` predicts seconds per forward (a `LatencyModel`, or any
  /// function); `scorer` scores; `progress` hears about each new score and each generation. Errors of
  /// the scorer are passed on.
  public func run(
    latency: (PruningRatios) -> Double, scorer: any ConfigurationScorer,
    progress: (SearchEvent) -> Void = { _ in }
  ) throws -> SearchResult {
    let p = parameters
    let (fastestSeconds, denseSeconds) = try checkFeasible(latency: latency)
    var random = SearchRandom(seed: p.seed)
    var predicted: [Genome: Double] = [:]
    func seconds(_ genome: Genome) -> Double {
      if let known = predicted[genome] { return known }
      let value = latency(space.ratios(genome))
      predicted[genome] = value
      return value
    }
    func inWindow(_ genome: Genome) -> Bool {
      let value = seconds(genome)
      return value >= p.minSeconds && value <= p.maxSeconds
    }

    var scored: [Genome: Int] = [:]
    var candidates: [SearchCandidate] = []
    var generation = 0
    func evaluate(_ genome: Genome) throws -> SearchCandidate {
      if let index = scored[genome] { return candidates[index] }
      let ratios = space.ratios(genome)
      let candidate = SearchCandidate(
        genome: genome, ratios: ratios, predictedSeconds: seconds(genome),
        score: try scorer.score(ratios),
        generation: generation)
      scored[genome] = candidates.count
      candidates.append(candidate)
      progress(.scored(candidate, count: candidates.count))
      return candidate
    }

    // Uniform baselines: every non-zero choice, scored when within the maximum.
    var uniform: [UniformBaseline] = []
    for index in 1..<space.choices.count {
      let genome = space.uniform(index)
      let fits = seconds(genome) <= p.maxSeconds
      uniform.append(
        UniformBaseline(
          ratio: space.choices[index], predictedSeconds: seconds(genome), fits: fits,
          score: fits ? try evaluate(genome).score : nil))
    }

    // Generation 0.
    var population: [Genome] = []
    if p.includeUniform {
      population += (0..<space.choices.count).map { space.uniform($0) }.filter(inWindow).prefix(
        p.population)
    }
    while population.count < p.population {
      var found: Genome? = nil
      for _ in 0..<p.maxDraws {
        let genome = space.randomGenome(using: &random)
        if inWindow(genome) {
          found = genome
          break
        }
      }
      guard let found else {
        if population.isEmpty {
          throw SearchError.emptyWindow(
            minSeconds: p.minSeconds, maxSeconds: p.maxSeconds, draws: p.maxDraws)
        }
        break
      }
      population.append(found)
    }

    var generations: [GenerationSummary] = []
    func rankDistinct(_ genomes: [Genome]) throws -> [SearchCandidate] {
      var seen = Set<Genome>()
      var ranked: [SearchCandidate] = []
      for genome in genomes where seen.insert(genome).inserted {
        ranked.append(try evaluate(genome))
      }
      return ranked.sorted { $0.ranks(before: $1) }
    }
    func bestInWindow() -> SearchCandidate? {
      candidates.filter { inWindow($0.genome) }.min { $0.ranks(before: $1) }
    }
    while true {
      let before = candidates.count
      let ranked = try rankDistinct(population)
      if let best = bestInWindow() {
        let summary = GenerationSummary(
          index: generation, newlyScored: candidates.count - before, totalScored: candidates.count,
          best: best)
        generations.append(summary)
        progress(.generation(summary))
      }
      if generation == p.iterations { break }
      generation += 1
      let parents = Array(ranked.prefix(p.parents)).map(\.genome)
      var children: [Genome] = []
      for _ in 0..<p.mutations {
        for _ in 0..<p.maxDraws {
          let parent = parents[random.integer(below: parents.count)]
          let child = space.mutate(parent, probability: p.mutationProbability, using: &random)
          if inWindow(child) {
            children.append(child)
            break
          }
        }
      }
      for _ in 0..<p.crossovers {
        for _ in 0..<p.maxDraws {
          let a = parents[random.integer(below: parents.count)]
          let b = parents[random.integer(below: parents.count)]
          let child = space.crossover(a, b, using: &random)
          if inWindow(child) {
            children.append(child)
            break
          }
        }
      }
      population = parents + children
    }
    // The window is not empty (generation 0 drew at least one configuration in it).
    let best = bestInWindow()!
    // Ranked first, so that of equal points the front keeps the one the search would pick.
    let ranked = candidates.sorted { $0.ranks(before: $1) }
    let front = paretoFront(
      latencies: ranked.map(\.predictedSeconds), scores: ranked.map(\.score.value))
    return SearchResult(
      best: best, candidates: candidates, paretoFront: front.map { ranked[$0] }, uniform: uniform,
      generations: generations, denseSeconds: denseSeconds, fastestSeconds: fastestSeconds)
  }
}

// MARK: - Pareto front

/// Indices of the points no other point dominates (latency ≤ and score ≥, one of them strictly),
/// by ascending latency; of identical points, the first. Lower latency and higher score are better.
public func paretoFront(latencies: [Double], scores: [Double]) -> [Int] {
  precondition(
    latencies.count == scores.count,
    "paretoFront: \(latencies.count) latencies, \(scores.count) scores")
  let order = latencies.indices.sorted {
    latencies[$0] != latencies[$1]
      ? latencies[$0] < latencies[$1]
      : (scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1)
  }
  var front: [Int] = []
  var bestScore = -Double.infinity
  for index in order where scores[index] > bestScore {
    front.append(index)
    bestScore = scores[index]
  }
  return front
}
