#!/usr/bin/env bash
# Set up Easel on first run (creates .venv, installs the pinned requirements), then start it on 127.0.0.1:7860.
# Flags are passed through (e.g. bash webui.sh --port 7870); COMMANDLINE_ARGS works too, as in A1111.
set -euo pipefail
cd "$(dirname "$0")"
source tools/ensure_venv.sh
ensure_venv run
if wants_cluster "$@"; then ensure_cluster; fi
# EASEL_ALLOCATOR=tcmalloc|jemalloc preloads that library when installed (docs/performance.md); by default webui.py
# tunes glibc's malloc itself. A missing library falls back to that, so nothing here can stop the start.
if preload="$("$VENV/bin/python" -m modules.allocator)" && [ -n "$preload" ]; then
    export LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}$preload"
fi
exec "$VENV/bin/python" webui.py "$@"
