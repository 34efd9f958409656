"""Self-distillation learners: SDPO (``sd``) and RESD (``resd``), one class, two configs.

Per step (docs/METHOD.md sections 3 and 4):

1. Solution buffer: every successful episode becomes the task's cached successful trial.
2. RESD only: the reflection component it is given (``reflection.ReflectionPipeline``, built
   by the runner on request) reflects on failures, tags playbook bullets, curates and updates
   the global playbook; its report comes back in the step's ``StepResult``.
3. Every turn of every episode is a sample. Its teacher context is the same conversation with
   the first message replaced by the task plus privileged sections: SDPO's template (a
   successful peer or cached solution, else the failure feedback) or RESD's sectioned one
   (playbook, previous trial, feedback, reflection, successful trial).
4. The student's top-K log-probs (with gradient) and the EMA teacher's log-probs at the same
   ids give the top-K + tail divergence per token (``losses.sd_token_loss``); one optimiser
   step, then the teacher's EMA update.

RESD's ablations are switches: ``use_reflection``, ``use_playbook``, ``use_buffer``,
``show_playbook_to_student``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from learners import data_parallel, losses
from learners.base import (
    ConfigError,
    Learner,
    OptimConfig,
    Padding,
    ReflectionRequest,
    StepResult,
    in_range,
    micro_batches,
    non_negative,
    one_of,
    positive,
    samples_of,
)
from learners.prompts import resd_teacher_task, sdpo_teacher_task, with_first_message
from learners.trajectory import Episode, Group

if TYPE_CHECKING:
    from reflection import ReflectionPipeline


@dataclass
class SDConfig(OptimConfig):
    rollouts: int = 8  # N episodes per task
    template: str = "sdpo"  # sdpo | resd
    alpha: float = 0.5  # 0 forward KL, 1 reverse KL, else generalised JSD
    top_k: int = 100
    eps_min: float | None = 0.2  # teacher floor, as a multiple of the student probability
    eps_max: float | None = None
    ratio_clip: float | None = 2.0
    ema_rate: float = 0.05  # teacher EMA rate (0 = frozen initial teacher)
    distill_successes: bool = False  # "+ss"
    peer_solutions: bool = True  # a successful peer in the group counts as a solution
    use_buffer: bool = True  # cached earlier success per task
    use_reflection: bool = False
    use_playbook: bool = False
    show_playbook_to_student: bool = False
    success_reweighting: bool = False
    reflection_temperature: float = 1.0
    reflection: dict[str, Any] = field(default_factory=dict)  # ReflectionConfig overrides

    def validate(self) -> None:
        super().validate()
        positive(self, "rollouts", "top_k")
        one_of(self, "template", ("sdpo", "resd"))
        in_range(self, "alpha", 0.0, 1.0)
        in_range(self, "ema_rate", 0.0, 1.0)
        non_negative(self, "reflection_temperature")
        for name in ("eps_min", "eps_max", "ratio_clip"):
            if getattr(self, name) is not None:
                positive(self, name)
        if (self.use_playbook or self.show_playbook_to_student) and not self.use_reflection:
            raise ConfigError("use_playbook=True needs use_reflection=True (reflections feed it)")
        if not isinstance(self.reflection, dict):
            raise ConfigError(f"reflection={self.reflection!r} is invalid: expected a table")


class SelfDistillation(Learner):
    name = "sd"
    config_class = SDConfig

    def __init__(
        self, policy: Any, config: SDConfig, reflection: ReflectionPipeline | None = None
    ) -> None:
        super().__init__(policy, config, reflection)
        from learners.models import EmaTeacher

        self.teacher = EmaTeacher(policy, config.ema_rate)
        self.solutions: dict[str, str] = {}

    @classmethod
    def reflection_request(cls, config: SDConfig) -> ReflectionRequest | None:
        if not config.use_reflection:
            return None
        from reflection import ReflectionConfig

        try:
            rconfig = ReflectionConfig(**config.reflection)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"reflection: {error}") from None
        return ReflectionRequest(rconfig, config.reflection_temperature)

    @classmethod
    def rollouts_for(cls, config: Any) -> int:
        return config.rollouts

    def student_context(self) -> str:
        if self.reflection is not None and self.config.show_playbook_to_student:
            return "PLAYBOOK:\n" + self.reflection.render_playbook()
        return ""

    # -- teacher contexts ------------------------------------------------------------------------
    def _solution_for(self, episode: Episode, group: Group) -> str | None:
        if episode.success and not self.config.distill_successes:
            return None
        if self.config.peer_solutions:
            peers = [e for e in group if e.success and e is not episode]
            if peers:
                return peers[0].answer()
        if episode.success:
            return episode.answer()
        if self.config.use_buffer:
            return self.solutions.get(episode.task_id)
        return None

    def _teacher_task(
        self, episode: Episode, solution: str | None, reflection: str | None, playbook: str | None
    ) -> str | None:
        """The teacher's first message, or ``None`` when the sample gets no loss."""
        if episode.success and not self.config.distill_successes:
            return None
        feedback = episode.feedback().strip() or None
        if solution is None and feedback is None and not reflection:
            return None  # neither feedback nor solution: nothing to distil
        if self.config.template == "sdpo":
            return sdpo_teacher_task(episode.task, feedback=feedback, solution=solution)
        return resd_teacher_task(
            episode.task,
            playbook=playbook,
            previous_trial=episode.answer(),
            feedback=feedback,
            reflection=reflection,
            solution=solution,
        )

    def _reflect(self, episodes: list[Episode]) -> tuple[dict[int, str], StepResult]:
        """Reflect on the step's episodes: each usable reflection's text by episode, and the
        step's result so far (metrics, time, tokens, the report)."""
        from reflection import Attempt

        attempts = [
            Attempt(ep.task, ep.answer(), ep.feedback(), ep.success, ep.task_id, ep.hindsight)
            for ep in episodes
        ]
        t0 = time.perf_counter()
        # once, on rank 0 under data parallelism; the other ranks take its playbook and report
        report, state = data_parallel.from_main(
            lambda: (self.reflection.update(self.steps, attempts), self.reflection.state_dict())
        )
        if not data_parallel.is_main():
            self.reflection.load_state_dict(state)
        texts = {
            id(ep): r.as_text()
            for ep, r in zip(episodes, report.reflections, strict=True)
            if r is not None and r.usable
        }
        metrics = {f"reflection/{k}": float(v) for k, v in report.counts.items()}
        metrics["playbook/bullets"] = float(len(self.reflection.playbook))
        return texts, StepResult(
            metrics,
            seconds={"reflect": time.perf_counter() - t0},
            tokens={
                "reflection": report.counts["tokens_reflect"],
                "curation": report.counts["tokens_curate"],
            },
            reflection=report,
        )

    def _teacher_contexts(
        self, groups: list[Group], reflections: dict[int, str], playbook: str | None
    ) -> tuple[dict[int, str | None], int]:
        """Each episode's teacher first message (``None``: no loss), and how many had a
        solution to show."""
        contexts: dict[int, str | None] = {}
        with_solution = 0
        for group in groups:
            for ep in group:
                solution = self._solution_for(ep, group)
                with_solution += solution is not None
                contexts[id(ep)] = self._teacher_task(
                    ep, solution, reflections.get(id(ep)), playbook
                )
        return contexts, with_solution

    # -- one step --------------------------------------------------------------------------------
    def step(self, groups: list[Group]) -> StepResult:
        cfg = self.config
        episodes = [ep for g in groups for ep in g]
        for ep in episodes:
            if ep.success:
                self.solutions[ep.task_id] = ep.answer()
        reflections: dict[int, str] = {}
        result, playbook = StepResult({}), None
        if self.reflection is not None:
            reflections, result = self._reflect(episodes)
            if cfg.use_playbook:
                playbook = self.reflection.render_playbook() or None
        success_rate = sum(e.success for e in episodes) / max(len(episodes), 1)
        metrics = result.metrics = {"success_rate": success_rate, **result.metrics}

        contexts, with_solution = self._teacher_contexts(groups, reflections, playbook)
        samples = [s for s in samples_of(groups) if contexts[id(s.episode)] is not None]
        episode_weight = {id(ep): 1.0 for ep in episodes}
        if cfg.success_reweighting and episodes:
            w = losses.success_reweighting(torch.tensor([float(e.success) for e in episodes]))
            episode_weight = {id(ep): float(x) for ep, x in zip(episodes, w, strict=True)}
        metrics.update(
            loss_samples=float(len(samples)),
            with_solution=float(with_solution),
            with_reflection=float(len(reflections)),
        )
        self.steps += 1
        if not samples:
            metrics.update(loss=0.0, grad_norm=0.0, skipped=1.0)
            return result

        seq_weights = losses.sequence_weights(
            [len(s.completion_ids) for s in samples], "token_mean"
        )
        total, tokens = 0.0, 0
        for batch in micro_batches(list(zip(samples, seq_weights, strict=True)), cfg.micro_batch):
            weighted = [(sample, w * episode_weight[id(sample.episode)]) for sample, w in batch]
            loss, n = self._distillation_loss(weighted, contexts)
            if isinstance(batch, Padding):  # FSDP's lockstep: a backward pass, weight zero
                (0.0 * loss).backward()
                continue
            loss.backward()
            total, tokens = total + float(loss.detach()), tokens + n
        total, tokens = data_parallel.sum_across([total, tokens])
        metrics.update(
            loss=total, grad_norm=self._optimizer_step(), loss_tokens=float(tokens), skipped=0.0
        )
        self.teacher.update()
        return result

    def _distillation_loss(
        self, batch: list[tuple[Any, float]], contexts: dict[int, str | None]
    ) -> tuple[torch.Tensor, int]:
        """One micro-batch of (sample, weight): the weighted top-K + tail divergence between
        the student (with gradient) and the EMA teacher in its context, and its token count."""
        cfg = self.config
        top_k = min(cfg.top_k, len(self.policy.tokenizer))
        student = self.policy.score(
            [(s.messages, s.completion_ids) for s, _ in batch], top_k=top_k, grad=True
        )
        teacher = self.teacher.score(
            [
                (with_first_message(s.messages, contexts[id(s.episode)]), s.completion_ids)
                for s, _ in batch
            ],
            gather_ids=[st.topk_ids for st in student],
        )
        loss, tokens = torch.zeros((), device=self.policy.device), 0
        for (sample, w), st, te in zip(batch, student, teacher, strict=True):
            rollout = torch.tensor(
                sample.rollout_logprobs,
                dtype=st.token_logprobs.dtype,
                device=st.token_logprobs.device,
            )
            token_loss = losses.sd_token_loss(
                st.topk_logprobs,
                te.topk_logprobs,
                alpha=cfg.alpha,
                eps_min=cfg.eps_min,
                eps_max=cfg.eps_max,
                student_token_logp=st.token_logprobs,
                rollout_token_logp=rollout,
                ratio_clip=cfg.ratio_clip,
            )
            loss = loss + w * token_loss.sum()
            tokens += token_loss.numel()
        return loss, tokens

    # -- resuming --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["teacher"] = self.teacher.state_dict()
        state["solutions"] = dict(self.solutions)
        if self.reflection is not None:
            state["reflection"] = self.reflection.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.teacher.load_state_dict(state["teacher"])
        self.solutions = dict(state["solutions"])
        if self.reflection is not None and "reflection" in state:
            self.reflection.load_state_dict(state["reflection"])


class RESD(SelfDistillation):
    name = "resd"
