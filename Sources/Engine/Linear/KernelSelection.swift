// Which micro-kernels this CPU can run, read once from CPUID (CKernels/features.c), and the
// numeric precision of the blocks' linear layers. The choice never depends on build flags: a plain
// `swift build -c release` runs the widest kernel the CPU has, as OpenBLAS's DYNAMIC_ARCH does.
import CKernels

/// Instruction-set features the engine's kernels use, as this CPU and OS provide them.
package struct CPUFeatures: OptionSet, Sendable {
  package let rawValue: UInt32
  package init(rawValue: UInt32) { self.rawValue = rawValue }

  package static let avx2FMA = CPUFeatures(rawValue: UInt32(CK_AVX2_FMA))
  package static let avx512 = CPUFeatures(rawValue: UInt32(CK_AVX512))
  package static let avx512BF16 = CPUFeatures(rawValue: UInt32(CK_AVX512_BF16))
  package static let amxBF16 = CPUFeatures(rawValue: UInt32(CK_AMX_BF16))

  /// This machine's features (empty on non-x86 CPUs).
  package static let current = CPUFeatures(rawValue: UInt32(ck_cpu_features()))

  /// Feature names as /proc/cpuinfo spells them, for reports.
  package var names: [String] {
    [
      (CPUFeatures.avx2FMA, "avx2+fma"), (.avx512, "avx512f/bw/vl"), (.avx512BF16, "avx512_bf16"),
      (.amxBF16, "amx_bf16"),
    ]
    .filter { contains($0.0) }.map(\.1)
  }
}

/// Arithmetic of the blocks' linear layers (qkv, proj, fc1, fc2) and attention products (q·kᵀ and
/// the softmax numerators times v); everything else (LayerNorm, softmax, GELU, scores) is f32.
public enum Precision: String, Sendable, CaseIterable, CustomStringConvertible {
  /// f32 weights and activations.
  case f32
  /// Weights and activations rounded to bfloat16 (round to nearest even), products accumulated in f32;
  /// in the attention, q, k, v and the softmax numerators likewise.
  case bf16

  public var description: String { rawValue }
}

/// A precision this CPU has no kernel for.
public struct UnsupportedPrecisionError: Error, Equatable, CustomStringConvertible {
  public let precision: Precision
  /// The CPU feature the kernel needs (as /proc/cpuinfo names it).
  public let missingFeature: String

  public var description: String {
    "precision \(precision) needs a CPU with \(missingFeature) (vdpbf16ps); this CPU has "
      + (CPUFeatures.current.names.isEmpty
        ? "none of the engine's vector extensions" : CPUFeatures.current.names.joined(separator: ", "))
  }
}

/// The instruction set of a C copy of a vector kernel (attention, LayerNorm, mean |x|, GELU), widest
/// first. Every copy gives the same bits as the Swift code built with FMA; the engine runs the
/// widest the CPU has, whatever the build flags.
package enum VectorISA: String, Sendable, CaseIterable {
  /// AVX-512F/BW/VL (16 lanes; the attention in 10 × 32 tiles).
  case avx512
  /// AVX2 + FMA (8 lanes).
  case avx2
  /// The Swift `SIMD8` code (fused only in `-DSPARSEVIT_FMA` builds).
  case swift

  /// Whether this CPU runs it.
  package var isSupported: Bool {
    switch self {
    case .avx512: CPUFeatures.current.contains(.avx512)
    case .avx2: CPUFeatures.current.contains(.avx2FMA)
    case .swift: true
    }
  }

  /// The widest copy this CPU runs.
  package static let widest: VectorISA = allCases.first(where: \.isSupported)!

  /// Its name in `info` and the `bench` header.
  package var label: String {
    switch self {
    case .avx512: "AVX-512"
    case .avx2: "AVX2+FMA"
    case .swift: "Swift SIMD8"
    }
  }
}

/// The f32 micro-kernel over packed panels.
package enum PanelISA: String, Sendable, CaseIterable {
  /// AVX-512: 10 rows × 32 columns (two panels), 20 accumulators of the 32 zmm registers.
  case avx512
  /// AVX2 + FMA: 6 rows × 16 columns, 12 of the 16 ymm registers.
  case avx2
  /// The Swift kernel (`SIMD8`; fused only in `-DSPARSEVIT_FMA` builds).
  case swift

  /// Whether this CPU runs it (the instruction set of the same name).
  package var isSupported: Bool { VectorISA(rawValue: rawValue)!.isSupported }

  /// The widest the CPU runs, nil where only the Swift kernel is left and it would lack FMA.
  package static let best: PanelISA? = {
    if PanelISA.avx512.isSupported { return .avx512 }
    if PanelISA.avx2.isSupported { return .avx2 }
    #if SPARSEVIT_FMA
      return .swift
    #else
      return nil
    #endif
  }()

  var label: String {
    switch self {
    case .avx512: "AVX-512 10x32"
    case .avx2: "AVX2+FMA 6x16"
    case .swift: "Swift SIMD 6x16"
    }
  }
}

/// The bf16 micro-kernel over packed pairs.
package enum BF16ISA: String, Sendable, CaseIterable {
  /// AMX-BF16 `tdpbf16ps`, 32 × 32 blocks of 16 × 16 tiles (inner sizes that are not a multiple of
  /// 32 run on `avx512BF16`).
  case amx
  /// AVX512_BF16 `vdpbf16ps`, 10 rows × 32 columns.
  case avx512BF16
  /// The scalar model of `vdpbf16ps` (`BFloat16Model`): any CPU, for tests only (slow).
  case model

  package var isSupported: Bool {
    switch self {
    case .amx: CPUFeatures.current.isSuperset(of: [.amxBF16, .avx512BF16])
    case .avx512BF16: CPUFeatures.current.contains(.avx512BF16)
    case .model: true
    }
  }

  var label: String {
    switch self {
    case .amx: "AMX-BF16 tdpbf16ps 32x32"
    case .avx512BF16: "AVX512_BF16 vdpbf16ps 10x32"
    case .model: "scalar model of vdpbf16ps"
    }
  }
}
