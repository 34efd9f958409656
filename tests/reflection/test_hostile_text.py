"""Degenerate model output never crashes reflection: parsers, the pipeline, the recorder.

Properties over hypothesis strings (lone surrogates, control characters, a thousand opening
brackets): the lenient JSON extractor, the reflection, tag and curator parsers and a whole
pipeline step return a value and never raise; what the recorder and the playbook write reads
back exactly, surrogates included.
"""

from __future__ import annotations

import time

from hypothesis import example, given

from reflection import (
    Curator,
    Playbook,
    ReflectionConfig,
    ReflectionPipeline,
    Reflector,
    ScriptedGenerator,
    extract_json,
    parse_operations,
    parse_reflection,
)
from reflection.lenient_json import MAX_DEPTH, strip_thinking
from reflection.pipeline import Attempt
from tests.hostile_text import FAST, hostile_text

BOMBS = [
    "[" * 10_000,
    "{" * 10_000,
    '{"a": ' * 10_000,
    '{"a": [' * 5_000,
    '{"reasoning": ' + "[" * 1_000 + '"x"' + "]" * 1_000 + "}",
    '{"operations": ' + "[" * 1_000,
    "<think>" * 9_000,
]


def test_bracket_bombs_read_as_unparseable_quickly():
    for text in BOMBS:
        start = time.perf_counter()
        for want in (dict, list):
            got = extract_json(text, want=want)
            assert got.status in ("failed", "empty") or got.value is not None
        assert time.perf_counter() - start < 1.0, text[:20]
    assert not parse_reflection(BOMBS[4]).usable  # the field nests deeper than MAX_DEPTH
    assert parse_operations(BOMBS[5]) == ([], 0, False)


def test_nesting_up_to_the_limit_still_parses():
    inside = "[" * (MAX_DEPTH - 1) + '"deep"' + "]" * (MAX_DEPTH - 1)
    got = extract_json('{"reasoning": ' + inside + "}")
    assert got.status == "ok"
    assert parse_reflection('{"reasoning": ' + inside + "}").reasoning == "deep"
    too_deep = '{"reasoning": ' + "[" + inside + "]" + "}"
    assert extract_json(too_deep).status == "failed"


def test_strip_thinking_keeps_its_rules_and_stays_linear():
    assert strip_thinking("a<think>x</think>b<THINK>y</Think>c") == "abc"
    assert strip_thinking("head</think>tail") == "tail"
    assert strip_thinking("keep <think>open <think> still open") == "keep"
    start = time.perf_counter()
    assert strip_thinking("<think>" * 20_000 + "answer") == ""
    assert time.perf_counter() - start < 0.5


@FAST
@given(hostile_text)
@example("\ud800{'a': '\udfff'}")
def test_extract_json_never_raises(text):
    for want in (dict, list):
        got = extract_json(text, want=want)
        assert got.status in ("ok", "repaired", "truncated", "salvaged", "empty", "failed")
        assert got.value is None or isinstance(got.value, want)


@FAST
@given(hostile_text)
def test_reflection_and_tag_parsers_never_raise(text):
    reflection = parse_reflection(text)
    assert reflection.status in ("ok", "partial", "dropped")
    assert isinstance(reflection.as_text(), str)
    tags, invalid, readable = Reflector.parse_tags_only(text)
    assert invalid >= 0 and isinstance(readable, bool)
    assert all(tag in ("helpful", "harmful", "neutral") for tag in tags.values())


@FAST
@given(hostile_text)
def test_curator_parser_and_apply_never_raise(text):
    ops, bad, readable = parse_operations(text)
    assert bad >= 0 and (readable or not ops)
    curator = Curator(ops=("ADD", "UPDATE", "REMOVE", "MERGE"))
    from reflection.curator import CurationStats

    playbook = Playbook()
    playbook.add("others", "an existing lesson", 0)
    curator.apply(playbook, ops, 1, CurationStats())
    assert all("\n" not in b.text for b in playbook.bullets.values())


FAIL = Attempt(task="Guess the word.", answer="[crane]", feedback="wrong", success=False)
WIN = Attempt(task="Guess the word.", answer="[slate]", feedback="solved", success=True)


@FAST
@given(hostile_text, hostile_text, hostile_text)
def test_a_pipeline_step_on_hostile_answers_never_raises(reflection, tags, curation):
    # one call for the reflection and the tagging prompt, then one for the curation prompt
    generator = ScriptedGenerator([reflection, tags, curation])
    pipeline = ReflectionPipeline(generator, ReflectionConfig(cap=3, frequency=1))
    report = pipeline.update(1, [FAIL, WIN])
    assert report.counts["failures"] == 1 and report.counts["successes"] == 1
    assert len(pipeline.playbook) <= 3
