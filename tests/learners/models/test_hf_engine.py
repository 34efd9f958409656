from dataclasses import replace

import pytest
import torch

from learners.models.hf_engine import (
    HFEngine,
    kv_bytes_per_token,
    row_bytes,
    skinny_linear,
    skinny_linears,
)
from learners.models.types import SamplingParams
from tests.learners.models.conftest import CONVS


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
    draws = torch.stack(
        [sample_categorical(probs, torch.rand(2, generator=gen)) for _ in range(20000)]
    )
    counts = torch.stack([torch.bincount(draws[:, r], minlength=5) for r in range(2)]) / 20000
    assert counts[0, 1] == 0 and counts[0, 4] == 0  # zero mass is never drawn
    assert torch.allclose(counts[0], probs[0], atol=0.012)  # ~4 standard errors
    assert torch.equal(counts[1], probs[1])
    # a uniform draw at the very top of the mass still lands on a token that has mass
    top = torch.tensor([[0.5, 0.5, 0.0]])
    u = torch.cat(
        [
            torch.rand(4094, generator=torch.Generator().manual_seed(1)),
            torch.tensor([1 - 2**-24, 0.0]),
        ]
    )
    assert set(sample_categorical(top.expand(4096, -1), u).tolist()) <= {0, 1}


# -- continuous batching ----------------------------------------------------------------------
# Prompts of different lengths (left padding, a wide cache), more than the rows decoding at
# once, so finished rows are replaced by waiting prompts mid-batch.
PROMPTS = [
    [5, 9, 17],
    [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51],
    [7],
    [60, 61, 62, 63, 64, 65],
    [80, 81],
    [90, 91, 92, 93, 94, 95, 96, 97, 98],
    [11, 12, 13, 14],
    [30, 31, 32, 33, 34, 35, 36],
]


def engine_for(policy, **options) -> HFEngine:
    return HFEngine(policy.model, policy.tokenizer, policy.eos_ids, policy.pad_id, **options)


def one_by_one(policy, prompts, params) -> list:
    return engine_for(policy, batch_size=1).generate(prompts, params)


def assert_same(got, expected) -> None:
    for a, b in zip(got, expected, strict=True):
        assert a.token_ids == b.token_ids
        assert a.text == b.text and a.finish_reason == b.finish_reason
        assert torch.allclose(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-4)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("ignore_eos", [True, False])
def test_any_batch_size_gives_the_one_by_one_completions(policy, temperature, ignore_eos):
    """Greedy ids and seeded samples do not depend on the rows decoding together."""
    params = SamplingParams(
        temperature=temperature, max_new_tokens=12, seed=3, ignore_eos=ignore_eos
    )
    expected = one_by_one(policy, PROMPTS, params)
    for rows in (2, 3, 5, 8, None):
        assert_same(engine_for(policy, batch_size=rows).generate(PROMPTS, params), expected)
    # another seed samples something else (the draws are the seed's, not fixed)
    if temperature > 0:
        other = engine_for(policy, batch_size=3).generate(PROMPTS, replace(params, seed=4))
        assert [c.token_ids for c in other] != [c.token_ids for c in expected]


def test_refilled_rows_match_scoring(policy):
    """Each completion's log-probs are what a forward pass over prompt + completion gives."""
    params = SamplingParams(temperature=1.0, max_new_tokens=10, seed=0)
    outs = engine_for(policy, batch_size=3).generate(PROMPTS, params)
    scores = policy.scorer.score(PROMPTS, [c.token_ids for c in outs])
    for c, s in zip(outs, scores, strict=True):
        assert torch.allclose(s.token_logprobs, torch.tensor(c.logprobs), atol=1e-4)


class Spy:
    """Records the batch widths of the model's forward calls, passing them through."""

    def __init__(self, model):
        self.model, self.calls = model, []  # (rows, prefill?) per forward call

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, **kwargs):
        prefill = "cache" not in kwargs and "past_key_values" not in kwargs
        self.calls.append((kwargs["input_ids"].shape[0], prefill))
        return self.model(**kwargs)


def test_finished_rows_are_replaced_by_waiting_prompts(policy):
    """With EOS at different steps, waiting prompts join a running batch (a prefill while
    other rows are mid-decode), and no step runs more rows than allowed."""
    eos = {policy.tokenizer.convert_tokens_to_ids(t) for t in ("a", "e")} | policy.eos_ids
    engine = HFEngine(policy.model, policy.tokenizer, eos, policy.pad_id, batch_size=4)
    spy = Spy(policy.model)
    engine.model = spy
    params = SamplingParams(temperature=1.0, max_new_tokens=16, seed=1)
    outs = engine.generate(PROMPTS, params)
    reasons = [c.finish_reason for c in outs]
    assert "stop" in reasons and len({len(c.token_ids) for c in outs}) > 2
    joined = [
        k
        for k, (n, prefill) in enumerate(spy.calls[:-1])
        if prefill and k > 0 and spy.calls[k + 1][0] > n  # the next decode step has old rows too
    ]
    assert joined
    assert max(n for n, _ in spy.calls) <= 4
    for c in outs:
        assert (c.finish_reason == "stop") == (c.token_ids[-1] in eos)
    solo = HFEngine(policy.model, policy.tokenizer, eos, policy.pad_id, batch_size=1)
    assert_same(outs, solo.generate(PROMPTS, params))


