// An image becomes the model's input as in timm's eval transform (`create_transform`, PIL path):
// resize the shorter side to ⌊size / cropFraction⌋ and centre-crop size × size (or resize directly),
// then scale to [0, 1] and normalize with the ImageNet mean and std. Resampling ports Pillow's
// `Resample.c` (separable, antialiased, fixed-point, 8-bit between passes), so the bytes match PIL's.
import Engine
import ImageIO

/// How an `RGBImage` becomes a normalized `[1, 3, size, size]` NCHW tensor.
///
/// The default (`.standard`) is timm's eval transform for ImageNet models at 224: bicubic resize of
/// the shorter side to ⌊224 / 0.875⌋ = 256 (the longer side to ⌊256 · long / short⌋, aspect kept,
/// as torchvision's `Resize(int)`), centre crop 224 × 224 (offsets rounded half to even, as
/// torchvision's `CenterCrop`), then `(x / 255 − mean) / std` per channel in float32.
/// Resampling is Pillow's: for bicubic a = −0.5 over ±2 pixels, widened by the scale factor when
/// shrinking (antialiasing); bilinear likewise over ±1 pixel. Results equal PIL/torchvision's
/// exactly (checked against stored references).
public struct ImagePreprocessing: Sendable, Equatable {
  /// How the picture is brought to `size × size`.
  public enum Resize: String, Sendable, CaseIterable {
    /// Resize the shorter side to ⌊size / cropFraction⌋ keeping the aspect ratio, then take the
    /// centre `size × size` (timm's eval transform).
    case centerCrop = "crop"
    /// Resize straight to `size × size` (aspect ratio not kept, nothing cut off).
    case direct
  }

  /// The resampling filter (Pillow's definitions).
  public enum Interpolation: String, Sendable, CaseIterable {
    /// Keys cubic convolution, a = −0.5 (PIL `BICUBIC`, timm's default for Swin).
    case bicubic
    /// Triangle filter (PIL `BILINEAR`).
    case bilinear
  }

  /// Side of the square model input, in pixels.
  public let size: Int
  /// Centre crop or direct resize.
  public let resize: Resize
  /// The resampling filter.
  public let interpolation: Interpolation
  /// Fraction of the resized shorter side the crop keeps (timm's `crop_pct`), in (0, 1].
  public let cropFraction: Double
  /// Per-channel mean subtracted after scaling to [0, 1] (R, G, B).
  public let mean: [Float]
  /// Per-channel standard deviation divided by after subtracting the mean (R, G, B).
  public let std: [Float]

