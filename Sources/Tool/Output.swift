// How the commands hand results over: text to stdout as soon as it is ready, files written
// atomically and announced on stderr, progress on a throttled stderr line.
import Foundation
import Models

#if canImport(Glibc)
  import Glibc
#endif

/// Writes `text` to stdout unbuffered, so each table appears as soon as it is measured.
func emit(_ text: String) {
  FileHandle.standardOutput.write(Data(text.utf8))
}

/// Writes `bytes` atomically to `path` and says so on stderr (`what` names the content).
func writeOutput(_ bytes: some Sequence<UInt8>, to path: String, what: String) throws {
  do {
    try writeFileAtomically([UInt8](bytes), to: path)
  } catch {
    throw Failure(error)
  }
  printError("Wrote \(what) to \(path)")
}

/// A status line on stderr: rewritten in place on a terminal (after 2 s, at most 10 times a second),
/// otherwise printed as a plain line at most every 30 s (after 10 s), so CI logs stay short.
final class StatusLine {
  private let isTerminal = isatty(STDERR_FILENO) == 1
  private var last = -Double.infinity
  private var shown = false

  /// Shows `text`, `elapsed` seconds after the work started, when the limits above allow it.
  func show(_ text: @autoclosure () -> String, elapsed: Double) {
    if isTerminal {
      guard elapsed >= 2, elapsed - last >= 0.1 else { return }
      FileHandle.standardError.write(Data("\r\u{1B}[K\(text())".utf8))
      shown = true
    } else {
      guard elapsed >= 10, elapsed - last >= 30 else { return }
      printError(text())
    }
    last = elapsed
  }

  /// Clears the in-place line.
  func finish() {
    if isTerminal && shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    shown = false
  }
}
