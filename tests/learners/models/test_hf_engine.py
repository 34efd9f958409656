import torch

from learners.models.hf_engine import skinny_linear, skinny_linears


def test_skinny_linear_is_the_same_linear():
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(33, 7, generator=gen)
    bias = torch.randn(33, generator=gen)
    for shape in [(1, 7), (1, 1, 7), (3, 1, 7), (2, 5, 7), (40, 7)]:  # 40 rows: regular path
        x = torch.randn(*shape, generator=gen)
        expected = x.double() @ weight.double().T + bias.double()
        got = skinny_linear(x, weight, bias)
        assert got.shape == (*shape[:-1], 33) and got.dtype == torch.float32
        assert torch.allclose(got.double(), expected, atol=1e-5)
        no_bias = skinny_linear(x, weight)
        assert torch.allclose(no_bias.double(), expected - bias.double(), atol=1e-5)


def test_skinny_linears_swaps_linear_forwards_for_the_block_only():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 9), torch.nn.ReLU(), torch.nn.Linear(9, 2))
    x = torch.randn(3, 5)
    calls = []
    model[0].register_forward_hook(lambda m, i, o: calls.append(o.shape))
    with skinny_linears(model):
        assert "forward" in vars(model[0]) and "forward" in vars(model[2])
        inside = model(x)
    assert "forward" not in vars(model[0]) and "forward" not in vars(model[2])
    assert torch.allclose(inside, model(x), atol=1e-6)
    assert calls == [(3, 9), (3, 9)]  # hooks still run: the module call itself is unchanged


def test_sample_categorical_draws_the_distribution():
    from learners.models.hf_engine import sample_categorical

    probs = torch.tensor([[0.1, 0.0, 0.6, 0.3, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_categorical(probs, gen) for _ in range(20000)])
    counts = torch.stack([torch.bincount(draws[:, r], minlength=5) for r in range(2)]) / 20000
    assert counts[0, 1] == 0 and counts[0, 4] == 0  # zero mass is never drawn
    assert torch.allclose(counts[0], probs[0], atol=0.012)  # ~4 standard errors
    assert torch.equal(counts[1], probs[1])
    # a uniform draw at the very top of the mass still lands on a token that has mass
    top = torch.tensor([[0.5, 0.5, 0.0]])
    gen = torch.Generator().manual_seed(1)
    assert set(sample_categorical(top.expand(4096, -1), gen).tolist()) <= {0, 1}
