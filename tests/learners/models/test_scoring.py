import math

import torch

from learners.models.scoring import TAIL_FLOOR, log1mexp, tail_logprob, token_scores


def test_tail_matches_float64_reference():
    torch.manual_seed(0)
    logprobs = torch.log_softmax(torch.randn(7, 50) * 3, dim=-1)
    scores = token_scores(logprobs, torch.arange(7), top_k=5)
    ref = torch.log1p(-scores.topk_logprobs.double().exp().sum(-1))
    assert torch.allclose(scores.tail_logprob.double(), ref, atol=1e-6)
    # top-K are the K largest, sorted, and the token log-probs are the actual entries
    sorted_lp = logprobs.sort(dim=-1, descending=True).values[:, :5]
    assert torch.equal(scores.topk_logprobs, sorted_lp)
    assert torch.equal(scores.token_logprobs, logprobs[torch.arange(7), torch.arange(7)])


def test_gather_ids_returns_logprobs_at_those_ids():
    torch.manual_seed(1)
    logprobs = torch.log_softmax(torch.randn(4, 30), dim=-1)
    ids = torch.tensor([[0, 3], [5, 5], [29, 1], [7, 8]])
    scores = token_scores(logprobs, torch.zeros(4, dtype=torch.long), gather_ids=ids)
    assert torch.equal(scores.topk_ids, ids)
    for t in range(4):
        for k in range(2):
            assert scores.topk_logprobs[t, k] == logprobs[t, ids[t, k]]
    mass = sum(math.exp(logprobs[0, i].item()) for i in (0, 3))
    assert abs(scores.tail_logprob[0].item() - math.log(1 - mass)) < 1e-6


def test_log1mexp_is_stable_and_clamped():
    x = torch.tensor(
        [-1e-20, -1e-8, -0.1, -0.69, -0.7, -5.0, -50.0], dtype=torch.float64, requires_grad=True
    )
    y = log1mexp(x)
    ref = [math.log(-math.expm1(min(v, -TAIL_FLOOR))) for v in x.tolist()]
    assert torch.allclose(y, torch.tensor(ref, dtype=torch.float64), rtol=1e-12)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    # all mass in the top-K: the tail is the floor, finite, not -inf
    full = torch.log_softmax(torch.randn(3, 4), dim=-1)
    assert torch.isfinite(tail_logprob(full)).all()
    assert torch.allclose(tail_logprob(full), torch.full((3,), math.log(TAIL_FLOOR)), atol=0.1)


def test_top_k_zero_has_no_ids_and_zero_tail():
    scores = token_scores(torch.log_softmax(torch.randn(3, 9), -1), torch.tensor([1, 2, 3]))
    assert scores.topk_ids.shape == (3, 0) and torch.equal(scores.tail_logprob, torch.zeros(3))
