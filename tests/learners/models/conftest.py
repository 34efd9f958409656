import pytest

from learners.models import Policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load("tiny-random", device="cpu", batch_size=8)


CONVS = [
    [{"role": "user", "content": "hi"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "A much longer prompt, to force left padding in the batch."},
    ],
    [{"role": "user", "content": "What is 2+2?"}],
    [
        {"role": "user", "content": "Guess a word."},
        {"role": "assistant", "content": "crane"},
        {"role": "user", "content": "C(X) R(Y) A(G) N(X) E(X)"},
    ],
]
