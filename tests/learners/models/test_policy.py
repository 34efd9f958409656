import contextlib
import copy
from dataclasses import replace

import pytest
import torch

from learners.models import Policy, SamplingParams
from tests.learners.models.conftest import CONVS

GREEDY = SamplingParams(temperature=0.0, max_new_tokens=24)


def reference_logprobs(policy: Policy, conv, completion: list[int]) -> torch.Tensor:
    """Independent float64 log-softmax of one plain (unpadded, uncached) forward pass."""
    model = copy.deepcopy(policy.model).double()
    ids = torch.tensor([policy.render(conv) + completion])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)[-len(completion) - 1 : -1]
    return lp


def test_render_opens_the_assistant_turn(policy):
    text = policy.tokenizer.decode(policy.render(CONVS[0]))
    assert text.endswith("<|im_start|>assistant\n") and "hi" in text
    with pytest.raises(ValueError, match="conversation"):
        policy.render([{"content": "no role"}])


def test_a_final_assistant_message_is_continued_not_closed(policy):
    """A pre-filled answer: the prompt is the opened assistant turn plus the prefix's
    tokens (no end-of-turn, no new turn), so the completion continues the prefix."""
    prefill = [*CONVS[0], {"role": "assistant", "content": '{"reasoning'}]
    prefix_ids = policy.tokenizer('{"reasoning', add_special_tokens=False)["input_ids"]
    assert policy.render(prefill) == policy.render(CONVS[0]) + prefix_ids


def test_score_equals_float64_forward(policy):
    comps = policy.generate(CONVS, SamplingParams(temperature=1.0, max_new_tokens=12, seed=3))
    scores = policy.score([(c, x.token_ids) for c, x in zip(CONVS, comps, strict=True)], top_k=5)
    for conv, comp, s in zip(CONVS, comps, scores, strict=True):
        ref = reference_logprobs(policy, conv, comp.token_ids)
        ids = torch.tensor(comp.token_ids)
        assert torch.allclose(
            s.token_logprobs.double(), ref[torch.arange(len(ids)), ids], atol=2e-5
        )
        assert torch.allclose(s.topk_logprobs.double(), ref.topk(5, -1).values, atol=2e-5)
        assert torch.equal(s.topk_ids, ref.topk(5, -1).indices)
        tail = torch.log1p(-ref.topk(5, -1).values.exp().sum(-1))
        assert torch.allclose(s.tail_logprob.double(), tail, atol=2e-5)


def test_generate_logprobs_match_score(policy):
    """KV-cached sampling log-probs equal a fresh forward's to float32 noise (1e-4)."""
    for params in (GREEDY, SamplingParams(temperature=0.8, top_p=0.9, max_new_tokens=24, seed=5)):
        comps = policy.generate(CONVS, params)
        scores = policy.score([(c, x.token_ids) for c, x in zip(CONVS, comps, strict=True)])
        for comp, s in zip(comps, scores, strict=True):
            assert len(comp.logprobs) == len(comp.token_ids) == s.token_logprobs.shape[0]
            assert torch.allclose(torch.tensor(comp.logprobs), s.token_logprobs, atol=1e-4)


def test_batching_and_left_padding_change_nothing(policy):
    batched = policy.generate(CONVS, GREEDY)
    single = [policy.generate([c], GREEDY)[0] for c in CONVS]
    for b, s in zip(batched, single, strict=True):
        assert b.token_ids == s.token_ids and b.text == s.text
        assert torch.allclose(torch.tensor(b.logprobs), torch.tensor(s.logprobs), atol=1e-5)
    pairs = zip(CONVS, batched, strict=True)
    items = [(c, x.token_ids[: 5 + 4 * i]) for i, (c, x) in enumerate(pairs)]
    together = policy.score(items, top_k=3)
    alone = [policy.score([item], top_k=3)[0] for item in items]
    for t, a in zip(together, alone, strict=True):
        assert torch.allclose(t.token_logprobs, a.token_logprobs, atol=1e-5)
        assert torch.allclose(t.topk_logprobs, a.topk_logprobs, atol=1e-5)
        assert torch.allclose(t.tail_logprob, a.tail_logprob, atol=1e-5)


def test_score_empty_completion_and_gather(policy):
    out = policy.score([(CONVS[0], []), (CONVS[1], [65, 66, 67])], top_k=2)
    assert out[0].token_logprobs.shape == (0,) and out[0].topk_ids.shape == (0, 2)
    gather = [torch.zeros((0, 2), dtype=torch.long), out[1].topk_ids]
    again = policy.score([(CONVS[0], []), (CONVS[1], [65, 66, 67])], gather_ids=gather)
    assert torch.allclose(again[1].topk_logprobs, out[1].topk_logprobs, atol=1e-6)
    with pytest.raises(ValueError, match="gather_ids"):
        policy.score([(CONVS[1], [65, 66])], gather_ids=[torch.zeros((3, 2), dtype=torch.long)])


