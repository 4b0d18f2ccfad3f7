// A latency model of this machine for one architecture, input size, batch and thread count: the
// forward's wall time as a linear function of the windows each stage's blocks compute, fit by least
// squares to interleaved timings of a fixed design of configurations (corrected for the machine's
// speed drifting between rounds), so that any configuration's latency is predicted in microseconds
// without running it (SparseViT's search).
import Engine
import Foundation

/// Why a latency model could not be measured, fit, read or written.
public enum LatencyModelError: Error, Equatable, CustomStringConvertible {
  /// Fewer distinct measurements than the model has parameters.
  case tooFewSamples(samples: Int, parameters: Int)
  /// A measurement is not a positive finite number of seconds.
  case badSample(index: Int, seconds: Double)
  /// A measured configuration does not fit the model's depths.
  case sampleShape(index: Int, reason: String)
  /// The cache file could not be read or written.
  case file(FileIOError)
  /// The cache file is not a latency model of this format version.
  case unreadable(path: String, reason: String)
  /// A parameter outside its range (`what` names it, `expected` says the range).
  case invalidParameter(what: String, value: String, expected: String)

  public var description: String {
    switch self {
    case .tooFewSamples(let samples, let parameters):
      "a latency model needs at least \(parameters) distinct measured configurations, got \(samples)"
    case .badSample(let index, let seconds):
      "latency measurement \(index) is \(seconds) s, expected a positive finite time"
    case .sampleShape(let index, let reason): "latency measurement \(index): \(reason)"
    case .file(let error): error.description
    case .unreadable(let path, let reason): "\(path): not a usable latency model (\(reason))"
    case .invalidParameter(let what, let value, let expected):
      "\(what) is \(value), expected \(expected)"
    }
  }
}

/// What a latency model was measured for: it predicts nothing for another CPU, thread count,
/// input size, batch, architecture or engine build.
public struct LatencyModelKey: Codable, Sendable, Hashable, CustomStringConvertible {
  /// CPU model name (`/proc/cpuinfo`) and processor count.
  public let cpu: String
  /// Engine workers of the timed forwards.
  public let threads: Int
  /// Input height, pixels.
  public let height: Int
  /// Input width, pixels.
  public let width: Int
  /// Images per forward.
  public let batch: Int
  /// The architecture (`SwinConfiguration.description`): the weights' values do not matter.
  public let architecture: String
  /// Engine version and build (a faster engine invalidates old timings).
  public let engine: String
  /// How the blocks padded their windows (semantics without clamp compute 49 tokens per window).
  public let windowSemantics: WindowSemantics

  /// Validates the sizes.
  public init(
    cpu: String, threads: Int, height: Int, width: Int, batch: Int, architecture: String,
    engine: String, windowSemantics: WindowSemantics = .timm
  ) throws(LatencyModelError) {
    guard threads >= 1 else {
      throw .invalidParameter(what: "threads", value: String(threads), expected: "≥ 1")
    }
    guard height >= 1, width >= 1 else {
      throw .invalidParameter(
        what: "input size", value: "\(height)×\(width)", expected: "≥ 1×1 pixels")
    }
    guard batch >= 1 else {
      throw .invalidParameter(what: "batch", value: String(batch), expected: "≥ 1")
    }
    self.cpu = cpu
    self.threads = threads
    self.height = height
    self.width = width
    self.batch = batch
    self.architecture = architecture
    self.engine = engine
    self.windowSemantics = windowSemantics
  }

  /// Every field on one line, in a fixed order (what the file name hashes).
  public var description: String {
    "cpu=\(cpu) threads=\(threads) size=\(height)x\(width) batch=\(batch) model=\(architecture) engine=\(engine)"
      + " windows=\(windowSemantics)"
  }

  /// `latency-<16 hex digits>.json`: a 64-bit FNV-1a hash of `description`, stable across runs and
  /// platforms (Swift's `hashValue` is seeded per process, so it cannot name a file).
  public var fileName: String {
    "latency-" + hexDigits(fnv1a(description.utf8)) + ".json"
  }

