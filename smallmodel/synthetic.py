"""Synthetic retrieval sequences: dense copy targets that grow the in-context copy ability.

Why: a self-teacher is useful only if the model uses its privileged context, and for a small
model that means copying (a revealed answer, a successful trial, a playbook line). Copy
circuits (induction heads) form abruptly once a model has seen enough supervised copy events
(Olsson et al. 2022; Reddy 2023), sooner with many queries per sequence and short contexts
first (Zoology, 2023; Bi-Induct, 2025). Real teacher examples give about one copy target per
thousand tokens; these sequences give one every few tokens, in the model's own vocabulary.

Every generator returns ``(ids, labels)`` of equal length: ``labels[i]`` is the id the model
should predict at position ``i`` (the id at ``i + 1``), or -100 where nothing is trained. All
randomness comes from the ``numpy.random.Generator`` passed in.

Kinds:

* ``copy``: ``S SEP S`` for a random span S of 8-30 tokens (answer words, their upper-case
  reveal forms, prose words), optionally with filler between the copies; targets on the second
  copy (an induction head predicts every one of them).
* ``recall``: 4-16 ``key value`` pairs drawn afresh for each block (keys any word tokens,
  values answer tokens), then several keys, each followed by its value: associative recall,
  solvable only by looking the key up in the context (a fixed key -> value table would be
  learned as bigrams instead, which is what a first version of this generator did).
* ``needle``: blocks of filler text in which one "The word was [word]." sits at a random
  depth, closed by the chat template's assistant turn and the answer ``[word]``: the step a
  Wordle teacher makes, several times per sequence, each time about the latest reveal.
  The same blocks with another game's evidence (``pieces``): the knowledge-tagging
  teacher's feedback lines that reveal gold labels, or the playbook rules of a sentence's
  cues, answered ``[1: Label] [2: Label]``. The
  reveal writes the answer exactly as the answer is written (the same token): a reveal in
  another form ("CRANE") asks the model to learn retrieval and translation at once, and in
  four measured builds neither got a useful gradient before the other (smallmodel/logs/).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IGNORE = -100


@dataclass(frozen=True)
class Vocab:
    """The token ids the generators draw from (all from the real tokenizer)."""

    answers: tuple[int, ...]  # "[word]" tokens, one per answer word
    reveals: tuple[int, ...]  # "WORD" tokens (guesses as the feedback shows them)
    prose: tuple[int, ...]  # whole-word prose tokens
    separator: tuple[int, ...]  # the ids of a separator line, e.g. "\n\n"
    reveal_prefix: tuple[int, ...]  # "The word was " (up to the answer token)
    reveal_suffix: tuple[int, ...]  # "."
    answer_open: tuple[int, ...]  # end of the user turn + "<|im_start|>assistant\n"
    answer_close: tuple[int, ...]  # "<|im_end|>" (the end-of-turn id)
    # the closing lines of the teacher prompts ("\n\nCorrectly solve the original question."):
    # a needle's answer follows one of them, so the copy is tied to a teacher's request and
    # not to any text that holds a reveal (a reflection prompt holds one too, and must be
    # answered with JSON)
    answer_cues: tuple[tuple[int, ...], ...] = ()


def _span(rng: np.random.Generator, vocab: Vocab, n: int) -> list[int]:
    pools = (vocab.answers, vocab.reveals, vocab.prose)
    kinds = rng.choice(3, size=n, p=(0.4, 0.2, 0.4))
    return [int(pools[k][int(rng.integers(len(pools[k])))]) for k in kinds]


def _filler(rng: np.random.Generator, texts: Sequence[Sequence[int]], n: int) -> list[int]:
    """``n`` tokens of real text: consecutive slices of randomly chosen encoded texts."""
    out: list[int] = []
    while len(out) < n:
        text = texts[int(rng.integers(len(texts)))]
        if not text:
            continue
        start = int(rng.integers(len(text)))
        out += list(text[start : start + n - len(out)])
    return out


def _trained(ids: list[int], targets: list[bool]) -> tuple[list[int], list[int]]:
    """Labels that train the prediction of each token flagged in ``targets``."""
    labels = [IGNORE] * len(ids)
    for i in range(1, len(ids)):
        if targets[i]:
            labels[i - 1] = ids[i]
    return ids, labels


def copy_sequence(
    rng: np.random.Generator,
    vocab: Vocab,
    texts: Sequence[Sequence[int]],
    max_len: int,
    filler_share: float = 0.3,
) -> tuple[list[int], list[int]]:
    """As many ``S [filler] SEP S`` blocks as fit in ``max_len``."""
    ids: list[int] = []
    targets: list[bool] = []
    while True:
        span = _span(rng, vocab, int(rng.integers(8, 31)))
        gap = 0
        if rng.random() < filler_share:
            gap = int(rng.integers(8, max(9, max_len // 3)))
        block = span + _filler(rng, texts, gap) + list(vocab.separator) + span
        if len(ids) + len(block) > max_len:
            break
        ids += block
        targets += [False] * (len(block) - len(span)) + [True] * len(span)
    return _trained(ids, targets)


def recall_sequence(
    rng: np.random.Generator, vocab: Vocab, max_len: int
) -> tuple[list[int], list[int]]:
    """Blocks of 4-16 ``WORD [word]`` pairs followed by up to 6 queries, while they fit."""
    ids: list[int] = []
    targets: list[bool] = []
    while True:
        n = int(rng.integers(4, 17))
        keys = list(dict.fromkeys(_span(rng, vocab, 2 * n)))[:n]
        values = [vocab.answers[int(i)] for i in rng.integers(len(vocab.answers), size=len(keys))]
        block: list[int] = []
        flags: list[bool] = []
        for k, v in zip(keys, values, strict=True):
            block += [k, v]
            flags += [False, False]
        block += list(vocab.separator)
        flags += [False] * len(vocab.separator)
        for q in rng.choice(len(keys), size=min(6, len(keys)), replace=False):
            block += [keys[int(q)], values[int(q)]]
            flags += [False, True]
        block += list(vocab.separator)
        flags += [False] * len(vocab.separator)
        if len(ids) + len(block) > max_len:
            break
        ids += block
        targets += flags
    return _trained(ids, targets)


def needle_sequence(
    rng: np.random.Generator,
    vocab: Vocab,
    texts: Sequence[Sequence[int]],
    max_len: int,
    pieces: Sequence[tuple[Sequence[int], Sequence[int]]] = (),
) -> tuple[list[int], list[int]]:
    """Blocks ``filler, evidence, filler, [cue,] <assistant> answer <end>`` while they fit; the
    evidence sits at a uniformly random depth of its block.

    The evidence is Wordle's reveal ("The word was [word].", answer ``[word]``) or, when
    ``pieces`` are given, a drawn ``(evidence, answer)`` pair: the part of another teacher
    context that decides its answer (a tagging teacher's feedback lines that reveal the gold
    labels, or playbook rules beside the sentence, answered ``[1: Label] ...``)."""
    ids: list[int] = []
    targets: list[bool] = []
    while True:
        budget = int(np.exp(rng.uniform(np.log(16), np.log(max(17, max_len)))))
        if pieces:
            evidence, said = pieces[int(rng.integers(len(pieces)))]
            evidence, answer = list(evidence), [*said, *vocab.answer_close]
        else:
            k = int(rng.integers(len(vocab.answers)))
            evidence = [*vocab.reveal_prefix, vocab.answers[k], *vocab.reveal_suffix]
            answer = [vocab.answers[k], *vocab.answer_close]
        cue: list[int] = []
        if vocab.answer_cues:
            cue = list(vocab.answer_cues[int(rng.integers(len(vocab.answer_cues)))])
        fill = max(0, budget - len(evidence) - len(answer) - len(cue) - len(vocab.answer_open))
        before = int(rng.integers(fill + 1))
        block = (
            _filler(rng, texts, before)
            + evidence
            + _filler(rng, texts, fill - before)
            + cue
            + list(vocab.answer_open)
        )
        if len(ids) + len(block) + len(answer) > max_len:
            break
        ids += block + answer
        targets += [False] * len(block) + [True] * len(answer)
    return _trained(ids, targets)
