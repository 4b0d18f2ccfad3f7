// Dense versus pruned configurations on a stream of images: per batch, decode and preprocess, run
// every configuration once (dense is the reference, run once per image), compare, and time each
// forward with `bench`'s protocol: the first batch is the cold round, later full batches are timed
// rounds that run the configurations round-robin, starting one later each round.
import Engine
import Foundation

/// Why an evaluation could not run.
public enum EvaluationError: Error, Equatable, CustomStringConvertible {
  /// A parameter outside its range.
  case invalidParameter(what: String, value: String, expected: String)
  /// A configuration's ratios do not fit the model.
  case configuration(label: String, reason: String)
  /// A forward was refused (shape, memory budget).
  case inference(label: String, reason: String)
  /// A label outside the model's classes (`name` is the image).
  case label(name: String, label: Int, classes: Int)
  /// Not one image could be read (`first` says why the first one could not).
  case nothingReadable(count: Int, first: UnreadableImage?)

  public var description: String {
    switch self {
    case .invalidParameter(let what, let value, let expected): "\(what) is \(value), expected \(expected)"
    case .configuration(let label, let reason): "configuration '\(label)': \(reason)"
    case .inference(let label, let reason): "\(label): \(reason)"
    case .label(let name, let label, let classes):
      "\(name): label \(label) is not a class of the model (0…\(classes - 1))"
    case .nothingReadable(let count, let first):
      "none of the \(count) image(s) could be read" + (first.map { " (\($0.name): \($0.reason))" } ?? "")
    }
  }
}

/// A configuration to evaluate: how reports name it and its per-block ratios.
public struct EvaluationConfiguration: Sendable, Equatable {
  /// Its name in tables (`dense`, `cfg2_35ms`, `uniform 0.6`).
  public let label: String
  /// Per-block pruning ratios.
  public let ratios: PruningRatios

  /// A configuration named `label`.
  public init(label: String, ratios: PruningRatios) {
    self.label = label
    self.ratios = ratios
  }
}

/// One configuration's results over the whole run.
public struct EvaluationRecord: Sendable {
  /// The configuration.
  public let configuration: EvaluationConfiguration
  /// Accuracy and agreement counts.
  public let tally: EvaluationTally
  /// Windows computed, summed over blocks and images.
  public let keptWindows: Int
  /// Windows of the blocks' grids, summed over blocks and images.
  public let totalWindows: Int
  /// Work computed per image (kept windows only; stem, merges and head dense), 10⁹ FLOP.
  public let gflopPerImage: Double
  /// Seconds per image of the first (cold) batch.
  public let coldSecondsPerImage: Double?
  /// Seconds per image of each timed batch (full batches after the first), in batch order.
  public let latencySamples: [Double]

  /// Kept windows over all windows.
  public var keptWindowFraction: Double { totalWindows > 0 ? Double(keptWindows) / Double(totalWindows) : 1 }
  /// Median of `latencySamples` (nil when no batch was timed: fewer than two full batches).
  public var secondsPerImage: Double? { latencySamples.isEmpty ? nil : median(latencySamples) }
}

/// An image that could not be read or decoded, and why.
public struct UnreadableImage: Sendable, Equatable {
  /// The source's name for it (a path).
  public let name: String
  /// The decoder's or the file system's message.
  public let reason: String
}

/// How far a run has got (after each batch).
public struct EvaluationProgress: Sendable {
  /// Images of the source gone through (evaluated or unreadable).
  public let done: Int
  /// Images in the source.
  public let total: Int
  /// Images evaluated.
  public let evaluated: Int
  /// Images skipped as unreadable.
  public let unreadable: Int
  /// Seconds since the run began.
  public let elapsed: Double
}

/// Everything a run measured.
public struct EvaluationResult: Sendable {
  /// One record per configuration, dense (the reference) first.
  public let records: [EvaluationRecord]
  /// Images evaluated (each by every configuration).
  public let images: Int
  /// Evaluated images that had a label.
  public let labelled: Int
  /// Images skipped, in source order.
  public let unreadable: [UnreadableImage]
  /// Batches whose forwards were timed.
  public let timedBatches: Int
  /// Wall seconds of the whole run.
  public let seconds: Double
}

/// Runs dense and pruned configurations of one model over a stream of images.
public struct Evaluation: Sendable {
  /// The model evaluated.
  public let model: SwinTransformer
  /// Dense (the reference, label "dense") first, then the pruned configurations in the given order.
  public let configurations: [EvaluationConfiguration]
  /// How each image becomes a `[1, 3, size, size]` input.
  public let preprocessing: ImagePreprocessing
  /// Images per forward.
  public let batch: Int
  /// Options of every forward.
  public let options: ForwardOptions

  /// Checks the configurations against the model and puts dense first: a configuration labelled
  /// "dense" with every ratio 0 is the reference; any other (even all-zero) runs on its own.
  public init(
    model: SwinTransformer, configurations: [EvaluationConfiguration], preprocessing: ImagePreprocessing,
    batch: Int = 1, options: ForwardOptions = ForwardOptions()
  ) throws(EvaluationError) {
    guard batch >= 1 else {
      throw .invalidParameter(what: "batch", value: String(batch), expected: "at least 1 image")
    }
    let depths = model.configuration.depths
    for configuration in configurations where !configuration.ratios.fits(depths) {
      do {
        _ = try PruningRatios(configuration.ratios.ratios, depths: depths)
      } catch {
        throw .configuration(label: configuration.label, reason: error.description)
      }
    }
    let reference = EvaluationConfiguration(label: "dense", ratios: .dense(depths: depths))
    self.model = model
    self.configurations = [reference] + configurations.filter { $0 != reference }
    self.preprocessing = preprocessing
    self.batch = batch
    self.options = options
  }

