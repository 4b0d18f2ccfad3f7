// The calibration images the ratio search scores configurations on: the first images of an `.npy`
// batch, the pictures of a directory (preprocessed like timm's eval transform), or synthetic ones,
// checked against the model, with the default count that keeps scoring affordable.
import Engine
import Foundation

/// Why calibration images could not be assembled.
public enum CalibrationError: Error, Equatable, CustomStringConvertible {
  /// The search size is below the model's minimum input side.
  case belowMinimum(height: Int, width: Int, minimum: Int)
  /// The images could not be read or do not fit the model or the size (the message says which).
  case unusable(String)

  public var description: String {
    switch self {
    case .belowMinimum(let height, let width, let minimum):
      "\(height)x\(width) is below the model's minimum of \(minimum)x\(minimum) pixels"
    case .unusable(let message): message
    }
  }
}

/// Calibration images `[n, channels, height, width]` and how to describe them.
public struct CalibrationSet {
  /// Where the images come from.
  public enum Source: Equatable, Sendable {
    /// Float32 `(n, channels, height, width)`, ImageNet-normalized.
    case numpy(path: String)
    /// The `.png`/`.jpg`/`.jpeg` files of a directory, in name order.
    case directory(path: String)
    /// `SyntheticImages` drawn from `seed`.
    case synthetic(seed: UInt64)
  }

  public let images: Tensor
  public let height: Int
  public let width: Int
  /// "2 of the 10 images in photos/", "2 synthetic images (seed 0)".
  public let label: String

  /// The search size when neither the user nor an `.npy` batch gives one.
  public static let defaultSide = 672
  /// Scoring costs about as much as two forwards of this many pixels by default.
  public static let referencePixels = 2 * 672 * 672
  /// The most images scored by default.
  public static let maximumDefaultCount = 16

  /// Images scored by default at `height × width`: as many as cost two 672×672 forwards, 1…16.
  public static func defaultCount(height: Int, width: Int) -> Int {
    max(1, min(maximumDefaultCount, Int((Double(referencePixels) / Double(height * width)).rounded())))
  }

  /// The images of `source` for `configuration`: at most `count` (default `defaultCount`), at
  /// `size` (an `.npy` batch's own size when nil, else 672×672; a directory needs a square size).
  public static func load(
    _ source: Source, size: (height: Int, width: Int)?, count: Int?, configuration: SwinConfiguration
  ) throws(CalibrationError) -> CalibrationSet {
    let minimum = configuration.minimumInputSide
    func checkSize(_ height: Int, _ width: Int) throws(CalibrationError) {
      guard height >= minimum, width >= minimum else {
        throw .belowMinimum(height: height, width: width, minimum: minimum)
      }
    }
    if case .numpy(let path) = source {
      return try numpy(path: path, size: size, count: count, configuration: configuration, check: checkSize)
    }
    let (height, width) = size ?? (defaultSide, defaultSide)
    try checkSize(height, width)
    let wanted = count ?? defaultCount(height: height, width: width)
    switch source {
    case .directory(let directory):
      return try pictures(directory: directory, side: height, count: wanted)
    case .synthetic(let seed):
      return CalibrationSet(
        images: SyntheticImages.batch(count: wanted, height: height, width: width, seed: seed),
        height: height, width: width,
        label: "\(wanted) synthetic image\(wanted == 1 ? "" : "s") (seed \(seed))")
    case .numpy: preconditionFailure("handled above")
    }
  }

  private static func numpy(
    path: String, size: (height: Int, width: Int)?, count: Int?, configuration: SwinConfiguration,
    check: (Int, Int) throws(CalibrationError) -> Void
  ) throws(CalibrationError) -> CalibrationSet {
    let channels = configuration.inputChannels
    let images: Tensor
    do {
      images = try readNumPy(path: path)
    } catch {
      throw .unusable("calibration images \(error.description)")
    }
    guard images.rank == 4, images.shape[0] >= 1 else {
      throw .unusable(
        "\(path): calibration images have shape \(images.shape), expected (n, \(channels), height, width) with n ≥ 1")
    }
    guard images.shape[1] == channels else {
      throw .unusable(
        "\(path): calibration images have \(images.shape[1]) channels, the model expects \(channels) (shape \(images.shape))"
      )
    }
    let (height, width) = (images.shape[2], images.shape[3])
    if let size, size != (height, width) {
      let found = "\(height)x\(width)", wanted = "\(size.height)x\(size.width)"
      throw .unusable(
        "\(path): calibration images are \(found), the search is at \(wanted) (give '--size \(found)' or images of \(wanted))"
      )
    }
    try check(height, width)
    let used = min(images.shape[0], count ?? defaultCount(height: height, width: width))
    let plane = channels * height * width
    return CalibrationSet(
      images: Tensor(shape: [used, channels, height, width], values: Array(images.values[0..<(used * plane)])),
      height: height, width: width, label: "\(used) of the \(images.shape[0]) images of \(path)")
  }

  private static func pictures(directory: String, side: Int, count: Int) throws(CalibrationError) -> CalibrationSet {
    let files: [String]
    do {
      files = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
        ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased())
      }.sorted()
    } catch {
      throw .unusable("cannot list '\(directory)': \(error.localizedDescription)")
    }
    guard !files.isEmpty else {
      throw .unusable("'\(directory)' has no .png, .jpg or .jpeg files to calibrate with")
    }
    let used = min(files.count, count)
    do {
      let preprocessing = try ImagePreprocessing(size: side)
      let images = try files.prefix(used).map {
        try RGBImage.load(path: (directory as NSString).appendingPathComponent($0))
      }
      return CalibrationSet(
        images: preprocessing.tensor(images), height: side, width: side,
        label: "\(used) of the \(files.count) images in \(directory)")
    } catch {
      throw .unusable(String(describing: error))
    }
  }
}