  /// 16 hex digits naming the build of the program at `path` (by default the running one): a
  /// 64-bit FNV-1a hash of its bytes; nil when it cannot be read. The tool adds it to `engine`, so a
  /// rebuilt engine whose kernels or schedule changed without a new version number measures its
  /// own latency model instead of reusing one timed on other code.
  public static func buildFingerprint(path: String = "/proc/self/exe") -> String? {
    guard let bytes = try? readFile(path) else { return nil }
    return hexDigits(fnv1a(bytes))
  }
}

/// 64-bit FNV-1a of `bytes`.
func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
  var hash: UInt64 = 0xcbf2_9ce4_8422_2325
  for byte in bytes {
    hash ^= UInt64(byte)
    hash &*= 0x0000_0100_0000_01b3
  }
  return hash
}

/// `value` as 16 lowercase hex digits.
func hexDigits(_ value: UInt64) -> String {
  let digits = String(value, radix: 16)
  return String(repeating: "0", count: 16 - digits.count) + digits
}

/// One measured configuration: its ratios, the timed runs and the time they stand for.
public struct LatencySample: Codable, Sendable, Equatable {
  /// `ratios[stage][block]`.
  public let ratios: [[Double]]
  /// The configuration's time, seconds: by default the median of `runs` (as `sparsevit bench`
  /// reports latency); `measure` gives the median after correcting each round for the machine's
  /// speed in that round (`polishRounds`).
  public let seconds: Double
  /// Every timed run, seconds, in round order.
  public let runs: [Double]

  /// A configuration, its timed runs (seconds, at least one) and their median.
  public init(ratios: [[Double]], runs: [Double]) {
    self.ratios = ratios
    self.runs = runs
    self.seconds = runs.isEmpty ? 0 : quantile(runs, 0.5)
  }

  /// A configuration, its timed runs and the time they stand for.
  public init(ratios: [[Double]], runs: [Double], seconds: Double) {
    self.ratios = ratios
    self.runs = runs
    self.seconds = seconds
  }

  /// A sample known only by its summary (synthetic timings, tests).
  public init(ratios: [[Double]], seconds: Double) {
    self.ratios = ratios
    self.runs = [seconds]
    self.seconds = seconds
  }
}

/// Predicted forward latency for any pruning configuration at one input size, batch and thread
/// count on this machine.
///
/// Latency = `fixedSeconds` + Σ_stage `secondsPerWindow[s]` · (windows computed by the stage's
/// blocks, summed over blocks and the batch). A block's cost is close to linear in its kept
/// windows: its GEMMs have `49 · kept` rows and everything else is per window. The fixed part is the
/// stem, the merges, the head and whatever is not proportional to windows. The window scoring of a
/// pruned stage has no term of its own: it costs a few milliseconds, less than the timing noise
/// four more parameters would be fit to.
public struct LatencyModel: Codable, Sendable, Equatable {
  /// Version of the cache file format.
  public static let formatVersion = 2

  /// Version of the format this model was written in.
  public let formatVersion: Int
  /// What the model was measured for.
  public let key: LatencyModelKey
  /// Blocks per stage.
  public let depths: [Int]
  /// Windows per image of each stage's blocks (`nW`).
  public let windows: [Int]
  /// Seconds of the parts that do not depend on the ratios.
  public let fixedSeconds: Double
  /// Per stage, seconds per window computed by one block (one image).
  public let secondsPerWindow: [Double]
  /// The measurements the model was fit to (outliers included).
  public let samples: [LatencySample]
  /// The machine's speed in each timed round relative to the typical round (time factor, median
  /// 1), divided out of the samples; empty when the samples were not timed in rounds.
  public let roundFactors: [Double]
  /// Indices into `samples` left out of the fit as outliers.
  public let outliers: [Int]
  /// When the timings were taken (ISO 8601).
  public let measured: String
  /// Factor applied to every prediction, then `offset` added: how the machine's speed now relates
  /// to when the samples were timed (1 and 0 as measured; see `recalibrated`). Not stored: they
  /// hold for one run.
  public private(set) var scale: Double = 1
  /// Seconds added to every prediction after `scale`.
  public private(set) var offset: Double = 0