  /// Evaluates every image of `source` (unreadable ones are skipped and listed), batch by batch;
  /// `progress` hears after each batch. Only one batch of pixels is held at a time.
  public func run(
    _ source: some EvaluationSource, progress: (EvaluationProgress) -> Void = { _ in }
  ) throws(EvaluationError) -> EvaluationResult {
    let start = Date()
    var state = RunState(configurations: configurations.count, depths: model.configuration.depths)
    var next = 0
    var round = 0
    while next < source.count {
      let (input, labels) = try readBatch(source, from: &next, unreadable: &state.unreadable)
      guard let input else { break }
      let outputs = try forwardAll(input, round: round, timed: round > 0 && labels.count == batch, state: &state)
      let reference = EvaluationReference(outputs[0])
      for (index, output) in outputs.enumerated() {
        state.tallies[index].add(output, reference: reference, labels: labels)
        for (stage, blocks) in output.windowUsage.enumerated() {
          for (block, usage) in blocks.enumerated() {
            state.kept[index][stage][block] += usage.kept
            state.total[index] += usage.total
          }
        }
      }
      state.images += labels.count
      state.labelled += labels.count { $0 != nil }
      round += 1
      progress(
        EvaluationProgress(
          done: next, total: source.count, evaluated: state.images, unreadable: state.unreadable.count,
          elapsed: Date().timeIntervalSince(start)))
    }
    guard state.images > 0 else { throw .nothingReadable(count: source.count, first: state.unreadable.first) }
    return EvaluationResult(
      records: records(state), images: state.images, labelled: state.labelled, unreadable: state.unreadable,
      timedBatches: state.samples[0].count, seconds: Date().timeIntervalSince(start))
  }

  /// Reads up to `batch` readable images from `next` on: `[n, 3, size, size]` and their labels, or
  /// nil when the source ended without one.
  private func readBatch(
    _ source: some EvaluationSource, from next: inout Int, unreadable: inout [UnreadableImage]
  ) throws(EvaluationError) -> (Tensor?, [Int?]) {
    let size = preprocessing.size
    var values: [Float] = []
    var labels: [Int?] = []
    while labels.count < batch && next < source.count {
      let index = next
      next += 1
      let label = source.label(index)
      if let label, label < 0 || label >= max(model.configuration.classes, 1) {
        throw .label(name: source.name(index), label: label, classes: model.configuration.classes)
      }
      do {
        let picture = preprocessing.resized(try source.image(index))
        if values.isEmpty { values.reserveCapacity(batch * 3 * size * size) }
        values += preprocessing.normalized(picture).values
        labels.append(label)
      } catch {
        // Decoder messages start with the path; the record names it apart.
        let name = source.name(index)
        var reason = String(describing: error)
        if reason.hasPrefix(name + ": ") { reason.removeFirst(name.count + 2) }
        unreadable.append(UnreadableImage(name: name, reason: reason))
      }
    }
    guard !labels.isEmpty else { return (nil, []) }
    return (Tensor(shape: [labels.count, 3, size, size], values: values), labels)
  }

  /// Every configuration once on `input`, in round `round`'s order; outputs in configuration order.
  private func forwardAll(
    _ input: Tensor, round: Int, timed: Bool, state: inout RunState
  ) throws(EvaluationError) -> [SwinOutput] {
    let count = configurations.count
    var outputs = [SwinOutput?](repeating: nil, count: count)
    let images = Double(input.shape[0])
    for index in roundOrder(round, count: count) {
      let configuration = configurations[index]
      let start = DispatchTime.now().uptimeNanoseconds
      do {
        outputs[index] = try model.forward(input, sparsity: configuration.ratios, options: options)
      } catch {
        throw .inference(label: configuration.label, reason: error.description)
      }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
      if round == 0 { state.cold[index] = seconds / images }
      if timed { state.samples[index].append(seconds / images) }
    }
    return outputs.map { $0! }
  }

  private func records(_ state: RunState) -> [EvaluationRecord] {
    let size = preprocessing.size
    return configurations.indices.map { index in
      let macs = model.configuration.computedMACs(
        height: size, width: size, batch: state.images, keptWindows: state.kept[index])
      return EvaluationRecord(
        configuration: configurations[index], tally: state.tallies[index],
        keptWindows: state.kept[index].joined().reduce(0, +), totalWindows: state.total[index],
        gflopPerImage: 2 * Double(macs) / 1e9 / Double(state.images), coldSecondsPerImage: state.cold[index],
        latencySamples: state.samples[index])
    }
  }
}

/// What a run accumulates, per configuration.
private struct RunState {
  var tallies: [EvaluationTally]
  /// `[configuration][stage][block]` kept windows summed over images.
  var kept: [[[Int]]]
  var total: [Int]
  var cold: [Double?]
  var samples: [[Double]]
  var images = 0
  var labelled = 0
  var unreadable: [UnreadableImage] = []

  init(configurations: Int, depths: [Int]) {
    tallies = Array(repeating: EvaluationTally(), count: configurations)
    kept = Array(repeating: depths.map { [Int](repeating: 0, count: $0) }, count: configurations)
    total = Array(repeating: 0, count: configurations)
    cold = Array(repeating: nil, count: configurations)
    samples = Array(repeating: [], count: configurations)
  }
}