def test_stop_strings_end_refilled_rows(policy):
    params = SamplingParams(temperature=1.0, max_new_tokens=16, seed=2, stop=("e", "o"))
    outs = engine_for(policy, batch_size=2).generate(PROMPTS, params)
    assert any(c.finish_reason == "stop" for c in outs)
    for c in outs:
        full = policy.tokenizer.decode(c.token_ids, skip_special_tokens=True)
        if c.finish_reason == "stop" and c.token_ids[-1] not in policy.eos_ids:
            assert "e" not in c.text and "o" not in c.text and full.startswith(c.text)
            assert "e" in full or "o" in full
    assert_same(outs, one_by_one(policy, PROMPTS, params))


def test_rows_follow_the_memory_budget(policy):
    """The budget in bytes over one row's estimate, at least one row; batch_size overrides."""
    per_row = row_bytes(policy.model, 12 + 8)
    assert per_row > 20 * kv_bytes_per_token(policy.model)
    engine = engine_for(policy, memory_budget_mb=10 * per_row / 2**20)
    assert engine.rows(PROMPTS, 8) == 10
    assert engine_for(policy, memory_budget_mb=1e-6).rows(PROMPTS, 8) == 1
    assert engine_for(policy, batch_size=3, memory_budget_mb=1e-6).rows(PROMPTS, 8) == 3
    assert engine_for(policy).rows(PROMPTS, 8) >= 16  # the default budget on this machine
    cfg = policy.model.config
    assert kv_bytes_per_token(policy.model) == (
        2
        * cfg.num_hidden_layers
        * cfg.num_key_value_heads
        * (getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
        * 4
    )


# -- autocast ---------------------------------------------------------------------------------
def test_bf16_autocast_scores_close_to_fp32_with_float32_weights_and_head(policy):
    from learners.models import Policy

    fast = Policy(policy.model, policy.tokenizer, autocast="bf16")
    params = SamplingParams(temperature=1.0, max_new_tokens=8, seed=5)
    outs = fast.generate(CONVS, params)
    items = [(c, o.token_ids) for c, o in zip(CONVS, outs, strict=True)]
    exact = policy.score(items, top_k=4)
    rounded = fast.score(items, top_k=4, grad=True)
    for e, r, o in zip(exact, rounded, outs, strict=True):
        assert r.token_logprobs.dtype == torch.float32
        # bf16 products through the layers: a tenth of a nat or so on this random model
        assert torch.allclose(r.token_logprobs, e.token_logprobs, atol=0.3)
        assert not torch.equal(r.token_logprobs, e.token_logprobs)  # bf16 really ran
        # what the engine sampled under autocast is what the scorer says under autocast
        assert torch.allclose(torch.tensor(o.logprobs), r.token_logprobs.detach(), atol=0.05)
    sum(r.token_logprobs.sum() for r in rounded).backward()
    head = policy.model.get_output_embeddings()
    assert "forward" not in vars(head)  # the float32 head is put back after each call
    grads = [p.grad for p in policy.model.parameters() if p.requires_grad]
    assert all(p.dtype == torch.float32 for p in policy.model.parameters())
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(g is None or g.dtype == torch.float32 for g in grads)
    policy.model.zero_grad(set_to_none=True)
    with pytest.raises(ValueError, match="autocast"):
        Policy(policy.model, policy.tokenizer, autocast="int8").score(items[:1])


def test_autocast_with_skinny_decode_products_as_on_a_weight_bound_model(policy):
    """A model of 10M+ parameters on a CPU decodes through skinny_linears and autocast at
    once; both put an instance forward on the LM head, and both must take theirs off."""
    params = SamplingParams(temperature=1.0, max_new_tokens=6, seed=3)
    skinny = engine_for(policy, autocast="bf16", skinny_matmul=True)
    for _ in range(2):  # a second call finds the modules as they were
        outs = skinny.generate(PROMPTS[:2], params)
        assert len(outs) == 2 and all(o.token_ids for o in outs)
    assert not any("forward" in vars(m) for m in policy.model.modules())


def test_repeated_prompts_are_prefilled_once(policy):
    """G rollouts of one prompt: one prefill row per distinct prompt, each row's own draws."""
    prompts = [PROMPTS[1]] * 4 + [PROMPTS[3]] * 3 + [PROMPTS[0]]
    engine = engine_for(policy)
    spy = Spy(policy.model)
    engine.model = spy
    params = SamplingParams(temperature=1.0, max_new_tokens=6, seed=7, ignore_eos=True)
    outs = engine.generate(prompts, params)
    assert spy.calls[0] == (3, True) and spy.calls[1] == (8, False)
    assert len({tuple(c.token_ids) for c in outs[:4]}) > 1  # copies sample independently
    assert_same(outs, one_by_one(policy, prompts, params))
