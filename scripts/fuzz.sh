#!/usr/bin/env bash
# Fuzzes every file parser with libFuzzer (the clang runtime that ships with the Swift toolchain):
# builds Engine, ImageIO and Models from Sources/ with -sanitize=fuzzer,address, links one binary per target
# from scripts/fuzz/, then runs each target in turn for N seconds (one at a time: the machine has 2
# cores). Corpora and artifacts live under .build/fuzz/ (git-ignored); every crash, leak, timeout or
# out-of-memory input is copied to Tests/Fixtures/fuzz-crashes/<target>-<kind>-<sha1>, where
# HostileInputTests replays it through the library and the command.
#
#   scripts/fuzz.sh                      # every target, 300 s each
#   scripts/fuzz.sh --seconds 30 numpy   # one target, 30 s
#   scripts/fuzz.sh --replay             # run the saved crash inputs only (no fuzzing)
#
# Targets: safetensors (SafeTensorsFile.parse), numpy (parseNumPy), sparsity (PruningRatios.parse),
# image (RGBImage.decode: libpng + libjpeg-turbo), weights (safetensors bytes → SwinTransformer),
# request (the server's KServe v2 infer request decoder, JSON and binary extension).
# FUZZ_EXCLUDE="File.swift …" leaves sources out of the build (a file another change has broken).
# Exits 1 when any target found something; the summary (executions per target) is printed at the end
# and kept in .build/fuzz/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=300
replay=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --replay) replay=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 64 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(safetensors numpy sparsity image weights request)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for target in "${targets[@]}"; do
  case " ${all[*]} " in *" $target "*) ;; *) echo "fuzz.sh: unknown target '$target' (known: ${all[*]})" >&2; exit 64 ;; esac
done

out="$root/.build/fuzz"
crashes="$root/Tests/Fixtures/fuzz-crashes"
mkdir -p "$out/obj"

# MARK: - Build

toolchain_bin=$(dirname "$(command -v swiftc)")
export ASAN_SYMBOLIZER_PATH="$toolchain_bin/llvm-symbolizer"
# libFuzzer reports the trap itself; the Swift runtime's backtracer would only slow each crash down.
export SWIFT_BACKTRACE=enable=no

cflags=()
for flag in $(pkg-config --cflags openblas libpng libturbojpeg libmicrohttpd); do cflags+=(-Xcc "$flag"); done
libs=($(pkg-config --libs openblas libpng libturbojpeg libmicrohttpd))
common=(-sanitize=fuzzer,address -O -g -parse-as-library -package-name sparsevit_swift
  -I "$out/obj" -I Sources/CBLASShim -I Sources/CPNG -I Sources/CTurboJPEG -I Sources/CMicroHTTPD "${cflags[@]}")

sources() {
  local file
  for file in $(find "$1" -name '*.swift' | sort); do
    case " ${FUZZ_EXCLUDE:-} " in *" $(basename "$file") "*) echo "fuzz.sh: leaving out $file" >&2; continue ;; esac
    echo "$file"
  done
}

# Models' ImageNet class names are generated at build time (ClassNamesPlugin): made the same way here.
generated="$out/generated/ImageNetClassNames.swift"
if [ ! -f "$generated" ] || [ weights/imagenet_classes.txt -nt "$generated" ]; then
  mkdir -p "$out/generated"
  swiftc -O Sources/ClassNamesGenerator/main.swift -o "$out/ClassNamesGenerator"
  "$out/ClassNamesGenerator" weights/imagenet_classes.txt "$generated"
fi

# Rebuilds a module when its object is missing or older than a source (or than the module it uses).
build_module() {
  local name="$1" directory="$2" newer="${3:-}" extra="${4:-}"
  local object="$out/obj/$name.o"
  mapfile -t files < <(sources "$directory")
  [ -z "$extra" ] || files+=("$extra")
  if [ -f "$object" ] && [ -z "$(find "${files[@]}" $newer -newer "$object" 2>/dev/null | head -1)" ]; then
    return
  fi
  echo "fuzz.sh: building $name with -sanitize=fuzzer,address" >&2
  swiftc "${common[@]}" -wmo -module-name "$name" -emit-module -emit-module-path "$out/obj/$name.swiftmodule" \
    -c -o "$object" "${files[@]}"
}
build_module Engine Sources/Engine
build_module ImageIO Sources/ImageIO
build_module Models Sources/Models "$out/obj/Engine.o $out/obj/ImageIO.o" "$generated"
build_module Server Sources/Server "$out/obj/Models.o"

declare -A entry=([safetensors]=FuzzSafeTensors [numpy]=FuzzNumPy [sparsity]=FuzzPruningRatios
  [image]=FuzzImage [weights]=FuzzWeights [request]=FuzzInferenceRequest)
