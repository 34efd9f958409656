"""The run report: one self-contained page from a run directory, checked in a real browser."""

import base64
import re

import numpy as np
from matplotlib.image import imread

from benchmarks.report import REPORT, main, run_report_html
from reflection import PlaybookRecorder, ReflectionConfig, ReflectionPipeline
from rundir import EVALS, PLAYBOOK, PLAYBOOK_HISTORY, RunDir
from tests.browser import dump_dom, screenshot, tables
from tests.leaderboard.rundirs import write_run
from tests.reflection.test_pipeline import FAIL_1, FAIL_2, WIN, scripted, seeded_playbook

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CURVE = [(0, 0.0), (8, 0.25), (16, 0.75), (24, 0.5)]


def reflection_run(path, model="tiny-copy"):
    """A finished run with three recorded reflection steps (the scripted model of
    tests/reflection/test_pipeline.py: one parsed reflection, one broken, one success)."""
    pipe = ReflectionPipeline(scripted(), ReflectionConfig(frequency=2), seeded_playbook())
    run_dir = RunDir.create(path)
    recorder = PlaybookRecorder(run_dir)
    for step in (1, 2, 3):
        recorder.record(pipe.update(step, [FAIL_1, WIN, FAIL_2]), pipe.playbook)
    run_dir.close()
    kept = {name: (path / name).read_bytes() for name in (PLAYBOOK, PLAYBOOK_HISTORY)}
    write_run(path, model=model, curve=CURVE)  # replaces the folder: put the records back
    for name, data in kept.items():
        (path / name).write_bytes(data)
    return path


def test_report_is_self_contained_with_curves_tables_and_lessons(tmp_path):
    page = run_report_html(reflection_run(tmp_path / "run"))
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:)", page)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 1 and base64.b64decode(images[0]).startswith(PNG_MAGIC)
    for table in ("evals", "phases", "steps", "lessons", "reflections"):
        assert f'id="{table}"' in page
    assert "0.000 &rarr; 0.500" in page  # success before and after
    assert "Open with a word rich in vowels." in page  # a lesson, with its tags
    assert "model wrote: I cannot produce JSON today" in page  # a dropped reflection's raw text
    assert 'id="learnability-note"' not in page
    random_page = run_report_html(write_run(tmp_path / "random", model="tiny-random"))
    assert 'id="learnability-note"' in random_page and 'id="lessons"' not in random_page


def test_cli(tmp_path, capsys):
    run = reflection_run(tmp_path / "run")
    assert main([str(run)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run / REPORT}"
    assert (run / REPORT).read_text().startswith("<!DOCTYPE html>")
    assert main([str(run), "--out", str(tmp_path / "elsewhere" / "r.html")]) == 0
    (run / EVALS).write_text("")
    assert main([str(run)]) == 2
    assert "no evaluation yet" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2


def test_browser_renders_and_sorts_the_report(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(run_report_html(reflection_run(tmp_path / "run")))
    dom = tables(dump_dom(page, tmp_path))
    assert [r[1] for r in dom["evals"]["rows"]] == [str(s) for s, _ in CURVE]
    assert len(dom["steps"]["rows"]) == 3
    lessons = dom["lessons"]["rows"]
    # str-00002 was tagged helpful at each of the 3 steps; str-00001 harmful twice, then removed
    assert lessons[0][:5] == ["str-00002", "strategies & insights", "3", "0", "0"]
    assert lessons[1][0] == "str-00001" and lessons[1][3] == "2"
    # the page's script sorts the evaluations by success mean@k (column 2), descending
    by_success = tables(dump_dom(page, tmp_path, "sort=evals:2-desc"))["evals"]
    assert by_success["attrs"]["data-sorted"] == "2-desc"
    assert [r[2] for r in by_success["rows"]] == ["0.750", "0.500", "0.250", "0.000"]

    png = screenshot(page, tmp_path / "report.png", tmp_path, size=(1000, 1200))
    image = imread(png)[..., :3]
    assert image.shape[:2] == (1200, 1000) and image.std() > 0.05
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 100  # the curves are drawn
