#!/usr/bin/env bash
# Makes (once) a Python venv holding Google's ml-metadata 1.17.1, the reference MLMD reader,
# and prints the path of its python. Usage: PY=$(tools/mlmd/setup.sh) && $PY tools/mlmd/mlmd_read.py .zenml/metadata.db
# ml-metadata ships wheels for CPython 3.9-3.11 only; the venv is made with python3.11.
set -euo pipefail
VENV=${MLMD_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/zenml-mlmd-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import ml_metadata' 2>/dev/null; then
  PYTHON=${MLMD_PYTHON:-$(command -v python3.11 || command -v python3)}
  "$PYTHON" -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q ml-metadata==1.17.1 >&2
fi
echo "$VENV/bin/python"