for target in "${targets[@]}"; do
  swiftc "${common[@]}" -module-name "${entry[$target]}" "scripts/fuzz/${entry[$target]}.swift" \
    scripts/fuzz/FuzzSupport.swift "$out/obj/Engine.o" "$out/obj/ImageIO.o" "$out/obj/Models.o" "$out/obj/Server.o" "${libs[@]}" -use-ld=lld \
    -o "$out/fuzz-$target"
done

# MARK: - Replay saved crashes

if [ $replay -eq 1 ]; then
  status=0
  for target in "${targets[@]}"; do
    mapfile -t saved < <(find "$crashes" -maxdepth 1 -type f -name "$target-*" 2>/dev/null | sort)
    [ ${#saved[@]} -gt 0 ] || continue
    echo "fuzz.sh: replaying ${#saved[@]} saved $target inputs" >&2
    "$out/fuzz-$target" -runs=1 "${saved[@]}" >"$out/replay-$target.log" 2>&1 || {
      echo "fuzz.sh: $target still fails on a saved input, see $out/replay-$target.log" >&2
      status=1
    }
  done
  exit $status
fi

# MARK: - Seeds and dictionaries

seed() {
  local target="$1"
  local corpus="$out/corpus/$target"
  mkdir -p "$corpus"
  # Earlier findings stay in the corpus, so the fuzzer starts from what once broke.
  find "$crashes" -maxdepth 1 -type f -name "$target-*" -exec cp {} "$corpus/" \; 2>/dev/null || true
  case "$target" in
    safetensors)
      python3 - "$corpus" <<'EOF'
import json, struct, sys, os
def write(name, header, data=b""):
    text = json.dumps(header, separators=(",", ":")).encode()
    open(os.path.join(sys.argv[1], name), "wb").write(struct.pack("<Q", len(text)) + text + data)
write("seed-f32", {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, struct.pack("<4f", 1, -2, 0.5, 3))
write("seed-mixed", {"__metadata__": {"format": "pt"},
    "a": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
    "b": {"dtype": "BF16", "shape": [], "data_offsets": [6, 8]},
    "i": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]},
    "z": {"dtype": "F32", "shape": [0, 4], "data_offsets": [16, 16]}}, bytes(range(16)))
write("seed-empty", {})
write("seed-escapes", {"n\u00e4me\"\\": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0\0\x80\x3f")
EOF
      ;;
    numpy)
      find Tests/Fixtures -name '*.npy' -size -2k -exec cp {} "$corpus/" \;
      python3 - "$corpus" <<'EOF'
import struct, sys, os
def write(name, header, data, version=1):
    text = header.encode("latin-1" if version < 3 else "utf-8")
    text += b" " * (-(len(text) + 1 + (10 if version == 1 else 12)) % 64) + b"\n"
    length = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    open(os.path.join(sys.argv[1], name), "wb").write(b"\x93NUMPY" + bytes([version, 0]) + length + text + data)
write("seed-v1", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 2, 2), }", bytes(48))
write("seed-v2", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", struct.pack("<2f", 1, 2), 2)
write("seed-v3", '{"shape": (), "descr": "<f4", "fortran_order": False}', struct.pack("<f", 7), 3)
write("seed-big-endian", "{'descr': '>f4', 'fortran_order': True, 'shape': (1L, 1), }", bytes(4))
EOF
      ;;
    sparsity)
      printf '%s' '{"pruning_ratios": [[0.3, 0.3], [0, 0], [0.1, 0.1, 0.2, 0.2, 0.2, 0.2], [0, 0]]}' >"$corpus/seed-cfg1"
      printf '%s' '{"pruning_ratios": [[0.5, 0.5], [0, 0.25], [0, 0], [0.1, 0.9]], "latency_ms": 12.5}' >"$corpus/seed-tiny"
      printf '%s' '{"pruning_ratios": 0.5}' >"$corpus/seed-uniform"
      printf '%s' '0.25' >"$corpus/seed-number"
      printf '%s' '[{"pruning_ratios": [[1e-3, true, null, "x"]]}]' >"$corpus/seed-odd"
      ;;
    image)
      find Tests/Fixtures/images Examples -maxdepth 1 \( -name '*.png' -o -name '*.jpg' \) -size -24k \
        ! -name '*.expected.png' -exec cp {} "$corpus/" \; 2>/dev/null || true
      ;;
    weights)
      cp Tests/Fixtures/tiny/*.safetensors "$corpus/"
      ;;
    request)
      python3 - "$corpus" <<'EOF'
import json, os, struct, sys
def write(name, body):
    open(os.path.join(sys.argv[1], name), "wb").write(body)
tensor = {"name": "images", "datatype": "FP32", "shape": [1, 3, 2, 2]}
write("seed-json", json.dumps({"id": "a", "inputs": [dict(tensor, data=[[0.5] * 4] * 3)],
    "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
    "parameters": {"sparsity": {"pruning_ratios": 0.5}, "top_k": 3}}).encode())
header = json.dumps({"inputs": [dict(tensor, parameters={"binary_data_size": 48})],
    "parameters": {"binary_data_output": True}}).encode()
write("seed-binary", b"\xb1" + struct.pack("<H", len(header)) + header + struct.pack("<12f", *range(12)))
header = json.dumps({"inputs": [{"name": "image_bytes", "datatype": "BYTES", "shape": [2],
    "parameters": {"binary_data_size": 13}}]}).encode()
write("seed-bytes", b"\xb1" + struct.pack("<H", len(header)) + header + struct.pack("<I", 3) + b"abc" + struct.pack("<I", 2) + b"de")
write("seed-base64", json.dumps({"inputs": [{"name": "image_bytes", "datatype": "BYTES", "shape": [1], "data": ["aGk="]}]}).encode())
EOF
      ;;
  esac
}

# libFuzzer dictionaries: tokens the mutator splices in (format: one "quoted" token a line, \xNN
# escapes).
dictionary() {
  local file="$out/$1.dict"
  case "$1" in
    safetensors|weights) cat >"$file" <<'EOF'
"\"dtype\""
"\"shape\""
"\"data_offsets\""
"\"__metadata__\""
"\"F32\""
"\"F16\""
"\"BF16\""
"\"I64\""
"\"BOOL\""
"\\u"
"\\ud83d\\ude00"
"18446744073709551615"
"9223372036854775807"
"1e400"
"\"layers.0.blocks.0.attn.relative_position_bias_table\""
"\"patch_embed.proj.weight\""
"\"head.fc.weight\""
EOF
      ;;
    numpy) cat >"$file" <<'EOF'
"'descr'"
"'<f4'"
"'>f4'"
"'|u1'"
"'fortran_order'"
"False"
"True"
"None"
"'shape'"
"\x93NUMPY"
"(1,)"
"()"
"99999999999999999999"
EOF
      ;;
    sparsity) cat >"$file" <<'EOF'
"\"pruning_ratios\""
"[["
"]]"
"1e308"
"-0"
"null"
"true"
"0.999999"
"1.0"
"\\u0000"
EOF
      ;;
    request) cat >"$file" <<'EOF'
"\"inputs\""
"\"outputs\""
"\"name\""
"\"datatype\""
"\"shape\""
"\"data\""
"\"parameters\""
"\"binary_data_size\""
"\"binary_data\""
"\"binary_data_output\""
"\"FP32\""
"\"BYTES\""
"\"images\""
"\"image_bytes\""
"\"sparsity\""
"\"top_k\""
"\xb1"
"9007199254740993"
"1e309"
EOF
      ;;
    image) cat >"$file" <<'EOF'
"\x89PNG\x0d\x0a\x1a\x0a"
"IHDR"
"IDAT"
"IEND"
"PLTE"
"tRNS"
"gAMA"
"iCCP"
"\xff\xd8\xff"
"\xff\xc0"
"\xff\xc2"
"\xff\xc4"
"\xff\xda"
"\xff\xdb"
"\xff\xdd"
"\xff\xd9"
"\xff\xff\xff\xff"
EOF
      ;;
  esac
  echo "$file"
}

# MARK: - Fuzz

declare -A max_len=([safetensors]=4096 [numpy]=4096 [sparsity]=1024 [image]=32768 [weights]=262144 [request]=8192)
summary="$out/summary.txt"
: >"$summary"
found=0
for target in "${targets[@]}"; do
  seed "$target"
  artifacts="$out/artifacts/$target"
  rm -rf "$artifacts"
  mkdir -p "$artifacts"
  log="$out/fuzz-$target.log"
  echo "fuzz.sh: $target for ${seconds}s (log $log)" >&2
  set +e
  "$out/fuzz-$target" "$out/corpus/$target" -max_total_time="$seconds" -max_len="${max_len[$target]}" \
    -dict="$(dictionary "$target")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1
  code=$?
  set -e
  executions=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  rate=$(grep -o "stat::average_exec_per_sec: *[0-9]*" "$log" | tail -1 | awk "{print \$NF}")
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  corpus_size=$(find "$out/corpus/$target" -type f | wc -l)
  findings=0
  for artifact in "$artifacts"/*; do
    [ -f "$artifact" ] || continue
    kind=$(basename "$artifact" | cut -d- -f1)
    mkdir -p "$crashes"
    cp "$artifact" "$crashes/$target-$kind-$(sha1sum "$artifact" | cut -c1-12)"
    findings=$((findings + 1))
  done
  line="$target: ${executions:-?} executions in ${seconds}s (${rate:-?}/s), coverage ${coverage:-?}, corpus $corpus_size, exit $code, findings $findings"
  echo "$line" | tee -a "$summary"
  if [ $code -ne 0 ] || [ $findings -gt 0 ]; then
    found=1
    grep -m1 -E 'ERROR: |Fatal error|SUMMARY' "$log" >&2 || true
  fi
done
[ $found -eq 0 ] || echo "fuzz.sh: findings copied to $crashes (see the logs in $out)" >&2
exit $found
