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
exec "$VENV/bin/python" -m pytest "$@"
