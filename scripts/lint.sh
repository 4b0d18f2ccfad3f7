#!/usr/bin/env bash
# Checks the Swift sources against the committed .swift-format with the toolchain's `swift format`
# (no other tool): any finding fails. `scripts/lint.sh --fix` rewrites the files in place first.
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Sources Tests Plugins Examples scripts/fuzz)
if [ "${1:-}" = "--fix" ]; then
  swift format format --in-place --recursive --parallel "${paths[@]}"
fi
findings=$(swift format lint --recursive --parallel "${paths[@]}" 2>&1 || true)
if [ -n "$findings" ]; then
  echo "$findings" >&2
  echo "lint: $(grep -c ': warning: \|: error: ' <<<"$findings") swift-format finding(s); run 'bash scripts/lint.sh --fix'" >&2
  exit 1
fi
echo "lint: swift format clean" >&2
