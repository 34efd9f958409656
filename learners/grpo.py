"""GRPO: group-relative advantages and a clipped surrogate (docs/METHOD.md section 5).

Per step: for each group of G episodes on one task, the advantage of an episode is its reward
normalised within the group; every turn of the episode carries that advantage. The loss is the
clipped surrogate with the rollout's log-probs as the old policy (one optimiser step per
rollout, so the ratio only measures the rollout/trainer mismatch), optionally plus beta * k3 to
the initial weights, aggregated as grpo / dapo / dr_grpo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from learners import data_parallel, losses
from learners.base import (
    Learner,
    OptimConfig,
    Padding,
    StepResult,
    in_range,
    micro_batches,
    non_negative,
    one_of,
    positive,
    samples_of,
)
from learners.trajectory import Group


@dataclass
class GRPOConfig(OptimConfig):
    group_size: int = 8
    scale_by_std: bool = True  # False = Dr. GRPO
    eps_low: float = 0.2
    eps_high: float = 0.2  # DAPO uses 0.28
    beta: float = 0.0  # k3 KL to the initial weights (0 = no reference model)
    aggregation: str = "grpo"
    reward: str = "success"  # or "progress": partial credit as the reward

    def validate(self) -> None:
        super().validate()
        positive(self, "group_size")
        in_range(self, "eps_low", 0.0, 1.0)
        non_negative(self, "eps_high", "beta")
        one_of(self, "aggregation", ("grpo", "dapo", "dr_grpo"))
        one_of(self, "reward", ("success", "progress"))


class GRPO(Learner):
    name = "grpo"
    config_class = GRPOConfig

    def __init__(self, policy: Any, config: GRPOConfig, reflection: None = None) -> None:
        super().__init__(policy, config)
        self.reference = None
        if config.beta > 0:
            from learners.models import EmaTeacher

            self.reference = EmaTeacher(policy, rate=0.0)  # frozen copy of the initial weights

    @classmethod
    def rollouts_for(cls, config: Any) -> int:
        return config.group_size

    def _reward(self, episode) -> float:
        return float(episode.success) if self.config.reward == "success" else episode.progress

    def step(self, groups: list[Group]) -> StepResult:
        cfg = self.config
        advantage: dict[int, float] = {}
        for group in groups:
            rewards = torch.tensor([self._reward(ep) for ep in group], dtype=torch.float64)
            adv = losses.group_advantages(rewards, scale_by_std=cfg.scale_by_std)
            advantage.update({id(ep): float(a) for ep, a in zip(group, adv, strict=True)})
        samples = [s for s in samples_of(groups) if advantage[id(s.episode)] != 0.0]
        metrics = {
            "loss_samples": float(len(samples)),
            "signal_groups": float(sum(len({self._reward(e) for e in g}) > 1 for g in groups)),
        }
        self.steps += 1
        if not samples:  # every group had equal rewards: no gradient this step
            metrics.update(loss=0.0, grad_norm=0.0, skipped=1.0)
            return StepResult(metrics)
        weights = losses.sequence_weights([len(s.completion_ids) for s in samples], cfg.aggregation)
        total, clip_fraction, tokens = 0.0, 0.0, 0
        for batch in micro_batches(list(zip(samples, weights, strict=True)), cfg.micro_batch):
            items = [(s.messages, s.completion_ids) for s, _ in batch]
            scores = self.policy.score(items, grad=True)
            ref = self.reference.score(items) if self.reference is not None else None
            if isinstance(batch, Padding):  # FSDP's lockstep: a backward pass, weight zero
                (0.0 * sum(s.token_logprobs.sum() for s in scores)).backward()
                continue
            loss = torch.zeros((), device=self.policy.device)
            for n, ((sample, w), score) in enumerate(zip(batch, scores, strict=True)):
                logp = score.token_logprobs[None]
                old = torch.tensor([sample.rollout_logprobs], dtype=logp.dtype, device=logp.device)
                adv = torch.tensor(
                    [advantage[id(sample.episode)]], dtype=logp.dtype, device=logp.device
                )
                token_loss = losses.clipped_surrogate(
                    logp,
                    old,
                    adv,
                    eps_low=cfg.eps_low,
                    eps_high=cfg.eps_high,
                    ref_logp=None if ref is None else ref[n].token_logprobs[None],
                    beta=cfg.beta,
                )
                loss = loss + w * token_loss.sum()
                ratio = torch.exp(logp.detach() - old)
                clipped = (ratio < 1 - cfg.eps_low) | (ratio > 1 + cfg.eps_high)
                clip_fraction += float(clipped.sum())
                tokens += logp.numel()
            loss.backward()
            total += float(loss.detach())
        total, clip_fraction, tokens = data_parallel.sum_across([total, clip_fraction, tokens])
        metrics.update(
            loss=total,
            grad_norm=self._optimizer_step(),
            clip_fraction=clip_fraction / max(tokens, 1),
            loss_tokens=float(tokens),
            skipped=0.0,
        )
        return StepResult(metrics)
