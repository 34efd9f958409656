"""``Policy``: a causal LM + tokenizer + chat template behind one engine-agnostic API.

    policy = Policy.load("tiny-random" | "smollm2-135m" | hf_id | folder, engine="hf"|"vllm"|...,
                         device=None, dtype=None, lora=None, batch_size=16, autocast=None,
                         **preset_options)
    policy.render(conversation) -> prompt token ids (chat template, add_generation_prompt=True)
    policy.generate(conversations, SamplingParams) -> list[Completion]
    policy.score([(conversation, completion_ids), ...], top_k=0, gather_ids=None, grad=False)
        -> list[TokenScores]
    policy.trainable_parameters(), policy.state_dict(), policy.load_state_dict(sd)
    policy.sync_weights()   # after an optimiser step; engines that hold a copy need it
    policy.fully_shard(); policy.gather(); policy.release()   # FSDP over torchrun's ranks
    policy.tokenizer, policy.device, policy.model

A facade over three parts: the chat rendering (here), an engine that samples (``engines``: the
contract and registry; ``hf_engine``, ``vllm_engine``) and the trainer's forward-pass scorer
(``hf_scoring``). ``generate`` and ``score`` share ``render``, so a completion's ids follow its
prompt exactly as they were sampled. ``score`` goes to the engine's own scoring when it offers
one that can serve the call (no gradients, no substituted weights, no gathered ids), else to
the forward-pass scorer. The model is kept in eval mode (no dropout) so the scores of the same
weights are always the same numbers.
"""

from __future__ import annotations

import torch

from chat import Conversation
from learners import data_parallel
from learners.models.engines import EngineSetup, check_engine, make_engine
from learners.models.hf_scoring import HFScorer
from learners.models.presets import PresetUnavailable, load_model
from learners.models.types import Completion, LoraSettings, SamplingParams, TokenScores


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
        autocast: str | None = None,
    ):
        check_engine(engine)
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
        # autocast ("bf16" / "fp16"): the trainer's forward passes, and the hf engine's, run
        # their products in that dtype with float32 master weights (see hf_engine.autocast)
        self.autocast = autocast
        options = dict(engine_options or {})
        if engine == "hf" and autocast is not None:
            options.setdefault("autocast", autocast)
        setup = EngineSetup(
            self.model, tokenizer, self.eos_ids, self.pad_id, batch_size, path, options
        )
        self.engine = make_engine(engine, setup)
        self.scorer = HFScorer(self.model, self.pad_id, batch_size, autocast=autocast)
        self._synced_version = self._weights_version()
        # FSDP (fully_shard): the weights live in shards; forward passes need them gathered
        self.sharded = False
        self.gathered = False

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
        autocast: str | None = None,
        **options,
    ) -> Policy:
        """A preset name (see ``list_presets()``), a local folder, or a Hugging Face id; the
        engine by its registered name (``list_engines()``), checked before the model loads.
        ``autocast="bf16"`` runs forward passes in bf16 over float32 weights (off by default:
        on a CPU with bf16 units about 2x faster training; log-probs move by ~0.1 nat)."""
        check_engine(engine)
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
            autocast=autocast,
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
        """The chat template's text; a conversation that ends with an assistant message is
        a pre-filled answer, which the completion continues (no new turn is opened)."""
        plain = [{"role": m["role"], "content": m["content"]} for m in conversation]
        if plain and plain[-1]["role"] == "assistant":
            return self.tokenizer.apply_chat_template(
                plain, continue_final_message=True, tokenize=False
            )
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
        self._check_gathered()
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
        self._check_gathered()
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
        scoring = self.engine.scoring
        if (
            scoring is not None
            and not grad
            and weights is None
            and gather_ids is None
            and scoring.can_score(top_k)
        ):
            self._sync_if_stale()
            return scoring.score(prompts, completions, top_k)
        return self.scorer.score(
            prompts, completions, top_k=top_k, gather_ids=gather_ids, grad=grad, weights=weights
        )

    # -- weights ---------------------------------------------------------------------------
    def named_trainable_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for _, p in self.named_trainable_parameters()]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """All model weights; with LoRA only the adapter (the base reloads from its preset).
        Sharded (FSDP), the whole weights on the CPU: a collective, every rank calls it."""
        if self.lora is not None:
            return {n: p.detach() for n, p in self.named_trainable_parameters()}
        if self.sharded:
            self.release()
            return data_parallel.full(self.model.state_dict())
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
        elif self.sharded:  # each rank keeps its shards of the whole weights
            self.release()
            current = self.model.state_dict()
            self.model.load_state_dict(
                {k: data_parallel.like(v, current[k]) for k, v in state.items()}
            )
        else:
            self.model.load_state_dict(state)
        self.sync_weights()

    # -- FSDP ------------------------------------------------------------------------------
    def fully_shard(self) -> None:
        """Shard the model over torchrun's ranks (``data_parallel.fully_shard_model``): its
        weights, gradients and (in the learner) optimiser states then live in shards. The hf
        engine and full fine-tuning only: vLLM keeps its own whole copy, LoRA is not wired."""
        if self.engine_name != "hf" or self.lora is not None:
            raise ValueError("FSDP needs the hf engine and full fine-tuning (no LoRA)")
        data_parallel.fully_shard_model(self.model)
        self.sharded = True

    def gather(self) -> None:
        """Sharded: all-gather the whole weights for this phase's forward passes (a collective:
        every rank at the same point; a no-op where gathered). Else nothing."""
        if self.sharded and not self.gathered:
            data_parallel.gather_model(self.model)
            self.gathered = True

    def release(self) -> None:
        """Sharded: free the gathered weights (before an optimiser step updates the shards)."""
        if self.sharded and self.gathered:
            data_parallel.release_model(self.model)
            self.gathered = False

    def _check_gathered(self) -> None:
        """A sharded model's forward pass would gather layer by layer, a collective the ranks
        would reach at different times: refused, ``gather`` must come first."""
        if self.sharded and not self.gathered:
            raise RuntimeError("the model is sharded: call policy.gather() on every rank first")

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
