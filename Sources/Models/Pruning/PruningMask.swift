// The SparseViT paper's picture of window activation pruning: the model input with, per stage, the
// windows a block computed drawn bright and the pruned ones dimmed. A kept window index maps to
// the pixels of the block's rolled, padded map (WindowGrid), then to input pixels by 4 · 2^stage.
import Engine

/// A picture of which windows a pruned forward pass computed, with what each panel shows.
///
/// The picture has one column per stage. A stage gets one panel per distinct pruning ratio among
/// its blocks, drawn for the first block with that ratio (later blocks of a stage keep a prefix of
/// the same ranking, so a panel stands for every block with its ratio; a shifted block's windows
/// are those of the rolled map, so they wrap around the edges). A stage that is not pruned gets one
/// panel with every window kept. Window borders are outlined; panels are enlarged to at least 224
/// pixels by whole-pixel repetition.
public struct PruningMask: Sendable {
  /// What one panel of the picture shows.
  public struct Panel: Sendable, Equatable {
    /// The stage (column of the picture).
    public let stage: Int
    /// The block drawn: the first of the stage with this ratio.
    public let block: Int
    /// Every block of the stage with this ratio.
    public let blocks: [Int]
    /// The pruning ratio of those blocks.
    public let ratio: Double
    /// Whether the drawn block uses shifted windows.
    public let shifted: Bool
    /// Windows the drawn block computed for the image.
    public let keptWindows: Int
    /// Windows of the block's grid.
    public let totalWindows: Int
    /// Where the panel is: input pixel `(x, y)` is drawn at picture pixels
    /// `left + x · scale ..< left + (x + 1) · scale` by `top + y · scale ..< top + (y + 1) · scale`.
    public let left: Int
    /// See `left`.
    public let top: Int
    /// Enlargement of the panel (whole pixels).
    public let scale: Int
  }

  /// The rendered picture (8-bit RGB; write it with `writePNG(to:)`).
  public let picture: RGBImage
  /// The panels, stage by stage, in drawing order.
  public let panels: [Panel]
  /// The forward pass whose selection is drawn (logits, window usage, kept windows).
  public let output: SwinOutput
}

extension SwinTransformer {
  /// Runs `image` through the model with `sparsity` and draws, per stage, which windows were kept.
  ///
  /// The image is preprocessed with `preprocessing` (`[1, 3, size, size]`); the panels show that
  /// `size × size` picture. `caption` (e.g. the sparsity's name) is printed under the title.
  /// `options.collectWindows` is forced on.
  public func pruningMask(
    for image: RGBImage, sparsity: PruningRatios, preprocessing: ImagePreprocessing = .standard,
    options: ForwardOptions = ForwardOptions(), caption: String = ""
  ) throws(InferenceError) -> PruningMask {
    let picture = preprocessing.resized(image)
    var options = options
    options.collectWindows = true
    let output = try forward(preprocessing.normalized(picture), sparsity: sparsity, options: options)
    // `forward` validated `sparsity` against this model, so its shape matches the kept windows.
    let (rendered, panels) = renderPruningMask(
      picture: picture, keptWindows: output.keptWindows, ratios: sparsity, configuration: configuration,
      semantics: options.windowSemantics ?? windowSemantics, image: 0, caption: caption)
    return PruningMask(picture: rendered, panels: panels, output: output)
  }
}

// MARK: - Drawing

/// Colors and sizes of the picture.
private enum Style {
  static let background: (UInt8, UInt8, UInt8) = (30, 30, 34)
  static let text: (UInt8, UInt8, UInt8) = (236, 236, 236)
  static let caption: (UInt8, UInt8, UInt8) = (170, 170, 178)
  /// Pruned pixels keep this fraction of their brightness and take the rest from `shade`.
  static let prunedKeep: Float = 0.22
  static let shade: Color = (20, 22, 34)
  /// Window borders: blend toward white by this much over kept windows, less over pruned ones.
  static let keptBorder: Float = 0.55
  static let prunedBorder: Float = 0.18
  static let margin = 14
  static let gap = 14
  static let minimumPanel = 224
}

