from devtools import speed_policy


def test_speed_policy_runs_on_the_tiny_model(capsys):
    """The benchmark's figures come out (timings are not asserted: benchmarks measure them)."""
    speed_policy.run("tiny-random", max_new=4, repeats=1)
    out = capsys.readouterr().out
    assert out.count("generate, fixed length") == 4 and out.count("generate, natural length") == 2
    assert "turns of 4 Wordle episodes" in out and "rows" in out
    assert out.count("score") == 3 and "peak RSS" in out
