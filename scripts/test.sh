#!/usr/bin/env bash
# The project's test command (README; CI runs it through .ci/run): installs missing system
# packages, checks the format (scripts/lint.sh), runs the unit, golden and error-path tests, then builds and runs the embedding example
# against this checkout. Fails on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-build
bash scripts/lint.sh
swift build --build-tests
# XUNIT_DIR (set by .ci/run) collects the results that scripts/count_tests.sh adds up.
xunit=()
[ -n "${XUNIT_DIR:-}" ] && mkdir -p "$XUNIT_DIR" && xunit=(--xunit-output "$XUNIT_DIR/tests.xml")
swift test --skip-build --parallel "${xunit[@]}"
bash scripts/check_readme_snippet.sh
if [ -d Examples ]; then
  (cd Examples && swift build -c release && swift run -c release --skip-build embed-example --size 96)
fi
