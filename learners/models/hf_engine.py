"""The transformers engine: left-padded batched forward passes and a KV-cached sampling loop.

Why our own loop rather than ``model.generate``: we need, per token, the log-prob under the
*untempered* distribution (what ``Policy.score`` recomputes), stop strings that cut the text
exactly, finished rows dropped from the batch (and KV cache) as soon as they end, and one seeded
``torch.Generator`` per call; each of these is a few lines here and a fight with generate().
"""

from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch.func import functional_call
from transformers import modeling_utils
from transformers.cache_utils import DynamicLayer

from learners.models.types import Completion, SamplingParams


def left_pad(seqs: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, L] ids and attention mask, sequences right-aligned (so all end at column L-1)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        if seq:
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
    return ids.to(device), mask.to(device)


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 at each row's first real token (left padding ignored)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def accepts_logits_to_keep(model: torch.nn.Module) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def cache_kwarg(model: torch.nn.Module) -> str:
    """transformers >= 5.24 names the KV-cache argument ``cache``; earlier ``past_key_values``."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def output_cache(out):
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def right_pad(seqs: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, L] ids and attention mask, sequences left-aligned (position j is token j of each)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids.to(device), mask.to(device)


# transformers >= 5 slices hidden states by a [B, L] bool mask before the LM head itself
_SLICES_BY_MASK = hasattr(modeling_utils, "slice_logits_to_keep")


def forward_logits(
    model, ids, mask, keep: int | torch.Tensor, weights: dict | None = None, **kwargs
):
    """Model outputs with logits only where needed, so the LM head runs on those positions only.

    ``keep`` is either a count (logits of the last ``keep`` positions, [B, keep, V]) or a
    [B, L] bool mask (logits of the True positions, row by row, flattened to [N, V]).
    ``weights`` (name -> tensor) replaces those parameters for this call only, through
    ``torch.func.functional_call``: the module itself is not modified, so autograd graphs
    built earlier on the real parameters stay valid (the EMA teacher relies on this).
    """
    kw = dict(input_ids=ids, attention_mask=mask, **kwargs)
    if "position_ids" not in kw:
        kw["position_ids"] = positions(mask)
    by_mask = isinstance(keep, torch.Tensor)
    if accepts_logits_to_keep(model) and (not by_mask or _SLICES_BY_MASK):
        kw["logits_to_keep"] = keep
    out = (
        model(**kw)
        if weights is None
        else functional_call(model, weights, (), kw, strict=False, tie_weights=True)
    )
    if by_mask:
        if out.logits.dim() == 3:  # the model computed every position: select here
            out.logits = out.logits[keep]
    else:
        out.logits = out.logits[:, -keep:]
    return out


def sample_next(logits: torch.Tensor, params: SamplingParams, uniform: torch.Tensor | None):
    """Next tokens [B] and their untempered log-probs [B] from float32 logits [B, V].

    ``uniform`` [B] holds each row's own draw in [0, 1) for this step (unused when greedy):
    drawn per prompt and step up front, so what a row samples does not depend on which other
    rows share its batch.
    """
    logprobs = torch.log_softmax(logits, dim=-1)
    if params.temperature == 0:
        tokens = logits.argmax(dim=-1)
    else:
        probs = torch.softmax(logits / params.temperature, dim=-1)
        if params.top_p < 1.0:
            probs = top_p_filter(probs, params.top_p)
        tokens = sample_categorical(probs, uniform)
    return tokens, logprobs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def sample_categorical(probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """One draw per row of [B, V] probabilities, by inverse CDF of the uniforms [B] in [0, 1).

    Same distribution as ``torch.multinomial(probs, 1)``, 0.2 ms instead of 7 ms per decode
    step for 6 rows x 49k tokens on this CPU. A token of zero probability is never drawn: a
    uniform draw lands strictly inside some token's interval of the running mass, and the
    rare rounding of u * total up to total is sent to the last token that has mass.
    """
    cdf = probs.cumsum(dim=-1)
    u = uniform.to(device=cdf.device, dtype=cdf.dtype).view(-1, 1)
    tokens = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).squeeze(-1)
    last_with_mass = probs.shape[-1] - 1 - (probs.flip(-1) > 0).long().argmax(dim=-1)
    return torch.minimum(tokens, last_with_mass)


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose mass reaches top_p (at least one)."""
    sorted_p, order = probs.sort(dim=-1, descending=True)
    mass_before = sorted_p.cumsum(-1) - sorted_p
    sorted_p = sorted_p.masked_fill(mass_before >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return kept / kept.sum(-1, keepdim=True)


SKINNY_MAX_ROWS = 16  # beyond this many rows the regular product is as fast


def skinny_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``F.linear`` for a handful of rows on CPU, computed as ``(W @ X^T)^T``.

    A decode step multiplies every weight by a handful of rows (one per active sequence). MKL
    (torch's CPU BLAS) serves ``X @ W^T`` with few rows, and any one-column product, through
    paths that stream the weights far below memory bandwidth; ``W @ X^T`` with two or more
    columns takes its gemm path. Measured on this project's 2-core CPU with SmolLM2-135M: a
    batch-1 decode step 56 -> 38 ms, batch 2 101 -> 54 ms, batch 8 94 -> 81 ms. The same dot
    products in another order: results agree to float32 rounding.
    """
    rows = x.numel() // max(x.shape[-1], 1)
    if not (0 < rows <= SKINNY_MAX_ROWS and x.device.type == "cpu" and x.dtype == weight.dtype):
        return torch.nn.functional.linear(x, weight, bias)
    flat = x.reshape(rows, x.shape[-1])
    if rows == 1:  # one column would take the slow matrix-vector path; a real copy, as a
        flat = torch.cat([flat, flat])  # stride-0 view is slower still
    out = torch.mm(weight, flat.T).T[:rows]
    if bias is not None:
        out = out + bias
    return out.reshape(*x.shape[:-1], weight.shape[0])


@contextlib.contextmanager
def skinny_linears(model: torch.nn.Module):
    """Inside the block every plain ``nn.Linear`` of ``model`` computes through skinny_linear.

    Only those modules change (an instance ``forward``, removed on exit), so the rest of the
    model runs untouched and at full speed.
    """
    linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
    for module in linears:
        module.forward = functools.partial(_skinny_forward, module)
    try:
        yield
    finally:
        for module in linears:
            del module.forward


def _skinny_forward(module: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return skinny_linear(x, module.weight, module.bias)


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@contextlib.contextmanager
def autocast(model: torch.nn.Module, dtype: str | None):
    """Inside the block the model's matrix products run in ``dtype`` ("bf16" or "fp16"; None:
    unchanged), its weights staying float32 masters, except the LM head, which gets float32
    inputs and weights.

    Why: on a CPU with bf16 units a SmolLM2 forward and backward takes about half the fp32
    time. The layers' rounding moves log-probs by a few hundredths to a tenth of a nat; logits
    rounded to bf16 (8 bits of mantissa, values in the tens) would add as much again, and the
    head is a small part of the work when only a completion's positions reach it.
    """
    if dtype is None:
        yield
        return
    if dtype not in AUTOCAST_DTYPES:
        raise ValueError(
            f"autocast must be one of {sorted(AUTOCAST_DTYPES)} or None, got {dtype!r}"
        )
    device = next(model.parameters()).device.type
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None and type(head) is not torch.nn.Linear:
        head = None
    # an instance forward already there (skinny_linears around this block) comes back on exit
    previous = vars(head).get("forward") if head is not None else None
    if head is not None:
        head.forward = functools.partial(_float32_forward, head)
    try:
        with torch.autocast(device, dtype=AUTOCAST_DTYPES[dtype]):
            yield
    finally:
        if previous is not None:
            head.forward = previous
        elif head is not None:
            del head.forward


def _float32_forward(module: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    with torch.autocast(x.device.type, enabled=False):
        bias = None if module.bias is None else module.bias.float()
        return torch.nn.functional.linear(x.float(), module.weight.float(), bias)


def weight_bound(model: torch.nn.Module) -> bool:
    """Whether the model's passes are bound by its weights (10M+ parameters) rather than by
    per-call overheads and attention, as a tiny test model's are. Only then do skinny_linear
    (tiny-random: 1.7x slower generation) and running a shared prefix once (tiny-random: 1.4x
    slower scoring; SmolLM2: 1.2x faster) pay for themselves."""
    return sum(p.numel() for p in model.parameters()) >= 10_000_000


def find_stop(text: str, stops: tuple[str, ...]) -> int:
    """Index of the earliest stop string in text, or -1."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else -1


def kv_bytes_per_token(model: torch.nn.Module) -> int:
    """Bytes the KV cache holds per token of one row (keys and values of every layer)."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else None
    config = config or model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    element = next(model.parameters()).element_size()
    return 2 * config.num_hidden_layers * kv_heads * head_dim * element


def row_bytes(model: torch.nn.Module, context: int) -> int:
    """What one decoding row of ``context`` tokens (prompt + completion) may hold at its peak.

    Its KV cache twice (admitting rows concatenates a new cache beside the old one), the
    prefill's activations (MLP and attention scores, per token), and the float32 vocabulary
    vectors of a sampling step (logits, log-softmax, softmax, running mass and temporaries).
    """
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else None
    config = config or model.config
    element = next(model.parameters()).element_size()
    intermediate = getattr(config, "intermediate_size", None) or 4 * config.hidden_size
    activations = (3 * intermediate + 4 * config.hidden_size) * element
    scores = config.num_attention_heads * context * 4
    per_token = 2 * kv_bytes_per_token(model) + activations + scores
    return context * per_token + 8 * config.vocab_size * 4


def default_memory_budget(device: torch.device) -> int:
    """Bytes generation may use beyond the weights: on a GPU 40% of its free memory, on a CPU
    a quarter of the available RAM, at most 2 GiB (past a few dozen rows a CPU decode step is
    compute-bound, so more rows buy nothing)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(0.4 * free)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        available = 8 * 2**30
    return int(min(available // 4, 2 * 2**30))


def rows_for_budget(model: torch.nn.Module, context: int, budget_bytes: int) -> int:
    """How many rows of ``context`` tokens decode together within ``budget_bytes`` (>= 1)."""
    return max(1, budget_bytes // max(row_bytes(model, context), 1))


@dataclass
class _Batch:
    """The rows decoding together: their KV cache, attention mask [B, W] (left padding is 0),
    next position [B], and the logits [B, V] of their next token; ``prompt`` [B] says whose
    completion each row extends."""

    cache: Any
    mask: torch.Tensor
    next_pos: torch.Tensor
    logits: torch.Tensor
    prompt: list[int]

    def select(self, keep: list[int]) -> None:
        """Keep those rows (in that order), then drop leading columns no row attends to."""
        if len(keep) < len(self.prompt):
            index = torch.tensor(keep, device=self.mask.device)
            self.cache.batch_select_indices(index)
            self.mask, self.next_pos = self.mask[index], self.next_pos[index]
            self.logits = self.logits[index]
            self.prompt = [self.prompt[k] for k in keep]
        unused = int((self.mask.sum(0) == 0).long().cumprod(0).sum())
        if unused:
            self.mask = self.mask[:, unused:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, unused:], layer.values[:, :, unused:]

    def extend(self, other: _Batch) -> None:
        """Append ``other``'s rows, left-padding the narrower cache and mask to a common width."""
        width = max(self.mask.shape[1], other.mask.shape[1])
        masks = []
        for batch in (self, other):
            pad = width - batch.mask.shape[1]
            masks.append(torch.nn.functional.pad(batch.mask, (pad, 0)))
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            for name in ("keys", "values"):
                a, b = getattr(mine, name), getattr(theirs, name)
                a = torch.nn.functional.pad(a, (0, 0, width - a.shape[2], 0))
                b = torch.nn.functional.pad(b, (0, 0, width - b.shape[2], 0))
                setattr(mine, name, torch.cat([a, b]))
        self.mask = torch.cat(masks)
        self.next_pos = torch.cat([self.next_pos, other.next_pos])
        self.logits = torch.cat([self.logits, other.logits])
        self.prompt = self.prompt + other.prompt


def refillable(cache) -> bool:
    """Whether rows can be appended to this cache: full-attention layers of plain tensors."""
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


class HFEngine:
    """Generation on the trainer's own torch model (CPU or GPU); nothing to sync.

    Continuous batching: up to ``rows`` prompts decode together (``batch_size`` when given,
    else as many as ``memory_budget_mb`` allows for the longest context); a row that finishes
    leaves the batch and its KV cache, and waiting prompts (shortest first) are prefilled and
    appended once a quarter of the rows are free (or when the batch would otherwise run out),
    so few steps run with a thin batch. Identical prompts are prefilled once. Each prompt's
    random draws are fixed up front (one uniform per prompt and step from the call's seed), so
    a completion does not depend on the batch it decoded in: batch size 1 and any other give
    the same tokens.

    It offers no scoring of its own (``scoring = None``): ``Policy`` scores with the same model
    through ``hf_scoring``, which also serves gradients.
    """

    scoring = None

    def __init__(
        self,
        model,
        tokenizer,
        eos_ids: set[int],
        pad_id: int,
        batch_size: int | None = None,
        skinny_matmul: bool | None = None,
        memory_budget_mb: float | None = None,
        autocast: str | None = None,
    ):
        self.model, self.tokenizer = model, tokenizer
        self.autocast = autocast  # see the function autocast: "bf16", "fp16" or None
        self.eos_ids, self.pad_id, self.batch_size = eos_ids, pad_id, batch_size
        self.memory_budget_mb = memory_budget_mb
        # see skinny_linear; None decides from the model's size and device
        if skinny_matmul is None:
            on_cpu = next(model.parameters()).device.type == "cpu"
            skinny_matmul = on_cpu and weight_bound(model)
        self.skinny_matmul = skinny_matmul

    def sync_weights(self, model) -> None:
        """The engine samples from the trainer's tensors directly: always in sync."""

    def rows(self, prompts: list[list[int]], max_new_tokens: int) -> int:
        """Rows that decode together for this call: ``batch_size`` or the memory budget's."""
        if self.batch_size is not None:
            return self.batch_size
        device = next(self.model.parameters()).device
        budget = (
            int(self.memory_budget_mb * 2**20)
            if self.memory_budget_mb is not None
            else default_memory_budget(device)
        )
        context = max(len(p) for p in prompts) + max_new_tokens
        return rows_for_budget(self.model, context, budget)

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        if not prompts:
            return []
        seed = params.seed if params.seed is not None else int(torch.randint(2**62, (1,)))
        generator = torch.Generator().manual_seed(seed)
        # row i's draw at step t is uniforms[i, t], whatever batch it decodes in
        uniforms = torch.rand((len(prompts), params.max_new_tokens), generator=generator)
        skinny = skinny_linears(self.model) if self.skinny_matmul else contextlib.nullcontext()
        with skinny, autocast(self.model, self.autocast):
            return self._decode(
                prompts, params, uniforms, self.rows(prompts, params.max_new_tokens)
            )

    def _prefill(self, prompts: list[list[int]], which: list[int]) -> _Batch:
        """Rows for prompts ``which``, ready to sample. A prompt that appears several times (a
        group's G rollouts of one task) runs once, and its KV cache is copied to each row."""
        device = next(self.model.parameters()).device
        unique: dict[tuple[int, ...], int] = {}
        slot = [unique.setdefault(tuple(prompts[i]), len(unique)) for i in which]
        ids, mask = left_pad([list(p) for p in unique], self.pad_id, device)
        out = forward_logits(self.model, ids, mask, keep=1, use_cache=True)
        cache, logits = output_cache(out), out.logits[:, -1].float()
        if len(unique) < len(which):
            index = torch.tensor(slot, device=device)
            cache.batch_select_indices(index)
            mask, logits = mask[index], logits[index]
        return _Batch(cache, mask, positions(mask)[:, -1] + 1, logits, which)

    @torch.no_grad()
    def _decode(self, prompts, params: SamplingParams, uniforms, rows: int) -> list[Completion]:
        device = next(self.model.parameters()).device
        n = len(prompts)
        waiting = collections.deque(sorted(range(n), key=lambda i: len(prompts[i])))
        tokens: list[list[int]] = [[] for _ in range(n)]
        logprobs: list[list[float]] = [[] for _ in range(n)]
        texts: list[str | None] = [None] * n
        reasons = ["length"] * n
        cache_name = cache_kwarg(self.model)
        batch: _Batch | None = None
        can_refill = True
        while waiting or batch is not None:
            free = rows - (len(batch.prompt) if batch is not None else 0)
            if (
                waiting
                and free > 0
                and (batch is None or (can_refill and free >= min(max(1, rows // 4), len(waiting))))
            ):
                new = self._prefill(
                    prompts, [waiting.popleft() for _ in range(min(free, len(waiting)))]
                )
                if batch is None:
                    batch, can_refill = new, refillable(new.cache)
                else:
                    batch.extend(new)
            steps = torch.tensor([len(tokens[i]) for i in batch.prompt])
            new_ids, new_lp = sample_next(
                batch.logits, params, uniforms[torch.tensor(batch.prompt), steps]
            )
            keep = []
            for slot, (i, tok, lp) in enumerate(
                zip(batch.prompt, new_ids.tolist(), new_lp.tolist(), strict=True)
            ):
                tokens[i].append(tok)
                logprobs[i].append(lp)
                if tok in self.eos_ids and not params.ignore_eos:
                    reasons[i] = "stop"
                    continue
                if params.stop:
                    text = self.tokenizer.decode(tokens[i], skip_special_tokens=True)
                    cut = find_stop(text, params.stop)
                    if cut >= 0:
                        texts[i], reasons[i] = text[:cut], "stop"
                        continue
                if len(tokens[i]) < params.max_new_tokens:
                    keep.append(slot)
            if not keep:
                batch = None
                continue
            batch.select(keep)
            new_ids = new_ids[torch.tensor(keep, device=device)]
            batch.mask = torch.cat([batch.mask, batch.mask.new_ones((len(keep), 1))], dim=1)
            out = self.model(
                input_ids=new_ids.unsqueeze(-1),
                attention_mask=batch.mask,
                position_ids=batch.next_pos.unsqueeze(-1),
                use_cache=True,
                **{cache_name: batch.cache},
            )
            batch.cache, batch.logits = output_cache(out), out.logits[:, -1].float()
            batch.next_pos = batch.next_pos + 1
        return [
            Completion(
                token_ids=tokens[i],
                text=texts[i]
                if texts[i] is not None
                else self.tokenizer.decode(tokens[i], skip_special_tokens=True),
                logprobs=logprobs[i],
                finish_reason=reasons[i],
            )
            for i in range(n)
        ]
