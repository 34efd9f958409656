"""The build's batch mixer: what each stage's sequences may hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from smallmodel.build import QUICK, BuildConfig, Mixer, Stage, continued_model, main, recipe
from smallmodel.synthetic import IGNORE
from smallmodel.wordtok import build_word_tokenizer
from tests.smallmodel.test_synthetic import ANSWERS, TEXTS, VOCAB


def mixer(seed: int = 0) -> Mixer:
    long_example = (list(range(1000, 1600)), [IGNORE] * 590 + list(range(1591, 1600)) + [IGNORE])
    texts = [list(t) + [ANSWERS[0]] for t in TEXTS]  # real text holds other answer words
    real = {"reflect": [long_example]}
    return Mixer(real, {"reflect": 1.0}, VOCAB, texts, np.random.default_rng(seed))


def test_prose_filler_leaves_the_revealed_word_the_only_answer_word():
    m = mixer()
    stage = Stage(steps=1, max_len=256, batch_tokens=2048, synthetic=1.0, mix=(0, 0, 1, 0))
    for filler, alone in (("prose", True), ("text", False)):
        stage.filler = filler
        rows = [m.synthetic(stage) for _ in range(20)]
        others = []
        for ids, labels in rows:
            revealed = {ids[i + 1] for i, y in enumerate(labels) if y in ANSWERS}
            prefix = len(VOCAB.reveal_prefix)
            shown = [
                ids[j + prefix]
                for j in range(len(ids) - prefix)
                if tuple(ids[j : j + prefix]) == VOCAB.reveal_prefix
            ]
            assert set(shown) == revealed
            others += [t for t in ids if t in ANSWERS and t not in revealed]
        assert (not others) == alone


def test_a_long_real_example_keeps_its_answer_at_its_end():
    ids, labels = mixer().real_example(max_len=64)
    assert ids == list(range(1536, 1600))
    assert labels[-10:-1] == list(range(1591, 1600)) and labels[-1] == IGNORE


def test_tagging_needles_only_where_pieces_fit_and_exist():
    short = ([2000] * 20, [2100, 2101])
    long = ([2000] * 300, [2100])
    texts = [list(t) for t in TEXTS]
    stage = Stage(steps=1, max_len=256, batch_tokens=2048, synthetic=1.0, mix=(0, 0, 0, 1))
    m = Mixer({}, {}, VOCAB, texts, np.random.default_rng(0), [short, long])
    assert m.pieces_within(256) == [short]
    for _ in range(5):
        ids, labels = m.synthetic(stage)
        assert 2000 in ids and 2100 in labels and not any(t in ANSWERS for t in ids)
    # a build without the tagging game: its share goes to the other kinds
    m = Mixer({}, {}, VOCAB, texts, np.random.default_rng(0))
    stage.mix = (0, 0, 0.5, 0.5)
    for _ in range(5):
        ids, labels = m.synthetic(stage)
        assert 2000 not in ids and any(t in ANSWERS for t in labels)


def test_a_second_phase_starts_from_the_first_phases_weights(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    main(["--out", str(first), "--quick"])
    main(["--out", str(second), "--quick", "--continue-from", str(first)])
    tok = AutoTokenizer.from_pretrained(first)
    start = continued_model(first, tok).state_dict()
    fresh = AutoModelForCausalLM.from_pretrained(first, dtype=torch.float32).state_dict()
    assert all(torch.equal(start[k], fresh[k]) for k in fresh)
    after = AutoModelForCausalLM.from_pretrained(second, dtype=torch.float32).state_dict()
    assert any(not torch.equal(after[k], fresh[k]) for k in fresh)  # and it trained on
    other = tmp_path / "other"
    build_word_tokenizer(["alpha", "beta"]).save_pretrained(other)
    with pytest.raises(ValueError, match="tokenizer"):
        continued_model(first, AutoTokenizer.from_pretrained(other))


def test_second_phase_recipes():
    longer = BuildConfig(**recipe(quick=False, phase="longer"))
    assert sum(s.steps for s in longer.stages) == 1000 and longer.lr == 1e-3
    assert all(s.mix[3] == 0 for s in longer.stages)  # the first phase's mix: no tagging needles
    tagging = BuildConfig(**recipe(quick=False, phase="tagging"))
    assert all(s.mix[3] > 0 for s in tagging.stages)
    assert BuildConfig(**recipe(quick=True, phase="longer")).stages == QUICK["stages"]
    assert recipe(quick=False) == {}
