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
/// Not for concurrent forwards: one profiler per forward at a time. Time is also kept per stage
/// (the forward calls `beginStage`; the stem counts in stage 0, the head in the last stage).
public final class Profiler: @unchecked Sendable {
  /// Workers whose time is recorded (slots `0..<workers`).
  public let workers: Int
  /// Stages time is kept for.
  package static let maximumStages = 8
  // [stage, worker, ProfileOperation] worker-nanoseconds.
  private var counters: [UInt64]
  // [stage] wall nanoseconds.
  private var stageWall: [UInt64]
  private var wall: UInt64 = 0
  private var stage = 0
  private var stageStart: UInt64 = 0
  private var forwardStart: UInt64 = 0
  /// Forward passes recorded.
  public private(set) var passes = 0

  private static var opCount: Int { ProfileOperation.allCases.count }

  /// A profiler for up to `workers` concurrent workers.
  public init(workers: Int) {
    precondition(workers > 0, "Profiler: workers \(workers)")
    self.workers = workers
    counters = [UInt64](repeating: 0, count: Profiler.maximumStages * workers * Profiler.opCount)
    stageWall = [UInt64](repeating: 0, count: Profiler.maximumStages)
  }

  /// Clears all counters.
  public func reset() {
    for i in counters.indices { counters[i] = 0 }
    for i in stageWall.indices { stageWall[i] = 0 }
    wall = 0
    passes = 0
    stage = 0
  }

  /// Seconds per operation, parts summing to the wall time of the profiled forwards.
  public var seconds: [ProfileOperation: Double] {
    var result: [ProfileOperation: Double] = [:]
    for stage in secondsByStage {
      for (op, value) in stage { result[op, default: 0] += value }
    }
    let busy = result.filter { $0.key != .idle }.values.reduce(0, +)
    result[.idle] = max(0, wallSeconds - busy)
    return result
  }

  /// Per stage (index = stage), seconds per operation, parts summing to the stage's wall time.
  public var secondsByStage: [[ProfileOperation: Double]] {
    var stages: [[ProfileOperation: Double]] = []
    let used = stageWall.lastIndex { $0 > 0 }.map { $0 + 1 } ?? 0
    for stage in 0..<used {
      var result: [ProfileOperation: Double] = [:]
      var busy = 0.0
      for op in ProfileOperation.allCases where op != .idle {
        var sum: UInt64 = 0
        for worker in 0..<workers { sum &+= counters[index(stage: stage, worker: worker, op: op)] }
        let share = Double(sum) / Double(workers) * 1e-9
        result[op] = share
        busy += share
      }
      result[.idle] = max(0, Double(stageWall[stage]) * 1e-9 - busy)
      stages.append(result)
    }
    return stages
  }

  /// Total wall time of the profiled forward passes, in seconds.
  public var wallSeconds: Double { Double(wall) * 1e-9 }

  /// Marks the start of stage `stage` of the current forward (closing the previous one).
  package func beginStage(_ stage: Int) {
    let now = monotonicNanoseconds()
    if stage > 0 { stageWall[self.stage] &+= now &- stageStart }
    self.stage = min(max(stage, 0), Profiler.maximumStages - 1)
    stageStart = now
  }

  /// Marks the start of a forward pass (stage 0 starts here too).
  package func beginForward() {
    forwardStart = monotonicNanoseconds()
    stage = 0
    stageStart = forwardStart
  }

  /// Ends the forward pass `beginForward` started: closes its last stage at the same instant, so
  /// the stages' wall times never add up to more than the forward's.
  package func endForward() {
    let now = monotonicNanoseconds()
    stageWall[stage] &+= now &- stageStart
    wall &+= now &- forwardStart
    passes += 1
  }

  /// Runs `body` on the calling thread and books its time to `op` for worker 0.
  package func time(_ op: ProfileOperation, _ body: () -> Void) {
    let start = monotonicNanoseconds()
    body()
    counters[index(stage: stage, worker: 0, op: op)] &+= monotonicNanoseconds() &- start
  }

  private func index(stage: Int, worker: Int, op: ProfileOperation) -> Int {
    (stage * workers + worker) * Profiler.opCount + op.rawValue
  }

  /// Gives a kernel the counters of the current stage to add worker time to, for `body`.
  func withCounters<R>(_ body: (WorkerClock) -> R) -> R {
    let offset = index(stage: stage, worker: 0, op: .stem)
    return counters.withUnsafeMutableBufferPointer { buffer in
      body(WorkerClock(counters: buffer.baseAddress! + offset, workers: workers))
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
