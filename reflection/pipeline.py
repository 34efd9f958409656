"""One playbook update step, as RESD orders it, for any learner to call.

Order per step: concise (only when over the cap), reflect on failures, apply their tags, tag
successes, curate, add, concise (when over the cap or on every ``frequency``-th update). Model
calls are batched: one ``generate`` for all reflection and tagging prompts of the step, one
for all curation prompts. Tagging prompts are built before the failures' tags are applied
(same call), so they show the counters as they stood at the start of the step; the tags
themselves are applied in RESD's order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reflection.concise import POLICIES, concise
from reflection.curator import OPS, CurationStats, Curator
from reflection.generators import TextGenerator
from reflection.playbook import Bullet, Playbook, approx_tokens
from reflection.reflector import (
    OracleReflector,
    Reflection,
    Reflector,
    TagStats,
    apply_tags,
    clip,
)
from reflection.similarity import METHODS

# What the history keeps of a reflection's raw model output: enough to see why it was
# dropped (no JSON, a cut answer) without copying long answers into every line.
RAW_CHARS = 600

# Counts of model output that was dropped or only partly usable (what `reflection.show` flags).
PROBLEM_COUNTS = (
    "reflections_dropped",
    "tag_outputs_unparsed",
    "invalid_tags",
    "unknown_ids",
    "curator_unparsed",
    "ops_dropped",
    "duplicates",
)


@dataclass
class Attempt:
    """One finished episode as the reflection component sees it."""

    task: str  # the first observation
    answer: str  # the model's answer(s) / transcript of actions
    feedback: str
    success: bool
    task_id: str = ""
    hindsight: list[str] = field(default_factory=list)  # env.hindsight() notes


@dataclass
class ReflectionConfig:
    """Switches of the reflection component; the defaults replicate the paper."""

    reflect: bool = True  # reflect on failures (off: the "without reflection" ablation)
    oracle: bool = False  # diagnoses from env hindsight notes instead of the model
    tag_successes: bool = True  # successes get the light tagging prompt
    curate: bool = True  # turn reflections into playbook operations
    ops: tuple[str, ...] = ("ADD",)  # beyond the paper: UPDATE, REMOVE, MERGE
    merge_duplicates: bool = False  # beyond the paper: skip/merge near-duplicate lessons
    similarity: str = "difflib"  # difflib | jaccard | embedding
    similarity_threshold: float = 0.85
    concise_policy: str = "prioritized"  # prioritized | staleness | none
    cap: int = 200  # M_max
    frequency: int = 4  # F: concise every F updates
    window: int | None = None  # steps before a bullet counts as unused/stale (None: = F)
    playbook_token_budget: int | None = None  # for the playbook inside prompts
    max_new_tokens_reflect: int = 1024
    max_new_tokens_curate: int = 512
    # Beyond the paper: the start of every reflection, tagging and curation answer, given
    # rather than generated (a pre-filled assistant turn, which the generator continues).
    # '{"' keeps a small model in JSON where it would otherwise answer the task itself; the
    # generator must continue a final assistant message (the learners' policy does).
    answer_prefix: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        self.ops = tuple(str(o).upper() for o in self.ops)
        checks = [
            (self.concise_policy in POLICIES, f"concise_policy must be one of {POLICIES}"),
            (
                all(o in OPS for o in self.ops) and "ADD" in self.ops,
                f"ops must include ADD and be among {OPS}",
            ),
            (self.similarity in METHODS, f"similarity must be one of {METHODS}"),
            (0.0 < self.similarity_threshold <= 1.0, "similarity_threshold must be in (0, 1]"),
            (self.cap >= 1, "cap must be >= 1"),
            (self.frequency >= 1, "frequency must be >= 1"),
            (self.window is None or self.window >= 0, "window must be >= 0"),
            (
                self.playbook_token_budget is None or self.playbook_token_budget > 0,
                "playbook_token_budget must be > 0",
            ),
            (
                self.max_new_tokens_reflect > 0 and self.max_new_tokens_curate > 0,
                "max_new_tokens must be > 0",
            ),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"reflection config: {msg}")


@dataclass
class StepReport:
    """What one update step did. ``reflections`` is aligned with the attempts (``None``
    for successes); ``counts`` holds the numbers the runner logs."""

    step: int
    reflections: list[Reflection | None]
    added: list[Bullet]
    tags: list[tuple[str, str]]
    updated: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    counts: dict[str, int]
    snapshot: dict[str, list[int]]

    def to_record(self) -> dict[str, Any]:
        """One JSON-able line of the playbook history."""
        return {
            "step": self.step,
            "added": [{"id": b.id, "section": b.section, "text": b.text} for b in self.added],
            "tags": [list(t) for t in self.tags],
            "updated": [list(u) for u in self.updated],
            "removed": [list(r) for r in self.removed],
            "reflections": [
                {
                    "task_id": r.task_id,
                    "status": r.status,
                    "text": r.as_text()[:1000],
                    **({} if r.raw is None else {"raw": clip(r.raw, RAW_CHARS)}),
                }
                for r in self.reflections
                if r is not None
            ],
            "counts": dict(self.counts),
            "snapshot": self.snapshot,
        }


class ReflectionPipeline:
    """Owns the playbook and runs ``update`` once per learner update step."""

    def __init__(
        self,
        generator: TextGenerator | None,
        config: ReflectionConfig | None = None,
        playbook: Playbook | None = None,
        count_tokens: Callable[[str], int] = approx_tokens,
    ) -> None:
        self.config = config or ReflectionConfig()
        c = self.config
        self.generator = generator
        self.playbook = playbook if playbook is not None else Playbook()
        self.count_tokens = count_tokens
        self.reflector = Reflector(c.playbook_token_budget, count_tokens)
        self.curator = Curator(
            c.ops,
            c.merge_duplicates,
            c.similarity,
            c.similarity_threshold,
            c.playbook_token_budget,
            count_tokens,
        )
        self.rng = random.Random(c.seed)
        self.updates = 0
        if generator is None and c.reflect and (not c.oracle or c.tag_successes or c.curate):
            raise ValueError(
                "reflection config: a generator is needed unless reflect is off "
                "or oracle is on with tag_successes and curate off"
            )

    @property
    def window(self) -> int:
        return self.config.frequency if self.config.window is None else self.config.window

    def render_playbook(self) -> str:
        """The playbook section for the teacher prompt, within the configured budget."""
        return self.playbook.render(self.config.playbook_token_budget, self.count_tokens)

    def _concise(self, step: int, removed: list[tuple[str, str]]) -> None:
        c = self.config
        res = concise(
            list(self.playbook.bullets.values()),
            c.concise_policy,
            c.cap,
            step,
            self.rng,
            self.window,
        )
        self.playbook.remove(b.id for b, _ in res.removed)
        removed += [(b.id, f"concise: {why}") for b, why in res.removed]

    def _generate(self, convs: list, max_new_tokens: int, step: int) -> tuple[list[str], int]:
        if not convs:
            return [], 0
        before = self.generator.tokens_generated
        prefix = self.config.answer_prefix
        if prefix:
            convs = [[*conv, {"role": "assistant", "content": prefix}] for conv in convs]
        texts = self.generator.generate(convs, max_new_tokens=max_new_tokens, seed=step)
        if len(texts) != len(convs):
            raise RuntimeError(f"generator returned {len(texts)} texts for {len(convs)} prompts")
        return [prefix + str(t) for t in texts], self.generator.tokens_generated - before

    def update(self, step: int, attempts: Sequence[Attempt]) -> StepReport:
        c, pb = self.config, self.playbook
        self.updates += 1
        removed: list[tuple[str, str]] = []
        counts = dict.fromkeys(
            (
                "failures",
                "successes",
                "reflections_ok",
                "reflections_partial",
                *PROBLEM_COUNTS,
                "tokens_reflect",
                "tokens_curate",
            ),
            0,
        )
        if len(pb) > c.cap:
            self._concise(step, removed)

        fail_idx = [i for i, a in enumerate(attempts) if not a.success]
        succ_idx = [i for i, a in enumerate(attempts) if a.success] if c.tag_successes else []
        counts["failures"] = len(fail_idx)
        counts["successes"] = len(attempts) - len(fail_idx)
        reflections: list[Reflection | None] = [None] * len(attempts)
        tag_stats = TagStats()
        if c.reflect:
            convs = []
            if not c.oracle:
                convs += [
                    self.reflector.reflection_prompt(
                        attempts[i].task, attempts[i].answer, attempts[i].feedback, pb
                    )
                    for i in fail_idx
                ]
            convs += [
                self.reflector.tagging_prompt(
                    attempts[i].task, attempts[i].answer, attempts[i].feedback, pb
                )
                for i in succ_idx
            ]
            texts, counts["tokens_reflect"] = self._generate(convs, c.max_new_tokens_reflect, step)
            if c.oracle:
                for i in fail_idx:
                    reflections[i] = OracleReflector.reflect(attempts[i].hindsight)
            else:
                for i, text in zip(fail_idx, texts, strict=False):
                    reflections[i] = self.reflector.parse(text)
                    reflections[i].raw = str(text)
                texts = texts[len(fail_idx) :]
            for i in fail_idx:
                ref = reflections[i]
                ref.task_id = attempts[i].task_id
                counts["invalid_tags"] += ref.invalid_tags
                key = (
                    "reflections_dropped"
                    if not ref.usable
                    else (
                        "reflections_ok"
                        if ref.status in ("ok", "oracle")
                        else "reflections_partial"
                    )
                )
                counts[key] += 1
                apply_tags(pb, ref.bullet_tags, step, tag_stats)
            for text in texts:
                tags, invalid, readable = self.reflector.parse_tags_only(text)
                counts["tag_outputs_unparsed"] += not readable
                counts["invalid_tags"] += invalid
                apply_tags(pb, tags, step, tag_stats)
        counts["unknown_ids"] = len(tag_stats.unknown)

        cur = CurationStats()
        usable = [i for i in fail_idx if reflections[i] is not None and reflections[i].usable]
        if c.reflect and c.curate and usable:
            convs = [self.curator.prompt(reflections[i], attempts[i].task, pb) for i in usable]
            texts, counts["tokens_curate"] = self._generate(convs, c.max_new_tokens_curate, step)
            for text in texts:
                ops, bad, readable = self.curator.parse(text)
                cur.unparsed += not readable
                cur.dropped_ops += bad
                self.curator.apply(pb, ops, step, cur)
        counts["curator_unparsed"] = cur.unparsed
        counts["ops_dropped"] = cur.dropped_ops
        counts["duplicates"] = cur.duplicates
        removed += cur.removed

        if len(pb) > c.cap or self.updates % c.frequency == 0:
            self._concise(step, removed)
        gone = {i for i, _ in removed}
        counts["playbook_size"] = len(pb)
        return StepReport(
            step=step,
            reflections=reflections,
            added=[b for b in cur.added if b.id not in gone],
            tags=tag_stats.applied,
            updated=cur.updated,
            removed=removed,
            counts=counts,
            snapshot=pb.snapshot(),
        )

    # -- resume -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {
            "playbook": self.playbook.to_dict(),
            "updates": self.updates,
            "rng": [version, list(internal), gauss],
            "config": asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.playbook = Playbook.from_dict(state["playbook"])
        self.updates = int(state["updates"])
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
