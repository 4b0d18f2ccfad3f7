// `sparsevit serve`: a KServe v2 HTTP server (Server target) until SIGTERM or SIGINT, which stop
// accepting, finish the queue and exit 0.
import Engine
import Foundation
import Models
import Server

enum ServeCommand {
  static let spec = CommandSpec(
    name: "serve",
    summary: "Serve the model over HTTP (KServe v2 / Open Inference Protocol), optionally holding a latency SLO.",
    usage: "[--weights <file>] [--host 127.0.0.1] [--port 8000] [--max-batch 4] [--slo-ms T] [options]",
    options: [
      ModelOptions.weights, ModelOptions.seed, ModelOptions.threads,
      OptionSpec(name: "host", value: "ipv4", help: "Address to bind (default 127.0.0.1: this machine only)."),
      OptionSpec(name: "port", value: "n", help: "TCP port (default 8000; 0 picks a free one, printed at start)."),
      OptionSpec(name: "model-name", value: "name", help: "Model name in URLs, /v2/models/<name> (default sparsevit)."),
      OptionSpec(name: "max-batch", value: "n", help: "Most images per forward (default 4)."),
      OptionSpec(name: "batch-window-ms", value: "ms", help: "How long a forward waits for more requests of its shape (default 2)."),
      OptionSpec(
        name: "sparsity", value: "cfg",
        help: "Configuration of requests that name none, without '--slo-ms' (ratio, 'dense', preset, JSON file)."),
      OptionSpec(name: "slo-ms", value: "T", help: "Target latency (queueing included): prune more under load to meet it."),
      OptionSpec(
        name: "ladder", value: "list",
        help: "SLO levels: comma list of ratios, presets or JSON files (default 0,0.2,0.4,0.6,0.8)."),
      ImageOptions.size, ImageOptions.resize,
      OptionSpec(name: "api-key-file", value: "file", help: "Require 'Authorization: Bearer <key>' (key = the file's first line)."),
      OptionSpec(name: "max-body-mb", value: "n", help: "Largest request body in MB (default 64); larger ones get 413."),
      OptionSpec(name: "max-connections", value: "n", help: "Open connections at most (default 256)."),
      OptionSpec(name: "timeout-s", value: "s", help: "Close a connection idle this long, e.g. a slow sender (default 10)."),
      OptionSpec(name: "http-threads", value: "n", help: "HTTP threads: parse, queue, answer (default 2)."),
      OptionSpec(name: "memory-budget-mb", value: "n", help: "Refuse inputs whose forward needs more (default: half of memory)."),
      OptionSpec(name: "quiet", value: nil, help: "No per-request log line on stderr."),
    ],
    discussion: """
      Endpoints: /v2/health/live, /v2/health/ready, /v2, /v2/models/<name>, /v2/models/<name>/ready,
      POST /v2/models/<name>/infer (JSON or binary tensor data), GET /metrics (Prometheus).
      Inputs: 'images' FP32 [B,3,H,W] normalized, or 'image_bytes' BYTES [B] (JPEG/PNG, base64 in JSON).
      Request parameters: 'sparsity' (ratio, 'dense', preset, 'auto' or the JSON object), 'top_k'.

      EXAMPLES:
        sparsevit serve --weights swin_tiny.safetensors --size 672 --threads 2 --slo-ms 600
        curl -s localhost:8000/v2/models/sparsevit
      """)