  /// ImageNet channel means (R, G, B).
  public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
  /// ImageNet channel standard deviations (R, G, B).
  public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]
  /// timm's default `crop_pct` (resize 224 images to 256 first). timm's pretrained Swin-T config
  /// uses 0.9; pass `cropFraction: 0.9` to reproduce that one.
  public static let defaultCropFraction = 0.875

  /// 224 × 224, centre crop with crop fraction 0.875, bicubic, ImageNet mean and std.
  public static let standard = ImagePreprocessing(
    validated: 224, resize: .centerCrop, interpolation: .bicubic, cropFraction: defaultCropFraction,
    mean: imageNetMean, std: imageNetStd)

  /// Validates the parameters: `size ≥ 1`, `cropFraction` in (0, 1], three finite means and three
  /// positive finite standard deviations.
  public init(
    size: Int = 224, resize: Resize = .centerCrop, interpolation: Interpolation = .bicubic,
    cropFraction: Double = defaultCropFraction, mean: [Float] = imageNetMean, std: [Float] = imageNetStd
  ) throws(ImageError) {
    guard size >= 1, size <= 65_536 else {
      throw .invalidParameter(what: "preprocessing size", value: String(size), expected: "1…65536 pixels")
    }
    guard cropFraction.isFinite, cropFraction > 0, cropFraction <= 1 else {
      throw .invalidParameter(what: "crop fraction", value: String(cropFraction), expected: "a number in (0, 1]")
    }
    guard mean.count == 3, mean.allSatisfy({ $0.isFinite }) else {
      throw .invalidParameter(what: "mean", value: "\(mean)", expected: "3 finite values (R, G, B)")
    }
    guard std.count == 3, std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
      throw .invalidParameter(what: "std", value: "\(std)", expected: "3 positive finite values (R, G, B)")
    }
    self.init(
      validated: size, resize: resize, interpolation: interpolation, cropFraction: cropFraction, mean: mean, std: std)
  }

  private init(
    validated size: Int, resize: Resize, interpolation: Interpolation, cropFraction: Double, mean: [Float], std: [Float]
  ) {
    self.size = size
    self.resize = resize
    self.interpolation = interpolation
    self.cropFraction = cropFraction
    self.mean = mean
    self.std = std
  }

  /// The shorter side before the centre crop: ⌊size / cropFraction⌋ (timm's `scale_size`).
  public var resizedShorterSide: Int { Int((Double(size) / cropFraction).rounded(.down)) }

  /// The `width × height` an image is resized to before cropping (torchvision's `Resize(int)`:
  /// the longer side is ⌊shorter · long / short⌋), or `size × size` for a direct resize.
  public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
    guard resize == .centerCrop else { return (size, size) }
    let shorter = resizedShorterSide
    if width <= height {
      return (shorter, Int(Double(shorter * height) / Double(width)))
    }
    return (Int(Double(shorter * width) / Double(height)), shorter)
  }

  /// What the model sees, as a picture: `image` resized (and centre-cropped) to `size × size`.
  public func resized(_ image: RGBImage) -> RGBImage {
    let target = resizedSize(width: image.width, height: image.height)
    // torchvision's CenterCrop: int(round((H − size) / 2)), Python rounding (half to even).
    let top = Int((Double(target.height - size) / 2).rounded(.toNearestOrEven))
    let left = Int((Double(target.width - size) / 2).rounded(.toNearestOrEven))
    return resample(
      image, width: target.width, height: target.height, columns: left..<left + size, rows: top..<top + size,
      interpolation: interpolation)
  }

  /// `[1, 3, height, width]` NCHW float32 of an already-resized picture: `(x / 255 − mean) / std`
  /// per channel, computed in float32 as torchvision's `ToTensor` + `Normalize`.
  public func normalized(_ picture: RGBImage) -> Tensor {
    normalizedBatch([picture])
  }

  /// The model input for `image`: `resized` then `normalized`, `[1, 3, size, size]` NCHW.
  public func tensor(_ image: RGBImage) -> Tensor {
    normalized(resized(image))
  }

  /// The model input for a batch, `[images.count, 3, size, size]` NCHW (each image resized
  /// independently). An empty list gives `[0, 3, size, size]`.
  public func tensor(_ images: [RGBImage]) -> Tensor {
    let pictures = images.map { resized($0) }
    guard !pictures.isEmpty else { return Tensor(shape: [0, 3, size, size]) }
    return normalizedBatch(pictures)
  }

  /// Pictures of equal size to `[batch, 3, height, width]`.
  private func normalizedBatch(_ pictures: [RGBImage]) -> Tensor {
    let width = pictures[0].width, height = pictures[0].height, plane = width * height
    var values = [Float](repeating: 0, count: pictures.count * 3 * plane)
    for (index, picture) in pictures.enumerated() {
      precondition(picture.width == width && picture.height == height, "normalizedBatch: pictures differ in size")
      for channel in 0..<3 {
        let base = (index * 3 + channel) * plane
        let mean = mean[channel], std = std[channel]
        for pixel in 0..<plane {
          // Same float32 operations as torch: divide by 255, subtract the mean, divide by std.
          values[base + pixel] = (Float(picture.pixels[3 * pixel + channel]) / 255 - mean) / std
        }
      }
    }
    return Tensor(shape: [pictures.count, 3, height, width], values: values)
  }
}

extension SwinTransformer {
  /// Runs the model on one decoded image: `preprocessing.tensor(image)` (`[1, 3, size, size]`) then
  /// `forward`. Logits are `[1, classes]`; stage maps (when `options.collectStages`) `[1, H_s, W_s, C_s]`.
  public func forward(
    _ image: RGBImage, preprocessing: ImagePreprocessing = .standard, sparsity: PruningRatios? = nil,
    options: ForwardOptions = ForwardOptions()
  ) throws(InferenceError) -> SwinOutput {
    try forward(preprocessing.tensor(image), sparsity: sparsity, options: options)
  }
}

// MARK: - Pillow's resampling

/// A separable filter: its function and its support (half-width at scale 1).
private struct ResampleFilter {
  let support: Double
  let weight: (Double) -> Double

  init(_ interpolation: ImagePreprocessing.Interpolation) {
    switch interpolation {
    case .bicubic:
      support = 2
      weight = { value in
        let a = -0.5, x = abs(value)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
      }
    case .bilinear:
      support = 1
      weight = { value in
        let x = abs(value)
        return x < 1 ? 1 - x : 0
      }
    }
  }
}

/// Fixed-point bits of the coefficients (Pillow: 32 − 8 − 2, room for 8-bit data and overshoot).
private let precisionBits = 22

/// Per output position the first input index, the tap count and `taps` fixed-point weights.
private struct AxisWeights {
  /// The output positions described (a window of the full output axis).
  let positions: Range<Int>
  let first: [Int]
  let count: [Int]
  let taps: Int
  /// `[positions.count, taps]`.
  let weights: [Int]

