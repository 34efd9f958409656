"""Playbook: ids, ACE text round trip, token budget, atomic JSON persistence."""

import os

import pytest

from reflection.playbook import Playbook, approx_tokens
from rundir import RunDirError


def sample() -> Playbook:
    pb = Playbook()
    a = pb.add("strategies & insights", "Use the feedback marks\nbefore guessing.", step=1)
    pb.add("common mistakes to avoid", "Never reuse a letter marked absent.", step=1)
    c = pb.add("Code_Snippets_and_Templates", "def f(x): return x  # one line", step=2)
    pb.add("no such section", "Goes to others :: with a separator inside", step=2)
    a.helpful, a.harmful, c.harmful = 3, 1, 2
    return pb


def test_ids_are_stable_and_sluged():
    pb = sample()
    assert list(pb.bullets) == ["str-00001", "err-00002", "code-00003", "misc-00004"]
    pb.remove(["err-00002"])
    assert pb.add("mistakes", "x", 3) is not None  # unknown spelling -> others
    assert list(pb.bullets)[-1] == "misc-00005"  # numbers never reused
    assert pb.add("others", "  \n ", 3) is None  # empty text adds nothing


def test_render_format():
    text = sample().render()
    assert text.splitlines()[:2] == [
        "## STRATEGIES & INSIGHTS",
        "[str-00001] helpful=3 harmful=1 :: Use the feedback marks before guessing.",
    ]
    assert "## OTHERS\n[misc-00004] helpful=0 harmful=0 :: Goes to others :: with a" in text
    assert "FORMULAS" not in text  # empty sections are not rendered


def test_round_trip_exact():
    pb = sample()
    text = pb.render()
    back, unparsed = Playbook.parse(text)
    assert unparsed == 0
    assert back.render() == text
    for bid, b in pb.bullets.items():
        r = back.bullets[bid]
        assert (r.section, r.text, r.helpful, r.harmful) == (
            b.section,
            b.text,
            b.helpful,
            b.harmful,
        )
    assert back.next_id == pb.next_id  # new ids continue after the parsed ones


def test_parse_counts_bad_lines_and_new_sections():
    text = (
        "[str-00001] helpful=1 harmful=0 :: before header\n## MY SECTION\n"
        "[my-00002] helpful=0 harmful=0 :: custom\nnot a bullet\n[bad] helpful=x :: y\n"
    )
    pb, unparsed = Playbook.parse(text)
    assert unparsed == 2
    assert pb.bullets["str-00001"].section == "others"
    assert pb.bullets["my-00002"].section == "my section"
    assert ("my section", "my") in pb.sections


def test_token_budget_drops_lowest_value_whole_bullets():
    pb = Playbook()
    for i in range(6):
        b = pb.add("strategies & insights", f"lesson number {i} " + "word " * 10, step=0)
        b.helpful = i  # value grows with i
    full = pb.render()
    assert pb.render(token_budget=10**6) == full
    budget = approx_tokens(pb.render(keep=["str-00004", "str-00005", "str-00006"]))
    text = pb.render(token_budget=budget)
    assert approx_tokens(text) <= budget
    kept = [line.split("]")[0][1:] for line in text.splitlines() if line.startswith("[")]
    assert kept == ["str-00004", "str-00005", "str-00006"]  # the three most helpful, in order
    assert pb.render(token_budget=1) == ""
    words = pb.render(token_budget=40, count_tokens=lambda s: len(s.split()))
    assert len(words.split()) <= 40 and all(
        line.endswith("word") for line in words.splitlines() if line.startswith("[")
    )


def test_json_save_load(tmp_path):
    pb = sample()
    pb.bullets["str-00001"].last_used = 7
    path = tmp_path / "sub" / "playbook.json"
    pb.save(path)
    back = Playbook.load(path)
    assert back.to_dict() == pb.to_dict()
    assert not [p for p in path.parent.iterdir() if p.name != "playbook.json"]  # no temp left


@pytest.mark.parametrize("fail_at", ["replace", "fsync"])
def test_atomic_save_survives_crash(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "playbook.json"
    old = sample()
    old.save(path)
    before = path.read_text()
    new = sample()
    new.add("others", "a new lesson", 9)

    def crash(*args, **kwargs):
        raise OSError("simulated crash")

    monkeypatch.setattr(os, fail_at, crash)
    with pytest.raises(RunDirError, match="simulated crash"):
        new.save(path)
    monkeypatch.undo()
    assert path.read_text() == before
    assert Playbook.load(path).to_dict() == old.to_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["playbook.json"]


def test_custom_sections():
    pb = Playbook(sections=[("tactics", "tac"), ("others", "misc")])
    assert pb.add("Tactics", "t", 0).id == "tac-00001"
    assert pb.add("strategies & insights", "s", 0).id == "misc-00002"
