"""Supervised fine-tuning on (conversation, answer) pairs: warm starts and model builds.

The same ``Policy.score`` that the learners train through computes the answer tokens'
log-probs (an answer is its text tokens plus the end-of-turn token), so a warm-started model
is trained in exactly the prompt format it is later sampled and scored in.
"""

from __future__ import annotations

from typing import Any

import torch

from chat import Conversation


def answer_ids(policy: Any, text: str) -> list[int]:
    """Token ids of an assistant answer as the policy would generate it (EOS-terminated)."""
    ids = policy.tokenizer(text, add_special_tokens=False)["input_ids"]
    return list(ids) + [policy.tokenizer.eos_token_id]


def sft_loss(policy: Any, pairs: list[tuple[Conversation, str]]) -> torch.Tensor:
    """Mean negative log-likelihood per answer token (with gradient)."""
    items = [(conv, answer_ids(policy, text)) for conv, text in pairs]
    scores = policy.score(items, grad=True)
    total = sum(s.token_logprobs.sum() for s in scores)
    return -total / sum(len(ids) for _, ids in items)


def sft_step(
    policy: Any,
    optimizer: torch.optim.Optimizer,
    pairs: list[tuple[Conversation, str]],
    grad_clip: float = 1.0,
) -> float:
    """One optimiser step of supervised learning on ``pairs``; returns the loss."""
    loss = sft_loss(policy, pairs)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.trainable_parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    policy.sync_weights()
    return float(loss.detach())
