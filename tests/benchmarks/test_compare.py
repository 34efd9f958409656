"""benchmarks.compare end to end with a stand-in runner that writes synthetic run dirs."""

import argparse
from pathlib import Path

import pytest

import benchmarks.run
from benchmarks.compare import LearnerSpec, main, parse_spec
from leaderboard.store import Store
from tests.leaderboard.rundirs import write_run


class FakeRunner:
    """Stands in for benchmarks.run.main: parses its options, writes a small finished run."""

    def __init__(self, crash_on: str | None = None):
        self.calls: list[list[str]] = []
        self.crash_on = crash_on

    def __call__(self, argv: list[str]) -> Path:
        self.calls.append(list(argv))
        p = argparse.ArgumentParser()
        for opt in ("--env", "--learner", "--out", "--budget"):
            p.add_argument(opt)
        p.add_argument("--seed", type=int)
        p.add_argument("--set", action="append", default=[])
        a = p.parse_args(argv)
        if a.learner == self.crash_on:
            raise RuntimeError("the runner crashed")
        good = a.learner == "resd" and not a.set
        ys = (0.0, 0.25 + 0.125 * a.seed, 0.75) if good else (0.0, 0.0, 0.125 * a.seed)
        budget = int(a.budget or 16)
        return write_run(
            Path(a.out),
            env=a.env,
            learner=a.learner,
            seed=a.seed,
            curve=list(zip((0, budget // 2, budget), ys, strict=True)),
            learner_config=dict(s.split("=") for s in a.set) or None,
        )


def test_parse_spec():
    assert parse_spec("grpo") == LearnerSpec("grpo")
    spec = parse_spec("resd:use_reflection=false, use_playbook=false")
    assert spec.label == "resd[use_reflection=false,use_playbook=false]"
    assert spec.run_args() == [
        "--learner",
        "resd",
        "--set",
        "use_reflection=false",
        "--set",
        "use_playbook=false",
    ]
    assert spec.slug == "resd_use_reflection=false,use_playbook=false"
    for bad in (":x=1", "resd:oops", "resd:=1"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_compare_end_to_end(tmp_path, monkeypatch, capsys):
    fake = FakeRunner()
    monkeypatch.setattr(benchmarks.run, "main", fake)
    db, out = tmp_path / "lb.sqlite", tmp_path / "cmp"
    argv = [
        "--env",
        "wordle",
        "--learners",
        "resd",
        "resd:use_reflection=false",
        "grpo",
        "--seeds",
        "0",
        "1",
        "--out",
        str(out),
        "--db",
        str(db),
        "--",
        "--budget",
        "32",
    ]
    assert main(argv) == 0
    assert len(fake.calls) == 6
    assert fake.calls[0] == [
        "--budget",
        "32",
        "--env",
        "wordle",
        "--learner",
        "resd",
        "--seed",
        "0",
        "--out",
        str(out / "resd" / "seed0"),
    ]
    assert "--set" in fake.calls[2] and "use_reflection=false" in fake.calls[2]
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG")

    table = capsys.readouterr().out.splitlines()
    learners = [line.split()[2] for line in table[2:]]
    assert learners == ["resd", "grpo", "resd[use_reflection=false]"]  # AUC descending
    resd = table[2]
    # resd seeds: curves (0, .25, .75) and (0, .375, .75) over 0..32 -> AUC .3125 and .375
    assert "0.344 [0.312, 0.375]" in resd and "32 (2/2)" in resd and "0.750" in resd
    with Store(db) as store:
        labels = sorted({r.label for r in store.runs(env="wordle")})
        assert store.count() == 6
    assert labels == ["grpo", "resd", "resd[use_reflection=false]"]

    # a second call finds every run finished: nothing is trained again, nothing duplicated
    assert main(argv) == 0
    assert len(fake.calls) == 6
    with Store(db) as store:
        assert store.count() == 6


def test_compare_goes_on_after_a_crash(tmp_path, monkeypatch, capsys):
    fake = FakeRunner(crash_on="grpo")
    monkeypatch.setattr(benchmarks.run, "main", fake)
    argv = [
        "--env",
        "wordle",
        "--learners",
        "grpo",
        "resd",
        "--seeds",
        "0",
        "--out",
        str(tmp_path / "cmp"),
        "--db",
        str(tmp_path / "lb.sqlite"),
    ]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "grpo seed 0 crashed" in captured.err
    assert "resd" in captured.out and "grpo" not in captured.out
    assert (tmp_path / "cmp" / "compare.png").exists()


def test_compare_refuses_bad_arguments(tmp_path):
    base = ["--env", "wordle", "--out", str(tmp_path), "--db", str(tmp_path / "x.sqlite")]
    for extra in (
        ["--learners", "resd", "--", "--seed", "3"],
        ["--learners", "resd", "resd"],
        ["--learners", "resd:bad"],
        ["--learners", "resd", "--seeds", "1", "1"],
    ):
        with pytest.raises(SystemExit):
            main(base + extra)
