"""Loss functions of the learners, as pure functions over tensors.

Shapes: ``B`` sequences (completions), ``T`` completion tokens (padded), ``K`` top-K buckets.
``mask`` is 1.0 on real completion tokens and 0.0 on padding. Formulas follow
docs/METHOD.md (sections 3.3, 4.8 and 5); every function here is tested against an independent
float64 computation in tests/learners/test_losses.py.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

AGGREGATIONS = ("grpo", "dapo", "dr_grpo", "token_mean")


# --------------------------------------------------------------------------------------- GRPO
def group_advantages(rewards: Tensor, *, scale_by_std: bool = True, eps: float = 1e-6) -> Tensor:
    """Group-relative advantages ``(r - mean(r)) / (std(r) + eps)`` for one group's rewards.

    ``scale_by_std=False`` is Dr. GRPO (no division). ``std`` is the sample standard deviation
    (Bessel-corrected), as in the common GRPO implementations; a group of one has std 0. A
    group whose rewards are all equal gets all-zero advantages: it carries no signal.
    """
    centered = rewards - rewards.mean()
    if not scale_by_std or rewards.numel() < 2:
        return centered
    return centered / (rewards.std() + eps)


def k3_kl(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """k3 estimator of KL(policy || reference) per token: ``exp(d) - d - 1``, ``d = ref - logp``."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def clipped_surrogate(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    *,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    ref_logp: Tensor | None = None,
    beta: float = 0.0,
) -> Tensor:
    """Per-token PPO/GRPO loss ``-min(rho*A, clip(rho, 1-eps_low, 1+eps_high)*A) + beta*k3``.

    ``advantages`` has shape [B] (one per sequence) or [B, T]. Returns [B, T].
    """
    if advantages.dim() == 1:
        advantages = advantages[:, None]
    ratio = torch.exp(logp - old_logp)
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)
    loss = -torch.minimum(ratio * advantages, clipped * advantages)
    if ref_logp is not None and beta != 0.0:
        loss = loss + beta * k3_kl(logp, ref_logp)
    return loss


def aggregate(token_loss: Tensor, mask: Tensor, mode: str, *, max_len: int | None = None) -> Tensor:
    """Reduce a [B, T] per-token loss to a scalar.

    ``grpo``: mean over each sequence's tokens, then over sequences; ``dapo`` / ``token_mean``:
    mean over all tokens of the batch; ``dr_grpo``: sum / (B * max_len), ``max_len`` defaulting
    to T (Dr. GRPO divides by a constant, the generation budget).
    """
    if mode not in AGGREGATIONS:
        raise ValueError(f"aggregation={mode!r} is not one of {', '.join(AGGREGATIONS)}")
    masked = token_loss * mask
    if mode == "grpo":
        per_sequence = masked.sum(-1) / mask.sum(-1).clamp_min(1.0)
        return per_sequence.mean()
    if mode in ("dapo", "token_mean"):
        return masked.sum() / mask.sum().clamp_min(1.0)
    return masked.sum() / (mask.shape[0] * (max_len or mask.shape[1]))


# ---------------------------------------------------------------------- self-distillation
def with_tail(topk_logp: Tensor, min_tail: float = 1e-12) -> Tensor:
    """Append the tail bucket ``log(1 - sum(exp(topk_logp)))`` as a last column: [..., K+1]."""
    mass = torch.exp(torch.logsumexp(topk_logp, dim=-1, keepdim=True))
    tail = torch.log(torch.clamp(1.0 - mass, min=min_tail))
    return torch.cat([topk_logp, tail], dim=-1)


def _kl(p_logp: Tensor, q_logp: Tensor) -> Tensor:
    """KL(p || q) over the last dimension from log-probabilities (0 log 0 = 0)."""
    p = torch.exp(p_logp)
    return torch.sum(torch.where(p > 0, p * (p_logp - q_logp), torch.zeros_like(p)), dim=-1)


def clip_teacher(
    teacher_logp: Tensor, student_logp: Tensor, eps_min: float | None, eps_max: float | None
) -> Tensor:
    """Keep the teacher within ``[eps_min, eps_max]`` times the student per bucket, renormalised.

    RESD floors the teacher probability at ``eps_min`` x the student's (0.2), so that the
    student is never pushed to drop a token it likes by more than that factor in one target;
    ``eps_max`` optionally caps it. The student side is detached: it only sets the bounds.
    The clipped distribution is renormalised so that the divergence stays a divergence.
    """
    if eps_min is None and eps_max is None:
        return teacher_logp
    bound = student_logp.detach()
    clipped = teacher_logp
    if eps_min is not None:
        clipped = torch.maximum(clipped, bound + math.log(eps_min))
    if eps_max is not None:
        clipped = torch.minimum(clipped, bound + math.log(eps_max))
    return clipped - torch.logsumexp(clipped, dim=-1, keepdim=True)


