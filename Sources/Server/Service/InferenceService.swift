// The KServe v2 REST endpoints on top of the HTTP server: health, metadata, readiness, infer and
// metrics, with the API key check and one log line per request. Runs on the HTTP threads: it parses,
// queues and answers; the forward runs on the batching engine's thread.
import Engine
import Foundation
import Models

/// Settings of the service (what the command line sets).
public struct ServiceOptions: Sendable {
  /// The model's name in URLs (`/v2/models/{name}`).
  public var modelName: String
  /// `Authorization: Bearer <key>` required on every endpoint but health (nil: open).
  public var apiKey: String?
  /// Side of the square `image_bytes` inputs are resized and cropped to.
  public var preprocessing: ImagePreprocessing
  /// Largest decoded image (pixels), checked from the file's header before decoding.
  public var maxImagePixels: Int
  /// Most images in one request.
  public var maxImagesPerRequest: Int
  /// One JSON line per request on stderr.
  public var logRequests: Bool

  public init(
    modelName: String = "sparsevit", apiKey: String? = nil, preprocessing: ImagePreprocessing = .standard,
    maxImagePixels: Int = 40_000_000, maxImagesPerRequest: Int = 64, logRequests: Bool = true
  ) {
    self.modelName = modelName
    self.apiKey = apiKey
    self.preprocessing = preprocessing
    self.maxImagePixels = maxImagePixels
    self.maxImagesPerRequest = maxImagesPerRequest
    self.logRequests = logRequests
  }
}

/// Routes requests; `handle` is the HTTP server's handler.
public final class InferenceService: @unchecked Sendable {
  public let options: ServiceOptions
  public let engine: BatchingEngine
  public let metrics: ServerMetrics
  private let draining = Locked(false)
  var model: SwinTransformer { engine.model }

  public init(options: ServiceOptions, engine: BatchingEngine, metrics: ServerMetrics) {
    self.options = options
    self.engine = engine
    self.metrics = metrics
  }

  /// From now on infer and readiness answer 503; queued work still completes.
  public func beginDraining() { draining.withLock { $0 = true } }

  var isDraining: Bool { draining.withLock { $0 } }

