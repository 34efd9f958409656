"""The reference retrieval experiment's data: every label is what a perfect retriever predicts."""

from __future__ import annotations

import numpy as np

from smallmodel import retrieval_check as rc


def test_rows_label_what_a_retriever_predicts():
    rng = np.random.default_rng(0)
    for _ in range(20):
        ids, labels = rc.needle_row(rng)
        trained = [i for i, y in enumerate(labels) if y != rc.IGNORE]
        assert len(trained) == 1 and ids[trained[0]] == rc.GUESS
        assert labels[trained[0]] == ids[ids.index(rc.ANS) + 1]
        ids, labels = rc.recall_row(rng)
        for i, y in enumerate(labels):
            if y != rc.IGNORE:
                assert (ids[i], y) in {(ids[j], ids[j + 1]) for j in range(i - 1)}
        ids, labels = rc.copy_row(rng)
        assert len(ids) < rc.MAX_LEN
        full = [*ids, labels[-1]]  # the row without its last token, then that token
        for i, y in enumerate(labels):
            if y != rc.IGNORE:  # a token of a second copy: the same offset after the block start
                assert y == full[i + 1]
                sep = max(j for j in range(i + 1) if full[j] == rc.SEP)
                previous = max([0] + [j + 1 for j in range(sep) if full[j] == rc.SEP])
                assert y in full[previous:sep]  # this block's first copy (after the last SEP)


def test_a_short_run_reports_its_curve():
    curve = rc.run(steps=2, log=lambda line: None)
    assert [step for step, _ in curve] == [2] and 0.0 <= curve[0][1] <= 1.0
