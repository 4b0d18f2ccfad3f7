// Tensor names in each checkpoint layout, from one table of renaming rules read in both
// directions: a file's names become timm's for loading, and timm's become the file's for messages.

/// How one layout names the tensors that timm names, and the way back.
struct TensorNaming: Sendable {
  let layout: WeightLayout
  /// Prepended to every name in the file (mmdet detector checkpoints: `backbone.`).
  let prefix: String

  init(layout: WeightLayout, prefix: String = "") {
    self.layout = layout
    self.prefix = prefix
  }

  /// The timm name of the file's tensor `name` (which starts with `prefix`); a name no rule
  /// matches is kept as it is.
  func timmName(_ name: String) -> String {
    let local = String(name.dropFirst(prefix.count))
    for rule in parsedRules[layout] ?? [] {
      if let renamed = rename(local, from: rule.file, to: rule.timm) { return renamed }
    }
    return local
  }

  /// The name the file's layout gives timm's tensor `name`.
  func fileName(_ name: String) -> String {
    for rule in parsedRules[layout] ?? [] {
      if let renamed = rename(name, from: rule.timm, to: rule.file) { return prefix + renamed }
    }
    return prefix + name
  }
}

/// One row per renamed group of tensors: the timm pattern and the same tensors in the layout.
///
/// A pattern is dotted segments: a word; `{v}`, `{2v+1}` (an index from a variable v ≥ 0, maybe
/// after a word, as in `norm{s}`); or a final `*` for one or more remaining segments. The first
/// row that matches wins, in either direction, so specific rows come before general ones. Names no
/// row matches are the same in both layouts.
private let renamingRules: [WeightLayout: [(timm: String, file: String)]] = [
  .microsoft: [
    // The original code merges at the end of a stage, timm at the start of the next.
    ("layers.{m+1}.downsample.*", "layers.{m}.downsample.*"),
    ("head.fc.*", "head.*"),
  ],
  .torchvision: [
    // features.0 is the stem, then blocks and merges alternate: stage s at 2s+1, its merge at 2s.
    ("patch_embed.proj.*", "features.0.0.*"),
    ("patch_embed.norm.*", "features.0.2.*"),
    ("layers.{m+1}.downsample.*", "features.{2m+2}.*"),
    ("layers.{s}.blocks.{b}.mlp.fc1.*", "features.{2s+1}.{b}.mlp.0.*"),
    ("layers.{s}.blocks.{b}.mlp.fc2.*", "features.{2s+1}.{b}.mlp.3.*"),
    ("layers.{s}.blocks.{b}.*", "features.{2s+1}.{b}.*"),
    ("head.fc.*", "head.*"),
  ],
  .mmdet: [
    ("patch_embed.proj.*", "patch_embed.projection.*"),
    ("stage_norms.{s}.*", "norm{s}.*"),
    ("layers.{m+1}.downsample.*", "stages.{m}.downsample.*"),
    ("layers.{s}.blocks.{b}.attn.*", "stages.{s}.blocks.{b}.attn.w_msa.*"),
    ("layers.{s}.blocks.{b}.mlp.fc1.*", "stages.{s}.blocks.{b}.ffn.layers.0.0.*"),
    ("layers.{s}.blocks.{b}.mlp.fc2.*", "stages.{s}.blocks.{b}.ffn.layers.1.*"),
    ("layers.{s}.blocks.{b}.*", "stages.{s}.blocks.{b}.*"),
  ],
]

/// The rules with their patterns parsed, by layout.
private let parsedRules: [WeightLayout: [(timm: [PatternSegment], file: [PatternSegment])]] =
  renamingRules.mapValues { rules in
    rules.map { (parsePattern($0.timm), parsePattern($0.file)) }
  }

/// One segment of a renaming pattern.
private enum PatternSegment {
  case word(Substring)
  /// `word` then the decimal `scale·variable + offset`.
  case index(word: Substring, scale: Int, variable: Character, offset: Int)
  /// The remaining segments, at least one.
  case rest
}

private func parsePattern(_ pattern: String) -> [PatternSegment] {
  pattern.split(separator: ".").map { text in
    if text == "*" { return .rest }
    guard let open = text.firstIndex(of: "{"), text.last == "}" else { return .word(text) }
    let terms = text[text.index(after: open)..<text.index(before: text.endIndex)].split(separator: "+")
    return .index(
      word: text[..<open], scale: Int(terms[0].dropLast()) ?? 1, variable: terms[0].last!,
      offset: terms.count > 1 ? Int(terms[1])! : 0)
  }
}

/// `name` rewritten from pattern `source` to pattern `target`, or nil when `source` does not match.
private func rename(_ name: String, from source: [PatternSegment], to target: [PatternSegment])
  -> String?
{
  let segments = name.split(separator: ".", omittingEmptySubsequences: false)
  var variables: [Character: Int] = [:]
  var rest: ArraySlice<Substring> = []
  for (position, part) in source.enumerated() {
    guard position < segments.count else { return nil }
    let segment = segments[position]
    switch part {
    case .word(let word):
      guard segment == word else { return nil }
    case .index(let word, let scale, let variable, let offset):
      let digits = segment.dropFirst(word.count)
      guard segment.hasPrefix(word), let value = Int(digits), String(value) == digits,
        value >= offset, (value - offset) % scale == 0
      else { return nil }
      variables[variable] = (value - offset) / scale
    case .rest:
      rest = segments[position...]
    }
  }
  if case .rest = source.last {} else if segments.count != source.count { return nil }
  return target.map { part in
    switch part {
    case .word(let word): String(word)
    case .index(let word, let scale, let variable, let offset):
      word + String(scale * variables[variable]! + offset)
    case .rest: rest.joined(separator: ".")
    }
  }.joined(separator: ".")
}
