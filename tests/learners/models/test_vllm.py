"""vLLM engine: the parts that need no GPU run everywhere; parity needs vllm and CUDA."""

import importlib.util

import pytest
import torch

from learners.models import LoraSettings, Policy, PresetUnavailable, SamplingParams
from learners.models.vllm_engine import vllm_weight_items
from tests.learners.models.conftest import CONVS

HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_vllm = pytest.mark.skipif(
    not (HAS_VLLM and torch.cuda.is_available()),
    reason="vllm is not importable here (GPU extra: pip install 'resd-bench[vllm]') or no CUDA",
)


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed: the missing-engine error cannot occur")
def test_missing_vllm_is_a_one_line_error():
    with pytest.raises(PresetUnavailable, match="engine 'vllm' needs vllm"):
        Policy.load("tiny-random", engine="vllm", device="cpu")


def test_weight_items_merge_lora_under_hf_names():
    plain = Policy.load("tiny-random", device="cpu")
    lora = Policy.load(
        "tiny-random", device="cpu", lora=LoraSettings(r=2, alpha=4, target_modules=("q_proj",))
    )
    with torch.no_grad():
        for p in lora.trainable_parameters():
            p.add_(0.1)  # lora_B starts at zero: make the adapter matter
    items = dict(vllm_weight_items(lora.model))
    reference = plain.model.state_dict()
    assert set(items) == set(reference)
    q = "model.layers.0.self_attn.q_proj.weight"
    layer = "base_model.model.model.layers.0.self_attn.q_proj"
    params = dict(lora.model.named_parameters())
    b, a = params[layer + ".lora_B.default.weight"], params[layer + ".lora_A.default.weight"]
    delta = (4 / 2) * b @ a
    assert torch.allclose(items[q], reference[q] + delta, atol=1e-6)  # W + (alpha/r) B A
    k = "model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(items[k], reference[k])
    after = dict(lora.model.named_parameters())  # the module itself is untouched
    assert torch.equal(
        after["base_model.model." + q.replace(".weight", ".base_layer.weight")], reference[q]
    )


@needs_vllm
def test_vllm_matches_hf_logprobs_and_syncs_weights():
    hf = Policy.load("tiny-random", engine="hf", device="cuda", dtype=torch.float32)
    vl = Policy.load("tiny-random", engine="vllm", device="cuda", dtype=torch.float32)
    params = SamplingParams(temperature=0.0, max_new_tokens=16)
    got = vl.generate(CONVS, params)
    scores = hf.score([(c, x.token_ids) for c, x in zip(CONVS, got, strict=True)], top_k=5)
    for comp, s in zip(got, scores, strict=True):
        assert torch.allclose(torch.tensor(comp.logprobs), s.token_logprobs.cpu(), atol=1e-3)
    engine_scores = vl.score([(c, x.token_ids) for c, x in zip(CONVS, got, strict=True)], top_k=5)
    for e, s in zip(engine_scores, scores, strict=True):
        assert torch.allclose(e.topk_logprobs, s.topk_logprobs.cpu(), atol=1e-3)
    with torch.no_grad():
        for p in vl.trainable_parameters():
            p.mul_(1.5)
    moved = vl.score([(CONVS[0], got[0].token_ids)])[0].token_logprobs  # syncs lazily
    local = vl.score([(CONVS[0], got[0].token_ids)], grad=True)[0].token_logprobs
    assert torch.allclose(moved, local.detach().cpu(), atol=1e-3)
