// swift-tools-version:6.0
// sparsevit-swift: Swin Transformer inference on the CPU with SparseViT window activation pruning.
import PackageDescription

let package = Package(
  name: "sparsevit-swift",
  products: [
    .library(name: "Engine", targets: ["Engine"]),
    .library(name: "Models", targets: ["Models"]),
    .library(name: "Server", targets: ["Server"]),
    .executable(name: "sparsevit", targets: ["Tool"]),
  ],
  targets: [
    // MARK: - System libraries (Debian -dev packages, found through pkg-config)

    .systemLibrary(
      name: "CBLASShim",
      path: "Sources/CBLASShim",
      pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev", "liblapacke-dev", "pkg-config"])]
    ),
    .systemLibrary(
      name: "CPNG",
      path: "Sources/CPNG",
      pkgConfig: "libpng",
      providers: [.apt(["libpng-dev"])]
    ),
    .systemLibrary(
      name: "CTurboJPEG",
      path: "Sources/CTurboJPEG",
      pkgConfig: "libturbojpeg",
      providers: [.apt(["libturbojpeg0-dev"])]
    ),
    .systemLibrary(
      name: "CMicroHTTPD",
      path: "Sources/CMicroHTTPD",
      pkgConfig: "libmicrohttpd",
      providers: [.apt(["libmicrohttpd-dev"])]
    ),

    // MARK: - Micro-kernels

    // Kernels for instructions Swift cannot name (AVX2/AVX-512/AVX512_BF16), each compiled for its own
    // ISA with target attributes and chosen at run time from CPUID: every build carries them all.
    .target(name: "CKernels", path: "Sources/CKernels"),

    // MARK: - Libraries

    // Kernels, buffers, windows and the worker pool: float32 CPU code, nothing Swin-specific.
    .target(name: "Engine", dependencies: ["CBLASShim", "CKernels"]),
    // PNG and JPEG files to 8-bit RGB and back.
    .target(name: "ImageIO", dependencies: ["CPNG", "CTurboJPEG"]),
    // Swin from checkpoints, pruning ratios, input preprocessing, the latency model and search.
    .target(name: "Models", dependencies: ["Engine", "ImageIO"], plugins: ["ClassNamesPlugin"]),
    // `sparsevit serve`: KServe v2 over libmicrohttpd, dynamic batching, a latency SLO held by pruning.
    .target(name: "Server", dependencies: ["Engine", "Models", "CMicroHTTPD"]),

    // MARK: - Build tools

    // The ImageNet class names array, generated from weights/imagenet_classes.txt at build time.
    .executableTarget(name: "ClassNamesGenerator"),
    .plugin(name: "ClassNamesPlugin", capability: .buildTool(), dependencies: ["ClassNamesGenerator"]),

    // MARK: - Command

    .executableTarget(name: "Tool", dependencies: ["Engine", "Models", "Server"]),

    // MARK: - Tests

    .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
    .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"]),
    .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "Engine", "TestSupport"]),
    .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine", "ImageIO", "TestSupport"]),
    .testTarget(name: "ServerTests", dependencies: ["Server", "Models", "Engine", "TestSupport"]),
    .testTarget(name: "ToolTests", dependencies: ["Tool", "Models", "ImageIO", "TestSupport"]),
  ]
)
