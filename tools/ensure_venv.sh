#!/usr/bin/env bash
# Create or refresh .venv for Easel. Sourced by webui.sh and run_tests.sh.
# Usage: ensure_venv [test]   — "test" adds the test-only packages.
# Reinstalls only when the requirements (or TORCH_COMMAND) changed since the last successful install.
set -euo pipefail

EASEL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EASEL_VENV:-$EASEL_DIR/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
TORCH_COMMAND="${TORCH_COMMAND:-pip install torch==2.14.1 torchvision==0.29.1}"
# Test oracles whose registry releases drag in packages that break CPU installs: installed without dependencies.
TEST_NODEPS="k-diffusion==0.1.1.post1 open-clip-torch==3.3.0"

_stamp_of() {
    { echo "$TORCH_COMMAND"; cat "$EASEL_DIR/requirements.txt";
      if [ "$1" = test ]; then cat "$EASEL_DIR/requirements-test.txt" "$EASEL_DIR/requirements-cluster.txt";
          echo "$TEST_NODEPS"; fi; } | sha256sum | cut -c1-16
}

# Ray for the cluster flags (docs/cluster.md): installed on demand, into the same venv, pinned.
ensure_cluster() {
    local stamp_file="$VENV/.easel-cluster"
    local want
    want="$(sha256sum < "$EASEL_DIR/requirements-cluster.txt" | cut -c1-16)"
    if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
        return 0
    fi
    echo "easel: installing requirements-cluster.txt (Ray)"
    "$VENV/bin/python" -m pip install -q -r "$EASEL_DIR/requirements-cluster.txt"
    echo "$want" > "$stamp_file"
}

# True when the command line (or COMMANDLINE_ARGS) asks for a cluster.
wants_cluster() {
    local word
    for word in "$@" ${COMMANDLINE_ARGS:-}; do
        case "$word" in --workers|--workers=*|--ray-address|--ray-address=*|--worker) return 0 ;; esac
    done
    return 1
}

ensure_venv() {
    local mode="${1:-run}"
    local stamp_file="$VENV/.easel-$mode"
    local want
    want="$(_stamp_of "$mode")"
    if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "easel: creating $VENV"
        "$PYTHON_BIN" -m venv "$VENV"
    fi
    local pip="$VENV/bin/python -m pip"
    echo "easel: installing torch ($TORCH_COMMAND)"
    # shellcheck disable=SC2086
    $VENV/bin/python -m ${TORCH_COMMAND}
    echo "easel: installing requirements.txt"
    $pip install -q -r "$EASEL_DIR/requirements.txt"
    if [ "$mode" = test ]; then
        echo "easel: installing test requirements"
        $pip install -q -r "$EASEL_DIR/requirements-test.txt" -r "$EASEL_DIR/requirements-cluster.txt"
        # shellcheck disable=SC2086
        $pip install -q --no-deps $TEST_NODEPS
    fi
    echo "$want" > "$stamp_file"
    # The test set includes everything the run set needs.
    if [ "$mode" = test ]; then _stamp_of run > "$VENV/.easel-run"; fi
}
