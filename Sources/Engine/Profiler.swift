// Per-operation timing of a forward pass. Workers add the time they spend in each operation to their
// own counters (no sharing, no locks); the report divides worker time by the worker count and books
// the rest of the wall time (waiting at joins, uneven tiles) as `idle`, so the parts sum to the total.
#if canImport(Glibc)
  import Glibc
#endif

/// The operations a forward pass is split into for profiling.
public enum ProfileOperation: Int, CaseIterable, Sendable {
  case stem, scoring, gatherNorm, qkv, attention, projection, mlpUp, mlpDown, scatter, merge, head, idle

  /// Short label for tables.
  public var label: String {
    switch self {
    case .stem: "stem"
    case .scoring: "scoring"
    case .gatherNorm: "gather+LN"
    case .qkv: "qkv GEMM"
    case .attention: "attention"
    case .projection: "proj GEMM"
    case .mlpUp: "fc1+GELU"
    case .mlpDown: "fc2 GEMM"
    case .scatter: "scatter"
    case .merge: "merge"
    case .head: "head"
    case .idle: "idle/sync"
    }
  }
}

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// Accumulates time per operation over one or more forward passes (pass it in `ForwardOptions`).
///
/// Not for concurrent forwards: one profiler per forward at a time.
public final class Profiler: @unchecked Sendable {
  /// Workers whose time is recorded (slots `0..<workers`).
  public let workers: Int
  // [workers, ProfileOperation.allCases.count] worker-nanoseconds.
  private var counters: [UInt64]
  private var wall: UInt64 = 0
  /// Forward passes recorded.
  public private(set) var passes = 0

  /// A profiler for up to `workers` concurrent workers.
  public init(workers: Int) {
    precondition(workers > 0, "Profiler: workers \(workers)")
    self.workers = workers
    counters = [UInt64](repeating: 0, count: workers * ProfileOperation.allCases.count)
  }

  /// Clears all counters.
  public func reset() {
    for i in counters.indices { counters[i] = 0 }
    wall = 0
    passes = 0
  }

  /// Seconds per operation, parts summing to the wall time of the profiled regions.
  public var seconds: [ProfileOperation: Double] {
    var result: [ProfileOperation: Double] = [:]
    let opCount = ProfileOperation.allCases.count
    var busyTotal = 0.0
    for op in ProfileOperation.allCases where op != .idle {
      var sum: UInt64 = 0
      for worker in 0..<workers { sum &+= counters[worker * opCount + op.rawValue] }
      let share = Double(sum) / Double(workers) * 1e-9
      result[op] = share
      busyTotal += share
    }
    result[.idle] = max(0, wallSeconds - busyTotal)
    return result
  }

  /// Total wall time of the profiled forward passes, in seconds.
  public var wallSeconds: Double { Double(wall) * 1e-9 }

  /// Records the wall time of one whole forward pass.
  public func recordForward(nanoseconds: UInt64) {
    wall &+= nanoseconds
    passes += 1
  }

  /// Runs `body` on the calling thread and books its time to `op` for worker 0.
  public func time(_ op: ProfileOperation, _ body: () -> Void) {
    let start = monotonicNanoseconds()
    body()
    counters[op.rawValue] &+= monotonicNanoseconds() &- start
  }

  /// Gives a kernel the counters to add worker time to, for the duration of `body`.
  func withCounters<R>(_ body: (WorkerClock) -> R) -> R {
    counters.withUnsafeMutableBufferPointer { buffer in
      body(WorkerClock(counters: buffer.baseAddress, workers: workers))
    }
  }
}

/// What a kernel sees of a profiler: per-worker counters, or nothing when not profiling.
struct WorkerClock {
  let counters: UnsafeMutablePointer<UInt64>?
  let workers: Int

  static var off: WorkerClock { WorkerClock(counters: nil, workers: 0) }

  @inline(__always)
  var isOn: Bool { counters != nil }

  /// Starts a measurement (0 when off, so the clock is never read when not profiling).
  @inline(__always)
  func start() -> UInt64 { counters == nil ? 0 : monotonicNanoseconds() }

  /// Adds the time since `start` to `op` for `worker` and returns the new start.
  @inline(__always)
  @discardableResult
  func lap(_ op: ProfileOperation, worker: Int, since start: UInt64) -> UInt64 {
    guard let counters else { return 0 }
    let now = monotonicNanoseconds()
    counters[(worker % workers) * ProfileOperation.allCases.count + op.rawValue] &+= now &- start
    return now
  }
}
