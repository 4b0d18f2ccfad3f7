// HTTP/1.1 over libmicrohttpd: a thread pool parses requests and accumulates bodies, the handler answers
// now or later (the connection is suspended until then), so the HTTP threads never wait for inference.
// The only file of the Server target that touches pointers and the C library.
import CMicroHTTPD
import Engine
import Foundation
import Synchronization

/// One request: method, path (no query), the headers the server reads, and the body.
public struct HTTPRequest: Sendable {
  public let method: String
  public let path: String
  /// Lower-cased names of the headers looked up (`HTTPServer.headerNames`) that were present.
  public let headers: [String: String]
  public let body: [UInt8]

  public init(method: String, path: String, headers: [String: String] = [:], body: [UInt8] = []) {
    self.method = method
    self.path = path
    self.headers = headers
    self.body = body
  }
}

/// One answer: status, extra headers, body.
public struct HTTPResponse: Sendable {
  public var status: Int
  public var headers: [(String, String)]
  public var body: [UInt8]

  public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
    self.status = status
    self.headers = headers
    self.body = body
  }

  /// A JSON body (`Content-Type: application/json`).
  public static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
    HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: body)
  }

  /// `{"error": message}` with `status` (KServe v2's error shape).
  public static func error(_ status: Int, _ message: String) -> HTTPResponse {
    let object = ["error": message]
    let data =
      (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
      ?? Data("{}".utf8)
    return json(status, Array(data))
  }
}

/// Answers one request exactly once, from any thread. A second call is ignored.
public final class HTTPResponder: @unchecked Sendable {
  fileprivate let exchange: Exchange

  fileprivate init(_ exchange: Exchange) { self.exchange = exchange }

  public func send(_ response: HTTPResponse) { exchange.deliver(response) }
}

/// Limits of the HTTP layer.
public struct HTTPLimits: Sendable {
  /// Largest request body in bytes; larger ones get 413 (from Content-Length before reading).
  public var maxBodyBytes: Int
  /// Seconds of silence after which a connection is closed (slow senders).
  public var connectionTimeoutSeconds: Int
  /// Open connections at most; more are refused at accept.
  public var maxConnections: Int
  /// Memory per connection for headers and buffers (bytes).
  public var connectionMemoryBytes: Int
  /// HTTP threads (parse and answer only).
  public var threads: Int

  public init(
    maxBodyBytes: Int = 64 << 20, connectionTimeoutSeconds: Int = 10, maxConnections: Int = 256,
    connectionMemoryBytes: Int = 64 << 10, threads: Int = 2
  ) {
    self.maxBodyBytes = maxBodyBytes
    self.connectionTimeoutSeconds = connectionTimeoutSeconds
    self.maxConnections = maxConnections
    self.connectionMemoryBytes = connectionMemoryBytes
    self.threads = threads
  }
}

/// Why the server could not start.
public struct HTTPServerError: Error, CustomStringConvertible {
  public let description: String
}

/// The state of one request while MHD parses it and the handler answers it.
private final class Exchange: @unchecked Sendable {
  let connection: OpaquePointer
  let server: HTTPServer
  var method = "", path = ""
  var headers: [String: String] = [:]
  var body: [UInt8] = []
  var tooLarge = false
  var dispatched = false
  private let state = Locked<(response: HTTPResponse?, suspended: Bool, closed: Bool)>((nil, false, false))

  init(connection: OpaquePointer, server: HTTPServer) {
    self.connection = connection
    self.server = server
  }

  func deliver(_ response: HTTPResponse) {
    state.withLock { state in
      guard state.response == nil, !state.closed else { return }
      state.response = response
      if state.suspended { MHD_resume_connection(connection) }
    }
  }

  /// After the handler returned: the response when it answered at once; otherwise suspends.
  func responseOrSuspend() -> HTTPResponse? {
    state.withLock { state in
      if let response = state.response { return response }
      state.suspended = true
      MHD_suspend_connection(connection)
      return nil
    }
  }

  var response: HTTPResponse? { state.withLock { $0.response } }

  /// MHD is done with the connection: a later answer goes nowhere.
  func close() { state.withLock { $0.closed = true } }
}

/// An HTTP server on a libmicrohttpd daemon. `handler` is called on an HTTP thread once per complete
/// request; it must call `responder.send` exactly once, now or from another thread later.
public final class HTTPServer: @unchecked Sendable {
  /// Headers read into `HTTPRequest.headers`.
  public static let headerNames = [
    "content-type", "content-length", "inference-header-content-length", "authorization", "content-encoding",
  ]

  public typealias Handler = @Sendable (HTTPRequest, HTTPResponder) -> Void

  let handler: Handler
  let limits: HTTPLimits
  /// Requests begun and not yet finished (sent or abandoned).
  private let inFlight = Atomic<Int>(0)
  private var daemon: OpaquePointer?
  /// The port the server listens on.
  public private(set) var port: Int = 0

