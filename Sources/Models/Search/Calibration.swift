// Seeded synthetic calibration pictures for the ratio search when the user gives no images: not
// white noise (every window would look alike to the window scorer) but picture-like: a lit
// background with smooth shading, objects with soft edges, and texture that is strong in some places
// and absent in others, so that window importance varies across the map as it does on photographs.
import Engine
import Foundation

/// Seeded picture-like images for scoring pruning configurations without a data set.
public enum SyntheticImages {
  /// One `width × height` picture; the same seed gives the same picture.
  ///
  /// Layers, each drawn in Double and added: a two-colour vertical gradient split at a random
  /// horizon; four low-frequency cosine waves (wavelengths 0.3–1.5 image sides) tinted by random
  /// colours; 6–14 ellipses and rectangles (5–35 % of the shorter side, soft 1.5-pixel edges) filled
  /// with a flat colour, stripes, a checkerboard or blotches; fine value noise (2–4 pixel cells)
  /// whose amplitude is itself a smooth random field between 0 and 28 levels.
  public static func picture(width: Int, height: Int, seed: UInt64) -> RGBImage {
    precondition(width >= 1 && height >= 1, "SyntheticImages.picture: \(width)×\(height)")
    var random = SearchRandom(seed: seed ^ 0xC0FF_EE00_5EED)
    var canvas = Canvas(width: width, height: height)
    canvas.drawBackground(&random)
    for _ in 0..<4 { canvas.addWave(&random) }
    let objects = 6 + random.integer(below: 9)
    for _ in 0..<objects { canvas.drawObject(&random) }
    canvas.addGrain(&random)
    return canvas.image()
  }

  /// `[count, 3, height, width]` NCHW, ImageNet-normalized: picture `i` has seed `seed + i`.
  public static func batch(count: Int, height: Int, width: Int, seed: UInt64) -> Tensor {
    precondition(count >= 1, "SyntheticImages.batch: count \(count)")
    var values: [Float] = []
    values.reserveCapacity(count * 3 * height * width)
    for index in 0..<count {
      let picture = picture(width: width, height: height, seed: seed &+ UInt64(index))
      values += ImagePreprocessing.standard.normalized(picture).values
    }
    return Tensor(shape: [count, 3, height, width], values: values)
  }
}

/// A picture being drawn: `[3, height, width]` values on the 0…255 scale, in Double.
private struct Canvas {
  let width: Int
  let height: Int
  let plane: Int
  /// The shorter side, the scale of waves and objects.
  let side: Double
  var values: [Double]

  init(width: Int, height: Int) {
    self.width = width
    self.height = height
    plane = width * height
    side = Double(min(width, height))
    values = [Double](repeating: 0, count: 3 * width * height)
  }

  /// Sky colour above a horizon, ground colour below, blended over 6% of the height.
  mutating func drawBackground(_ random: inout SearchRandom) {
    let top = randomColor(&random)
    let bottom = randomColor(&random)
    let horizon = (0.3 + 0.4 * random.unit()) * Double(height)
    let blend = max(1, 0.06 * Double(height))
    for y in 0..<height {
      let t = 1 / (1 + exp(-(Double(y) - horizon) / blend))
      for channel in 0..<3 {
        let value = top[channel] * (1 - t) + bottom[channel] * t
        for x in 0..<width { values[channel * plane + y * width + x] = value }
      }
    }
  }

  /// Shading: a low-frequency wave with a colour tint.
  mutating func addWave(_ random: inout SearchRandom) {
    let wavelength = (0.3 + 1.2 * random.unit()) * side
    let angle = 2 * Double.pi * random.unit()
    let phase = 2 * Double.pi * random.unit()
    let amplitude = 10 + 20 * random.unit()
    let tint = (0..<3).map { _ in 0.5 + random.unit() }
    let kx = cos(angle) * 2 * Double.pi / wavelength
    let ky = sin(angle) * 2 * Double.pi / wavelength
    for y in 0..<height {
      for x in 0..<width {
        let wave = amplitude * cos(kx * Double(x) + ky * Double(y) + phase)
        for channel in 0..<3 { values[channel * plane + y * width + x] += wave * tint[channel] }
      }
    }
  }

