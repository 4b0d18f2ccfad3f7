// How a pruned model's outputs compare with the dense model's and with labels, summed image by
// image so that any number of batches adds up: the one scoring that `sparsevit eval` and the
// search's `FidelityScorer` and `AccuracyScorer` share.
import Engine

/// Classes compared by the top-5 scores (fewer when the model has fewer classes).
public let evaluationTopK = 5

/// The dense model's outputs on a batch: what each configuration is compared with.
public struct EvaluationReference: Sendable {
  /// Per image, the `min(5, classes)` best classes, best first (empty lists without a head).
  public let topClasses: [[Int]]
  /// `[n, C]`: the dense pooled features (the head's input).
  public let pooledFeatures: Tensor

  /// The reference of a dense forward's `output`.
  public init(_ output: SwinOutput) {
    pooledFeatures = output.pooledFeatures
    let rows = output.pooledFeatures.shape[0]
    topClasses =
      output.logits.map { logits in (0..<rows).map { bestClasses(logits, row: $0) } }
      ?? [[Int]](repeating: [], count: rows)
  }

  /// Images of the batch.
  public var count: Int { pooledFeatures.shape[0] }
}

/// Running totals of one configuration's comparison with dense (and with labels), over images.
public struct EvaluationTally: Sendable, Equatable {
  /// Images compared.
  public private(set) var images = 0
  /// Images that had a label.
  public private(set) var labelled = 0
  /// Labelled images whose top-1 class is their label.
  public private(set) var top1Correct = 0
  /// Labelled images whose label is among the top 5 classes.
  public private(set) var top5Correct = 0
  /// Images whose top-1 class is the dense model's.
  public private(set) var top1Agreements = 0
  /// Sum over images of the classes shared by this top 5 and the dense top 5.
  public private(set) var top5Shared = 0
  /// Sum over images of the top-k size (5, or the class count when smaller).
  public private(set) var top5Slots = 0
  /// Sum over images of the cosine similarity of the pooled features with dense.
  public private(set) var cosineSum = 0.0

  /// An empty tally.
  public init() {}

  /// Adds the images of `output` (a forward of the batch `reference` was made from). `labels`, when
  /// given, holds one class or nil per image.
  public mutating func add(_ output: SwinOutput, reference: EvaluationReference, labels: [Int?] = []) {
    let rows = reference.count
    precondition(
      output.pooledFeatures.shape == reference.pooledFeatures.shape && (labels.isEmpty || labels.count == rows),
      "EvaluationTally.add: output \(output.pooledFeatures.shape), reference \(reference.pooledFeatures.shape), \(labels.count) labels"
    )
    for row in 0..<rows {
      images += 1
      cosineSum += cosineSimilarity(output.pooledFeatures, reference.pooledFeatures, row: row)
      guard let logits = output.logits else { continue }
      let best = bestClasses(logits, row: row)
      let dense = reference.topClasses[row]
      if best.first == dense.first { top1Agreements += 1 }
      top5Shared += best.filter(dense.contains).count
      top5Slots += best.count
      if let label = labels.isEmpty ? nil : labels[row] {
        labelled += 1
        if best.first == label { top1Correct += 1 }
        if best.contains(label) { top5Correct += 1 }
      }
    }
  }

  /// Share of images whose top-1 class is the dense model's (nil without a head or images).
  public var top1Agreement: Double? { top5Slots > 0 ? Double(top1Agreements) / Double(images) : nil }
  /// Mean over images of the share of the dense top 5 that is in this top 5 (nil without a head).
  public var top5Overlap: Double? { top5Slots > 0 ? Double(top5Shared) / Double(top5Slots) : nil }
  /// Mean over images of the cosine similarity of the pooled features with dense (1 without images).
  public var meanCosine: Double { images > 0 ? cosineSum / Double(images) : 1 }
  /// Share of the labelled images classified right (nil when none had a label).
  public var top1Accuracy: Double? { labelled > 0 ? Double(top1Correct) / Double(labelled) : nil }
  /// Share of the labelled images whose label is in the top 5 (nil when none had a label).
  public var top5Accuracy: Double? { labelled > 0 ? Double(top5Correct) / Double(labelled) : nil }
}

/// The `min(5, classes)` largest logits of `row` of `[n, classes]`, best first; of equal logits
/// the lower class first (so the first is the first maximum, as `topClasses` picks).
func bestClasses(_ logits: Tensor, row: Int) -> [Int] {
  let classes = logits.shape[1]
  let k = min(evaluationTopK, classes)
  let base = row * classes
  var best: [Int] = []
  best.reserveCapacity(k + 1)
  for c in 0..<classes {
    let value = logits.values[base + c]
    if best.count == k, value <= logits.values[base + best[k - 1]] { continue }
    var position = best.count
    while position > 0 && value > logits.values[base + best[position - 1]] { position -= 1 }
    best.insert(c, at: position)
    if best.count > k { best.removeLast() }
  }
  return best
}