/// Draws the mask of image `image` of a batch. `keptWindows[stage][block]` holds per image the kept
/// window indices of a pruned block, or nil for a block that ran on every window (`SwinOutput`).
func renderPruningMask(
  picture: RGBImage, keptWindows: [[[[Int]]?]], ratios: PruningRatios, configuration: SwinConfiguration,
  semantics: WindowSemantics = .timm, image: Int,
  caption: String = ""
) -> (RGBImage, [PruningMask.Panel]) {
  let sizes = configuration.stageSizes(height: picture.height, width: picture.width)
  let scale = max(1, (Style.minimumPanel + max(picture.width, picture.height) - 1) / max(picture.width, picture.height))
  let panelWidth = picture.width * scale, panelHeight = picture.height * scale

  // Which panels: per stage, the first block of each distinct ratio.
  struct Selection {
    let block: Int
    let blocks: [Int]
    let ratio: Double
    let mask: PanelMask
    /// Windows kept, nil when the block ran on all of them.
    let kept: Int?
  }
  var selections: [[Selection]] = []
  for stage in 0..<configuration.stageCount {
    let stageRatios = ratios.ratios[stage]
    var seen: [Double] = []
    var column: [Selection] = []
    for (block, ratio) in stageRatios.enumerated() where !seen.contains(ratio) {
      seen.append(ratio)
      let grid = WindowGrid(
        height: sizes[stage].height, width: sizes[stage].width, window: configuration.window, shifted: block % 2 == 1,
        semantics: semantics)
      let kept = keptWindows.indices.contains(stage) && keptWindows[stage].indices.contains(block)
        ? keptWindows[stage][block]?[image] : nil
      column.append(
        Selection(
          block: block, blocks: stageRatios.indices.filter { stageRatios[$0] == ratio }, ratio: ratio,
          mask: PanelMask(grid: grid, kept: kept), kept: kept?.count))
    }
    selections.append(column)
  }

  // Layout: a title, then one column per stage, each panel under its three label lines.
  let font = BitmapFont(scale: panelWidth >= 18 * 12 ? 2 : 1)
  let lineHeight = font.lineHeight
  let rows = selections.map(\.count).max() ?? 1
  let cellHeight = 3 * lineHeight + 4 + panelHeight + Style.gap
  let width = Style.margin * 2 + selections.count * panelWidth + (selections.count - 1) * Style.gap
  let titleHeight = 2 * lineHeight + Style.gap
  let height = Style.margin * 2 + titleHeight + rows * cellHeight - Style.gap
  var canvas = Canvas(width: width, height: height, color: Style.background)
  let title = "window pruning: kept windows bright, pruned dimmed"
  font.draw(title, on: &canvas, x: Style.margin, y: Style.margin, color: Style.text, maxWidth: width - 2 * Style.margin)
  let details = "input \(picture.width)x\(picture.height), window \(configuration.window)"
  font.draw(
    caption.isEmpty ? details : "\(caption), \(details)",
    on: &canvas, x: Style.margin, y: Style.margin + lineHeight, color: Style.caption, maxWidth: width - 2 * Style.margin)

  var panels: [PruningMask.Panel] = []
  for (stage, column) in selections.enumerated() {
    let x = Style.margin + stage * (panelWidth + Style.gap)
    for (row, selection) in column.enumerated() {
      let y = Style.margin + titleHeight + row * cellHeight
      let map = sizes[stage], grid = selection.mask.grid
      let panel = PruningMask.Panel(
        stage: stage, block: selection.block, blocks: selection.blocks, ratio: selection.ratio, shifted: grid.isShifted,
        keptWindows: selection.kept ?? grid.windowCount, totalWindows: grid.windowCount, left: x,
        top: y + 3 * lineHeight + 4, scale: scale)
      panels.append(panel)
      let blocks = panel.blocks.count == 1 ? "block \(panel.block)" : "blocks \(blockList(panel.blocks))"
      let ratio = panel.ratio == 0 ? "dense" : "r=\(formatRatio(panel.ratio))"
      font.draw("stage \(stage): \(map.height)x\(map.width) map", on: &canvas, x: x, y: y, color: Style.text, maxWidth: panelWidth)
      font.draw("\(blocks): \(ratio)", on: &canvas, x: x, y: y + lineHeight, color: Style.caption, maxWidth: panelWidth)
      font.draw(
        "kept \(panel.keptWindows)/\(panel.totalWindows) windows", on: &canvas, x: x, y: y + 2 * lineHeight,
        color: Style.text, maxWidth: panelWidth)
      drawPanel(
        picture, mask: selection.mask, stride: configuration.patchSize << stage,
        covered: (sizes[0].width * configuration.patchSize, sizes[0].height * configuration.patchSize),
        scale: scale, on: &canvas, x: panel.left, y: panel.top)
    }
  }
  return (canvas.image, panels)
}

