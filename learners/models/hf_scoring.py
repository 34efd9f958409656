"""Scoring with the trainer's own torch model: per-token log-probs, top-K and tail, with or
without gradients, as few forward passes over as few tokens as the items allow.

``HFScorer.score`` runs one right-padded forward pass per batch of rows, where an item whose
tokens are a prefix of another item's rides in that item's row (the turns of one episode cost
one pass over its last context: ``packing.nest_prefixes``); for weight-bound models the tokens
all rows of a batch begin with (a group's shared task prompt) run once and their KV cache is
copied to every row. The LM head runs only at the positions a completion needs, and one float32
log-softmax covers them. With ``grad=True`` the scores carry autograd (the student), else they
are computed under ``torch.no_grad`` (a teacher); ``weights`` substitutes parameter values for
the call only (the EMA teacher). ``Policy.score`` validates and renders, then calls this.
"""

from __future__ import annotations

import torch

from learners.models.hf_engine import (
    autocast,
    cache_kwarg,
    forward_logits,
    output_cache,
    positions,
    right_pad,
    weight_bound,
)
from learners.models.packing import common_prefix_length, nest_prefixes
from learners.models.scoring import token_scores
from learners.models.types import TokenScores

# below this many shared tokens a separate forward pass for the shared prefix costs more than
# running it once per row
MIN_SHARED_PREFIX = 32


class HFScorer:
    """Scores (prompt, completion) token lists with ``model``, ``batch_size`` rows a pass."""

    def __init__(
        self, model: torch.nn.Module, pad_id: int, batch_size: int, autocast: str | None = None
    ) -> None:
        self.model = model
        self.pad_id = pad_id
        self.batch_size = batch_size
        # "bf16" / "fp16": forward passes under autocast, float32 master weights and LM head
        self.autocast = autocast
        # run the prefix that all rows of a scoring batch share once (see _score_rows)
        self.share_prefixes = weight_bound(model)

    def score(
        self,
        prompts: list[list[int]],
        completions: list[list[int]],
        *,
        top_k: int = 0,
        gather_ids: list[torch.Tensor] | None = None,
        grad: bool = False,
        weights: dict[str, torch.Tensor] | None = None,
    ) -> list[TokenScores]:
        """Scores of each completion after its prompt (arguments as ``Policy.score``)."""
        rows, placements = nest_prefixes(
            [p + c for p, c in zip(prompts, completions, strict=True)], [len(p) for p in prompts]
        )
        members: list[list[int]] = [[] for _ in rows]
        for i, placement in enumerate(placements):
            members[placement.row].append(i)
        results: list[TokenScores | None] = [None] * len(prompts)
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
        device = next(self.model.parameters()).device
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
        with torch.set_grad_enabled(grad), autocast(self.model, self.autocast):
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
