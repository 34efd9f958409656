"""One real reflection: a model plays one episode, then reflects on it and curates a playbook.

    python -m devtools.reflect_demo --model smollm2-135m --env wordle --seed 0

Prints the episode, the model's raw reflection and curation answers, how they parsed, and
the resulting playbook: a way to study the reflection component on any model by itself.
"""

from __future__ import annotations

import argparse

import envs
from learners.models import Policy, SamplingParams
from learners.rollout import play_groups
from reflection import Attempt, CallableGenerator, ReflectionConfig, ReflectionPipeline


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--env", default="wordle")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=16, help="per game turn")
    p.add_argument("--reflect-tokens", type=int, default=384, help="per reflection / curation")
    p.add_argument("--temperature", type=float, default=0.7, help="for reflection / curation")
    args = p.parse_args(argv)
    policy = Policy.load(args.model)
    groups, _ = play_groups(
        policy,
        lambda: envs.make(args.env),
        [args.seed],
        1,
        SamplingParams(max_new_tokens=args.max_new_tokens, seed=args.seed),
        sample_seed=args.seed,
    )
    episode = groups[0][0]
    print(f"TASK: {episode.task}\n\nEPISODE (success={episode.success}):\n{episode.answer()}")
    print(f"\nLAST FEEDBACK:\n{episode.turns[-1].feedback}\n")
    raw: list[str] = []

    def generate(conversations, max_new_tokens):
        out = policy.generate(
            conversations,
            SamplingParams(
                temperature=args.temperature,
                max_new_tokens=max_new_tokens or args.reflect_tokens,
                seed=args.seed,
            ),
        )
        raw.extend(c.text for c in out)
        return out

    config = ReflectionConfig(
        max_new_tokens_reflect=args.reflect_tokens, max_new_tokens_curate=args.reflect_tokens
    )
    pipeline = ReflectionPipeline(CallableGenerator(generate, pass_max_new_tokens=True), config)
    attempt = Attempt(
        episode.task,
        episode.answer(),
        episode.feedback(),
        episode.success,
        episode.task_id,
        episode.hindsight,
    )
    report = pipeline.update(0, [attempt])
    for n, text in enumerate(raw, 1):
        print(f"RAW MODEL ANSWER {n}:\n{text}\n")
    reflection = report.reflections[0]
    if reflection is not None:
        print(f"PARSED REFLECTION (status {reflection.status}):\n{reflection.as_text()}\n")
    print(f"COUNTS: {report.counts}\n\nPLAYBOOK:\n{pipeline.render_playbook() or '(empty)'}")


if __name__ == "__main__":
    main()
