// How a feature map is cut into (shifted) windows in each framework's semantics: window clamp for
// small maps (timm), cyclic roll by (−shift, −shift) and zero padding at the bottom/right to a
// multiple of the window, in either order, then row-major windows. The roll and padding are never
// materialized: the gather, scatter and scoring kernels map each window token straight to its
// source pixel with `sourcePixel`, the one place that index arithmetic lives.

/// The partition of a `height × width` map into windows of one block.
package struct WindowGrid: Sendable, Equatable, Hashable {
  /// Whose padding, roll and clamp rules the grid follows.
  package let semantics: WindowSemantics
  /// Map height and width (tokens).
  package let height: Int
  package let width: Int
  /// Window extent on each axis, after the clamp (`min(window, side)`).
  package let windowHeight: Int
  package let windowWidth: Int
  /// Cyclic shift on each axis (0 when the block is unshifted or the side fits in one window).
  package let shiftHeight: Int
  package let shiftWidth: Int
  /// Rows and columns of the map the roll wraps around: the map itself when it rolls before padding
  /// (timm), the padded map when it pads first.
  package let rolledHeight: Int
  package let rolledWidth: Int

  /// A grid for `height × width` with square `window` windows, shifted by `window / 2` when
  /// `shifted`. In timm semantics an axis no longer than `window` uses the whole side as its window;
  /// the others pad it to one window. An axis whose padded map is one window is not shifted, except
  /// in mmdet and SparseViT semantics.
  package init(height: Int, width: Int, window: Int, shifted: Bool, semantics: WindowSemantics = .timm) {
    precondition(height > 0 && width > 0 && window > 0, "WindowGrid: height \(height) width \(width) window \(window)")
    self.semantics = semantics
    self.height = height
    self.width = width
    let clamp = semantics.clampsWindow
    windowHeight = clamp && height <= window ? height : window
    windowWidth = clamp && width <= window ? width : window
    let paddedHeight = (height + windowHeight - 1) / windowHeight * windowHeight
    let paddedWidth = (width + windowWidth - 1) / windowWidth * windowWidth
    let shiftAlways = semantics.shiftsSingleWindow
    shiftHeight = shifted && (shiftAlways || paddedHeight > windowHeight) ? window / 2 : 0
    shiftWidth = shifted && (shiftAlways || paddedWidth > windowWidth) ? window / 2 : 0
    rolledHeight = semantics.padsBeforeRoll ? paddedHeight : height
    rolledWidth = semantics.padsBeforeRoll ? paddedWidth : width
  }

  /// Height and width after zero padding to whole windows.
  package var paddedHeight: Int { (height + windowHeight - 1) / windowHeight * windowHeight }
  package var paddedWidth: Int { (width + windowWidth - 1) / windowWidth * windowWidth }
  /// Windows per column and per row of the padded map.
  package var windowsDown: Int { paddedHeight / windowHeight }
  package var windowsAcross: Int { paddedWidth / windowWidth }
  /// Windows per image (`nW`).
  package var windowCount: Int { windowsDown * windowsAcross }
  /// Tokens per window (`N = windowHeight · windowWidth`).
  package var windowTokens: Int { windowHeight * windowWidth }
  /// Whether any axis is shifted (a shift mask applies).
  package var isShifted: Bool { shiftHeight > 0 || shiftWidth > 0 }

  /// Which of the (at most four) shift-mask patterns window `window` uses: bit 0 is set for the
  /// last window row of a shifted height, bit 1 for the last window column of a shifted width.
  /// Every other window sees no mask (class 0).
  @inline(__always)
  package func maskClass(ofWindow window: Int) -> Int {
    let down = windowsDown, across = windowsAcross
    let row = window / across, column = window - window / across * across
    let lastRow = shiftHeight > 0 && row == down - 1 ? 1 : 0
    let lastColumn = shiftWidth > 0 && column == across - 1 ? 2 : 0
    return lastRow | lastColumn
  }

  /// Number of mask classes the bias tables hold (4 when shifted, else 1).
  package var maskClassCount: Int { isShifted ? 4 : 1 }

  /// The additive shift mask of class `maskClass`, `[windowTokens, windowTokens]`: 0 where two
  /// tokens come from the same region of the rolled map, −100 elsewhere (timm uses −100, not −inf).
  package func shiftMask(forClass maskClass: Int) -> [Float] {
    let tokens = windowTokens
    // Region labels of the last window row/column: rows [Hp−wh, Hp−sh) are region 1, [Hp−sh, Hp)
    // region 2; all other windows lie in region 0 on that axis.
    func rowLabel(_ i: Int) -> Int {
      guard maskClass & 1 != 0 else { return 0 }
      return i < windowHeight - shiftHeight ? 1 : 2
    }
    func columnLabel(_ j: Int) -> Int {
      guard maskClass & 2 != 0 else { return 0 }
      return j < windowWidth - shiftWidth ? 1 : 2
    }
    var labels = [Int](repeating: 0, count: tokens)
    for i in 0..<windowHeight {
      for j in 0..<windowWidth { labels[i * windowWidth + j] = rowLabel(i) * 3 + columnLabel(j) }
    }
    var mask = [Float](repeating: 0, count: tokens * tokens)
    for a in 0..<tokens {
      for b in 0..<tokens where labels[a] != labels[b] { mask[a * tokens + b] = -100 }
    }
    return mask
  }

  /// The pixel of the (unrolled, unpadded) map that token `token` of window `window` reads, as
  /// `row * width + column`, or nil for a padding token.
  ///
  /// Token (r, c) of the rolled, padded map: rows at or past `rolledHeight` are the padding added
  /// after a roll (timm); otherwise it reads rolled row (r + shift) mod `rolledHeight`, which is
  /// padding when at or past `height` (padding rolled in with the map). Columns alike.
  @inline(__always)
  package func sourcePixel(window: Int, token: Int) -> Int? {
    let windowRow = window / windowsAcross, windowColumn = window - windowRow * windowsAcross
    let tokenRow = token / windowWidth, tokenColumn = token - tokenRow * windowWidth
    let row = windowRow * windowHeight + tokenRow, column = windowColumn * windowWidth + tokenColumn
    if row >= rolledHeight || column >= rolledWidth { return nil }
    var sourceRow = row + shiftHeight
    if sourceRow >= rolledHeight { sourceRow -= rolledHeight }
    var sourceColumn = column + shiftWidth
    if sourceColumn >= rolledWidth { sourceColumn -= rolledWidth }
    if sourceRow >= height || sourceColumn >= width { return nil }
    return sourceRow * width + sourceColumn
  }
}
