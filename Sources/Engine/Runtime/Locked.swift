// A value behind a pthread mutex (`NSLock`), for state that threads share (the model's workspace
// pool, the server's requests). Used rather than `Synchronization.Mutex`: ThreadSanitizer does not
// see that Mutex's futex fast path on Linux, and reported the concurrent-forward tests' workspace
// checkouts, two `withLock` bodies, as a race.
import Foundation

package final class Locked<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value

  package init(_ value: Value) { self.value = value }

  /// Runs `body` on the value with the lock held.
  package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }
}
