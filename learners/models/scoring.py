"""Pure functions from a [T, V] log-prob matrix to per-token scores (top-K + tail).

Kept apart from any model so the math is tested against float64 references on its own.
"""

from __future__ import annotations

import math

import torch

from learners.models.types import TokenScores

TAIL_FLOOR = 1e-12  # the tail mass is clamped to at least this, so its log is finite
_LOG_HALF = -math.log(2.0)


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x <= 0, stable at both ends (Maechler 2012)."""
    x = x.clamp(max=-TAIL_FLOOR)
    # each branch sees only its own range, so neither yields inf/NaN gradients through where()
    near_zero = torch.log(-torch.expm1(x.clamp(min=_LOG_HALF)))
    far = torch.log1p(-torch.exp(x.clamp(max=_LOG_HALF)))
    return torch.where(x > _LOG_HALF, near_zero, far)


def tail_logprob(selected_logprobs: torch.Tensor) -> torch.Tensor:
    """log(1 - sum_k exp(lp_k)) over the last axis: the mass outside the selected ids."""
    if selected_logprobs.shape[-1] == 0:
        return torch.zeros(
            selected_logprobs.shape[:-1],
            dtype=selected_logprobs.dtype,
            device=selected_logprobs.device,
        )
    return log1mexp(torch.logsumexp(selected_logprobs, dim=-1))


def token_scores(
    logprobs: torch.Tensor,
    token_ids: torch.Tensor,
    top_k: int = 0,
    gather_ids: torch.Tensor | None = None,
) -> TokenScores:
    """Scores of T tokens from their [T, V] log-probs.

    With ``gather_ids`` [T, K] the "top-K" are the log-probs at those ids (a teacher scored on
    the student's top-K); otherwise this distribution's own top ``top_k``.
    """
    if logprobs.dim() != 2 or token_ids.shape != logprobs.shape[:1]:
        raise ValueError(
            f"expected [T, V] log-probs and [T] ids, got {tuple(logprobs.shape)} "
            f"and {tuple(token_ids.shape)}"
        )
    token_lp = logprobs.gather(-1, token_ids.unsqueeze(-1)).squeeze(-1)
    if gather_ids is not None:
        if gather_ids.dim() != 2 or gather_ids.shape[0] != logprobs.shape[0]:
            raise ValueError(
                f"gather_ids must be [T={logprobs.shape[0]}, K], got {tuple(gather_ids.shape)}"
            )
        ids = gather_ids.to(device=logprobs.device, dtype=torch.long)
        sel = logprobs.gather(-1, ids)
    elif top_k > 0:
        sel, ids = logprobs.topk(min(top_k, logprobs.shape[-1]), dim=-1)
    else:
        ids = torch.zeros((logprobs.shape[0], 0), dtype=torch.long, device=logprobs.device)
        sel = logprobs.new_zeros((logprobs.shape[0], 0))
    return TokenScores(token_lp, ids, sel, tail_logprob(sel))
