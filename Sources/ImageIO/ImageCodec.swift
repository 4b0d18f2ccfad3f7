// PNG and JPEG decoding to 8-bit RGB and PNG encoding, through libpng's simplified `png_image` API
// and libjpeg-turbo's TurboJPEG API. Both report failures as return codes with messages (neither
// longjmps into Swift nor exits), and every declared size is checked before pixels are allocated.
internal import CPNG
internal import CTurboJPEG

/// Why an image could not be read, decoded, encoded or written. Messages name the file.
public enum ImageError: Error, Equatable, CustomStringConvertible {
  /// The file could not be read (`reason` is the system's explanation).
  case unreadable(path: String, reason: String)
  /// The file could not be written (`reason` is the system's explanation).
  case unwritable(path: String, reason: String)
  /// The data is empty.
  case empty(name: String)
  /// The data starts with neither the PNG nor the JPEG signature; `signature` shows its first bytes.
  case unrecognizedFormat(name: String, signature: String)
  /// The declared size is over the pixel limit (checked before anything is decoded).
  case tooLarge(name: String, width: Int, height: Int, maxPixels: Int)
  /// The decoder rejected the data: truncated, corrupt, or not what its signature claims.
  case corrupt(name: String, format: String, reason: String)
  /// A valid file of a kind this engine does not decode (e.g. a CMYK JPEG).
  case unsupported(name: String, format: String, reason: String)
  /// Pixel bytes that do not fill `width × height × 3`.
  case pixelCount(width: Int, height: Int, expected: Int, actual: Int)
  /// A parameter outside its range (`what` names it, `expected` says the range).
  case invalidParameter(what: String, value: String, expected: String)
  /// The encoder failed.
  case encoding(name: String, reason: String)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
    case .unwritable(let path, let reason): "\(path): cannot write: \(reason)"
    case .empty(let name): "\(name): empty file, expected a PNG or JPEG image"
    case .unrecognizedFormat(let name, let signature):
      "\(name): not a PNG or JPEG image (starts with \(signature), expected 89 50 4E 47 0D 0A 1A 0A for PNG or FF D8 FF for JPEG)"
    case .tooLarge(let name, let width, let height, let maxPixels) where maxPixels >= 1_000_000:
      "\(name): \(width)×\(height) pixels (\(megapixels(width * height)) megapixels) is over the limit of \(megapixels(maxPixels)) megapixels"
    case .tooLarge(let name, let width, let height, let maxPixels):
      "\(name): \(width)×\(height) = \(width * height) pixels is over the limit of \(maxPixels) pixels"
    case .corrupt(let name, let format, let reason): "\(name): corrupt or truncated \(format) image: \(reason)"
    case .unsupported(let name, let format, let reason): "\(name): unsupported \(format) image: \(reason)"
    case .pixelCount(let width, let height, let expected, let actual):
      "an RGB image of \(width)×\(height) pixels needs \(expected) bytes, got \(actual)"
    case .invalidParameter(let what, let value, let expected): "\(what) is \(value), expected \(expected)"
    case .encoding(let name, let reason): "\(name): cannot encode PNG: \(reason)"
    }
  }
}

private func megapixels(_ pixels: Int) -> String {
  let value = Double(pixels) / 1e6
  return value >= 10 ? String(Int(value.rounded())) : String(Double(Int(value * 10)) / 10)
}

/// Decoded pixels: `[height, width, 3]` interleaved 8-bit sRGB, rows top to bottom.
package struct DecodedImage: Sendable, Equatable {
  package let width: Int
  package let height: Int
  /// `[height, width, 3]` bytes.
  package let pixels: [UInt8]
}

/// The container formats the decoder reads.
package enum ImageFormat: String, Sendable {
  case png = "PNG"
  case jpeg = "JPEG"

  /// The format announced by the first bytes, or nil.
  package init?(signature bytes: [UInt8]) {
    if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
      self = .png
    } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
      self = .jpeg
    } else {
      return nil
    }
  }
}

