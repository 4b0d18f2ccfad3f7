// swift-tools-version:6.0
// A program that embeds sparsevit-swift as a user's would: its own package, depending on the engine
// by path and using only the public API of the `Models` and `Engine` products.
import PackageDescription

let package = Package(
  name: "sparsevit-examples",
  products: [
    .executable(name: "embed-example", targets: ["embed-example"])
  ],
  dependencies: [
    .package(name: "sparsevit-swift", path: "..")
  ],
  targets: [
    .executableTarget(
      name: "embed-example",
      dependencies: [
        .product(name: "Models", package: "sparsevit-swift"),
        .product(name: "Engine", package: "sparsevit-swift"),
      ],
      path: "Sources/embed-example"
    )
  ]
)
