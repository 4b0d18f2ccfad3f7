// Resource guards and non-finite values at the library level: a forward whose workspace would exceed
// the memory budget is refused before anything is allocated (and the estimate behind that is honest),
// oversized files are refused from their size, and NaN/Inf in inputs or weights are reported by name.
import Engine
import ImageIO
import Foundation
import TestSupport
import XCTest

@testable import Models

#if canImport(Glibc)
  import Glibc
#endif

final class ResourceGuardTests: XCTestCase {
  /// A small Swin in the timm layout (patch 4, window 7, four stages: minimum input 32×32).
  let configuration = SwinConfiguration(embedDim: 8, depths: [2, 2, 2, 2], heads: [1, 2, 2, 4], classes: 5)
  lazy var model = try! SwinTransformer(tensors: seededWeights(configuration, seed: 11))

  private func forwardError(
    _ images: Tensor, sparsity: PruningRatios? = nil, options: ForwardOptions = ForwardOptions(threads: 1)
  ) -> InferenceError? {
    do {
      _ = try model.forward(images, sparsity: sparsity, options: options)
      return nil
    } catch {
      return error
    }
  }

  /// Whether the model's pool holds an idle workspace for this shape (left in place).
  private func hasWorkspace(batch: Int, height: Int, width: Int, threads: Int = 1) -> Bool {
    let key = WorkspaceKey(
      batch: batch, height: height, width: width, threads: threads, semantics: model.windowSemantics)
    guard let workspace = model.workspaces.checkout(key) else { return false }
    model.workspaces.giveBack(workspace)
    return true
  }

  /// Whether scripts/sanitize.sh runs these tests (it sets the sanitizers' options).
  private var isSanitized: Bool {
    let environment = ProcessInfo.processInfo.environment
    return environment["ASAN_OPTIONS"] != nil || environment["TSAN_OPTIONS"] != nil
  }

