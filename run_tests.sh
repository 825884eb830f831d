#!/usr/bin/env bash
# Set up Easel plus the test-only packages, then run the whole test suite (unit, tiny-model, browser).
# Extra arguments go to pytest (e.g. bash run_tests.sh -k infotext).
set -euo pipefail
cd "$(dirname "$0")"
source tools/ensure_venv.sh
ensure_venv test
# Browser tests drive Debian's Chromium; install it when missing and we may (CI runs as root).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "easel: installing chromium for the browser tests"
    # the emoji font only makes the screenshots show the tool buttons' icons (🎲 ♻️ 🔄) as users see them
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
        && (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null || true)) \
        || echo "easel: could not install chromium; browser tests will be skipped"
fi
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False
# The suite runs in the precision this CPU picks (bf16 with AVX512-BF16 or AMX, else float32). Tests marked
# `precision` (tiny-model pipeline tests: they compare pictures) then run again in float32 on a bf16 CPU, so that
# both CPU kinds are covered (docs/pipeline.md, "Testing both precisions"). EASEL_TEST_PRECISION set by the caller
# forces one precision for the whole run and skips the second pass.
# The Ray cluster tests run in a pytest process of their own: Ray changes the process it runs in (it replaces
# builtins.print, so the pickle-refusal tests saw Ray's function; a browser test after them found an asyncio loop
# running). With arguments, the run is as given.
# Without arguments the suite runs in EASEL_TEST_WORKERS processes (default 2; pytest-xdist, a test file stays in
# one process so its fixtures are built once): 13 min instead of 27 on two cores, as much of the time is spent
# waiting on servers, browsers and subprocesses.
WORKERS=(-n "${EASEL_TEST_WORKERS:-2}" --dist loadfile)
status=0
if [ "$#" -eq 0 ]; then
    # The lint and type gate (docs/contributing.md, section 3; settings in pyproject.toml): any finding fails the
    # run, after the tests have run too.
    echo "easel: ruff and mypy"
    "$VENV/bin/python" -m ruff check . || status=1
    rm -f modules/ui/*.pyi  # stubs Gradio writes at run time; mypy would read a stale one instead of the module
    "$VENV/bin/python" -m mypy || status=1
    "$VENV/bin/python" -m pytest --durations=25 "${WORKERS[@]}" --ignore=tests/cluster || status=$?
    "$VENV/bin/python" -m pytest tests/cluster || { rc=$?; [ "$rc" = 5 ] || status=$rc; }
else
    "$VENV/bin/python" -m pytest --durations=25 "$@" || status=$?
fi
if [ -n "${EASEL_TEST_PRECISION:-}" ] || ! grep -qE '\b(avx512_bf16|amx_bf16)\b' /proc/cpuinfo 2>/dev/null; then
    exit "$status"
fi
echo "easel: running the precision-marked tests again in float32"
# exit code 5: the selection holds no precision-marked test (e.g. `bash run_tests.sh tests/api`): nothing to redo
[ "$#" -eq 0 ] && set -- "${WORKERS[@]}"
EASEL_TEST_PRECISION=float32 "$VENV/bin/python" -m pytest -m precision "$@" || { rc=$?; [ "$rc" = 5 ] || status=$rc; }
exit "$status"
