// Temporary A/B harness (not committed): GEMM kernels and whole forwards, interleaved in one process.
import Engine
import Foundation
import Models

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func median(_ x: [Double]) -> Double { let s = x.sorted(); return s[s.count / 2] }

let args = CommandLine.arguments
if args.count > 1 && args[1] == "gemm" {
  let shapes: [(Int, Int, Int)] = [(98, 288, 96), (98, 384, 96), (98, 96, 384), (98, 576, 192), (98, 768, 192), (98, 192, 768),
    (98, 1152, 384), (98, 1536, 384), (98, 384, 1536), (49, 2304, 768), (49, 3072, 768), (49, 768, 3072)]
  for (m, n, k) in shapes {
    var g = SystemRandomNumberGenerator()
    let w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &g) }
    let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &g) }
    var c = [Float](repeating: 0, count: m * n)
    let packed = PackedPanels.pack(w, outputs: n, inner: k)
    let pairs = PackedBF16.pack(w, outputs: n, inner: k)
    var names: [String] = []
    var runs: [() -> Void] = []
    for isa in PanelISA.allCases where isa.isSupported {
      names.append("\(isa)")
      runs.append {
        multiplyPanels(rows: m, columns: n, inner: k, a, lda: k, packed: packed, outputs: n, first: 0, beta: 0, into: &c, ldc: n, isa: isa)
      }
    }
    for isa in [BF16ISA.avx512BF16, .amx] where isa.isSupported {
    names.append("\(isa)")
    runs.append {
      pairs.withUnsafeBufferPointer { p in
        multiplyPanelsBF16(rows: m, columns: n, inner: k, a, lda: k, packed: p.baseAddress!, outputs: n, first: 0, beta: 0, into: &c, ldc: n, isa: isa)
      }
    }
    }


    var times = [[Double]](repeating: [], count: runs.count)
    let reps = max(1, 20_000_000 / (m * n * k))
    for _ in 0..<15 {
      for (i, run) in runs.enumerated() {
        let t = now()
        for _ in 0..<reps { run() }
        times[i].append((now() - t) / Double(reps))
      }
    }
    let flops = 2.0 * Double(m * n * k)
    print("\(m)x\(n)x\(k): " + zip(names, times).map { "\($0) \(String(format: "%.1f", flops / median($1) / 1e9))" }.joined(separator: "  ") + " GFLOP/s")
  }
  exit(0)
}

let size = args.count > 1 ? Int(args[1])! : 224
let rounds = args.count > 2 ? Int(args[2])! : 7
let sparsity: PruningRatios? = args.count > 3 ? try PruningRatios.resolve(args[3], depths: [2, 2, 6, 2]) : nil
let models = [try SwinTransformer.seeded(precision: .f32), try SwinTransformer.seeded(precision: .bf16)]
let input = Tensor(shape: [1, 3, size, size], values: (0..<(3 * size * size)).map { Float(($0 * 7919) % 255) / 128 - 1 })
var times = [[Double]](repeating: [], count: models.count)
for round in 0..<(rounds + 1) {
  for (i, model) in models.enumerated() {
    let t = now()
    _ = try model.forward(input, sparsity: sparsity, options: ForwardOptions())
    if round > 0 { times[i].append(now() - t) }
  }
}
let ratios = zip(times[1], times[0]).map { $0 / $1 }
print("size \(size) f32 \(String(format: "%.1f", median(times[0]) * 1000)) ms  bf16 \(String(format: "%.1f", median(times[1]) * 1000)) ms  bf16/f32 paired \(String(format: "%.3f", median(ratios)))")
