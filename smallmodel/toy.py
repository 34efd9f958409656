"""``tiny-copy``: the tiny random model warm-started to copy a word its context reveals.

Self-distillation assumes a model that can use privileged context. This preset gives the
tiny model exactly that ability on the toy ``secret`` environment, in about a minute of
supervised training, so the learners can be compared end to end on a CPU: its student answers
are uniform over the candidate words (success 1 / n_words), while in any teacher format (SDPO
or RESD, with failure feedback or a successful trial) it copies the revealed word. No task's
answer is ever paired with the student prompt. Built once, then cached.
"""

from __future__ import annotations

import random

import torch

from learners.models.presets import (
    LoadedModel,
    cache_root,
    load_pretrained,
    register_preset,
    save_to_cache,
)
from learners.models.tiny import build_tiny

PRESET = "tiny-copy"


def warm_start_pairs(rng: random.Random, n: int) -> list[tuple[list[dict], str]]:
    """(conversation, answer) pairs in the suite's student and teacher formats."""
    import envs
    from envs.secret import WORDS
    from learners.prompts import resd_teacher_task, sdpo_teacher_task

    env = envs.make("secret")
    options = WORDS[: env.n_words]
    pairs = []
    for _ in range(n):
        env.reset(seed=rng.randrange(10**6))
        task, secret = env._intro(), env.answers[env._task]
        wrong = rng.choice([w for w in options if w != secret])
        feedback = f"Turn 1: Wrong: the secret word is {secret}."
        trial, solution = f"Turn 1: [{wrong}]", f"Turn 1: [{secret}]"
        kind = rng.random()
        if kind < 0.4:  # student format: the answer is unknowable, guesses are uniform
            pairs.append(([{"role": "user", "content": task}], f"[{rng.choice(options)}]"))
            continue
        if kind < 0.55:
            teacher = sdpo_teacher_task(task, feedback=feedback)
        elif kind < 0.7:
            teacher = sdpo_teacher_task(task, solution=solution)
        elif kind < 0.85:
            teacher = resd_teacher_task(task, previous_trial=trial, feedback=feedback)
        else:
            teacher = resd_teacher_task(task, previous_trial=trial, solution=solution)
        pairs.append(([{"role": "user", "content": teacher}], f"[{secret}]"))
    return pairs


def build(steps: int = 120, batch: int = 16, lr: float = 3e-3, seed: int = 0) -> LoadedModel:
    """Supervised warm start of ``tiny-random`` (deterministic for a seed)."""
    from learners.models.policy import Policy
    from learners.sft import sft_step

    model, tokenizer = build_tiny(seed=seed)
    policy = Policy(model, tokenizer)
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=lr)
    rng = random.Random(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(steps):
            sft_step(policy, optimizer, warm_start_pairs(rng, batch))
    return LoadedModel(policy.model, tokenizer, None)


def load(steps: int = 120, seed: int = 0) -> LoadedModel:
    """The cached build (made on first use, ~1 minute on 2 cores)."""
    target = cache_root() / f"{PRESET}-s{steps}-seed{seed}"
    if not (target / "config.json").exists():
        built = build(steps=steps, seed=seed)
        save_to_cache(built.model, built.tokenizer, target)
    return load_pretrained(str(target))


register_preset(PRESET, load)
