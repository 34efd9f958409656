"""Which token sequences can share one forward pass: pure planning, no model.

A causal LM's logits at position p depend only on tokens 0..p. So when the tokens of one scored
item (prompt + completion) are a prefix of another's, the longer row already holds every logit
the shorter one needs. The learners hit this all the time: turn t of a multi-turn episode is
sampled from the conversation so far, and turn t+1's context is that conversation plus turn t's
completion and the next observation. Scoring an episode's T turns as one row instead of T rows
costs one pass over the final conversation rather than T passes over growing prefixes (and the
same holds for the teacher, whose contexts differ from the student's only in the first message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Placement:
    """Where one item's completion lies: tokens ``[start, end)`` of row ``row``."""

    row: int
    start: int
    end: int


def nest_prefixes(
    sequences: Sequence[Sequence[int]], completion_starts: Sequence[int]
) -> tuple[list[list[int]], list[Placement]]:
    """Rows to run and, per item, where its completion lies in them.

    Each item's sequence (prompt + completion) is placed in the longest row that starts with
    it exactly; an item that is a prefix of no longer one becomes a row of its own. Rows keep
    the order in which they were first seen; the result is deterministic.
    """
    if len(sequences) != len(completion_starts):
        raise ValueError(f"{len(sequences)} sequences but {len(completion_starts)} starts")
    seqs = [list(s) for s in sequences]
    for seq, start in zip(seqs, completion_starts, strict=True):
        if not 0 < start <= len(seq):
            raise ValueError(f"completion start {start} outside a {len(seq)}-token sequence")
    by_length = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i]), i))
    carrier_of: dict[int, int] = {}
    carriers: list[int] = []
    for i in by_length:
        seq = seqs[i]
        for c in carriers:
            if seqs[c][: len(seq)] == seq:
                carrier_of[i] = c
                break
        else:
            carriers.append(i)
            carrier_of[i] = i
    first_seen = sorted(carriers)
    row_of = {c: r for r, c in enumerate(first_seen)}
    rows = [seqs[c] for c in first_seen]
    placements = [
        Placement(row_of[carrier_of[i]], completion_starts[i], len(seqs[i]))
        for i in range(len(seqs))
    ]
    return rows, placements


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix all rows share, kept below the shortest row's length.

    The first and last rows in lexicographic order differ earliest, so their common prefix is
    everyone's. The cap leaves every row at least one token of its own to run.
    """
    if not rows:
        return 0
    first, last = min(map(list, rows)), max(map(list, rows))
    shared = 0
    for a, b in zip(first, last, strict=False):
        if a != b:
            break
        shared += 1
    return min(shared, min(len(r) for r in rows) - 1)
