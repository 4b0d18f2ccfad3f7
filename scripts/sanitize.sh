#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer and ThreadSanitizer, each in its own build
# directory (.build/sanitize-address, .build/sanitize-thread) so the normal debug build is untouched.
# The command-line tests run the sanitized `sparsevit` too. A sanitizer report fails the run: the
# sanitizers exit with 86 (not 1, which the command uses for ordinary failures).
#
#   scripts/sanitize.sh                 # address, then thread
#   scripts/sanitize.sh thread          # one of them
#   scripts/sanitize.sh address --filter HostileInputTests   # extra arguments go to `swift test`
#
# Prints the build and test time of each; exits 1 when any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers=()
while [ $# -gt 0 ]; do
  case "$1" in
    address|thread) sanitizers+=("$1"); shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread)

bash scripts/setup.sh --no-build

toolchain_bin=$(dirname "$(command -v swiftc)")
export ASAN_SYMBOLIZER_PATH="$toolchain_bin/llvm-symbolizer"
export TSAN_SYMBOLIZER_PATH="$toolchain_bin/llvm-symbolizer"
# Leak checking is off: the Swift runtime's metadata caches and Foundation's singletons live until
# exit by design and would be reported as leaks on every run.
export ASAN_OPTIONS="exitcode=86:detect_leaks=0:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export TSAN_OPTIONS="exitcode=86:halt_on_error=0:second_deadlock_stack=1"
# The sanitizer prints its own report; the Swift runtime's backtracer, next to one, can hang waiting
# for threads it cannot suspend, and then the test run never ends.
export SWIFT_BACKTRACE=enable=no

status=0
summary=()
for sanitizer in "${sanitizers[@]}"; do
  scratch=".build/sanitize-$sanitizer"
  log="$scratch.log"
  mkdir -p .build
  echo "sanitize.sh: building with --sanitize=$sanitizer into $scratch" >&2
  start=$(date +%s)
  if ! swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" >"$log" 2>&1; then
    tail -30 "$log" >&2
    summary+=("$sanitizer: BUILD FAILED (see $log)")
    status=1
    continue
  fi
  built=$(date +%s)
  echo "sanitize.sh: testing with --sanitize=$sanitizer (log $log)" >&2
  set +e
  xunit=()
  [ -n "${XUNIT_DIR:-}" ] && mkdir -p "$XUNIT_DIR" && xunit=(--xunit-output "$XUNIT_DIR/sanitize-$sanitizer.xml")
  swift test --skip-build --parallel --sanitize="$sanitizer" --scratch-path "$scratch" "${xunit[@]}" "$@" >>"$log" 2>&1
  code=$?
  set -e
  finished=$(date +%s)
  reports=$(grep -c -E '^(==[0-9]+==ERROR: AddressSanitizer|WARNING: ThreadSanitizer|SUMMARY: (Address|Thread|UndefinedBehavior)Sanitizer)' "$log" || true)
  tests=$(grep -c -E '^\[[0-9]+/[0-9]+\] Testing' "$log" || true)
  failures=$(grep -c -E ': error: .*(failed|Test skipped)' "$log" || true)
  summary+=("$sanitizer: build $((built - start)) s, $tests tests in $((finished - built)) s, exit $code, $failures failed assertions, $reports sanitizer reports (log $log)")
  if [ $code -ne 0 ] || [ "$reports" -ne 0 ]; then
    status=1
    grep -m5 -E -A12 'ERROR: AddressSanitizer|WARNING: ThreadSanitizer' "$log" >&2 || true
    grep -m20 -E ': error: ' "$log" >&2 || true
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
