#!/usr/bin/env bash
# Release build of `sparsevit`. On CPUs with AVX2 and FMA the Swift kernels are compiled for this
# CPU with fused multiply-add (the portable default build is correct everywhere, just slower).
# Extra arguments go to `swift build`.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=()
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null; then
  flags=(-Xswiftc -target-cpu -Xswiftc native -Xswiftc -DSPARSEVIT_FMA)
fi
swift build -c release "${flags[@]}" "$@"
echo "built: $(swift build -c release "${flags[@]}" "$@" --show-bin-path)/sparsevit" >&2
