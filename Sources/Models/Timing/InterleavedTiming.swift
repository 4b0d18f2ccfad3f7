// The one timing protocol of `sparsevit bench`, `search --validate` and the latency model: every
// configuration once cold, untimed warm-up rounds, then timed rounds that run every configuration
// once in a rotating order, so that the machine's drift and other processes hit all of them alike.
import Engine

/// When the timed rounds of `timeInterleaved` stop.
public enum TimingStop: Sendable, Equatable {
  /// Exactly this many rounds.
  case rounds(Int)
  /// Until every configuration has `seconds` of timed runs and at least `minimumRounds` rounds, or
  /// `maximumRounds` rounds in all.
  case minTime(seconds: Double, minimumRounds: Int, maximumRounds: Int)

  /// Whether `rounds` timed rounds with per-configuration `samples` are enough.
  public func finished(rounds: Int, samples: [[Double]]) -> Bool {
    switch self {
    case .rounds(let count): return rounds >= count
    case .minTime(let seconds, let minimumRounds, let maximumRounds):
      if rounds >= maximumRounds { return true }
      return rounds >= minimumRounds && samples.allSatisfy { $0.reduce(0, +) >= seconds }
    }
  }
}

/// Which part of the protocol a run belongs to.
public enum TimingPhase: Sendable, Equatable {
  /// The first run of a configuration (the first of all also creates the workspace).
  case cold
  /// An untimed warm-up round (0-based).
  case warmup(round: Int)
  /// A timed round (0-based).
  case timed(round: Int)
}

/// What `timeInterleaved` measured: per configuration the cold run and the timed runs in round order.
public struct InterleavedTimes: Sendable, Equatable {
  /// Seconds of each configuration's cold run.
  public var cold: [Double]
  /// `samples[configuration][round]`, seconds.
  public var samples: [[Double]]
  /// Timed rounds run.
  public var rounds: Int
}

/// Configuration indices of round `round`: all of them, starting one later each round.
public func roundOrder(_ round: Int, count: Int) -> [Int] {
  (0..<count).map { ($0 + round) % count }
}

/// Runs `count` configurations by the protocol: each once cold in order, then `warmup` rounds, then
/// timed rounds until `stop`; round `r` of either kind runs them in `roundOrder(r)`. `run(index,
/// phase)` runs configuration `index` once and returns its seconds.
public func timeInterleaved(
  count: Int, warmup: Int, stop: TimingStop, run: (Int, TimingPhase) throws -> Double
) rethrows -> InterleavedTimes {
  var times = InterleavedTimes(cold: [], samples: [[Double]](repeating: [], count: count), rounds: 0)
  for index in 0..<count { times.cold.append(try run(index, .cold)) }
  for round in 0..<warmup {
    for index in roundOrder(round, count: count) { _ = try run(index, .warmup(round: round)) }
  }
  while count > 0 && !stop.finished(rounds: times.rounds, samples: times.samples) {
    for index in roundOrder(times.rounds, count: count) {
      times.samples[index].append(try run(index, .timed(round: times.rounds)))
    }
    times.rounds += 1
  }
  return times
}

/// Times forwards of `model` on `input` with each of `configurations` by the protocol
/// (`timeInterleaved`, no warm-up round: the cold runs warm up), `time(body)` timing each timed
/// forward. Returns per configuration the timed seconds in round order; `progress(done, total)`
/// follows every forward, cold runs included.
public func timeConfigurations(
  _ model: SwinTransformer, input: Tensor, configurations: [PruningRatios], options: ForwardOptions,
  rounds: Int,
  time: (() throws -> Void) throws -> Double = wallSeconds,
  progress: (Int, Int) -> Void = { _, _ in }
) throws -> [[Double]] {
  let total = configurations.count * (1 + rounds)
  var done = 0
  let times = try timeInterleaved(count: configurations.count, warmup: 0, stop: .rounds(rounds)) {
    index, phase in
    let forward = { _ = try model.forward(input, sparsity: configurations[index], options: options) }
    let seconds: Double
    if phase == .cold {
      try forward()
      seconds = 0
    } else {
      seconds = try time(forward)
    }
    done += 1
    progress(done, total)
    return seconds
  }
  return times.samples
}

/// Wall seconds `body` takes, on the monotonic clock.
public func wallSeconds(_ body: () throws -> Void) rethrows -> Double {
  let start = monotonicSeconds()
  try body()
  return monotonicSeconds() - start
}