/// "0-1" for consecutive blocks, else "0,2,5".
private func blockList(_ blocks: [Int]) -> String {
  if let first = blocks.first, let last = blocks.last, blocks == Array(first...last) { return "\(first)-\(last)" }
  return blocks.map(String.init).joined(separator: ",")
}

/// Per pixel of a stage map: its window of the block's grid and whether that window was kept.
struct PanelMask {
  let grid: WindowGrid
  let mapWidth: Int
  let mapHeight: Int
  /// `[mapHeight, mapWidth]`: the window (of the rolled, padded grid) each map pixel falls in.
  let window: [Int]
  /// `[mapHeight, mapWidth]`.
  let kept: [Bool]

  init(grid: WindowGrid, kept keptWindows: [Int]?) {
    self.grid = grid
    mapWidth = grid.width
    mapHeight = grid.height
    var window = [Int](repeating: -1, count: grid.width * grid.height)
    var keptWindow = [Bool](repeating: keptWindows == nil, count: grid.windowCount)
    for index in keptWindows ?? [] where keptWindow.indices.contains(index) { keptWindow[index] = true }
    var kept = [Bool](repeating: false, count: grid.width * grid.height)
    for index in 0..<grid.windowCount {
      for token in 0..<grid.windowTokens {
        guard let pixel = grid.sourcePixel(window: index, token: token) else { continue }
        window[pixel] = index
        kept[pixel] = keptWindow[index]
      }
    }
    self.window = window
    self.kept = kept
  }
}

/// Draws `picture` at `(x, y)` enlarged `scale` times, pruned windows dimmed, borders outlined.
/// Input pixel `(px, py)` lies in map pixel `(px / stride, py / stride)`; pixels the patch
/// embedding drops (beyond `covered`) belong to no window and are dimmed.
private func drawPanel(
  _ picture: RGBImage, mask: PanelMask, stride: Int, covered: (width: Int, height: Int), scale: Int,
  on canvas: inout Canvas, x: Int, y: Int
) {
  func mapPixel(_ px: Int, _ py: Int) -> Int? {
    guard px < covered.width, py < covered.height else { return nil }
    let column = px / stride, row = py / stride
    guard column < mask.mapWidth, row < mask.mapHeight else { return nil }
    return row * mask.mapWidth + column
  }
  for py in 0..<picture.height {
    for px in 0..<picture.width {
      let here = mapPixel(px, py)
      let isKept = here.map { mask.kept[$0] } ?? false
      let window = here.map { mask.window[$0] } ?? -1
      let rightWindow = px + 1 < picture.width ? (mapPixel(px + 1, py).map { mask.window[$0] } ?? -1) : window
      let belowWindow = py + 1 < picture.height ? (mapPixel(px, py + 1).map { mask.window[$0] } ?? -1) : window
      let source = picture[x: px, y: py]
      let original: Color = (Float(source.red), Float(source.green), Float(source.blue))
      let color = isKept ? original : mix(original, Style.shade, 1 - Style.prunedKeep)
      let outlined = mix(color, (255, 255, 255), isKept ? Style.keptBorder : Style.prunedBorder)
      for dy in 0..<scale {
        for dx in 0..<scale {
          // The border is the last enlarged pixel row/column before a change of window.
          let onBorder = (dx == scale - 1 && rightWindow != window) || (dy == scale - 1 && belowWindow != window)
          canvas.set(x + px * scale + dx, y + py * scale + dy, onBorder ? outlined : color)
        }
      }
    }
  }
}

/// Red, green, blue on a 0…255 scale.
private typealias Color = (Float, Float, Float)

/// `color` moved toward `target` by `amount` (0: unchanged, 1: `target`).
private func mix(_ color: Color, _ target: Color, _ amount: Float) -> Color {
  let keep = 1 - amount
  return (color.0 * keep + target.0 * amount, color.1 * keep + target.1 * amount, color.2 * keep + target.2 * amount)
}

