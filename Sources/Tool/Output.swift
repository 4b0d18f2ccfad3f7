// How the commands hand results over: text to stdout as soon as it is ready, files written
// atomically and announced on stderr.
import Foundation
import Models

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