  static func run(_ arguments: Arguments) throws {
    let configuration = try serverConfiguration(arguments)
    try ModelOptions.requireFiles(arguments)
    if arguments.string("weights") == nil {
      printError("serve: no '--weights': serving seeded random Swin-T weights (predictions are meaningless)")
    }
    let model = try ModelOptions.model(arguments, verbose: true)
    var resolved = configuration
    resolved.batching.defaultSparsity = try ModelOptions.sparsity(arguments, model: model).map {
      (arguments.string("sparsity")!, $0)
    }
    if resolved.sloSeconds != nil {
      resolved.ladder = try ladder(arguments, model: model)
    }
    // SIGTERM/SIGINT only write their number to a pipe (async-signal-safe); this thread waits on it.
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw Failure("cannot create the signal pipe: \(String(cString: strerror(errno)))") }
    signalPipe = fds[1]
    for number in [SIGTERM, SIGINT] { signal(number, onSignal) }
    let server = try InferenceServer(model: model, configuration: resolved) { printError("serve: " + $0) }
    printError(
      "serve: \(resolved.service.modelName) (\(model.configuration.name)) on http://\(resolved.host):\(server.port)"
        + (resolved.sloSeconds.map { String(format: ", SLO %.0f ms", $0 * 1000) } ?? ""))
    var received: Int32 = 0
    while read(fds[0], &received, MemoryLayout<Int32>.size) < 0 && errno == EINTR {}
    printError("serve: signal \(received): finishing \(server.engine.queueDepth) queued image(s)")
    server.shutdown()
    printError("serve: stopped")
  }

  private static func serverConfiguration(_ arguments: Arguments) throws -> ServerConfiguration {
    var configuration = ServerConfiguration()
    configuration.host = arguments.string("host") ?? "127.0.0.1"
    configuration.port = try arguments.integer("port", default: 8000, in: 0...65535)!
    let threads = try ModelOptions.threads(arguments)
    configuration.batching = BatchingOptions(
      maxBatch: try arguments.integer("max-batch", default: 4, in: 1...256)!,
      windowSeconds: try arguments.number("batch-window-ms", default: 2, in: 0...600_000)! / 1000, threads: threads,
      memoryBudget: try arguments.integer("memory-budget-mb", in: 1...Int.max >> 21).map { $0 << 20 }
        ?? ForwardOptions.defaultMemoryBudget)
    configuration.sloSeconds = try arguments.number("slo-ms", in: 0.001...3_600_000).map { $0 / 1000 }
    if arguments.string("ladder") != nil && configuration.sloSeconds == nil {
      throw arguments.usage("'--ladder' applies with '--slo-ms'")
    }
    configuration.http = HTTPLimits(
      maxBodyBytes: try arguments.integer("max-body-mb", default: 64, in: 1...4096)! << 20,
      connectionTimeoutSeconds: try arguments.integer("timeout-s", default: 10, in: 1...3600)!,
      maxConnections: try arguments.integer("max-connections", default: 256, in: 1...100_000)!,
      threads: try arguments.integer("http-threads", default: 2, in: 1...256)!)
    configuration.service.modelName = arguments.string("model-name") ?? "sparsevit"
    guard !configuration.service.modelName.isEmpty, !configuration.service.modelName.contains("/") else {
      throw arguments.usage("'--model-name' must be a non-empty name without '/'")
    }
    configuration.service.preprocessing = try ImageOptions.preprocessing(arguments)
    configuration.service.logRequests = !arguments.flag("quiet")
    if let keyFile = arguments.string("api-key-file") {
      try ModelOptions.requireFile(arguments, "api-key-file")
      let text = try String(contentsOfFile: keyFile, encoding: .utf8)
      let key = text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
      guard !key.isEmpty else { throw Failure("\(keyFile): the API key file is empty") }
      configuration.service.apiKey = key
    }
    return configuration
  }

  /// `--ladder` (or the uniform ratios 0…0.8) resolved against the model.
  private static func ladder(_ arguments: Arguments, model: SwinTransformer) throws -> [(label: String, ratios: PruningRatios)] {
    let entries = (arguments.string("ladder") ?? "0,0.2,0.4,0.6,0.8").split(separator: ",").map(String.init)
    guard !entries.isEmpty else { throw arguments.usage("'--ladder' needs at least one configuration") }
    let depths = model.configuration.depths
    return try entries.map { entry in
      do {
        let ratios = try PruningRatios.resolve(entry, depths: depths)
        return (ratios.isDense ? "dense" : (Double(entry) != nil ? "uniform \(entry)" : entry), ratios)
      } catch {
        throw arguments.usage("'--ladder' entry '\(entry)': \(error)")
      }
    }
  }
}

/// Write end of the pipe `serve` waits on for a signal.
nonisolated(unsafe) private var signalPipe: Int32 = -1

private func onSignal(_ number: Int32) {
  var value = number
  _ = write(signalPipe, &value, MemoryLayout<Int32>.size)
}