/// PNG/JPEG decoding and PNG encoding.
package enum ImageCodec {
  /// Decodes a PNG (any bit depth and color type; alpha is dropped, 16-bit is scaled to 8-bit
  /// assuming sRGB-encoded samples) or a baseline/progressive JPEG (YCbCr, RGB or grayscale) into
  /// RGB8. Images with more than `maxPixels` pixels are refused from their header alone.
  ///
  /// `name` labels errors (a path or "image"). Returns `[height, width, 3]` bytes.
  package static func decode(_ bytes: [UInt8], name: String, maxPixels: Int) throws(ImageError) -> DecodedImage {
    guard !bytes.isEmpty else { throw .empty(name: name) }
    switch ImageFormat(signature: bytes) {
    case .png: return try decodePNG(bytes, name: name, maxPixels: maxPixels)
    case .jpeg: return try decodeJPEG(bytes, name: name, maxPixels: maxPixels)
    case nil: throw .unrecognizedFormat(name: name, signature: describeSignature(bytes))
    }
  }

  /// Encodes `[height, width, 3]` RGB8 `pixels` as a PNG file's bytes.
  package static func encodePNG(width: Int, height: Int, pixels: [UInt8], name: String) throws(ImageError) -> [UInt8] {
    guard width > 0, height > 0, width <= Int(Int32.max) / 3, height <= Int(Int32.max) else {
      throw .encoding(name: name, reason: "\(width)×\(height) pixels is not a valid PNG size")
    }
    guard pixels.count == width * height * 3 else {
      throw .pixelCount(width: width, height: height, expected: width * height * 3, actual: pixels.count)
    }
    let result: Result<[UInt8], ImageError> = withUnsafeTemporaryAllocation(of: png_image.self, capacity: 1) { buffer in
      let image = buffer.baseAddress!
      image.initialize(to: png_image())
      image.pointee.version = UInt32(PNG_IMAGE_VERSION)
      image.pointee.width = UInt32(width)
      image.pointee.height = UInt32(height)
      image.pointee.format = UInt32(PNG_FORMAT_FLAG_COLOR)
      defer { png_image_free(image) }
      // First call with no destination: libpng reports the size it needs.
      var size = 0
      let measured = pixels.withUnsafeBytes { source in
        png_image_write_to_memory(image, nil, &size, 0, source.baseAddress, 0, nil)
      }
      guard measured != 0, size > 0 else { return .failure(.encoding(name: name, reason: pngMessage(image))) }
      var encoded = [UInt8](repeating: 0, count: size)
      let written = encoded.withUnsafeMutableBytes { destination in
        pixels.withUnsafeBytes { source in
          png_image_write_to_memory(image, destination.baseAddress, &size, 0, source.baseAddress, 0, nil)
        }
      }
      guard written != 0 else { return .failure(.encoding(name: name, reason: pngMessage(image))) }
      return .success(Array(encoded.prefix(size)))
    }
    return try result.get()
  }

  // MARK: - PNG

  private static func decodePNG(_ bytes: [UInt8], name: String, maxPixels: Int) throws(ImageError) -> DecodedImage {
    // libpng keeps the png_image's address as its error context between begin and finish, so the
    // struct lives in one scoped allocation for the whole decode.
    let result: Result<DecodedImage, ImageError> = withUnsafeTemporaryAllocation(of: png_image.self, capacity: 1) {
      buffer in
      let image = buffer.baseAddress!
      image.initialize(to: png_image())
      image.pointee.version = UInt32(PNG_IMAGE_VERSION)
      defer { png_image_free(image) }
      let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(image, $0.baseAddress, $0.count) }
      guard begun != 0 else { return .failure(.corrupt(name: name, format: "PNG", reason: pngMessage(image))) }
      // PNG sides are below 2³¹, so the product cannot overflow.
      let width = Int(image.pointee.width), height = Int(image.pointee.height)
      guard width * height <= maxPixels else {
        return .failure(.tooLarge(name: name, width: width, height: height, maxPixels: maxPixels))
      }
      // 16-bit samples without gAMA/sRGB chunks are sRGB-encoded in practice (what image viewers and
      // PIL assume), not linear as libpng's simplified API would otherwise take them.
      image.pointee.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
      guard image.pointee.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0 else {
        image.pointee.format = UInt32(PNG_FORMAT_FLAG_COLOR)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        let finished = rgb.withUnsafeMutableBytes { png_image_finish_read(image, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { return .failure(.corrupt(name: name, format: "PNG", reason: pngMessage(image))) }
        return .success(DecodedImage(width: width, height: height, pixels: rgb))
      }
      // With alpha (or tRNS): read RGBA and drop alpha, as PIL's `convert("RGB")` does; libpng
      // would otherwise composite onto a background.
      image.pointee.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
      var rgba = [UInt8](repeating: 0, count: width * height * 4)
      let finished = rgba.withUnsafeMutableBytes { png_image_finish_read(image, nil, $0.baseAddress, 0, nil) }
      guard finished != 0 else { return .failure(.corrupt(name: name, format: "PNG", reason: pngMessage(image))) }
      var rgb = [UInt8](repeating: 0, count: width * height * 3)
      rgba.withUnsafeBufferPointer { source in
        rgb.withUnsafeMutableBufferPointer { destination in
          for pixel in 0..<width * height {
            destination[3 * pixel] = source[4 * pixel]
            destination[3 * pixel + 1] = source[4 * pixel + 1]
            destination[3 * pixel + 2] = source[4 * pixel + 2]
          }
        }
      }
      return .success(DecodedImage(width: width, height: height, pixels: rgb))
    }
    return try result.get()
  }

  /// The message libpng left in `image.message` (a fixed 64-byte C string).
  private static func pngMessage(_ image: UnsafeMutablePointer<png_image>) -> String {
    let text = withUnsafeBytes(of: image.pointee.message) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    return text.isEmpty ? "libpng reported an error without a message" : text
  }

  // MARK: - JPEG

  private static func decodeJPEG(_ bytes: [UInt8], name: String, maxPixels: Int) throws(ImageError) -> DecodedImage {
    // The decompressor handle lives inside the scoped access to the compressed bytes.
    let result: Result<DecodedImage, ImageError> = bytes.withUnsafeBufferPointer { data in
      guard let handle = tjInitDecompress() else {
        return .failure(.corrupt(name: name, format: "JPEG", reason: "cannot create a TurboJPEG decompressor"))
      }
      defer { tjDestroy(handle) }
      func failure(_ what: String) -> Result<DecodedImage, ImageError> {
        let message = String(cString: tjGetErrorStr2(handle))
        return .failure(.corrupt(name: name, format: "JPEG", reason: "\(what): \(message)"))
      }
      var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
      guard
        tjDecompressHeader3(handle, data.baseAddress, UInt(data.count), &width, &height, &subsampling, &colorspace) == 0
      else { return failure("header") }
      if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
        return .failure(
          .unsupported(
            name: name, format: "JPEG",
            reason: "CMYK color space (only YCbCr, RGB and grayscale JPEGs are decoded; convert the image to RGB)"))
      }
      let columns = Int(width), rows = Int(height)
      guard columns > 0, rows > 0 else {
        return .failure(.corrupt(name: name, format: "JPEG", reason: "header declares \(columns)×\(rows) pixels"))
      }
      guard columns * rows <= maxPixels else {
        return .failure(.tooLarge(name: name, width: columns, height: rows, maxPixels: maxPixels))
      }
      var rgb = [UInt8](repeating: 0, count: columns * rows * 3)
      // Warnings (premature end of data, corrupt segments) are errors too: a truncated photo would
      // otherwise decode with grey rows. Progressive scans are capped against decompression bombs.
      let flags = Int32(TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)
      let status = rgb.withUnsafeMutableBufferPointer { destination in
        tjDecompress2(
          handle, data.baseAddress, UInt(data.count), destination.baseAddress, width, 0, height,
          Int32(TJPF_RGB.rawValue),
          flags)
      }
      guard status == 0 else { return failure("decoding") }
      return .success(DecodedImage(width: columns, height: rows, pixels: rgb))
    }
    return try result.get()
  }

  /// The first bytes in hex, and as text when they are printable ASCII.
  private static func describeSignature(_ bytes: [UInt8]) -> String {
    let head = bytes.prefix(8)
    let hex = head.map { byte in
      let digits = String(byte, radix: 16, uppercase: true)
      return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
    if head.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
      return "\(hex) (\"\(String(decoding: head, as: UTF8.self))\")"
    }
    return hex
  }
}
