// Order statistics of benchmark samples, with the conventions users compare against: percentiles
// interpolated linearly between order statistics (numpy's default), the interquartile mean as
// scipy's `trim_mean(x, 0.25)`, and speedups both as a ratio of medians and as a median of ratios.

/// Summary of one configuration's timed samples (any unit; the bench uses seconds).
struct SampleSummary: Equatable {
  let count: Int
  let median: Double
  let p10: Double
  let p90: Double
  let min: Double
  let max: Double
  let mean: Double
  /// Mean of the middle half: `⌊n/4⌋` samples cut from each end.
  let interquartileMean: Double

  /// Summarizes `samples` (must not be empty).
  init(_ samples: [Double]) {
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
  var relativeSpread: Double { median > 0 ? (p90 - p10) / median : 0 }
}

/// The `q`-th percentile (0…100) of ascending `sorted`, interpolated linearly between the order
/// statistics at rank `q/100 · (n − 1)` (numpy `percentile(method="linear")`).
func percentile(sorted: [Double], _ q: Double) -> Double {
  precondition(!sorted.isEmpty, "percentile: no samples")
  precondition(q >= 0 && q <= 100, "percentile: q \(q) outside 0…100")
  let rank = q / 100 * Double(sorted.count - 1)
  let lower = Int(rank.rounded(.down))
  let upper = Swift.min(lower + 1, sorted.count - 1)
  let fraction = rank - Double(lower)
  return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

/// The median of `values` in any order.
func median(_ values: [Double]) -> Double {
  percentile(sorted: values.sorted(), 50)
}

/// Mean of ascending `sorted` after cutting `⌊proportion · n⌋` values from each end
/// (scipy `trim_mean`); with fewer than 4 samples nothing is cut.
func trimmedMean(sorted: [Double], proportion: Double) -> Double {
  precondition(!sorted.isEmpty, "trimmedMean: no samples")
  precondition(proportion >= 0 && proportion < 0.5, "trimmedMean: proportion \(proportion)")
  let cut = Int(Double(sorted.count) * proportion)
  let kept = sorted[cut..<(sorted.count - cut)]
  return kept.reduce(0, +) / Double(kept.count)
}

/// Per round `baseline[i] / candidate[i]`: the speedup of the candidate over the baseline run of the
/// same round, so drift that slows a whole round cancels out. Both lists are in round order.
func pairedRatios(baseline: [Double], candidate: [Double]) -> [Double] {
  precondition(
    baseline.count == candidate.count,
    "pairedRatios: \(baseline.count) vs \(candidate.count) rounds")
  return zip(baseline, candidate).map { $0 / $1 }
}
