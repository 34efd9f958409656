"""The suite on a GPU in one short run, with no downloads: python -m devtools.gpu_check

    python -m devtools.gpu_check                 # a ~0.5B Qwen2 (Qwen2-0.5B's shapes), bf16
    python -m devtools.gpu_check --tiny          # a 2-layer model: runs on a CPU in seconds
    python -m devtools.gpu_check --precision autocast   # fp32 master weights, bf16 autocast

The GPU machine lent to this project has no network and takes at most 64 MiB of files along,
so no real weights travel: the model is built from Qwen2-0.5B's config (494M parameters,
vocabulary 151,936, tied embeddings) with random weights, and its tokenizer is a word-level
one built here with one word ``t<N>`` per id and ChatML, so every id the model samples decodes
and the chat template renders (the text means nothing; the shapes and the work are the real
model's). Prompts are random words (``--prompt-tokens`` each); every completion runs to
``--max-new-tokens`` (EOS ignored), so each measurement does a fixed amount of work.

Printed, one table:
- hf engine generation, tokens/s at batch 64 and 256 (``--batches``; the rows decoding at once
  come from the engine's memory budget), beside transformers' ``generate`` on the same prompts
  at once, and the peak memory of each;
- a GRPO and an SD learner step (``--prompts`` x G ``--group`` completions, micro-batch
  ``--micro-batch``; SD with its frozen teacher reading feedback): the median seconds of
  ``--steps`` steps after a warm-up, split into generation and training, the model FLOPs of
  each part (counted by torch's FlopCounterMode on the warm-up step: the matrix products and
  attention the step really ran) and the model-FLOPs utilisation, FLOP/s over the device's
  peak (H100/H200 989 TFLOP/s dense bf16, A100 312; ``--peak-tflops`` for others; on a CPU
  not shown unless given), and peak GPU memory.

About 2-4 minutes on an H100/H200 (the model builds on the GPU in seconds); ``--tiny`` on a
2-core CPU about 30 s.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import time
from dataclasses import dataclass

import torch

# Qwen2-0.5B's shapes (its config.json), and a model a CPU test runs in seconds
QWEN2_05B = dict(
    vocab_size=151_936,
    hidden_size=896,
    intermediate_size=4_864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    max_position_embeddings=32_768,
    rope_theta=1_000_000.0,
    tie_word_embeddings=True,
)
TINY = dict(
    vocab_size=2_048,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=4_096,
    tie_word_embeddings=True,
)
# dense bf16 peak of a device, by a part of its name (NVIDIA's data sheets, SXM parts)
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
FEEDBACK = "t1 t2 t3 t4 t5 t6 t7 t8: not quite, t9 is the answer"


# -- model and tokenizer -----------------------------------------------------------------------
def build_tokenizer(vocab_size: int):
    """A word-level tokenizer: id N is the word ``t<N>`` (the last three ids the ChatML
    specials), whitespace between words; ChatML's chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    from learners.models.tiny import wrap_chatml

    words = [f"t{i}" for i in range(vocab_size - len(SPECIALS))]
    vocab = {w: i for i, w in enumerate(words + list(SPECIALS))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t0"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return wrap_chatml(core)


def build_model(shapes: dict, tokenizer, device: torch.device, dtype: torch.dtype):
    """A Qwen2 of ``shapes`` with random weights, built on ``device`` in ``dtype``."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(
        **shapes,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    with device:
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def random_prompts(n: int, words: int, vocab: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(f"t{rng.randrange(10, vocab - 10)}" for _ in range(words)) for _ in range(n)]


# -- measuring ---------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float:
    """Peak memory since the last reset (GPU: allocated by torch; CPU: the process's RSS)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(fn, device: torch.device):
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def counted(fn) -> tuple[float, object]:
    """(FLOPs that ``fn`` ran, its result), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        out = fn()
    return float(counter.get_total_flops()), out


def device_peak(device: torch.device, given: float | None) -> float | None:
    """The device's dense bf16 peak in FLOP/s (None: unknown)."""
    if given is not None:
        return given * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for part, tflops in PEAK_TFLOPS.items():
        if part in name:
            return tflops * 1e12
    return None


@dataclass
class Row:
    what: str
    seconds: float
    detail: str = ""
    flops: float | None = None  # per call / step
    peak: float = 0.0  # GiB

    def cells(self, peak_flops: float | None) -> list[str]:
        rate = self.flops / self.seconds if self.flops else None
        mfu = f"{100 * rate / peak_flops:.1f}%" if rate and peak_flops else "-"
        return [
            self.what,
            f"{self.seconds:.3f}",
            self.detail,
            f"{self.flops / 1e9:.4g}" if self.flops else "-",
            f"{rate / 1e12:.3g}" if rate else "-",
            mfu,
            f"{self.peak:.2f}",
        ]


def generation_rows(policy, args, device) -> list[Row]:
    """Policy.generate (the hf engine) and transformers' generate on the same prompts."""
    from learners.models import SamplingParams
    from learners.models.hf_engine import left_pad

    rows = []
    vocab = policy.model.config.vocab_size
    for n in args.batches:
        convs = [
            [{"role": "user", "content": p}]
            for p in random_prompts(n, args.prompt_tokens, vocab, seed=n)
        ]
        params = SamplingParams(max_new_tokens=args.max_new_tokens, seed=0, ignore_eos=True)
        policy.generate(convs[: min(n, 8)], SamplingParams(max_new_tokens=4, seed=0))  # warm-up
        reset_peak(device)
        seconds, outs = timed(lambda c=convs, p=params: policy.generate(c, p), device)
        tokens = sum(len(o.token_ids) for o in outs)
        decode_rows = policy.engine.rows([policy.render(c) for c in convs[:1]], args.max_new_tokens)
        rows.append(
            Row(
                f"generate {n} x {args.max_new_tokens}: hf engine",
                seconds,
                f"{tokens / seconds:,.0f} tok/s ({min(n, decode_rows)} rows at once)",
                2 * policy_params(policy) * tokens,
                peak_gib(device),
            )
        )
        ids, mask = left_pad([policy.render(c) for c in convs], policy.pad_id, device)
        reset_peak(device)
        with torch.no_grad():
            seconds, _ = timed(
                lambda i=ids, m=mask: policy.model.generate(
                    input_ids=i,
                    attention_mask=m,
                    do_sample=True,
                    top_k=0,
                    max_new_tokens=args.max_new_tokens,
                    min_new_tokens=args.max_new_tokens,
                    pad_token_id=policy.pad_id,
                ),
                device,
            )
        tokens = n * args.max_new_tokens
        rows.append(
            Row(
                f"generate {n} x {args.max_new_tokens}: transformers generate",
                seconds,
                f"{tokens / seconds:,.0f} tok/s (all {n} at once)",
                2 * policy_params(policy) * tokens,
                peak_gib(device),
            )
        )
    return rows


def policy_params(policy) -> int:
    """Parameters a token's forward pass multiplies by (the embedding lookup is no product;
    with tied embeddings the LM head is that same matrix, so it counts)."""
    return sum(p.numel() for p in policy.model.parameters())


def make_groups(policy, prompts: list[str], args, step: int) -> list:
    """G completions per prompt as one-turn episodes, rewarded by a continuous function of
    the ids (a random model's text means nothing), with feedback for SD's teacher."""
    from learners.models import SamplingParams
    from learners.trajectory import Episode, Turn

    convs = [[{"role": "user", "content": p}] for p in prompts for _ in range(args.group)]
    params = SamplingParams(max_new_tokens=args.max_new_tokens, seed=step, ignore_eos=True)
    completions = policy.generate(convs, params)
    groups = []
    for g, prompt in enumerate(prompts):
        group = []
        for k in range(args.group):
            conv, done = convs[g * args.group + k], completions[g * args.group + k]
            score = sum(t % 97 for t in done.token_ids) / (97 * max(len(done.token_ids), 1))
            episode = Episode(f"prompt-{g}", g, g, prompt, success=False, progress=score)
            episode.turns.append(
                Turn(
                    messages=conv,
                    completion_ids=list(done.token_ids),
                    logprobs=list(done.logprobs),
                    text=done.text,
                    feedback=FEEDBACK,
                    reward=score,
                    valid_action=True,
                    finish_reason=done.finish_reason,
                )
            )
            group.append(episode)
        groups.append(group)
    return groups


def learner_rows(kind: str, policy, args, device) -> list[Row]:
    """A GRPO or SD step: a counted warm-up step (FLOPs), then ``args.steps`` timed steps."""
    import learners

    settings = {"lr": 1e-6, "warmup_steps": 0, "micro_batch": args.micro_batch}
    if kind == "grpo":
        settings.update(group_size=args.group, reward="progress")
    else:
        settings.update(rollouts=args.group, ema_rate=0.0)
    learner = learners.make(kind, policy, settings)
    vocab = policy.model.config.vocab_size
    prompts = random_prompts(args.prompts, args.prompt_tokens, vocab, seed=1)
    gen_flops, groups = counted(lambda: make_groups(policy, prompts, args, 0))
    train_flops, _ = counted(lambda: learner.step(groups))
    reset_peak(device)
    totals, generation = [], []
    for step in range(1, args.steps + 1):
        seconds, groups = timed(lambda s=step: make_groups(policy, prompts, args, s), device)
        train, _ = timed(lambda g=groups: learner.step(g), device)
        generation.append(seconds)
        totals.append(seconds + train)
    peak = peak_gib(device)
    total, gen = statistics.median(totals), statistics.median(generation)
    rows_n = args.prompts * args.group
    name = f"{kind} step ({args.prompts} x G={args.group})"
    return [
        Row(name, total, f"median of {args.steps}", gen_flops + train_flops, peak),
        Row(f"- generation ({rows_n} x {args.max_new_tokens})", gen, "", gen_flops, peak),
        Row(f"- training (micro-batch {args.micro_batch})", total - gen, "", train_flops, peak),
    ]


def table(rows: list[Row], peak_flops: float | None) -> str:
    head = ["what", "seconds", "", "GFLOP", "TFLOP/s", "MFU", "peak GiB"]
    cells = [head] + [r.cells(peak_flops) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model (CPU tests)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--precision",
        choices=["bf16", "autocast", "fp32"],
        default="bf16",
        help="bf16: weights in bf16 (what Policy.load does on a GPU); autocast: fp32 master "
        "weights, products in bf16 (--autocast bf16); fp32",
    )
    parser.add_argument("--batches", nargs="+", type=int, default=None, help="default 64 256")
    parser.add_argument("--prompt-tokens", type=int, default=None, help="default 128 (tiny 16)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default 128 (tiny 8)")
    parser.add_argument("--prompts", type=int, default=None, help="default 8 (tiny 2)")
    parser.add_argument("--group", type=int, default=None, help="default 8 (tiny 2)")
    parser.add_argument("--micro-batch", type=int, default=None, help="default 16 (tiny 2)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the warm-up")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    defaults = dict(
        batches=[4, 8] if args.tiny else [64, 256],
        prompt_tokens=16 if args.tiny else 128,
        max_new_tokens=8 if args.tiny else 128,
        prompts=2 if args.tiny else 8,
        group=2 if args.tiny else 8,
        micro_batch=2 if args.tiny else 16,
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    from learners.models import Policy

    device = torch.device(args.device)
    shapes = TINY if args.tiny else QWEN2_05B
    tokenizer = build_tokenizer(shapes["vocab_size"])
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    start = time.perf_counter()
    model = build_model(shapes, tokenizer, device, dtype)
    built = time.perf_counter() - start
    autocast = "bf16" if args.precision == "autocast" else None
    policy = Policy(model, tokenizer, batch_size=args.micro_batch, autocast=autocast)
    params = policy_params(policy) / 1e6
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak_flops = device_peak(device, args.peak_tflops)
    import transformers

    print(
        f"gpu_check: {'tiny' if args.tiny else 'Qwen2-0.5B shapes'}, {params:.1f}M parameters, "
        f"random weights (built in {built:.1f} s), {args.precision}; {name}"
        f"{f', peak {peak_flops / 1e12:.0f} TFLOP/s' if peak_flops else ''}; torch "
        f"{torch.__version__}, transformers {transformers.__version__}; prompts of "
        f"{args.prompt_tokens} words, {args.max_new_tokens} new tokens (EOS ignored)",
        flush=True,
    )
    rows = generation_rows(policy, args, device)
    print(table(rows, peak_flops), flush=True)  # something to read if a learner step fails
    for kind in ("grpo", "sd"):
        rows += learner_rows(kind, policy, args, device)
    print("\nall together:", table(rows, peak_flops), sep="\n", flush=True)


if __name__ == "__main__":
    main()
