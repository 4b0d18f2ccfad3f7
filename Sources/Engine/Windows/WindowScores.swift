// Window importance for SparseViT pruning: a[b, h, w] = mean over channels of |x[b, h, w, :]|, then
// per window the L2 norm of its tokens' values of `a` on the rolled, zero-padded map of a grid.

import CKernels

/// `activity[b, h, w] = mean_c |x[b, h, w, c]|` for `x [batch, H, W, C]`; `activity` has
/// `batch·H·W` elements. Pixels are split over `threads` workers.
package func meanAbsoluteActivation(_ x: Tensor, into activity: inout [Float], threads: Int = 1) {
  precondition(x.rank == 4, "meanAbsoluteActivation: activations \(x.shape)")
  let channels = x.shape[3], pixels = x.shape[0] * x.shape[1] * x.shape[2]
  precondition(activity.count >= pixels, "meanAbsoluteActivation: \(activity.count) < \(pixels) outputs")
  precondition(threads >= 1, "meanAbsoluteActivation: threads \(threads)")
  x.values.withUnsafeBufferPointer { xBuffer in
    activity.withUnsafeMutableBufferPointer { out in
      // Parts of at least 1024 pixels: below that a fork costs more than the pass.
      let parts = max(1, min(threads, pixels / 1024))
      var job = ActivityJob(
        x: xBuffer.baseAddress!, out: out.baseAddress!, pixels: pixels, channels: channels, parts: parts)
      parallelParts(parts, &job) { raw, part in
        forkContext(raw, as: ActivityJob.self).pointee.run(part: part)
      }
    }
  }
}

/// One part's share of `meanAbsoluteActivation`.
private struct ActivityJob {
  let x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
  let pixels: Int, channels: Int, parts: Int

  func run(part: Int) {
    let range = partRange(pixels, part: part, parts: parts)
    meanAbsoluteRows(
      x + range.lowerBound * channels, rows: range.count, channels: channels, into: out + range.lowerBound)
  }
}

/// `out[r] = mean_c |x[r, c]|` for `rows` rows of `channels` floats: the per-pixel activity of the
/// window scores. The stem and the merges call it on the rows they have just written. `isa` picks
/// the copy (the C ones where the CPU has them; every copy gives the same bits).
@inline(__always)
package func meanAbsoluteRows(
  _ x: UnsafePointer<Float>, rows: Int, channels: Int, into out: UnsafeMutablePointer<Float>,
  isa: VectorISA = .widest
) {
  switch isa {
  case .avx512: ck_mean_abs_rows_avx512(x, rows, channels, out)
  case .avx2: ck_mean_abs_rows_avx2(x, rows, channels, out)
  case .swift: meanAbsoluteRowsSwift(x, rows: rows, channels: channels, into: out)
  }
}

/// `meanAbsoluteRows` in Swift.
@inline(__always)
func meanAbsoluteRowsSwift(
  _ x: UnsafePointer<Float>, rows: Int, channels: Int, into out: UnsafeMutablePointer<Float>
) {
  let inverse = 1 / Float(channels)
  for pixel in 0..<rows {
    let row = x + pixel * channels
    var a0 = Vector8(), a1 = Vector8()
    var c = 0
    while c + 16 <= channels {
      a0 += abs(load8(row + c))
      a1 += abs(load8(row + c + 8))
      c += 16
    }
    var sum = horizontalSum(a0 + a1)
    while c < channels {
      sum += abs(row[c])
      c += 1
    }
    out[pixel] = sum * inverse
  }
}

@inline(__always)
private func abs(_ v: Vector8) -> Vector8 {
  Vector8(bitPattern: SIMD8<UInt32>(truncatingIfNeeded: v.bitPattern) & 0x7FFF_FFFF)
}

extension Vector8 {
  @inline(__always)
  fileprivate var bitPattern: SIMD8<UInt32> { unsafeBitCast(self, to: SIMD8<UInt32>.self) }

  @inline(__always)
  fileprivate init(bitPattern: SIMD8<UInt32>) { self = unsafeBitCast(bitPattern, to: Vector8.self) }
}

/// `scores[b · nW + w]` = L2 norm of window `w`'s values of `activity` (`[batch, H, W]`) on `grid`'s
/// rolled and zero-padded map. Accumulates in double so rankings do not depend on summation order.
package func windowScores(_ activity: [Float], batch: Int, grid: WindowGrid, into scores: inout [Double]) {
  let windowCount = grid.windowCount, tokens = grid.windowTokens
  let pixels = grid.height * grid.width
  precondition(
    activity.count >= batch * pixels && scores.count >= batch * windowCount, "windowScores: buffers too small")
  for image in 0..<batch {
    for window in 0..<windowCount {
      var sum = 0.0
      for token in 0..<tokens {
        if let pixel = grid.sourcePixel(window: window, token: token) {
          let a = Double(activity[image * pixels + pixel])
          sum += a * a
        }
      }
      scores[image * windowCount + window] = sum.squareRoot()
    }
  }
}
