"""The leaderboard's HTML page: self-contained, escaped, and sorted by a real browser."""

import base64
import re

import numpy as np
import pytest
from matplotlib.image import imread

from leaderboard.__main__ import main
from leaderboard.html import Cell, leaderboard_html, num, sortable_table
from leaderboard.store import Store
from leaderboard.table import build_rows
from tests.browser import dump_dom, screenshot, tables
from tests.leaderboard.rundirs import write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "lb.sqlite") as s:
        for seed, curve in enumerate(
            [[(0, 0.0), (8, 0.25), (16, 0.5)], [(0, 0.0), (8, 0.5), (16, 0.75)]]
        ):
            s.add_run(write_run(tmp_path / f"resd{seed}", seed=seed, curve=curve))
        s.add_run(write_run(tmp_path / "grpo", learner="grpo", curve=[(0, 0.0), (16, 1.0)]))
        s.add_run(write_run(tmp_path / "sd", learner="sd", curve=[(0, 0.0), (16, 0.125)]))
        s.add_run(write_run(tmp_path / "mm", env="mastermind", learner="sd", model=HOSTILE))
        yield s


def test_page_is_self_contained_and_escaped(store):
    page = leaderboard_html(store)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<script>" in page
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:)", page)  # nothing loaded from outside
    assert "http://" not in page and "https://" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2  # one figure per environment
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<tr>") == 1 + 4  # the header and one row per (env, model, learner)


def test_cells_sort_by_value():
    assert num(0.25).html() == '<td class="num" data-key="0.25">0.250</td>'
    assert 'data-key="Infinity">?<' in num(None).html()  # missing values sort last
    assert Cell("a<b").html() == "<td>a&lt;b</td>"
    table = sortable_table("t", ["x"], [[num(1.0)], [num(2.0)]])
    assert '<table class="sortable" id="t">' in table and table.count("<tr>") == 3


def test_cli_writes_the_page(store, tmp_path, capsys):
    out = tmp_path / "site" / "board.html"
    assert main(["--db", str(store.path), "--html", str(out), "--env", "wordle"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    page = out.read_text()
    assert "(env=wordle)" in page and "mastermind" not in page
    assert main(["--db", str(store.path), "--html", str(tmp_path / "lb.sqlite" / "x.html")]) == 1
    assert "error: cannot write" in capsys.readouterr().err


def test_browser_sorts_the_table_and_draws_the_page(store, tmp_path):
    page = tmp_path / "board.html"
    page.write_text(leaderboard_html(store))
    rows = build_rows(store.runs())
    # as written: env, model, then AUC descending; the script has not sorted anything
    plain = tables(dump_dom(page, tmp_path))["leaderboard"]
    assert [r[2] for r in plain["rows"]] == [r.learner for r in rows]
    assert "data-sorted" not in plain["attrs"]
    # #sort=leaderboard:4 asks the page's script to sort by AUC (column 4), ascending
    by_auc = tables(dump_dom(page, tmp_path, "sort=leaderboard:4"))["leaderboard"]
    assert by_auc["attrs"]["data-sorted"] == "4-asc"
    assert by_auc["headers"][4]["aria-sort"] == "ascending"
    want = [r.learner for r in sorted(rows, key=lambda r: r.auc.mean)]
    assert [r[2] for r in by_auc["rows"]] == want != [r.learner for r in rows]
    # descending by final success (column 6)
    by_final = tables(dump_dom(page, tmp_path, "sort=leaderboard:6-desc"))["leaderboard"]
    finals = [float(r[6].split()[0]) for r in by_final["rows"]]
    assert finals == sorted(finals, reverse=True)

    png = screenshot(page, tmp_path / "board.png", tmp_path, size=(1000, 800))
    image = imread(png)[..., :3]
    assert image.shape[:2] == (800, 1000)
    assert image.std() > 0.05  # not a blank page
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # text, table and figure colours
