// libFuzzer target for the PNG and JPEG decoders (`RGBImage.decode`, libpng and libjpeg-turbo
// through Engine's ImageCodec): any bytes either decode to `width × height × 3` pixel bytes or throw
// an `ImageError` with a one-line message naming the file. A 4-megapixel cap keeps a lying header
// from asking for more memory than libFuzzer's limit. Built and run by scripts/fuzz.sh.
import Engine
import Models

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  do throws(ImageError) {
    let image = try RGBImage.decode(bytes, name: "fuzz.img", maxPixels: 1 << 22)
    if image.width <= 0 || image.height <= 0 || image.pixels.count != image.width * image.height * 3 {
      fatalError("decoded \(image.width)×\(image.height) with \(image.pixels.count) bytes")
    }
  } catch {
    checkMessage(error.description, names: "fuzz.img", of: "\(error)")
  }
  return 0
}
