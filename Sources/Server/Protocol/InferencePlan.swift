// A decoded infer request checked against the model: its input as a normalized `[B, 3, H, W]` tensor
// (FP32 `images`, or JPEG/PNG `image_bytes` preprocessed as `run --image` does), the sparsity, the
// outputs, and how to encode the response (JSON data or the binary tensor data extension).
import Engine
import Foundation
import Models

struct InferencePlan: Sendable {
  let images: Tensor
  let sparsity: JobSparsity
  let outputs: [RequestedOutput]
  let topK: Int?
  let requestID: String?

  var wantsStages: Bool { outputs.contains { $0.name.hasPrefix("stage") } }

  init(_ request: InferenceRequest, service: InferenceService) throws(RequestError) {
    let model = service.model
    let options = service.options
    guard request.inputs.count == 1, let input = request.inputs.first else {
      throw .bad("expected one input ('images' or 'image_bytes'), got \(request.inputs.count)")
    }
    switch input.name {
    case "images": images = try Self.imagesTensor(input, channels: model.configuration.inputChannels, options: options)
    case "image_bytes": images = try Self.decodedImages(input, options: options)
    default: throw .bad("unknown input '\(shown(input.name))': expected 'images' (FP32) or 'image_bytes' (BYTES)")
    }
    let batch = images.shape[0]
    let height = images.shape[2]
    let width = images.shape[3]
    let minimum = model.configuration.patchSize << (model.configuration.stageCount - 1)
    guard height >= minimum, width >= minimum else {
      throw .bad("input is \(height)×\(width) pixels, the model needs at least \(minimum)×\(minimum)")
    }
    // The forward may run this request with others: check the memory of the largest batch it can join.
    let engineOptions = service.engine.options
    let needed = model.workspaceBytes(
      batch: max(batch, engineOptions.maxBatch), height: height, width: width, threads: engineOptions.threads)
    guard needed <= engineOptions.memoryBudget else {
      throw RequestError(
        413,
        "a \(height)×\(width) input needs about \(needed >> 20) MB of working memory, "
          + "over the budget of \(engineOptions.memoryBudget >> 20) MB"
      )
    }
    sparsity = try Self.sparsity(request.parameters["sparsity"], depths: model.configuration.depths)
    let classes = model.configuration.classes
    topK = try Self.topK(request.parameters["top_k"], classes: classes)
    var outputs =
      request.outputs ?? [
        RequestedOutput(name: classes > 0 ? "logits" : "pooled_features", binary: request.binaryOutput)
      ]
    if request.outputs == nil, topK != nil {
      outputs.append(RequestedOutput(name: "top_k", binary: request.binaryOutput))
    }
    let known = ServiceMetadata.outputNames(model)
    for output in outputs where !known.contains(output.name) {
      throw .bad("unknown output '\(shown(output.name))': the model has \(known.joined(separator: ", "))")
    }
    if outputs.contains(where: { $0.name == "top_k" }), topK == nil {
      throw .bad("output 'top_k' needs the request parameter 'top_k' (how many classes)")
    }
    self.outputs = outputs
    requestID = request.id
  }

  private static func imagesTensor(_ input: InputTensor, channels: Int, options: ServiceOptions) throws(RequestError)
    -> Tensor
  {
    guard input.datatype == "FP32", case .floats(let values) = input.payload else {
      throw .bad("input 'images' must be FP32, got \(shown(input.datatype))")
    }
    guard input.shape.count == 4, input.shape[1] == channels else {
      throw .bad("input 'images' has shape \(input.shape), expected [batch, \(channels), height, width]")
    }
    guard (1...options.maxImagesPerRequest).contains(input.shape[0]) else {
      throw .bad("input 'images' holds \(input.shape[0]) images, expected 1…\(options.maxImagesPerRequest)")
    }
    guard let bad = values.firstIndex(where: { !$0.isFinite }) else {
      return Tensor(shape: input.shape, values: values)
    }
    throw .bad("input 'images' holds a non-finite value at element \(bad)")
  }

  private static func decodedImages(_ input: InputTensor, options: ServiceOptions) throws(RequestError) -> Tensor {
    guard input.datatype == "BYTES", case .bytes(let files) = input.payload else {
      throw .bad("input 'image_bytes' must be BYTES, got \(shown(input.datatype))")
    }
    guard input.shape.count == 1 || (input.shape.count == 2 && input.shape[1] == 1) else {
      throw .bad("input 'image_bytes' has shape \(input.shape), expected [batch]")
    }
    guard (1...options.maxImagesPerRequest).contains(files.count) else {
      throw .bad("input 'image_bytes' holds \(files.count) images, expected 1…\(options.maxImagesPerRequest)")
    }
    var pictures: [RGBImage] = []
    for (index, file) in files.enumerated() {
      do {
        pictures.append(try RGBImage.decode(file, name: "image_bytes[\(index)]", maxPixels: options.maxImagePixels))
      } catch {
        if case .tooLarge = error { throw RequestError(413, error.description) }
        throw .bad(error.description)
      }
    }
    return options.preprocessing.tensor(pictures)
  }

  /// The `sparsity` parameter: a ratio, "dense", a preset, "auto"/absent (the server's policy), or the
  /// sparsity-file object. Never a path: a client does not name files on the server.
  static func sparsity(_ value: ParameterValue?, depths: [Int]) throws(RequestError) -> JobSparsity {
    switch value {
    case .bool: throw .bad("parameter 'sparsity' must be a ratio, a name or an object")
    case .string(let text)
    where text != "auto" && text != "dense" && Double(text) == nil && PruningRatios.presets[text] == nil:
      throw .bad(
        "parameter 'sparsity': '\(shown(text))' is not a ratio, 'dense', 'auto' or a preset "
          + "(\(PruningRatios.presetNames.joined(separator: ", ")))"
      )
    default: break
    }
    do {
      return try resolvedSparsity(value, depths: depths)
    } catch {
      throw .bad("parameter 'sparsity': \(error.description)")
    }
  }

  private static func resolvedSparsity(_ value: ParameterValue?, depths: [Int]) throws(SparsityError) -> JobSparsity {
    switch value {
    case nil, .bool, .string("auto"): return .policy
    case .number(let ratio): return .fixed(label: "uniform \(ratio)", ratios: try .uniform(ratio, depths: depths))
    case .string("dense"): return .fixed(label: "dense", ratios: .dense(depths: depths))
    case .string(let text):
      if let ratio = Double(text) {
        return .fixed(label: "uniform \(ratio)", ratios: try .uniform(ratio, depths: depths))
      }
      return .fixed(label: text, ratios: try .preset(text, depths: depths))
    case .object(let bytes):
      return .fixed(
        label: "custom", ratios: try .parse(json: Data(bytes), source: "parameter 'sparsity'", depths: depths))
    }
  }

  static func topK(_ value: ParameterValue?, classes: Int) throws(RequestError) -> Int? {
    guard let value else { return nil }
    guard classes > 0 else { throw .bad("parameter 'top_k': the model has no classifier head") }
    guard case .number(let number) = value, number == number.rounded(), number >= 1, number <= Double(classes) else {
      throw .bad("parameter 'top_k' must be an integer in 1…\(classes)")
    }
    return Int(number)
  }
}
