// Checkpoint layouts: the same Swin tensors under timm 1.0, Microsoft-original, torchvision and
// mmdet/SparseViT-backbone names (SPARSEVIT.md, "Weight layouts"). Every layout is renamed to timm's
// names; mmdet's merge weights are also permuted from nn.Unfold channel order to timm's.
import Engine

/// A checkpoint naming scheme.
public enum WeightLayout: String, Sendable, CaseIterable, CustomStringConvertible {
  /// timm ≥ 0.9 (`layers.s.downsample` opens stage s, `head.fc`).
  case timm
  /// microsoft/Swin-Transformer (`layers.s.downsample` closes stage s, `head`).
  case microsoft
  /// torchvision `swin_t`/`swin_s`/`swin_b` (`features.*`).
  case torchvision
  /// mmdet / SparseViT backbone (`backbone.stages.*`, `attn.w_msa`, `ffn`, per-stage `norm0..3`).
  case mmdet

  public var description: String { rawValue }

  /// The window semantics of the framework checkpoints in this layout come from: timm for timm and
  /// Microsoft files, torchvision for torchvision's, and SparseViT for the mmdet detector layout
  /// (SparseViT checkpoints are the ones this engine exists for; plain mmdet is one option away).
  public var windowSemantics: WindowSemantics {
    switch self {
    case .timm, .microsoft: .timm
    case .torchvision: .torchvision
    case .mmdet: .sparsevit
    }
  }
}

/// Why a set of named tensors could not become a model.
public enum WeightLoadError: Error, Equatable, CustomStringConvertible {
  case unknownLayout(keys: [String])
  case architecture(String)
  case keys(missing: [String], unexpected: [String])
  case shape(ShapeError)
  case nonFinite(tensor: String)
  case dtype(tensor: String, dtype: String)

  public var description: String {
    switch self {
    case .unknownLayout(let keys):
      "unrecognized checkpoint layout: no patch embedding among \(keys.count) tensors (expected "
        + "'patch_embed.proj.weight' (timm/Microsoft), 'features.0.0.weight' (torchvision) or "
        + "'patch_embed.projection.weight' (mmdet)); first keys: \(keys.sorted().prefix(5).map(printable).joined(separator: ", "))"
    case .architecture(let reason): "cannot infer the Swin architecture: \(reason)"
    case .keys(let missing, let unexpected):
      [
        missing.isEmpty ? nil : "missing \(missing.count) tensor(s): \(listed(missing))",
        unexpected.isEmpty ? nil : "unexpected \(unexpected.count) tensor(s): \(listed(unexpected))",
      ].compactMap { $0 }.joined(separator: "; ")
    case .shape(let error): error.description
    case .nonFinite(let tensor): "tensor '\(printable(tensor))' contains NaN or infinite values"
    case .dtype(let tensor, let dtype): "tensor '\(printable(tensor))' has dtype \(dtype), expected F32, F16 or BF16"
    }
  }
}

private func listed(_ names: [String]) -> String {
  let shown = names.sorted().prefix(12).map(printable).joined(separator: ", ")
  return names.count > 12 ? shown + ", … (\(names.count - 12) more)" : shown
}

/// Tensors renamed to timm names, with what was dropped on the way.
struct CanonicalWeights {
  let layout: WeightLayout
  /// The file's naming, for names the file does not hold (missing tensors).
  let naming: TensorNaming
  var tensors: [String: Tensor]
  /// Buffers recomputed by the engine (`relative_position_index`, `attn_mask`) and, for mmdet
  /// detector checkpoints, tensors outside `backbone.`.
  let ignored: [String]
  /// The file's own name of each tensor in `tensors`.
  let fileNames: [String: String]

  /// The name the file gives (or would give) the timm tensor `name`, for error messages.
  func fileName(_ name: String) -> String { fileNames[name] ?? naming.fileName(name) }
}

/// Which layout a set of tensor names follows.
func detectLayout(_ names: some Collection<String>) -> WeightLayout? {
  let set = Set(names)
  if set.contains("features.0.0.weight") { return .torchvision }
  if set.contains("patch_embed.projection.weight") || set.contains("backbone.patch_embed.projection.weight") {
    return .mmdet
  }
  if set.contains("patch_embed.proj.weight") {
    // The original code merges at the end of a stage, so its stage 0 has a downsample; timm's has none.
    return set.contains("layers.0.downsample.reduction.weight") ? .microsoft : .timm
  }
  return nil
}

/// Renames `tensors` to timm names (see `WeightLayout`), dropping recomputed buffers.
func canonicalize(_ tensors: [String: Tensor]) throws(WeightLoadError) -> CanonicalWeights {
  guard let layout = detectLayout(tensors.keys) else { throw .unknownLayout(keys: Array(tensors.keys)) }
  let prefixed = layout == .mmdet && tensors.keys.contains { $0.hasPrefix("backbone.") }
  let naming = TensorNaming(layout: layout, prefix: prefixed ? "backbone." : "")
  var renamed: [String: Tensor] = [:]
  var fileNames: [String: String] = [:]
  var ignored: [String] = []
  for (name, tensor) in tensors {
    if name.hasSuffix("relative_position_index") || name.hasSuffix("attn_mask") || !name.hasPrefix(naming.prefix) {
      ignored.append(name)
      continue
    }
    let key = naming.timmName(name)
    let isMerge = key.hasPrefix("layers.") && key.contains(".downsample.")
    renamed[key] = layout == .mmdet && isMerge ? unfoldToTimmOrder(tensor) : tensor
    fileNames[key] = name
  }
  return CanonicalWeights(
    layout: layout, naming: naming, tensors: renamed, ignored: ignored.sorted(), fileNames: fileNames)
}

/// mmdet merges concatenate the 2×2 neighbourhood with nn.Unfold, channel `c·4 + 2·dh + dw`; timm
/// uses `(dh + 2·dw)·C + c`. Permutes the last axis (4C) of a merge norm or reduction tensor.
private func unfoldToTimmOrder(_ tensor: Tensor) -> Tensor {
  guard let width = tensor.shape.last, width % 4 == 0, width > 0 else { return tensor }
  let channels = width / 4
  let permutation = (0..<width).map { t -> Int in
    let quadrant = t / channels, c = t % channels
    let dh = quadrant & 1, dw = quadrant >> 1
    return c * 4 + 2 * dh + dw
  }
  let rows = tensor.count / width
  var values = [Float](repeating: 0, count: tensor.count)
  for row in 0..<rows {
    for t in 0..<width { values[row * width + t] = tensor.values[row * width + permutation[t]] }
  }
  return Tensor(shape: tensor.shape, values: values)
}
