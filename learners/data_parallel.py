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
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


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
    if not active():
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
