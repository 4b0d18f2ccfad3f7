// The Evaluation API on the tiny checkpoint and the committed pictures of Tests/Fixtures/eval:
// dense agrees with itself exactly, ratio 0 equals dense, a heavy ratio disagrees, labels chosen
// as dense's predictions score 100%, counts add up, images are read a batch at a time, and every
// refusal (folders, labels, class lists, empty or unreadable data) names what is wrong.
import Engine
import Foundation
import TestSupport
import XCTest

@testable import Models

final class EvaluationTests: XCTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("sparsevit-eval-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

  /// The six committed pictures, sorted.
  var pictures: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.appendingPathComponent("eval").path)) ?? [])
      .filter { $0.hasPrefix("picture") }.sorted()
  }

  func tinyModel() throws -> SwinTransformer {
    try SwinTransformer.load(path: fixtures.appendingPathComponent("tiny/tiny.timm.f32.safetensors").path)
  }

  /// Copies `pictures` into `folder` (relative to the scratch directory; `names` renames them).
  func copy(_ pictures: [String], to folder: String, as names: [String]? = nil) throws -> String {
    let target = directory.appendingPathComponent(folder)
    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
    for (index, picture) in pictures.enumerated() {
      try FileManager.default.copyItem(
        at: fixtures.appendingPathComponent("eval/\(picture)"),
        to: target.appendingPathComponent(names?[index] ?? picture))
    }
    return target.path
  }

  func write(_ text: String, _ name: String) throws -> String {
    let path = directory.appendingPathComponent(name).path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  let preprocessing = try! ImagePreprocessing(size: 112)

  func configuration(_ ratio: Double, _ model: SwinTransformer) throws -> EvaluationConfiguration {
    EvaluationConfiguration(
      label: "uniform \(ratio)", ratios: try PruningRatios.uniform(ratio, depths: model.configuration.depths))
  }

  // MARK: - Results

  func testDenseAgreesWithItselfRatioZeroEqualsDenseAndAHeavyRatioDisagrees() throws {
    XCTAssertEqual(pictures.count, 6, "Tests/Fixtures/eval")
    let model = try tinyModel()
    let folder = try copy(pictures, to: "flat")
    let dataset = try ImageDataset(directory: folder, classes: .standard(classes: 10))
    XCTAssertEqual(dataset.layout, .unlabelled)
    let evaluation = try Evaluation(
      model: model, configurations: [try configuration(0, model), try configuration(0.8, model)],
      preprocessing: preprocessing, batch: 2, options: ForwardOptions(threads: 2))
    let result = try evaluation.run(dataset)
    XCTAssertEqual(result.records.map(\.configuration.label), ["dense", "uniform 0.0", "uniform 0.8"])
    let dense = result.records[0], zero = result.records[1], heavy = result.records[2]
    XCTAssertEqual(dense.tally.top1Agreement, 1)
    XCTAssertEqual(dense.tally.top5Overlap, 1)
    XCTAssertEqual(dense.tally.meanCosine, 1, "identical features give exactly 1")
    XCTAssertEqual(dense.keptWindowFraction, 1)
    // Ratio 0 runs its own forwards and matches dense in every count and sum.
    XCTAssertEqual(zero.tally, dense.tally)
    XCTAssertEqual(zero.keptWindows, dense.keptWindows)
    XCTAssertEqual(zero.gflopPerImage, dense.gflopPerImage)
    XCTAssertLessThan(heavy.tally.top1Agreement!, 1, "uniform 0.8 should change some top-1 class")
    XCTAssertLessThan(heavy.tally.meanCosine, 0.99)
    XCTAssertLessThan(heavy.keptWindowFraction, 0.3)
    XCTAssertLessThan(heavy.gflopPerImage, dense.gflopPerImage)
    // Counts: every image evaluated by every configuration; 3 batches, the first one cold.
    XCTAssertEqual(result.images, 6)
    XCTAssertEqual(result.labelled, 0)
    XCTAssertTrue(result.unreadable.isEmpty)
    for record in result.records {
      XCTAssertEqual(record.tally.images, 6)
      XCTAssertEqual(record.tally.top5Slots, 6 * 5)
      XCTAssertNil(record.tally.top1Accuracy, "no labels")
      XCTAssertEqual(record.latencySamples.count, 2)
      XCTAssertNotNil(record.coldSecondsPerImage)
      XCTAssertLessThanOrEqual(record.keptWindows, record.totalWindows)
    }
    XCTAssertEqual(result.timedBatches, 2)
    XCTAssertEqual(dense.totalWindows, heavy.totalWindows)
  }

  /// The top-1 class of each picture, one forward per picture (batch 1, as the evaluation below).
  func densePredictions(_ model: SwinTransformer) throws -> [Int] {
    try pictures.map { name in
      let image = try RGBImage.load(path: fixtures.appendingPathComponent("eval/\(name)").path)
      let logits = try model.forward(preprocessing.tensor(image), options: ForwardOptions(threads: 2)).logits!
      return topClasses(logits)[0]
    }
  }

  func testLabelsEqualToDensePredictionsScoreOneHundredPercentInEveryLayout() throws {
    let model = try tinyModel()
    let predictions = try densePredictions(model)
    let classes = ClassList(
      names: (0..<10).map { "thing \($0)" }, wordNetIDs: (0..<10).map { String(format: "n%08d", 100 + $0) },
      source: "classes.txt")
    // Class folders named by WordNet id, a flat folder with a CSV of names, and one of indices.
    for (index, picture) in pictures.enumerated() {
      _ = try copy([picture], to: "folders/\(classes.wordNetIDs[predictions[index]])")
    }
    let flat = try copy(pictures, to: "flat")
    let csvByName = try write(
      "file,label\n" + zip(pictures, predictions).map { "\($0),thing \($1)" }.joined(separator: "\n"), "names.csv")
    let wrong = try write(
      zip(pictures, predictions).map { "\($0),\(($1 + 1) % 10)" }.joined(separator: "\n") + "\n", "wrong.csv")
    let evaluation = try Evaluation(
      model: model, configurations: [try configuration(0.8, model)], preprocessing: preprocessing, batch: 1,
      options: ForwardOptions(threads: 2))

    let datasets = [
      try ImageDataset(directory: directory.appendingPathComponent("folders").path, classes: classes),
      try ImageDataset(directory: flat, labelsFile: csvByName, classes: classes),
    ]
    XCTAssertEqual(datasets.map(\.layout), [.classFolders, .labelsFile])
    for dataset in datasets {
      let result = try evaluation.run(dataset)
      XCTAssertEqual(result.labelled, 6, "\(dataset.layout)")
      XCTAssertEqual(result.records[0].tally.top1Accuracy, 1, "\(dataset.layout)")
      XCTAssertEqual(result.records[0].tally.top5Accuracy, 1, "\(dataset.layout)")
      XCTAssertEqual(result.records[0].tally.top1Correct, 6)
      // The pruned model's accuracy against dense's labels is its agreement with dense.
      let heavy = result.records[1].tally
      XCTAssertEqual(heavy.top1Correct, heavy.top1Agreements)
      XCTAssertLessThan(heavy.top1Accuracy!, 1)
    }
    let wrongResult = try evaluation.run(ImageDataset(directory: flat, labelsFile: wrong, classes: classes))
    XCTAssertEqual(wrongResult.records[0].tally.top1Accuracy, 0)
    XCTAssertEqual(wrongResult.records[0].tally.top1Agreement, 1)
  }

  func testUnreadableImagesAreListedCountedAndSkipped() throws {
    let model = try tinyModel()
    let folder = try copy(Array(pictures.prefix(3)), to: "flat")
    for name in ["not_an_image.png", "truncated.jpg"] {
      try FileManager.default.copyItem(
        atPath: fixtures.appendingPathComponent("images/\(name)").path, toPath: folder + "/" + name)
    }
    try "not a picture".write(toFile: folder + "/notes.txt", atomically: true, encoding: .utf8)
    let dataset = try ImageDataset(directory: folder, classes: .standard(classes: 10))
    XCTAssertEqual(dataset.count, 5, "the .txt file is not an image")
    let evaluation = try Evaluation(model: model, configurations: [], preprocessing: preprocessing, batch: 2)
    let result = try evaluation.run(dataset)
    XCTAssertEqual(result.images, 3)
    XCTAssertEqual(
      result.unreadable.map { ($0.name as NSString).lastPathComponent }, ["not_an_image.png", "truncated.jpg"])
    XCTAssertTrue(result.unreadable[0].reason.hasPrefix("not a PNG or JPEG image"), result.unreadable[0].reason)
    XCTAssertEqual(result.images + result.unreadable.count, dataset.count)
    XCTAssertEqual(result.records.map(\.configuration.label), ["dense"])
    // Unreadable files do not shorten a batch: the 3 readable images run as batches of 2 and 1.
    XCTAssertEqual(result.timedBatches, 0, "the second batch is partial, so untimed")

    let broken = try copy([], to: "broken")
    try FileManager.default.copyItem(
      atPath: fixtures.appendingPathComponent("images/bad.jpg").path, toPath: broken + "/bad.jpg")
    XCTAssertThrowsError(try evaluation.run(ImageDataset(directory: broken, classes: .standard(classes: 10)))) {
      XCTAssertTrue("\($0)".hasPrefix("none of the 1 image(s) could be read (\(broken)/bad.jpg: corrupt"), "\($0)")
    }
  }

  /// A source of synthetic pictures that logs when each is decoded.
  final class LoggingSource: EvaluationSource {
    let pictures: [RGBImage]
    let labels: [Int?]
    var log: [String] = []
    init(_ pictures: [RGBImage], labels: [Int?]) {
      self.pictures = pictures
      self.labels = labels
    }
    var count: Int { pictures.count }
    func name(_ index: Int) -> String { "picture \(index)" }
    func label(_ index: Int) -> Int? { labels[index] }
    func image(_ index: Int) throws -> RGBImage {
      log.append("read \(index)")
      return pictures[index]
    }
  }

  func testImagesAreReadOneBatchAtATime() throws {
    let model = try tinyModel()
    let source = LoggingSource(
      (0..<5).map { SyntheticImages.picture(width: 40, height: 40, seed: UInt64($0)) }, labels: [1, nil, 2, nil, 3])
    let evaluation = try Evaluation(
      model: model, configurations: [], preprocessing: try ImagePreprocessing(size: 32), batch: 2)
    let result = try evaluation.run(source) { source.log.append("done \($0.done)/\($0.total)") }
    XCTAssertEqual(
      source.log, ["read 0", "read 1", "done 2/5", "read 2", "read 3", "done 4/5", "read 4", "done 5/5"])
    XCTAssertEqual(result.labelled, 3)
    XCTAssertEqual(result.records[0].tally.labelled, 3)

    let outOfRange = LoggingSource([SyntheticImages.picture(width: 40, height: 40, seed: 0)], labels: [10])
    XCTAssertThrowsError(try evaluation.run(outOfRange)) {
      XCTAssertEqual($0 as? EvaluationError, .label(name: "picture 0", label: 10, classes: 10))
    }
  }

  func testTheSearchScoresWithTheSameTally() throws {
    let model = try tinyModel()
    let images = (0..<3).map { SyntheticImages.picture(width: 48, height: 40, seed: UInt64(7 + $0)) }
    let tensor = preprocessing.tensor(images)
    let scorer = try FidelityScorer(model: model, images: tensor, metric: .cosine, threads: 2)
    let evaluation = try Evaluation(
      model: model, configurations: [try configuration(0.5, model)], preprocessing: preprocessing, batch: 3,
      options: ForwardOptions(threads: 2))
    let record = try evaluation.run(LoggingSource(images, labels: [nil, nil, nil])).records[1]
    let score = try scorer.score(try PruningRatios.uniform(0.5, depths: model.configuration.depths))
    XCTAssertEqual(score.details["cosine"], record.tally.meanCosine)
    XCTAssertEqual(score.details["top1_agreement"], record.tally.top1Agreement)
  }

  func testMissingConfigurationsAndBatchAreRefused() throws {
    let model = try tinyModel()
    XCTAssertThrowsError(try Evaluation(model: model, configurations: [], preprocessing: preprocessing, batch: 0)) {
      XCTAssertEqual("\($0)", "batch is 0, expected at least 1 image")
    }
    let swinT = try PruningRatios.preset("cfg1_42ms", depths: [2, 2, 6, 2])
    XCTAssertThrowsError(
      try Evaluation(
        model: model, configurations: [EvaluationConfiguration(label: "cfg1_42ms", ratios: swinT)],
        preprocessing: preprocessing)
    ) {
      XCTAssertTrue("\($0)".hasPrefix("configuration 'cfg1_42ms': "), "\($0)")
    }
  }

  // MARK: - Scoring

  func testTallyCountsTopFiveOverlapTiesAndLabels() throws {
    func output(_ logits: [Float], _ features: [Float]) -> SwinOutput {
      SwinOutput(
        logits: Tensor(shape: [logits.count / 6, 6], values: logits),
        pooledFeatures: Tensor(shape: [features.count / 2, 2], values: features), stages: [], normalizedStages: [],
        windowUsage: [], keptWindows: [])
    }
    // Image 0: dense ranks 5,4,3,2,1 (0 last); image 1: ties at 2 resolve to the lower class.
    let dense = output([0, 1, 2, 3, 4, 5, 1, 1, 9, 9, 0, 0], [1, 0, 3, 4])
    let pruned = output([5, 1, 2, 3, 4, 0, 1, 1, 9, 8, 0, 0], [0, 2, 3, 4])
    XCTAssertEqual(bestClasses(dense.logits!, row: 0), [5, 4, 3, 2, 1])
    XCTAssertEqual(bestClasses(dense.logits!, row: 1), [2, 3, 0, 1, 4])
    var tally = EvaluationTally()
    tally.add(pruned, reference: EvaluationReference(dense), labels: [5, nil])
    XCTAssertEqual(tally.images, 2)
    XCTAssertEqual(tally.top1Agreements, 1, "image 1 keeps class 2")
    XCTAssertEqual(tally.top5Shared, 4 + 5, "image 0 drops 5 from dense's top 5 and brings 0 in")
    XCTAssertEqual(tally.top5Slots, 10)
    XCTAssertEqual(tally.top5Overlap, 0.9)
    XCTAssertEqual(tally.labelled, 1)
    XCTAssertEqual(tally.top1Correct, 0)
    XCTAssertEqual(tally.top5Correct, 0, "class 5 is last for the pruned image 0")
    XCTAssertEqual(tally.meanCosine, (0 + 1) / 2, "orthogonal, then identical")
    var selfTally = EvaluationTally()
    selfTally.add(dense, reference: EvaluationReference(dense), labels: [5, 2])
    XCTAssertEqual(selfTally.top1Accuracy, 1)
    XCTAssertEqual(selfTally.top5Accuracy, 1)
    XCTAssertEqual(selfTally.meanCosine, 1)
  }

  // MARK: - Data sets and class lists

  func testClassListMatchesWordNetIdsIndicesAndNames() throws {
    let imageNet = ClassList.imageNet
    XCTAssertEqual(imageNet.count, 1000)
    XCTAssertEqual(imageNet.wordNetIDs.count, 1000)
    XCTAssertEqual(imageNet.match("n01440764"), .index(0))
    XCTAssertEqual(imageNet.match("n15075141"), .index(999))
    XCTAssertEqual(imageNet.match("0"), .index(0))
    XCTAssertEqual(imageNet.match("281"), .index(281))
    XCTAssertEqual(imageNet.match("tabby"), .index(281))
    XCTAssertEqual(imageNet.match("Tench"), .index(0))
    XCTAssertEqual(imageNet.match("1000"), ClassList.Match.none)
    XCTAssertEqual(imageNet.match("n99999999"), ClassList.Match.none)
    XCTAssertEqual(imageNet.match("unicorn"), ClassList.Match.none)
    let twins = ClassList(names: ["crane", "crane", "heron"], source: "birds.txt")
    XCTAssertEqual(twins.match("crane"), .ambiguous([0, 1]))
    XCTAssertEqual(twins.match("2"), .index(2))
    XCTAssertEqual(ClassList.standard(classes: 3).names, ["class 0", "class 1", "class 2"])
  }

  func testClassFilesWithAndWithoutWordNetIds() throws {
    let plain = try ClassList.load(path: try write("cat\ndog\n", "plain.txt"), classes: 2)
    XCTAssertEqual(plain.names, ["cat", "dog"])
    XCTAssertTrue(plain.wordNetIDs.isEmpty)
    let ids = try ClassList.load(path: try write("n02121808 domestic cat\nn02084071\tdog\n", "ids.txt"), classes: 2)
    XCTAssertEqual(ids.names, ["domestic cat", "dog"])
    XCTAssertEqual(ids.match("n02084071"), .index(1))
    let cases: [(String, Int, String)] = [
      ("cat\n\ndog\n", 3, "blank.txt:2: blank line"),
      ("n02121808 cat\ndog\n", 2, "mixed.txt:2: no WordNet id while line 1 starts with one"),
      ("cat\ndog\n", 3, "class list '\(directory.path)/count.txt' has 2 classes, the model has 3"),
    ]
    for (index, (text, classes, message)) in cases.enumerated() {
      let name = ["blank.txt", "mixed.txt", "count.txt"][index]
      XCTAssertThrowsError(try ClassList.load(path: try write(text, name), classes: classes)) {
        XCTAssertTrue("\($0)".contains(message), "\($0)")
      }
    }
    XCTAssertThrowsError(try ClassList.load(path: directory.path + "/missing.txt", classes: 2)) {
      XCTAssertTrue("\($0)".hasPrefix("cannot read class list '\(self.directory.path)/missing.txt'"), "\($0)")
    }
  }

  func testClassFoldersAreInterleavedSoThatALimitSeesEveryClass() throws {
    _ = try copy(Array(pictures.prefix(3)), to: "val/n01440764")
    _ = try copy([pictures[3]], to: "val/1")
    _ = try copy([pictures[4]], to: "val/empty-is-skipped")
    try FileManager.default.removeItem(atPath: directory.path + "/val/empty-is-skipped/" + pictures[4])
    let root = directory.path + "/val"
    let dataset = try ImageDataset(directory: root, classes: .imageNet)
    XCTAssertEqual(dataset.layout, .classFolders)
    XCTAssertEqual(dataset.entries.map(\.label), [1, 0, 0, 0])
    XCTAssertEqual(dataset.entries.map(\.path), ["1/" + pictures[3]] + pictures.prefix(3).map { "n01440764/" + $0 })
    let limited = try ImageDataset(directory: root, classes: .imageNet, limit: 2)
    XCTAssertEqual(limited.entries.map(\.label), [1, 0])
    XCTAssertEqual(limited.available, 4)
    // Without a class list (a backbone) the folders are read unlabelled.
    XCTAssertEqual(try ImageDataset(directory: root, classes: nil).labelled, 0)
  }

  func testDataSetRefusalsNameTheProblem() throws {
    let empty = try copy([], to: "empty")
    _ = try copy([], to: "empty/sub")
    try "x".write(toFile: empty + "/readme.txt", atomically: true, encoding: .utf8)
    _ = try copy([pictures[0]], to: "mixed")
    _ = try copy([pictures[1]], to: "mixed/n01440764")
    _ = try copy([pictures[0]], to: "unknown/zebra-ish")
    _ = try copy([pictures[0]], to: "flat")
    let twins = ClassList(names: ["crane", "crane"], source: "twins.txt")
    _ = try copy([pictures[0]], to: "twins/crane")
    let cases: [(() throws -> ImageDataset, String)] = [
      ({ try ImageDataset(directory: empty, classes: .imageNet) }, "'\(empty)' holds no images"),
      ({ try ImageDataset(directory: empty + "/readme.txt", classes: .imageNet) }, "is not a directory of images"),
      (
        { try ImageDataset(directory: self.directory.path + "/mixed", classes: .imageNet) },
        "has 1 image(s) at its top level and class subfolders (n01440764)"
      ),
      (
        { try ImageDataset(directory: self.directory.path + "/unknown", classes: .imageNet) },
        "folder 'zebra-ish': 'zebra-ish' names no class (expected a WordNet id, a class index 0…999, a class name of weights/imagenet_classes.txt)"
      ),
      (
        { try ImageDataset(directory: self.directory.path + "/twins", classes: twins) },
        "folder 'crane': 'crane' is the name of classes 0 and 1: use the class index or WordNet id"
      ),
    ]
    for (make, message) in cases {
      XCTAssertThrowsError(try make()) { XCTAssertTrue("\($0)".contains(message), "\($0)\nexpected: \(message)") }
    }
    let flat = directory.path + "/flat"
    let csvCases: [(String, String)] = [
      ("file,label\n\(pictures[0]),tench\nb.png,unicorn\n", "bad.csv:3: 'unicorn' names no class"),
      ("\(pictures[0])\n", "bad.csv:1: expected two fields 'file,label'"),
      ("\(pictures[0]),\n", "bad.csv:1: no label for '\(pictures[0])'"),
      ("a.png,0\na.png,1\n", "bad.csv:2: 'a.png' is already listed on line 1"),
      ("\"a.png,0\n", "bad.csv:1: expected two fields"),
      ("file,label\n", "labels file '\(directory.path)/bad.csv': lists no images"),
    ]
    for (text, message) in csvCases {
      let labels = try write(text, "bad.csv")
      XCTAssertThrowsError(try ImageDataset(directory: flat, labelsFile: labels, classes: .imageNet)) {
        XCTAssertTrue("\($0)".contains(message), "\($0)\nexpected: \(message)")
      }
    }
    // Quoted fields, a name with a comma, files of the folder not listed.
    let quoted = try write("\"\(pictures[0])\",\"tench\"\n", "quoted.csv")
    let dataset = try ImageDataset(directory: flat, labelsFile: quoted, classes: .imageNet)
    XCTAssertEqual(dataset.entries, [.init(path: pictures[0], label: 0)])
    XCTAssertEqual(dataset.unlisted, 0)
    let commas = ClassList(names: ["a, b", "c"], source: "commas.txt")
    let commaLabels = try write("x.png,\"a, b\"\n", "commas.csv")
    XCTAssertEqual(
      try ImageDataset(directory: flat, labelsFile: commaLabels, classes: commas).entries.map(\.label), [0])
  }
}