  /// Starts listening on `host:port` (IPv4 dotted quad; port 0 lets the kernel choose).
  public init(host: String, port: Int, limits: HTTPLimits, handler: @escaping Handler) throws {
    self.handler = handler
    self.limits = limits
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    guard (0...65535).contains(port), inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
      throw HTTPServerError(description: "cannot listen on '\(host):\(port)': expected an IPv4 address and a port")
    }
    let flags =
      UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue)
      | UInt32(MHD_ALLOW_SUSPEND_RESUME.rawValue)
    let context = Unmanaged.passUnretained(self).toOpaque()
    daemon = withUnsafePointer(to: &address) { pointer in
      sparsevit_mhd_start(
        flags, pointer, UInt32(max(1, limits.threads)), UInt32(limits.maxConnections),
        UInt32(limits.connectionTimeoutSeconds), limits.connectionMemoryBytes, accessHandler, context,
        completedHandler, context)
    }
    guard let daemon else {
      throw HTTPServerError(description: "cannot listen on \(host):\(port): \(String(cString: strerror(errno)))")
    }
    self.port = Int(sparsevit_mhd_port(daemon))
  }

  /// Requests begun and not finished.
  public var requestsInFlight: Int { inFlight.load(ordering: .acquiring) }

  /// Connections open now.
  public var openConnections: Int { daemon.map { Int(sparsevit_mhd_connections($0)) } ?? 0 }

  /// Stops accepting connections; requests already begun still complete.
  public func stopAccepting() {
    guard let daemon else { return }
    let socket = MHD_quiesce_daemon(daemon)
    if socket >= 0 { close(socket) }
  }

  /// Stops the daemon (closing every connection). Call once, after the work is done.
  public func stop() {
    guard let daemon else { return }
    MHD_stop_daemon(daemon)
    self.daemon = nil
  }

  deinit { stop() }

  // MARK: - Callbacks (on MHD's threads)

  fileprivate func begin(_ connection: OpaquePointer, method: String, url: String) -> Exchange {
    inFlight.add(1, ordering: .relaxed)
    let exchange = Exchange(connection: connection, server: self)
    exchange.method = method
    exchange.path = url
    for name in Self.headerNames {
      if let value = MHD_lookup_connection_value(connection, .HEADER_KIND, name) {
        exchange.headers[name] = String(cString: value)
      }
    }
    return exchange
  }

  fileprivate func finish() { inFlight.subtract(1, ordering: .relaxed) }

  fileprivate func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let made = response.body.withUnsafeBytes { bytes in
      sparsevit_mhd_response_copy(bytes.count, bytes.baseAddress)
    }
    guard let made else { return .NO }
    for (name, value) in response.headers { MHD_add_response_header(made, name, value) }
    let result = MHD_queue_response(connection, UInt32(response.status), made)
    MHD_destroy_response(made)
    return result
  }
}

private let accessHandler: MHD_AccessHandlerCallback = {
  context, connection, url, method, _, uploadData, uploadSize, requestContext in
  guard let context, let connection, let uploadSize, let requestContext else { return .NO }
  let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
  guard let stored = requestContext.pointee else {
    let exchange = server.begin(
      connection, method: method.map { String(cString: $0) } ?? "", url: url.map { String(cString: $0) } ?? "/")
    requestContext.pointee = Unmanaged.passRetained(exchange).toOpaque()
    // Refused before the body is read: MHD then closes the connection.
    if let length = exchange.headers["content-length"], let bytes = Int(length), bytes > server.limits.maxBodyBytes {
      exchange.dispatched = true
      return server.queue(
        .error(413, "request body of \(bytes) bytes exceeds the limit of \(server.limits.maxBodyBytes)"), on: connection
      )
    }
    return .YES
  }
  let exchange = Unmanaged<Exchange>.fromOpaque(stored).takeUnretainedValue()
  if uploadSize.pointee > 0 {
    let count = uploadSize.pointee
    if !exchange.tooLarge, exchange.body.count + count <= server.limits.maxBodyBytes, let uploadData {
      uploadData.withMemoryRebound(to: UInt8.self, capacity: count) { pointer in
        exchange.body.append(contentsOf: UnsafeBufferPointer(start: pointer, count: count))
      }
    } else {
      exchange.tooLarge = true
      exchange.body = []
    }
    uploadSize.pointee = 0
    return .YES
  }
  if exchange.dispatched {
    // Resumed: the handler's answer is ready.
    guard let response = exchange.response else { return .NO }
    return server.queue(response, on: connection)
  }
  exchange.dispatched = true
  if exchange.tooLarge {
    return server.queue(
      .error(413, "request body exceeds the limit of \(server.limits.maxBodyBytes) bytes"), on: connection)
  }
  let request = HTTPRequest(
    method: exchange.method, path: exchange.path, headers: exchange.headers, body: exchange.body)
  exchange.body = []
  server.handler(request, HTTPResponder(exchange))
  if let response = exchange.responseOrSuspend() { return server.queue(response, on: connection) }
  return .YES
}

private let completedHandler: MHD_RequestCompletedCallback = { context, _, requestContext, _ in
  guard let context, let requestContext, let stored = requestContext.pointee else { return }
  let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
  let exchange = Unmanaged<Exchange>.fromOpaque(stored).takeRetainedValue()
  requestContext.pointee = nil
  exchange.close()
  server.finish()
}
