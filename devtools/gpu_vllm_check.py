"""On a GPU machine with the vllm extra: hf-vs-vllm parity and throughput in one run.

    python -m devtools.gpu_vllm_check [--model smollm2-135m] [--batch 64] [--max-new-tokens 128]

Prints: greedy agreement of the two engines, max |logprob| difference between vLLM's sampled
log-probs and hf score() of the same tokens, vLLM prompt-logprob scoring vs hf top-K, weight
sync (a change to the trainer weights shows in vLLM's numbers), and tokens/s of each engine.
"""

from __future__ import annotations

import argparse
import time

import torch

from learners.models import Policy, SamplingParams

QUESTIONS = [
    "What is the capital of France?",
    "Name a prime number above 50.",
    "Write a haiku about rain.",
    "Guess a five-letter English word.",
]


def tokens_per_s(policy: Policy, convs, params: SamplingParams) -> tuple[float, list]:
    torch.cuda.synchronize()
    start = time.perf_counter()
    comps = policy.generate(convs, params)
    torch.cuda.synchronize()
    return sum(len(c.token_ids) for c in comps) / (time.perf_counter() - start), comps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_vllm_check needs a CUDA GPU")
    hf = Policy.load(args.model, engine="hf", device="cuda", dtype=torch.float32, batch_size=64)
    vl = Policy.load(
        args.model,
        engine="vllm",
        device="cuda",
        dtype=torch.float32,
        engine_options={"gpu_memory_utilization": 0.4},
    )
    convs = [
        [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + f" ({i})"}]
        for i in range(args.batch)
    ]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=args.max_new_tokens)
    _, hf_greedy = tokens_per_s(hf, convs[:8], greedy)
    _, vl_greedy = tokens_per_s(vl, convs[:8], greedy)
    same = sum(a.token_ids == b.token_ids for a, b in zip(hf_greedy, vl_greedy, strict=True))
    print(f"greedy: {same}/8 completions identical between hf and vllm (fp32)")
    sampled = SamplingParams(temperature=1.0, max_new_tokens=args.max_new_tokens, seed=0)
    vl_rate, vl_comps = tokens_per_s(vl, convs, sampled)
    items = [(c, x.token_ids) for c, x in zip(convs, vl_comps, strict=True)]
    hf_scores = hf.score(items, top_k=8)
    diff = max(
        (torch.tensor(x.logprobs) - s.token_logprobs.cpu()).abs().max().item()
        for x, s in zip(vl_comps, hf_scores, strict=True)
        if x.token_ids
    )
    print(f"sampled-token logprobs, vllm generate vs hf score: max |diff| = {diff:.2e}")
    vl_scores = vl.score(items, top_k=8)  # no grad: vLLM prompt log-probs
    sdiff = max(
        (a.topk_logprobs - b.topk_logprobs.cpu()).abs().max().item()
        for a, b in zip(vl_scores, hf_scores, strict=True)
        if a.topk_ids.numel()
    )
    print(f"top-8 logprobs, vllm prompt_logprobs vs hf score: max |diff| = {sdiff:.2e}")
    hf_rate, _ = tokens_per_s(hf, convs, sampled)
    print(
        f"throughput batch {args.batch} x {args.max_new_tokens} new tokens: "
        f"hf {hf_rate:,.0f} tok/s | vllm {vl_rate:,.0f} tok/s | {vl_rate / hf_rate:.1f}x"
    )
    with torch.no_grad():
        for p in vl.trainable_parameters():
            p.mul_(0.9)
    start = time.perf_counter()
    vl.sync_weights()
    sync_s = time.perf_counter() - start
    after = vl.score(items[:4], top_k=8)
    local = vl.score(items[:4], top_k=8, grad=True)
    sync_diff = max(
        (a.token_logprobs - b.token_logprobs.detach().cpu()).abs().max().item()
        for a, b in zip(after, local, strict=True)
        if a.token_logprobs.numel()
    )
    print(f"weight sync: {sync_s:.2f} s; vllm vs trainer after sync: max |diff| = {sync_diff:.2e}")


if __name__ == "__main__":
    main()