  /// Resident bytes of this process (/proc/self/statm): what allocations have actually touched.
  private func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
      let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
  }

  // MARK: Memory budget

  func testHugeInputsNeedMoreThanAnyBudget() {
    let budget = ForwardOptions.defaultMemoryBudget
    XCTAssertGreaterThan(budget, 0)
    XCTAssertLessThanOrEqual(UInt64(budget), ProcessInfo.processInfo.physicalMemory / 2)
    XCTAssertGreaterThan(model.workspaceBytes(batch: 1, height: 100_000, width: 100_000, threads: 1), budget)
    // The largest requests `sparsevit bench` accepts saturate instead of trapping.
    for (batch, side, threads) in [
      (65_536, 1 << 24, 1024), (65_536, 1 << 24, 1), (1, 1 << 24, 1024), (1 << 20, 1 << 20, 1 << 10),
    ] {
      let bytes = model.workspaceBytes(batch: batch, height: side, width: side, threads: threads)
      XCTAssertGreaterThan(bytes, budget, "batch \(batch), \(side)², \(threads) threads")
    }
  }

  func testBudgetIsCheckedBeforeTheWorkspaceIsAllocated() throws {
    // 1024 workers make the workspace large (per-worker scratch) while the input stays small, so a
    // workspace allocated by mistake would show in the resident size.
    let images = randomTensor([1, 3, 64, 64], seed: 1)
    let needed = model.workspaceBytes(batch: 1, height: 64, width: 64, threads: 1024)
    XCTAssertGreaterThan(needed, 64 << 20)
    // One refusal first, so that the code it runs is paged in before measuring.
    XCTAssertNotNil(forwardError(images, options: ForwardOptions(threads: 1024, memoryBudget: 0)))
    let before = residentBytes()
    for budget in [0, 1, needed / 2, needed - 1] {
      XCTAssertEqual(
        forwardError(images, options: ForwardOptions(threads: 1024, memoryBudget: budget)),
        .memoryBudget(needed: needed, budget: budget))
    }
    XCTAssertLessThan(residentBytes() - before, needed / 16, "refused forwards grew the process")
    XCTAssertFalse(hasWorkspace(batch: 1, height: 64, width: 64, threads: 1024))
    // At exactly its estimate a forward runs, and keeps its workspace for reuse.
    let fits = model.workspaceBytes(batch: 1, height: 64, width: 64, threads: 1)
    let output = try model.forward(images, options: ForwardOptions(threads: 1, memoryBudget: fits))
    XCTAssertEqual(output.logits?.shape, [1, 5])
    XCTAssertTrue(hasWorkspace(batch: 1, height: 64, width: 64))
  }

  func testTheEstimateCoversWhatTheWorkspaceHolds() throws {
    // Padded, shifted, clamped and batched shapes; 1 and 2 workers; every window semantics.
    for (batch, height, width, threads) in [
      (1, 32, 32, 1), (2, 75, 100, 2), (1, 224, 224, 1), (3, 56, 80, 2), (1, 33, 250, 1),
    ] {
      for semantics in WindowSemantics.allCases {
      let key = WorkspaceKey(batch: batch, height: height, width: width, threads: threads, semantics: semantics)
      let estimate = model.workspaceBytes(
        batch: batch, height: height, width: width, threads: threads, semantics: semantics)
      let before = residentBytes()
      let workspace = Workspace(model: model, key: key)
      let grown = residentBytes() - before
      XCTAssertEqual(estimate, workspace.bytes, "\(batch)×\(height)×\(width), \(threads) threads, \(semantics)")
      // The heap also holds array headers and the window geometry: allow a little on top. (Not under
      // a sanitizer: its redzones and shadow memory count as resident too.)
      if isSanitized { continue }
      XCTAssertLessThanOrEqual(
        grown, estimate + estimate / 4 + 256 * 1024, "\(batch)×\(height)×\(width): heap grew \(grown)")
      withExtendedLifetime(workspace) {}
      }
    }
  }

  func testAWorkspaceInThePoolIsReusedWithoutTheBudget() throws {
    let images = randomTensor([1, 3, 64, 64], seed: 2)
    _ = try model.forward(images, options: ForwardOptions(threads: 1))
    // The workspace exists already, so nothing new is needed: a budget of 0 does not refuse it.
    XCTAssertNotNil(try? model.forward(images, options: ForwardOptions(threads: 1, memoryBudget: 0)))
    // Another shape needs a new one and is refused.
    let other = randomTensor([1, 3, 64, 96], seed: 3)
    guard case .memoryBudget = forwardError(other, options: ForwardOptions(threads: 1, memoryBudget: 0)) else {
      return XCTFail("a new shape was not checked against the budget")
    }
  }

  func testBudgetMessageIsReadable() {
    XCTAssertEqual(
      InferenceError.memoryBudget(needed: 130 * 1_048_576, budget: 12 * 1_048_576).description,
      "this input needs about 130 MB of working memory, over the budget of 12 MB")
    XCTAssertEqual(
      InferenceError.memoryBudget(needed: Int.max, budget: 1_048_576).description,
      "this input needs about more than any machine has of working memory, over the budget of 1 MB")
  }

  // MARK: Non-finite inputs

  func testNonFiniteInputsAreRejectedBeforeRunning() {
    for (index, value) in [(0, Float.nan), (777, .infinity), (3 * 64 * 64 - 1, -.infinity)] {
      var values = randomTensor([1, 3, 64, 64], seed: 4).values
      values[index] = value
      XCTAssertEqual(
        forwardError(Tensor(shape: [1, 3, 64, 64], values: values)), .nonFiniteInput(count: 1), "\(value) at \(index)")
    }
    var values = randomTensor([2, 3, 32, 32], seed: 5).values
    for index in stride(from: 0, to: values.count, by: 100) { values[index] = .nan }
    XCTAssertEqual(forwardError(Tensor(shape: [2, 3, 32, 32], values: values)), .nonFiniteInput(count: 62))
    XCTAssertEqual(InferenceError.nonFiniteInput(count: 62).description, "input contains 62 NaN or infinite value(s)")
    // Checked before the budget: the cheaper, more specific error wins, and no workspace is made.
    XCTAssertEqual(
      forwardError(
        Tensor(shape: [2, 3, 32, 32], values: values), options: ForwardOptions(threads: 1, memoryBudget: 0)),
      .nonFiniteInput(count: 62))
    XCTAssertFalse(hasWorkspace(batch: 2, height: 32, width: 32))
    XCTAssertFalse(hasWorkspace(batch: 1, height: 64, width: 64))
  }

  func testLargeFiniteInputsGiveFiniteOutputs() throws {
    // Unnormalized pixels (0…255) and far beyond: LayerNorm after the stem rescales them.
    for scale in [255, 1e6, 1e12] as [Float] {
      let values = randomTensor([1, 3, 64, 64], seed: 6).values.map { $0 * scale }
      let output = try model.forward(
        Tensor(shape: [1, 3, 64, 64], values: values), options: ForwardOptions(threads: 1))
      let logits = try XCTUnwrap(output.logits)
      XCTAssertTrue(logits.values.allSatisfy(\.isFinite), "scale \(scale): \(logits.values)")
    }
  }

  func testShapeAndThreadErrorsComeBeforeAnyWork() {
    XCTAssertEqual(forwardError(Tensor(shape: [3, 64, 64])), .inputShape([3, 64, 64]))
    XCTAssertEqual(forwardError(Tensor(shape: [0, 3, 64, 64])), .inputShape([0, 3, 64, 64]))
    XCTAssertEqual(forwardError(Tensor(shape: [1, 4, 64, 64])), .inputChannels(expected: 3, actual: 4))
    XCTAssertEqual(forwardError(Tensor(shape: [1, 3, 31, 64])), .inputTooSmall(height: 31, width: 64, minimum: 32))
    XCTAssertEqual(
      forwardError(Tensor(shape: [1, 3, 64, 64]), options: ForwardOptions(threads: 0)), .threads(0))
    XCTAssertFalse(hasWorkspace(batch: 1, height: 64, width: 64, threads: 0))
  }

  // MARK: Non-finite weights

  func testNonFiniteWeightsInAFileAreNamed() throws {
    let tensors = seededWeights(configuration, seed: 12)
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ResourceGuard-\(UUID().uuidString).safetensors"
    ).path
    addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    for dtype in ["F32", "F16", "BF16"] {
      for (name, index, value) in [
        ("layers.2.blocks.1.mlp.fc1.weight", 17, Float.nan), ("patch_embed.proj.bias", 0, .infinity),
        ("head.fc.weight", 39, -.infinity),
      ] {
        var broken = tensors
        var values = broken[name]!.values
        values[index] = value
        broken[name] = Tensor(shape: broken[name]!.shape, values: values)
        try SafeTensorsFile.write(broken, to: path, dtype: dtype)
        do throws(ModelLoadError) {
          _ = try SwinTransformer.load(path: path)
          XCTFail("\(dtype) \(name): loaded")
        } catch {
          XCTAssertEqual(error, .file(.nonFinite(file: path, tensor: name, count: 1, firstIndex: index)), "\(dtype)")
          XCTAssertTrue(error.description.contains("tensor '\(name)' has 1 non-finite values"), error.description)
        }
      }
    }
  }

  // MARK: File size

  func testFilesOverTheReadLimitAreRefusedFromTheirSize() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ResourceGuard-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
    let small = directory.appendingPathComponent("eleven.bin").path
    try Data(repeating: 7, count: 11).write(to: URL(fileURLWithPath: small))
    XCTAssertEqual(try readFile(small, limit: 11).count, 11)
    XCTAssertThrowsError(try readFile(small, limit: 10)) { error in
      XCTAssertEqual(
        error as? FileIOError, .unreadable(path: small, reason: "the file has 11 bytes, over the 10-byte read limit"))
    }
    XCTAssertGreaterThan(defaultReadLimit, 0)
    XCTAssertLessThanOrEqual(UInt64(defaultReadLimit), ProcessInfo.processInfo.physicalMemory / 4)

    // A sparse file claiming a terabyte: every reader refuses it without reading (or allocating) it.
    let huge = directory.appendingPathComponent("terabyte").path
    XCTAssertTrue(FileManager.default.createFile(atPath: huge, contents: Data("\u{93}NUMPY".utf8)))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: huge))
    try handle.truncate(atOffset: 1 << 40)
    try handle.close()
    let reason = "the file has \(1 << 40) bytes, over the \(defaultReadLimit)-byte read limit"
    let before = residentBytes()
    XCTAssertThrowsError(try readNumPy(path: huge)) {
      XCTAssertEqual($0 as? NumPyError, .file(.unreadable(path: huge, reason: reason)))
    }
    XCTAssertThrowsError(try SafeTensorsFile.load(path: huge)) {
      XCTAssertEqual($0 as? SafeTensorsError, .file(.unreadable(path: huge, reason: reason)))
    }
    XCTAssertThrowsError(try RGBImage.load(path: huge)) {
      XCTAssertEqual($0 as? ImageError, .unreadable(path: huge, reason: reason))
    }
    XCTAssertLessThan(residentBytes() - before, 1 << 24, "reading grew the process")
  }

  // MARK: Header caps

  func testHeaderCapsHoldBeforeTheHeaderIsRead() {
    // safetensors: a length over 100 MB is refused from the 8-byte field alone, even when the file
    // is long enough to hold it; .npy: numpy's own 10000-byte cap, the same way.
    var safetensors = [UInt8](repeating: 0x20, count: 16)
    let length = UInt64(SafeTensorsFile.maxHeaderLength + 1)
    for i in 0..<8 { safetensors[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
    XCTAssertThrowsError(try SafeTensorsFile.parse(safetensors, name: "h")) {
      XCTAssertEqual($0 as? SafeTensorsError, .headerTooLarge(file: "h", headerLength: length, limit: 100_000_000))
    }
    var npy: [UInt8] = [0x93] + Array("NUMPY".utf8) + [3, 0, 0x11, 0x27, 0, 0]
    npy += [UInt8](repeating: 0x20, count: 10_001)
    XCTAssertThrowsError(try parseNumPy(npy, name: "h")) {
      XCTAssertEqual($0 as? NumPyError, .headerTooLarge(file: "h", headerLength: 10_001, limit: maxNumPyHeaderLength))
    }
  }
}