/// An RGB drawing surface.
private struct Canvas {
  let width: Int
  let height: Int
  var pixels: [UInt8]

  init(width: Int, height: Int, color: (UInt8, UInt8, UInt8)) {
    self.width = width
    self.height = height
    pixels = [UInt8](repeating: 0, count: width * height * 3)
    for pixel in 0..<width * height {
      pixels[3 * pixel] = color.0
      pixels[3 * pixel + 1] = color.1
      pixels[3 * pixel + 2] = color.2
    }
  }

  mutating func set(_ x: Int, _ y: Int, _ color: Color) {
    guard x >= 0, x < width, y >= 0, y < height else { return }
    let offset = 3 * (y * width + x)
    pixels[offset] = UInt8(max(0, min(255, color.0.rounded())))
    pixels[offset + 1] = UInt8(max(0, min(255, color.1.rounded())))
    pixels[offset + 2] = UInt8(max(0, min(255, color.2.rounded())))
  }

  var image: RGBImage { RGBImage(validated: width, height: height, pixels: pixels) }
}

/// A 5 × 7 pixel font with descenders (lowercase letters, digits, a little punctuation), drawn
/// `scale` times enlarged.
private struct BitmapFont {
  let scale: Int

  /// Advance per character and per line, in pixels.
  var advance: Int { 6 * scale }
  var lineHeight: Int { 11 * scale }

  /// Draws `text` (lowercased; unknown characters as "?"), cut to `maxWidth` pixels.
  func draw(_ text: String, on canvas: inout Canvas, x: Int, y: Int, color: (UInt8, UInt8, UInt8), maxWidth: Int) {
    let fill: Color = (Float(color.0), Float(color.1), Float(color.2))
    for (index, character) in text.lowercased().enumerated() {
      let left = x + index * advance
      guard left + 5 * scale <= x + maxWidth else { return }
      let rows = glyphs[character] ?? glyphs["?"]!
      for (row, line) in rows.enumerated() {
        for (column, bit) in line.enumerated() where bit == "#" {
          for dy in 0..<scale {
            for dx in 0..<scale { canvas.set(left + column * scale + dx, y + row * scale + dy, fill) }
          }
        }
      }
    }
  }
}

/// 5 columns per character, 7 rows above the baseline and up to 2 below (descenders); "#" is ink.
private let glyphs: [Character: [String]] = [
  " ": [".....", ".....", ".....", ".....", ".....", ".....", "....."],
  "a": [".....", ".....", ".###.", "....#", ".####", "#...#", ".####"],
  "b": ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."],
  "c": [".....", ".....", ".###.", "#....", "#....", "#...#", ".###."],
  "d": ["....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"],
  "e": [".....", ".....", ".###.", "#...#", "#####", "#....", ".###."],
  "f": ["..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."],
  "g": [".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", ".###."],
  "h": ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"],
  "i": ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."],
  "j": ["...#.", ".....", "..##.", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."],
  "k": ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."],
  "l": [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
  "m": [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"],
  "n": [".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"],
  "o": [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."],
  "p": [".....", ".....", "####.", "#...#", "#...#", "#...#", "####.", "#....", "#...."],
  "q": [".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", "....#"],
  "r": [".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."],
  "s": [".....", ".....", ".####", "#....", ".###.", "....#", "####."],
  "t": [".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."],
  "u": [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"],
  "v": [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
  "w": [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."],
  "x": [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"],
  "y": [".....", ".....", "#...#", "#...#", "#...#", "#...#", ".####", "....#", ".###."],
  "z": [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"],
  "0": [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
  "1": ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
  "2": [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
  "3": ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."],
  "4": ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
  "5": ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
  "6": ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
  "7": ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
  "8": [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
  "9": [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
  ".": [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."],
  ",": [".....", ".....", ".....", ".....", ".....", ".##..", ".##..", "..#..", ".#..."],
  ":": [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."],
  "/": [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."],
  "(": ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."],
  ")": [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."],
  "-": [".....", ".....", ".....", "#####", ".....", ".....", "....."],
  "=": [".....", ".....", "#####", ".....", "#####", ".....", "....."],
  "%": ["##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"],
  "_": [".....", ".....", ".....", ".....", ".....", ".....", "#####"],
  "+": [".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."],
  "[": [".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."],
  "]": [".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."],
  "?": [".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."],
]
