"""``EmaTeacher``: a teacher whose weights trail the student as an exponential moving average.

    teacher = EmaTeacher(policy, rate)   # copies the trainable weights (LoRA: the adapter only)
    teacher.update()                     # after each optimiser step: T <- (1 - rate) T + rate S
    teacher.score(items, top_k=..., gather_ids=...)   # same signature as Policy.score

rate 0 keeps the teacher frozen at the initial weights. Only trainable parameters are averaged;
frozen ones (the LoRA base) are shared with the student, so a LoRA teacher costs the size of
the adapter. Scoring substitutes the averaged tensors for the call only (functional_call): the
student module is never modified, so its pending autograd graph stays valid.

Under FSDP (``Policy.fully_shard``) the teacher is sharded alike: its weights are shards of the
same layout as the student's, averaged shard by shard, gathered whole only for the length of a
scoring call (a collective, made by every rank once per micro-batch).
"""

from __future__ import annotations

import torch

from chat import Conversation
from learners import data_parallel
from learners.models.policy import Policy
from learners.models.types import TokenScores


class EmaTeacher:
    def __init__(self, policy: Policy, rate: float):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"EMA rate must be in [0, 1], got {rate}")
        self.policy = policy
        self.rate = float(rate)
        self.weights = {n: p.detach().clone() for n, p in policy.named_trainable_parameters()}

    @torch.no_grad()
    def update(self) -> None:
        """theta_T <- (1 - rate) theta_T + rate theta (a no-op at rate 0)."""
        if self.rate == 0.0:
            return
        for name, param in self.policy.named_trainable_parameters():
            self.weights[name].lerp_(param.detach(), self.rate)

    def score(
        self,
        items: list[tuple[Conversation, list[int]]],
        *,
        top_k: int = 0,
        gather_ids: list[torch.Tensor] | None = None,
        grad: bool = False,
    ) -> list[TokenScores]:
        if grad:
            raise ValueError("the EMA teacher is not trained: score it with grad=False")
        weights = (
            data_parallel.full(self.weights, cpu=False) if self.policy.sharded else self.weights
        )
        return self.policy.score(
            items, top_k=top_k, gather_ids=gather_ids, grad=False, weights=weights
        )

    def state_dict(self) -> dict:
        """The weights, whole (sharded: gathered onto the CPU, a collective)."""
        return {"rate": self.rate, "weights": data_parallel.full(dict(self.weights))}

    def load_state_dict(self, state: dict) -> None:
        weights = state["weights"]
        if set(weights) != set(self.weights):
            missing = sorted(set(self.weights) - set(weights))[:3]
            raise ValueError(f"EMA teacher state does not match this policy (missing {missing})")
        self.policy.release()  # sharded: the parameters below are the shards
        params = dict(self.policy.named_trainable_parameters())
        with torch.no_grad():
            for name, tensor in weights.items():  # sharded: this rank's shard of each
                self.weights[name] = data_parallel.like(tensor, params[name])
        self.rate = float(state.get("rate", self.rate))
