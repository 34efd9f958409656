"""``Policy``: a causal LM + tokenizer + chat template behind one engine-agnostic API.

    policy = Policy.load("tiny-random" | "smollm2-135m" | hf_id | folder, engine="hf"|"vllm",
                         device=None, dtype=None, lora=None, batch_size=16, **preset_options)
    policy.render(conversation) -> prompt token ids (chat template, add_generation_prompt=True)
    policy.generate(conversations, SamplingParams) -> list[Completion]
    policy.score([(conversation, completion_ids), ...], top_k=0, gather_ids=None, grad=False)
        -> list[TokenScores]
    policy.trainable_parameters(), policy.state_dict(), policy.load_state_dict(sd)
    policy.sync_weights()   # after an optimiser step; a no-op for "hf", needed by "vllm"
    policy.tokenizer, policy.device, policy.model

``generate`` and ``score`` share ``render``, so a completion's ids follow its prompt exactly as
they were sampled. ``score`` runs one right-padded forward pass per batch of rows, where an
item whose tokens are a prefix of another item's rides in that item's row (the turns of one
episode cost one pass over its last context: ``packing.nest_prefixes``), and takes a float32
log-softmax at the scored positions only. With ``grad=True`` the returned tensors carry autograd
(the student), else they are computed under ``torch.no_grad`` (a teacher). The model is kept in
eval mode (no dropout) so the scores of the same weights are always the same numbers.
"""

from __future__ import annotations

import torch

from learners.models.hf_engine import (
    HFEngine,
    cache_kwarg,
    forward_logits,
    output_cache,
    positions,
    right_pad,
    weight_bound,
)
from learners.models.packing import common_prefix_length, nest_prefixes
from learners.models.presets import PresetUnavailable, load_model
from learners.models.scoring import token_scores
from learners.models.types import (
    Completion,
    Conversation,
    LoraSettings,
    SamplingParams,
    TokenScores,
)