  private enum CodingKeys: String, CodingKey {
    case formatVersion, key, depths, windows, fixedSeconds, secondsPerWindow, samples, roundFactors
    case outliers, measured
  }

  /// Number of fitted parameters for `stages` stages.
  public static func parameterCount(stages: Int) -> Int { 1 + stages }

  /// Predicted seconds of one forward with `ratios` (any valid ratios for these depths, not only
  /// the search grid).
  public func predictedSeconds(_ ratios: PruningRatios) -> Double {
    offset + scale * unscaledSeconds(ratios.ratios)
  }

  private func unscaledSeconds(_ ratios: [[Double]]) -> Double {
    zip(LatencyModel.features(ratios, windows: windows, batch: key.batch), coefficients)
      .reduce(0) { $0 + $1.0 * $1.1 }
  }

  /// The model mapped onto `measurements` (configurations and their seconds timed now). A shared
  /// machine's speed drifts by 10–30% over minutes, partly as a factor on everything and partly as
  /// a fixed cost per forward (waking the other workers takes longer when the host is busy), so
  /// predictions become `a + b · prediction` with `a` and `b` fit by least squares; with a single
  /// configuration (or all predicted alike) only the factor. The model's shape is kept.
  public func recalibrated(_ measurements: [(ratios: PruningRatios, seconds: Double)]) -> LatencyModel {
    let points = measurements.map { (unscaledSeconds($0.ratios.ratios), $0.seconds) }.filter {
      $0.0 > 0 && $0.1 > 0 && $0.0.isFinite && $0.1.isFinite
    }
    guard !points.isEmpty else { return self }
    var copy = self
    let meanX = points.reduce(0) { $0 + $1.0 } / Double(points.count)
    let meanY = points.reduce(0) { $0 + $1.1 } / Double(points.count)
    let spread = points.reduce(0) { $0 + ($1.0 - meanX) * ($1.0 - meanX) }
    if points.count >= 2 && spread > 1e-6 * meanX * meanX {
      copy.scale = points.reduce(0) { $0 + ($1.0 - meanX) * ($1.1 - meanY) } / spread
      copy.offset = meanY - copy.scale * meanX
    } else {
      copy.scale = meanY / meanX
      copy.offset = 0
    }
    return copy
  }

  /// Predicted seconds of the dense forward.
  public var denseSeconds: Double { predictedSeconds(.dense(depths: depths)) }

  /// Relative fit residuals `(predicted − measured) / measured` of the samples used in the fit
  /// (before any recalibration).
  public var residuals: [Double] {
    samples.indices.filter { !outliers.contains($0) }.map { index in
      let sample = samples[index]
      return (unscaledSeconds(sample.ratios) - sample.seconds) / sample.seconds
    }
  }

  private var coefficients: [Double] { [fixedSeconds] + secondsPerWindow }

  /// The regressors of one configuration: `[1, kept windows per stage (summed over blocks and the
  /// batch)…]`.
  static func features(_ ratios: [[Double]], windows: [Int], batch: Int) -> [Double] {
    // Exactly the forward's count per image (`PruningRatios.keptWindows`).
    let pruning = PruningRatios(validated: ratios)
    return [1]
      + ratios.enumerated().map { stage, values in
        Double(batch * values.indices.reduce(0) { $0 + pruning.keptWindows(stage: stage, block: $1, windows: windows[stage]) })
      }
  }

  // MARK: - Fitting

