// Deterministic random weights in the timm layout, for benchmarks and runs without a checkpoint.
// Distributions follow timm's initialization (truncated-normal std 0.02 for linear, convolution and
// bias tables) with small random biases and LayerNorm parameters near (1, 0), so activations have
// realistic scale and every parameter kind is exercised.
import Engine
import Foundation

extension SplitMix64 {
  /// A standard normal sample truncated to ±2 (Box–Muller, redrawn outside the bounds).
  mutating func truncatedNormal() -> Float {
    while true {
      let u1 = Double(next() >> 11) * 0x1p-53 + 0x1p-54
      let u2 = Double(next() >> 11) * 0x1p-53
      let value = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
      if abs(value) <= 2 { return Float(value) }
    }
  }
}

/// Named tensors (timm layout) of a randomly initialized model of `configuration`.
package func seededWeights(_ configuration: SwinConfiguration, seed: UInt64) -> [String: Tensor] {
  var generator = SplitMix64(seed: seed)
  var tensors: [String: Tensor] = [:]
  func normal(_ name: String, _ shape: [Int], std: Float, mean: Float = 0) {
    let count = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: count)
    for i in 0..<count { values[i] = mean + std * generator.truncatedNormal() }
    tensors[name] = Tensor(shape: shape, values: values)
  }
  func norm(_ prefix: String, _ channels: Int) {
    normal(prefix + ".weight", [channels], std: 0.02, mean: 1)
    normal(prefix + ".bias", [channels], std: 0.02)
  }
  let c0 = configuration.embedDim, patch = configuration.patchSize
  normal("patch_embed.proj.weight", [c0, configuration.inputChannels, patch, patch], std: 0.02)
  normal("patch_embed.proj.bias", [c0], std: 0.02)
  norm("patch_embed.norm", c0)
  let side = 2 * configuration.window - 1
  for stage in 0..<configuration.stageCount {
    let c = configuration.channels(stage: stage), hidden = configuration.hiddenChannels[stage]
    if stage > 0 {
      let input = configuration.channels(stage: stage - 1)
      norm("layers.\(stage).downsample.norm", 4 * input)
      normal("layers.\(stage).downsample.reduction.weight", [c, 4 * input], std: 0.02)
    }
    for block in 0..<configuration.depths[stage] {
      let prefix = "layers.\(stage).blocks.\(block)"
      norm(prefix + ".norm1", c)
      normal(prefix + ".attn.qkv.weight", [3 * c, c], std: 0.02)
      normal(prefix + ".attn.qkv.bias", [3 * c], std: 0.02)
      normal(prefix + ".attn.proj.weight", [c, c], std: 0.02)
      normal(prefix + ".attn.proj.bias", [c], std: 0.02)
      normal(prefix + ".attn.relative_position_bias_table", [side * side, configuration.heads[stage]], std: 0.02)
      norm(prefix + ".norm2", c)
      normal(prefix + ".mlp.fc1.weight", [hidden, c], std: 0.02)
      normal(prefix + ".mlp.fc1.bias", [hidden], std: 0.02)
      normal(prefix + ".mlp.fc2.weight", [c, hidden], std: 0.02)
      normal(prefix + ".mlp.fc2.bias", [c], std: 0.02)
    }
  }
  norm("norm", configuration.featureChannels)
  if configuration.classes > 0 {
    normal("head.fc.weight", [configuration.classes, configuration.featureChannels], std: 0.02)
    normal("head.fc.bias", [configuration.classes], std: 0.02)
  }
  return tensors
}

extension SwinTransformer {
  /// A model of `configuration` with seeded random weights (default: Swin-T, seed 0).
  public static func seeded(_ configuration: SwinConfiguration = .swinTiny, seed: UInt64 = 0) -> SwinTransformer {
    // Seeded tensors are built for this configuration, so loading them cannot fail.
    guard
      let model = try? SwinTransformer(
        tensors: seededWeights(configuration, seed: seed), source: "seeded(\(configuration.name), seed \(seed))")
    else {
      preconditionFailure("seeded weights for \(configuration) did not load")
    }
    return model
  }

  /// The same with the blocks' linear layers in `precision` (bf16 needs a CPU with AVX512_BF16).
  public static func seeded(
    _ configuration: SwinConfiguration = .swinTiny, seed: UInt64 = 0, precision: Precision
  ) throws(UnsupportedPrecisionError) -> SwinTransformer {
    let kernel = try BlockMatrixKernel.preferred(for: precision)
    let source = "seeded(\(configuration.name), seed \(seed))"
    guard
      let model = try? SwinTransformer(
        tensors: seededWeights(configuration, seed: seed), source: source, kernel: kernel)
    else {
      preconditionFailure("seeded weights for \(configuration) did not load")
    }
    return model
  }
}
