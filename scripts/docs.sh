#!/usr/bin/env bash
# Builds the API documentation of the library targets (Engine, ImageIO, Models) with the toolchain
# alone: `swift package dump-symbol-graph` emits the public symbol graphs, `docc convert` renders
# them. No Swift package is fetched.
#   scripts/docs.sh                 # archives in .build/docs/<Target>.doccarchive
#   scripts/docs.sh --static-html   # a static site per target instead, for any web server
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/docs
bash scripts/setup.sh --no-build
# The test modules' graphs fail to emit (they are not importable); only the libraries' are needed,
# and the loop below fails when one of them is missing.
swift package --scratch-path "$out/build" dump-symbol-graph --minimum-access-level public >&2 || true
graphs=$(find "$out/build" -type d -name symbolgraph | head -1)
extra=()
[ "${1:-}" = "--static-html" ] && extra=(--transform-for-static-hosting)
for target in Engine ImageIO Models; do
  module_graphs="$out/graphs-$target"
  rm -rf "$module_graphs" && mkdir -p "$module_graphs"
  cp "$graphs/$target".symbols.json "$module_graphs/"
  find "$graphs" -name "$target@*.symbols.json" -exec cp {} "$module_graphs/" \;
  docc convert --additional-symbol-graph-dir "$module_graphs" \
    --fallback-display-name "$target" --fallback-bundle-identifier "sparsevit.$target" \
    --output-path "$out/$target.doccarchive" "${extra[@]}" >&2
  echo "docs: $out/$target.doccarchive"
done
