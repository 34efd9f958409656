"""Reflector: prompts, lenient parsing into Reflection records, tag application, oracle."""

from reflection.playbook import Playbook
from reflection.reflector import (
    OracleReflector,
    Reflector,
    TagStats,
    apply_tags,
    parse_reflection,
    parse_tags,
)

FULL = """```json
{"reasoning": "r", "error_identification": "e", "root_cause": "c",
 "correct_approach": "a", "key_insight": "k",
 "bullet_tags": [{"id": "str-00001", "tag": "helpful"}, {"id": "[err-00002]", "tag": "Harmful"}]}
```"""


def test_full_reflection():
    ref = parse_reflection(FULL)
    assert ref.status == "ok"
    assert ref.bullet_tags == {"str-00001": "helpful", "err-00002": "harmful"}
    assert ref.as_text() == "Error: e\nRoot cause: c\nCorrect approach: a\nKey insight: k"


def test_partial_and_wrong_types():
    ref = parse_reflection(
        '{"error": ["a", "b"], "key_insight": 42, "root_cause": true, '
        '"bullet_tags": {"str-00001": "useful", "str-00002": "neutral"}'
    )
    assert ref.status == "partial"
    assert ref.error_identification == "a; b" and ref.key_insight == "42"
    assert ref.root_cause == ""
    assert ref.bullet_tags == {"str-00002": "neutral"} and ref.invalid_tags == 1


def test_fields_before_a_garbled_tag_list_are_kept():
    # written by resd-tiny in a Wordle run (2026-12-01): five good fields, then the bullet-tag
    # list breaks; the whole reflection used to be dropped
    text = (
        '{"reasoning": "Some guesses did not fit.", "error_identification": "e", '
        '"root_cause": "c", "correct_approach": "a", "key_insight": "Keep every green letter.", '
        '"bullet_tags": [{"id": "err-00105", "tag": "neutral"}, {"AD": "content": "err-0", "tag"}]}'
    )
    ref = parse_reflection(text)
    assert ref.status == "ok"
    assert ref.key_insight == "Keep every green letter."
    assert ref.bullet_tags == {"err-00105": "neutral"}


def test_dropped():
    for text in ["", "no json here", "[1, 2]", '{"unrelated": 1}', None]:
        ref = parse_reflection(text)
        assert ref.status == "dropped" and not ref.usable and ref.as_text() == ""


def test_parse_tags_shapes():
    assert parse_tags(
        [["a-00001", "helpful"], {"bullet_id": "b-00002", "label": "harmful"}, "junk", {"id": "c"}]
    ) == ({"a-00001": "helpful", "b-00002": "harmful"}, 2)
    assert parse_tags("helpful") == ({}, 1)
    assert parse_tags(None) == ({}, 0)


def test_apply_tags_counts_unknown():
    pb = Playbook()
    a = pb.add("strategies & insights", "a", 0)
    c = pb.add("others", "c", 0)
    stats = TagStats()
    apply_tags(pb, {a.id: "helpful", "str-09999": "helpful", c.id: "neutral"}, 5, stats)
    apply_tags(pb, {a.id: "harmful"}, 6, stats)
    assert (a.helpful, a.harmful, a.last_used) == (1, 1, 6)
    assert (c.neutral, c.last_used) == (1, None)  # neutral is not a use
    assert stats.unknown == ["str-09999"]
    assert stats.applied == [(a.id, "helpful"), (c.id, "neutral"), (a.id, "harmful")]


def test_prompts_strip_thinking_and_show_playbook():
    pb = Playbook()
    pb.add("common mistakes to avoid", "Check the marks.", 0)
    r = Reflector(max_answer_chars=200)
    conv = r.reflection_prompt(
        "Guess the word.", "<think>secret plan</think>[crane]", "C is absent.", pb
    )
    body = conv[0]["content"]
    assert conv[0]["role"] == "user"
    assert "secret plan" not in body and "[crane]" in body
    assert "C is absent." in body and "[err-00001] helpful=0 harmful=0 :: Check the marks." in body
    assert '"bullet_tags"' in body
    long = r.reflection_prompt("t", "x" * 1000 + "END", "f", pb)[0]["content"]
    assert "characters cut" in long and "END" in long
    tag = r.tagging_prompt("t", "a", "won", pb)[0]["content"]
    assert "succeeded" in tag and "error_identification" not in tag
    assert Reflector.parse_tags_only('{"bullet_tags": {"err-00001": "helpful"}}') == (
        {"err-00001": "helpful"},
        0,
        True,
    )
    assert Reflector.parse_tags_only("nothing") == ({}, 0, False)


def test_oracle_from_notes():
    notes = [
        "guess 3 reused the letter E that guess 1 marked absent",
        "  ",
        "guess 4 moved\nthe green R",
    ]
    ref = OracleReflector.reflect(notes, task_id="w:1")
    assert ref.status == "oracle" and ref.usable and ref.task_id == "w:1"
    assert ref.error_identification == (
        "guess 3 reused the letter E that guess 1 marked absent; guess 4 moved the green R"
    )
    assert ref.bullet_tags == {}
    assert "Error: guess 3 reused" in ref.as_text()
    assert OracleReflector.reflect([]).status == "dropped"
