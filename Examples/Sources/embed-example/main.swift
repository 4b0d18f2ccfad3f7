// embed-example: classifies a photo with sparsevit-swift, dense and with SparseViT window pruning,
// printing the top-5 ImageNet classes and the latency of each, through the public API only. The
// region between the README markers is the README's "Embedding" snippet, verbatim.

// BEGIN README
import Engine
import Foundation
import Models

/// Classifies the PNG/JPEG at `imagePath` dense and with `sparsityName` (a preset such as
/// "cfg2_35ms", "dense", a ratio like "0.5" or a JSON file); prints the top-5 and the latencies.
func classify(weights: String?, imagePath: String, sparsityName: String, size: Int, threads: Int) throws {
  // A safetensors checkpoint (timm, Microsoft, torchvision or mmdet layout), or seeded random weights.
  let model = try weights.map { try SwinTransformer.load(path: $0) } ?? SwinTransformer.seeded()
  let sparsity = try PruningRatios.resolve(sparsityName, depths: model.configuration.depths)
  // Decode, resize the shorter side to size / 0.875, centre crop, normalize: [1, 3, size, size].
  let image = try RGBImage.load(path: imagePath)
  let input = try ImagePreprocessing(size: size).tensor(image)
  print("\(model.configuration.name), \(model.source); \(imagePath): \(image.width)×\(image.height) → \(size)×\(size)")
  let options = ForwardOptions(threads: threads, collectStages: true)
  for (label, ratios) in [("dense", nil), (sparsityName, sparsity)] as [(String, PruningRatios?)] {
    _ = try model.forward(input, sparsity: ratios, options: options)  // warm-up: sizes the workspace
    let start = ContinuousClock.now
    let output = try model.forward(input, sparsity: ratios, options: options)
    let milliseconds = (ContinuousClock.now - start) / .milliseconds(1)
    print("\(label): \(String(format: "%.1f", milliseconds)) ms, stage maps \(output.stages.map(\.shape))")
    for prediction in output.topClasses(5)[0] {
      print("  \(String(format: "%6.2f", 100 * prediction.probability))%  \(prediction.name)")
    }
  }
}
// END README

/// The sample photo next to this package (scikit-image's "chelsea", CC0), found from this source
/// file's location, else in the working directory.
func samplePath() -> String {
  let beside = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("sample.jpg").path
  return FileManager.default.fileExists(atPath: beside) ? beside : "sample.jpg"
}

let usage = """
  USAGE: embed-example [--weights <file>] [--image <file>] [--sparsity <cfg>] [--size <n>] [--threads <n>]

  OPTIONS:
    --weights <file>   Swin checkpoint (.safetensors). Default: seeded random Swin-T.
    --image <file>     PNG or JPEG photo. Default: the sample photo (Examples/sample.jpg).
    --sparsity <cfg>   cfg1_42ms, cfg2_35ms, cfg3_33ms, dense, a ratio in [0, 1) or a JSON file.
                       Default: cfg2_35ms.
    --size <n>         Side of the model input in pixels. Default: 224.
    --threads <n>      Worker threads. Default: every core.
  """

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst() {
  if name == "-h" || name == "--help" {
    print(usage)
    exit(0)
  }
  guard ["--weights", "--image", "--sparsity", "--size", "--threads"].contains(name), let value = arguments.popFirst()
  else {
    FileHandle.standardError.write(Data("Error: unexpected argument '\(name)'\n\(usage)\n".utf8))
    exit(64)
  }
  options[String(name.dropFirst(2))] = value
}
guard let size = Int(options["size"] ?? "224"), size > 0,
  let threads = Int(options["threads"] ?? String(defaultThreadCount)),
  threads > 0
else {
  FileHandle.standardError.write(Data("Error: '--size' and '--threads' take positive integers\n\(usage)\n".utf8))
  exit(64)
}
do {
  try classify(
    weights: options["weights"], imagePath: options["image"] ?? samplePath(),
    sparsityName: options["sparsity"] ?? "cfg2_35ms", size: size, threads: threads)
} catch {
  FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
  exit(1)
}
