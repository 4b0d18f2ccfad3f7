// libFuzzer target for `PruningRatios.parse(json:source:depths:)`: any bytes either give ratios
// valid for the model (one list per stage, one ratio per block, each in [0, 1), non-decreasing) or
// throw a `SparsityError` with a one-line message. Each input is checked against Swin-T's depths and
// the tiny fixture's. Built and run by scripts/fuzz.sh.
import Foundation
import Models

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPruningRatios(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let json = Data(fuzzBytes(data, size))
  for depths in [[2, 2, 6, 2], [2, 2, 2, 2]] {
    do throws(SparsityError) {
      let parsed = try PruningRatios.parse(json: json, source: "fuzz.json", depths: depths)
      guard parsed.ratios.map(\.count) == depths,
        parsed.ratios.allSatisfy({ stage in stage.allSatisfy { $0 >= 0 && $0 < 1 } })
      else { fatalError("accepted invalid ratios \(parsed.ratios) for depths \(depths)") }
      // What a parse accepts, `jsonData` writes back to the same ratios.
      let again = try PruningRatios.parse(json: parsed.jsonData(), source: "fuzz.json", depths: depths)
      if again != parsed { fatalError("jsonData does not round-trip \(parsed.ratios)") }
    } catch {
      // Only the document-level errors name the source; the rest name the stage and block.
      let named: Bool
      switch error {
      case .notJSON, .missingKey, .wrongStructure: named = true
      default: named = false
      }
      checkMessage(error.description, names: named ? "fuzz.json" : nil, of: "\(error)")
    }
  }
  return 0
}
