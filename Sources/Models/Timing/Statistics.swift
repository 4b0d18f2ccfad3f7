// The one set of order statistics for timings (bench, search, the latency model), with the
// conventions users compare against: quantiles interpolated linearly between order statistics
// (numpy's default), the interquartile mean as scipy's `trim_mean(x, 0.25)`, and paired ratios.

/// Summary of one configuration's timed samples (any unit; the bench uses seconds).
public struct SampleSummary: Sendable, Equatable {
  public let count: Int
  public let median: Double
  public let p10: Double
  public let p90: Double
  public let min: Double
  public let max: Double
  public let mean: Double
  /// Mean of the middle half: `⌊n/4⌋` samples cut from each end.
  public let interquartileMean: Double

  /// Summarizes `samples` (must not be empty).
  public init(_ samples: [Double]) {
    precondition(!samples.isEmpty, "SampleSummary: no samples")
    let sorted = samples.sorted()
    count = sorted.count
    median = percentile(sorted: sorted, 50)
    p10 = percentile(sorted: sorted, 10)
    p90 = percentile(sorted: sorted, 90)
    min = sorted[0]
    max = sorted[sorted.count - 1]
    mean = sorted.reduce(0, +) / Double(sorted.count)
    interquartileMean = trimmedMean(sorted: sorted, proportion: 0.25)
  }

  /// `(p90 − p10) / median`: the spread a reader should know about before trusting a difference.
  public var relativeSpread: Double { median > 0 ? (p90 - p10) / median : 0 }
}

/// The `q`-th percentile (0…100) of ascending `sorted`, interpolated linearly between the order
/// statistics at rank `q/100 · (n − 1)` (numpy `percentile(method="linear")`).
public func percentile(sorted: [Double], _ q: Double) -> Double {
  precondition(q >= 0 && q <= 100, "percentile: q \(q) outside 0…100")
  return quantile(sorted: sorted, q / 100)
}

/// The `q`-quantile (0…1) of ascending `sorted`, interpolated linearly between the order statistics
/// at rank `q · (n − 1)`.
public func quantile(sorted: [Double], _ q: Double) -> Double {
  precondition(!sorted.isEmpty, "quantile: no samples")
  let rank = Swift.min(Swift.max(q, 0), 1) * Double(sorted.count - 1)
  let lower = Int(rank.rounded(.down))
  let upper = Swift.min(lower + 1, sorted.count - 1)
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - Double(lower))
}

/// The `q`-quantile (0…1) of `values` in any order; 0 for none.
public func quantile(_ values: [Double], _ q: Double) -> Double {
  values.isEmpty ? 0 : quantile(sorted: values.sorted(), q)
}

/// The median of `values` in any order (mean of the middle two for an even count); 0 for none.
public func median(_ values: [Double]) -> Double {
  quantile(values, 0.5)
}

/// Mean of ascending `sorted` after cutting `⌊proportion · n⌋` values from each end
/// (scipy `trim_mean`); with fewer than 4 samples nothing is cut.
public func trimmedMean(sorted: [Double], proportion: Double) -> Double {
  precondition(!sorted.isEmpty, "trimmedMean: no samples")
  precondition(proportion >= 0 && proportion < 0.5, "trimmedMean: proportion \(proportion)")
  let cut = Int(Double(sorted.count) * proportion)
  let kept = sorted[cut..<(sorted.count - cut)]
  return kept.reduce(0, +) / Double(kept.count)
}

/// Per round `baseline[i] / candidate[i]`: the speedup of the candidate over the baseline run of the
/// same round, so drift that slows a whole round cancels out. Both lists are in round order.
public func pairedRatios(baseline: [Double], candidate: [Double]) -> [Double] {
  precondition(
    baseline.count == candidate.count,
    "pairedRatios: \(baseline.count) vs \(candidate.count) rounds")
  return zip(baseline, candidate).map { $0 / $1 }
}

/// The median over rounds of `runs[i] / reference[i]`: a configuration's time as a fraction of the
/// reference's in the same rounds, free of the machine's speed.
public func pairedRatio(_ runs: [Double], _ reference: [Double]) -> Double {
  median(pairedRatios(baseline: runs, candidate: reference))
}
