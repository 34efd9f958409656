import pytest

pytest.importorskip("trl", reason="the peers extra (TRL) is not installed")

from devtools import speed_peers  # noqa: E402


def test_speed_peers_runs_every_comparison_on_the_tiny_model(capsys):
    """Each comparison prints its medians and ratios (timings are not asserted: the benchmark
    measures them)."""
    speed_peers.main(
        [
            "--model", "tiny-random", "--steps", "1", "--prompts", "2", "--group", "2",
            "--max-new-tokens", "4", "--micro-batch", "2", "--sizes", "1", "3",
            "--autocast", "none", "bf16",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("  generate ") == 2 and "generate 3 x 4 tokens" in out
    assert "grpo step: suite " in out and "grpo step: suite bf16 " in out
    assert "TRL GRPOTrainer" in out and "TRL GKDTrainer" in out
    peers = speed_peers.available_peers()
    # each peer: one line for the fp32 suite, one for bf16, against the same TRL timings
    assert out.count("sd step: suite bf16 ") == len(peers) - 1
    assert out.count("sd step: suite ") == 2 * (len(peers) - 1)
    assert out.count("medians of 1") == 2 + 2 * len(peers)
    assert "load average" in out


def test_reward_and_timings():
    assert speed_peers.reward("xyz") == 0 and speed_peers.reward("AEIOU") == 1
    assert speed_peers.reward("a b") == 1 / 3 and speed_peers.reward("") == 0
    t = speed_peers.Timings()
    for total, generation in [(3.0, 1.0), (5.0, 1.5), (4.0, 2.0)]:
        t.add(total, generation)
    assert t.medians() == (4.0, 1.5, 2.0)


def test_speed_peers_profiles_a_suite_step_with_autocast(capsys):
    speed_peers.main(
        [
            "--model", "tiny-random", "--prompts", "2", "--group", "2", "--max-new-tokens", "4",
            "--micro-batch", "2", "--autocast", "bf16", "--profile",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "grpo step" in out and "sd step" in out and out.count("aten::") >= 8


def test_speed_peers_trl_in_bf16(capsys):
    speed_peers.main(
        [
            "--model", "tiny-random", "--steps", "1", "--prompts", "2", "--group", "2",
            "--max-new-tokens", "4", "--micro-batch", "2", "--peers", "grpo",
            "--autocast", "bf16", "--trl-bf16",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "TRL bf16" in out and "grpo step: suite bf16 " in out and "TRL GRPOTrainer" in out
