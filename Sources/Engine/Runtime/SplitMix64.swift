// The package's one seedable random generator: seeded weights, the ratio search and test data all
// draw from it, so a seed gives the same numbers everywhere.

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny, fast generator whose state is one `UInt64`.
package struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64

  package init(seed: UInt64) { state = seed }

  package mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
