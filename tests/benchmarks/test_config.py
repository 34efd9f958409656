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


def test_vllm_past_one_gpu_from_the_command_line_and_presets(tmp_path):
    args = runner.parse_args(
        ["--engine", "vllm", "--tensor-parallel-size", "2", "--gpu-memory-fraction", "0.6"]
    )
    config = runner.config_from_args(args)
    assert config.policy_options()["engine_options"] == {
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.6,
    }
    preset = tmp_path / "gpus.toml"
    preset.write_text(
        'engine = "vllm"\ntensor_parallel_size = 4\n'
        "[model_options.engine_options]\nmax_logprobs = 128\n"
    )
    config = resolve(str(preset), {"gpu_memory_fraction": 0.5})
    assert config.policy_options()["engine_options"] == {
        "max_logprobs": 128,
        "tensor_parallel_size": 4,
        "gpu_memory_utilization": 0.5,
    }
    assert resolve(None, {}).policy_options() == {}  # nothing given, nothing passed
    # how a run is executed, not what it measures: the config key does not change
    plain = runner.config_record(resolve(None, {"engine": "vllm"}))["config_key"]
    assert runner.config_record(config)["config_key"] != plain  # (the preset's max_logprobs)
    split = resolve(None, {"engine": "vllm", "tensor_parallel_size": 8, "gpu_memory_fraction": 0.9})
    assert runner.config_record(split)["config_key"] == plain


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"tensor_parallel_size": 2}, "are vLLM settings: add --engine vllm"),
        ({"engine": "vllm", "tensor_parallel_size": 0}, "tensor_parallel_size=0 is invalid"),
        ({"engine": "vllm", "gpu_memory_fraction": 1.5}, "gpu_memory_fraction=1.5 is invalid"),
    ],
)
def test_vllm_settings_are_checked(overrides, message):
    with pytest.raises(RunConfigError, match=message):
        resolve(None, overrides)


def test_fsdp_from_the_command_line_and_presets(tmp_path):
    assert resolve(None, {}).fsdp is False
    config = runner.config_from_args(runner.parse_args(["--fsdp"]))
    assert config.fsdp is True
    preset = tmp_path / "fsdp.toml"
    preset.write_text("fsdp = true\n")
    assert resolve(str(preset), {}).fsdp is True
    # how a run is executed, not what it measures: the config key does not change
    plain = runner.config_record(resolve(None, {}))["config_key"]
    assert runner.config_record(config)["config_key"] == plain


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"fsdp": True, "engine": "vllm"}, "fsdp needs the hf engine, not engine='vllm'"),
        ({"fsdp": True, "model_options": {"lora": {"r": 8}}}, "does not work with LoRA"),
        ({"fsdp": "yes"}, "fsdp='yes' is invalid"),
    ],
)
def test_fsdp_is_refused_where_it_is_not_wired(overrides, message):
    with pytest.raises(RunConfigError, match=message):
        resolve(None, overrides)


def test_autocast_from_the_command_line_and_presets(tmp_path):
    from benchmarks.config import AUTOCAST
    from learners.models.hf_engine import AUTOCAST_DTYPES

    assert set(AUTOCAST) == set(AUTOCAST_DTYPES)  # the names the config checks without torch
    config = runner.config_from_args(runner.parse_args(["--autocast", "bf16"]))
    assert config.policy_options() == {"autocast": "bf16"}  # Policy.load(..., autocast="bf16")
    plain = runner.config_record(resolve(None, {}))["config_key"]
    # it changes the numbers a run produces, so it is part of what the run measures
    assert runner.config_record(config)["config_key"] != plain
    preset = tmp_path / "bf16.toml"
    preset.write_text('[model_options]\nautocast = "bf16"\n')
    assert resolve(str(preset), {}).policy_options() == {"autocast": "bf16"}
    off = runner.cli_overrides(runner.parse_args(["--autocast", "none"]))
    assert resolve(str(preset), off).policy_options() == {}
    assert "autocast" not in resolve(str(preset), off).model_options  # no trace in the key
    with pytest.raises(RunConfigError, match=r"model_options.autocast='int8' is invalid"):
        resolve(None, {"model_options": {"autocast": "int8"}})
    with pytest.raises(SystemExit):
        runner.parse_args(["--autocast", "int8"])


def test_command_line_learner_settings_win_over_the_presets_learner_table(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text(
        "[learner]\nlr = 1e-4\n"
        "[learner.resd]\nlr = 2e-4\nreflection = { max_new_tokens_reflect = 64, curate = false }\n"
    )
    plain = resolve(str(preset), {"learner": "resd"}).learner_set
    assert plain == {"lr": 2e-4, "reflection": {"max_new_tokens_reflect": 64, "curate": False}}
    cli = {"lr": 5e-3, "reflection": {"oracle": True, "curate": True}}
    got = resolve(str(preset), {"learner": "resd", "learner_set": cli}).learner_set
    assert got["lr"] == 5e-3
    # a table setting merges key by key: the preset's other reflection settings stay
    assert got["reflection"] == {"max_new_tokens_reflect": 64, "curate": True, "oracle": True}
    # another learner gets the shared settings only
    assert resolve(str(preset), {"learner": "sd"}).learner_set == {"lr": 1e-4}