  /// Fits the model to `samples` by least squares on their times, then again without the worst
  /// sample while its deleted residual is over 4 robust standard deviations (1.4826 · MAD) and over
  /// 1% of the median time: a configuration disturbed by another process cannot bend the fit. A
  /// regressor the samples cannot separate from the others (a stage never pruned, say) gets 0.
  /// `roundFactors` is kept for the record.
  public static func fit(
    samples: [LatencySample], key: LatencyModelKey, depths: [Int], windows: [Int],
    roundFactors: [Double] = [], measured: String = ""
  ) throws(LatencyModelError) -> LatencyModel {
    guard depths.count == windows.count, !depths.isEmpty else {
      throw .invalidParameter(
        what: "stage list", value: "\(depths.count) depths, \(windows.count) window counts",
        expected: "one of each per stage")
    }
    for (index, sample) in samples.enumerated() {
      guard sample.seconds.isFinite, sample.seconds > 0 else {
        throw .badSample(index: index, seconds: sample.seconds)
      }
      guard sample.ratios.map(\.count) == depths else {
        throw .sampleShape(
          index: index,
          reason: "blocks per stage \(sample.ratios.map(\.count)), the model has \(depths)")
      }
    }
    let parameters = parameterCount(stages: depths.count)
    let distinct = Set(samples.map { features($0.ratios, windows: windows, batch: key.batch) })
      .count
    guard distinct >= parameters else {
      throw .tooFewSamples(samples: distinct, parameters: parameters)
    }

    let rows = samples.map { features($0.ratios, windows: windows, batch: key.batch) }
    let targets = samples.map(\.seconds)
    var used = Array(samples.indices)
    var solution = leastSquares(rows, targets)
    let typical = median(targets)
    // Drop the worst sample while it is an outlier, one at a time, at most a quarter of them. Each
    // sample is judged by its deleted residual (its relative error when the fit leaves it out), as
    // an outlier bends the fit towards itself and hides in its own residual.
    while used.count > samples.count * 3 / 4 {
      let deleted = used.indices.map { position -> Double in
        var others = used
        others.remove(at: position)
        let fit = leastSquares(others.map { rows[$0] }, others.map { targets[$0] })
        return dot(rows[used[position]], fit) - targets[used[position]]
      }
      let spread = 1.4826 * median(deleted.map(abs))
      let worst = deleted.indices.max { abs(deleted[$0]) < abs(deleted[$1]) }!
      guard abs(deleted[worst]) > max(4 * spread, 0.01 * typical) else { break }
      var remaining = used
      remaining.remove(at: worst)
      guard Set(remaining.map { rows[$0] }).count >= parameters else { break }
      used = remaining
      solution = leastSquares(used.map { rows[$0] }, used.map { targets[$0] })
    }
    let stages = depths.count
    return LatencyModel(
      formatVersion: formatVersion, key: key, depths: depths, windows: windows,
      fixedSeconds: solution[0],
      secondsPerWindow: Array(solution[1...stages]), samples: samples, roundFactors: roundFactors,
      outliers: samples.indices.filter { !used.contains($0) }, measured: measured)
  }

  // MARK: - Measuring

  /// The configurations timed to fit a model: dense; each stage alone at ratios 0.2, 0.4, 0.6, 0.8
  /// (the stage's slope, the others dense); every stage at those ratios (the fastest
  /// configuration and whatever does not add up across stages); and `random` configurations of the
  /// search space drawn with a fixed seed. 29 configurations for four stages.
  public static func design(depths: [Int], random: Int = 8, seed: UInt64 = 0x5EA7_C4)
    -> [PruningRatios]
  {
    let levels = [0.2, 0.4, 0.6, 0.8]
    var design = [PruningRatios.dense(depths: depths)]
    for stage in depths.indices {
      for level in levels {
        var ratios = depths.map { [Double](repeating: 0, count: $0) }
        ratios[stage] = [Double](repeating: level, count: depths[stage])
        design.append(PruningRatios(validated: ratios))
      }
    }
    for level in levels {
      design.append(PruningRatios(validated: depths.map { [Double](repeating: level, count: $0) }))
    }
    let space = SearchSpace(unchecked: depths)
    var generator = SearchRandom(seed: seed)
    for _ in 0..<random { design.append(space.ratios(space.randomGenome(using: &generator))) }
    return design
  }

