#!/usr/bin/env bash
# Prints the suite's closing line, `N passed, N failed[, N skipped]`, from the XUnit files that
# `swift test --xunit-output` wrote (XCTest and Swift Testing each write one). `swift test
# --parallel` prints no XCTest summary of its own. Extra arguments of the form `failed-step=NAME`
# count a step that failed without writing results (a build that broke) as one failure.
set -euo pipefail
tests=0 failures=0 skipped=0
for file in "$@"; do
  case "$file" in
    failed-step=*) failures=$((failures + 1)); continue ;;
  esac
  [ -f "$file" ] || continue
  while read -r line; do
    t=$(sed -nE 's/.* tests="([0-9]+)".*/\1/p' <<<"$line")
    f=$(sed -nE 's/.* failures="([0-9]+)".*/\1/p' <<<"$line")
    e=$(sed -nE 's/.* errors="([0-9]+)".*/\1/p' <<<"$line")
    tests=$((tests + ${t:-0})) failures=$((failures + ${f:-0} + ${e:-0}))
  done < <(grep -o '<testsuite [^>]*>' "$file")
  skipped=$((skipped + $(grep -c '<skipped' "$file" || true)))
done
passed=$((tests - failures - skipped))
[ $passed -ge 0 ] || passed=0
if [ $skipped -gt 0 ]; then
  echo "$passed passed, $failures failed, $skipped skipped"
else
  echo "$passed passed, $failures failed"
fi
