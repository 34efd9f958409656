"""Synthetic retrieval sequences: every trained label is the token a perfect copier predicts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smallmodel.synthetic import (
    IGNORE,
    Vocab,
    copy_sequence,
    needle_sequence,
    recall_sequence,
)

ANSWERS = tuple(range(100, 130))
REVEALS = tuple(range(200, 230))
VOCAB = Vocab(
    answers=ANSWERS,
    reveals=REVEALS,
    prose=tuple(range(300, 340)),
    separator=(10, 10),
    reveal_prefix=(1, 2, 3),
    reveal_suffix=(4,),
    answer_open=(5, 6),
    answer_close=(7,),
)
TEXTS = [list(range(400, 460)), list(range(460, 480))]


def check_alignment(ids: list[int], labels: list[int], max_len: int) -> list[int]:
    """Labels are next-token targets; returns the positions that are trained."""
    assert len(ids) == len(labels) <= max_len
    trained = [i for i, label in enumerate(labels) if label != IGNORE]
    assert trained
    for i in trained:
        assert labels[i] == ids[i + 1]
    return trained


@pytest.mark.parametrize("seed", range(5))
def test_copy_targets_repeat_the_span_before_the_separator(seed):
    ids, labels = copy_sequence(np.random.default_rng(seed), VOCAB, TEXTS, 300)
    trained = check_alignment(ids, labels, 300)
    # each trained token equals the token at the same offset in the first copy: find the
    # separator before the block's second copy and the span length from the targets
    runs: list[list[int]] = [[trained[0]]]
    for i in trained[1:]:
        (runs[-1].append(i) if i == runs[-1][-1] + 1 else runs.append([i]))
    start = 0
    for run in runs:
        second = [ids[i + 1] for i in run]
        n = len(second)
        sep_at = run[0] + 1 - len(VOCAB.separator)
        assert ids[sep_at : run[0] + 1] == list(VOCAB.separator)
        assert ids[start : start + n] == second  # the block opens with the first copy
        start = run[-1] + 2


@pytest.mark.parametrize("seed", range(5))
def test_recall_answers_are_the_values_of_their_keys_in_this_block(seed):
    ids, labels = recall_sequence(np.random.default_rng(seed), VOCAB, 300)
    trained = check_alignment(ids, labels, 300)
    for i in trained:
        key, value = ids[i], ids[i + 1]
        assert value in ANSWERS
        # the pair was stated earlier in the sequence, before this query
        assert (key, value) in {(ids[j], ids[j + 1]) for j in range(i - 1)}


def test_recall_pairs_change_between_blocks():
    """Keys do not map to fixed values: the same key gets different values across sequences."""
    seen: dict[int, set[int]] = {}
    for seed in range(30):
        ids, labels = recall_sequence(np.random.default_rng(seed), VOCAB, 300)
        for i, label in enumerate(labels):
            if label != IGNORE:
                seen.setdefault(ids[i], set()).add(label)
    assert max(len(v) for v in seen.values()) > 1


@pytest.mark.parametrize("seed", range(5))
def test_needle_answer_is_the_latest_reveal(seed):
    ids, labels = needle_sequence(np.random.default_rng(seed), VOCAB, TEXTS, 400)
    trained = check_alignment(ids, labels, 400)
    answers = [i for i in trained if ids[i + 1] in ANSWERS]
    assert answers
    for i in answers:
        assert ids[i - 1 : i + 1] == list(VOCAB.answer_open)
        prefix = list(VOCAB.reveal_prefix)
        last = max(j for j in range(i) if ids[j : j + len(prefix)] == prefix)
        assert ids[i + 1] == ids[last + len(prefix)]  # the revealed token itself
        assert ids[i + 2] == VOCAB.answer_close[0] and labels[i + 1] == ids[i + 2]


def test_sequences_are_deterministic_in_the_generator():
    for make in (
        lambda r: copy_sequence(r, VOCAB, TEXTS, 256),
        lambda r: recall_sequence(r, VOCAB, 256),
        lambda r: needle_sequence(r, VOCAB, TEXTS, 256),
    ):
        assert make(np.random.default_rng(3)) == make(np.random.default_rng(3))


def test_needle_answers_follow_a_teacher_cue_when_the_vocab_has_cues():
    cues = ((8, 9), (11,))
    vocab = dataclasses.replace(VOCAB, answer_cues=cues)
    ids, labels = needle_sequence(np.random.default_rng(0), vocab, TEXTS, 400)
    answers = [i for i in check_alignment(ids, labels, 400) if ids[i + 1] in ANSWERS]
    assert answers
    seen = set()
    for i in answers:
        opener = len(VOCAB.answer_open)
        before = tuple(ids[i + 1 - opener - 2 : i + 1 - opener])
        cue = next(c for c in cues if before[-len(c) :] == c)
        seen.add(cue)
    assert seen == set(cues)


@pytest.mark.parametrize("seed", range(3))
def test_needles_from_pieces_answer_with_the_latest_piece(seed):
    pieces = [((900 + k, 901 + k, 902 + k), (950 + k, 951 + k)) for k in range(0, 30, 3)]
    ids, labels = needle_sequence(np.random.default_rng(seed), VOCAB, TEXTS, 400, pieces)
    trained = check_alignment(ids, labels, 400)
    starts = [i for i in trained if labels[i - 1] == IGNORE]  # first token of each answer
    assert len(starts) >= 2
    for i in starts:
        assert ids[i - 1 : i + 1] == list(VOCAB.answer_open)
        evidence = max(j for j in range(i) if 900 <= ids[j] < 950 and (ids[j] - 900) % 3 == 0)
        k = ids[evidence] - 900
        assert ids[evidence : evidence + 3] == [900 + k, 901 + k, 902 + k]
        assert ids[i + 1 : i + 4] == [950 + k, 951 + k, VOCAB.answer_close[0]]
        assert not any(t in ANSWERS for t in ids[i + 1 : i + 4])  # no Wordle reveal mixed in
