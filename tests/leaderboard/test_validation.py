"""The leaderboard refuses runs it cannot use, in one line, and one bad row never stops it.

Adding checks every run (finite numbers, a curve that never goes back, UTF-8, names without
control characters, a summary that matches its curve); rendering escapes what could break a
format (``|`` in Markdown, newlines, ANSI escapes, lone surrogates); a stored row that cannot
be tabulated is skipped with a warning; a bad schema_version is a one-line error.
"""

from __future__ import annotations

import json
import math
import sqlite3
import unicodedata

import pytest
from hypothesis import given

from leaderboard.__main__ import main
from leaderboard.store import UNPRINTABLE, RunRejected, Store, StoredRun, StoreError
from leaderboard.table import build_rows, render, table_text
from rundir import EVALS, EvalRecord, RunDirError
from tests.hostile_text import FAST, hostile_text
from tests.leaderboard.rundirs import write_run

HOSTILE_NAMES = ["a|b", "two\nlines", "\x1b[31mred\x1b[0m", "bidi\u202egpj.exe", "cut\ud800"]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "lb.sqlite"
    with Store(path) as store:
        store.add_run(write_run(tmp_path / "good", seed=0))
        store.add_run(write_run(tmp_path / "other", seed=1, learner="grpo"))
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def force_row(db, run_dir: str, **columns) -> None:
    """Overwrite stored columns by hand, as an older version or an edit might have left them."""
    conn = sqlite3.connect(db)
    with conn:
        for column, value in columns.items():
            conn.execute(f"UPDATE runs SET {column} = ? WHERE run_dir = ?", (value, run_dir))
    conn.close()


def resd_run(db) -> str:
    """The stored path of the fixture's resd run (the one tests damage)."""
    return str((db.parent / "good").resolve())


# -- names --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", HOSTILE_NAMES[1:])
def test_names_with_control_characters_are_refused_on_add(tmp_path, name):
    with Store(tmp_path / "lb.sqlite") as store:
        with pytest.raises(RunRejected, match="holds control characters") as info:
            store.add_run(write_run(tmp_path / "r", model=name))
        assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
        with pytest.raises(RunRejected, match="label"):
            store.add_run(write_run(tmp_path / "r"), label=name)
        assert store.count() == 0


def test_a_pipe_in_a_name_is_escaped_in_markdown(tmp_path):
    with Store(tmp_path / "lb.sqlite") as store:
        store.add_run(write_run(tmp_path / "r", model="org|model"), label="resd[a=|]")
        text = table_text(store, fmt="github")
    header, rule, row = text.splitlines()
    assert row.count("|") - row.count("\\|") == header.count("|") == rule.count("|")
    assert "org\\|model" in row and "resd[a=\\|]" in row


def test_stored_hostile_names_render_escaped_in_every_format(db, capsys):
    good = resd_run(db)
    force_row(db, good, model="\x1b[2Jwipe|out\nline", label="bidi\u202e\u2028")
    for fmt in ("plain", "github", "html"):
        with Store(db) as store:
            text = table_text(store, fmt=fmt)
        assert not any(ch in text for ch in "\x1b\u202e\u2028")
        assert "\\x1b[2Jwipe" in text and "\\u202e\\u2028" in text
        if fmt == "github":
            assert len(text.splitlines()) == 4  # header, rule, two rows: no row was split
            assert len({line.count("|") - line.count("\\|") for line in text.splitlines()}) == 1


@FAST
@given(hostile_text, hostile_text, hostile_text)
def test_any_name_renders_in_every_format(env, model, label):
    point = EvalRecord(0, 0, 0.5, 0.5, 0.5, 1.0, 2, 4)
    run = StoredRun("/r", env, model, "resd", label, "key", 0, 0, 0.5, 10, 1.0, [point])
    for fmt in ("plain", "github", "html"):
        text = render(build_rows([run]), fmt)
        text.encode("utf-8")  # printable: no lone surrogate left
        assert not any(unicodedata.category(ch) in UNPRINTABLE for ch in text.replace("\n", ""))
        assert len(text.splitlines()) == {"plain": 3, "github": 3, "html": 8}[fmt]


# -- runs refused on add ------------------------------------------------------------------------
def test_a_nan_final_success_is_refused(tmp_path, capsys):
    run = write_run(tmp_path / "r")
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "final_success": math.nan}))
    assert main(["--db", str(tmp_path / "lb.sqlite"), "--add", str(run)]) == 1
    assert "summary.json: final_success=nan is not a finite number" in one_line_error(capsys)


def test_a_non_utf8_config_is_refused(tmp_path, capsys):
    run = write_run(tmp_path / "r")
    (run / "config.json").write_bytes(b'{"env": "w\xf6rdle"}')
    assert main(["--db", str(tmp_path / "lb.sqlite"), "--add", str(run)]) == 1
    assert "config.json: not UTF-8 (byte 10)" in one_line_error(capsys)


def test_a_curve_that_goes_back_is_refused(tmp_path):
    run = write_run(tmp_path / "r", curve=[(0, 0.0), (16, 0.5), (8, 0.25)])
    with Store(tmp_path / "lb.sqlite") as store:
        with pytest.raises(RunDirError, match=r"evals.jsonl:3: the curve goes back"):
            store.add_run(run)
        assert store.count() == 0


def test_an_edited_or_torn_eval_line_is_refused(tmp_path):
    run = write_run(tmp_path / "r")
    lines = (run / EVALS).read_bytes().splitlines(keepends=True)
    (run / EVALS).write_bytes(lines[0] + lines[1].replace(b"0.25", b"0.95") + lines[2])
    with Store(tmp_path / "lb.sqlite") as store:
        with pytest.raises(RunDirError, match=r"evals.jsonl:2: checksum mismatch"):
            store.add_run(run)
        (run / EVALS).write_bytes(b"".join(lines) + lines[2][:20])
        with pytest.raises(RunDirError, match=r"evals.jsonl:4: torn last line"):
            store.add_run(run)


def test_a_summary_that_contradicts_its_curve_is_refused(tmp_path):
    run = write_run(tmp_path / "r")
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "final_success": 0.9}))
    with Store(tmp_path / "lb.sqlite") as store:
        with pytest.raises(RunRejected, match="contradicts evals.jsonl's last line"):
            store.add_run(run)


# -- bad stored rows and databases ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("columns", "why"),
    [
        ({"final_success": math.inf}, "not finite"),
        ({"final_success": "high"}, "not finite"),
        ({"env": b"\xff"}, "not text"),
    ],
)
def test_a_bad_stored_row_is_skipped_with_a_warning(db, capsys, columns, why):
    good = resd_run(db)
    force_row(db, good, **columns)
    assert main(["--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert f"warning: skipped stored run {good!r}" in err and why in err
    assert "grpo" in out and "resd" not in out


def test_a_stored_curve_that_goes_back_is_skipped(db, capsys):
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE points SET samples = 99 WHERE run_dir = ? AND idx = 0", (resd_run(db),)
        )
    conn.close()
    assert main(["--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert "curve goes back" in err and "grpo" in out and "resd" not in out


@pytest.mark.parametrize("value", ["one", "", None, "1.5"])
def test_a_bad_schema_version_is_one_line(db, capsys, value):
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))
    conn.close()
    with pytest.raises(StoreError, match="schema_version .* is not a number"):
        Store(db)
    assert main(["--db", str(db)]) == 1
    assert "is not a number" in one_line_error(capsys)


def test_an_unwritable_database_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["--db", str(tmp_path / "file" / "lb.sqlite")]) == 1
    assert "lb.sqlite" in one_line_error(capsys)
