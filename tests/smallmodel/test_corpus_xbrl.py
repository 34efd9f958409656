"""The knowledge-tagging corpus teaches reading the context, never the cue -> label rules."""

from __future__ import annotations

import re

import numpy as np
import pytest

import envs
from envs.xbrl.answers import parse_answer
from envs.xbrl.labels import label_names, label_set
from reflection import parse_operations, parse_reflection
from smallmodel.corpus import CorpusConfig, build_corpus
from smallmodel.corpus_xbrl import label_evidence, missed_rules, relabel
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


@pytest.mark.parametrize("seed", range(3))
def test_label_evidence_decides_its_answer_and_carries_no_rule(seed):
    """Each needle's answer is read off its evidence: the gold label of each number from its
    feedback line (or the gold-labels line), or the rule line of the cue in the sentence."""
    env = envs.make("xbrl")
    rng = np.random.default_rng(seed)
    kinds, matches = set(), 0
    for k in range(60):
        evidence, answer = label_evidence(env, 10_000 + k, rng)
        labels = answer_labels(answer)
        assert parse_answer(answer, NAMES, len(labels)).labels == tuple(labels)
        if evidence.startswith("Sentence: "):
            kinds.add("playbook")
            rules = dict(re.findall(r"The cue '([^']+)' means (\w+)\.", evidence))
            for cue, label in zip(env.unwrapped.cues, labels, strict=True):
                assert rules[cue] == label
                matches += RULES.rule_of(cue).label == label
        elif "The gold labels:" in evidence:
            kinds.add("gold")
            assert f"The gold labels: {answer}." in evidence
        else:
            kinds.add("feedback")
            for n, label in enumerate(labels, start=1):
                line = next(x for x in evidence.splitlines() if x.startswith(f"#{n} "))
                assert line.endswith((f"the gold label is {label}.", f"right ({label})."))
    assert kinds == {"playbook", "gold", "feedback"}
    assert matches < 10  # relabelled at random: the rules themselves are not taught
