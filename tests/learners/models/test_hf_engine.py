import torch

from learners.models.hf_engine import SkinnyMatmul


def test_skinny_matmul_is_the_same_linear():
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(33, 7, generator=gen)
    bias = torch.randn(33, generator=gen)
    for shape in [(1, 7), (1, 1, 7), (3, 1, 7), (2, 5, 7), (40, 7)]:  # 40 rows: regular path
        x = torch.randn(*shape, generator=gen)
        expected = x.double() @ weight.double().T + bias.double()
        with SkinnyMatmul():
            got = torch.nn.functional.linear(x, weight, bias)
            no_bias = torch.nn.functional.linear(x, weight)
        assert got.shape == (*shape[:-1], 33) and got.dtype == torch.float32
        assert torch.allclose(got.double(), expected, atol=1e-5)
        assert torch.allclose(no_bias.double(), expected - bias.double(), atol=1e-5)


def test_skinny_matmul_leaves_other_ops_alone():
    x = torch.randn(2, 3)
    with SkinnyMatmul():
        assert torch.equal(torch.relu(x), x.clamp(min=0))
        assert torch.equal(x @ x.T, torch.mm(x, x.T))