  /// Times `model` on `input` for every configuration of `design` and fits a model.
  ///
  /// Protocol (`timeConfigurations`, as `sparsevit bench`): every configuration runs once untimed
  /// (the first run also creates the workspace), then `rounds` timed rounds each run every
  /// configuration once, starting one later each round, so that drift and other processes hit all
  /// configurations alike. The machine's speed still drifts from round to round (±10% over tens of
  /// seconds on a shared virtual machine, invisible to the process), so each round's speed is
  /// estimated from all configurations and divided out (`polishRounds`); a configuration's time
  /// is then its median over the rounds. `time(body)` runs `body` (one forward) and returns its seconds: by default the wall time; a
  /// caller on a shared machine can repeat runs that other processes disturbed.
  /// `progress(done, total)` is called after each forward.
  public static func measure(
    model: SwinTransformer, input: Tensor, key: LatencyModelKey, design: [PruningRatios]? = nil,
    rounds: Int = 5,
    time: (() throws -> Void) throws -> Double = wallSeconds,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> LatencyModel {
    guard rounds >= 1 else {
      throw LatencyModelError.invalidParameter(
        what: "rounds", value: String(rounds), expected: "≥ 1")
    }
    guard input.rank == 4, input.shape[0] == key.batch, input.shape[2] == key.height,
      input.shape[3] == key.width
    else {
      throw LatencyModelError.invalidParameter(
        what: "timing input shape", value: "\(input.shape)",
        expected:
          "[\(key.batch), \(model.configuration.inputChannels), \(key.height), \(key.width)]")
    }
    let configurations = design ?? LatencyModel.design(depths: model.configuration.depths)
    let runs = try timeConfigurations(
      model, input: input, configurations: configurations,
      options: ForwardOptions(threads: key.threads, windowSemantics: key.windowSemantics), rounds: rounds,
      time: time, progress: progress)
    let polished = polishRounds(runs)
    let samples = configurations.indices.map {
      LatencySample(ratios: configurations[$0].ratios, runs: runs[$0], seconds: polished.seconds[$0])
    }
    return try fit(
      samples: samples, key: key, depths: model.configuration.depths,
      windows: windows(model.configuration, height: key.height, width: key.width),
      roundFactors: polished.roundFactors, measured: ISO8601DateFormatter().string(from: Date()))
  }

  /// Windows per image of each stage of `configuration` at `height × width`.
  public static func windows(_ configuration: SwinConfiguration, height: Int, width: Int) -> [Int] {
    configuration.stageSizes(height: height, width: width).map {
      WindowGrid(height: $0.height, width: $0.width, window: configuration.window, shifted: false)
        .windowCount
    }
  }

  // MARK: - Cache file

  /// The model as pretty-printed JSON.
  public func jsonData() -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    // Finite numbers and strings only, so encoding cannot fail.
    return (try? encoder.encode(self)) ?? Data()
  }

  /// Reads a model written by `save`; throws when the file is missing, unreadable or of another
  /// format version. Whether it applies (its `key`) is the caller's check.
  public static func load(path: String) throws(LatencyModelError) -> LatencyModel {
    let bytes: [UInt8]
    do throws(FileIOError) { bytes = try readFile(path) } catch { throw .file(error) }
    // The version first: a file of another version is reported as such, not by a missing key.
    struct Version: Decodable { let formatVersion: Int }
    if let version = try? JSONDecoder().decode(Version.self, from: Data(bytes)),
      version.formatVersion != formatVersion
    {
      throw .unreadable(
        path: path, reason: "format version \(version.formatVersion), expected \(formatVersion)")
    }
    let model: LatencyModel
    do {
      model = try JSONDecoder().decode(LatencyModel.self, from: Data(bytes))
    } catch let error as DecodingError {
      throw .unreadable(path: path, reason: describe(error))
    } catch {
      throw .unreadable(path: path, reason: firstLine(of: error))
    }
    guard model.depths.count == model.windows.count,
      model.secondsPerWindow.count == model.depths.count,
      model.fixedSeconds.isFinite
    else {
      throw .unreadable(path: path, reason: "inconsistent stage lists")
    }
    return model
  }

  /// Writes the model atomically to `path`.
  public func save(to path: String) throws(LatencyModelError) {
    do throws(FileIOError) { try writeFileAtomically([UInt8](jsonData()), to: path) } catch {
      throw .file(error)
    }
  }
}

