"""The knowledge-tagging corpus teaches reading the context, never the cue -> label rules."""

from __future__ import annotations

import re

import pytest

from envs.xbrl.answers import parse_answer
from envs.xbrl.labels import label_names, label_set
from reflection import parse_operations, parse_reflection
from smallmodel.corpus import CorpusConfig, build_corpus
from smallmodel.corpus_xbrl import missed_rules, relabel
from smallmodel.wordtok import build_word_tokenizer

NAMES = label_names(24)
RULES = label_set(24, 0)


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(CorpusConfig(games=("xbrl",), tasks=60, teacher_per_task=2))


def answer_labels(text: str) -> list[str]:
    return re.findall(r"\[\d+: (\w+)\]", text)


def privileged(example) -> str:
    """The part of the teacher's first message after the task statement."""
    return example.messages[0]["content"].split("Unmarked numbers are not tagged.", 1)[1]


def test_teacher_targets_follow_the_privileged_context(corpus):
    teachers = [e for e in corpus if e.kind == "teacher"]
    assert len(teachers) > 50
    for e in teachers:
        labels = answer_labels(e.messages[-1]["content"])
        assert labels
        context = privileged(e)
        for n, label in enumerate(labels, start=1):
            # the label is stated in the privileged context: a feedback line or a rule line
            assert label in context, (n, label)


def test_teacher_targets_carry_no_rule_knowledge(corpus):
    """Across teacher examples the target label of a cue is (nearly) independent of the rule:
    the share of targets that equal the rule's label is near chance, not near 1."""
    right = total = 0
    for e in corpus:
        if e.kind != "teacher":
            continue
        cues = re.findall(
            r"([a-zA-Z&\-' ]+?) of \[#\d", e.messages[0]["content"].split("Labels")[0]
        )
        labels = answer_labels(e.messages[-1]["content"])
        for cue, label in zip(cues, labels, strict=False):
            for rule in RULES.rules:
                if cue.lower().endswith(rule.cue.lower()):
                    right += rule.label == label
                    total += 1
                    break
    assert total > 50
    assert right / total < 0.2  # chance is 1/24; the rule would give 1.0


def test_reflection_and_curation_answers_parse_and_name_a_true_rule(corpus):
    reflections = [e for e in corpus if e.kind == "reflect"]
    assert reflections
    for e in corpus:
        answer = e.messages[-1]["content"]
        if e.kind == "reflect":
            r = parse_reflection(answer)
            assert r.status == "ok"
            cue, label = re.search(r"cue '([^']+)' means (\w+)", r.key_insight).groups()
            assert RULES.label_of(cue) == label
        elif e.kind == "curate":
            ops, bad, readable = parse_operations(answer)
            assert readable and bad == 0


def test_student_answers_are_well_formed_and_weak(corpus):
    students = [e for e in corpus if e.kind == "student"]
    assert len(students) == 60
    for e in students:
        n = len(re.findall(r"\[#\d", e.messages[0]["content"]))
        assert parse_answer(e.messages[-1]["content"], NAMES, n).labels is not None


def test_relabel_replaces_whole_names_at_once():
    text = "gold label is Assets; AssetsCurrent stays; Assets."
    assert relabel(text, {"Assets": "Revenues", "Revenues": "Assets"}) == (
        "gold label is Revenues; AssetsCurrent stays; Revenues."
    )
    notes = ["#1 $3: the cue 'borrowings' means LongTermDebtCurrent by ..."]
    assert missed_rules(notes) == [("borrowings", "LongTermDebtCurrent")]


def test_label_names_are_single_tokens():
    tok = build_word_tokenizer(["the"], [], NAMES)
    text = "[1: Assets] [2: AssetsCurrent] is EarningsPerShareBasic. AssetsX"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert tok.decode(ids) == text
    assert "\u0120Assets" in pieces and "\u0120AssetsCurrent" in pieces
    assert "\u0120EarningsPerShareBasic" in pieces
    assert pieces[-7:] == list("AssetsX")  # inside a longer word: bytes