ENGINES = ("hf", "vllm")
# below this many shared tokens a separate forward pass for the shared prefix costs more than
# running it once per row
MIN_SHARED_PREFIX = 32


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Policy:
    """A chat LM that samples completions and scores (prompt, completion) pairs."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        *,
        engine: str = "hf",
        batch_size: int = 16,
        path: str | None = None,
        lora: LoraSettings | None = None,
        engine_options: dict | None = None,
    ):
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if lora is not None:
            model = apply_lora(model, lora)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.lora = lora
        self.batch_size = batch_size
        self.engine_name = engine
        self.eos_ids = eos_token_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else min(self.eos_ids)
        if engine == "vllm":
            from learners.models.vllm_engine import VllmEngine

            self.engine = VllmEngine(self.model, tokenizer, path, **(engine_options or {}))
        else:
            self.engine = HFEngine(self.model, tokenizer, self.eos_ids, self.pad_id, batch_size)
        self._synced_version = self._weights_version()
        # run the prefix that all rows of a scoring batch share once (see _score_rows)
        self.share_prefixes = weight_bound(self.model)

    @classmethod
    def load(
        cls,
        name: str,
        engine: str = "hf",
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        lora: LoraSettings | None = None,
        batch_size: int = 16,
        engine_options: dict | None = None,
        **options,
    ) -> Policy:
        """A preset name (see ``list_presets()``), a local folder, or a Hugging Face id."""
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        loaded = load_model(name, **options)
        device = torch.device(device) if device is not None else default_device()
        if dtype is None:
            dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        model = loaded.model.to(device=device, dtype=dtype)
        return cls(
            model,
            loaded.tokenizer,
            engine=engine,
            batch_size=batch_size,
            path=loaded.path,
            lora=lora,
            engine_options=engine_options,
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- prompts ---------------------------------------------------------------------------
    def render(self, conversation: Conversation) -> list[int]:
        """Prompt token ids: the chat template with the assistant turn opened.

        An assistant message may carry ``token_ids``, the ids it was sampled as (the rollout
        records them). They are kept verbatim, because re-tokenizing the text can split it
        differently: turn t+1's prompt then starts with turn t's prompt and sampled ids, so
        sampling and scoring see exactly the tokens that were sampled, and ``score`` can run
        an episode's turns as one row. Where that cannot hold (the ids do not decode to the
        content, or the template renders earlier turns differently once later ones follow),
        the text is tokenized as usual.
        """
        if not isinstance(conversation, list) or not all(
            isinstance(m, dict) and "role" in m and "content" in m for m in conversation
        ):
            raise ValueError("a conversation is a list of {'role': ..., 'content': ...} dicts")
        sampled = [
            k for k, m in enumerate(conversation) if m["role"] == "assistant" and "token_ids" in m
        ]
        if sampled:
            ids = self._render_after_sampled(conversation, sampled[-1])
            if ids is not None:
                return ids
        return self._tokenize(self._template(conversation))

    def _template(self, conversation: Conversation) -> str:
        plain = [{"role": m["role"], "content": m["content"]} for m in conversation]
        return self.tokenizer.apply_chat_template(plain, add_generation_prompt=True, tokenize=False)

    def _tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _render_after_sampled(self, conversation: Conversation, k: int) -> list[int] | None:
        """render(conversation[:k]) + message k's sampled ids + the tokens of what follows."""
        ids = [int(t) for t in conversation[k]["token_ids"]]
        body = ids[:-1] if ids and ids[-1] in self.eos_ids else ids
        if self.tokenizer.decode(body, skip_special_tokens=True) != conversation[k]["content"]:
            return None  # e.g. a completion cut at a stop string
        marker = "\x00sampled-turn\x00"
        marked = [*conversation[:k], {"role": "assistant", "content": marker}]
        text = self._template(marked + conversation[k + 1 :])
        before, found, after = text.partition(marker)
        if not found or before != self._template(conversation[:k]):
            return None
        return self.render(conversation[:k]) + body + self._tokenize(after)

    # -- sampling --------------------------------------------------------------------------
    def generate(
        self, conversations: list[Conversation], params: SamplingParams | None = None
    ) -> list[Completion]:
        params = params or SamplingParams()
        if not conversations:
            return []
        self._sync_if_stale()
        return self.engine.generate([self.render(c) for c in conversations], params)

    # -- scoring ---------------------------------------------------------------------------
    def score(
        self,
        items: list[tuple[Conversation, list[int]]],
        *,
        top_k: int = 0,
        gather_ids: list[torch.Tensor] | None = None,
        grad: bool = False,
        weights: dict[str, torch.Tensor] | None = None,
    ) -> list[TokenScores]:
        """Per-token scores of each completion after its rendered prompt.

        ``gather_ids[i]`` [T_i, K] replaces the top-K by the log-probs at those ids.
        ``weights`` (parameter name -> tensor) scores with those values in place of the
        policy's own, without touching the module (how the EMA teacher is evaluated).
        """
        if top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {top_k}")
        if gather_ids is not None and len(gather_ids) != len(items):
            raise ValueError(f"gather_ids has {len(gather_ids)} entries for {len(items)} items")
        prompts = [self.render(conv) for conv, _ in items]
        completions = [[int(t) for t in comp] for _, comp in items]
        if any(not p for p in prompts):
            raise ValueError("a rendered prompt is empty: nothing to condition on")
        if gather_ids is not None:
            for g, comp in zip(gather_ids, completions, strict=True):
                if g.dim() != 2 or g.shape[0] != len(comp):
                    raise ValueError(
                        f"gather_ids entry of shape {tuple(g.shape)} does not "
                        f"match a completion of {len(comp)} tokens"
                    )
        if (
            not grad
            and weights is None
            and gather_ids is None
            and getattr(self.engine, "can_score", lambda k: False)(top_k)
        ):
            self._sync_if_stale()
            return self.engine.score(prompts, completions, top_k)
        rows, placements = nest_prefixes(
            [p + c for p, c in zip(prompts, completions, strict=True)], [len(p) for p in prompts]
        )
        members: list[list[int]] = [[] for _ in rows]
        for i, placement in enumerate(placements):
            members[placement.row].append(i)
        results: list[TokenScores | None] = [None] * len(items)
        by_length = sorted(range(len(rows)), key=lambda r: len(rows[r]))
        for first in range(0, len(by_length), self.batch_size):
            chunk = by_length[first : first + self.batch_size]
            local_row = {r: n for n, r in enumerate(chunk)}
            chunk_items = [i for r in chunk for i in members[r]]
            scored = self._score_rows(
                [rows[r] for r in chunk],
                [
                    (local_row[placements[i].row], placements[i].start, placements[i].end)
                    for i in chunk_items
                ],
                [completions[i] for i in chunk_items],
                top_k,
                None if gather_ids is None else [gather_ids[i] for i in chunk_items],
                grad,
                weights,
            )
            for i, s in zip(chunk_items, scored, strict=True):
                results[i] = s
        return results

    def _score_rows(self, rows, spans, completions, top_k, gather_ids, grad, weights):
        """Score completions lying at ``spans`` = (row, start, end) of ``rows``.

        The tokens all rows begin with (a group's shared task prompt, the template's header)
        run once, and their KV cache is copied to every row; the rest runs right-padded in
        one batch. The LM head runs only at positions some completion needs (the logit at
        position j predicts token j + 1); one log-softmax and one top-K cover them all, and
        are split back per completion.
        """
        device = self.device
        keep = torch.zeros((len(rows), max(len(r) for r in rows)), dtype=torch.bool)
        for row, start, end in spans:
            keep[row, start - 1 : end - 1] = True
        shared = common_prefix_length(rows) if len(rows) > 1 and self.share_prefixes else 0
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        ids, _ = right_pad([r[shared:] for r in rows], self.pad_id, device)
        # no padding mask: right padding only ever follows a row's real tokens, which causal
        # attention already keeps from seeing it; a mask-free batch runs the fast causal kernel
        mask = torch.ones((len(rows), shared + ids.shape[1]), dtype=torch.long, device=device)
        logit_row = torch.zeros(keep.shape, dtype=torch.long)  # position -> row of `logits`
        gather = None
        if gather_ids is not None:
            widths = {g.shape[1] for g in gather_ids}
            if len(widths) > 1:
                raise ValueError(f"gather_ids entries differ in width: {sorted(widths)}")
            gather = torch.cat([g.to(device=device, dtype=torch.long) for g in gather_ids])
        with torch.set_grad_enabled(grad):
            logit_parts, extra = [], {}
            if shared:
                head_keep = keep[:, :shared].any(dim=0, keepdim=True)
                head = forward_logits(
                    self.model,
                    torch.tensor([rows[0][:shared]], device=device),
                    mask[:1, :shared],
                    keep=head_keep.to(device),
                    weights=weights,
                    use_cache=True,
                )
                cache = output_cache(head)
                cache.batch_repeat_interleave(len(rows))
                extra = {cache_kwarg(self.model): cache, "use_cache": True}
                logit_parts.append(head.logits)
                logit_row[:, :shared] = head_keep.long().cumsum(-1) - 1
            tail_keep = keep[:, shared:]
            offset = sum(p.shape[0] for p in logit_parts)
            if tail_keep.any():
                tail = forward_logits(
                    self.model,
                    ids,
                    mask,
                    keep=tail_keep.to(device),
                    weights=weights,
                    position_ids=positions(mask)[:, shared:],
                    **extra,
                )
                logit_parts.append(tail.logits)
            logit_row[:, shared:] = offset + (tail_keep.flatten().cumsum(0) - 1).view(
                tail_keep.shape
            )
            index = torch.cat([logit_row[row, start - 1 : end - 1] for row, start, end in spans])
            targets = torch.tensor([t for c in completions for t in c], dtype=torch.long)
            logits = (
                torch.cat(logit_parts)
                if logit_parts
                else torch.zeros((0, self.model.config.vocab_size), device=device)
            )
            logprobs = torch.log_softmax(logits.float(), dim=-1)[index.to(device)]
            scores = token_scores(logprobs, targets.to(device), top_k, gather)
        lengths = [len(c) for c in completions]
        fields = [
            torch.split(t, lengths)
            for t in (
                scores.token_logprobs,
                scores.topk_ids,
                scores.topk_logprobs,
                scores.tail_logprob,
            )
        ]
        return [TokenScores(*parts) for parts in zip(*fields, strict=True)]

    # -- weights ---------------------------------------------------------------------------
    def named_trainable_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for _, p in self.named_trainable_parameters()]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """All model weights; with LoRA only the adapter (the base reloads from its preset)."""
        if self.lora is not None:
            return {n: p.detach() for n, p in self.named_trainable_parameters()}
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.lora is not None:
            params = dict(self.named_trainable_parameters())
            if set(state) != set(params):
                missing, extra = sorted(set(params) - set(state)), sorted(set(state) - set(params))
                raise ValueError(
                    f"LoRA state does not match this policy: missing {missing[:3]}, "
                    f"unexpected {extra[:3]}"
                )
            with torch.no_grad():
                for n, p in params.items():
                    p.copy_(state[n])
        else:
            self.model.load_state_dict(state)
        self.sync_weights()

    def sync_weights(self) -> None:
        """Push the trainer's weights into the engine (vLLM); call after each optimiser step.

        Also done lazily before generate/score when the parameters changed in place.
        """
        self.engine.sync_weights(self.model)
        self._synced_version = self._weights_version()

    def _weights_version(self) -> int:
        # every in-place update (optimiser step, copy_) bumps a tensor's version counter
        return sum(p._version for p in self.trainable_parameters())

    def _sync_if_stale(self) -> None:
        if self._weights_version() != self._synced_version:
            self.sync_weights()


def eos_token_ids(model, tokenizer) -> set[int]:
    """EOS ids from the tokenizer and the generation config (chat models often list several)."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(config_eos, int):
        ids.add(config_eos)
    elif config_eos:
        ids.update(int(i) for i in config_eos)
    if not ids:
        raise PresetUnavailable("the tokenizer and generation config name no EOS token")
    return ids


def apply_lora(model: torch.nn.Module, lora: LoraSettings) -> torch.nn.Module:
    """Wrap with a peft LoRA adapter; only the adapter weights keep requires_grad."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as err:
        raise PresetUnavailable("LoRA needs peft: pip install peft") from err
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as err:
        raise ValueError(
            f"LoRA target_modules {list(lora.target_modules)} do not match this "
            f"model: {str(err).splitlines()[0]}"
        ) from err
