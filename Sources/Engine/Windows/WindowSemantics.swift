// The four ways Swin frameworks cut a feature map into (shifted) windows (SPARSEVIT.md, "Padding and
// shift: four frameworks, four answers"). They agree when every map is a multiple of the window and
// larger than it; elsewhere a checkpoint should run the way the framework it was trained in runs it.

/// How a framework pads, rolls and normalizes the windows of a block.
///
/// | | order | padded tokens | small map | shift of a one-window axis |
/// |---|---|---|---|---|
/// | `timm` | LN1 → roll → pad | zeros | window clamped to the map | none |
/// | `torchvision` | LN1 → pad → roll | zeros | padded to a window | none |
/// | `mmdet` | LN1 → pad → roll | zeros | padded to a window | shifted, masked |
/// | `sparsevit` | pad → roll → LN1 | LN1's bias β | padded to a window | shifted, masked |
public enum WindowSemantics: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
  /// timm 1.0 and the Microsoft original.
  case timm
  /// torchvision `swin_t`/`swin_s`/`swin_b`.
  case torchvision
  /// mmdet's `SwinTransformer` backbone.
  case mmdet
  /// The SparseViT repository's backbone (mmdet layout).
  case sparsevit

  public var description: String { rawValue }

  /// A map side no longer than the window becomes the window (timm); otherwise it is padded to one.
  package var clampsWindow: Bool { self == .timm }
  /// The roll wraps around the padded map (pad first) rather than the map itself (roll first).
  package var padsBeforeRoll: Bool { self != .timm }
  /// Shifted blocks shift an axis even when its padded map is a single window.
  package var shiftsSingleWindow: Bool { self == .mmdet || self == .sparsevit }
  /// Padded tokens are zero before LN1, so they enter attention as LN1's bias (else zero after it).
  package var normalizesPadding: Bool { self == .sparsevit }
}
