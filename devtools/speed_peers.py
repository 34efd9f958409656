"""The suite against its peers, step for step: python -m devtools.speed_peers

Generation: ``Policy.generate`` against transformers' ``generate`` on the same n prompts at
once (default n = 1, 8, 64; prompts cycle through 8, as a group's G rollouts repeat one task),
every row sampled to the token budget.

GRPO: the suite's ``grpo`` learner against TRL's ``GRPOTrainer``. SD: the suite's ``sd``
learner (frozen teacher, top-100 JSD) against TRL's on-policy distillation trainers,
``GKDTrainer`` (``lmbda=1``: every completion sampled from the student; full-vocabulary
generalised JSD) and, where the installed TRL has it, ``DistillationTrainer`` (chunked loss).

Both sides get the same weights (one model, copied), the same prompts, G completions per prompt,
completion length, micro-batch (gradient accumulation to one optimiser step per G x prompts
completions), learning rate, threads and fp32 weights. Steps are interleaved A, B, A, B in one
process (a TRL step, then the suite's), so load on the machine hits both alike; the first step
of each is a warm-up and is not counted. ``--autocast none bf16`` runs two suite variants
(fp32, and bf16 autocast over fp32 master weights) after each TRL step; ``--trl-bf16`` gives
TRL its own bf16 mixed precision (its ``bf16=True``: autocast over fp32 weights, as the suite's).
Printed: the median step time, its generation part, the rest (training: scoring, losses,
backward, optimiser) and the ratios.

What differs by design: the suite's teacher sees the feedback (its method); GKD's teacher is a
frozen copy that sees the same prompt. The suite skips GRPO samples whose advantage is zero;
TRL computes them (the reward here is continuous, so few are zero).

Needs the ``peers`` extra (``pip install --no-deps trl`` and its small deps, see
pyproject.toml); it works offline.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

PROMPTS = [
    "What is the capital of France?",
    "Guess a five-letter word. Feedback uses G for green, Y for yellow, X for grey.",
    "Write a Python function that reverses a list.",
    "Name three primary colours.",
    "You guessed CRANE: C(X) R(Y) A(G) N(X) E(X). What is your next guess?",
    "Explain recursion in one sentence.",
    "Count from one to five.",
    "Describe the sea in a few words.",
]
FEEDBACK = "Not quite: a good answer names a colour and the word 'blue'."


def reward(text: str) -> float:
    """A continuous reward of the text alone (the share of its characters that are vowels),
    the same on both sides: a group's rewards almost never tie, so the suite skips nothing."""
    return sum(ch in "aeiou" for ch in text.lower()) / max(len(text), 1)


@dataclass
class Setup:
    """What both sides share."""

    prompts: list[str]
    group: int = 8
    max_new: int = 32
    micro_batch: int = 16
    lr: float = 1e-6
    steps: int = 6
    autocast: str | None = None  # the suite's Policy setting ("bf16")
    trl_bf16: bool = False  # TRL's bf16 mixed precision (TrainingArguments.bf16)

    @property
    def rows(self) -> int:
        return len(self.prompts) * self.group


@dataclass
class Timings:
    """Per counted step: total seconds and the generation part."""

    total: list[float] = field(default_factory=list)
    generation: list[float] = field(default_factory=list)

    def add(self, total: float, generation: float) -> None:
        self.total.append(total)
        self.generation.append(generation)

    def medians(self) -> tuple[float, float, float]:
        """Median step, median generation, median rest (each step's total minus its generation)."""
        rest = [t - g for t, g in zip(self.total, self.generation, strict=True)]
        return (
            statistics.median(self.total),
            statistics.median(self.generation),
            statistics.median(rest),
        )


