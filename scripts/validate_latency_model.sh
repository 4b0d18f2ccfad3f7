#!/usr/bin/env bash
# Checks the search's latency model on this machine: builds the release `sparsevit`, then times N
# random configurations of the search space (default 20) and prints each prediction error and their
# median and maximum, with the machine load before and after (a busy machine makes any timing worse).
# Usage: scripts/validate_latency_model.sh [N] [extra `sparsevit search` options, e.g. --size 448 --remeasure]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-20}"
shift || true
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! bash scripts/build.sh >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
binary="$(sed -n 's/^built: //p' "$log")"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$binary" search --validate "$count" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
