"""Plain records of the model layer: sampling settings, completions, per-token scores, LoRA.

Conversations are ``chat.Conversation`` (an assistant message may carry the ``token_ids`` it
was sampled as).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class SamplingParams:
    """How to decode. ``temperature == 0`` means greedy; ``seed`` makes sampling repeatable.

    ``stop`` strings end a completion (the text is cut before the stop string, as vLLM does);
    EOS ends it too, unless ``ignore_eos`` (for throughput benchmarks: every completion runs
    to ``max_new_tokens``, as vLLM's option of the same name). ``max_new_tokens`` caps the
    completion length ("length" finish).
    """

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    seed: int | None = None
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if isinstance(self.stop, str):  # a lone string is a common slip: treat it as one stop
            object.__setattr__(self, "stop", (self.stop,))
        object.__setattr__(self, "stop", tuple(s for s in self.stop if s))


@dataclass
class Completion:
    """One sampled completion.

    ``token_ids`` are every sampled token (a final EOS token included; with a stop string,
    up to and including the token that completed it). ``logprobs[i]`` is the log-probability
    of ``token_ids[i]`` under the model's *untempered* distribution (plain softmax of the
    logits, before temperature / top-p), which is exactly what ``Policy.score`` recomputes
    and what vLLM reports with ``logprobs_mode="raw_logprobs"``. ``text`` is the decoded
    completion without special tokens and cut before a stop string. ``finish_reason`` is
    "stop" (EOS or stop string) or "length" (``max_new_tokens`` reached).
    """

    token_ids: list[int]
    text: str
    logprobs: list[float]
    finish_reason: str


@dataclass
class TokenScores:
    """Per completion token scores of one (conversation, completion) pair; T tokens, K ids.

    ``token_logprobs`` [T]: log-prob of the actual token. ``topk_ids`` / ``topk_logprobs``
    [T, K]: this model's top-K (or the log-probs at ``gather_ids`` when those were given).
    ``tail_logprob`` [T]: log(1 - sum(exp(topk_logprobs))), the mass outside those K ids
    (clamped to at least log(1e-12) of float32 range so it is never -inf).
    """

    token_logprobs: torch.Tensor
    topk_ids: torch.Tensor
    topk_logprobs: torch.Tensor
    tail_logprob: torch.Tensor


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapter settings passed to peft (only these weights train; the EMA copies them)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: tuple[str, ...] = field(
        default=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    )

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"LoRA r must be >= 1, got {self.r}")
        if not self.target_modules:
            raise ValueError("LoRA target_modules must name at least one module")
