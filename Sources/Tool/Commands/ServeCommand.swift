// `sparsevit serve`: a KServe v2 HTTP server (Server target) until SIGTERM or SIGINT, which stop
// accepting, finish the queue and exit 0.
import Engine
import Foundation
import Models
import Server

enum ServeCommand {
  static let host = OptionSpec(
    name: "host", value: "ipv4", help: "Address to bind (default 127.0.0.1: this machine only).")
  static let port = OptionSpec(
    name: "port", value: "n", help: "TCP port (default 8000; 0 picks a free one, printed at start).")
  static let modelName = OptionSpec(
    name: "model-name", value: "name", help: "Model name in URLs, /v2/models/<name> (default sparsevit).")
  static let maxBatch = OptionSpec(name: "max-batch", value: "n", help: "Most images per forward (default 4).")
  static let batchWindow = OptionSpec(
    name: "batch-window-ms", value: "ms", help: "How long a forward waits for more requests of its shape (default 2).")
  static let slo = OptionSpec(
    name: "slo-ms", value: "T", help: "Target latency (queueing included): prune more under load to meet it.")
  static let ladder = OptionSpec(
    name: "ladder", value: "list",
    help: "SLO levels: comma list of ratios, presets or JSON files (default 0,0.2,0.4,0.6,0.8).")
  static let latencyModel = OptionSpec(
    name: "latency-model", value: "file",
    help: "With '--slo-ms': the ladder's latencies from this latency model (a 'search' cache file), not timed.")
  static let apiKeyFile = OptionSpec(
    name: "api-key-file", value: "file", help: "Require 'Authorization: Bearer <key>' (key = the file's first line).")
  static let maxBody = OptionSpec(
    name: "max-body-mb", value: "n", help: "Largest request body in MB (default 64); larger ones get 413.")
  static let maxConnections = OptionSpec(
    name: "max-connections", value: "n", help: "Open connections at most (default 256).")
  static let timeout = OptionSpec(
    name: "timeout-s", value: "s", help: "Close a connection idle this long, e.g. a slow sender (default 10).")
  static let httpThreads = OptionSpec(
    name: "http-threads", value: "n", help: "HTTP threads: parse, queue, answer (default 2).")
  static let memoryBudget = OptionSpec(
    name: "memory-budget-mb", value: "n", help: "Refuse inputs whose forward needs more (default: half of memory).")
  static let quiet = OptionSpec(name: "quiet", value: nil, help: "No per-request log line on stderr.")

  static let spec = CommandSpec(
    name: "serve",
    summary: "Serve the model over HTTP (KServe v2 / Open Inference Protocol), optionally holding a latency SLO.",
    usage: "[--weights <file>] [--host 127.0.0.1] [--port 8000] [--max-batch 4] [--slo-ms T] [options]",
    options: [
      ModelOptions.weights, ModelOptions.modelSeed, ModelOptions.windowSemantics, ModelOptions.threads, host, port,
      modelName, maxBatch, batchWindow, ModelOptions.sparsity, slo, ladder, latencyModel, ImageOptions.size,
      ImageOptions.resize, apiKeyFile, maxBody, maxConnections,
      timeout,
      httpThreads, memoryBudget, quiet,
    ],
    discussion: """
      Endpoints: /v2/health/live, /v2/health/ready, /v2, /v2/models/<name>, /v2/models/<name>/ready,
      POST /v2/models/<name>/infer (JSON or binary tensor data), GET /metrics (Prometheus).
      Inputs: 'images' FP32 [B,3,H,W] normalized, or 'image_bytes' BYTES [B] (JPEG/PNG, base64 in JSON).
      Request parameters: 'sparsity' (ratio, 'dense', preset, 'auto' or the JSON object), 'top_k'.
      '--sparsity' serves requests that name none (without '--slo-ms'; dense by default).

      EXAMPLES:
        sparsevit serve --weights swin_tiny.safetensors --size 672 --threads 2 --slo-ms 600
        curl -s localhost:8000/v2/models/sparsevit
      """)

  static func run(_ options: ServeOptions) throws {
    if case .seeded = options.model {
      printError("serve: no '--weights': serving seeded random Swin-T weights (predictions are meaningless)")
    }
    let model = try ModelOptions.load(options.model, windowSemantics: options.windowSemantics, verbose: true)
    var configuration = options.configuration
    configuration.batching.defaultSparsity = try options.sparsity.map {
      ($0, try ModelOptions.resolveSparsity($0, model: model, spec: spec))
    }
    if configuration.sloSeconds != nil {
      configuration.ladder = try ladderLevels(options.ladder, model: model)
    }
    // SIGTERM/SIGINT only write their number to a pipe (async-signal-safe); this thread waits on it.
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw Failure("cannot create the signal pipe: \(String(cString: strerror(errno)))") }
    signalPipe = fds[1]
    for number in [SIGTERM, SIGINT] { signal(number, onSignal) }
    let server = try InferenceServer(model: model, configuration: configuration) { printError("serve: " + $0) }
    printError(
      "serve: \(configuration.service.modelName) (\(model.configuration.name)) "
        + "on http://\(configuration.host):\(server.port)"
        + (configuration.sloSeconds.map { String(format: ", SLO %.0f ms", $0 * 1000) } ?? ""))
    var received: Int32 = 0
    while read(fds[0], &received, MemoryLayout<Int32>.size) < 0 && errno == EINTR {}
    printError("serve: signal \(received): finishing \(server.engine.queueDepth) queued image(s)")
    server.shutdown()
    printError("serve: stopped")
  }

  /// The ladder's entries resolved against the model, labelled as the responses report them.
  private static func ladderLevels(_ entries: [String], model: SwinTransformer) throws -> [(
    label: String, ratios: PruningRatios
  )] {
    try entries.map { entry in
      do {
        let ratios = try PruningRatios.resolve(entry, depths: model.configuration.depths)
        return (ratios.isDense ? "dense" : (Double(entry) != nil ? "uniform \(entry)" : entry), ratios)
      } catch {
        throw spec.usage("'--ladder' entry '\(entry)': \(error)")
      }
    }
  }
}

