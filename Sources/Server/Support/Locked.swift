// A value behind a pthread mutex (`NSLock`). The server's shared state uses it rather than
// `Synchronization.Mutex`: ThreadSanitizer does not see that Mutex's futex fast path on Linux and
// reported a race between two `withLock` bodies of the engine's workspace pool (see `WorkspacePool`).
import Foundation

final class Locked<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value

  init(_ value: Value) { self.value = value }

  /// Runs `body` on the value with the lock held.
  func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }
}
