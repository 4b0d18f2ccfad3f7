// The error every layer initializer throws when a weight has the wrong shape.

/// A weight tensor whose shape does not match what the layer needs.
public struct ShapeError: Error, Equatable, CustomStringConvertible {
  /// The tensor's name in the checkpoint (e.g. `layers.2.blocks.3.attn.qkv.weight`).
  public let name: String
  /// The shape the layer needs.
  public let expected: [Int]
  /// The shape found.
  public let actual: [Int]

  package init(name: String, expected: [Int], actual: [Int]) {
    self.name = name
    self.expected = expected
    self.actual = actual
  }

  public var description: String {
    "tensor '\(name)' has shape \(actual), expected \(expected)"
  }

  /// Throws unless `actual == expected`.
  package static func check(_ name: String, _ actual: [Int], expected: [Int]) throws(ShapeError) {
    if actual != expected { throw ShapeError(name: name, expected: expected, actual: actual) }
  }
}