def test_grad_flag(policy):
    item = [(CONVS[0], [65, 66, 67])]
    assert not policy.score(item, top_k=2)[0].token_logprobs.requires_grad
    s = policy.score(item, top_k=2, grad=True)[0]
    (s.token_logprobs.sum() + s.tail_logprob.sum()).backward()
    grads = [p.grad for p in policy.trainable_parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    policy.model.zero_grad(set_to_none=True)


def test_stop_strings_length_and_seed(policy):
    free = policy.generate(CONVS[:1], GREEDY)[0]
    assert free.finish_reason == "length" and len(free.token_ids) == GREEDY.max_new_tokens
    ascii_at = [
        i
        for i in range(2, len(free.text) - 1)
        if free.text[i].isascii() and free.text[i] not in "\ufffd"
    ]
    cut = ascii_at[0]
    stop = free.text[cut]
    stopped = policy.generate(
        CONVS[:1], SamplingParams(temperature=0, max_new_tokens=24, stop=("\x00never", stop))
    )[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.find(stop)]
    assert stop not in stopped.text
    assert stopped.token_ids == free.token_ids[: len(stopped.token_ids)]
    sampled = SamplingParams(temperature=1.0, max_new_tokens=16, seed=11)
    first, again = policy.generate(CONVS, sampled), policy.generate(CONVS, sampled)
    assert [c.token_ids for c in first] == [c.token_ids for c in again]
    other = policy.generate(CONVS, SamplingParams(temperature=1.0, max_new_tokens=16, seed=12))
    assert [c.token_ids for c in first] != [c.token_ids for c in other]


def test_eos_ends_with_stop(policy, monkeypatch):
    free = policy.generate(CONVS[:1], GREEDY)[0]
    monkeypatch.setattr(policy.engine, "eos_ids", {free.token_ids[3]})
    ended = policy.generate(CONVS[:1], GREEDY)[0]
    assert ended.finish_reason == "stop" and ended.token_ids == free.token_ids[:4]
    ignoring = policy.generate(CONVS[:1], replace(GREEDY, ignore_eos=True))[0]
    assert ignoring.finish_reason == "length" and ignoring.token_ids == free.token_ids


def test_top_p_keeps_the_nucleus():
    from learners.models.hf_engine import top_p_filter

    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    assert torch.allclose(top_p_filter(probs, 0.7), torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    assert torch.allclose(top_p_filter(probs, 0.1), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


def test_state_dict_round_trip(policy):
    other = Policy.load("tiny-random", device="cpu", seed=1)
    item = [(CONVS[2], [70, 71, 72])]
    assert not torch.allclose(
        other.score(item)[0].token_logprobs, policy.score(item)[0].token_logprobs
    )
    other.load_state_dict(policy.state_dict())
    assert torch.equal(other.score(item)[0].token_logprobs, policy.score(item)[0].token_logprobs)


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="engine"):
        Policy.load("tiny-random", engine="onnx")
    assert SamplingParams(stop="\n").stop == ("\n",)


@contextlib.contextmanager
def recorded_input_shapes(policy: Policy):
    """The input_ids shape of every forward pass of the policy's model inside the block."""
    shapes = []
    handle = policy.model.register_forward_pre_hook(
        lambda module, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)),
        with_kwargs=True,
    )
    try:
        yield shapes
    finally:
        handle.remove()


def episode_items(policy: Policy) -> list:
    """The three turns of one episode, each (context so far, completion ids ending in EOS)."""
    conv = [{"role": "user", "content": "Guess a word."}]
    eos = policy.tokenizer.convert_tokens_to_ids("<|im_end|>")
    items = []
    for word, feedback in (("crane", "C(X) R(Y)"), ("sorry", "S(G)"), ("stork", "won")):
        completion = policy.tokenizer(word, add_special_tokens=False)["input_ids"] + [eos]
        items.append(([dict(m) for m in conv], completion))
        conv += [{"role": "assistant", "content": word}, {"role": "user", "content": feedback}]
    return items


def objective(scores) -> torch.Tensor:
    return sum(s.token_logprobs.sum() + s.topk_logprobs.sum() for s in scores)


