// A blocking HTTP/1.1 client over a loopback socket, so tests can send anything (malformed requests,
// partial headers, floods) and read exactly what the server answered. Every read has a 60 s guard so
// a server bug fails the test instead of hanging it.
import Foundation
import XCTest

@testable import Server

struct RawResponse {
  let status: Int
  let headers: [String: String]
  let body: [UInt8]

  var text: String { String(decoding: body, as: UTF8.self) }
  var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
  /// The message of a `{"error": …}` body.
  var error: String? { json?["error"] as? String }
}

/// One TCP connection to 127.0.0.1:port.
final class RawConnection {
  let socket: Int32

  init(port: Int) throws {
    socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard result == 0 else {
      close(socket)
      throw NSError(domain: "RawConnection", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "connect failed"])
    }
  }

  deinit { close(socket) }

  /// Sends `bytes`; false when the peer has closed.
  @discardableResult
  func send(_ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
      let sent = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if sent <= 0 { return false }
      offset += sent
    }
    return true
  }

  /// Reads until the peer closes or resets (`closedByPeer`), or the 60 s guard expires (not closed).
  func readToEnd() -> (bytes: [UInt8], closedByPeer: Bool) {
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
      if count == 0 || (count < 0 && errno == ECONNRESET) { return (data, true) }
      if count < 0 { return (data, false) }
      data.append(contentsOf: buffer[0..<count])
    }
  }
}

/// Sends one request with `Connection: close` and parses the answer (nil when the server closed
/// the connection without one).
func rawRequest(
  port: Int, method: String, path: String, headers: [(String, String)] = [], body: [UInt8] = []
) throws -> RawResponse? {
  var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
  for (name, value) in headers { head += "\(name): \(value)\r\n" }
  if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
  head += "\r\n"
  return try rawExchange(port: port, bytes: Array(head.utf8) + body)
}

/// Sends raw bytes and parses what comes back.
func rawExchange(port: Int, bytes: [UInt8]) throws -> RawResponse? {
  let connection = try RawConnection(port: port)
  connection.send(bytes)
  return parseResponse(connection.readToEnd().bytes)
}

func parseResponse(_ data: [UInt8]) -> RawResponse? {
  let separator: [UInt8] = [13, 10, 13, 10]
  guard let end = (0..<max(0, data.count - 3)).first(where: { Array(data[$0..<($0 + 4)]) == separator }) else {
    return nil
  }
  let lines = String(decoding: data[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
  let statusParts = lines[0].split(separator: " ")
  guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
  var headers: [String: String] = [:]
  for line in lines.dropFirst() {
    guard let colon = line.firstIndex(of: ":") else { continue }
    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
  }
  return RawResponse(status: status, headers: headers, body: Array(data[(end + 4)...]))
}

/// JSON bytes of `object`.
func jsonBytes(_ object: Any) -> [UInt8] {
  Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
}
