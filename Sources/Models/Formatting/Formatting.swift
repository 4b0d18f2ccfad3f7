// Numbers as the reports, errors and pictures print them, each written once.
import Foundation

/// A ratio with at most three decimals and no trailing zeros: `0`, `0.3`, `0.125`.
public func formatRatio(_ ratio: Double) -> String {
  var text = String(Double((ratio * 1000).rounded()) / 1000)
  if text.hasSuffix(".0") { text.removeLast(2) }
  return text
}

/// Bytes in binary units, as /proc and `free` count them; `Int.max` stands for an overflow.
public func formatBytes(_ bytes: Int) -> String {
  if bytes == Int.max { return "more than any machine has" }
  let value = Double(bytes)
  if value >= 0x1p40 { return String(format: "%.1f TiB", value / 0x1p40) }
  if value >= 0x1p30 { return String(format: "%.1f GiB", value / 0x1p30) }
  return String(format: "%.0f MiB", value / 0x1p20)
}

/// `1m23s` or `12.3 s`.
public func formatDuration(_ seconds: Double) -> String {
  if seconds < 60 { return String(format: "%.1f s", seconds) }
  let whole = Int(seconds.rounded())
  return "\(whole / 60)m\(String(format: "%02d", whole % 60))s"
}

/// `seconds` as "123.4 ms" (two decimals below 10 ms).
public func formatMilliseconds(_ seconds: Double) -> String {
  let value = seconds * 1000
  return value < 10
    ? "\(Double(Int((value * 100).rounded())) / 100) ms"
    : "\(Double(Int((value * 10).rounded())) / 10) ms"
}
