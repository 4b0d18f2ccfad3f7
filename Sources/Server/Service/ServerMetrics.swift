// Counters behind `GET /metrics` (Prometheus text format 0.0.4): requests by endpoint and code, the
// infer latency histogram, queue depth, batch sizes and the requests served at each pruning level.
import Foundation

public final class ServerMetrics: @unchecked Sendable {
  /// Upper bounds (seconds) of the latency histogram's buckets.
  public static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

  private let lock = NSLock()
  private var requests: [String: [Int: Int]] = [:]
  private var latencyCounts = Array(repeating: 0, count: latencyBuckets.count + 1)
  private var latencySum = 0.0
  private var batches: [Int: Int] = [:]
  private var levels: [String: Int] = [:]

  public init() {}

  /// One answered request on `endpoint` (health, metadata, infer, metrics, other).
  public func recordRequest(endpoint: String, status: Int, seconds: Double) {
    lock.withLock {
      requests[endpoint, default: [:]][status, default: 0] += 1
      guard endpoint == "infer", status == 200 else { return }
      let bucket = Self.latencyBuckets.firstIndex { seconds <= $0 } ?? Self.latencyBuckets.count
      latencyCounts[bucket] += 1
      latencySum += seconds
    }
  }

  func recordBatch(images: Int) { lock.withLock { batches[images, default: 0] += 1 } }

  func recordLevel(_ label: String, requests: Int) { lock.withLock { levels[label, default: 0] += requests } }

  /// Requests served per pruning level label so far.
  public var levelCounts: [String: Int] { lock.withLock { levels } }

  /// The exposition text; `queueDepth` and `level` are read by the caller at scrape time.
  public func render(queueDepth: Int, level: (index: Int, name: String)?) -> String {
    lock.withLock {
      var lines: [String] = []
      lines.append("# HELP sparsevit_requests_total HTTP requests answered, by endpoint and status code.")
      lines.append("# TYPE sparsevit_requests_total counter")
      for endpoint in requests.keys.sorted() {
        for (code, count) in requests[endpoint]!.sorted(by: { $0.key < $1.key }) {
          lines.append("sparsevit_requests_total{endpoint=\"\(endpoint)\",code=\"\(code)\"} \(count)")
        }
      }
      lines.append("# HELP sparsevit_infer_latency_seconds Successful infer requests, arrival to answer.")
      lines.append("# TYPE sparsevit_infer_latency_seconds histogram")
      var cumulative = 0
      for (index, bound) in Self.latencyBuckets.enumerated() {
        cumulative += latencyCounts[index]
        lines.append("sparsevit_infer_latency_seconds_bucket{le=\"\(bound)\"} \(cumulative)")
      }
      cumulative += latencyCounts[Self.latencyBuckets.count]
      lines.append("sparsevit_infer_latency_seconds_bucket{le=\"+Inf\"} \(cumulative)")
      lines.append("sparsevit_infer_latency_seconds_sum \(latencySum)")
      lines.append("sparsevit_infer_latency_seconds_count \(cumulative)")
      lines.append("# HELP sparsevit_queue_images Images waiting for a forward.")
      lines.append("# TYPE sparsevit_queue_images gauge")
      lines.append("sparsevit_queue_images \(queueDepth)")
      lines.append("# HELP sparsevit_batches_total Forwards run, by images per forward.")
      lines.append("# TYPE sparsevit_batches_total counter")
      for (size, count) in batches.sorted(by: { $0.key < $1.key }) {
        lines.append("sparsevit_batches_total{size=\"\(size)\"} \(count)")
      }
      lines.append("# HELP sparsevit_level_requests_total Infer requests served, by pruning configuration.")
      lines.append("# TYPE sparsevit_level_requests_total counter")
      for (name, count) in levels.sorted(by: { $0.key < $1.key }) {
        lines.append("sparsevit_level_requests_total{level=\"\(escape(name))\"} \(count)")
      }
      if let level {
        lines.append("# HELP sparsevit_slo_level Ladder level in use (0 = dense).")
        lines.append("# TYPE sparsevit_slo_level gauge")
        lines.append("sparsevit_slo_level{name=\"\(escape(level.name))\"} \(level.index)")
      }
      return lines.joined(separator: "\n") + "\n"
    }
  }

  private func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
      .replacingOccurrences(of: "\n", with: "\\n")
  }
}
