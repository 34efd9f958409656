"""Run settings that name registered things: the engine and the environment's answer length."""

from __future__ import annotations

import pytest

from benchmarks import run as runner
from benchmarks.config import RunConfig, RunConfigError, resolve


def test_engine_defaults_to_hf_and_takes_a_registered_name():
    assert resolve(None, {}).engine == "hf"
    assert resolve(None, {"engine": "vllm"}).engine == "vllm"  # checked by name, built later


def test_an_unknown_engine_is_a_one_line_error_naming_the_registered_ones():
    with pytest.raises(RunConfigError, match=r"^engine='onnx' is unknown: .* hf, vllm$"):
        resolve(None, {"engine": "onnx"})
    with pytest.raises(SystemExit, match=r"^error: engine='onnx' is unknown"):
        runner.main(["--env", "secret", "--engine", "onnx", "--no-leaderboard"])


def test_the_engine_is_no_longer_a_model_option():
    with pytest.raises(RunConfigError, match=r"model_options.engine .* \(--engine\)"):
        RunConfig(model_options={"engine": "vllm"}).validate()


def test_the_command_line_passes_the_engine():
    args = runner.parse_args(["--engine", "vllm"])
    assert runner.config_from_args(args).engine == "vllm"
    assert runner.config_from_args(runner.parse_args([])).engine == "hf"


def test_an_environment_that_cannot_run_here_is_a_one_line_error():
    pytest.importorskip("textarena", reason="textarena is not installed (extra: textarena)")
    with pytest.raises(SystemExit, match=r"^error: textarena/TicTacToe-v0 is not a single-pl"):
        runner.main(["--env", "textarena/TicTacToe-v0", "--no-leaderboard"])
