// The space SparseViT's search explores (SPARSEVIT.md, "The paper's search"): one ratio from
// {0, 0.1, …, 0.8} per W-MSA/SW-MSA pair, non-decreasing within a stage, as a genome; its random
// draws, mutation and crossover, with random numbers that a seed fixes on every platform.
import Engine

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
