// The workspace estimate (what the memory budget is checked against) equals the bytes a workspace
// actually holds, counted from its buffers, for the published architectures and every window
// semantics.
import Engine
import XCTest

@testable import Models

final class WorkspaceTests: XCTestCase {
  func testTheEstimateEqualsTheBytesAllocated() {
    for configuration in [SwinConfiguration.swinTiny, .swinSmall, .swinBase] {
      for (batch, height, width) in [(1, 224, 224), (2, 75, 100), (1, 33, 250), (3, 56, 80), (1, 384, 512)] {
        for (threads, semantics) in zip([1, 3, 9, 2], WindowSemantics.allCases) {
          let key = WorkspaceKey(batch: batch, height: height, width: width, threads: threads, semantics: semantics)
          // Zero bias tables of the trained size: only their shape matters here.
          let side = 2 * configuration.window - 1
          let workspace = Workspace(configuration: configuration, key: key) { stage, _ in
            ([Float](repeating: 0, count: side * side * configuration.heads[stage]), side)
          }
          XCTAssertEqual(
            Workspace.estimatedBytes(configuration, key: key), workspace.bytes,
            "\(configuration.name) \(batch)×\(height)×\(width), \(threads) threads, \(semantics)")
        }
      }
    }
  }

  func testAttentionScratchOfASwinTWindow() {
    // 49 tokens padded to 56: transposed keys and score rows 56·(32 + 49), queries and values 2·49·32.
    XCTAssertEqual(WindowAttentionBias.scratchFloats(tokens: 49, headDim: 32), 56 * 81 + 2 * 49 * 32)
    XCTAssertEqual(
      BlockScratch.slotFloats(rowCapacity: 392, channels: 768, wideChannels: 3072, tokens: 49, headDim: 32),
      392 * (2 * 768 + 3072) + 7672)
  }
}
