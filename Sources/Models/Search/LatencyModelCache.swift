// Where latency models are cached and when a cached one applies or a new one is stored: the
// policy behind `sparsevit search`, usable by any program that embeds the search.
import Engine
import Foundation

extension LatencyModelKey {
  /// The key of `model` timed on this machine: the CPU as /proc/cpuinfo names it, the engine version,
  /// the build (debug or release, FMA), a fingerprint of the running binary and the window semantics.
  public static func current(
    model: SwinTransformer, threads: Int, height: Int, width: Int, batch: Int
  ) throws(LatencyModelError) -> LatencyModelKey {
    try LatencyModelKey(
      cpu: CPUInfo.current.description, threads: threads, height: height, width: width, batch: batch,
      architecture: model.configuration.description,
      engine: "\(engineVersion) \(LatencyModelCache.build)\(LatencyModelCache.fusedMultiplyAdd ? " fma" : "")"
        + " \(model.kernelDescription)" + (buildFingerprint().map { " build \($0)" } ?? ""),
      windowSemantics: model.windowSemantics)
  }
}

/// The latency-model cache: one JSON file per key, in `$XDG_CACHE_HOME/sparsevit` or
/// `~/.cache/sparsevit`.
public enum LatencyModelCache {
  /// "debug" or "release": a debug build's timings mean nothing for a release build.
  public static var build: String {
    #if DEBUG
      "debug"
    #else
      "release"
    #endif
  }

  /// Whether the engine was built with fused multiply-add (`-DSPARSEVIT_FMA`).
  public static var fusedMultiplyAdd: Bool {
    #if SPARSEVIT_FMA
      true
    #else
      false
    #endif
  }

  /// `$XDG_CACHE_HOME/sparsevit` (an absolute XDG path only) or `~/.cache/sparsevit`; nil without
  /// either.
  public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
      return (xdg as NSString).appendingPathComponent("sparsevit")
    }
    guard let home = environment["HOME"], !home.isEmpty else { return nil }
    return (home as NSString).appendingPathComponent(".cache/sparsevit")
  }

  /// The default cache file of `key`.
  public static func path(for key: LatencyModelKey) -> String? {
    directory().map { ($0 as NSString).appendingPathComponent(key.fileName) }
  }

  /// What a look in the cache found.
  public enum Lookup {
    /// A model measured for this key.
    case hit(LatencyModel)
    /// No file: measure.
    case absent
    /// A model measured for another key: measure again.
    case otherKey(LatencyModelKey)
    /// A file that is not a usable model: measure again.
    case unusable(LatencyModelError)
  }

  /// The model cached at `path` when it was measured for `key`.
  public static func lookup(path: String, key: LatencyModelKey) -> Lookup {
    guard FileManager.default.fileExists(atPath: path) else { return .absent }
    do {
      let cached = try LatencyModel.load(path: path)
      return cached.key == key ? .hit(cached) : .otherKey(cached.key)
    } catch {
      return .unusable(error)
    }
  }

  /// Whether a model measured with `timer` may be cached: not when too many of its timings were
  /// disturbed by other processes (it would slow every later search down), unless `force`.
  public static func mayStore(measuredWith timer: QuietTimer, force: Bool) -> Bool {
    force || !timer.unreliable
  }

  /// Writes `model` to `path`, creating its directory.
  public static func store(_ model: LatencyModel, at path: String) throws {
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try model.save(to: path)
  }
}
