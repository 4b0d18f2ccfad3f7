// Timing forwards on a machine shared with other processes: a run that others disturbed is
// repeated once the machine is quiet, within a bounded patience.
import Engine
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Times forwards on a shared machine. A run during which other processes kept more than
/// `threshold` of the CPUs busy (every CPU's busy time from /proc/stat minus this process's own from
/// /proc/self/stat; hypervisor steal counts as busy) is disturbed: the timer waits until the machine
/// is quiet (others under `threshold` for a 0.5 s look) and runs it again, up to `attempts` runs.
/// The first undisturbed run counts, or the fastest when none was. Waiting stops for good once
/// `patience` seconds have been spent waiting, so a machine busy throughout costs bounded time
/// (and is reported). Where /proc is missing every run counts.
public final class QuietTimer {
  public let threshold: Double
  public let attempts: Int
  public let patience: Double
  /// Forwards run, disturbed ones, and timings for which every attempt was disturbed.
  public private(set) var runs = 0
  public private(set) var disturbed = 0
  public private(set) var timings = 0
  public private(set) var unresolved = 0
  /// Seconds spent waiting for quiet.
  public private(set) var waited = 0.0

  public init(threshold: Double = 0.05, attempts: Int = 4, patience: Double = 120) {
    self.threshold = threshold
    self.attempts = attempts
    self.patience = patience
  }

  public func time(_ body: () throws -> Void) throws -> Double {
    timings += 1
    var fastest = Double.infinity
    for attempt in 0..<attempts {
      let before = CPUTicks.now()
      let start = monotonicSeconds()
      try body()
      let seconds = monotonicSeconds() - start
      runs += 1
      guard let before, let after = CPUTicks.now(), after.othersShare(since: before) > threshold
      else { return seconds }
      disturbed += 1
      fastest = min(fastest, seconds)
      if attempt < attempts - 1 { waitForQuiet() }
    }
    unresolved += 1
    return fastest
  }

  /// Sleeps in 0.5 s looks until one finds the other processes under `threshold`, within patience.
  private func waitForQuiet() {
    while waited < patience {
      guard let before = CPUTicks.now() else { return }
      usleep(500_000)
      waited += 0.5
      guard let after = CPUTicks.now() else { return }
      if after.othersShare(since: before) <= threshold { return }
    }
  }

  /// Whether too many timings had no undisturbed run for the results to be trusted.
  public var unreliable: Bool { unresolved * 5 > timings }

  public var summary: String {
    guard disturbed > 0 else { return "No run was disturbed by other processes." }
    var text =
      "\(disturbed) of \(runs) runs were disturbed by other processes (over \(Int(threshold * 100))% of the CPUs busy)"
    if waited > 0 { text += ", \(formatDuration(waited)) spent waiting for quiet" }
    text +=
      unresolved > 0
      ? "; \(unresolved) of \(timings) timings have no undisturbed run (the fastest counts)."
      : "; all were repeated."
    return text
  }
}
