// An 8-bit RGB picture: what PNG/JPEG files decode to (Engine's ImageCodec, libpng/libjpeg-turbo),
// what preprocessing resizes, and what the pruning-mask visualization draws into.
import Engine
import ImageIO

/// An 8-bit sRGB picture, `[height, width, 3]` interleaved bytes, rows top to bottom.
public struct RGBImage: Sendable, Equatable {
  /// Columns.
  public let width: Int
  /// Rows.
  public let height: Int
  /// `[height, width, 3]`: red, green, blue of pixel `(x, y)` at `3 · (y · width + x)`.
  public internal(set) var pixels: [UInt8]

  /// Images over this many pixels are refused before decoding (100 megapixels, 300 MB of RGB).
  public static let defaultMaxPixels = 100_000_000

  /// Wraps `pixels` (`[height, width, 3]` bytes); throws unless sizes are positive and match.
  public init(width: Int, height: Int, pixels: [UInt8]) throws(ImageError) {
    guard width > 0, height > 0 else {
      throw .invalidParameter(what: "image size", value: "\(width)×\(height)", expected: "at least 1×1 pixels")
    }
    let (area, overflow) = width.multipliedReportingOverflow(by: height)
    let (count, overflow3) = area.multipliedReportingOverflow(by: 3)
    guard !overflow, !overflow3, pixels.count == count else {
      throw .pixelCount(
        width: width, height: height, expected: overflow || overflow3 ? Int.max : count, actual: pixels.count)
    }
    self.init(validated: width, height: height, pixels: pixels)
  }

  /// A `width × height` image filled with one color.
  init(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for pixel in 0..<width * height {
      pixels[3 * pixel] = red
      pixels[3 * pixel + 1] = green
      pixels[3 * pixel + 2] = blue
    }
    self.init(validated: width, height: height, pixels: pixels)
  }

  init(validated width: Int, height: Int, pixels: [UInt8]) {
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// Decodes a PNG (any bit depth or color type; alpha dropped as PIL's `convert("RGB")` does)
  /// or JPEG (YCbCr, RGB or grayscale; baseline or progressive) held in `bytes`. The format is
  /// read from the signature, not from a file name. `name` labels errors.
  public static func decode(
    _ bytes: [UInt8], name: String = "image", maxPixels: Int = defaultMaxPixels
  ) throws(ImageError) -> RGBImage {
    let decoded = try ImageCodec.decode(bytes, name: name, maxPixels: maxPixels)
    return RGBImage(validated: decoded.width, height: decoded.height, pixels: decoded.pixels)
  }

  /// Reads and decodes the PNG or JPEG file at `path` (see `decode`).
  public static func load(path: String, maxPixels: Int = defaultMaxPixels) throws(ImageError) -> RGBImage {
    let bytes: [UInt8]
    do {
      bytes = try readFile(path)
    } catch {
      throw .unreadable(path: path, reason: fileReason(error))
    }
    return try decode(bytes, name: path, maxPixels: maxPixels)
  }

  /// The image as the bytes of an 8-bit RGB PNG file.
  public func pngData() throws(ImageError) -> [UInt8] {
    try ImageCodec.encodePNG(width: width, height: height, pixels: pixels, name: "image")
  }

  /// Writes the image as a PNG file, atomically: `path` holds the old file or the whole new one.
  public func writePNG(to path: String) throws(ImageError) {
    let bytes = try ImageCodec.encodePNG(width: width, height: height, pixels: pixels, name: path)
    do {
      try writeFileAtomically(bytes, to: path)
    } catch {
      throw .unwritable(path: path, reason: fileReason(error))
    }
  }

  /// The color of pixel `(x, y)`, `0 ≤ x < width`, `0 ≤ y < height`.
  public subscript(x x: Int, y y: Int) -> (red: UInt8, green: UInt8, blue: UInt8) {
    precondition(x >= 0 && x < width && y >= 0 && y < height, "RGBImage: pixel (\(x), \(y)) outside \(width)×\(height)")
    let offset = 3 * (y * width + x)
    return (pixels[offset], pixels[offset + 1], pixels[offset + 2])
  }
}

extension RGBImage: CustomStringConvertible {
  public var description: String { "RGBImage(\(width)×\(height))" }
}

/// The part of a file error after the path (the image error names the path itself).
private func fileReason(_ error: FileIOError) -> String {
  switch error {
  case .notFound: "no such file"
  case .isDirectory: "is a directory, expected a file"
  case .notRegularFile: "not a regular file (FIFO, socket or device)"
  case .unreadable(_, let reason), .unwritable(_, let reason): reason
  }
}
