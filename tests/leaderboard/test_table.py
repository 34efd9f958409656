"""Comparison table on synthetic runs: numbers by hand, pooling, sorting, formats, the CLI."""

import re
import sys

import pytest

from leaderboard.__main__ import main
from leaderboard.store import Store
from leaderboard.table import build_rows, render, table_text
from tests.leaderboard.rundirs import write_run

# resd over three seeds; AUCs by hand (trapezoids over 0..16, divided by 16):
#   s0 (8*.125 + 8*.375)/16 = .25, s1 (8*.25 + 8*.625)/16 = .4375, s2 (0 + 8*.125)/16 = .0625
RESD = [
    dict(seed=0, curve=[(0, 0.0), (8, 0.25), (16, 0.5)], tokens=(1000, 200, 30), wall_seconds=10),
    dict(seed=1, curve=[(0, 0.0), (8, 0.5), (16, 0.75)], tokens=(2000, 0, 0), wall_seconds=20),
    dict(seed=2, curve=[(0, 0.0), (8, 0.0), (16, 0.25)], tokens=(500, 100, 70), wall_seconds=30),
]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "lb.sqlite") as s:
        for kw in RESD:
            s.add_run(write_run(tmp_path / f"resd{kw['seed']}", **kw))
        s.add_run(
            write_run(
                tmp_path / "grpo0",
                learner="grpo",
                curve=[(0, 0.0), (16, 1.0)],
                tokens=(50, 0, 0),
                wall_seconds=7200,
            )
        )
        s.add_run(write_run(tmp_path / "mm", env="mastermind", learner="sd"))
        s.add_run(write_run(tmp_path / "big", model="smollm2-135m", learner="sd"))
        yield s


def test_numbers_by_hand(store):
    rows = build_rows(store.runs(env="wordle", model="tiny-random"), threshold=0.5)
    assert [r.learner for r in rows] == ["grpo", "resd"]  # AUC .5 before .25
    grpo, resd = rows
    assert resd.seeds == 3
    assert resd.auc.mean == pytest.approx(0.25, abs=1e-15)
    # each seed alone is a resample with probability 1/27 > 2.5%: the CI ends are the extremes
    assert (resd.auc.low, resd.auc.high) == (0.0625, 0.4375)
    assert resd.reach_median == 16 and resd.reached == 2  # [16, 8, never] -> median 16
    assert (resd.final.mean, resd.final.low, resd.final.high) == (0.5, 0.25, 0.75)
    assert resd.tokens == pytest.approx((1230 + 2000 + 670) / 3)
    assert resd.wall_seconds == 20
    assert (grpo.seeds, grpo.auc.mean, grpo.reach_median, grpo.final.mean) == (1, 0.5, 16, 1.0)
    assert (grpo.auc.low, grpo.auc.high) == (0.5, 0.5)  # one seed: the CI collapses

    strict = build_rows(store.runs(env="wordle", model="tiny-random"), threshold=0.8)
    assert strict[1].reach_median is None and strict[1].reached == 0


def test_plain_text(store):
    text = table_text(store, env="wordle", model="tiny-random")
    lines = text.splitlines()
    assert "AUC [95% CI]" in lines[0] and "samples to 0.5" in lines[0]
    grpo, resd = lines[2], lines[3]
    for cell in (
        "resd",
        " 3 ",
        "0.250 [0.062, 0.438]",
        "16 (2/3)",
        "0.500 [0.250, 0.750]",
        "1.3k",
        "20 s",
    ):
        assert cell in resd, cell
    for cell in ("grpo", "0.500", "16 (1/1)", "1.000", "50", "2.0 h"):
        assert cell in grpo, cell
    assert "not reached (0/3)" in table_text(
        store, env="wordle", model="tiny-random", threshold=0.9
    )


def test_sorting_and_filters(store):
    rows = build_rows(store.runs())
    assert [(r.env, r.model, r.learner) for r in rows] == [
        ("mastermind", "tiny-random", "sd"),
        ("wordle", "smollm2-135m", "sd"),
        ("wordle", "tiny-random", "grpo"),
        ("wordle", "tiny-random", "resd"),
    ]
    assert [r.env for r in build_rows(store.runs(env="mastermind"))] == ["mastermind"]
    assert table_text(store, env="nope").startswith("no runs match env=nope (6 runs in")


