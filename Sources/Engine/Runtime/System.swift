// The operating system's own description of itself, for benchmark headers (the pointer reading of
// `uname`'s fixed-size C strings stays in Engine).
import Foundation

/// `uname` system name, release and machine, e.g. "Linux 6.1.0 x86_64" (Foundation's version
/// string when `uname` fails).
package func operatingSystemName() -> String {
  var names = utsname()
  guard uname(&names) == 0 else { return ProcessInfo.processInfo.operatingSystemVersionString }
  func text<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
  }
  return "\(text(names.sysname)) \(text(names.release)) \(text(names.machine))"
}
