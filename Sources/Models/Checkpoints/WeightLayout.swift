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
  var tensors: [String: Tensor]
  /// Buffers recomputed by the engine (`relative_position_index`, `attn_mask`) and, for mmdet
  /// detector checkpoints, tensors outside `backbone.`.
  let ignored: [String]
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
  var renamed: [String: Tensor] = [:]
  var ignored: [String] = []
  let mmdetPrefixed = layout == .mmdet && tensors.keys.contains { $0.hasPrefix("backbone.") }
  for (name, tensor) in tensors {
    if name.hasSuffix("relative_position_index") || name.hasSuffix("attn_mask") {
      ignored.append(name)
      continue
    }
    var key = name
    switch layout {
    case .timm: break
    case .microsoft: key = microsoftToTimm(name)
    case .torchvision: key = torchvisionToTimm(name)
    case .mmdet:
      if mmdetPrefixed {
        guard name.hasPrefix("backbone.") else {
          ignored.append(name)
          continue
        }
        key = String(name.dropFirst("backbone.".count))
      }
      key = mmdetToTimm(key)
    }
    var value = tensor
    if layout == .mmdet, key.hasPrefix("layers."), key.contains(".downsample.") {
      value = unfoldToTimmOrder(tensor)
    }
    renamed[key] = value
  }
  return CanonicalWeights(layout: layout, tensors: renamed, ignored: ignored.sorted())
}

// MARK: - Renaming rules

private func parts(_ name: String) -> [String] { name.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }

/// `layers.s.downsample.*` → `layers.(s+1).downsample.*`; `head.*` → `head.fc.*`.
private func microsoftToTimm(_ name: String) -> String {
  var p = parts(name)
  if p.count >= 3, p[0] == "layers", p[2] == "downsample", let stage = Int(p[1]) {
    p[1] = String(stage + 1)
    return p.joined(separator: ".")
  }
  if p.count == 2, p[0] == "head" { return "head.fc." + p[1] }
  return name
}

/// `features.0.0` → stem conv, `features.0.2` → stem norm, `features.(2s+1).b` → stage s block b,
/// `features.(2s)` (s ≥ 1) → stage s merge, `mlp.0/3` → `mlp.fc1/fc2`, `head` → `head.fc`.
private func torchvisionToTimm(_ name: String) -> String {
  var p = parts(name)
  if p.count == 2, p[0] == "head" { return "head.fc." + p[1] }
  guard p.count >= 3, p[0] == "features", let index = Int(p[1]) else { return name }
  if index == 0 {
    switch p[2] {
    case "0": return "patch_embed.proj." + p[3...].joined(separator: ".")
    case "2": return "patch_embed.norm." + p[3...].joined(separator: ".")
    default: return name
    }
  }
  if index % 2 == 0 {
    return "layers.\(index / 2).downsample." + p[2...].joined(separator: ".")
  }
  guard p.count >= 4 else { return name }
  var rest = Array(p[3...])
  if rest.count >= 2, rest[0] == "mlp" {
    if rest[1] == "0" { rest[1] = "fc1" } else if rest[1] == "3" { rest[1] = "fc2" }
  }
  p = ["layers", String((index - 1) / 2), "blocks", p[2]] + rest
  return p.joined(separator: ".")
}

/// `patch_embed.projection` → `patch_embed.proj`, `stages.s.blocks.b` → `layers.s.blocks.b`
/// (`attn.w_msa.*` → `attn.*`, `ffn.layers.0.0` → `mlp.fc1`, `ffn.layers.1` → `mlp.fc2`),
/// `stages.s.downsample` → `layers.(s+1).downsample`, `norm{i}` → `stage_norms.{i}`.
private func mmdetToTimm(_ name: String) -> String {
  let p = parts(name)
  if p.count >= 2, p[0] == "patch_embed", p[1] == "projection" {
    return "patch_embed.proj." + p[2...].joined(separator: ".")
  }
  if p.count == 2, p[0].hasPrefix("norm"), let stage = Int(p[0].dropFirst(4)) {
    return "stage_norms.\(stage).\(p[1])"
  }
  guard p.count >= 3, p[0] == "stages", let stage = Int(p[1]) else { return name }
  if p[2] == "downsample" {
    return "layers.\(stage + 1).downsample." + p[3...].joined(separator: ".")
  }
  guard p.count >= 5, p[2] == "blocks" else { return name }
  var rest = Array(p[4...])
  if rest.count >= 3, rest[0] == "attn", rest[1] == "w_msa" {
    rest.remove(at: 1)
  } else if rest.count >= 4, rest[0] == "ffn", rest[1] == "layers", rest[2] == "0", rest[3] == "0" {
    rest = ["mlp", "fc1"] + rest[4...]
  } else if rest.count >= 3, rest[0] == "ffn", rest[1] == "layers", rest[2] == "1" {
    rest = ["mlp", "fc2"] + rest[3...]
  }
  return (["layers", String(stage), "blocks", p[3]] + rest).joined(separator: ".")
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
