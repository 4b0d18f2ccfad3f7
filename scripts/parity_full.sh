#!/usr/bin/env bash
# Full-size Swin-T parity with timm 1.0.31 and the pruning reference (issue figures): generates the
# seeded full-size fixtures once (PyTorch venv, ~3 min, ~600 MB in $FULL, not committed), runs the
# release `sparsevit run` on every case and every layout (in timm window semantics), then on the
# torchvision/SparseViT semantics cases with their own checkpoints' default semantics, and compares
# with numpy: max |Δ| and relative L2 of logits and stage outputs (mmdet layout: stage outputs
# through norm0..3). Fails when a case exceeds max |Δ| 2e-3 or rel L2 2e-4.
set -euo pipefail
cd "$(dirname "$0")/.."
FULL=${FULL:-/tmp/sparsevit-full}
PY=$(bash scripts/python_env.sh)
[ -f "$FULL/manifest.json" ] || "$PY" scripts/make_fixtures.py full "$FULL"
bash scripts/build.sh >/dev/null 2>&1
BIN=$(swift build -c release --show-bin-path)/sparsevit
[ -x "$BIN" ] || BIN=.build/release/sparsevit
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$PY" - "$FULL" "$BIN" "$OUT" <<'PYEOF'
import json, subprocess, sys, os
import numpy as np
full, binary, out = sys.argv[1:4]
manifest = json.load(open(os.path.join(full, "manifest.json")))
checkpoints = {c["layout"]: os.path.join(full, c["file"]) for c in manifest["checkpoints"]}
failed = False
print(f"{'case':32} {'layout':12} {'output':8} {'max |Δ|':>10} {'rel L2':>10}")
def report(case, layout, what, actual, expected):
    global failed
    diff = np.abs(actual - expected).max()
    rel = np.linalg.norm(actual - expected) / np.linalg.norm(expected)
    bad = not (diff <= 2e-3 and rel <= 2e-4)
    failed |= bad
    print(f"{case:32} {layout:12} {what:8} {diff:10.2e} {rel:10.2e}{'  FAIL' if bad else ''}")
def run(case, layout, semantics, tag):
    """`sparsevit run` on one case with the `layout` checkpoint in `semantics`, then its logits (the
    case has them and the layout a head) and stage outputs against the case's; returns the features
    directory."""
    name = case["name"]
    features = os.path.join(out, f"{name}.{tag}")
    args = [binary, "run", "--weights", checkpoints[layout], "--input", os.path.join(full, case["input"]),
            "--features", features, "--window-semantics", semantics]
    logits = os.path.join(out, f"{name}.{tag}.npy") if case.get("logits") and layout != "mmdet" else None
    if logits:
        args += ["--output", logits]
    if case.get("pruning_ratios"):
        cfg = os.path.join(out, f"{name}.json")
        json.dump({"pruning_ratios": case["pruning_ratios"]}, open(cfg, "w"))
        args += ["--sparsity", cfg]
    subprocess.run(args, check=True)
    if logits:
        report(name, tag, "logits", np.load(logits), np.load(os.path.join(full, case["logits"])))
    for s, stage in enumerate(case.get("stages") or []):
        report(name, tag, f"stage{s}", np.load(os.path.join(features, f"stage{s}.npy")), np.load(os.path.join(full, stage)))
    return features
for case in manifest["cases"]:
    pruned = case.get("pruning_ratios") and any(any(r) for r in case["pruning_ratios"])
    for layout in ["timm"] if pruned else list(checkpoints):
        run(case, layout, "timm", layout)
for case in manifest.get("semantics_cases", []):
    semantics = case["semantics"]
    features = run(case, "torchvision" if semantics == "torchvision" else "mmdet", semantics, semantics)
    for s, stage in enumerate(case.get("normed_stages") or []):
        report(case["name"], semantics, f"normed{s}", np.load(os.path.join(features, f"stage{s}.normed.npy")), np.load(os.path.join(full, stage)))
sys.exit(1 if failed else 0)
PYEOF