# -- models ------------------------------------------------------------------------------------
def small_model(tokenizer, seed: int = 0) -> torch.nn.Module:
    """A 15.7M-parameter Qwen2 (hidden 256, 4 layers, tied embeddings) with ``tokenizer``."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return Qwen2ForCausalLM(config).float()


def load_models(name: str):
    """(model, tokenizer) for ``small`` (SmolLM2's tokenizer) or a Policy preset / folder."""
    from learners.models.presets import load_model

    if name == "small":
        loaded = load_model("smollm2-135m")
        return small_model(loaded.tokenizer), loaded.tokenizer
    loaded = load_model(name)
    return loaded.model.float(), loaded.tokenizer


# -- the suite ---------------------------------------------------------------------------------
def suite_policy(model, tokenizer, setup: Setup):
    from learners.models import Policy

    return Policy(
        copy.deepcopy(model), tokenizer, batch_size=setup.micro_batch, autocast=setup.autocast
    )


def suite_groups(policy, setup: Setup, step: int, teacher_feedback: bool) -> tuple[list, float]:
    """Sample G completions per prompt with the policy; episodes of one turn; seconds spent."""
    from learners.models import SamplingParams
    from learners.trajectory import Episode, Turn

    convs = [[{"role": "user", "content": p}] for p in setup.prompts for _ in range(setup.group)]
    params = SamplingParams(temperature=1.0, max_new_tokens=setup.max_new, seed=step)
    start = time.perf_counter()
    completions = policy.generate(convs, params)
    seconds = time.perf_counter() - start
    groups = []
    for g, prompt in enumerate(setup.prompts):
        group = []
        for k in range(setup.group):
            conv, done = convs[g * setup.group + k], completions[g * setup.group + k]
            score = reward(done.text)
            episode = Episode(f"prompt-{g}", g, g, prompt, success=False, progress=score)
            episode.turns.append(
                Turn(
                    messages=conv,
                    completion_ids=list(done.token_ids),
                    logprobs=list(done.logprobs),
                    text=done.text,
                    feedback=FEEDBACK if teacher_feedback else "",
                    reward=score,
                    valid_action=True,
                    finish_reason=done.finish_reason,
                )
            )
            group.append(episode)
        groups.append(group)
    return groups, seconds


def suite_learner(kind: str, policy, setup: Setup):
    import learners

    common = {"lr": setup.lr, "warmup_steps": 0, "micro_batch": setup.micro_batch}
    if kind == "grpo":
        return learners.make(
            "grpo", policy, {**common, "group_size": setup.group, "reward": "progress"}
        )
    return learners.make("sd", policy, {**common, "rollouts": setup.group, "ema_rate": 0.0})


def suite_step(kind: str, policy, learner, setup: Setup, step: int) -> tuple[float, float]:
    """One suite step: sample, then the learner's step. (total, generation) seconds."""
    start = time.perf_counter()
    groups, generation = suite_groups(policy, setup, step, teacher_feedback=kind == "sd")
    learner.step(groups)
    return time.perf_counter() - start, generation


# -- TRL ---------------------------------------------------------------------------------------
def _common_args(setup: Setup, out: str) -> dict:
    return dict(
        output_dir=out,
        per_device_train_batch_size=setup.micro_batch,
        gradient_accumulation_steps=max(1, setup.rows // setup.micro_batch),
        learning_rate=setup.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        max_steps=setup.steps + 1,
        logging_steps=1_000_000,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=setup.trl_bf16,
        fp16=False,
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def trl_trainer(kind: str, model, tokenizer, setup: Setup, out: str):
    """A TRL trainer for ``kind``: grpo, gkd or distill, configured as the suite's step."""
    from datasets import Dataset

    args = _common_args(setup, out)
    student = copy.deepcopy(model)
    convs = [[{"role": "user", "content": p}] for p in setup.prompts]
    if kind == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        def trl_reward(completions, **_) -> list[float]:
            texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
            return [reward(t) for t in texts]

        config = GRPOConfig(
            **args,
            num_generations=setup.group,
            max_completion_length=setup.max_new,
            temperature=1.0,
            top_k=0,
            beta=0.0,
            loss_type="grpo",
            gradient_checkpointing=False,
        )
        data = Dataset.from_dict({"prompt": convs})
        return GRPOTrainer(
            model=student,
            reward_funcs=trl_reward,
            args=config,
            train_dataset=data,
            processing_class=tokenizer,
        )
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    repeated = [c for c in convs for _ in range(setup.group)]
    if kind == "gkd":
        from trl.experimental.gkd import GKDConfig, GKDTrainer

        config = GKDConfig(
            **args,
            lmbda=1.0,
            beta=0.5,
            temperature=1.0,
            max_new_tokens=setup.max_new,
            seq_kd=False,
            gradient_checkpointing=False,
        )
        messages = [c + [{"role": "assistant", "content": "ok"}] for c in repeated]
        return GKDTrainer(
            model=student,
            teacher_model=teacher,
            args=config,
            train_dataset=Dataset.from_dict({"messages": messages}),
            processing_class=tokenizer,
        )
    from trl import DistillationConfig, DistillationTrainer

    config = DistillationConfig(
        **args,
        beta=0.5,
        temperature=1.0,
        max_completion_length=setup.max_new,
        gradient_checkpointing=False,
    )
    return DistillationTrainer(
        model=student,
        teacher_model=teacher,
        args=config,
        train_dataset=Dataset.from_dict({"prompt": repeated}),
        processing_class=tokenizer,
    )


def time_generate(model: torch.nn.Module, spent: list[float]) -> None:
    """Record the seconds of every ``model.generate`` call (how TRL samples without vLLM)."""
    original = model.generate

    def generate(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    model.generate = generate


def interleaved(trainer, after_each: Callable[[int], None], peer: Timings, warmup: int = 1) -> None:
    """Run ``trainer.train()``, timing each optimiser step (its generation too), and call
    ``after_each(step)`` between steps, outside the timed span (the other side's step)."""
    from transformers import TrainerCallback

    spent: list[float] = []
    time_generate(trainer.model, spent)

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            spent.clear()
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            total = time.perf_counter() - self.start
            if state.global_step > warmup:
                peer.add(total, sum(spent))
            after_each(state.global_step)

    trainer.add_callback(Clock())
    trainer.train()


# -- the comparison ----------------------------------------------------------------------------
def compare(
    kind: str, peer_kind: str, model, tokenizer, setup: Setup, autocasts=(None,)
) -> dict[str, Timings]:
    """Interleave TRL's ``peer_kind`` step with the suite's ``kind`` step, once per suite
    variant (each ``autocasts`` entry: None for fp32, "bf16"); their timings by label
    ("suite", "suite bf16", "trl")."""
    sides = {}
    for autocast in autocasts:
        variant = dataclasses.replace(setup, autocast=autocast)
        policy = suite_policy(model, tokenizer, variant)
        sides[suite_label(autocast)] = (policy, suite_learner(kind, policy, variant), Timings())
    peer = Timings()

    def our_steps(step: int) -> None:
        for policy, learner, ours in sides.values():
            total, generation = suite_step(kind, policy, learner, setup, step)
            if step > 1:
                ours.add(total, generation)

    with tempfile.TemporaryDirectory() as out:
        trainer = trl_trainer(peer_kind, model, tokenizer, setup, out)
        interleaved(trainer, our_steps, peer)
    return {**{label: side[2] for label, side in sides.items()}, "trl": peer}


def suite_label(autocast: str | None) -> str:
    return "suite" if autocast is None else f"suite {autocast}"


def profile_step(kind: str, model, tokenizer, setup: Setup, rows: int = 12) -> str:
    """The operators that take the time of one suite step (after a warm-up step)."""
    from torch.profiler import ProfilerActivity, profile

    policy = suite_policy(model, tokenizer, setup)
    learner = suite_learner(kind, policy, setup)
    suite_step(kind, policy, learner, setup, 0)
    parts = {"student forward": 0.0, "teacher forward": 0.0}
    _time_calls(learner.policy, "score", parts, "student forward")
    if hasattr(learner, "teacher"):
        _time_calls(learner.teacher, "score", parts, "teacher forward")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        total, generation = suite_step(kind, policy, learner, setup, 1)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
    rest = total - generation - sum(parts.values())
    split = ", ".join(f"{name} {t:.2f} s" for name, t in parts.items() if t)
    return (
        f"  {kind} step {total:.2f} s: generation {generation:.2f} s, {split}, "
        f"backward and optimiser {rest:.2f} s (profiled: each part slower than unprofiled); "
        f"by operator:\n{table}"
    )


def _time_calls(obj, method: str, parts: dict[str, float], part: str) -> None:
    """Add the wall time of every call of ``obj.method`` to ``parts[part]`` (a profile's split
    of a learner step into its scoring passes)."""
    inner = getattr(obj, method)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            parts[part] += time.perf_counter() - start

    setattr(obj, method, timed)


PEER_NAMES = {"grpo": "GRPOTrainer", "gkd": "GKDTrainer", "distill": "DistillationTrainer"}


def peer_generate(policy, convs, setup: Setup) -> float:
    """transformers' ``generate`` on all prompts at once, sampling, every row to max_new."""
    from learners.models.hf_engine import left_pad

    ids, mask = left_pad([policy.render(c) for c in convs], policy.pad_id, policy.device)
    start = time.perf_counter()
    with torch.no_grad():
        policy.model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            max_new_tokens=setup.max_new,
            min_new_tokens=setup.max_new,
            pad_token_id=policy.pad_id,
        )
    return time.perf_counter() - start


def compare_generation(model, tokenizer, setup: Setup, sizes: list[int]) -> list[str]:
    """Policy.generate against ``generate`` on the same n prompts, for each n, interleaved;
    every row runs to max_new tokens (EOS ignored), so both do the same work."""
    from learners.models import SamplingParams

    policy = suite_policy(model, tokenizer, setup)
    lines = []
    for n in sizes:
        convs = [
            [{"role": "user", "content": setup.prompts[i % len(setup.prompts)]}] for i in range(n)
        ]
        ours, peer = [], []
        for step in range(setup.steps + 1):
            params = SamplingParams(max_new_tokens=setup.max_new, seed=step, ignore_eos=True)
            start = time.perf_counter()
            policy.generate(convs, params)
            seconds = time.perf_counter() - start
            peer_seconds = peer_generate(policy, convs, setup)
            if step > 0:
                ours.append(seconds)
                peer.append(peer_seconds)
        a, b = statistics.median(ours), statistics.median(peer)
        lines.append(
            f"  generate {n} x {setup.max_new} tokens: suite {a:.2f} s | transformers generate "
            f"(all {n} at once) {b:.2f} s | {b / a:.2f}x, medians of {len(ours)}"
        )
    return lines


def report(kind: str, peer_kind: str, timings: dict[str, Timings]) -> str:
    """One line per suite variant: its medians against TRL's and the ratios."""
    peer = timings["trl"].medians()
    lines = []
    for label, side in timings.items():
        if label == "trl":
            continue
        ours = side.medians()
        lines.append(
            f"  {kind} step: {label} {ours[0]:.2f} s (generation {ours[1]:.2f}, training "
            f"{ours[2]:.2f}) | TRL {PEER_NAMES[peer_kind]} {peer[0]:.2f} s (generation "
            f"{peer[1]:.2f}, training {peer[2]:.2f}) | {peer[0] / ours[0]:.2f}x (generation "
            f"{peer[1] / ours[1]:.2f}x, training {peer[2] / ours[2]:.2f}x), medians of "
            f"{len(side.total)} steps"
        )
    return "\n".join(lines)


def available_peers() -> list[str]:
    import trl

    peers = ["grpo", "gkd"]
    if hasattr(trl, "DistillationTrainer"):
        peers.append("distill")
    return peers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small", help="small (15.7M Qwen2), or a preset")
    parser.add_argument(
        "--peers", nargs="+", default=None, help="generate grpo gkd distill (default: all)"
    )
    parser.add_argument(
        "--sizes", nargs="+", type=int, default=[1, 8, 64], help="prompts for 'generate'"
    )
    parser.add_argument("--steps", type=int, default=6, help="counted steps (one more warms up)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--autocast",
        nargs="+",
        default=["none"],
        help="the suite's autocast: none (fp32), bf16, or several (e.g. none bf16: each "
        "variant steps after TRL's step, interleaved)",
    )
    parser.add_argument(
        "--trl-bf16", action="store_true", help="TRL in bf16 mixed precision (default fp32)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="only profile one suite step of GRPO and of SD"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    import trl

    autocasts = [None if a == "none" else a for a in args.autocast]
    setup = Setup(
        prompts=PROMPTS[: args.prompts],
        group=args.group,
        max_new=args.max_new_tokens,
        micro_batch=args.micro_batch,
        steps=args.steps,
        autocast=autocasts[0],
        trl_bf16=args.trl_bf16,
    )
    model, tokenizer = load_models(args.model)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    load = os.getloadavg()[0]
    print(
        f"{args.model} ({params:.1f}M parameters), {len(setup.prompts)} prompts x G={setup.group},"
        f" {setup.max_new} new tokens, micro-batch {setup.micro_batch}, suite "
        f"{'/'.join(args.autocast)} (none: fp32), TRL {'bf16' if args.trl_bf16 else 'fp32'}, "
        f"{torch.get_num_threads()} threads; torch {torch.__version__}, TRL {trl.__version__}; "
        f"load average {load:.2f} at the start"
    )
    if args.profile:
        for kind in ("grpo", "sd"):
            print(profile_step(kind, model, tokenizer, setup), flush=True)
        return
    for peer_kind in args.peers or ["generate", *available_peers()]:
        if peer_kind == "generate":
            for line in compare_generation(model, tokenizer, setup, args.sizes):
                print(line, flush=True)
            continue
        kind = "grpo" if peer_kind == "grpo" else "sd"
        timings = compare(kind, peer_kind, model, tokenizer, setup, autocasts)
        print(report(kind, peer_kind, timings), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
