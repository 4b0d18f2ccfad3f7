#!/usr/bin/env bash
# Creates (if missing) the Python venv used to generate golden fixtures (scripts/make_fixtures.py)
# and installs the pinned PyTorch/timm peers into it. Prints the venv's python path on stdout.
#   PEERS_VENV   venv directory (default: $HOME/.cache/sparsevit-peers)
#   PYTHON       interpreter used to create the venv (default: python3; the fixtures were made with 3.11)
# Idempotent: when every pin is already installed it only checks versions (about a second).
set -euo pipefail

venv="${PEERS_VENV:-$HOME/.cache/sparsevit-peers}"
base_python="${PYTHON:-python3}"

# timm depends on torchvision; pin it too so the resolver cannot move torch.
pins=(
  "torch==2.15.0"
  "torchvision==0.29.2"
  "timm==1.0.31"
  "safetensors==0.8.0"
  "numpy==2.4.6"
)

if [[ ! -x "$venv/bin/python" ]]; then
  echo "python_env: creating venv at $venv" >&2
  "$base_python" -m venv "$venv"
fi
python="$venv/bin/python"

pins_satisfied() {
  "$python" - "${pins[@]}" <<'EOF'
import sys
from importlib import metadata

for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    # local version labels (e.g. torch 2.15.0+cu132) satisfy an unlabelled pin, as in pip
    if have.split("+")[0] != want:
        sys.exit(1)
EOF
}

if ! pins_satisfied; then
  echo "python_env: installing ${pins[*]} into $venv" >&2
  "$python" -m pip install --quiet "${pins[@]}" >&2
  if ! pins_satisfied; then
    echo "python_env: error: pinned versions still not installed in $venv" >&2
    exit 1
  fi
fi

echo "$python"
