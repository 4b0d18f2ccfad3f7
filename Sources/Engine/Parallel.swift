// Fork-join over the engine's own workers. Every parallel region in a forward pass goes through
// `parallelParts`, so the thread count a caller asks for is the number of workers that run.
import Dispatch

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

/// Runs `body(part)` for every `part` in `0..<parts`, concurrently when `parts > 1`, and returns
/// when all have finished. `body` must only write memory that no other part touches.
///
/// `body` is not `@Sendable`: kernels capture the pointers of their scoped buffers, which stay valid
/// because this call does not return before every part has finished (fork–join).
@inline(__always)
func parallelParts(_ parts: Int, _ body: (Int) -> Void) {
  if parts <= 1 {
    body(0)
    return
  }
  withoutActuallyEscaping(body) { body in
    let shared = ForkJoinBody(body: body)
    DispatchQueue.concurrentPerform(iterations: parts) { shared.body($0) }
  }
}

/// Carries a fork–join body to the workers; sound only because `parallelParts` joins before returning.
private struct ForkJoinBody: @unchecked Sendable {
  let body: (Int) -> Void
}

/// The half-open range of `0..<count` that part `part` of `parts` owns: contiguous, sizes differ by ≤ 1.
@inline(__always)
func partRange(_ count: Int, part: Int, parts: Int) -> Range<Int> {
  let lower = count * part / parts
  let upper = count * (part + 1) / parts
  return lower..<upper
}

/// Like `partRange`, but every boundary except the last is a multiple of `alignment`.
@inline(__always)
func alignedPartRange(_ count: Int, part: Int, parts: Int, alignment: Int) -> Range<Int> {
  let blocks = (count + alignment - 1) / alignment
  let lower = min(count, blocks * part / parts * alignment)
  let upper = min(count, blocks * (part + 1) / parts * alignment)
  return lower..<upper
}
