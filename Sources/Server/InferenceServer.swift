// `sparsevit serve` as a library: the model, the batching engine (and the SLO ladder), the KServe v2
// service and the HTTP server, started together and stopped in order (stop accepting, finish the
// queue, answer every accepted request, close).
import Engine
import Foundation
import Models

/// Everything the server needs to start.
public struct ServerConfiguration: Sendable {
  /// IPv4 address to bind (loopback by default).
  public var host: String = "127.0.0.1"
  /// TCP port; 0 lets the kernel choose (read `InferenceServer.port`).
  public var port: Int = 8000
  public var http = HTTPLimits()
  public var batching = BatchingOptions()
  public var service = ServiceOptions()
  /// Target p95 latency in seconds (queueing included); nil: no SLO, every batch at the default.
  public var sloSeconds: Double?
  /// The ladder's configurations, dense first (ordered again by measured latency at startup).
  public var ladder: [(label: String, ratios: PruningRatios)] = []
  /// When set, the ladder's latencies are this model's predictions instead of startup timings.
  public var latencyModel: LatencyModel?

  public init() {}
}

/// A running server.
public final class InferenceServer: @unchecked Sendable {
  public let engine: BatchingEngine
  public let service: InferenceService
  public let metrics: ServerMetrics
  private let http: HTTPServer

  /// Starts serving `model`. With an SLO, first times each ladder level (batch 1 at the preprocessing
  /// size: 1 warm-up and 3 timed runs, the fastest kept) or takes `latencyModel`'s predictions;
  /// `progress` receives one line per level.
  public init(
    model: SwinTransformer, configuration: ServerConfiguration, progress: (String) -> Void = { _ in }
  ) throws {
    metrics = ServerMetrics()
    var ladder: SparsityLadder? = nil
    if let slo = configuration.sloSeconds {
      ladder = try Self.ladder(model: model, configuration: configuration, slo: slo, progress: progress)
    }
    engine = BatchingEngine(model: model, options: configuration.batching, ladder: ladder, metrics: metrics)
    let service = InferenceService(options: configuration.service, engine: engine, metrics: metrics)
    self.service = service
    do {
      http = try HTTPServer(host: configuration.host, port: configuration.port, limits: configuration.http) {
        request, responder in service.handle(request, responder)
      }
    } catch {
      engine.drain()
      throw error
    }
  }

  /// The port the server listens on.
  public var port: Int { http.port }

  /// HTTP connections open now.
  public var openConnections: Int { http.openConnections }

  /// Stops accepting connections, runs what is queued, waits (up to `grace` seconds) until every
  /// accepted request is answered, then closes.
  public func shutdown(grace: Double = 30) {
    service.beginDraining()
    http.stopAccepting()
    engine.drain()
    let deadline = Date(timeIntervalSinceNow: grace)
    while http.requestsInFlight > 0 && Date() < deadline { usleep(2_000) }
    http.stop()
  }

  private static func ladder(
    model: SwinTransformer, configuration: ServerConfiguration, slo: Double, progress: (String) -> Void
  ) throws -> SparsityLadder {
    var width = configuration.service.preprocessing.size
    var height = width
    if let latency = configuration.latencyModel {
      guard latency.depths == model.configuration.depths else {
        throw HTTPServerError(
          description: "the latency model is for depths \(latency.depths), the model has \(model.configuration.depths)")
      }
      height = latency.key.height
      width = latency.key.width
    }
    let levels = try configuration.ladder.map { entry in
      let seconds =
        try configuration.latencyModel.map { $0.predictedSeconds(entry.ratios) / Double($0.key.batch) }
        ?? time(model, entry.ratios, size: width, threads: configuration.batching.threads)
      let source = configuration.latencyModel == nil ? "measured" : "predicted"
      progress(
        String(
          format: "level %@: %.1f ms per image at %d×%d (%@)", entry.label, seconds * 1000, width, height, source))
      return SparsityLevel(name: entry.label, ratios: entry.ratios, secondsPerImage: seconds)
    }
    let ladder = SparsityLadder(levels: levels, sloSeconds: slo, calibrationPixels: width * height)
    if !ladder.dropped.isEmpty {
      progress("left out (not faster than a less sparse level): \(ladder.dropped.joined(separator: ", "))")
    }
    return ladder
  }

  private static func time(_ model: SwinTransformer, _ ratios: PruningRatios, size: Int, threads: Int) throws -> Double
  {
    let input = Tensor(shape: [1, model.configuration.inputChannels, size, size], repeating: 0)
    var best = Double.infinity
    for run in 0..<4 {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = try model.forward(input, sparsity: ratios, options: ForwardOptions(threads: threads))
      if run > 0 { best = min(best, seconds(since: start)) }
    }
    return best
  }
}
