"""benchmarks.compare end to end with a stand-in runner that writes synthetic run dirs."""

from pathlib import Path

import pytest

import benchmarks.run
from benchmarks.compare import LearnerSpec, main, parse_spec
from leaderboard.store import Store
from tests.leaderboard.rundirs import write_run


class FakeRunner:
    """Stands in for benchmarks.run.run_config: records the resolved config, writes a small
    finished run with its config key (no model is loaded)."""

    def __init__(self, crash_on: str | None = None):
        self.calls: list[tuple] = []
        self.crash_on = crash_on

    def __call__(self, config, out: Path, leaderboard: bool = True) -> Path:
        self.calls.append((config, out, leaderboard))
        if config.learner == self.crash_on:
            raise RuntimeError("the runner crashed")
        good = config.learner == "resd" and config.learner_set.get("use_reflection") is not False
        seed, budget = config.seed, config.budget
        ys = (0.0, 0.25 + 0.125 * seed, 0.75) if good else (0.0, 0.0, 0.125 * seed)
        record = benchmarks.run.config_record(config)
        return write_run(
            Path(out),
            env=config.env,
            learner=config.learner,
            seed=seed,
            curve=list(zip((0, budget // 2, budget), ys, strict=True)),
            learner_config=record["learner_config"],
            config={k: v for k, v in record.items() if k != "seed"},
        )


def test_parse_spec():
    assert parse_spec("grpo") == LearnerSpec("grpo")
    spec = parse_spec("resd:use_reflection=false, use_playbook=false")
    assert spec.label == "resd[use_reflection=false,use_playbook=false]"
    assert spec.settings == (("use_reflection", "false"), ("use_playbook", "false"))
    assert spec.slug == "resd_use_reflection=false,use_playbook=false"
    for bad in (":x=1", "resd:oops", "resd:=1"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_compare_end_to_end(tmp_path, monkeypatch, capsys):
    fake = FakeRunner()
    monkeypatch.setattr(benchmarks.run, "run_config", fake)
    monkeypatch.setenv("RESD_LEADERBOARD", str(tmp_path / "default.sqlite"))
    db, out = tmp_path / "lb.sqlite", tmp_path / "cmp"
    argv = [
        "--env",
        "wordle",
        "--learners",
        "resd",
        "resd:use_reflection=false,use_playbook=false",
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
    config, run_dir, leaderboard = fake.calls[0]
    assert (config.env, config.learner, config.seed, config.budget) == ("wordle", "resd", 0, 32)
    assert not leaderboard, "compare stores runs in its own --db, not the default leaderboard"
    key = benchmarks.run.config_record(config)["config_key"]
    assert run_dir == out / "resd" / f"seed0-{key[:8]}"
    assert (
        fake.calls[2][0].learner_set.items()
        >= {"use_reflection": False, "use_playbook": False}.items()
    )
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG")

    table = capsys.readouterr().out.splitlines()
    learners = [line.split()[2] for line in table[2:]]
    assert learners == [
        "resd",
        "grpo",
        "resd[use_reflection=false,use_playbook=false]",
    ]  # AUC descending
    resd = table[2]
    # resd seeds: curves (0, .25, .75) and (0, .375, .75) over 0..32 -> AUC .3125 and .375
    assert "0.344 [0.312, 0.375]" in resd and "32 (2/2)" in resd and "0.750" in resd
    with Store(db) as store:
        labels = sorted({r.label for r in store.runs(env="wordle")})
        assert store.count() == 6
    assert labels == ["grpo", "resd", "resd[use_reflection=false,use_playbook=false]"]
    assert not (tmp_path / "default.sqlite").exists()

    # a second call finds every run finished: nothing is trained again, nothing duplicated
    assert main(argv) == 0
    assert len(fake.calls) == 6
    assert capsys.readouterr().err.count("reused") == 6
    with Store(db) as store:
        assert store.count() == 6

    # another budget is another configuration: run again, in its own directory
    again = ["--env", "wordle", "--learners", "grpo", "--out", str(out), "--db", str(db)]
    assert main([*again, "--", "--budget", "16"]) == 0
    assert len(fake.calls) == 7 and fake.calls[6][0].budget == 16
    assert "the configuration changed since" in capsys.readouterr().err


def test_a_bad_spec_is_reported_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    fake = FakeRunner()
    monkeypatch.setattr(benchmarks.run, "run_config", fake)
    argv = ["--env", "wordle", "--learners", "resd:alpah=1", "sd:alpha=7", "grpo"]
    argv += ["--out", str(tmp_path / "cmp"), "--db", str(tmp_path / "lb.sqlite")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "resd[alpah=1] seed 0: unknown setting(s) alpah" in err
    assert "sd[alpha=7] seed 0: alpha=7 is invalid" in err
    assert [c[0].learner for c in fake.calls] == ["grpo"]


def test_compare_goes_on_after_a_crash(tmp_path, monkeypatch, capsys):
    fake = FakeRunner(crash_on="grpo")
    monkeypatch.setattr(benchmarks.run, "run_config", fake)
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
    assert "grpo seed 0: crashed" in captured.err
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