def assert_as_if_scored_one_by_one(policy: Policy, items, together, top_k: int) -> None:
    """Scores match a float64 forward of each item alone; gradients match one-by-one calls."""
    objective(together).backward()
    grads_together = [p.grad.clone() for p in policy.trainable_parameters()]
    policy.model.zero_grad(set_to_none=True)
    alone = [policy.score([item], top_k=top_k, grad=True)[0] for item in items]
    objective(alone).backward()
    for (conv, comp), t, a in zip(items, together, alone, strict=True):
        ref = reference_logprobs(policy, conv, comp)
        assert torch.allclose(t.token_logprobs.double(), ref[range(len(comp)), comp], atol=2e-5)
        assert torch.allclose(t.topk_logprobs.double(), ref.topk(top_k, -1).values, atol=2e-5)
        assert torch.equal(t.topk_ids, a.topk_ids)
    for g, p in zip(grads_together, policy.trainable_parameters(), strict=True):
        # float32 noise relative to the largest gradient entry (observed ~1e-6)
        assert (g - p.grad).abs().max() <= 1e-5 * p.grad.abs().max() + 1e-7
    policy.model.zero_grad(set_to_none=True)


def test_turns_of_an_episode_are_scored_in_one_row(policy):
    items = episode_items(policy)
    with recorded_input_shapes(policy) as shapes:
        together = policy.score(items, top_k=4, grad=True)
    assert len(shapes) == 1 and shapes[0][0] == 1  # one pass over one row: the last context
    assert_as_if_scored_one_by_one(policy, items, together, top_k=4)


def test_a_shared_prompt_runs_once_for_the_whole_group(policy, monkeypatch):
    """A group of completions after one long prompt: the prompt runs once (KV cache copied)."""
    assert not policy.scorer.share_prefixes  # off for a tiny model (see weight_bound)
    conv = [{"role": "user", "content": "Guess the secret five-letter word; answer in brackets."}]
    a, b, c = policy.tokenizer("[cr", add_special_tokens=False)["input_ids"]
    items = [
        (conv, [a, b, c, 70, 71, 72]),
        (conv, [a, b, c, 80]),
        (conv, [a, b, c, 90, 91]),
        (conv, [a, b]),  # a prefix of the others: scored inside the shared part alone
    ]
    shared = len(policy.render(conv)) + 3
    with recorded_input_shapes(policy) as shapes:
        plain = policy.score(items, top_k=3)
    assert shapes == [(3, shared + 3)]  # sharing off: 3 right-padded rows in one pass
    monkeypatch.setattr(policy.scorer, "share_prefixes", True)
    with recorded_input_shapes(policy) as shapes:
        together = policy.score(items, top_k=3, grad=True)
    assert shapes == [(1, shared), (3, 3)]  # the prompt once, then 3 rows of their own tokens
    for p, t in zip(plain, together, strict=True):
        assert torch.allclose(p.topk_logprobs, t.topk_logprobs.detach(), atol=1e-5)
    assert_as_if_scored_one_by_one(policy, items, together, top_k=3)
    weights = {n: p.detach().clone() for n, p in policy.named_trainable_parameters()}
    substituted = policy.score(items, gather_ids=[t.topk_ids for t in together], weights=weights)
    for s, t in zip(substituted, together, strict=True):
        assert torch.allclose(s.topk_logprobs, t.topk_logprobs.detach(), atol=1e-5)


def test_render_keeps_sampled_ids_verbatim(policy):
    """Turn t+1's prompt starts with turn t's prompt and sampled ids, even where the text of
    those ids tokenizes differently (tiny-random samples raw bytes, often invalid UTF-8)."""
    conv = [{"role": "user", "content": "Guess a word."}]
    retokenized_differently = 0
    for turn in range(4):
        params = SamplingParams(temperature=1.0, max_new_tokens=12, seed=turn)
        comp = policy.generate([conv], params)[0]
        prompt = policy.render(conv)
        conv = [
            *conv,
            {"role": "assistant", "content": comp.text, "token_ids": comp.token_ids},
            {"role": "user", "content": f"feedback {turn}"},
        ]
        body = [t for t in comp.token_ids if t not in policy.eos_ids]
        assert policy.render(conv)[: len(prompt) + len(body)] == prompt + body
        plain = [{"role": m["role"], "content": m["content"]} for m in conv]
        retokenized_differently += policy.render(plain)[len(prompt) :][: len(body)] != body
    assert retokenized_differently > 0  # the case this exists for did occur


def test_render_falls_back_to_the_text_when_ids_do_not_match_it(policy):
    ids = policy.tokenizer("cranes", add_special_tokens=False)["input_ids"]
    conv = [
        {"role": "user", "content": "Guess."},
        {"role": "assistant", "content": "crane", "token_ids": ids},  # cut at a stop string
        {"role": "user", "content": "again"},
    ]
    plain = [{"role": m["role"], "content": m["content"]} for m in conv]
    assert policy.render(conv) == policy.render(plain)
