// How the search scores a pruning configuration: how close the pruned model stays to the dense one
// on calibration images (cosine similarity of pooled features, top-1 agreement), accuracy against
// labels, or any closure.
import Engine

// MARK: - Scores

/// How good a configuration is; higher `value` is better.
public struct ConfigurationScore: Sendable, Equatable {
  /// What the search maximizes.
  public let value: Double
  /// Named measurements behind it (for reports), e.g. `cosine`, `top1_agreement`, `accuracy`.
  public let details: [String: Double]

  /// A score `value` (higher is better) and the measurements behind it.
  public init(value: Double, details: [String: Double] = [:]) {
    self.value = value
    self.details = details
  }
}

/// Scores a pruning configuration. The search calls it once per distinct configuration.
public protocol ConfigurationScorer {
  /// The score of `ratios` (higher is better).
  func score(_ ratios: PruningRatios) throws -> ConfigurationScore
}

/// A scorer from a closure: `ClosureScorer { ratios in … }`.
public struct ClosureScorer: ConfigurationScorer {
  private let body: (PruningRatios) throws -> ConfigurationScore

  /// Scores with `body`.
  public init(_ body: @escaping (PruningRatios) throws -> ConfigurationScore) { self.body = body }

  /// `body(ratios)`.
  public func score(_ ratios: PruningRatios) throws -> ConfigurationScore { try body(ratios) }
}

/// How close the pruned model stays to the dense one on calibration images: the mean over images of
/// the cosine similarity of the pooled final features (`[batch, C]`, the head's input), and the
/// share of images whose top-1 class is unchanged.
public struct FidelityScorer: ConfigurationScorer {
  /// What the score's `value` is.
  public enum Metric: String, Sendable, CaseIterable {
    /// Mean cosine similarity of the pooled features (continuous: ranks close configurations).
    case cosine
    /// Top-1 agreement of the logits with the dense model's.
    case top1
    /// The mean of the two.
    case mean
  }

  /// The model scored (dense and pruned).
  public let model: SwinTransformer
  /// `[n, 3, height, width]`, ImageNet-normalized.
  public let images: Tensor
  /// What `score(_:)` returns as its value.
  public let metric: Metric
  /// Options of the scoring forwards.
  public let options: ForwardOptions
  /// The dense model's pooled features, `[n, C]`.
  public let denseFeatures: Tensor
  /// The dense model's top-1 class per image (empty without a head).
  public let denseClasses: [Int]
  /// The dense outputs every score is compared with (`EvaluationTally`, as `sparsevit eval` does).
  public let reference: EvaluationReference

  /// Runs the dense model on `images` once (the reference).
  public init(
    model: SwinTransformer, images: Tensor, metric: Metric = .cosine,
    threads: Int = defaultThreadCount
  )
    throws
  {
    if metric != .cosine && model.configuration.classes == 0 { throw SearchError.noClassifierHead }
    self.model = model
    self.images = images
    self.metric = metric
    self.options = ForwardOptions(threads: threads)
    let dense = try model.forward(images, options: options)
    denseFeatures = dense.pooledFeatures
    denseClasses = dense.logits.map(topClasses) ?? []
    reference = EvaluationReference(dense)
  }

  /// One forward of the calibration images with `ratios`, compared with the dense reference.
  public func score(_ ratios: PruningRatios) throws -> ConfigurationScore {
    let output = try model.forward(images, sparsity: ratios, options: options)
    var tally = EvaluationTally()
    tally.add(output, reference: reference)
    let cosine = tally.meanCosine
    var details = ["cosine": cosine]
    let agreement = tally.top1Agreement
    if let agreement { details["top1_agreement"] = agreement }
    let value =
      switch metric {
      case .cosine: cosine
      case .top1: agreement ?? 0
      case .mean: (cosine + (agreement ?? 0)) / 2
      }
    return ConfigurationScore(value: value, details: details)
  }
}

/// Top-1 accuracy of the pruned model against known labels: the scorer for a user with labelled data.
public struct AccuracyScorer: ConfigurationScorer {
  /// The model scored.
  public let model: SwinTransformer
  /// `[n, 3, height, width]`, ImageNet-normalized.
  public let images: Tensor
  /// The true class of each image.
  public let labels: [Int]
  /// Options of the scoring forwards.
  public let options: ForwardOptions

  /// Checks that there is one label per image, each a class of the model.
  public init(
    model: SwinTransformer, images: Tensor, labels: [Int], threads: Int = defaultThreadCount
  ) throws(SearchError) {
    guard model.configuration.classes > 0 else { throw .noClassifierHead }
    guard images.rank == 4, images.shape[0] == labels.count else {
      throw .calibration(
        "\(labels.count) labels for images of shape \(images.shape), expected one label per image")
    }
    if let bad = labels.first(where: { $0 < 0 || $0 >= model.configuration.classes }) {
      throw .calibration(
        "label \(bad) is not a class of the model (0…\(model.configuration.classes - 1))")
    }
    self.model = model
    self.images = images
    self.labels = labels
    self.options = ForwardOptions(threads: threads)
  }

  /// Share of the images whose top-1 class with `ratios` is their label.
  public func score(_ ratios: PruningRatios) throws -> ConfigurationScore {
    let output = try model.forward(images, sparsity: ratios, options: options)
    let classes = output.logits.map(topClasses) ?? []
    let accuracy =
      Double(zip(classes, labels).filter { $0 == $1 }.count) / Double(max(labels.count, 1))
    return ConfigurationScore(value: accuracy, details: ["accuracy": accuracy])
  }
}

/// Cosine similarity of row `row` of `a` and `b` (`[n, C]` each), accumulated in Double:
/// `a·b / √(|a|²·|b|²)`, so identical rows give exactly 1. Two zero rows count as identical (1),
/// a zero row against a non-zero one as 0.
func cosineSimilarity(_ a: Tensor, _ b: Tensor, row: Int) -> Double {
  let columns = a.shape[1]
  var ab = 0.0
  var aa = 0.0
  var bb = 0.0
  for column in 0..<columns {
    let x = Double(a.values[row * columns + column])
    let y = Double(b.values[row * columns + column])
    ab += x * y
    aa += x * x
    bb += y * y
  }
  if aa == 0 && bb == 0 { return 1 }
  if aa == 0 || bb == 0 { return 0 }
  return ab / (aa * bb).squareRoot()
}

/// Mean over rows of the cosine similarity of `a` and `b` (`[n, C]` each), accumulated in Double.
/// Two zero rows count as identical (1); one zero row against a non-zero one as 0.
public func meanCosineSimilarity(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(
    a.shape == b.shape && a.rank == 2, "meanCosineSimilarity: shapes \(a.shape) and \(b.shape)")
  let rows = a.shape[0]
  guard rows > 0 else { return 1 }
  var total = 0.0
  for row in 0..<rows { total += cosineSimilarity(a, b, row: row) }
  return total / Double(rows)
}

/// Per row of `[n, classes]` logits, the index of the largest (the first of equal ones).
func topClasses(_ logits: Tensor) -> [Int] {
  ClassPrediction.top(1, logits: logits, names: []).map { $0.first?.index ?? 0 }
}
