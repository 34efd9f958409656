"""SQLite store: round trip, no duplicates on re-add, unfinished runs refused, schema versions."""

import json
import sqlite3

import pytest

from leaderboard.store import (
    SCHEMA_VERSION,
    RunRejected,
    Store,
    StoreError,
    add_run,
    config_key,
    db_path,
)
from rundir import RunDirError, read_evals
from tests.leaderboard.rundirs import write_run


def test_round_trip(tmp_path):
    run = write_run(
        tmp_path / "r0",
        seed=3,
        curve=[(0, 0.0), (8, 0.25), (16, 0.75)],
        tokens=(1000, 200, 30),
        wall_seconds=12.5,
    )
    with Store(tmp_path / "lb.sqlite") as store:
        added = store.add_run(run)
        (back,) = store.runs()
    assert back == added
    assert back.run_dir == str(run.resolve())
    assert (back.env, back.model, back.learner, back.label, back.seed) == (
        "wordle",
        "tiny-random",
        "resd",
        "resd",
        3,
    )
    assert (back.samples, back.final_success, back.tokens, back.wall_seconds) == (
        16,
        0.75,
        1230,
        12.5,
    )
    assert [(p.samples, p.success_mean, p.success_best) for p in back.curve] == [
        (0, 0.0, 0.1),
        (8, 0.25, 0.35),
        (16, 0.75, 0.85),
    ]
    assert back.curve == read_evals(run)


def test_re_add_updates_instead_of_duplicating(tmp_path):
    db = tmp_path / "lb.sqlite"
    run = write_run(tmp_path / "r0")
    add_run(run, db=db, label="resd[x=1]")
    write_run(tmp_path / "r0", curve=[(0, 0.0), (16, 1.0)])  # the run dir was rewritten
    add_run(str(tmp_path / "." / "r0"), db=db)  # another spelling of the same path
    with Store(db) as store:
        (back,) = store.runs()
        assert store.count() == 1
        n_points = store.conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    assert n_points == 2 and back.final_success == 1.0
    assert back.label == "resd[x=1]"  # re-adding without a label keeps the stored one


def test_unfinished_and_broken_runs_are_refused(tmp_path):
    with Store(tmp_path / "lb.sqlite") as store:
        unfinished = write_run(tmp_path / "going", finished=False)
        with pytest.raises(RunRejected, match="not finished") as info:
            store.add_run(unfinished)
        assert "\n" not in str(info.value)
        summary = json.loads((write_run(tmp_path / "f") / "summary.json").read_text())
        (tmp_path / "f" / "summary.json").write_text(json.dumps({**summary, "finished": False}))
        with pytest.raises(RunRejected, match="not finished"):
            store.add_run(tmp_path / "f")
        with pytest.raises(RunDirError, match="not a directory"):
            store.add_run(tmp_path / "nowhere")
        no_cfg = write_run(tmp_path / "nocfg")
        (no_cfg / "config.json").unlink()
        with pytest.raises(RunDirError, match="config.json: missing"):
            store.add_run(no_cfg)
        bad = write_run(tmp_path / "bad")
        (bad / "summary.json").write_text(json.dumps({**summary, "tokens": "many"}))
        with pytest.raises(RunDirError, match="summary.json"):
            store.add_run(bad)
        assert store.count() == 0


def test_schema_version_and_newer_db_refused(tmp_path):
    db = tmp_path / "lb.sqlite"
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
    with Store(db) as store:  # reopening migrates nothing and keeps the version
        assert store.schema_version() == SCHEMA_VERSION
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(db)
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all " * 100)
    with pytest.raises(StoreError, match="not a usable"):
        Store(junk)


def test_db_path_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("RESD_LEADERBOARD", raising=False)
    assert str(db_path()) == "runs/leaderboard.sqlite"
    monkeypatch.setenv("RESD_LEADERBOARD", str(tmp_path / "env.sqlite"))
    assert db_path() == tmp_path / "env.sqlite"
    assert db_path(tmp_path / "arg.sqlite") == tmp_path / "arg.sqlite"


def test_config_key_ignores_seed_and_provenance_only():
    base = {
        "env": "wordle",
        "learner_config": {"lr": 1e-5},
        "seed": 0,
        "git_commit": "a",
        "versions": {"torch": "2.13"},
    }
    same = {**base, "seed": 5, "git_commit": "b", "versions": {"torch": "2.14"}}
    assert config_key(base) == config_key(same)
    assert config_key(base) != config_key({**base, "learner_config": {"lr": 2e-5}})
    assert config_key(base) != config_key({**base, "env_knobs": {"preset": "hard"}})