def sd_divergence(student_logp: Tensor, teacher_logp: Tensor, alpha: float) -> Tensor:
    """Per-token divergence between two distributions given as log-probs over buckets.

    ``alpha = 0``: forward KL(teacher || student); ``alpha = 1``: reverse KL(student ||
    teacher); otherwise the generalised JSD with ``M = (1-alpha)*S + alpha*T``:
    ``(1-alpha)*KL(S||M) + alpha*KL(T||M)``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha} is out of range: expected a value in [0, 1]")
    if alpha == 0.0:
        return _kl(teacher_logp, student_logp)
    if alpha == 1.0:
        return _kl(student_logp, teacher_logp)
    mixture = torch.logsumexp(
        torch.stack([student_logp + math.log1p(-alpha), teacher_logp + math.log(alpha)]), dim=0
    )
    return (1 - alpha) * _kl(student_logp, mixture) + alpha * _kl(teacher_logp, mixture)


def sd_token_loss(
    student_topk_logp: Tensor,
    teacher_topk_logp: Tensor,
    *,
    alpha: float = 0.5,
    eps_min: float | None = 0.2,
    eps_max: float | None = None,
    student_token_logp: Tensor | None = None,
    rollout_token_logp: Tensor | None = None,
    ratio_clip: float | None = 2.0,
) -> Tensor:
    """Self-distillation loss per token over the student's top-K ids plus one tail bucket.

    ``student_topk_logp`` [..., K] (with gradient) and ``teacher_topk_logp`` [..., K] (the
    teacher's log-probs at the *same* ids; treated as a constant). With the rollout's sampling
    log-probs, each token is weighted by the importance ratio ``pi_now / pi_rollout`` clipped at
    ``ratio_clip`` (detached), which corrects the small rollout/trainer mismatch.
    """
    student = with_tail(student_topk_logp)
    teacher = with_tail(teacher_topk_logp.detach())
    teacher = clip_teacher(teacher, student, eps_min, eps_max)
    loss = sd_divergence(student, teacher, alpha)
    if student_token_logp is not None and rollout_token_logp is not None:
        ratio = torch.exp(student_token_logp.detach() - rollout_token_logp)
        if ratio_clip is not None:
            ratio = torch.clamp(ratio, max=ratio_clip)
        loss = loss * ratio
    return loss


def success_reweighting(success: Tensor) -> Tensor:
    """Per-sample weights that balance successes and failures within a batch.

    With the batch success rate ``s`` clamped to ``[1/B, 1 - 1/B]``, a success gets weight
    ``1 - s`` and a failure ``s`` (the rarer outcome weighs more), normalised to mean 1.
    """
    b = success.numel()
    if b == 0:
        return success.float()
    s = success.float().mean().clamp(1.0 / b, 1.0 - 1.0 / b) if b > 1 else success.float().mean()
    weights = torch.where(success.bool(), 1.0 - s, s)
    mean = weights.mean()
    return weights / mean if mean > 0 else torch.ones_like(weights)


def sequence_weights(lengths: list[int], mode: str, *, max_len: int | None = None) -> list[float]:
    """Per-sequence factors ``w_i`` such that ``sum_i w_i * sum_t loss_it == aggregate(...)``.

    This lets a learner split a batch into micro-batches, back-propagate each one's
    ``sum_i w_i * sum_t loss_it`` separately, and still get exactly the gradient of the
    aggregated loss of the whole batch.
    """
    if mode not in AGGREGATIONS:
        raise ValueError(f"aggregation={mode!r} is not one of {', '.join(AGGREGATIONS)}")
    b = len(lengths)
    if b == 0:
        return []
    if mode == "grpo":
        return [1.0 / (b * max(n, 1)) for n in lengths]
    if mode in ("dapo", "token_mean"):
        total = max(sum(lengths), 1)
        return [1.0 / total] * b
    return [1.0 / (b * (max_len or max(lengths)))] * b