  /// Answers `request` through `responder` (now, or when its forward is done).
  public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
    let start = DispatchTime.now().uptimeNanoseconds
    let endpoint = Self.endpoint(request.path)
    let answer: @Sendable (HTTPResponse, JobResult?) -> Void = { [self] response, result in
      // Counted and logged before it is sent: a client that reads /metrics next sees its request.
      let elapsed = seconds(since: start)
      metrics.recordRequest(endpoint: endpoint, status: response.status, seconds: elapsed)
      if options.logRequests { log(request, response, endpoint: endpoint, seconds: elapsed, result: result) }
      responder.send(response)
    }
    if !endpoint.hasPrefix("health"), let key = options.apiKey {
      guard let header = request.headers["authorization"], constantTimeEqual(header, "Bearer " + key) else {
        var response = HTTPResponse.error(401, "missing or wrong API key (send 'Authorization: Bearer <key>')")
        response.headers.append(("WWW-Authenticate", "Bearer"))
        return answer(response, nil)
      }
    }
    do throws(RequestError) {
      try route(request, endpoint: endpoint, answer: answer)
    } catch {
      answer(.error(error.status, error.message), nil)
    }
  }

  private func route(
    _ request: HTTPRequest, endpoint: String, answer: @escaping @Sendable (HTTPResponse, JobResult?) -> Void
  ) throws(RequestError) {
    let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    let method = request.method
    func expect(_ allowed: String) throws(RequestError) {
      guard method == allowed || (allowed == "GET" && method == "HEAD") else {
        throw RequestError(405, "\(shown(request.path)) accepts \(allowed), not \(shown(method))")
      }
    }
    switch parts {
    case ["v2", "health", "live"]:
      try expect("GET")
      answer(HTTPResponse(status: 200), nil)
    case ["v2", "health", "ready"]:
      try expect("GET")
      answer(isDraining ? .error(503, "the server is shutting down") : HTTPResponse(status: 200), nil)
    case ["v2"]:
      try expect("GET")
      answer(.json(200, ServiceMetadata.server()), nil)
    case ["metrics"]:
      try expect("GET")
      let ladder = engine.ladder.map { ladder in (ladder.currentLevel, ladder.levels[ladder.currentLevel].name) }
      let text = metrics.render(queueDepth: engine.queueDepth, level: ladder)
      answer(
        HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(text.utf8)), nil
      )
    default:
      guard parts.count >= 3, parts[0] == "v2", parts[1] == "models" else {
        throw RequestError(404, "no such endpoint: \(shown(request.path))")
      }
      var rest = Array(parts.dropFirst(3))
      guard parts[2] == options.modelName else { throw RequestError(404, "unknown model '\(shown(parts[2]))'") }
      if rest.count >= 2, rest[0] == "versions" {
        guard rest[1] == "1" else {
          throw RequestError(404, "model '\(shown(parts[2]))' has no version '\(shown(rest[1]))'")
        }
        rest.removeFirst(2)
      }
      switch rest {
      case []:
        try expect("GET")
        answer(.json(200, ServiceMetadata.model(name: options.modelName, model: model)), nil)
      case ["ready"]:
        try expect("GET")
        answer(isDraining ? .error(503, "the server is shutting down") : HTTPResponse(status: 200), nil)
      case ["infer"]:
        try expect("POST")
        try infer(request, answer: answer)
      default:
        throw RequestError(404, "no such endpoint: \(shown(request.path))")
      }
    }
  }

  private func infer(
    _ request: HTTPRequest, answer: @escaping @Sendable (HTTPResponse, JobResult?) -> Void
  ) throws(RequestError) {
    guard !isDraining else { throw RequestError(503, "the server is shutting down") }
    if let encoding = request.headers["content-encoding"], encoding != "identity" {
      throw RequestError(415, "Content-Encoding '\(shown(encoding))' is not supported")
    }
    let decoded = try InferenceRequestDecoder.decode(
      body: request.body, headerLength: request.headers["inference-header-content-length"])
    let plan = try InferencePlan(decoded, service: self)
    let job = InferenceJob(images: plan.images, sparsity: plan.sparsity, collectStages: plan.wantsStages) {
      [self] result in
      switch result {
      case .success(let output): answer(plan.response(output, modelName: options.modelName), output)
      case .failure(let error): answer(.error(400, error.description), nil)
      }
    }
    guard engine.submit(job) else { throw RequestError(503, "the server is shutting down") }
  }

  static func endpoint(_ path: String) -> String {
    if path.hasPrefix("/v2/health/") { return "health" }
    if path == "/metrics" { return "metrics" }
    if path.hasPrefix("/v2/models/") && path.hasSuffix("/infer") { return "infer" }
    if path == "/v2" || path.hasPrefix("/v2/models/") { return "metadata" }
    return "other"
  }

  private func log(
    _ request: HTTPRequest, _ response: HTTPResponse, endpoint: String, seconds: Double, result: JobResult?
  ) {
    var fields: [String: Any] = [
      "time": ISO8601DateFormatter().string(from: Date()), "method": request.method, "path": request.path,
      "status": response.status, "ms": (seconds * 1e4).rounded() / 10, "bytes_in": request.body.count,
      "bytes_out": response.body.count, "endpoint": endpoint,
    ]
    if let result {
      fields["sparsity"] = result.sparsityLabel
      fields["batch"] = result.batchImages
      fields["queue_ms"] = (result.queueSeconds * 1e4).rounded() / 10
    }
    if response.status >= 400, let text = String(bytes: response.body, encoding: .utf8) { fields["error"] = text }
    guard
      let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
    else { return }
    FileHandle.standardError.write(data + Data("\n".utf8))
  }
}

/// Whether `a` equals `b`, in time that depends on their lengths only (not on where they differ).
public func constantTimeEqual(_ a: String, _ b: String) -> Bool {
  let left = Array(a.utf8)
  let right = Array(b.utf8)
  var difference = UInt8(truncatingIfNeeded: left.count ^ right.count) | (left.count == right.count ? 0 : 1)
  for index in 0..<max(left.count, right.count) {
    let x = index < left.count ? left[index] : 0
    let y = index < right.count ? right[index] : 0
    difference |= x ^ y
  }
  return difference == 0
}
