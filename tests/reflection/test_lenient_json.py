"""The malformed-output corpus: every case parses as far as it goes or is dropped, never raises."""

import pytest

from reflection.lenient_json import extract_json, repair, strip_thinking

NESTED = '{"a": "text with {braces} and [brackets]", "b": {"c": "}"}}'

# (name, model output, expected value, expected status)
CORPUS = [
    ("plain", '{"a": 1, "b": "x"}', {"a": 1, "b": "x"}, "ok"),
    ("fenced", 'Here it is:\n```json\n{"a": 1}\n```\nDone.', {"a": 1}, "ok"),
    ("fenced no lang", '```\n{"a": [1, 2]}\n```', {"a": [1, 2]}, "ok"),
    ("prose around", 'Sure! The answer is {"a": true} as requested.', {"a": True}, "ok"),
    ("trailing commas", '{"a": [1, 2,], "b": 3,}', {"a": [1, 2], "b": 3}, "repaired"),
    ("single quotes", "{'a': 'x', 'b': 'y'}", {"a": "x", "b": "y"}, "repaired"),
    ("apostrophe inside single quotes", "{'a': 'don't stop'}", {"a": "don't stop"}, "repaired"),
    (
        "python literals",
        "{'a': True, 'b': None, 'c': False}",
        {"a": True, "b": None, "c": False},
        "repaired",
    ),
    (
        "bare keys",
        '{reasoning: "r", key_insight: "k"}',
        {"reasoning": "r", "key_insight": "k"},
        "repaired",
    ),
    (
        "bare word values",
        '{"tag": helpful, "tags": [harmful, neutral]}',
        {"tag": "helpful", "tags": ["harmful", "neutral"]},
        "repaired",
    ),
    (
        "unescaped inner quotes",
        '{"a": "say "hi" now", "b": 1}',
        {"a": 'say "hi" now', "b": 1},
        "repaired",
    ),
    (
        "raw newline in string",
        '{"a": "line one\nline two"}',
        {"a": "line one\nline two"},
        "repaired",
    ),
    (
        "nested braces in strings",
        NESTED,
        {"a": "text with {braces} and [brackets]", "b": {"c": "}"}},
        "ok",
    ),
    (
        "truncated in string",
        '{"a": "x", "b": "half a sent',
        {"a": "x", "b": "half a sent"},
        "truncated",
    ),
    ("truncated after colon", '{"a": "x", "b":', {"a": "x", "b": None}, "truncated"),
    ("truncated after key", '{"a": "x", "b', {"a": "x", "b": None}, "truncated"),
    (
        "truncated in list",
        '{"a": [{"id": "s-00001", "tag": "helpful"}, {"id": "s-0',
        {"a": [{"id": "s-00001", "tag": "helpful"}, {"id": "s-0"}]},
        "truncated",
    ),
    ("truncated after comma", '{"a": 1, ', {"a": 1}, "truncated"),
    (
        "broken after complete fields",
        '{"a": "x", "b": "y", "tags": [."id": "s-0", "tag": [z]]}',
        {"a": "x", "b": "y"},
        "salvaged",
    ),
    (
        "broken inside a list item",
        '{"a": "x", "tags": [{"id": "s-1", "tag": "helpful"}, {"AD": "content": "s-2"}]}',
        {"a": "x", "tags": [{"id": "s-1", "tag": "helpful"}]},
        "salvaged",
    ),
    ("thinking removed", '<think>maybe {"a": 0}</think>{"a": 2}', {"a": 2}, "ok"),
    ("unclosed thinking", '{"a": 3}<think>I will now write {"a": 4', {"a": 3}, "ok"),
    ("closing think only", 'reasoning here {"x": 1}</think>\n{"a": 5}', {"a": 5}, "ok"),
    ("empty", "", None, "empty"),
    ("whitespace", "   \n ", None, "empty"),
    ("not a string", None, None, "empty"),
    ("no json at all", "I think the answer was wrong because of the letters.", None, "failed"),
    ("only a list", "[1, 2, 3]", None, "failed"),
    ("two objects, first wins", '{"a": 1} and then {"a": 2}', {"a": 1}, "ok"),
    ("stray closer before", '} oops {"a": 1}', {"a": 1}, "ok"),
    ("numbers", '{"a": -1.5e3, "b": 0}', {"a": -1500.0, "b": 0}, "ok"),
    ("escaped quotes kept", r'{"a": "she said \"no\""}', {"a": 'she said "no"'}, "ok"),
    ("unicode", '{"a": "caf\u00e9 \u2713"}', {"a": "caf\u00e9 \u2713"}, "ok"),
    ("enormous output", '{"a": "' + "x" * 200_000 + '"}', {"a": "x" * 63_993}, "truncated"),
]


@pytest.mark.parametrize("name,text,expected,status", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(name, text, expected, status):
    got = extract_json(text)
    assert got.value == expected
    assert got.status == status


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 20


def test_salvage_keeps_the_outer_object_over_an_inner_one():
    # before salvage, the first inner object that parsed ({"id": ...}) was returned instead
    text = '{"a": "x", "b": [{"id": "s-1"}, {"id"}: ]}'
    assert extract_json(text).value == {"a": "x", "b": [{"id": "s-1"}]}


def test_salvaged_operation_list_keeps_what_came_before_the_break():
    # the half-written second operation keeps its complete fields; the curator drops it
    text = '[{"type": "ADD", "content": "c"}, {"type": "ADD", "content": : "d": "e"}]'
    got = extract_json(text, want=list)
    assert got.value == [{"type": "ADD", "content": "c"}, {"type": "ADD"}]
    assert got.status == "salvaged"


def test_salvage_is_bounded_on_long_garbage():
    text = '{"a": "x", ' + '"k": "v", ' * 5_000 + '"z": [."'
    got = extract_json(text)
    assert got.status in ("salvaged", "failed")


def test_list_wanted():
    assert extract_json('ops: [{"type": "ADD"}]', want=list).value == [{"type": "ADD"}]


def test_repair_closes_everything():
    text, closed = repair('{"a": [1, {"b": "c')
    assert closed and text == '{"a": [1, {"b": "c"}]}'


def test_garbage_never_raises():
    junk = [
        "{{{{",
        "}}}}",
        '{"a": [}',
        '{"a": "\\',
        "{'",
        '{"a": 1e}',
        "[{]",
        "{,,,}",
        "{:}",
        '{"a":: 1}',
        "\x00{\x01}",
        "{" * 5000,
    ]
    for text in junk:
        got = extract_json(text)
        assert got.status in ("ok", "repaired", "truncated", "salvaged", "failed")


def test_strip_thinking():
    assert strip_thinking("<think>a</think>answer") == "answer"
    assert strip_thinking("A <THINK>x</THINK> B") == "A  B"
    assert strip_thinking("answer <think>unfinished") == "answer"
