// swift-tools-version:6.0
// sparsevit-swift: Swin Transformer inference on the CPU with SparseViT window activation pruning.
import PackageDescription

let package = Package(
  name: "sparsevit-swift",
  products: [
    .library(name: "Engine", targets: ["Engine"]),
    .library(name: "Models", targets: ["Models"]),
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

    // MARK: - Libraries

    // Kernels, buffers, windows and the worker pool: float32 CPU code, nothing Swin-specific.
    .target(name: "Engine", dependencies: ["CBLASShim"]),
    // PNG and JPEG files to 8-bit RGB and back.
    .target(name: "ImageIO", dependencies: ["CPNG", "CTurboJPEG"]),
    // Swin from checkpoints, pruning ratios, input preprocessing, the latency model and search.
    .target(name: "Models", dependencies: ["Engine", "ImageIO"], plugins: ["ClassNamesPlugin"]),

    // MARK: - Build tools

    // The ImageNet class names array, generated from weights/imagenet_classes.txt at build time.
    .executableTarget(name: "ClassNamesGenerator"),
    .plugin(name: "ClassNamesPlugin", capability: .buildTool(), dependencies: ["ClassNamesGenerator"]),

    // MARK: - Command

    .executableTarget(name: "Tool", dependencies: ["Engine", "Models"]),

    // MARK: - Tests

    .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
    .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"]),
    .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "TestSupport"]),
    .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine", "ImageIO", "TestSupport"]),
    .testTarget(name: "ToolTests", dependencies: ["Tool", "Models", "ImageIO", "TestSupport"]),
  ]
)
