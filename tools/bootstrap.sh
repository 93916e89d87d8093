#!/usr/bin/env bash
# Set up talkbench in ./.venv from scratch (idempotent): torch first, so that nothing pulls a build we did not choose,
# then the package with its dev tools, then the torchvision guard for CPU-only torch builds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
"$VPY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "$VPY" -m pip install -q torch torchvision          # a CUDA machine: the normal builds
  else
    "$VPY" -m pip install -q "torch==${TALKBENCH_TORCH:-2.13.0}"  # CPU machines: the local CPU wheel where there is one
  fi
fi
# Pin whatever torch is now installed so that no dependency upgrades it (a looser pin pulls multi-GB CUDA builds).
TORCH_VERSION=$("$VPY" -c "import torch; print(torch.__version__.split('+')[0])")
TV_VERSION=$("$VPY" - "$TORCH_VERSION" <<'PYEOF'
import sys
major, minor = (int(x) for x in sys.argv[1].split(".")[:2])
print(f"0.{minor + 15}.0" if major == 2 else "")
PYEOF
)
CONSTRAINTS=$(mktemp)
echo "torch==${TORCH_VERSION}" >"$CONSTRAINTS"
if ! "$VPY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('torchvision') is None)"; then
  [ -n "$TV_VERSION" ] && echo "torchvision==${TV_VERSION}" >>"$CONSTRAINTS"
fi
"$VPY" -m pip install -q -c "$CONSTRAINTS" -e ".[dev]" 2> >(grep -v "WARNING: Location" >&2)
rm -f "$CONSTRAINTS"
"$VPY" tools/patch_torchvision.py >/dev/null
# Debian's headless Chromium for the HTML leaderboard test; skipped (the test then skips) without root or apt-get.
if [ "${TALKBENCH_BROWSER:-auto}" != "no" ] && ! command -v chromedriver >/dev/null 2>&1 \
   && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
    || echo "note: could not install chromium; the browser test will be skipped"
fi
"$VPY" -c "import torch, torchvision, bench; print('talkbench ready: torch', torch.__version__, '| torchvision', torchvision.__version__)"
