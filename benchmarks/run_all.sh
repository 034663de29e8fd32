#!/bin/sh
# Rerun every benchmark: bash benchmarks/run_all.sh [--quick] [--explore] [--only server,store,tui] ...
# Uses the project's virtualenv (.venv) if there is one, else the python on PATH.
set -eu
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec "$PY" -m benchmarks "$@"
