// Dynamic batching: one loop thread takes the oldest queued job, waits up to the batch window for
// jobs of the same shape and sparsity, and runs them as one forward on the model's workers.
import Engine
import Foundation
import Models

/// The sparsity a job asked for: the server's policy, or a fixed configuration.
public enum JobSparsity: Sendable, Equatable {
  /// The ladder's level when an SLO is set, else the server's default configuration.
  case policy
  /// A configuration the request named; `label` says how (a ratio, a preset, "custom").
  case fixed(label: String, ratios: PruningRatios)

  var key: String {
    switch self {
    case .policy: "policy"
    case .fixed(let label, let ratios): "\(label) \(ratios.ratios)"
    }
  }
}

/// What one job gets back: its rows of the batch's outputs and how they were computed.
public struct JobResult: Sendable {
  /// `[B, classes]`, nil for a backbone.
  public let logits: Tensor?
  /// `[B, C_last]`.
  public let pooledFeatures: Tensor
  /// `[B, H_s, W_s, C_s]` per stage when requested.
  public let stages: [Tensor]
  /// The configuration's label and its ladder level (nil when not from the ladder).
  public let sparsityLabel: String
  public let level: Int?
  /// Kept windows / total windows over every block of the batch.
  public let keptWindowFraction: Double
  /// Images in the forward that served this job.
  public let batchImages: Int
  public let queueSeconds: Double
  public let computeSeconds: Double
}

/// One queued request.
public struct InferenceJob: Sendable {
  /// `[B, 3, H, W]`, normalized.
  public let images: Tensor
  public let sparsity: JobSparsity
  public let collectStages: Bool
  public let completion: @Sendable (Result<JobResult, InferenceError>) -> Void
  let arrival: UInt64

  public init(
    images: Tensor, sparsity: JobSparsity, collectStages: Bool,
    completion: @escaping @Sendable (Result<JobResult, InferenceError>) -> Void
  ) {
    self.images = images
    self.sparsity = sparsity
    self.collectStages = collectStages
    self.completion = completion
    arrival = DispatchTime.now().uptimeNanoseconds
  }

  var batch: Int { images.shape[0] }
  var key: String { "\(images.shape[2])x\(images.shape[3]) \(sparsity.key)" }
}

/// Settings of the batching loop.
public struct BatchingOptions: Sendable {
  public var maxBatch: Int
  public var windowSeconds: Double
  public var threads: Int
  public var memoryBudget: Int
  /// The configuration of `.policy` jobs without a ladder (nil: dense) and its label.
  public var defaultSparsity: (label: String, ratios: PruningRatios)?

  public init(
    maxBatch: Int = 4, windowSeconds: Double = 0.002, threads: Int = defaultThreadCount,
    memoryBudget: Int = ForwardOptions.defaultMemoryBudget,
    defaultSparsity: (label: String, ratios: PruningRatios)? = nil
  ) {
    self.maxBatch = maxBatch
    self.windowSeconds = windowSeconds
    self.threads = threads
    self.memoryBudget = memoryBudget
    self.defaultSparsity = defaultSparsity
  }
}

/// The queue and its loop thread. `submit` from any thread; `drain` finishes the queue and stops.
public final class BatchingEngine: @unchecked Sendable {
  public let model: SwinTransformer
  public let options: BatchingOptions
  public let ladder: SparsityLadder?
  let metrics: ServerMetrics
  private let condition = NSCondition()
  private var queue: [InferenceJob] = []
  private var queuedImages = 0
  private var stopping = false
  private var finished = false

  public init(model: SwinTransformer, options: BatchingOptions, ladder: SparsityLadder?, metrics: ServerMetrics) {
    self.model = model
    self.options = options
    self.ladder = ladder
    self.metrics = metrics
    let thread = Thread { [self] in loop() }
    thread.name = "sparsevit-batching"
    thread.start()
  }

  /// Images waiting in the queue.
  public var queueDepth: Int { condition.withLock { queuedImages } }

  /// Queues `job`; false once `drain` has begun (the job is not run).
  public func submit(_ job: InferenceJob) -> Bool {
    condition.withLock {
      guard !stopping else { return false }
      queue.append(job)
      queuedImages += job.batch
      condition.broadcast()
      return true
    }
  }

  /// Refuses new jobs, runs every queued one, then stops the loop (returns when it has).
  public func drain() {
    condition.withLock {
      stopping = true
      condition.broadcast()
      while !finished { condition.wait() }
    }
  }

