#!/usr/bin/env bash
# Creates (if missing) a small venv with NVIDIA's tritonclient[http] from PyPI, the KServe v2 client the
# server tests call (a client nobody here wrote), and prints its python path on stdout.
#   TRITONCLIENT_VENV   venv directory (default: .build/tritonclient-venv in this checkout)
# Fails with a message naming what is missing when python3, venv or pip is unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${TRITONCLIENT_VENV:-$(pwd)/.build/tritonclient-venv}"
pins=("tritonclient[http]==2.73.0" "numpy==2.4.6")

if ! command -v python3 >/dev/null; then
  echo "tritonclient_env: error: python3 is not installed (apt-get install python3 python3-venv)" >&2
  exit 1
fi
python="$venv/bin/python"
if [[ ! -x "$python" ]]; then
  echo "tritonclient_env: creating venv at $venv" >&2
  python3 -m venv "$venv" >&2 || {
    echo "tritonclient_env: error: 'python3 -m venv' failed (apt-get install python3-venv)" >&2
    exit 1
  }
fi
if ! "$python" -c "import tritonclient.http, numpy" 2>/dev/null; then
  echo "tritonclient_env: installing ${pins[*]} into $venv" >&2
  "$python" -m pip install --quiet "${pins[@]}" >&2 || {
    echo "tritonclient_env: error: pip could not install ${pins[*]} (network to PyPI needed)" >&2
    exit 1
  }
fi
echo "$python"