  /// Input indices the positions read.
  var inputRange: Range<Int> {
    guard !positions.isEmpty else { return 0..<0 }
    return first[0]..<zip(first, count).map { $0 + $1 }.max()!
  }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis of `inSize → outSize`,
/// for the output `positions` only (a crop needs no weights outside it).
private func axisWeights(inSize: Int, outSize: Int, positions: Range<Int>, filter: ResampleFilter) -> AxisWeights {
  let scale = Double(inSize) / Double(outSize)
  let filterScale = max(scale, 1)
  let inverseScale = 1 / filterScale
  let support = filter.support * filterScale
  let taps = Int(support.rounded(.up)) * 2 + 1
  var first = [Int](repeating: 0, count: positions.count)
  var count = [Int](repeating: 0, count: positions.count)
  var weights = [Int](repeating: 0, count: positions.count * taps)
  var row = [Double](repeating: 0, count: taps)
  for (index, position) in positions.enumerated() {
    let center = (Double(position) + 0.5) * scale
    // C's (int) truncates toward zero, as Swift's Int(_:) does.
    let lower = max(Int(center - support + 0.5), 0)
    let upper = min(Int(center + support + 0.5), inSize)
    let n = upper - lower
    var sum = 0.0
    for x in 0..<n {
      row[x] = filter.weight((Double(x + lower) - center + 0.5) * inverseScale)
      sum += row[x]
    }
    for x in 0..<n {
      let w = sum != 0 ? row[x] / sum : row[x]
      let scaled = w * Double(1 << precisionBits)
      weights[index * taps + x] = Int(w < 0 ? -0.5 + scaled : 0.5 + scaled)
    }
    first[index] = lower
    count[index] = n
  }
  return AxisWeights(positions: positions, first: first, count: count, taps: taps, weights: weights)
}

/// Pillow's `clip8`: the fixed-point sum back to a byte (arithmetic shift, then clamp).
@inline(__always)
private func clip8(_ sum: Int) -> UInt8 {
  UInt8(clamping: sum >> precisionBits)
}

/// The `columns × rows` window of `image` resized to `width × height` as Pillow's `Image.resize`
/// computes it: horizontal pass, then vertical, 8-bit between the passes (an axis of unchanged
/// size is copied). Only the window and the rows it reads are computed, so a centre crop of an
/// extreme aspect ratio costs no more than the crop.
private func resample(
  _ image: RGBImage, width: Int, height: Int, columns: Range<Int>, rows: Range<Int>,
  interpolation: ImagePreprocessing.Interpolation
) -> RGBImage {
  let filter = ResampleFilter(interpolation)
  let half = 1 << (precisionBits - 1)
  let vertical =
    height == image.height ? nil : axisWeights(inSize: image.height, outSize: height, positions: rows, filter: filter)
  let sourceRows = vertical?.inputRange ?? rows
  // Horizontal pass: source rows `sourceRows`, output columns `columns`.
  let stripWidth = columns.count
  var strip = [UInt8](repeating: 0, count: stripWidth * sourceRows.count * 3)
  if width == image.width {
    for (index, y) in sourceRows.enumerated() {
      let source = 3 * (y * image.width + columns.lowerBound), destination = 3 * index * stripWidth
      strip[destination..<destination + 3 * stripWidth] = image.pixels[source..<source + 3 * stripWidth]
    }
  } else {
    let axis = axisWeights(inSize: image.width, outSize: width, positions: columns, filter: filter)
    for (index, y) in sourceRows.enumerated() {
      let rowBase = y * image.width
      for x in 0..<stripWidth {
        var red = half, green = half, blue = half
        let first = axis.first[x], weightBase = x * axis.taps
        for tap in 0..<axis.count[x] {
          let w = axis.weights[weightBase + tap], source = 3 * (rowBase + first + tap)
          red += Int(image.pixels[source]) * w
          green += Int(image.pixels[source + 1]) * w
          blue += Int(image.pixels[source + 2]) * w
        }
        let destination = 3 * (index * stripWidth + x)
        strip[destination] = clip8(red)
        strip[destination + 1] = clip8(green)
        strip[destination + 2] = clip8(blue)
      }
    }
  }
  guard let vertical else { return RGBImage(validated: stripWidth, height: rows.count, pixels: strip) }
  // Vertical pass over the strip (its row 0 is source row `sourceRows.lowerBound`).
  var pixels = [UInt8](repeating: 0, count: stripWidth * rows.count * 3)
  for y in 0..<rows.count {
    let first = vertical.first[y] - sourceRows.lowerBound, weightBase = y * vertical.taps
    for x in 0..<stripWidth {
      var red = half, green = half, blue = half
      for tap in 0..<vertical.count[y] {
        let w = vertical.weights[weightBase + tap], source = 3 * ((first + tap) * stripWidth + x)
        red += Int(strip[source]) * w
        green += Int(strip[source + 1]) * w
        blue += Int(strip[source + 2]) * w
      }
      let destination = 3 * (y * stripWidth + x)
      pixels[destination] = clip8(red)
      pixels[destination + 1] = clip8(green)
      pixels[destination + 2] = clip8(blue)
    }
  }
  return RGBImage(validated: stripWidth, height: rows.count, pixels: pixels)
}
