// ImageNet-1k class names and top-k predictions from logits. The names (index = class id) are
// torchvision's `_IMAGENET_CATEGORIES` (BSD-3-Clause) in weights/imagenet_classes.txt, compiled in
// as `imageNetClassNames` by the ClassNamesPlugin build tool.
import Engine
import Foundation

/// The ImageNet-1k label set of timm's and torchvision's classifiers.
public enum ImageNetClasses {
  /// The 1000 class names, index = class id (torchvision's short names: 281 is "tabby").
  public static let names: [String] = imageNetClassNames

  /// The name of class `index`, or nil outside 0..<1000.
  public static func name(of index: Int) -> String? {
    names.indices.contains(index) ? names[index] : nil
  }
}

/// One class of a classifier's output and its score.
public struct ClassPrediction: Sendable, Equatable {
  /// Class id: the column of the logits.
  public let index: Int
  /// The class name (`names[index]`, or "class <index>" when there is none).
  public let name: String
  /// The raw score.
  public let logit: Float
  /// Softmax probability over all classes of the image.
  public let probability: Float

  /// The `k` highest-scoring classes of each image of `logits` (`[batch, classes]`), best first
  /// (ties: lower class id first); `k` is clamped to `0…classes`. `names` labels the classes; nil
  /// means ImageNet's for 1000 classes and "class <index>" otherwise.
  public static func top(_ k: Int, logits: Tensor, names: [String]? = nil) -> [[ClassPrediction]] {
    guard logits.rank == 2 else { return [] }
    let batch = logits.shape[0], classes = logits.shape[1]
    let labels = names ?? (classes == ImageNetClasses.names.count ? ImageNetClasses.names : [])
    let count = min(max(k, 0), classes)
    return (0..<batch).map { image in
      let row = Array(logits.values[image * classes..<(image + 1) * classes])
      // Softmax in double, shifted by the maximum so that exp cannot overflow.
      let maximum = Double(row.max() ?? 0)
      let total = row.reduce(0.0) { $0 + exp(Double($1) - maximum) }
      let order = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
      return order.prefix(count).map { index in
        ClassPrediction(
          index: index, name: labels.indices.contains(index) ? labels[index] : "class \(index)", logit: row[index],
          probability: Float(exp(Double(row[index]) - maximum) / total))
      }
    }
  }
}

extension SwinOutput {
  /// The `k` most likely classes of each image (see `ClassPrediction.top`); empty for a backbone
  /// without a classifier head.
  public func topClasses(_ k: Int = 5, names: [String]? = nil) -> [[ClassPrediction]] {
    guard let logits else { return [] }
    return ClassPrediction.top(k, logits: logits, names: names)
  }
}