  /// An ellipse or rectangle with a soft edge, filled with a flat colour, stripes, a checkerboard
  /// or blotches.
  mutating func drawObject(_ random: inout SearchRandom) {
    let radiusX = (0.025 + 0.15 * random.unit()) * side
    let radiusY = (0.025 + 0.15 * random.unit()) * side
    let centerX = random.unit() * Double(width)
    let centerY = random.unit() * Double(height)
    let isEllipse = random.integer(below: 2) == 0
    let color = randomColor(&random)
    let pattern = random.integer(below: 4)
    let period = 3 + 9 * random.unit()
    let angle = Double.pi * random.unit()
    let contrast = 20 + 40 * random.unit()
    let blotches = ValueNoise(cell: max(2, 0.15 * min(radiusX, radiusY)), random: &random)
    let x0 = max(0, Int(centerX - radiusX - 2))
    let x1 = min(width - 1, Int(centerX + radiusX + 2))
    let y0 = max(0, Int(centerY - radiusY - 2))
    let y1 = min(height - 1, Int(centerY + radiusY + 2))
    guard x0 <= x1, y0 <= y1 else { return }
    for y in y0...y1 {
      for x in x0...x1 {
        let dx = (Double(x) + 0.5 - centerX)
        let dy = (Double(y) + 0.5 - centerY)
        // Signed distance to the edge in pixels (approximate for ellipses), negative inside.
        let distance: Double
        if isEllipse {
          let r = ((dx / radiusX) * (dx / radiusX) + (dy / radiusY) * (dy / radiusY)).squareRoot()
          distance = (r - 1) * min(radiusX, radiusY)
        } else {
          distance = max(abs(dx) - radiusX, abs(dy) - radiusY)
        }
        let coverage = min(1, max(0, 0.5 - distance / 1.5))
        if coverage == 0 { continue }
        let u = dx * cos(angle) + dy * sin(angle)
        let texture: Double
        switch pattern {
        case 0: texture = 0
        case 1: texture = contrast * sin(2 * Double.pi * u / period)
        case 2:
          let v = -dx * sin(angle) + dy * cos(angle)
          let parity = (Int((u / period).rounded(.down)) + Int((v / period).rounded(.down))) & 1
          texture = contrast * (parity == 0 ? 0.5 : -0.5)
        default: texture = contrast * (blotches.value(x: Double(x), y: Double(y)) - 0.5)
        }
        for channel in 0..<3 {
          let index = channel * plane + y * width + x
          values[index] = values[index] * (1 - coverage) + (color[channel] + texture) * coverage
        }
      }
    }
  }

  /// Fine texture, strong in some regions and absent in others.
  mutating func addGrain(_ random: inout SearchRandom) {
    let grain = ValueNoise(cell: 2 + 2 * random.unit(), random: &random)
    let strength = ValueNoise(cell: max(4, 0.2 * side), random: &random)
    for y in 0..<height {
      for x in 0..<width {
        let amount = 28 * max(0, 2 * strength.value(x: Double(x), y: Double(y)) - 0.6)
        let noise = amount * (grain.value(x: Double(x), y: Double(y)) - 0.5)
        for channel in 0..<3 { values[channel * plane + y * width + x] += noise }
      }
    }
  }

  /// The picture as 8-bit RGB, rounded and clamped.
  func image() -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: 3 * plane)
    for pixel in 0..<plane {
      for channel in 0..<3 {
        pixels[3 * pixel + channel] = UInt8(min(255, max(0, values[channel * plane + pixel].rounded())))
      }
    }
    return RGBImage(validated: width, height: height, pixels: pixels)
  }
}

private func randomColor(_ random: inout SearchRandom) -> [Double] {
  (0..<3).map { _ in 30 + 195 * random.unit() }
}

/// Smooth random values in [0, 1]: a lattice of random values every `cell` pixels, interpolated with
/// smoothstep weights. The lattice repeats every 64 cells.
private struct ValueNoise {
  let cell: Double
  let lattice: [Double]
  static let period = 64

  init(cell: Double, random: inout SearchRandom) {
    self.cell = cell
    lattice = (0..<(ValueNoise.period * ValueNoise.period)).map { _ in random.unit() }
  }

  func value(x: Double, y: Double) -> Double {
    let fx = x / cell
    let fy = y / cell
    let ix = Int(fx.rounded(.down))
    let iy = Int(fy.rounded(.down))
    let tx = smooth(fx - Double(ix))
    let ty = smooth(fy - Double(iy))
    func at(_ i: Int, _ j: Int) -> Double {
      let p = ValueNoise.period
      return lattice[((j % p + p) % p) * p + ((i % p + p) % p)]
    }
    let top = at(ix, iy) * (1 - tx) + at(ix + 1, iy) * tx
    let bottom = at(ix, iy + 1) * (1 - tx) + at(ix + 1, iy + 1) * tx
    return top * (1 - ty) + bottom * ty
  }

  private func smooth(_ t: Double) -> Double { t * t * (3 - 2 * t) }
}
