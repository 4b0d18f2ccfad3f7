// What one bench run stands for: the machine and engine it ran on, and per configuration and size
// the statistics, work and speedups derived from its samples.
import Engine
import Foundation
import Models

// MARK: - Machine and engine

/// Where the numbers were measured.
struct BenchEnvironment {
  let engineVersion: String
  let build: String
  let cpuModel: String
  let processors: Int
  let coresOnline: Int
  let physicalMemory: Int
  let operatingSystem: String
  let blasVersion: String
  let blasConfiguration: String
  let blasCore: String
  /// How the blocks' linear layers are multiplied (`BlockMatrixKernel`).
  let blockKernel: String
  let threads: Int
  let weights: String
  let modelName: String
  /// How the blocks pad, roll and clamp their windows (`WindowSemantics`).
  let windowSemantics: String
  let parameters: Int
  let date: String
  let command: [String]

  static var isDebugBuild: Bool {
    #if DEBUG
      true
    #else
      false
    #endif
  }

  static func current(model: SwinTransformer, threads: Int) -> BenchEnvironment {
    let cpu = CPUInfo.current
    let blasConfiguration = BLAS.configuration
    let blasWords = blasConfiguration.split(separator: " ")
    let blasVersion =
      blasWords.count >= 2 && blasWords[0] == "OpenBLAS" ? String(blasWords[1]) : "unknown"
    let formatter = ISO8601DateFormatter()
    return BenchEnvironment(
      engineVersion: Engine.engineVersion, build: isDebugBuild ? "debug" : "release",
      cpuModel: cpu.model,
      processors: cpu.processors, coresOnline: defaultThreadCount,
      physicalMemory: Int(min(ProcessInfo.processInfo.physicalMemory, UInt64(Int.max))),
      operatingSystem: operatingSystemName(), blasVersion: blasVersion,
      blasConfiguration: blasConfiguration,
      blasCore: BLAS.coreName, blockKernel: model.blockKernel.description, threads: threads, weights: model.source,
      modelName: model.configuration.name, windowSemantics: model.windowSemantics.rawValue,
      parameters: model.parameterCount, date: formatter.string(from: Date()),
      command: CommandLine.arguments)
  }
}

// MARK: - Results

/// One configuration at one size, with everything derived from its samples.
struct BenchRun {
  let label: String
  let argument: String
  let ratios: [[Double]]
  let size: BenchSize
  let batch: Int
  let threads: Int
  let rounds: Int
  /// Timed runs in round order, seconds.
  let samples: [Double]
  let cold: Double
  let summary: SampleSummary
  let imagesPerSecond: Double
  /// Work computed per forward (kept windows only; stem, merges and head dense), 10⁹ FLOP.
  let gflop: Double
  /// The same model and batch, dense.
  let denseGFLOP: Double
  let gflopsPerSecond: Double
  /// Fraction of the blocks' work skipped: 1 − computed block MACs / dense block MACs.
  let blockSparsity: Double
  /// Per stage: kept windows / windows over its blocks and the batch.
  let keptFraction: [Double]
  let keptWindows: [[Int]]
  let totalWindows: [[Int]]
  let isBaseline: Bool
  /// Dense median / this median.
  let speedup: Double
  /// Per round dense time / this time.
  let pairedSpeedup: SampleSummary
  let peakResidentBytes: Int?
  let profile: ProfileMeasurement?

  static func runs(
    _ measurement: SizeMeasurement, configuration: SwinConfiguration, threads: Int,
    semantics: WindowSemantics = .timm
  ) -> [BenchRun] {
    let size = measurement.size
    let stageSizes = configuration.stageSizes(height: size.height, width: size.width)
    let baselineIndex =
      measurement.configurations.firstIndex { $0.configuration.ratios.isDense } ?? 0
    let baseline = measurement.configurations[baselineIndex]
    let baselineMedian = SampleSummary(baseline.samples).median
    let denseMACs =
      configuration.denseMACs(height: size.height, width: size.width, semantics: semantics) * measurement.batch
    return measurement.configurations.enumerated().map { index, measured in
      let summary = SampleSummary(measured.samples)
      let kept = measured.usage.map { $0.map(\.kept) }
      let total = measured.usage.map { $0.map(\.total) }
      let macs = configuration.computedMACs(
        height: size.height, width: size.width, batch: measurement.batch, keptWindows: kept, semantics: semantics)
      var blockComputed = 0
      var blockDense = 0
      for stage in kept.indices {
        for block in kept[stage].indices {
          let (h, w) = stageSizes[stage]
          blockComputed += configuration.blockMACs(
            stage: stage, block: block, height: h, width: w, keptWindows: kept[stage][block], semantics: semantics)
          blockDense += configuration.blockMACs(
            stage: stage, block: block, height: h, width: w, keptWindows: total[stage][block], semantics: semantics)
        }
      }
      let gflop = 2 * Double(macs) / 1e9
      return BenchRun(
        label: measured.configuration.label, argument: measured.configuration.argument,
        ratios: measured.configuration.ratios.ratios, size: size, batch: measurement.batch,
        threads: threads,
        rounds: measurement.rounds, samples: measured.samples, cold: measured.cold,
        summary: summary,
        imagesPerSecond: Double(measurement.batch) / summary.median, gflop: gflop,
        denseGFLOP: 2 * Double(denseMACs) / 1e9,
        gflopsPerSecond: gflop / summary.median,
        blockSparsity: blockDense > 0 ? 1 - Double(blockComputed) / Double(blockDense) : 0,
        keptFraction: zip(kept, total).map {
          Double($0.reduce(0, +)) / Double(max(1, $1.reduce(0, +)))
        },
        keptWindows: kept, totalWindows: total, isBaseline: index == baselineIndex,
        speedup: baselineMedian / summary.median,
        pairedSpeedup: SampleSummary(
          pairedRatios(baseline: baseline.samples, candidate: measured.samples)),
        peakResidentBytes: measurement.peakResidentBytes, profile: measured.profile)
    }
  }
}
