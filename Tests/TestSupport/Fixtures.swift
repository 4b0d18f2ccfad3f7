// The fixture manifest of Tests/Fixtures (written by scripts/make_fixtures.py), shared by the
// golden tests and the command-line tests.
import Foundation

/// The fixture manifest written by scripts/make_fixtures.py.
public struct FixtureManifest: Decodable {
  public struct Checkpoint: Decodable {
    public let file: String
    public let layout: String
    public let dtype: String
  }
  public struct Case: Decodable {
    public let name: String
    public let input: String
    public let logits: String
    public let stages: [String]
    public let normedStages: [String]?
    public let pruningRatios: [[Double]]?
    public let keptWindows: [[[Int]?]]?
    public let batch: Int

    enum CodingKeys: String, CodingKey {
      case name, input, logits, stages, batch
      case normedStages = "normed_stages"
      case pruningRatios = "pruning_ratios"
      case keptWindows = "kept_windows"
    }
  }
  /// The same weights run as another framework runs them (`WindowSemantics`).
  public struct SemanticsCase: Decodable {
    public let name: String
    /// `WindowSemantics` raw value.
    public let semantics: String
    public let input: String
    /// torchvision cases: logits and raw stage outputs; the others: stage outputs through `norm0..3`.
    public let logits: String?
    public let stages: [String]?
    public let normedStages: [String]?
    public let pruningRatios: [[Double]]?
    public let keptWindows: [[[Int]?]]?
    public let batch: Int

    enum CodingKeys: String, CodingKey {
      case name, semantics, input, logits, stages, batch
      case normedStages = "normed_stages"
      case pruningRatios = "pruning_ratios"
      case keptWindows = "kept_windows"
    }
  }
  public let command: String
  public let seed: Int
  public let checkpoints: [Checkpoint]
  public let cases: [Case]
  public let semanticsCases: [SemanticsCase]?

  enum CodingKeys: String, CodingKey {
    case command, seed, checkpoints, cases
    case semanticsCases = "semantics_cases"
  }
}

/// Reads `manifest.json` of a fixture directory.
public func loadManifest(_ directory: URL) throws -> FixtureManifest {
  try JSONDecoder().decode(FixtureManifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
}
