// The SLO policy: a ladder of pruning configurations from dense to the sparsest allowed, ordered by
// measured latency, and the choice of the level each batch runs at (README, "Latency SLO").
import Foundation
import Models

/// One rung: a configuration and its measured seconds per image at the calibration size.
public struct SparsityLevel: Sendable {
  /// Mean of the per-block ratios: how sparse the level is (0 for dense).
  var meanRatio: Double {
    let all = ratios.ratios.joined()
    return all.isEmpty ? 0 : all.reduce(0, +) / Double(all.count)
  }

  public let name: String
  public let ratios: PruningRatios
  /// Seconds per image of a batch-1 forward at `SparsityLadder.calibrationPixels`.
  public let secondsPerImage: Double

  public init(name: String, ratios: PruningRatios, secondsPerImage: Double) {
    self.name = name
    self.ratios = ratios
    self.secondsPerImage = secondsPerImage
  }
}

/// Chooses the level of each batch so that the predicted completion of the queue meets the SLO.
///
/// Predicted completion at level `l` = the oldest queued request's wait so far + (images in the batch
/// + images queued behind it) × seconds per image at `l` × (pixels / calibration pixels) × the machine's
/// correction (running mean of measured / predicted over every batch: one factor for all levels, so
/// a level that has not run lately is not judged by the load of its last run). The target is
/// `targetFraction` × SLO while other images are waiting (more arrive while they run), and the SLO
/// itself for a lone image: it only has its own run to finish, so a machine running 20% slow for a
/// while does not prune a light load that still meets the SLO.
/// When the current level misses it, the batch runs at the least sparse level that meets it (the
/// sparsest if none does). Going back toward dense is one level at a time, once the denser level has
/// met the target for `calmBatches` batches in a row (hysteresis: a brief lull does not flap).
public final class SparsityLadder: @unchecked Sendable {
  /// Least sparse first; each faster than every level before it.
  public let levels: [SparsityLevel]
  /// Names of the levels left out: not faster than a less sparse level, so they buy no time.
  public let dropped: [String]
  public let sloSeconds: Double
  public let calibrationPixels: Int
  public let targetFraction: Double
  public let calmBatches: Int
  private let lock = NSLock()
  private var current = 0
  private var calm = 0
  private var correction = 1.0

  /// `levels` are ordered here by mean pruning ratio (dense first); a level not faster than every
  /// less sparse one is dropped (timing noise, or pruning that does not pay at this size).
  public init(
    levels: [SparsityLevel], sloSeconds: Double, calibrationPixels: Int, targetFraction: Double = 0.8,
    calmBatches: Int = 3
  ) {
    precondition(!levels.isEmpty, "SparsityLadder: at least one level")
    var kept: [SparsityLevel] = []
    var dropped: [String] = []
    let ordered = levels.enumerated().sorted {
      ($0.element.meanRatio, $0.offset) < ($1.element.meanRatio, $1.offset)
    }
    for (_, level) in ordered {
      if let last = kept.last, level.secondsPerImage >= last.secondsPerImage {
        dropped.append(level.name)
      } else {
        kept.append(level)
      }
    }
    self.levels = kept
    self.dropped = dropped
    self.sloSeconds = sloSeconds
    self.calibrationPixels = max(1, calibrationPixels)
    self.targetFraction = targetFraction
    self.calmBatches = max(1, calmBatches)
  }

  /// The level in use now (index into `levels`).
  public var currentLevel: Int { lock.withLock { current } }

  /// Predicted seconds until the last of `images` queued images completes at `level`, after `waited`.
  public func predictedSeconds(level: Int, images: Int, pixels: Int, waited: Double) -> Double {
    lock.withLock { predicted(level: level, images: images, pixels: pixels, waited: waited) }
  }

  private func predicted(level: Int, images: Int, pixels: Int, waited: Double) -> Double {
    waited + Double(images) * levels[level].secondsPerImage * correction
      * Double(pixels) / Double(calibrationPixels)
  }

  /// The level for a batch: `images` = the batch plus the images queued behind it, `pixels` per image,
  /// `waited` = the oldest request's time in the queue.
  public func choose(images: Int, pixels: Int, waited: Double) -> Int {
    lock.withLock {
      let target = (images > 1 ? targetFraction : 1) * sloSeconds
      func meets(_ level: Int) -> Bool {
        predicted(level: level, images: images, pixels: pixels, waited: waited) <= target
      }
      if !meets(current) {
        // Sparser: the least sparse level that meets the target, else the sparsest.
        while current + 1 < levels.count && !meets(current) { current += 1 }
        calm = 0
      } else if current > 0 && meets(current - 1) {
        calm += 1
        if calm >= calmBatches {
          current -= 1
          calm = 0
        }
      } else {
        calm = 0
      }
      return current
    }
  }

  /// Feeds back a batch's measured time, so predictions follow the machine's load.
  public func record(level: Int, images: Int, pixels: Int, seconds: Double) {
    lock.withLock {
      let base = Double(images) * levels[level].secondsPerImage * Double(pixels) / Double(calibrationPixels)
      guard base > 0, seconds.isFinite, seconds > 0 else { return }
      let ratio = min(max(seconds / base, 0.25), 8)
      correction = 0.8 * correction + 0.2 * ratio
    }
  }
}
