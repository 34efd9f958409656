"""Data parallelism across processes (``torch.distributed``): which share of the work is this
process's, and the few collectives a run needs.

Launched by ``torchrun --nproc-per-node N -m benchmarks.run ...``, each process (rank) plays its
share of a batch's tasks; the ranks then exchange their episodes (``all_gather_objects``), so
every rank holds the whole batch and computes the same loss weights. In the learner step each
rank scores and backpropagates only its share of the episodes (``micro_batches`` yields only
those), and ``sum_gradients``, called by the one optimiser step every learner shares, adds the
ranks' gradients: the sum of the shares is the whole batch's gradient, so every rank takes the
same step and the weights stay equal without being sent. Work that must happen once (the
reflection pipeline, the run directory) happens on rank 0, whose result the others receive
(``from_main``). Outside torchrun (or with one process) every function here is the identity.

FSDP (``fully_shard_model``, the runner's ``--fsdp``) shards the trained model over the ranks
with FSDP2: its parameters, gradients, optimiser states and the EMA teacher live in shards,
and FSDP's reduce-scatter sums the gradients, so ``sum_gradients`` leaves them alone. Forward
passes run on the whole weights, gathered once per phase (``gather_model``, freed again by
``release_model``) so ranks may sample different lengths without collectives; only the
backward passes are collectives, kept in lockstep by ``micro_batches``' padding.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

_sharded = False  # set once this process's trained model is sharded by FSDP


def launched() -> bool:
    """Whether this process is one of several started by torchrun (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(timeout_minutes: float = 60.0) -> bool:
    """Join the process group torchrun describes (gloo on CPU, nccl on GPUs); False when this
    process runs alone. The timeout is long: rank 0 evaluates while the others wait."""
    if not launched():
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
    return True


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def shard(n: int, of: int | None = None, at: int | None = None) -> range:
    """This rank's contiguous share of ``range(n)``: the first ``n % size`` ranks take one more,
    so shares concatenated in rank order are ``range(n)``."""
    size = world_size() if of is None else of
    index = rank() if at is None else at
    base, extra = divmod(n, size)
    start = index * base + min(index, extra)
    return range(start, start + base + (index < extra))


def all_gather_objects(obj: T) -> list[T]:
    """Every rank's ``obj`` (picklable), in rank order."""
    if not active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def from_main(compute: Callable[[], T]) -> T:
    """``compute()`` run on rank 0 only; every rank gets its result (picklable)."""
    if not active():
        return compute()
    box = [compute() if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _device() -> torch.device:
    """Where collectives' tensors live: nccl reduces on the GPU, gloo on the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def sum_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Add up the ranks' gradients in place, in one flat all-reduce. A parameter no rank has a
    gradient for keeps none (as in one process); one that only some ranks have counts zeros
    for the others."""
    if not active() or _sharded:  # FSDP's reduce-scatter has summed them already
        return
    params = [p for p in parameters if p.requires_grad]
    has = torch.tensor([float(p.grad is not None) for p in params], device=_device())
    dist.all_reduce(has, op=dist.ReduceOp.SUM)
    params = [p for p, n in zip(params, has.tolist(), strict=True) if n > 0]
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1).float() for g in grads]).to(_device())
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for p, g in zip(params, grads, strict=True):
        p.grad = flat[offset : offset + g.numel()].view_as(p).to(device=p.device, dtype=g.dtype)
        offset += g.numel()


def sum_across(values: Sequence[float]) -> list[float]:
    """Each value summed over the ranks (a step's loss and token counts, from the shares)."""
    if not active():
        return list(values)
    flat = torch.tensor(list(values), dtype=torch.float64, device=_device())
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    return flat.tolist()


def max_across(value: int) -> int:
    """The largest of the ranks' values (the micro-batch count the ranks pad to under FSDP)."""
    if not active():
        return value
    box = torch.tensor([value], dtype=torch.int64, device=_device())
    dist.all_reduce(box, op=dist.ReduceOp.MAX)
    return int(box.item())


