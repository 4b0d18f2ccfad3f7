// Facts about the machine the engine runs on, read from /proc once here for every caller: the CPU
// model, the process's peak memory, CPU time counters, and the one monotonic clock.
import Foundation

/// Seconds on the monotonic clock (the clock of every timing in the project).
public func monotonicSeconds() -> Double {
  Double(monotonicNanoseconds()) * 1e-9
}

/// The CPU as `/proc/cpuinfo` describes it.
public struct CPUInfo: Sendable, Equatable {
  /// The first `model name` ("unknown" when there is none).
  public let model: String
  /// `processor` entries (at least 1).
  public let processors: Int

  /// This machine's CPU (read once).
  public static let current = CPUInfo(cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")

  /// Parses the text of `/proc/cpuinfo`.
  public init(cpuinfo: String) {
    var model = "unknown"
    var processors = 0
    for line in cpuinfo.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2 else { continue }
      if parts[0] == "processor" { processors += 1 }
      if parts[0] == "model name" && model == "unknown" { model = parts[1] }
    }
    self.model = model
    self.processors = max(processors, 1)
  }

  /// "model (n processors)": how a latency model names the CPU it was measured on.
  public var description: String { "\(model) (\(processors) processors)" }
}

/// The process's peak resident set size (VmHWM in /proc/self/status), in bytes; nil without /proc.
public func peakResidentBytes() -> Int? {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
    return nil
  }
  for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
    if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
  }
  return nil
}

/// CPU time counters in clock ticks: every CPU's busy and total time (/proc/stat) and this
/// process's user + system time (/proc/self/stat).
public struct CPUTicks: Sendable {
  public let busy: UInt64
  public let total: UInt64
  public let own: UInt64

  /// The counters now; nil where /proc is missing or unreadable.
  public static func now() -> CPUTicks? {
    guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
      let line = stat.split(separator: "\n").first, line.hasPrefix("cpu "),
      let own = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
      let close = own.lastIndex(of: ")")
    else { return nil }
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    let fields = line.split(separator: " ").dropFirst().prefix(8).compactMap { UInt64($0) }
    // After "pid (comm)": state is field 3, utime 14, stime 15.
    let ownFields = own[own.index(after: close)...].split(separator: " ")
    guard fields.count == 8, ownFields.count > 12, let user = UInt64(ownFields[11]),
      let system = UInt64(ownFields[12])
    else {
      return nil
    }
    let idle = fields[3] + fields[4]
    let total = fields.reduce(0, +)
    return CPUTicks(busy: total - idle, total: total, own: user + system)
  }

  /// Share of all CPUs' time since `earlier` spent by other processes (or stolen by the hypervisor).
  public func othersShare(since earlier: CPUTicks) -> Double {
    let elapsed = Double(total &- earlier.total)
    guard elapsed > 0 else { return 0 }
    let others = Double(busy &- earlier.busy) - Double(own &- earlier.own)
    return max(0, others) / elapsed
  }
}