def test_other_settings_of_the_same_learner_stay_apart(store, tmp_path):
    store.add_run(write_run(tmp_path / "abl", seed=0, learner_config={"use_reflection": False}))
    rows = build_rows(store.runs(env="wordle", model="tiny-random"))
    labels = sorted(r.learner for r in rows)
    assert labels[0] == "grpo" and len(labels) == 3
    assert all(lab.startswith("resd#") for lab in labels[1:])
    assert sorted(r.seeds for r in rows if r.learner != "grpo") == [1, 3]
    store.add_run(tmp_path / "abl", label="resd[use_reflection=false]")  # a label separates
    rows = build_rows(store.runs(env="wordle", model="tiny-random"))
    assert sorted(r.learner for r in rows) == ["grpo", "resd", "resd[use_reflection=false]"]


def test_formats(store):
    rows = build_rows(store.runs(env="wordle"))
    gh = render(rows, "github").splitlines()
    assert gh[0].startswith("| env") and set(gh[1]) <= {"|", "-", ":"}
    assert sum(line.startswith("| wordle") for line in gh) == 3
    html = render(rows, "html")
    assert html.startswith("<table>") and html.count("<tr>") == 4
    cells = [c.strip() for c in re.findall(r"<td>(.*?)</td>", html)]
    assert cells[cells.index("resd") + 2] == "0.250 [0.062, 0.438]"
    with pytest.raises(ValueError, match="unknown format"):
        render(rows, "latex")


def test_cli(tmp_path, capsys, monkeypatch):
    db = tmp_path / "cli.sqlite"
    assert main(["--db", str(db)]) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and f"{sys.executable} -m leaderboard --add RUN_DIR" in out

    runs = [str(write_run(tmp_path / f"r{kw['seed']}", **kw)) for kw in RESD]
    going = str(write_run(tmp_path / "going", finished=False))
    monkeypatch.setenv("RESD_LEADERBOARD", str(db))
    assert main(["--add", *runs, going, "--format", "github"]) == 1  # one refused
    captured = capsys.readouterr()
    assert "error: " in captured.err and "not finished" in captured.err
    assert "| wordle" in captured.out and "0.250 [0.062, 0.438]" in captured.out
    assert main(["--add", *runs]) == 0  # re-adding does not duplicate
    assert capsys.readouterr().out.count("resd") == 1  # one pooled row, three seeds
    with Store(db) as s:
        assert s.count() == 3
    with pytest.raises(SystemExit):
        main(["--threshold", "1.5"])


def test_a_seed_counts_once_and_settings_show(tmp_path):
    """Two runs of seed 0 are one seed (the later counts), not "2 seeds" with an interval; runs
    of another budget or preset are another row, and the row says which."""
    with Store(tmp_path / "lb.sqlite") as store:
        first = write_run(tmp_path / "a", seed=0, curve=((0, 0.0), (16, 0.25)))
        store.add_run(first)
        store.conn.execute("UPDATE runs SET added_at = '2000-01-01T00:00:00+00:00'")
        store.add_run(write_run(tmp_path / "b", seed=0, curve=((0, 0.0), (16, 0.5))))
        store.add_run(write_run(tmp_path / "c", seed=0, curve=((0, 0.0), (32, 0.5))))
        store.add_run(
            write_run(tmp_path / "d", seed=0, curve=((0, 0.0), (16, 0.5)), config={"preset": "toy"})
        )
        rows = build_rows(store.runs())
    assert sorted((r.budget, r.preset or "", r.seeds, r.repeats) for r in rows) == [
        (16, "", 1, 1),
        (16, "toy", 1, 0),
        (32, "", 1, 0),
    ]
    repeated = next(r for r in rows if r.repeats)
    assert repeated.final.mean == 0.5 and repeated.final.n == 1  # the later run of seed 0
    text = render(rows)
    assert "1 (+1 repeated)" in text and "toy" in text and " 32 " in text
