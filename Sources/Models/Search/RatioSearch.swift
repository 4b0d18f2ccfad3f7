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
      "impossible latency budget: \(formatMilliseconds(maxSeconds)) is below the fastest configuration of the search space (every ratio \(ratio)), predicted at \(formatMilliseconds(fastestSeconds))"
    case .lowerBoundAboveDense(let minSeconds, let denseSeconds):
      "the lower latency bound \(formatMilliseconds(minSeconds)) is above the dense model's predicted \(formatMilliseconds(denseSeconds)): no configuration can be that slow"
    case .emptyWindow(let minSeconds, let maxSeconds, let draws):
      "no configuration of the search space is predicted between \(formatMilliseconds(minSeconds)) and \(formatMilliseconds(maxSeconds)) in \(draws) random draws: widen the window (lower the minimum latency)"
    case .noClassifierHead:
      "the model has no classifier head, so top-1 agreement cannot be scored: score by cosine similarity"
    case .calibration(let reason): reason
    }
  }
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
    let (fastestSeconds, denseSeconds) = try checkFeasible(latency: latency)
    return try withoutActuallyEscaping(latency) { latency in
      try withoutActuallyEscaping(progress) { progress in
        let state = SearchState(search: self, latency: latency, scorer: scorer, progress: progress)
        let uniform = try state.uniformBaselines()
        var population = try state.initialPopulation()
        var generations: [GenerationSummary] = []
        while true {
          let before = state.candidates.count
          let ranked = try state.rankDistinct(population)
          if let best = state.bestInWindow() {
            let summary = GenerationSummary(
              index: state.generation, newlyScored: state.candidates.count - before,
              totalScored: state.candidates.count, best: best)
            generations.append(summary)
            progress(.generation(summary))
          }
          if state.generation == parameters.iterations { break }
          state.generation += 1
          let parents = Array(ranked.prefix(parameters.parents)).map(\.genome)
          population = parents + state.children(of: parents)
        }
        // The window is not empty (generation 0 drew at least one configuration in it).
        let best = state.bestInWindow()!
        // Ranked first, so that of equal points the front keeps the one the search would pick.
        let ranked = state.candidates.sorted { $0.ranks(before: $1) }
        let front = paretoFront(
          latencies: ranked.map(\.predictedSeconds), scores: ranked.map(\.score.value))
        return SearchResult(
          best: best, candidates: state.candidates, paretoFront: front.map { ranked[$0] }, uniform: uniform,
          generations: generations, denseSeconds: denseSeconds, fastestSeconds: fastestSeconds)
      }
    }
  }
}

/// The running state of one search: predicted latencies (each configuration predicted once), the
/// scored candidates (each scored once), the generation and the random numbers.
private final class SearchState {
  let space: SearchSpace
  let p: SearchParameters
  let latency: (PruningRatios) -> Double
  let scorer: any ConfigurationScorer
  let progress: (SearchEvent) -> Void
  var random: SearchRandom
  var predicted: [Genome: Double] = [:]
  var scored: [Genome: Int] = [:]
  var candidates: [SearchCandidate] = []
  var generation = 0

  init(
    search: RatioSearch, latency: @escaping (PruningRatios) -> Double, scorer: any ConfigurationScorer,
    progress: @escaping (SearchEvent) -> Void
  ) {
    space = search.space
    p = search.parameters
    self.latency = latency
    self.scorer = scorer
    self.progress = progress
    random = SearchRandom(seed: search.parameters.seed)
  }

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

  func evaluate(_ genome: Genome) throws -> SearchCandidate {
    if let index = scored[genome] { return candidates[index] }
    let ratios = space.ratios(genome)
    let candidate = SearchCandidate(
      genome: genome, ratios: ratios, predictedSeconds: seconds(genome), score: try scorer.score(ratios),
      generation: generation)
    scored[genome] = candidates.count
    candidates.append(candidate)
    progress(.scored(candidate, count: candidates.count))
    return candidate
  }

  /// Every non-zero uniform choice, scored when within the maximum.
  func uniformBaselines() throws -> [UniformBaseline] {
    try (1..<space.choices.count).map { index in
      let genome = space.uniform(index)
      let fits = seconds(genome) <= p.maxSeconds
      return UniformBaseline(
        ratio: space.choices[index], predictedSeconds: seconds(genome), fits: fits,
        score: fits ? try evaluate(genome).score : nil)
    }
  }

  /// Generation 0: the uniform configurations in the window, then random ones drawn until predicted
  /// in the window.
  func initialPopulation() throws -> [Genome] {
    var population: [Genome] = []
    if p.includeUniform {
      population += (0..<space.choices.count).map { space.uniform($0) }.filter(inWindow).prefix(p.population)
    }
    while population.count < p.population {
      guard let found = draw({ space.randomGenome(using: &$0) }) else {
        if population.isEmpty {
          throw SearchError.emptyWindow(minSeconds: p.minSeconds, maxSeconds: p.maxSeconds, draws: p.maxDraws)
        }
        break
      }
      population.append(found)
    }
    return population
  }

  /// The first of up to `maxDraws` genomes from `make` that is in the window.
  func draw(_ make: (inout SearchRandom) -> Genome) -> Genome? {
    for _ in 0..<p.maxDraws {
      let genome = make(&random)
      if inWindow(genome) { return genome }
    }
    return nil
  }

  /// `mutations` mutated parents, then `crossovers` crossed pairs, each redrawn until in the window.
  func children(of parents: [Genome]) -> [Genome] {
    var children: [Genome] = []
    for _ in 0..<p.mutations {
      let child = draw { random in
        let parent = parents[random.integer(below: parents.count)]
        return self.space.mutate(parent, probability: self.p.mutationProbability, using: &random)
      }
      if let child { children.append(child) }
    }
    for _ in 0..<p.crossovers {
      let child = draw { random in
        let a = parents[random.integer(below: parents.count)]
        let b = parents[random.integer(below: parents.count)]
        return self.space.crossover(a, b, using: &random)
      }
      if let child { children.append(child) }
    }
    return children
  }

  /// The distinct genomes of `genomes`, scored, best first.
  func rankDistinct(_ genomes: [Genome]) throws -> [SearchCandidate] {
    var seen = Set<Genome>()
    var ranked: [SearchCandidate] = []
    for genome in genomes where seen.insert(genome).inserted { ranked.append(try evaluate(genome)) }
    return ranked.sorted { $0.ranks(before: $1) }
  }

  func bestInWindow() -> SearchCandidate? {
    candidates.filter { inWindow($0.genome) }.min { $0.ranks(before: $1) }
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
