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
    .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
    .systemLibrary(
      name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),

    // MARK: - Libraries

    .target(name: "Engine", dependencies: ["CBLASShim", "CPNG", "CTurboJPEG"]),
    .target(name: "Models", dependencies: ["Engine"]),

    // MARK: - Command

    .executableTarget(name: "Tool", dependencies: ["Engine", "Models"]),

    // MARK: - Tests

    .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
    .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"]),
    .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine", "TestSupport"]),
    .testTarget(name: "ToolTests", dependencies: ["Tool", "Models", "TestSupport"]),
  ]
)
