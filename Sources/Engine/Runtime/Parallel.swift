// Fork-join over the engine's own workers. Every parallel region in a forward pass goes through
// `parallelParts`, so the thread count a caller asks for is the number of workers that run.
// A persistent pool (threads parked on a condition variable, a short spin before parking) serves
// one forward at a time without allocating; a second, concurrent forward falls back to Dispatch,
// so concurrent calls never wait for each other.
import CKernels
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The number of processors the engine uses when a caller does not say.
public var defaultThreadCount: Int {
  #if canImport(Glibc)
    let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    return max(1, Int(online))
  #else
    return 1
  #endif
}

/// A part of a fork–join region: `task(context, part)`. A C function pointer, so the closure
/// literal given for it cannot capture anything: all state travels in `context`, and handing the
/// task to other threads allocates nothing.
typealias PartTask = @convention(c) (UnsafeMutableRawPointer, Int) -> Void

/// Runs `task(&context, part)` for every `part` in `0..<parts`, concurrently when `parts > 1`, and
/// returns when all have finished. Each part must only write memory no other part touches; the
/// context is shared (read-only while the region runs). No allocation on the pool path.
@inline(__always)
func parallelParts<Context>(
  _ parts: Int, _ context: inout Context, _ task: @convention(c) (UnsafeMutableRawPointer, Int) -> Void
) {
  withUnsafeMutablePointer(to: &context) { pointer in
    let raw = UnsafeMutableRawPointer(pointer)
    if parts <= 1 {
      task(raw, 0)
    } else if !WorkerPool.shared.run(parts, raw, task) {
      // Another forward holds the pool: fork through Dispatch instead (allocates, never waits).
      let shared = ForkJoinContext(context: raw, task: task)
      DispatchQueue.concurrentPerform(iterations: parts) { shared.task(shared.context, $0) }
    }
  }
}

/// Typed access to a fork–join context inside a `PartTask`.
@inline(__always)
func forkContext<Context>(_ raw: UnsafeMutableRawPointer, as type: Context.Type) -> UnsafeMutablePointer<Context> {
  raw.assumingMemoryBound(to: Context.self)
}

/// Carries a region to Dispatch's workers; sound only because the caller joins before returning.
private struct ForkJoinContext: @unchecked Sendable {
  let context: UnsafeMutableRawPointer
  let task: PartTask
}

/// Persistent worker threads for fork–join regions. The calling thread takes part too, so a region
/// of `n` parts uses `n − 1` pool threads. One region at a time: `run` returns false when another
/// thread's region holds the pool (the caller then uses Dispatch).
final class WorkerPool: @unchecked Sendable {
  static let shared = WorkerPool()

  /// PAUSE-spins (about 100 µs: ~40–140 cycles each) before a worker parks: forward passes fork
  /// every block, and a parked worker costs a futex wake (tens of µs under a hypervisor) to resume.
  private static let spinLimit = 2_000

  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let wake: UnsafeMutablePointer<pthread_cond_t>
  /// Held by the thread whose region is running.
  private let busy = Atomic<Bool>(false)
  /// Bumped (under `mutex`) to start a region.
  private let generation = Atomic<UInt64>(0)
  private let nextPart = Atomic<Int>(0)
  private let finished = Atomic<Int>(0)
  // Written by the region's caller before `generation` is bumped, read by workers after.
  private var task: PartTask?
  private var context: UnsafeMutableRawPointer?
  private var parts = 0
  private var workers = 0

  private init() {
    mutex = .allocate(capacity: 1)
    wake = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(wake, nil)
  }

  /// Runs a region on the pool; false (nothing run) when the pool is busy with another region.
  func run(_ parts: Int, _ context: UnsafeMutableRawPointer, _ task: PartTask) -> Bool {
    guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
    defer { busy.store(false, ordering: .releasing) }
    while workers < parts - 1 { spawnWorker() }
    self.task = task
    self.context = context
    self.parts = parts
    nextPart.store(0, ordering: .relaxed)
    finished.store(0, ordering: .relaxed)
    pthread_mutex_lock(mutex)
    generation.add(1, ordering: .releasing)
    pthread_cond_broadcast(wake)
    pthread_mutex_unlock(mutex)
    claimParts(task, context, parts)
    // Every worker wakes for every region; wait until all have left it before the context goes away.
    var spins = 0
    while finished.load(ordering: .acquiring) < workers {
      spins += 1
      if spins > 1000 { sched_yield() } else { ck_spin_pause() }
    }
    self.task = nil
    self.context = nil
    return true
  }

  @inline(__always)
  private func claimParts(_ task: PartTask, _ context: UnsafeMutableRawPointer, _ parts: Int) {
    while true {
      let part = nextPart.add(1, ordering: .relaxed).oldValue
      if part >= parts { return }
      task(context, part)
    }
  }

  private func spawnWorker() {
    workers += 1
    let seen = generation.load(ordering: .acquiring)
    let thread = Thread { [unowned self] in self.workerLoop(seen: seen) }
    thread.stackSize = 1 << 20
    thread.start()
  }

  private func workerLoop(seen initial: UInt64) {
    var seen = initial
    while true {
      var spins = 0
      while generation.load(ordering: .acquiring) == seen && spins < WorkerPool.spinLimit {
        spins += 1
        ck_spin_pause()
      }
      if generation.load(ordering: .acquiring) == seen {
        pthread_mutex_lock(mutex)
        while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, mutex) }
        pthread_mutex_unlock(mutex)
      }
      seen = generation.load(ordering: .acquiring)
      if let task, let context { claimParts(task, context, parts) }
      finished.add(1, ordering: .releasing)
    }
  }
}

/// The half-open range of `0..<count` that part `part` of `parts` owns: contiguous, sizes differ by ≤ 1.
@inline(__always)
func partRange(_ count: Int, part: Int, parts: Int) -> Range<Int> {
  let lower = count * part / parts
  let upper = count * (part + 1) / parts
  return lower..<upper
}

/// Like `partRange`, but the `count mod parts` parts one larger come first. Workers that claim
/// parts in order then finish together: 14 windows in 8 tiles on 2 workers as 2,2,2,2,2,2,1,1 end
/// after 7 windows each, while `partRange`'s 1,2,2,2,1,2,2,2 keep one worker busy for 8.
@inline(__always)
func largerFirstPartRange(_ count: Int, part: Int, parts: Int) -> Range<Int> {
  let base = count / parts, extra = count % parts
  let lower = part * base + min(part, extra)
  return lower..<(lower + base + (part < extra ? 1 : 0))
}

/// Like `partRange`, but every boundary except the last is a multiple of `alignment`.
@inline(__always)
func alignedPartRange(_ count: Int, part: Int, parts: Int, alignment: Int) -> Range<Int> {
  let blocks = (count + alignment - 1) / alignment
  let lower = min(count, blocks * part / parts * alignment)
  let upper = min(count, blocks * (part + 1) / parts * alignment)
  return lower..<upper
}