  private func loop() {
    while let batch = nextBatch() { run(batch) }
    condition.withLock {
      finished = true
      condition.broadcast()
    }
  }

  /// The next batch: the oldest job and queued jobs of the same key, waiting up to the window.
  private func nextBatch() -> (jobs: [InferenceJob], behind: Int)? {
    condition.lock()
    defer { condition.unlock() }
    while queue.isEmpty && !stopping { condition.wait() }
    guard !queue.isEmpty else { return nil }
    let first = queue.removeFirst()
    var jobs = [first]
    var images = first.batch
    let deadline = Date(timeIntervalSinceNow: max(0, options.windowSeconds - seconds(since: first.arrival)))
    while images < options.maxBatch {
      if let index = queue.firstIndex(where: { $0.key == first.key && images + $0.batch <= options.maxBatch }) {
        let job = queue.remove(at: index)
        jobs.append(job)
        images += job.batch
        continue
      }
      if stopping || !condition.wait(until: deadline) { break }
    }
    queuedImages -= images
    return (jobs, queuedImages)
  }

  private func run(_ batch: (jobs: [InferenceJob], behind: Int)) {
    let jobs = batch.jobs
    let first = jobs[0]
    let images = jobs.reduce(0) { $0 + $1.batch }
    let height = first.images.shape[2]
    let width = first.images.shape[3]
    let (label, ratios, level) = configuration(for: first, images: images + batch.behind, pixels: height * width)
    let input: Tensor
    if jobs.count == 1 {
      input = first.images
    } else {
      var values: [Float] = []
      values.reserveCapacity(jobs.reduce(0) { $0 + $1.images.count })
      for job in jobs { values.append(contentsOf: job.images.values) }
      input = Tensor(shape: [images] + Array(first.images.shape.dropFirst()), values: values)
    }
    let start = DispatchTime.now().uptimeNanoseconds
    let result = Result { () throws(InferenceError) -> SwinOutput in
      try model.forward(
        input, sparsity: ratios,
        options: ForwardOptions(
          threads: options.threads, collectStages: jobs.contains { $0.collectStages },
          memoryBudget: options.memoryBudget))
    }
    let compute = seconds(since: start)
    if let level, case .success = result {
      ladder?.record(level: level, images: images, pixels: height * width, seconds: compute)
    }
    metrics.recordBatch(images: images)
    var row = 0
    for job in jobs {
      let rows = row..<(row + job.batch)
      row += job.batch
      metrics.recordLevel(label, requests: 1)
      job.completion(
        result.map { output in
          JobResult(
            logits: output.logits.map { slice($0, rows) }, pooledFeatures: slice(output.pooledFeatures, rows),
            stages: job.collectStages ? output.stages.map { slice($0, rows) } : [], sparsityLabel: label, level: level,
            keptWindowFraction: keptFraction(output.windowUsage), batchImages: images,
            queueSeconds: Double(start &- job.arrival) / 1e9, computeSeconds: compute)
        })
    }
  }

  /// The configuration a batch runs at: fixed by its requests, the ladder's choice, or the default.
  private func configuration(for job: InferenceJob, images: Int, pixels: Int) -> (String, PruningRatios?, Int?) {
    if case .fixed(let label, let ratios) = job.sparsity { return (label, ratios, nil) }
    if let ladder {
      let level = ladder.choose(images: images, pixels: pixels, waited: seconds(since: job.arrival))
      return (ladder.levels[level].name, ladder.levels[level].ratios, level)
    }
    if let fixed = options.defaultSparsity { return (fixed.label, fixed.ratios, nil) }
    return ("dense", nil, nil)
  }
}

/// Rows `rows` of a tensor's first dimension.
func slice(_ tensor: Tensor, _ rows: Range<Int>) -> Tensor {
  if rows.lowerBound == 0 && rows.count == tensor.shape[0] { return tensor }
  let stride = tensor.count / max(1, tensor.shape[0])
  return Tensor(
    shape: [rows.count] + Array(tensor.shape.dropFirst()),
    values: Array(tensor.values[(rows.lowerBound * stride)..<(rows.upperBound * stride)]))
}

func keptFraction(_ usage: [[WindowUsage]]) -> Double {
  let kept = usage.joined().reduce(0) { $0 + $1.kept }
  let total = usage.joined().reduce(0) { $0 + $1.total }
  return total == 0 ? 1 : Double(kept) / Double(total)
}

func seconds(since start: UInt64) -> Double {
  Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9
}
