#!/usr/bin/env bash
# Set up Easel on first run (creates .venv, installs the pinned requirements), then start it on 127.0.0.1:7860.
# Flags are passed through (e.g. bash webui.sh --port 7870); COMMANDLINE_ARGS works too, as in A1111.
set -euo pipefail
cd "$(dirname "$0")"
source tools/ensure_venv.sh
ensure_venv run
if wants_cluster "$@"; then ensure_cluster; fi
exec "$VENV/bin/python" webui.py "$@"