/// A decoding failure in a few words: what is missing or wrong, and where.
private func describe(_ error: DecodingError) -> String {
  func place(_ path: [any CodingKey]) -> String {
    path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
  }
  switch error {
  case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)' in \(place(context.codingPath))"
  case .typeMismatch(_, let context), .valueNotFound(_, let context):
    return "wrong or missing value at \(place(context.codingPath))"
  case .dataCorrupted(let context):
    return context.codingPath.isEmpty ? "not JSON" : "bad value at \(place(context.codingPath))"
  @unknown default: return firstLine(of: error)
  }
}

/// Per configuration its time with the rounds' speed differences taken out, and each round's time
/// factor (median 1), from `runs[configuration][round]` (every configuration timed once per round,
/// as `timeInterleaved` returns them).
///
/// Tukey's median polish on log times: log t[c][r] = log T[c] + log f[r] + noise, alternately
/// taking row and column medians (10 sweeps), so one disturbed run moves neither its
/// configuration's time nor its round's factor. With fewer than 3 configurations or 2 rounds there
/// is nothing to compare: the times are the plain medians and the factors 1.
public func polishRounds(_ runs: [[Double]]) -> (seconds: [Double], roundFactors: [Double]) {
  let rounds = runs.first?.count ?? 0
  precondition(runs.allSatisfy { $0.count == rounds }, "polishRounds: configurations with different round counts")
  guard runs.count >= 3, rounds >= 2, runs.allSatisfy({ $0.allSatisfy { $0 > 0 && $0.isFinite } }) else {
    return (runs.map { quantile($0, 0.5) }, [Double](repeating: 1, count: rounds))
  }
  let logs = runs.map { $0.map { Foundation.log($0) } }
  var level = logs.map { median($0) }
  var factor = [Double](repeating: 0, count: rounds)
  for _ in 0..<10 {
    factor = (0..<rounds).map { r in median(logs.indices.map { logs[$0][r] - level[$0] }) }
    let center = median(factor)
    factor = factor.map { $0 - center }
    level = logs.indices.map { c in median((0..<rounds).map { logs[c][$0] - factor[$0] }) }
  }
  return (level.map { Foundation.exp($0) }, factor.map { Foundation.exp($0) })
}

func dot(_ a: [Double], _ b: [Double]) -> Double {
  zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}

/// Least-squares solution of `rows · x ≈ targets` by LAPACK (`BLAS.leastSquares`), columns scaled to
/// unit maximum first (the regressors range from 0/1 indicators to thousands of windows). Columns are
/// taken in order; one the rows cannot separate from those before it (a stage never pruned repeats
/// the fixed part) is fixed at 0, so its cost goes to the earlier regressors instead of being split
/// between them by the minimum-norm rule.
func leastSquares(_ rows: [[Double]], _ targets: [Double]) -> [Double] {
  let n = rows.first?.count ?? 0
  var solution = [Double](repeating: 0, count: n)
  guard n > 0 else { return solution }
  var scale = [Double](repeating: 0, count: n)
  for row in rows { for j in 0..<n { scale[j] = max(scale[j], abs(row[j])) } }
  for j in 0..<n where scale[j] == 0 { scale[j] = 1 }
  let scaled = rows.map { row in (0..<n).map { row[$0] / scale[$0] } }
  func solve(_ columns: [Int]) -> (solution: [Double], rank: Int)? {
    BLAS.leastSquares(
      scaled.flatMap { row in columns.map { row[$0] } }, rows: scaled.count, columns: columns.count, targets,
      rcond: separableConditionLimit)
  }
  var kept: [Int] = []
  for column in 0..<n where solve(kept + [column])?.rank == kept.count + 1 { kept.append(column) }
  guard !kept.isEmpty, let fit = solve(kept) else { return solution }
  for (position, column) in kept.enumerated() { solution[column] = fit.solution[position] / scale[column] }
  return solution
}

/// Singular values below this fraction of the largest make a column inseparable: far above rounding
/// (1e-16), far below the conditioning of any design the latency model is fit to (1e-3 or better).
let separableConditionLimit = 1e-10