# -- FSDP ------------------------------------------------------------------------------------------


def sharded() -> bool:
    """Whether this process trains an FSDP-sharded model (``fully_shard_model`` was called)."""
    return _sharded


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The transformer blocks, each sharded (and gathered) as one unit: the modules whose
    class is a ``...DecoderLayer`` (every Hugging Face causal LM names them so)."""
    return [m for m in model.modules() if type(m).__name__.endswith("DecoderLayer")]


def fully_shard_model(model: torch.nn.Module) -> None:
    """Shard ``model`` over all ranks with FSDP2: each decoder layer, then the root (the
    embeddings, final norm and LM head). Gradients are summed, not averaged (as
    ``sum_gradients``); parameters stay gathered after a forward or backward pass until
    ``release_model``, so the passes of one phase cost no collectives but the backward's."""
    from torch.distributed.fsdp import FSDPModule, fully_shard

    global _sharded
    for layer in decoder_layers(model):
        fully_shard(layer, reshard_after_forward=False)
    fully_shard(model, reshard_after_forward=False)
    assert isinstance(model, FSDPModule)
    model.set_reshard_after_backward(False)
    for module in fsdp_modules(model):
        module.set_gradient_divide_factor(1.0)
        module.set_force_sum_reduction_for_comms(True)  # a plain SUM: gloo has no PREMUL_SUM
    _sharded = True


def fsdp_modules(model: torch.nn.Module) -> list[Any]:
    from torch.distributed.fsdp import FSDPModule

    return [m for m in model.modules() if isinstance(m, FSDPModule)]


def gather_model(model: torch.nn.Module) -> None:
    """All-gather the whole weights of a sharded model (a collective: every rank, same
    point); forward passes then run without collectives. A no-op where already gathered."""
    for module in fsdp_modules(model):
        module.unshard()


def release_model(model: torch.nn.Module) -> None:
    """Free the gathered weights of a sharded model and put its shards back (local)."""
    for module in fsdp_modules(model):
        module.reshard()


def full(value: Any, cpu: bool = True) -> Any:
    """``value`` with every sharded tensor (DTensor) in it gathered whole, in dicts, lists and
    tuples (a collective when there are shards); onto the CPU (a checkpoint's form) unless
    ``cpu`` is False."""
    from torch.distributed.tensor import DTensor

    if isinstance(value, DTensor):
        whole = value.full_tensor()
        return whole.cpu() if cpu else whole
    if isinstance(value, dict):
        return {k: full(v, cpu) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(full(v, cpu) for v in value)
    return value


def like(tensor: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """A whole ``tensor`` in ``template``'s form: this rank's shard where ``template`` is
    sharded (a DTensor; cut locally, no collective), else a copy on its device and dtype."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    if tensor.shape != template.shape:
        raise ValueError(f"shape {tuple(tensor.shape)} does not match {tuple(template.shape)}")
    local = tensor.to(device=template.device, dtype=template.dtype)
    if isinstance(template, DTensor):
        return distribute_tensor(
            local, template.device_mesh, template.placements, src_data_rank=None
        )
    return local.clone()


def shard_optimizer_state(state: dict[str, Any], params: Sequence[torch.Tensor]) -> dict[str, Any]:
    """A whole optimiser state dict (``full``'s form) cut to the shards of ``params``, the
    optimiser's parameters in order: each state tensor shaped like its parameter becomes
    its shard, the rest (Adam's step count) stays."""
    ids = [i for group in state["param_groups"] for i in group["params"]]
    by_id = dict(zip(ids, params, strict=True))
    per_param = {
        i: {
            k: like(v, by_id[i]) if isinstance(v, torch.Tensor) and v.shape == by_id[i].shape else v
            for k, v in values.items()
        }
        for i, values in state["state"].items()
    }
    return {**state, "state": per_param}
