#!/usr/bin/env bash
# Checks that README.md shows the embedding example verbatim: the lines between `// BEGIN README`
# and `// END README` in Examples/Sources/embed-example/main.swift must appear in README.md as one
# contiguous block (e.g. inside a ```swift fence). On a mismatch it prints the first differing line
# and the lines to paste. Exit 0 when the README has the snippet, 1 when not.
set -euo pipefail
cd "$(dirname "$0")/.."

source_file=Examples/Sources/embed-example/main.swift
readme=README.md

begins=$(grep -c -x '// BEGIN README' "$source_file" || true)
ends=$(grep -c -x '// END README' "$source_file" || true)
if [[ "$begins" != 1 || "$ends" != 1 ]]; then
  echo "check_readme_snippet: $source_file must hold exactly one '// BEGIN README' and one '// END README' line (found $begins and $ends)" >&2
  exit 1
fi
first=$(($(grep -n -x '// BEGIN README' "$source_file" | cut -d: -f1) + 1))
last=$(($(grep -n -x '// END README' "$source_file" | cut -d: -f1) - 1))
if ((last < first)); then
  echo "check_readme_snippet: the README region of $source_file is empty" >&2
  exit 1
fi
mapfile -t snippet < <(sed -n "${first},${last}p" "$source_file")

print_snippet() {
  echo "--- lines to show in README.md (from $source_file:$first-$last), inside a \`\`\`swift block:" >&2
  printf '%s\n' "${snippet[@]}" >&2
  echo "---" >&2
}

if [[ ! -f "$readme" ]]; then
  echo "check_readme_snippet: $readme does not exist" >&2
  print_snippet
  exit 1
fi
mapfile -t lines < "$readme"

# Try every README line equal to the snippet's first line; remember the longest partial match.
best_start=-1 best_length=-1
for ((i = 0; i < ${#lines[@]}; i++)); do
  [[ "${lines[i]}" == "${snippet[0]}" ]] || continue
  length=0
  while ((length < ${#snippet[@]} && i + length < ${#lines[@]})) && [[ "${lines[i + length]}" == "${snippet[length]}" ]]; do
    length=$((length + 1))
  done
  if ((length == ${#snippet[@]})); then
    echo "check_readme_snippet: $readme lines $((i + 1))-$((i + length)) match $source_file:$first-$last (${#snippet[@]} lines)"
    exit 0
  fi
  if ((length > best_length)); then
    best_start=$i best_length=$length
  fi
done

if ((best_start < 0)); then
  echo "check_readme_snippet: $readme does not contain the embedding snippet (no line equals its first line: '${snippet[0]}')" >&2
else
  line=$((best_start + best_length))
  echo "check_readme_snippet: $readme differs from $source_file at snippet line $((best_length + 1)) of ${#snippet[@]}:" >&2
  echo "  expected ($source_file:$((first + best_length))): ${snippet[best_length]}" >&2
  if ((line < ${#lines[@]})); then
    echo "  found    ($readme:$((line + 1))): ${lines[line]}" >&2
  else
    echo "  found    end of $readme" >&2
  fi
fi
print_snippet
exit 1