/// The options of `serve`, parsed once.
struct ServeOptions {
  let model: ModelSource
  /// `--window-semantics`; nil: the checkpoint's.
  let windowSemantics: WindowSemantics?
  /// `--sparsity` as given (resolved once the model is loaded).
  let sparsity: String?
  /// `--ladder` entries (the uniform ratios 0…0.8 by default); used with `--slo-ms`.
  let ladder: [String]
  /// Everything but the model-dependent parts (default sparsity, ladder).
  let configuration: ServerConfiguration

  init(_ arguments: Arguments) throws(UsageError) {
    typealias S = ServeCommand
    model = try ModelOptions.source(arguments)
    windowSemantics = try ModelOptions.windowSemantics(arguments)
    sparsity = try ModelOptions.sparsityArgument(arguments)
    var configuration = ServerConfiguration()
    configuration.host = arguments.string(S.host) ?? "127.0.0.1"
    configuration.port = try arguments.integer(S.port, default: 8000, in: 0...65535)!
    configuration.batching = BatchingOptions(
      maxBatch: try arguments.integer(S.maxBatch, default: 4, in: 1...256)!,
      windowSeconds: try arguments.number(S.batchWindow, default: 2, in: 0...600_000)! / 1000,
      threads: try ModelOptions.threads(arguments),
      memoryBudget: try arguments.integer(S.memoryBudget, in: 1...(Int.max >> 21)).map { $0 << 20 }
        ?? ForwardOptions.defaultMemoryBudget)
    configuration.sloSeconds = try arguments.number(S.slo, in: 0.001...3_600_000).map { $0 / 1000 }
    for option in [S.ladder, S.latencyModel] where arguments.string(option) != nil && configuration.sloSeconds == nil {
      throw arguments.usage("'--\(option.name)' applies with '--slo-ms'")
    }
    if let path = arguments.string(S.latencyModel) {
      try ModelOptions.requireFile(arguments, S.latencyModel)
      do {
        configuration.latencyModel = try LatencyModel.load(path: path)
      } catch {
        throw arguments.usage("'--latency-model': \(error.description)")
      }
    }
    ladder = (arguments.string(S.ladder) ?? "0,0.2,0.4,0.6,0.8").split(separator: ",").map(String.init)
    if ladder.isEmpty { throw arguments.usage("'--ladder' needs at least one configuration") }
    configuration.http = HTTPLimits(
      maxBodyBytes: try arguments.integer(S.maxBody, default: 64, in: 1...4096)! << 20,
      connectionTimeoutSeconds: try arguments.integer(S.timeout, default: 10, in: 1...3600)!,
      maxConnections: try arguments.integer(S.maxConnections, default: 256, in: 1...100_000)!,
      threads: try arguments.integer(S.httpThreads, default: 2, in: 1...256)!)
    configuration.service.modelName = arguments.string(S.modelName) ?? "sparsevit"
    let name = configuration.service.modelName
    if name.isEmpty || name.contains("/") {
      throw arguments.usage("'--model-name' must be a non-empty name without '/'")
    }
    configuration.service.preprocessing = try ImageOptions.preprocessing(arguments)
    configuration.service.logRequests = !arguments.flag(S.quiet)
    configuration.service.apiKey = try Self.apiKey(arguments)
    self.configuration = configuration
  }

  /// The first line of `--api-key-file`, trimmed; a usage error when the file is missing or empty.
  private static func apiKey(_ arguments: Arguments) throws(UsageError) -> String? {
    guard let path = arguments.string(ServeCommand.apiKeyFile) else { return nil }
    try ModelOptions.requireFile(arguments, ServeCommand.apiKeyFile)
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw arguments.usage("'--api-key-file': cannot read '\(path)' as UTF-8 text")
    }
    let key = text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    if key.isEmpty { throw arguments.usage("'--api-key-file': '\(path)' holds no key on its first line") }
    return key
  }
}

/// Write end of the pipe `serve` waits on for a signal.
nonisolated(unsafe) private var signalPipe: Int32 = -1

private func onSignal(_ number: Int32) {
  var value = number
  _ = write(signalPipe, &value, MemoryLayout<Int32>.size)
}
