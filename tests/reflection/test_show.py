"""python -m reflection.show: the model's reflections, the lessons per step, the tag tallies."""

import pytest

from reflection import (
    Attempt,
    PlaybookRecorder,
    ReflectionConfig,
    ReflectionPipeline,
    ScriptedGenerator,
    read_history,
)
from reflection.pipeline import RAW_CHARS
from reflection.playbook import Playbook
from reflection.recorder import tally_lessons
from reflection.show import main, shorten
from rundir import RunDir
from tests.reflection.test_pipeline import FAIL_1, FAIL_2, WIN, scripted, seeded_playbook


def recorded_run(path, pipe, batches):
    run_dir = RunDir.create(path)
    recorder = PlaybookRecorder(run_dir)
    for step, attempts in enumerate(batches, start=1):
        recorder.record(pipe.update(step, attempts), pipe.playbook)
    run_dir.close()
    return path


def test_history_keeps_what_the_model_wrote(tmp_path):
    pipe = ReflectionPipeline(scripted(), ReflectionConfig(frequency=100), seeded_playbook())
    run = recorded_run(tmp_path / "run", pipe, [[FAIL_1, WIN, FAIL_2]])
    (ok, dropped) = read_history(run)[0]["reflections"]
    assert ok["status"] == "ok" and "Key insight: track absent letters" in ok["text"]
    assert '"key_insight": "track absent letters"' in ok["raw"]
    assert dropped == {
        "task_id": "w:2",
        "status": "dropped",
        "text": "",
        "raw": "I cannot produce JSON today",
    }
    # an essay is clipped to its head and tail; an oracle diagnosis has no model text at all
    essay = "A" * 500 + "B" * 2000 + "Z" * 500
    long_pipe = ReflectionPipeline(ScriptedGenerator([essay]), ReflectionConfig(curate=False))
    raw = long_pipe.update(1, [FAIL_2]).to_record()["reflections"][0]["raw"]
    assert raw.startswith("A" * (RAW_CHARS // 2)) and raw.endswith("Z" * (RAW_CHARS // 2))
    assert "characters cut" in raw and len(raw) < RAW_CHARS + 50
    empty = ReflectionPipeline(ScriptedGenerator([""]), ReflectionConfig(curate=False))
    assert empty.update(1, [FAIL_2]).to_record()["reflections"][0]["raw"] == ""
    oracle = ReflectionPipeline(
        None, ReflectionConfig(oracle=True, tag_successes=False, curate=False)
    )
    assert "raw" not in oracle.update(1, [FAIL_1]).to_record()["reflections"][0]


def test_tally_lessons_counts_tags_over_the_run(tmp_path):
    pipe = ReflectionPipeline(scripted(), ReflectionConfig(frequency=2), seeded_playbook())
    run = recorded_run(tmp_path / "run", pipe, [[FAIL_1, WIN, FAIL_2]] * 3)
    tallies = {t.id: t for t in tally_lessons(read_history(run), pipe.playbook)}
    # by hand: each step the failure tags str-00001 harmful and the success str-00002 helpful;
    # the concise after step 2 removes str-00001, so step 3's tag of it is an unknown id
    assert (tallies["str-00002"].helpful, tallies["str-00002"].harmful) == (3, 0)
    assert (tallies["str-00001"].helpful, tallies["str-00001"].harmful) == (0, 2)
    assert tallies["str-00001"].removed == "step 2: concise: harmful"
    assert tallies["str-00002"].added_step is None and tallies["err-00003"].added_step == 1
    # the playbook counts tags on its own: the two must agree for every lesson still in it
    for bullet in pipe.playbook.bullets.values():
        t = tallies[bullet.id]
        assert (t.helpful, t.harmful, t.neutral) == (bullet.helpful, bullet.harmful, bullet.neutral)
    assert list(tallies)[:2] == ["str-00002", "str-00001"]  # most tagged first


@pytest.mark.parametrize(
    ("text", "width", "want"),
    [
        ("short", 20, "short"),
        ("two\n  lines\tand tabs", 40, "two lines and tabs"),
        ("x" * 100, 30, "x" * 14 + "... [+86 chars]"),
        ("y" * 45, 40, "y" * 25 + "... [+20 chars]"),
        ("x" * 100, 0, "x" * 100),
        ("bell\x07 and \x1b[31mred", 40, "bell\\x07 and \\x1b[31mred"),
    ],
)
def test_shorten(text, width, want):
    got = shorten(text, width)
    assert got == want
    assert width == 0 or len(got) <= width


def test_show_prints_reflections_steps_and_tallies(tmp_path, capsys):
    pipe = ReflectionPipeline(scripted(), ReflectionConfig(frequency=2), seeded_playbook())
    run = recorded_run(tmp_path / "run", pipe, [[FAIL_1, WIN, FAIL_2]] * 3)
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "  > [ok] w:1: Error: reused C Root cause: ignored marks" in out
    assert '  > [dropped] w:2: model wrote: "I cannot produce JSON today"' in out
    assert "  + [err-00004] Drop letters marked absent from later guesses." in out  # step 2
    assert "== 5 lessons, tags over the run (most tagged first) ==" in out
    assert "  [str-00002] helpful 3, harmful 0, neutral 0; before the history" in out
    assert "[str-00001] helpful 0, harmful 2, neutral 0; before the history, removed" in out
    assert main([str(run), "--reflections", "1", "--width", "40"]) == 0
    out = capsys.readouterr().out
    assert out.count("  > [") == 3 and "1 more reflections" in out
    assert "  > [ok] w:1: Error: reused C Root cau... [+89 chars]\n" in out
    assert main([str(run), "--reflections", "0", "--step", "1"]) == 0
    out = capsys.readouterr().out
    assert "  > [" not in out and "step 2:" not in out


def test_show_escapes_hostile_model_output(tmp_path, capsys):
    hostile = "\x1b[2J\u202e gone \ud800"
    pipe = ReflectionPipeline(ScriptedGenerator([hostile]), ReflectionConfig(curate=False))
    run = recorded_run(tmp_path / "run", pipe, [[Attempt("t", "a", "f", False, "w:9")]])
    Playbook().save(run / "playbook.json")
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\ud800" not in out
    assert 'model wrote: "\\x1b[2J\\u202e gone \\ud800"' in out
